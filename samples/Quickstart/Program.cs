// Quickstart: the library end to end on the built-in shapes dataset.
//   dotnet run -c Release --project samples/Quickstart [-- --architecture ssd|grid] [--epochs N] [--output DIR]
//   dotnet run -c Release --project samples/Quickstart -- --task segmentation
using Quickstart;

var settings = QuickstartSettings.Parse(args);
if (settings is null) return 2;
return settings.Task switch
{
    QuickstartTask.Detection => DetectionQuickstart.Run(settings),
    _ => throw new InvalidOperationException($"Unknown task {settings.Task}."),
};
