namespace MLNetExtensions.Detection;

/// <summary>Targets of one image for the grid detector, laid out (S, S, ·) row-major.</summary>
/// <param name="ClassTargets">(S, S, C): 1 for the class of the object a cell is responsible for, else 0.</param>
/// <param name="BoxTargets">(S, S, 4): (tx, ty, tw, th) in [-1, 1] for responsible cells, else 0.</param>
/// <param name="Responsible">(S, S): whether a cell holds an object's centre.</param>
public sealed record GridTargets(float[] ClassTargets, float[] BoxTargets, bool[] Responsible);

/// <summary>One decoded detection: box in pixels, 0-based class index, score.</summary>
public readonly record struct Detection(float XMin, float YMin, float XMax, float YMax, int ClassIndex, float Score);

/// <summary>
/// Encoding of the grid detector ("one object per cell"): an S×S grid over the image; the cell holding a box's
/// centre is responsible for it and predicts 4 box values through tanh and C class confidences through sigmoid.
/// </summary>
/// <remarks>
/// Box values: <c>cx = (col + 0.5 + 0.5 tx) / S</c>, <c>cy = (row + 0.5 + 0.5 ty) / S</c> (so ±1 reaches the cell's
/// edges), <c>w = (tw + 1) / 2</c>, <c>h = (th + 1) / 2</c> as fractions of the image, all ranges of tanh. When two
/// centres fall in one cell the larger box wins: the grid can represent one object per cell, which is this
/// detector's known limit (choose S so that objects rarely share a cell).
/// </remarks>
public sealed class GridBoxCodec
{
    public GridBoxCodec(int gridSize, int classCount)
    {
        if (gridSize < 1) throw new ArgumentOutOfRangeException(nameof(gridSize), gridSize, "The grid needs at least one cell per side.");
        if (classCount < 1) throw new ArgumentOutOfRangeException(nameof(classCount), classCount, "At least one class is needed.");
        GridSize = gridSize;
        ClassCount = classCount;
    }

    public int GridSize { get; }
    public int ClassCount { get; }

    /// <summary>Targets for one image. <paramref name="boxes"/> is (N, 4) pixels, <paramref name="labels"/> 0-based classes.</summary>
    public GridTargets Encode(ReadOnlySpan<float> boxes, ReadOnlySpan<int> labels, float imageWidth, float imageHeight)
    {
        if (boxes.Length != 4 * labels.Length)
            throw new ArgumentException($"{boxes.Length} box values for {labels.Length} labels; boxes need 4 values each.");
        int s = GridSize, c = ClassCount;
        var cls = new float[s * s * c];
        var box = new float[s * s * 4];
        var resp = new bool[s * s];
        var area = new float[s * s];
        for (int k = 0; k < labels.Length; k++)
        {
            if ((uint)labels[k] >= (uint)c)
                throw new ArgumentOutOfRangeException(nameof(labels), $"Label {labels[k]} of box {k} is outside 0..{c - 1}.");
            float x0 = boxes[4 * k] / imageWidth, y0 = boxes[4 * k + 1] / imageHeight;
            float x1 = boxes[4 * k + 2] / imageWidth, y1 = boxes[4 * k + 3] / imageHeight;
            float w = x1 - x0, h = y1 - y0;
            if (!(w > 0 && h > 0)) continue;
            float cx = (x0 + x1) / 2, cy = (y0 + y1) / 2;
            int col = Math.Clamp((int)(cx * s), 0, s - 1), row = Math.Clamp((int)(cy * s), 0, s - 1);
            int cell = row * s + col;
            if (resp[cell] && area[cell] >= w * h) continue;
            resp[cell] = true;
            area[cell] = w * h;
            Array.Clear(cls, cell * c, c);
            cls[cell * c + labels[k]] = 1f;
            box[4 * cell] = Math.Clamp(2 * (cx * s - col - 0.5f), -1f, 1f);
            box[4 * cell + 1] = Math.Clamp(2 * (cy * s - row - 0.5f), -1f, 1f);
            box[4 * cell + 2] = Math.Clamp(2 * w - 1, -1f, 1f);
            box[4 * cell + 3] = Math.Clamp(2 * h - 1, -1f, 1f);
        }
        return new GridTargets(cls, box, resp);
    }

    /// <summary>The box of one cell, in pixels, from its (tx, ty, tw, th) after tanh.</summary>
    public (float XMin, float YMin, float XMax, float YMax) DecodeCell(int row, int col, float tx, float ty, float tw, float th, float imageWidth, float imageHeight)
    {
        float cx = (col + 0.5f + 0.5f * tx) / GridSize, cy = (row + 0.5f + 0.5f * ty) / GridSize;
        float w = (tw + 1) / 2, h = (th + 1) / 2;
        return ((cx - w / 2) * imageWidth, (cy - h / 2) * imageHeight, (cx + w / 2) * imageWidth, (cy + h / 2) * imageHeight);
    }

    /// <summary>
    /// All detections of one image above <paramref name="scoreThreshold"/>, before NMS: one per cell and class.
    /// <paramref name="boxValues"/> (S, S, 4) after tanh, <paramref name="classScores"/> (S, S, C) after sigmoid.
    /// </summary>
    public List<Detection> Decode(ReadOnlySpan<float> boxValues, ReadOnlySpan<float> classScores, float imageWidth, float imageHeight, float scoreThreshold)
    {
        int s = GridSize, c = ClassCount;
        if (boxValues.Length != s * s * 4 || classScores.Length != s * s * c)
            throw new ArgumentException($"Expected {s * s * 4} box values and {s * s * c} class scores for a {s}×{s} grid of {c} classes; got {boxValues.Length} and {classScores.Length}.");
        var result = new List<Detection>();
        for (int cell = 0; cell < s * s; cell++)
        {
            int row = cell / s, col = cell % s;
            for (int k = 0; k < c; k++)
            {
                float score = classScores[cell * c + k];
                if (score < scoreThreshold) continue;
                var (x0, y0, x1, y1) = DecodeCell(row, col, boxValues[4 * cell], boxValues[4 * cell + 1], boxValues[4 * cell + 2], boxValues[4 * cell + 3], imageWidth, imageHeight);
                result.Add(new Detection(x0, y0, x1, y1, k, score));
            }
        }
        return result;
    }
}
