// Quickstart: the library end to end on the built-in shapes dataset.
//   dotnet run -c Release --project samples/Quickstart [-- --task detection|segmentation] [--architecture ssd|grid|faster-rcnn|rcnn] [--epochs N] [--output DIR] [--seed N]
using Quickstart;

var settings = QuickstartSettings.Parse(args);
if (settings is null) return 2;
return settings.Task switch
{
    QuickstartTask.Detection => DetectionQuickstart.Run(settings),
    QuickstartTask.Segmentation => SegmentationQuickstart.Run(settings),
    _ => throw new InvalidOperationException($"Unknown task {settings.Task}."),
};
