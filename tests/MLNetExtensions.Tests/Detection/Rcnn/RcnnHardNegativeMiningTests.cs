using MLNetExtensions.Torch.Detection.Rcnn;

namespace MLNetExtensions.Tests.Detection.Rcnn;

[TestClass]
public sealed class RcnnHardNegativeMiningTests
{
    [TestMethod]
    public void PicksTheHighestScoringNegativesNotYetInTheTrainingSet()
    {
        // Scores of eight negatives; 1 and 5 are already in the SVM's training set; -1 (the margin) and below are easy.
        float[] scores = [-3f, 2.5f, 0.2f, -1f, 0.9f, 4f, -0.5f, 0.9f];
        bool[] inSet = [false, true, false, false, false, true, false, false];
        CollectionAssert.AreEqual(new[] { 4, 7, 2 }, HardNegativeMining.Select(scores, inSet, max: 3), "highest first, ties in index order, at most 3");
        CollectionAssert.AreEqual(new[] { 4, 7, 2, 6 }, HardNegativeMining.Select(scores, inSet, max: 10), "everything above the margin, -1 itself excluded");
        Assert.IsEmpty(HardNegativeMining.Select([-1f, -2f], [false, false], max: 10));
    }

    [TestMethod]
    public void MismatchedFlagsNameTheProblem()
    {
        var ex = Assert.ThrowsExactly<ArgumentException>(() => HardNegativeMining.Select([0f, 1f], [false], 1));
        Assert.StartsWith("There are 2 scores but 1 training-set flags; give one per negative.", ex.Message);
    }
}
