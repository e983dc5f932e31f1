using System.Diagnostics;
using Microsoft.ML;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Evaluation;

namespace MLNetExtensions.Tests.Scoring;

/// <summary>
/// <see cref="SegmentationTransformer"/> is <see cref="IDisposable"/>, and <c>Dispose</c> waits for a <c>Segment</c> call
/// running on another thread instead of freeing its ONNX session under it (#18). Seen failing with the wait removed
/// (a NullReferenceException inside the freed engine, 4 runs of 4).
/// </summary>
[TestClass]
public sealed class SegmenterDisposeTests
{
    [TestMethod]
    public void DisposeWaitsForARunningSegmentAndLaterCallsAreRefused()
    {
        using var temp = new Data.TempFolder();
        const int size = 3000;   // a large image keeps the call in flight (about 180 ms here)
        var noise = new byte[size * size];
        new Random(1).NextBytes(noise);
        var big = temp["big.png"];
        TestPng.WriteGray(big, size, size, noise);
        var small = TinyTrainedDetector.Images(1)[0];

        var ml = new MLContext(1);
        var segmenter = SegmentationTransformer.Create(ml, TinyTrainedSegmenter.Get().OnnxModel);
        Assert.IsInstanceOfType<IDisposable>(segmenter);
        segmenter.Segment(small);
        var clock = Stopwatch.StartNew();
        var call = Task.Run(() => segmenter.Segment(big));
        Assert.IsTrue(SpinWait.SpinUntil(() => segmenter.CallsInFlight > 0, TimeSpan.FromSeconds(30)), "the large image's Segment started");
        segmenter.Dispose();   // must wait for the running Segment
        var prediction = call.Result;
        Console.WriteLine($"Dispose returned {clock.ElapsedMilliseconds} ms after the call began");
        Assert.IsNotNull(prediction);
        Assert.AreEqual(0, segmenter.CallsInFlight);
        Assert.ThrowsExactly<ObjectDisposedException>(() => segmenter.Segment(small));
    }
}
