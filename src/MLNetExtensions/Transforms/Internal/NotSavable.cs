namespace MLNetExtensions.Transforms.Internal;

internal static class NotSavable
{
    /// <summary>The error for saving a transform that works on MLImage columns, with what to do instead.</summary>
    public static NotSupportedException For(string transform)
        => new($"{transform} cannot be saved with mlContext.Model.Save: ML.NET 5.0.1 offers no public way to load back a " +
               "third-party transform that reads image (MLImage) columns (CustomMapping cannot read MLImage columns and the " +
               "model loader registry is internal). It has no learned state, so save the model without it (for example " +
               "TransformerChain.GetModelFor(TransformerScope.Scoring) when it was appended with TransformerScope.Training) " +
               $"and append mlContext.Transforms.{transform}(...) again after loading.");
}
