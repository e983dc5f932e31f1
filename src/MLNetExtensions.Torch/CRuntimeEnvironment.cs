using System.Runtime.InteropServices;

namespace MLNetExtensions.Torch;

/// <summary>
/// The C runtime's environment (libc <c>getenv</c>/<c>setenv</c>), which native libraries read. .NET's
/// <see cref="Environment.SetEnvironmentVariable(string, string)"/> does not reach it on Unix, and variables set there
/// are not seen here. Callers catch <see cref="DllNotFoundException"/>/<see cref="EntryPointNotFoundException"/> where
/// there is no libc.
/// </summary>
internal static class CRuntimeEnvironment
{
    [DllImport("libc", EntryPoint = "setenv", SetLastError = true)]
    private static extern int SetEnv(string name, string value, int overwrite);

    [DllImport("libc", EntryPoint = "getenv")]
    private static extern IntPtr GetEnv(string name);

    /// <summary>The variable's value, or null when it is not set.</summary>
    public static string? Get(string name) => Marshal.PtrToStringAnsi(GetEnv(name));

    /// <summary>Sets the variable unless it is already set.</summary>
    public static void SetIfUnset(string name, string value) => SetEnv(name, value, overwrite: 0);
}
