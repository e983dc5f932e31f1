using OxyPlot;

namespace MLNetExtensions.Visualization;

/// <summary>Renders an OxyPlot model to PNG bytes (OxyPlot.SkiaSharp on SkiaSharp 2.88, as ImageAnalytics).</summary>
internal static class ChartPng
{
    public static byte[] Export(PlotModel model, int width, int height)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(width, 16);
        ArgumentOutOfRangeException.ThrowIfLessThan(height, 16);
        using var stream = new MemoryStream();
        new OxyPlot.SkiaSharp.PngExporter { Width = width, Height = height }.Export(model, stream);
        return stream.ToArray();
    }
}
