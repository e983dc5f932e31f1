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
/// <para>
/// On the CPU an update walks the buffers in chunks (<see cref="Chunks"/>) and runs all its operations on one chunk
/// before the next: the quickstart DeepLab's 1.26 million parameters make each buffer 5 MB, and AdamW's operations
/// over whole buffers stream about 110 MB a step through memory; a chunk's buffers stay in cache between them.
/// </para>
/// </summary>
internal sealed class ContiguousParameters : IDisposable
{
    private const long Alignment = 16;

    /// <summary>
    /// Floats per chunk of an update on the CPU (512 KiB): AdamW's operations over the quickstart DeepLab's flat buffers,
    /// timed alone (2026-12-07 Ice Lake VM, 2 threads, medians of 200), took 2.4 ms in chunks of 64 Ki floats, 1.7 ms in
    /// 128 Ki, 2.0 ms in 256 Ki and 512 Ki, and 2.7 ms over whole buffers; smaller chunks pay libtorch's fixed cost per
    /// operation more often (5.3 ms in 16 Ki). In the training step, after backward, 3.8 → 3.1 ms (bench
    /// <c>adamw-chunks</c>). A multiple of <see cref="Alignment"/>.
    /// </summary>
    public const long CpuChunkLength = 1 << 17;

    private readonly long[] _offsets;
    private readonly long _chunkLength;
    private readonly IntPtr _valuesStart, _gradientsStart;

    private ContiguousParameters(IReadOnlyList<Parameter> parameters, long[] offsets, long length, long chunkLength)
    {
        Parameters = parameters;
        _offsets = offsets;
        _chunkLength = chunkLength;
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
    /// <param name="parameters">The trained parameters.</param>
    /// <param name="cpuChunkLength">Floats per chunk of an update on the CPU (<see cref="Chunks"/>); tests make it small.</param>
    public static ContiguousParameters? TryCreate(IEnumerable<Parameter> parameters, long cpuChunkLength = CpuChunkLength)
    {
        if (cpuChunkLength <= 0 || cpuChunkLength % Alignment != 0)
            throw new ArgumentOutOfRangeException(nameof(cpuChunkLength), cpuChunkLength, $"A chunk is a positive multiple of {Alignment} floats.");
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
        return new ContiguousParameters(list, offsets, length, device.type == DeviceType.CPU ? cpuChunkLength : length);
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

    /// <summary>
    /// Consecutive views of <paramref name="buffer"/> (laid out like <see cref="Values"/>), each the chunk length long
    /// but the last, outside any dispose scope: an update runs all its operations on one before the next (see the
    /// remarks on the class). One view on devices other than the CPU, where an operation's fixed cost is a kernel launch.
    /// </summary>
    public Tensor[] Chunks(Tensor buffer)
    {
        long length = buffer.shape[0];
        var chunks = new Tensor[(length + _chunkLength - 1) / _chunkLength];
        for (int i = 0; i < chunks.Length; i++)
            chunks[i] = buffer.narrow(0, i * _chunkLength, Math.Min(_chunkLength, length - i * _chunkLength)).DetachFromDisposeScope();
        return chunks;
    }

    public void Dispose()
    {
        Values.Dispose();
        Gradients.Dispose();
    }
}
