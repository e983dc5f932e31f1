using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training.HeldScalars;

/// <summary>
/// TorchSharp's AdamW (decoupled weight decay) with its update written so that every <see cref="Scalar"/> it hands to
/// libtorch is held by a <c>using</c> until the op returns. TorchSharp's own <c>step()</c> converts doubles to temporary
/// Scalars inline (<c>exp_avg.mul_(beta1)</c>), and the finalizer can free one while the native op still reads it
/// (dotnet/TorchSharp#1434: "Expected false to be true ... toFloat"; <c>FinalizedScalarStressTests</c> reproduces it in
/// seconds with collections forced from another thread). The state, its checkpoint format and the arithmetic are the
/// base class's (<c>HeldScalarOptimizerTests</c> checks the parameters bit for bit against it); AMSGrad and maximize,
/// which the library never sets, are refused. The class keeps its base's name because TorchSharp writes the
/// optimizer's type name into the saved state and refuses another on load: checkpoints stay readable both ways.
/// <para>
/// The parameters, their gradients and the two moments live in flat buffers (<see cref="ContiguousParameters"/>), so a
/// step is nine element-wise operations over all of them, chunk by chunk (<see cref="ContiguousParameters.Chunks"/>), and
/// <c>zero_grad</c> one, instead of nine per parameter and one per gradient; the saved state is still per parameter
/// (each state's moments are views of their slots).
/// </para>
/// </summary>
internal sealed class AdamW : TorchSharp.Modules.AdamW
{
    private readonly ContiguousParameters? _contiguous;
    private readonly Tensor? _expAvg, _expAvgSq;   // (L,): the moments, laid out like the parameters
    private readonly Tensor[] _expAvgSlots = [], _expAvgSqSlots = [];
    private readonly Chunk[] _chunks = [];

    public AdamW(IEnumerable<Parameter> parameters, double lr, double weightDecay) : this(parameters.ToList(), lr, weightDecay) { }

    /// <param name="parameters">The trained parameters.</param>
    /// <param name="lr">The learning rate.</param>
    /// <param name="weightDecay">The decoupled weight decay.</param>
    /// <param name="cpuChunkLength">Floats per chunk of the flat update on the CPU (<see cref="ContiguousParameters.Chunks"/>).</param>
    internal AdamW(List<Parameter> parameters, double lr, double weightDecay, long cpuChunkLength = ContiguousParameters.CpuChunkLength)
        : base(parameters, lr, weight_decay: weightDecay)
    {
        _contiguous = ContiguousParameters.TryCreate(parameters, cpuChunkLength);
        if (_contiguous is null) return;
        _expAvg = _contiguous.NewBuffer();
        _expAvgSq = _contiguous.NewBuffer();
        var (values, gradients, expAvg, expAvgSq) = (_contiguous.Chunks(_contiguous.Values), _contiguous.Chunks(_contiguous.Gradients), _contiguous.Chunks(_expAvg), _contiguous.Chunks(_expAvgSq));
        _chunks = new Chunk[values.Length];
        for (int i = 0; i < values.Length; i++)
            _chunks[i] = new Chunk(values[i], gradients[i], expAvg[i], expAvgSq[i]);
        _expAvgSlots = new Tensor[parameters.Count];
        _expAvgSqSlots = new Tensor[parameters.Count];
        for (int i = 0; i < parameters.Count; i++)
        {
            _expAvgSlots[i] = _contiguous.Slot(_expAvg, i);
            _expAvgSqSlots[i] = _contiguous.Slot(_expAvgSq, i);
        }
        MomentsInSlots();
    }

    /// <summary>The parameters and gradients in flat buffers, or null when they could not share one (then every
    /// parameter is updated on its own).</summary>
    public ContiguousParameters? Contiguous => _contiguous;

    public override void zero_grad()
    {
        if (_contiguous is null) base.zero_grad();
        else _contiguous.Gradients.zero_();
    }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = (Options)group.Options;
        if (o.amsgrad == true || o.maximize == true) throw new NotSupportedException("AMSGrad and maximize are not supported here.");
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value;
        using Scalar decay = 1 - lr * o.weight_decay!.Value, keep1 = beta1, take1 = 1 - beta1, keep2 = beta2, take2 = 1 - beta2, eps = o.eps!.Value, one = 1;
        if (_contiguous is not null && _parameter_groups.Count == 1 && MomentsInSlots())
        {
            // The same arithmetic as the loop below, over every parameter, one chunk at a time: (chunk,).
            _contiguous.Gather();
            long step = 0;
            foreach (var parameter in _contiguous.Parameters) step = ++((State)_state[parameter.Handle]).step;
            using var update = new Update(step, lr, beta1, beta2);
            foreach (var (values, gradients, expAvg, expAvgSq) in _chunks)
            {
                values.mul_(decay);
                expAvg.mul_(keep1).add_(gradients, alpha: take1);
                expAvgSq.mul_(keep2).addcmul_(gradients, gradients, value: take2);
                using var denominator = expAvgSq.sqrt();
                denominator.div_(update.Root).add_(eps, one);
                values.addcdiv_(expAvg, denominator, value: update.StepSize);
            }
            return;
        }
        foreach (var parameter in group.Parameters)
        {
            var grad = parameter.grad;
            if (grad is null) continue;
            var state = (State)_state[parameter.Handle];
            state.step += 1;
            parameter.mul_(decay);
            state.exp_avg.mul_(keep1).add_(grad, alpha: take1);
            state.exp_avg_sq.mul_(keep2).addcmul_(grad, grad, value: take2);
            using var update = new Update(state.step, lr, beta1, beta2);
            using var denominator = state.exp_avg_sq.sqrt();   // √v̂ + ε, with v̂ = v / (1 − β₂ᵗ)
            denominator.div_(update.Root).add_(eps, one);   // add_(Scalar) alone would make its alpha 1 inline
            parameter.addcdiv_(state.exp_avg, denominator, value: update.StepSize);
        }
    }, closure);

    /// <summary>
    /// Whether the flat update applies: every parameter's moments are the views of the flat moments (a state loaded
    /// from another optimizer's object replaces them: they are copied back into their slots) and every parameter has
    /// taken the same number of steps (the bias corrections are shared).
    /// </summary>
    private bool MomentsInSlots()
    {
        long? steps = null;
        using var noGrad = no_grad();
        for (int i = 0; i < _expAvgSlots.Length; i++)
        {
            var state = (State)_state[_contiguous!.Parameters[i].Handle];
            if (!ReferenceEquals(state.exp_avg, _expAvgSlots[i])) state.exp_avg = IntoSlot(state.exp_avg, _expAvgSlots[i]);
            if (!ReferenceEquals(state.exp_avg_sq, _expAvgSqSlots[i])) state.exp_avg_sq = IntoSlot(state.exp_avg_sq, _expAvgSqSlots[i]);
            if ((steps ??= state.step) != state.step) return false;
        }
        return true;
    }

    private static Tensor IntoSlot(Tensor moment, Tensor slot)
    {
        slot.copy_(moment);
        moment.Dispose();
        return slot;
    }

    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);   // the states dispose the slot views
        if (!disposing) return;
        foreach (var chunk in _chunks) chunk.Dispose();
        _expAvg?.Dispose();
        _expAvgSq?.Dispose();
        _contiguous?.Dispose();
    }

    /// <summary>One chunk's views of the flat buffers: (chunk,) each.</summary>
    private readonly record struct Chunk(Tensor Values, Tensor Gradients, Tensor ExpAvg, Tensor ExpAvgSq) : IDisposable
    {
        public void Dispose()
        {
            Values.Dispose();
            Gradients.Dispose();
            ExpAvg.Dispose();
            ExpAvgSq.Dispose();
        }
    }

    /// <summary>The step size −lr / (1 − β₁ᵗ) and √(1 − β₂ᵗ) of step <c>t</c>, as held Scalars.</summary>
    private readonly struct Update : IDisposable
    {
        public Update(long step, double lr, double beta1, double beta2)
        {
            double correction1 = 1 - Math.Pow(beta1, step), correction2 = 1 - Math.Pow(beta2, step);
            Root = Math.Sqrt(correction2);
            StepSize = -(lr / correction1);
        }

        public Scalar Root { get; }
        public Scalar StepSize { get; }

        public void Dispose()
        {
            Root.Dispose();
            StepSize.Dispose();
        }
    }
}
