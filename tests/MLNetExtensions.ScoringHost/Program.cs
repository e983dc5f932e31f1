using System.Text.Json;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Scoring;

// Usage: MLNetExtensions.ScoringHost <model.zip> <output.json> <exported.onnx> <image> [image ...]
// Writes what a fresh process gets from the saved model: every column of mlContext.Model.Load's output, the
// PredictionEngine's predictions, and DetectionTransformer.Load's class names (its ONNX bytes go to <exported.onnx>).
if (args.Length < 4)
{
    Console.Error.WriteLine("Usage: MLNetExtensions.ScoringHost <model.zip> <output.json> <exported.onnx> <image> [image ...]");
    return 2;
}
string modelPath = args[0], outputPath = args[1], onnxPath = args[2];
var images = args[3..];

var ml = new MLContext(seed: 1);
DetectionTransformer.RegisterComponents(ml);
var model = ml.Model.Load(modelPath, out var inputSchema);
var data = ml.Data.LoadFromEnumerable(images.Select(p => new ImageRow { ImagePath = p }));
var scored = model.Transform(data);

var engine = ml.Model.CreatePredictionEngine<ImageRow, Prediction>(model, inputSchema: inputSchema);
var predictions = images.Select(p => engine.Predict(new ImageRow { ImagePath = p })).ToList();

var detector = DetectionTransformer.Load(ml, modelPath);
detector.ExportOnnx(onnxPath);

var result = new HostResult
{
    Columns = ScoredColumns.Read(scored),
    Engine = predictions.Select(p => new EnginePrediction { Boxes = p.PredictedBoxes, Labels = p.PredictedLabels, Scores = p.Scores }).ToList(),
    ClassNames = detector.ClassNames.ToList(),
    LoadedAssemblies = AppDomain.CurrentDomain.GetAssemblies().Select(a => a.GetName().Name ?? "").Order().ToList(),
};
File.WriteAllText(outputPath, JsonSerializer.Serialize(result));
return 0;

internal sealed class ImageRow
{
    public string ImagePath = "";
}

internal sealed class Prediction
{
    public float[] PredictedBoxes = [];
    public uint[] PredictedLabels = [];
    public float[] Scores = [];
}
