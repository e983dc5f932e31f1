namespace MLNetExtensions.Torch.Detection.Rcnn;

/// <summary>
/// What R-CNN learns on top of its CNN's region features (D values): one linear SVM per class (C × D weights and C
/// biases; score = w·x + b) and one class-specific linear box regression (4C × D weights, row 4c + j for delta j of class
/// c, and 4C biases; deltas as <c>BoxCoder.Rpn</c> encodes a box on its proposal).
/// </summary>
internal sealed record RcnnClassHeads(float[] SvmWeights, float[] SvmBiases, float[] RegressionWeights, float[] RegressionBiases)
{
    public void Check(int classCount, long featureSize)
    {
        if (SvmWeights.Length != classCount * featureSize || SvmBiases.Length != classCount
            || RegressionWeights.Length != 4 * classCount * featureSize || RegressionBiases.Length != 4 * classCount)
            throw new ArgumentException($"The R-CNN heads have {SvmWeights.Length}/{SvmBiases.Length} SVM and {RegressionWeights.Length}/{RegressionBiases.Length} regression values; {classCount} classes of {featureSize} features need {classCount * featureSize}/{classCount} and {4 * classCount * featureSize}/{4 * classCount}.");
    }
}
