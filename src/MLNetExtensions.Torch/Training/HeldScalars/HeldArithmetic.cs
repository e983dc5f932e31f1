using TorchSharp;
using static TorchSharp.torch;

namespace MLNetExtensions.Torch.Training.HeldScalars;

/// <summary>
/// The tensor arithmetic of the training paths written so that libtorch reads only Scalars that stay alive. TorchSharp
/// 0.107 makes a temporary <see cref="Scalar"/> inside several of its own calls: <c>Tensor + Tensor</c> is
/// <c>add(target, 1)</c>, <c>add(Scalar)</c> and <c>add_(…)</c> make their alpha of 1 the same way, <c>Scalar - Tensor</c>
/// is <c>negative().add(left)</c>, <c>square()</c> is <c>pow(2)</c> and <c>arange(stop)</c> is <c>arange(0, stop, 1)</c>.
/// The JIT considers such a temporary dead once its handle is read, so the finalizer can free it while the native op
/// still reads it (dotnet/TorchSharp#1434: "Expected false to be true ... toFloat" or "Unknown scalar type" from
/// <c>c10/core/Scalar.h</c>; the <c>scalar-stress</c> bench and <c>FinalizedScalarStressTests</c> reproduce it with
/// collections forced from another thread). Each method here is the same libtorch call with the same values, so results
/// are bit for bit those of the operator it replaces; the shared Scalars are the integers TorchSharp's own overloads
/// pass. They live in static fields, so nothing ever collects or disposes them (never dispose one), and libtorch only
/// reads a Scalar, so any thread may use them at once (the data workers' augmentation does).
/// </summary>
internal static class HeldArithmetic
{
    /// <summary>The integer 0: the start of <see cref="Range"/>.</summary>
    public static readonly Scalar Zero = 0;

    /// <summary>The integer 1: the alpha of every addition here, and the step of <see cref="Range"/>.</summary>
    public static readonly Scalar One = 1;

    /// <summary>The integer 2: the exponent of <see cref="Squared"/>.</summary>
    public static readonly Scalar Two = 2;

    /// <summary><c>a + b</c>.</summary>
    public static Tensor Plus(this Tensor a, Tensor b) => a.add(b, One);

    /// <summary><c>a + b</c> for a Scalar the caller holds.</summary>
    public static Tensor Plus(this Tensor a, Scalar b) => a.add(b, One);

    /// <summary><c>a.add_(b)</c>: adds <paramref name="b"/> to <paramref name="a"/> in place and returns <paramref name="a"/>.</summary>
    public static Tensor PlusInPlace(this Tensor a, Tensor b) => a.add_(b, One);

    /// <summary><c>a.add_(b)</c> for a Scalar the caller holds.</summary>
    public static Tensor PlusInPlace(this Tensor a, Scalar b) => a.add_(b, One);

    /// <summary><c>a - b</c> for a Scalar the caller holds on the left (TorchSharp's <c>-b + a</c>).</summary>
    public static Tensor Minus(Scalar a, Tensor b)
    {
        using var negated = b.negative();
        return negated.add(a, One);
    }

    /// <summary><c>a.square()</c> (TorchSharp's <c>pow(2)</c>).</summary>
    public static Tensor Squared(this Tensor a) => a.pow(Two);

    /// <summary><c>torch.arange(stop)</c> for a Scalar the caller holds: 0, 1, …, stop − 1.</summary>
    public static Tensor Range(Scalar stop, ScalarType? dtype = null, Device? device = null) => torch.arange(Zero, stop, One, dtype, device);
}
