using Microsoft.ML.Data;

namespace MLNetExtensions.Transforms.Internal;

/// <summary>Dense copies in and out of <see cref="VBuffer{T}"/>, reusing the caller's buffer as ML.NET getters should.</summary>
internal static class VBufferIO
{
    public static T[] ToArray<T>(in VBuffer<T> buffer)
        => buffer.IsDense ? buffer.GetValues().ToArray() : buffer.DenseValues().ToArray();

    public static void Write<T>(ref VBuffer<T> dst, ReadOnlySpan<T> values)
    {
        var editor = VBufferEditor.Create(ref dst, values.Length);
        values.CopyTo(editor.Values);
        dst = editor.Commit();
    }
}
