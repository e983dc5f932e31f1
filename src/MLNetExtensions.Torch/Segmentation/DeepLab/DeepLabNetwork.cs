using MLNetExtensions.Torch.Training;
using MLNetExtensions.Onnx;
using MLNetExtensions.Scoring;
using MLNetExtensions.Torch.Modules;
using MLNetExtensions.Torch.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Segmentation;

/// <summary>
/// DeepLab v3+ (Chen et al. 2018): input normalisation, an atrous backbone (<see cref="ISegmentationBackbone"/>),
/// ASPP on its high-level map, the decoder joining the stride-4 low-level map, and bilinear upsampling of the logits
/// to the input size. Raw [0, 255] pixels in, per-class logits (N, K, H, W) out.
/// </summary>
/// <remarks>
/// Frozen backbone stages (<see cref="Freeze"/>) get no gradients and stay in eval mode: their BatchNorm layers
/// normalise with the running statistics they were trained with and never update them, because <see cref="train"/>
/// puts them back in eval mode after every switch. A frozen BatchNorm that kept using mini-batch statistics (what
/// <c>requires_grad = false</c> alone gives) would see different features in training and at inference.
/// </remarks>
public sealed class DeepLabNetwork : nn.Module<Tensor, Tensor>, ITrainableModel
{
    nn.Module ITrainableModel.Network => this;

    private readonly InputNormalization normalize;
    private readonly nn.Module<Tensor, (Tensor LowLevel, Tensor HighLevel)> backbone;
    private readonly AtrousSpatialPyramidPooling aspp;
    private readonly DeepLabDecoder decoder;
    private readonly ISegmentationBackbone _backbone;
    private readonly FrozenBackboneStages _frozen = new();

    /// <summary>Creates the network.</summary>
    /// <param name="backbone">The backbone; an <c>nn.Module&lt;Tensor, (Tensor, Tensor)&gt;</c> implementing <see cref="ISegmentationBackbone"/>.</param>
    /// <param name="classCount">Classes, background included (2 or more).</param>
    /// <param name="normalization">How raw pixels are normalised inside the network.</param>
    /// <param name="atrousRates">ASPP rates; null for the paper's (6, 12, 18) at output stride 16, doubled at 8.</param>
    /// <param name="asppChannels">Channels of ASPP and the decoder (256 in the paper).</param>
    /// <param name="lowLevelProjection">Channels the low-level map is projected to (48 in the paper).</param>
    /// <param name="dropout">Dropout after ASPP's projection.</param>
    public DeepLabNetwork(ISegmentationBackbone backbone, int classCount, PixelNormalization normalization,
        IReadOnlyList<int>? atrousRates = null, long asppChannels = 256, long lowLevelProjection = 48, double dropout = 0.1)
        : base(nameof(DeepLabNetwork))
    {
        ArgumentNullException.ThrowIfNull(backbone);
        if (backbone is not nn.Module<Tensor, (Tensor, Tensor)> module)
            throw new ArgumentException($"The backbone {backbone.GetType().Name} must be an nn.Module<Tensor, (Tensor LowLevel, Tensor HighLevel)>.", nameof(backbone));
        ArgumentOutOfRangeException.ThrowIfLessThan(classCount, 2);
        ClassCount = classCount;
        _backbone = backbone;
        normalize = new InputNormalization(normalization);
        this.backbone = module;
        aspp = new AtrousSpatialPyramidPooling(backbone.HighLevelChannels, asppChannels, atrousRates ?? DefaultRates(backbone.OutputStride), dropout);
        decoder = new DeepLabDecoder(backbone.LowLevelChannels, asppChannels, lowLevelProjection, classCount);
        RegisterComponents();
    }

    /// <summary>Classes, background included.</summary>
    public int ClassCount { get; }

    /// <summary>The backbone.</summary>
    public ISegmentationBackbone Backbone => _backbone;

    /// <summary>The ASPP block.</summary>
    public AtrousSpatialPyramidPooling Aspp => aspp;

    /// <summary>The frozen backbone stages, in input order.</summary>
    public IReadOnlyList<string> FrozenStages => _frozen.Names;

    /// <summary>The paper's ASPP rates: (6, 12, 18) at output stride 16, (12, 24, 36) at 8.</summary>
    public static int[] DefaultRates(int outputStride) => outputStride == 8 ? [12, 24, 36] : [6, 12, 18];

    /// <summary>
    /// Freezes the backbone's stages from the first up to and including <paramref name="upToStage"/> (null: all):
    /// their parameters stop requiring gradients and they stay in eval mode from now on.
    /// </summary>
    /// <param name="upToStage">The last stage to freeze; null for all.</param>
    /// <param name="batchNormUsesBatchStatistics">For comparison only, what Keras before 2.1.3 did to a frozen
    /// BatchNorm (<c>trainable = False</c>): in training it normalises with the mini-batch's statistics, at inference
    /// with its running statistics (which stay untouched either way), so the layers after it are trained on features
    /// they never see at inference. False (the default) keeps the frozen stages in eval mode.</param>
    /// <exception cref="ArgumentException">The backbone has no stage of that name; the message lists them.</exception>
    public void Freeze(string? upToStage = null, bool batchNormUsesBatchStatistics = false)
    {
        FrozenBatchNormUsesBatchStatistics = batchNormUsesBatchStatistics;
        _frozen.Freeze(_backbone.StageNames, _backbone.StageModules, upToStage, training, keepTrainingMode: batchNormUsesBatchStatistics);
    }

    /// <summary>Whether frozen stages normalise with mini-batch statistics in training (see <see cref="Freeze"/>).</summary>
    public bool FrozenBatchNormUsesBatchStatistics { get; private set; }

    /// <summary>Switches training mode, keeping frozen stages in eval mode (see the remarks on the class).</summary>
    public override void train(bool on = true)
    {
        base.train(on);
        if (!FrozenBatchNormUsesBatchStatistics) _frozen.KeepInEvalMode();
    }

    /// <summary>Whether the network computes in channels-last memory on the CPU (<see cref="ChannelsLastLayout"/>) up to
    /// the classifier; the K-channel logits go back to NCHW before the last upsampling, so the output is the contiguous
    /// (N, K, H, W) tensor the losses and the scorers read. True (the default, as for the detection networks): on the
    /// 2026-12-07 Ice Lake VM channels-last trained the quickstart's network 1.07× faster than NCHW (pytorch-parity, same
    /// turns), and its gradients match float64 as NCHW's do (the 2.8e-3 once seen on ResNet-18 at output stride 8 was one
    /// pre-activation rounding to the other side of a ReLU's kink, see the tests' <c>ActivationDecisions</c>). It was off
    /// while the segmentation quickstart's channels-last runs trailed NCHW's (seed 1: test mIoU 0.7551 against 0.8197,
    /// 0.7424 against 0.8516); with seeds 2 and 3 they led (0.8679 against 0.7861, 0.7922 against 0.7336), and on a Zen 5
    /// host each layout led in two of seeds 1–4: draws of a run that is chaotic from scratch (ASPP's dropout draws its mask
    /// in memory order, so the layouts draw different masks), not a loss. On that Zen 5 the channels-last step is 0.96 of
    /// the NCHW one (README). Tests set it to check both layouts.</summary>
    internal bool ChannelsLast { get; set; } = true;

    /// <summary>(N, C, H, W) raw pixels → (N, K, H, W) logits.</summary>
    public override Tensor forward(Tensor images)
    {
        using var scope = NewDisposeScope();
        // Keras's frozen BatchNorm: batch statistics in this forward, running statistics put back after it.
        var kept = training && FrozenBatchNormUsesBatchStatistics
            ? _frozen.BatchNorms.Select(bn => (bn, Mean: bn.running_mean!.clone(), Var: bn.running_var!.clone(), Count: bn.num_batches_tracked?.clone())).ToList()
            : null;
        var x = normalize.call(images);
        if (ChannelsLast) x = ChannelsLastLayout.Apply(x);
        var (low, high) = backbone.call(x);
        if (kept != null)
        {
            using var noGrad = no_grad();
            foreach (var (bn, mean, variance, count) in kept)
            {
                bn.running_mean!.copy_(mean);
                bn.running_var!.copy_(variance);
                if (count is not null) bn.num_batches_tracked!.copy_(count);
            }
        }
        var logits = decoder.call(low, aspp.call(high)).contiguous();                             // (N, K, H/4, W/4), NCHW
        return BilinearResize.Apply(logits, images.shape[2], images.shape[3]).MoveToOuterDisposeScope();     // (N, K, H, W)
    }

    /// <summary>
    /// Builds the ONNX graph: <see cref="ScoringColumns.OnnxPixels"/> (N, C, H, W) raw pixels in;
    /// <see cref="ScoringColumns.OnnxLogits"/> (N, K, H, W) and <see cref="ScoringColumns.OnnxLogitsShape"/> ([K, H, W]
    /// as floats, so the stateless scoring mapping can read the flat logits) out.
    /// </summary>
    public OnnxGraphBuilder ExportGraph(NetworkInput input, OnnxModelMetadata metadata)
    {
        ArgumentNullException.ThrowIfNull(input);
        var g = new OnnxGraphBuilder("deeplabv3plus") { Metadata = metadata };
        var x = g.AddInput(ScoringColumns.OnnxPixels, OnnxGraphBuilder.BatchDimension, input.Channels, input.Height, input.Width);
        var normalized = OnnxModuleExport.ExportChild(g, "normalize", normalize, x);
        string low, high;
        using (g.BeginScope("backbone")) (low, high) = _backbone.Export(g, normalized);
        var context = OnnxModuleExport.ExportChild(g, "aspp", aspp, high);
        string logits;
        using (g.BeginScope("decoder")) logits = decoder.Export(g, low, context);
        var full = OnnxOps.ResizeLike(g, logits, x, OnnxResizeMode.Bilinear);
        var shape = OnnxOps.Cast(g, OnnxOps.Shape(g, full, start: 1), OnnxElementType.Float);
        g.AddOutput(full, ScoringColumns.OnnxLogits, OnnxGraphBuilder.BatchDimension, ClassCount, input.Height, input.Width);
        g.AddOutput(shape, ScoringColumns.OnnxLogitsShape, 3);
        return g;
    }
}
