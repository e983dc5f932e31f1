using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training;

/// <summary>
/// The trained parameters and their gradients laid end to end in two flat buffers, each parameter and each gradient a
/// view of its slot, so that an optimizer updates all of them with a handful of element-wise operations over one buffer
/// instead of a handful per parameter, and gradient clipping takes one norm (apex's <c>FusedAdam</c> over flattened
/// parameters, DeepSpeed's contiguous gradients; PyTorch's <c>foreach</c> optimizers get there with multi-tensor
/// kernels, which TorchSharp does not expose). A small network of many layers pays libtorch's fixed cost per operation
/// (dispatch, an allocation per temporary) on every one of them: the quickstart SSD has 70 parameter tensors, so AdamW
/// ran 630 operations a step and <c>zero_grad</c> 70 more (pytorch-parity bench: its optimizer 2.9 ms of a step, 1.1
/// ms over flat buffers).
/// <para>
/// The views hold because nothing replaces a parameter's storage or its gradient while training: autograd accumulates
/// into a gradient that exists in place (outside <c>create_graph</c>, which the library never uses), TorchSharp's
/// <c>zero_grad</c> zeroes in place, and the checkpoint loads (<c>Module.load</c>, the optimizers' state) write into the
/// tensors they find. Every gradient exists from the start, as zeros: a parameter that no loss reaches in a step is
/// updated with a zero gradient, as it is by TorchSharp's optimizers after its first gradient. Slots start on 64-byte
/// boundaries (16 floats); the gaps between them are zeros and stay zero under every update the optimizers make.
/// </para>
/// </summary>
internal sealed class ContiguousParameters : IDisposable
{
    private const long Alignment = 16;
    private readonly long[] _offsets;
    private readonly IntPtr _valuesStart, _gradientsStart;

    private ContiguousParameters(IReadOnlyList<Parameter> parameters, long[] offsets, long length)
    {
        Parameters = parameters;
        _offsets = offsets;
        var first = parameters[0];
        Values = zeros(length, dtype: first.dtype, device: first.device).DetachFromDisposeScope();
        Gradients = zeros(length, dtype: first.dtype, device: first.device).DetachFromDisposeScope();
        (_valuesStart, _gradientsStart) = (StorageStart(Values), StorageStart(Gradients));
        using var noGrad = no_grad();
        for (int i = 0; i < parameters.Count; i++)
        {
            var parameter = parameters[i];
            using (var values = Slot(Values, i))
            {
                values.copy_(parameter);
                parameter.set_(values);
            }
            using var gradient = Slot(Gradients, i);
            using (var existing = parameter.grad)
                if (existing is not null) gradient.copy_(existing);
            parameter.grad = gradient;
        }
    }

    /// <summary>
    /// Lays <paramref name="parameters"/> out in flat buffers, or returns null when they cannot share one: none, a
    /// parameter that is not trained (no gradient would ever reach it) or listed twice, one that is not float32, or more than
    /// one device.
    /// </summary>
    public static ContiguousParameters? TryCreate(IEnumerable<Parameter> parameters)
    {
        var list = parameters.ToList();
        if (list.Count == 0) return null;
        var device = list[0].device;
        if (list.Any(p => !p.requires_grad || p.dtype != ScalarType.Float32
                          || p.device.type != device.type || p.device.index != device.index)
            || list.Select(p => p.Handle).Distinct().Count() != list.Count)
            return null;
        var offsets = new long[list.Count];
        long length = 0;
        for (int i = 0; i < list.Count; i++)
        {
            offsets[i] = length;
            length += (list[i].numel() + Alignment - 1) / Alignment * Alignment;
        }
        return new ContiguousParameters(list, offsets, length);
    }

    /// <summary>
    /// Puts back into its slot any parameter or gradient that something outside the optimizer replaced (a
    /// <c>Module.zero_grad()</c> sets gradients to null, and the next backward makes new ones; a <c>set_</c> or a load
    /// that swaps storage), copying its values, so that an update over the flat buffers never misses one; a dropped
    /// gradient that no backward remade counts as zeros. A few calls per parameter into libtorch, none of which runs an
    /// operation: the optimizers call it before every flat update.
    /// </summary>
    public void Gather()
    {
        using var noGrad = no_grad();
        for (int i = 0; i < Parameters.Count; i++)
        {
            var parameter = Parameters[i];
            if (!InSlot(parameter, _valuesStart, i))
                using (var values = Slot(Values, i))
                {
                    values.copy_(parameter);
                    parameter.set_(values);
                }
            using var grad = parameter.grad;
            if (grad is not null && InSlot(grad, _gradientsStart, i)) continue;
            using var gradient = Slot(Gradients, i);
            if (grad is null) gradient.zero_();
            else gradient.copy_(grad);
            parameter.grad = gradient;
        }
    }

    private bool InSlot(Tensor tensor, IntPtr bufferStart, int index)
        => StorageStart(tensor) == bufferStart && tensor.storage_offset() == _offsets[index];

    private static IntPtr StorageStart(Tensor tensor)
    {
        using var scope = NewDisposeScope();   // storage<T>() makes a tensor it never disposes
        return tensor.storage<float>().data_ptr();
    }

    /// <summary>The parameters, in the order of their slots.</summary>
    public IReadOnlyList<Parameter> Parameters { get; }

    /// <summary>Every parameter's values, end to end: (L,).</summary>
    public Tensor Values { get; }

    /// <summary>Every parameter's gradient, in the same slots: (L,).</summary>
    public Tensor Gradients { get; }

    /// <summary>A new buffer of zeros laid out like <see cref="Values"/> (an optimizer's state: moments, momentum).</summary>
    public Tensor NewBuffer() => zeros_like(Values).DetachFromDisposeScope();

    /// <summary>The view of <paramref name="buffer"/> (laid out like <see cref="Values"/>) that holds parameter
    /// <paramref name="index"/>, in that parameter's shape; outside any dispose scope.</summary>
    public Tensor Slot(Tensor buffer, int index)
    {
        var parameter = Parameters[index];
        using var flat = buffer.narrow(0, _offsets[index], parameter.numel());
        return flat.view(parameter.shape).DetachFromDisposeScope();
    }

    public void Dispose()
    {
        Values.Dispose();
        Gradients.Dispose();
    }
}
