using Microsoft.ML.Runtime;

namespace MLNetExtensions.Torch.Training;

/// <summary>Writes training messages to <c>MLContext.Log</c>, where ML.NET's own trainers write theirs.</summary>
internal static class TrainingLog
{
    public static void Info(this IHostEnvironment? env, string source, string message)
    {
        if (env is null) return;
        using var channel = env.Start(source);
        channel.Info(MessageSensitivity.None, message);
    }

    public static void Warning(this IHostEnvironment? env, string source, string message)
    {
        if (env is null) return;
        using var channel = env.Start(source);
        channel.Warning(MessageSensitivity.None, message);
    }
}
