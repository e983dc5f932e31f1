using Microsoft.ML;
using MLNetExtensions.Data;

namespace MLNetExtensions.Torch.Detection;

/// <summary>Detector training on <c>mlContext.Transforms</c>.</summary>
public static class DetectionTrainingCatalog
{
    /// <summary>Trains an SSD detector with default options on the detection schema's columns.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="inputWidth">Network input width in pixels.</param>
    /// <param name="inputHeight">Network input height in pixels.</param>
    /// <param name="epochs">Passes over the training data.</param>
    /// <param name="architecture">SSD or the grid detector.</param>
    public static SsdDetectorEstimator TrainSsdDetector(this TransformsCatalog catalog, int inputWidth = 300, int inputHeight = 300,
        int epochs = 30, DetectorArchitecture architecture = DetectorArchitecture.Ssd)
        => catalog.TrainSsdDetector(new SsdDetectorOptions { InputWidth = inputWidth, InputHeight = inputHeight, Epochs = epochs, Architecture = architecture });

    /// <summary>Trains an SSD or grid detector with the given options.</summary>
    public static SsdDetectorEstimator TrainSsdDetector(this TransformsCatalog catalog, SsdDetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new SsdDetectorEstimator(CatalogEnvironment.TryGet(catalog), options);
    }

    /// <summary>Trains a Faster R-CNN detector with default options on the detection schema's columns.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="inputWidth">Network input width in pixels.</param>
    /// <param name="inputHeight">Network input height in pixels.</param>
    /// <param name="epochs">Passes over the training data.</param>
    public static FasterRcnnDetectorEstimator TrainFasterRcnnDetector(this TransformsCatalog catalog, int inputWidth = 300, int inputHeight = 300, int epochs = 30)
        => catalog.TrainFasterRcnnDetector(new FasterRcnnDetectorOptions { InputWidth = inputWidth, InputHeight = inputHeight, Epochs = epochs });

    /// <summary>Trains a Faster R-CNN detector with the given options.</summary>
    public static FasterRcnnDetectorEstimator TrainFasterRcnnDetector(this TransformsCatalog catalog, FasterRcnnDetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new FasterRcnnDetectorEstimator(CatalogEnvironment.TryGet(catalog), options);
    }

    /// <summary>Trains a classic R-CNN (selective search, a CNN on warped regions, one linear SVM per class, box regression,
    /// NMS) with default options on the detection schema's columns.</summary>
    /// <param name="catalog">The transforms catalog.</param>
    /// <param name="inputWidth">Width in pixels of the image regions are warped from.</param>
    /// <param name="inputHeight">Height in pixels of the image regions are warped from.</param>
    /// <param name="epochs">Passes of the CNN fine-tuning over the training images.</param>
    public static RcnnDetectorEstimator TrainRcnnDetector(this TransformsCatalog catalog, int inputWidth = 300, int inputHeight = 300, int epochs = 30)
        => catalog.TrainRcnnDetector(new RcnnDetectorOptions { InputWidth = inputWidth, InputHeight = inputHeight, Epochs = epochs });

    /// <summary>Trains a classic R-CNN with the given options.</summary>
    public static RcnnDetectorEstimator TrainRcnnDetector(this TransformsCatalog catalog, RcnnDetectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        return new RcnnDetectorEstimator(CatalogEnvironment.TryGet(catalog), options);
    }
}
