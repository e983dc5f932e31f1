using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;

// Usage: MLNetExtensions.ScoringHost [--segmentation] <model.zip> <output.json> <exported.onnx> <image> [image ...]
// Writes what a fresh process gets from the saved model: every column of mlContext.Model.Load's output, the
// typed PredictionEngine's predictions (ImageInput → DetectionPrediction or SegmentationPrediction), and DetectionTransformer.Load's (with --segmentation: SegmentationTransformer.Load's)
// Detect (Segment) results and class names (its ONNX bytes go to <exported.onnx>).
bool segmentation = args.Length > 0 && args[0] == "--segmentation";
if (segmentation) args = args[1..];
if (args.Length < 4)
{
    Console.Error.WriteLine("Usage: MLNetExtensions.ScoringHost [--segmentation] <model.zip> <output.json> <exported.onnx> <image> [image ...]");
    return 2;
}
string modelPath = args[0], outputPath = args[1], onnxPath = args[2];
var images = args[3..];

var ml = new MLContext(seed: 1);
if (segmentation) SegmentationTransformer.RegisterComponents(ml);
else DetectionTransformer.RegisterComponents(ml);
var model = ml.Model.Load(modelPath, out var inputSchema);
var data = ml.Data.LoadFromEnumerable(images.Select(p => new ImageInput { ImagePath = p }));
var scored = model.Transform(data);

List<EnginePrediction> engine, helper;
IReadOnlyList<string> classNames;
if (segmentation)
{
    var masks = ml.Model.CreatePredictionEngine<ImageInput, SegmentationPrediction>(model, inputSchema: inputSchema);
    engine = images.Select(p => masks.Predict(new ImageInput { ImagePath = p }))
        .Select(p => new EnginePrediction { Mask = p.PredictedMask, Width = p.Width, Height = p.Height }).ToList();
    var segmenter = SegmentationTransformer.Load(ml, modelPath);
    helper = images.Select(segmenter.Segment).Select(p => new EnginePrediction { Mask = p.PredictedMask, Width = p.Width, Height = p.Height }).ToList();
    segmenter.ExportOnnx(onnxPath);
    classNames = segmenter.ClassNames;
}
else
{
    var boxes = ml.Model.CreatePredictionEngine<ImageInput, DetectionPrediction>(model, inputSchema: inputSchema);
    engine = images.Select(p => boxes.Predict(new ImageInput { ImagePath = p }))
        .Select(p => new EnginePrediction { Boxes = p.PredictedBoxes, LabelNames = p.PredictedLabels, Scores = p.Scores }).ToList();
    var detector = DetectionTransformer.Load(ml, modelPath);
    helper = images.Select(detector.Detect).Select(p => new EnginePrediction { Boxes = p.PredictedBoxes, LabelNames = p.PredictedLabels, Scores = p.Scores }).ToList();
    detector.ExportOnnx(onnxPath);
    classNames = detector.ClassNames;
}

var result = new HostResult
{
    Columns = ScoredColumns.Read(scored),
    Engine = engine,
    Helper = helper,
    ClassNames = classNames.ToList(),
    LoadedAssemblies = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? "").Order().ToList(),
};
File.WriteAllText(outputPath, JsonSerializer.Serialize(result));
return 0;
