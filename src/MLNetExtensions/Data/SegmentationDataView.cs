using Microsoft.ML;

namespace MLNetExtensions.Data;

/// <summary>Builds <see cref="IDataView"/>s in the <see cref="SegmentationColumns"/> schema (ImagePath, MaskPath).</summary>
public static class SegmentationDataView
{
    private sealed class Row
    {
        public string ImagePath = "";
        public string MaskPath = "";
    }

    /// <summary>Turns image/mask pairs into an <see cref="IDataView"/> with text columns ImagePath and MaskPath.</summary>
    public static IDataView Create(DataOperationsCatalog data, IEnumerable<SegmentationRecord> records)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(records);
        return data.LoadFromEnumerable(records.Select(r => new Row { ImagePath = r.ImagePath, MaskPath = r.MaskPath }).ToList());
    }
}
