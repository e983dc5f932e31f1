// Quickstart: the library end to end on the built-in shapes dataset.
//   dotnet run -c Release --project samples/Quickstart [-- --architecture ssd|grid] [--epochs N] [--output DIR]
using Quickstart;

var settings = QuickstartSettings.Parse(args);
if (settings is null) return 2;
if (settings.Task != QuickstartTask.Detection)
{
    Console.Error.WriteLine($"The {settings.Task.ToString().ToLowerInvariant()} quickstart is not part of this version yet; run with --task detection.");
    return 2;
}
return DetectionQuickstart.Run(settings);
