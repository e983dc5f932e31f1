namespace MLNetExtensions.Torch.Detection.Rcnn;

/// <summary>
/// R-CNN's hard negative mining (Girshick et al. 2014, after Felzenszwalb et al.'s DPM): after each round of SVM
/// training, the negatives not yet in the training set that the current SVM scores inside the margin
/// (score &gt; −1, where a well-classified negative scores ≤ −1) join it, the highest-scoring first.
/// </summary>
internal static class HardNegativeMining
{
    /// <summary>The margin a negative must score below to count as easy.</summary>
    public const float Margin = -1f;

    /// <summary>
    /// The indices of the hard negatives among <paramref name="scores"/> that are not <paramref name="inTrainingSet"/>:
    /// score &gt; <see cref="Margin"/>, highest score first (equal scores in index order), at most <paramref name="max"/>.
    /// </summary>
    public static int[] Select(float[] scores, bool[] inTrainingSet, int max)
    {
        if (inTrainingSet.Length != scores.Length)
            throw new ArgumentException($"There are {scores.Length} scores but {inTrainingSet.Length} training-set flags; give one per negative.", nameof(inTrainingSet));
        ArgumentOutOfRangeException.ThrowIfNegative(max);
        var hard = new List<int>();
        for (int i = 0; i < scores.Length; i++)
            if (!inTrainingSet[i] && scores[i] > Margin) hard.Add(i);
        var order = hard.ToArray();
        // Highest first; ties in index order (Array.Sort is unstable, so sort on (score desc, index asc)).
        Array.Sort(order, (a, b) => scores[b].CompareTo(scores[a]) is var c && c != 0 ? c : a.CompareTo(b));
        return order.Length <= max ? order : order[..max];
    }
}
