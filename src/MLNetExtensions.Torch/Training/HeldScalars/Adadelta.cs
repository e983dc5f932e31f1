using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training.HeldScalars;

/// <summary>
/// TorchSharp's Adadelta with every <see cref="Scalar"/> of its update held until the op returns; see
/// <see cref="AdamW"/> for why. Same state and checkpoint format as the base class.
/// </summary>
internal sealed class Adadelta : TorchSharp.Modules.Adadelta
{
    public Adadelta(IEnumerable<Parameter> parameters, double lr, double weightDecay)
        : base(parameters, lr, weight_decay: weightDecay) { }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = (Options)group.Options;
        double rho = o.rho!.Value, weightDecay = o.weight_decay!.Value;
        using Scalar decay = weightDecay, keep = rho, take = 1 - rho, eps = o.eps!.Value, rate = -o.LearningRate!.Value, one = 1;
        foreach (var parameter in group.Parameters)
        {
            var grad = parameter.grad;
            if (grad is null) continue;
            var state = (State)_state[parameter.Handle];
            grad = weightDecay != 0 ? grad.add(parameter, alpha: decay) : grad.alias();
            state.square_avg.mul_(keep).addcmul_(grad, grad, value: take);
            var std = state.square_avg.add(eps, one).sqrt_();   // add(Scalar) alone would make its alpha 1 inline
            var delta = state.acc_delta.add(eps, one).sqrt_().div_(std).mul_(grad);   // √(Δ² + ε) / √(g² + ε) · g
            parameter.add_(delta, alpha: rate);
            state.acc_delta.mul_(keep).addcmul_(delta, delta, value: take);
        }
    }, closure);
}
