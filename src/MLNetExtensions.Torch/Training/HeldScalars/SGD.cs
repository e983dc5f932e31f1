using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training.HeldScalars;

/// <summary>
/// TorchSharp's SGD (momentum, L2 weight decay) with every <see cref="Scalar"/> of its update held until the op returns;
/// see <see cref="AdamW"/> for why. Same state and checkpoint format as the base class; Nesterov and maximize,
/// which the library never sets, are refused.
/// </summary>
internal sealed class SGD : TorchSharp.Modules.SGD
{
    public SGD(IEnumerable<Parameter> parameters, double lr, double momentum, double weightDecay)
        : base(parameters, lr, momentum: momentum, weight_decay: weightDecay) { }

    public override Tensor step(Func<Tensor>? closure = null) => _step<ParamGroup>(group =>
    {
        var o = group.Options;
        if (o.nesterov == true || o.maximize == true) throw new NotSupportedException("Nesterov momentum and maximize are not supported here.");
        double momentum = o.momentum!.Value, weightDecay = o.weight_decay!.Value;
        using Scalar decay = weightDecay, keep = momentum, take = 1 - o.dampening!.Value, rate = -o.LearningRate!.Value;
        foreach (var parameter in group.Parameters)
        {
            var grad = parameter.grad;
            if (grad is null) continue;
            var state = (State)_state[parameter.Handle];
            if (weightDecay != 0) grad = grad.add(parameter, alpha: decay);   // g + λ·θ, a new tensor of the step's scope
            if (momentum != 0)
            {
                if (state.momentum_buffer is null) state.momentum_buffer = grad.clone().detach().DetachFromDisposeScope();
                else state.momentum_buffer.mul_(keep).add_(grad, alpha: take);
                grad = state.momentum_buffer;
            }
            parameter.add_(grad, alpha: rate);
        }
    }, closure);
}
