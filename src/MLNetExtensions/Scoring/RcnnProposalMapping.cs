using System.Globalization;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms;
using MLNetExtensions.Detection.Rcnn;
using MLNetExtensions.Onnx;
using MLNetExtensions.Transforms;

namespace MLNetExtensions.Scoring;

/// <summary>Input row of <see cref="RcnnProposalMapping"/>: the image file and the R-CNN's selective search settings.</summary>
public sealed class RcnnProposalInput
{
    [ColumnName(ScoringColumns.ImagePath)] public string ImagePath = "";
    [ColumnName(ScoringColumns.RcnnSearch)] public float[] Search = [];
}

/// <summary>Output row of <see cref="RcnnProposalMapping"/>: <see cref="RcnnProposalMapping.MaxProposals"/> boxes,
/// the best-ranked first, as corners relative to the image, padded with empty boxes (all zeros).</summary>
public sealed class RcnnProposalOutput
{
    [ColumnName(ScoringColumns.OnnxProposals)]
    [VectorType(4 * RcnnProposalMapping.MaxProposals)]
    public float[] Proposals = [];
}

/// <summary>
/// The first step of a trained R-CNN's scoring chain: the selective search proposals of the image (as
/// <see cref="SelectiveSearchEstimator"/> makes them, with the settings the model was trained with), relative to the
/// image and padded to a fixed <see cref="MaxProposals"/> rows, since ML.NET's <c>ApplyOnnxModel</c> takes only
/// vectors of known size; the network reads its first <c>ProposalsPerImage</c> rows and scores the empty ones 0.
/// Stateless: the settings come from a column that a one-node ONNX graph of the saved chain writes (<see cref="SettingsGraph"/>),
/// so a model saved with <c>mlContext.Model.Save</c> searches as it was trained to in any process.
/// </summary>
[CustomMappingFactoryAttribute(ContractName)]
public sealed class RcnnProposalMapping : CustomMappingFactory<RcnnProposalInput, RcnnProposalOutput>
{
    public const string ContractName = "MLNetExtensions.RcnnProposals.v1";

    /// <summary>Rows of the proposals column: R-CNN's 2000 selective search boxes per image.</summary>
    public const int MaxProposals = SelectiveSearchEstimator.Defaults.MaxProposals;

    /// <summary>Values of the settings vector: strategy, seed, sigma, min box size, min region size (−1: k), proposals per image.</summary>
    internal const int SettingsLength = 6;

    /// <summary>The metadata key of the settings in the R-CNN's ONNX network.</summary>
    internal const string MetadataKey = "rcnn_search";

    public override Action<RcnnProposalInput, RcnnProposalOutput> GetMapping() => Map;

    internal static void Map(RcnnProposalInput input, RcnnProposalOutput output)
    {
        var (search, count) = Decode(input.Search);
        output.Proposals = Propose(input.ImagePath, search, count, row: -1);
    }

    /// <summary>The best <paramref name="count"/> proposals of an image file relative to its size, padded to <see cref="MaxProposals"/> rows.</summary>
    internal static float[] Propose(string path, SelectiveSearchOptions search, int count, long row)
    {
        var (boxes, width, height) = SelectiveSearchRowMapper.ProposeFile(path, search, count, "R-CNN proposals", ScoringColumns.ImagePath, row);
        var padded = new float[4 * MaxProposals];
        for (int i = 0; i < boxes.Length; i += 4)
        {
            padded[i] = boxes[i] / width;
            padded[i + 1] = boxes[i + 1] / height;
            padded[i + 2] = boxes[i + 2] / width;
            padded[i + 3] = boxes[i + 3] / height;
        }
        return padded;
    }

    /// <summary>The settings as the column carries them.</summary>
    internal static float[] Encode(SelectiveSearchOptions search, int proposalsPerImage)
    {
        if (proposalsPerImage is < 1 or > MaxProposals)
            throw new ArgumentOutOfRangeException(nameof(proposalsPerImage), proposalsPerImage, $"The proposals per image must be within 1..{MaxProposals}.");
        return [(float)search.Strategy, search.Seed, (float)search.Sigma, search.MinBoxSize, search.MinRegionSize ?? -1, proposalsPerImage];
    }

    internal static (SelectiveSearchOptions Search, int Count) Decode(ReadOnlySpan<float> settings)
    {
        if (settings.Length != SettingsLength)
            throw new InvalidDataException($"The R-CNN's selective search settings have {settings.Length} values; expected {SettingsLength}. The model file does not match this library's R-CNN.");
        var search = new SelectiveSearchOptions
        {
            Strategy = (SelectiveSearchStrategy)(int)settings[0], Seed = (int)settings[1], Sigma = settings[2], MinBoxSize = (int)settings[3],
            MinRegionSize = settings[4] < 0 ? null : (int)settings[4],
        };
        return (search, (int)settings[5]);
    }

    /// <summary>The settings as the ONNX metadata carries them (comma-separated, invariant culture).</summary>
    internal static string ToMetadata(float[] settings) => string.Join(",", settings.Select(v => v.ToString("R", CultureInfo.InvariantCulture)));

    internal static float[] FromMetadata(OnnxModelMetadata metadata)
    {
        if (!metadata.Extra.TryGetValue(MetadataKey, out var text))
            throw new InvalidDataException($"The R-CNN's ONNX network has no '{MetadataKey}' metadata (its selective search settings). Export it again with this library.");
        return text.Split(',').Select(v => float.Parse(v, CultureInfo.InvariantCulture)).ToArray();
    }

    /// <summary>
    /// The graph that writes the settings column: <see cref="ScoringColumns.OnnxPixels"/> in (only to give it a row),
    /// the constant settings out as <see cref="ScoringColumns.RcnnSearch"/>. It carries no model metadata.
    /// </summary>
    internal static byte[] SettingsGraph(float[] settings, NetworkInput input)
    {
        var g = new OnnxGraphBuilder("rcnn_search_settings");
        var x = g.AddInput(ScoringColumns.OnnxPixels, 1, input.Channels, input.Height, input.Width);
        var zero = OnnxOps.Mul(g, OnnxOps.ReduceMean(g, x, [0, 1, 2, 3], keepDims: false), g.AddInitializer("zero", [0f]));
        var values = OnnxOps.Add(g, g.AddInitializer("settings", settings, settings.Length), zero);
        g.AddOutput(values, ScoringColumns.RcnnSearch, settings.Length);
        return g.ToBytes();
    }
}
