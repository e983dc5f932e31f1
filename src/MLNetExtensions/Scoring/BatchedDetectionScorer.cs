using System.Collections.Concurrent;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Transforms.Image;
using Microsoft.ML.Transforms.Onnx;
using MLNetExtensions.Data;
using MLNetExtensions.Onnx;

namespace MLNetExtensions.Scoring;

/// <summary>
/// The batched path of <see cref="DetectionTransformer.ScoreBatched"/>. It splits the scoring chain at its
/// <c>ApplyOnnxModel</c>: the transformers before it (the image's pixels and original size,
/// <see cref="ImagePixelsMapping"/>; or, in a chain saved before it, <c>LoadImages</c> to <c>ExtractPixels</c>) run as they
/// are, their pixels are copied into (B, C, H, W) batches, the network runs in ONNX Runtime on the same ONNX bytes, and
/// every image's outputs go through <see cref="DetectionOutputMapping.Map"/>. Nothing of the post-processing is written twice.
/// </summary>
internal static class BatchedDetectionScorer
{
    public static IDataView Score(TransformerChain<ITransformer> chain, InferenceSession session, OnnxModelMetadata metadata, IDataView input, string imagePathColumn, int batchSize)
    {
        // The chain's own schema check names a missing or mistyped image column, and gives the output column types.
        var outputSchema = chain.GetOutputSchema(input.Schema);
        var transformers = Flatten(chain).ToArray();
        int networkIndex = Array.FindIndex(transformers, t => t is OnnxTransformer);
        if (networkIndex < 0)
            throw new InvalidOperationException("The detector's chain has no ApplyOnnxModel; it was not made by DetectionTransformer.Create or Load.");
        // A missing image fails naming its file and row, as Transform's output does.
        var images = new MissingImageDataView(new TransformerChain<ITransformer>(transformers[..networkIndex]).Transform(input), input, imagePathColumn);

        int c = metadata.InputChannels, h = metadata.InputHeight, w = metadata.InputWidth, imageSize = c * h * w;
        var boxes = new List<float[]>();
        var labels = new List<uint[]>();
        var scores = new List<float[]>();

        using var runOptions = new RunOptions();
        string[] outputNames = [ScoringColumns.OnnxBoxes, ScoringColumns.OnnxScores, ScoringColumns.OnnxPostProcess];
        // Images are decoded and resized on a second thread while ONNX Runtime runs the previous batch: the two
        // costs overlap instead of adding up. Three batch buffers go round between the reader and the scorer: a new
        // 17 MB buffer per batch (300×300, 16 images) cost page faults and full garbage collections, up to 3 ms an image.
        using var ready = new BlockingCollection<PixelBatch>(boundedCapacity: BuffersInFlight);
        using var free = new BlockingCollection<PixelBatch>(boundedCapacity: BuffersInFlight);
        for (int i = 0; i < BuffersInFlight; i++)
            free.Add(new PixelBatch(new float[batchSize * imageSize], new (float, float)[batchSize], 0));
        using var cancel = new CancellationTokenSource();
        var producer = Task.Run(() => ReadBatches(images, batchSize, imageSize, c, h, w, free, ready, cancel.Token));
        try
        {
            foreach (var batch in ready.GetConsumingEnumerable())
            {
                RunBatch(session, runOptions, outputNames, batch, c, h, w, boxes, labels, scores);
                free.Add(batch);
            }
        }
        catch
        {
            cancel.Cancel();
            throw;
        }
        finally
        {
            // Surfaces the reader's exception (a missing image, a bad row) as it was thrown.
            try { producer.GetAwaiter().GetResult(); }
            catch (OperationCanceledException) when (cancel.IsCancellationRequested) { }
        }

        // The four columns in the chain's order, with its types and annotations (PredictedLabels' key values).
        var classNames = metadata.ClassNames;
        var labelNames = labels.Select(row => row.Select(k => classNames[(int)k - 1].AsMemory()).ToArray()).ToList();
        var values = new Dictionary<string, Func<DataViewSchema.Column, AppendedColumn>>
        {
            [DetectionColumns.PredictedLabelNames] = col => AppendedColumn.Vector(col.Name, ItemType(col), labelNames, col.Annotations),
            [DetectionColumns.PredictedBoxes] = col => AppendedColumn.Vector(col.Name, ItemType(col), boxes, col.Annotations),
            [DetectionColumns.PredictedLabels] = col => AppendedColumn.Vector(col.Name, ItemType(col), labels, col.Annotations),
            [DetectionColumns.Scores] = col => AppendedColumn.Vector(col.Name, ItemType(col), scores, col.Annotations),
        };
        return new AppendedColumnsDataView(input, outputSchema.Where(col => !col.IsHidden && values.ContainsKey(col.Name)).Select(col => values[col.Name](col)));
    }

    /// <summary>The chain's transformers in order, with nested chains (the fitted pixel pipeline is one) opened.</summary>
    private static IEnumerable<ITransformer> Flatten(IEnumerable<ITransformer> chain)
        => chain.SelectMany(t => t is IEnumerable<ITransformer> nested ? Flatten(nested) : [t]);

    private static PrimitiveDataViewType ItemType(DataViewSchema.Column column) => ((VectorDataViewType)column.Type).ItemType;

    /// <summary>Images' pixels (B, C, H, W) and their original sizes; <see cref="Count"/> rows are filled.</summary>
    private sealed record PixelBatch(float[] Pixels, (float Width, float Height)[] Sizes, int Count);

    private const int BuffersInFlight = 3;

    /// <summary>Reads the images' network pixels into batches, in row order, and hands them to the scorer.</summary>
    private static void ReadBatches(IDataView images, int batchSize, int imageSize, int c, int h, int w,
        BlockingCollection<PixelBatch> free, BlockingCollection<PixelBatch> ready, CancellationToken cancel)
    {
        try
        {
            var pixelsColumn = images.Schema[ScoringColumns.OnnxPixels];
            var widthColumn = images.Schema[ScoringColumns.OriginalWidth];
            var heightColumn = images.Schema[ScoringColumns.OriginalHeight];
            using var cursor = images.GetRowCursor([pixelsColumn, widthColumn, heightColumn]);
            var getPixels = cursor.GetGetter<VBuffer<float>>(pixelsColumn);
            var getWidth = cursor.GetGetter<float>(widthColumn);
            var getHeight = cursor.GetGetter<float>(heightColumn);
            VBuffer<float> pixels = default;
            PixelBatch? batch = null;
            int n = 0;
            while (cursor.MoveNext())
            {
                batch ??= free.Take(cancel);
                getPixels(ref pixels);
                if (pixels.Length != imageSize)
                    throw new InvalidOperationException($"Row {cursor.Position}: {pixels.Length} pixel values; the network takes {c}×{h}×{w}.");
                pixels.CopyTo(batch.Pixels.AsSpan(n * imageSize, imageSize));
                float width = 0, height = 0;
                getWidth(ref width);
                getHeight(ref height);
                batch.Sizes[n] = (width, height);
                if (++n == batchSize)
                {
                    ready.Add(batch with { Count = n }, cancel);
                    (batch, n) = (null, 0);
                }
            }
            if (n > 0) ready.Add(batch! with { Count = n }, cancel);
        }
        finally
        {
            ready.CompleteAdding();
        }
    }

    /// <summary>Runs one batch through the network and post-processes each image.</summary>
    private static void RunBatch(InferenceSession session, RunOptions runOptions, string[] outputNames, PixelBatch batch, int c, int h, int w,
        List<float[]> boxes, List<uint[]> labels, List<float[]> scores)
    {
        int n = batch.Count;
        using var pixels = OrtValue.CreateTensorValueFromMemory(OrtMemoryInfo.DefaultInstance, batch.Pixels.AsMemory(0, n * c * h * w), [n, c, h, w]);
        using var outputs = session.Run(runOptions, [ScoringColumns.OnnxPixels], [pixels], outputNames);
        var allBoxes = outputs[0].GetTensorDataAsSpan<float>();           // (n, A, 4)
        var allScores = outputs[1].GetTensorDataAsSpan<float>();          // (n, A, C)
        var post = outputs[2].GetTensorDataAsSpan<float>().ToArray();     // (3)
        int boxesPerImage = allBoxes.Length / n, scoresPerImage = allScores.Length / n;
        for (int i = 0; i < n; i++)
        {
            var result = new DetectionOutputRow();
            DetectionOutputMapping.Map(allBoxes.Slice(i * boxesPerImage, boxesPerImage), allScores.Slice(i * scoresPerImage, scoresPerImage),
                post, batch.Sizes[i].Width, batch.Sizes[i].Height, result);
            boxes.Add(result.Boxes);
            // PredictedLabels are keys over the class names in class order, so key k is the 1-based class index k.
            labels.Add(result.LabelIndices);
            scores.Add(result.Scores);
        }
    }
}
