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
/// </summary>
internal sealed class AdamW : TorchSharp.Modules.AdamW
{
    public AdamW(IEnumerable<Parameter> parameters, double lr, double weightDecay)
        : base(parameters, lr, weight_decay: weightDecay) { }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = (Options)group.Options;
        if (o.amsgrad == true || o.maximize == true) throw new NotSupportedException("AMSGrad and maximize are not supported here.");
        double lr = o.LearningRate!.Value, beta1 = o.beta1!.Value, beta2 = o.beta2!.Value;
        using Scalar decay = 1 - lr * o.weight_decay!.Value, keep1 = beta1, take1 = 1 - beta1, keep2 = beta2, take2 = 1 - beta2, eps = o.eps!.Value, one = 1;
        foreach (var parameter in group.Parameters)
        {
            var grad = parameter.grad;
            if (grad is null) continue;
            var state = (State)_state[parameter.Handle];
            state.step += 1;
            parameter.mul_(decay);
            state.exp_avg.mul_(keep1).add_(grad, alpha: take1);
            state.exp_avg_sq.mul_(keep2).addcmul_(grad, grad, value: take2);
            double correction1 = 1 - Math.Pow(beta1, state.step), correction2 = 1 - Math.Pow(beta2, state.step);
            using Scalar root = Math.Sqrt(correction2), stepSize = -(lr / correction1);
            using var denominator = state.exp_avg_sq.sqrt();   // √v̂ + ε, with v̂ = v / (1 − β₂ᵗ)
            denominator.div_(root).add_(eps, one);   // add_(Scalar) alone would make its alpha 1 inline
            parameter.addcdiv_(state.exp_avg, denominator, value: stepSize);
        }
    }, closure);
}
