using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;

namespace MLNetExtensions.Evaluation;

/// <summary>Semantic segmentation evaluation on <c>mlContext.Segmentation()</c>.</summary>
public static class SegmentationEvaluationExtensions
{
    /// <summary>Evaluates <see cref="SegmentationColumns.PredictedMask"/> against the mask files of
    /// <see cref="SegmentationColumns.MaskPath"/>, with as many classes as the largest index seen plus one.
    /// See <see cref="Evaluate(SegmentationCatalog, IDataView, SegmentationEvaluatorOptions)"/>.</summary>
    public static SegmentationMetrics Evaluate(this SegmentationCatalog catalog, IDataView scored)
        => Evaluate(catalog, scored, new SegmentationEvaluatorOptions());

    /// <summary>
    /// Evaluates predicted masks against ground-truth masks over all pixels of all rows: a confusion matrix of the
    /// pixels whose ground truth is not 255 (those are skipped entirely, prediction included), pixel accuracy,
    /// IoU and accuracy per class and their means over the classes present (see <see cref="SegmentationMetrics.MeanIoU"/>).
    /// </summary>
    /// <param name="catalog">The <c>mlContext.Segmentation()</c> catalog.</param>
    /// <param name="scored">Rows with a predicted mask and a ground-truth mask (a file path or a mask column).</param>
    /// <param name="options">Columns, classes and the mask loader.</param>
    /// <exception cref="ArgumentException">A column is missing or of the wrong type; the message names it.</exception>
    /// <exception cref="InvalidDataException">A mask's size differs from its prediction, or a pixel holds a class
    /// index outside the classes; the message names the row, the mask and the sizes or pixel.</exception>
    public static SegmentationMetrics Evaluate(this SegmentationCatalog catalog, IDataView scored, SegmentationEvaluatorOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentNullException.ThrowIfNull(scored);
        ArgumentNullException.ThrowIfNull(options);
        var schema = scored.Schema;
        var predColumn = ByteVector(schema, options.PredictedMaskColumnName, "predicted mask");
        DataViewSchema.Column gtColumn;
        bool fromFiles = options.GroundTruthMaskColumnName == null;
        if (fromFiles)
        {
            gtColumn = DetectionDataView.RequireColumn(schema, options.MaskPathColumnName);
            if (gtColumn.Type is not TextDataViewType)
                throw new ArgumentException($"Column '{gtColumn.Name}' (mask paths) must be text, but is {gtColumn.Type}.");
        }
        else
            gtColumn = ByteVector(schema, options.GroundTruthMaskColumnName!, "ground-truth mask");

        int? classCount = options.NumberOfClasses;
        var confusion = new long[256 * 256]; // [truth * 256 + predicted]; trimmed to the class count at the end
        int maxIndex = -1, images = 0;
        using (var cursor = scored.GetRowCursor([predColumn, gtColumn]))
        {
            var getPred = cursor.GetGetter<VBuffer<byte>>(predColumn);
            var getPath = fromFiles ? cursor.GetGetter<ReadOnlyMemory<char>>(gtColumn) : null;
            var getGt = fromFiles ? null : cursor.GetGetter<VBuffer<byte>>(gtColumn);
            VBuffer<byte> predBuffer = default, gtBuffer = default;
            ReadOnlyMemory<char> path = default;
            for (long row = 0; cursor.MoveNext(); row++, images++)
            {
                getPred(ref predBuffer);
                var pred = Dense(predBuffer);
                ReadOnlySpan<byte> truth;
                string source;
                int width;
                if (getPath != null)
                {
                    getPath(ref path);
                    source = $"Row {row} (mask '{path}')";
                    var (pixels, w, h) = options.MaskLoader(path.ToString());
                    if (pixels == null || pixels.Length != (long)w * h)
                        throw new InvalidDataException($"{source}: the mask loader returned {pixels?.Length ?? 0} pixels for a {w}×{h} mask.");
                    if (pixels.Length != pred.Length)
                        throw new InvalidDataException($"{source}: the mask is {w}×{h} ({pixels.Length} pixels) but '{predColumn.Name}' holds {pred.Length} values. Predictions must be at the mask's size: resize them back to the original image before evaluating.");
                    truth = pixels;
                    width = w;
                }
                else
                {
                    getGt!(ref gtBuffer);
                    truth = Dense(gtBuffer);
                    source = $"Row {row}";
                    if (truth.Length != pred.Length)
                        throw new InvalidDataException($"{source}: '{gtColumn.Name}' holds {truth.Length} values but '{predColumn.Name}' holds {pred.Length}; both must be the same H×W mask.");
                    width = 0;
                }

                Count(truth, pred, confusion, ref maxIndex, classCount, source, predColumn.Name, width);
            }
        }

        int classes = classCount ?? Math.Max(maxIndex + 1, 1);
        var matrix = new long[classes, classes];
        for (int t = 0; t < classes; t++)
            for (int p = 0; p < classes; p++)
                matrix[t, p] = confusion[t * 256 + p];
        var names = options.ClassNames?.ToArray() ?? Enumerable.Range(0, classes).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)).ToArray();
        return new SegmentationMetrics(names, matrix, images);
    }

    private static ReadOnlySpan<byte> Dense(VBuffer<byte> buffer) => buffer.IsDense ? buffer.GetValues() : buffer.DenseValues().ToArray();

    /// <summary>Adds one image's valid pixels to the 256×256 confusion counts; checks class indices per image, and
    /// only on a bad one looks for the first offending pixel to name it.</summary>
    private static void Count(ReadOnlySpan<byte> truth, ReadOnlySpan<byte> pred, long[] confusion, ref int maxIndex,
        int? classCount, string source, string predColumn, int width)
    {
        const byte ignore = SegmentationColumns.IgnoreIndex;
        int maxTruth = 0, maxPred = 0;
        bool any = false;
        for (int i = 0; i < truth.Length; i++)
        {
            int t = truth[i];
            if (t == ignore) continue;
            int p = pred[i];
            confusion[(t << 8) | p]++;
            maxTruth = Math.Max(maxTruth, t);
            maxPred = Math.Max(maxPred, p);
            any = true;
        }
        if (!any) return;
        int limit = classCount ?? ignore; // without a class count, only the ignore index is out of bounds for predictions
        if (maxTruth >= limit || maxPred >= limit)
        {
            for (int i = 0; i < truth.Length; i++)
            {
                if (truth[i] == ignore) continue;
                if (truth[i] >= limit) throw BadIndex(source, "ground truth", truth[i], i, width, classCount);
                if (pred[i] >= limit) throw BadIndex(source, $"'{predColumn}'", pred[i], i, width, classCount);
            }
        }
        maxIndex = Math.Max(maxIndex, Math.Max(maxTruth, maxPred));
    }

    private static InvalidDataException BadIndex(string source, string what, int value, int pixel, int width, int? classCount)
    {
        string where = width > 0 ? $"pixel ({pixel % width}, {pixel / width})" : $"pixel {pixel}";
        string rule = classCount is int c
            ? $"class indices must be 0..{c - 1}, or {SegmentationColumns.IgnoreIndex} (ignore) in the ground truth"
            : $"a prediction cannot be the ignore index {SegmentationColumns.IgnoreIndex}";
        return new InvalidDataException($"{source}: {what} {where} is {value}; {rule}.");
    }

    private static DataViewSchema.Column ByteVector(DataViewSchema schema, string name, string what)
    {
        var column = DetectionDataView.RequireColumn(schema, name);
        if (column.Type is not VectorDataViewType { ItemType: var item } || item != NumberDataViewType.Byte)
            throw new ArgumentException($"Column '{name}' ({what}) must be a vector of Byte (class index per pixel, H×W row-major), but is {column.Type}.");
        return column;
    }
}
