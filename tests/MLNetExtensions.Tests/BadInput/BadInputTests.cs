using System.Buffers.Binary;
using System.IO.Compression;
using System.Security.Cryptography;
using System.Text;
using Microsoft.ML;
using Microsoft.ML.Data;
using MLNetExtensions.Data;
using MLNetExtensions.Data.Coco;
using MLNetExtensions.Data.Masks;
using MLNetExtensions.Data.Synthetic;
using MLNetExtensions.Data.Voc;
using MLNetExtensions.Data.Yolo;
using MLNetExtensions.Scoring;
using MLNetExtensions.Tests.Detection;
using MLNetExtensions.Tests.Scoring;
using MLNetExtensions.Tests.Segmentation;
using MLNetExtensions.Torch.Detection;
using MLNetExtensions.Torch.Segmentation;
using MLNetExtensions.Torch.Training;
using MLNetExtensions.Torch.Weights;

namespace MLNetExtensions.Tests.BadInput;

/// <summary>
/// The bad-input matrix (docs/reliability.md): each case feeds one bad input to a reader, a transform, a trainer, the
/// scoring chain or a model file, and asserts the documented outcome: the exact error (naming the file, row or option,
/// and what to do), or success with the documented warning. Every case runs beside work already written (a finished
/// checkpoint folder, a saved model.zip and a copy of the dataset folder), and asserts that none of it changed.
/// </summary>
[TestClass]
public sealed class BadInputTests
{
    /// <summary>What a case works in: its own folder, with a dataset, a finished checkpoint and a saved model in it.</summary>
    public sealed class Scene
    {
        public required MLContext Ml { get; init; }
        public required string Root { get; init; }
        /// <summary>A copy of the tiny shapes VOC folder (ImageSets, Annotations, JPEGImages, SegmentationClass).</summary>
        public required string Dataset { get; init; }
        /// <summary>A finished run's checkpoint folder (Tiny options, 2 steps).</summary>
        public required string Checkpoints { get; init; }
        /// <summary>A detector saved with mlContext.Model.Save.</summary>
        public required string ModelZip { get; init; }
        public List<string> Warnings { get; } = [];

        public IDataView Train(string set = "train") => Ml.Data.LoadFromPascalVoc(Dataset, set, new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });
        public string Image(int i) => Directory.GetFiles(Path.Combine(Dataset, "JPEGImages"), "train_*.png").Order().ElementAt(i);
        public string File(string name) => Path.Combine(Root, name);
    }

    private sealed record Case(string Name, Func<Scene, string> Act, string Expected);

    private const string Ok = "ok";

    private static SsdDetectorOptions Tiny => DetectorTrainingTests.TinyOptions(DetectorArchitecture.Ssd) with { MaxSteps = 2, WarmupSteps = 0, EnableCheckpoints = false };

    private static string Fit(Scene s, SsdDetectorOptions options, IDataView data)
    {
        s.Ml.Transforms.TrainSsdDetector(options).Fit(data).Dispose();
        return Ok;
    }

    private static IDataView Records(Scene s, IEnumerable<DetectionRecord> records) => DetectionDataView.Create(s.Ml, records, SyntheticShapesDataset.ClassNames);

    private static List<DetectionRecord> FirstRecords(Scene s, int n) => DetectionDataView.ReadRecords(s.Train()).Take(n).ToList();

    /// <summary>A VOC folder of its own with one annotation <paramref name="xml"/> for the first training image.</summary>
    private static string VocWith(Scene s, string xml)
    {
        var root = Path.Combine(s.Root, "voc");
        Directory.CreateDirectory(Path.Combine(root, "ImageSets", "Main"));
        Directory.CreateDirectory(Path.Combine(root, "Annotations"));
        Directory.CreateDirectory(Path.Combine(root, "JPEGImages"));
        System.IO.File.Copy(s.Image(0), Path.Combine(root, "JPEGImages", "a.png"));
        System.IO.File.WriteAllText(Path.Combine(root, "ImageSets", "Main", "train.txt"), "a\n");
        System.IO.File.WriteAllText(Path.Combine(root, "Annotations", "a.xml"), xml);
        return root;
    }

    private static string VocXml(string objects, string doctype = "") => $"<?xml version=\"1.0\"?>{doctype}<annotation><filename>a.png</filename><size><width>64</width><height>64</height><depth>3</depth></size>{objects}</annotation>";

    private static string VocObject(string name, int xmin, int ymin, int xmax, int ymax)
        => $"<object><name>{name}</name><difficult>0</difficult><bndbox><xmin>{xmin}</xmin><ymin>{ymin}</ymin><xmax>{xmax}</xmax><ymax>{ymax}</ymax></bndbox></object>";

    /// <summary>A YOLO folder pair with one image and the label file <paramref name="label"/>.</summary>
    private static (string Images, string Labels) YoloWith(Scene s, string label)
    {
        var images = Path.Combine(s.Root, "yolo", "images");
        var labels = Path.Combine(s.Root, "yolo", "labels");
        Directory.CreateDirectory(images);
        Directory.CreateDirectory(labels);
        System.IO.File.Copy(s.Image(0), Path.Combine(images, "a.png"));
        System.IO.File.WriteAllText(Path.Combine(labels, "a.txt"), label);
        return (images, labels);
    }

    private static string CocoWith(Scene s, string json)
    {
        var path = s.File("instances.json");
        System.IO.File.WriteAllText(path, json);
        System.IO.File.Copy(s.Image(0), s.File("a.png"));
        return path;
    }

    /// <summary>Rows of (ImagePath, MaskPath) for the first <paramref name="n"/> segmentation training images, the masks
    /// copied into the case's folder and changed by <paramref name="change"/>.</summary>
    private static IDataView Masks(Scene s, int n, Action<int, SegmentationMask, string> change)
    {
        var rows = new List<(string Image, string Mask)>();
        var cursorView = s.Ml.Data.LoadFromPascalVocSegmentation(s.Dataset, "train");
        var images = cursorView.GetColumn<ReadOnlyMemory<char>>(SegmentationColumns.ImagePath).Take(n).Select(m => m.ToString()).ToList();
        var masks = cursorView.GetColumn<ReadOnlyMemory<char>>(SegmentationColumns.MaskPath).Take(n).Select(m => m.ToString()).ToList();
        for (int i = 0; i < n; i++)
        {
            var mask = SegmentationMask.CreateFromFile(masks[i]);
            var copy = s.File($"mask-{i}.png");
            change(i, mask, copy);
            if (!System.IO.File.Exists(copy)) mask.Save(copy);
            rows.Add((images[i], copy));
        }
        return s.Ml.Data.LoadFromEnumerable(rows.Select(r => new SegmentationRow { ImagePath = r.Image, MaskPath = r.Mask }));
    }

    private sealed class SegmentationRow
    {
        public string ImagePath { get; set; } = "";
        public string MaskPath { get; set; } = "";
    }

    private static DeepLabSegmenterOptions TinySegmenter => DeepLabTrainingTests.TinyOptions() with { MaxSteps = 1, EnableCheckpoints = false };

    private static string FitSegmenter(Scene s, DeepLabSegmenterOptions options, IDataView data)
    {
        s.Ml.Transforms.TrainDeepLabSegmenter(options).Fit(data).Dispose();
        return Ok;
    }

    /// <summary>A copy of the saved model.zip with its ONNX entry's stream changed by <paramref name="tamper"/>
    /// (which gets the whole zip's bytes and the entry's data offset and compressed length).</summary>
    private static string TamperedZip(Scene s, Action<byte[], int, int> tamper)
    {
        var bytes = System.IO.File.ReadAllBytes(s.ModelZip);
        for (int at = 0; at + 30 < bytes.Length; at++)
        {
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at)) != 0x04034b50) continue;   // local file header
            int compressed = BinaryPrimitives.ReadInt32LittleEndian(bytes.AsSpan(at + 18));
            int nameLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 26));
            int extraLength = BinaryPrimitives.ReadUInt16LittleEndian(bytes.AsSpan(at + 28));
            string name = Encoding.UTF8.GetString(bytes, at + 30, nameLength);
            if (!name.EndsWith("OnnxModel", StringComparison.Ordinal)) continue;
            tamper(bytes, at + 30 + nameLength + extraLength, compressed);
            var path = s.File("tampered.zip");
            System.IO.File.WriteAllBytes(path, bytes);
            return path;
        }
        throw new AssertFailedException("The saved model has no OnnxModel entry.");
    }

    /// <summary>A safetensors file with the JSON header <paramref name="header"/> (length prefix given or the header's own) and <paramref name="data"/> bytes.</summary>
    private static string Safetensors(Scene s, string header, int data, ulong? lengthPrefix = null)
    {
        var json = Encoding.UTF8.GetBytes(header);
        var bytes = new byte[8 + json.Length + data];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, lengthPrefix ?? (ulong)json.Length);
        json.CopyTo(bytes, 8);
        var path = s.File("weights.safetensors");
        System.IO.File.WriteAllBytes(path, bytes);
        return path;
    }

    private static string LoadSafetensors(string path)
    {
        SafetensorsFile.Open(path);
        return Ok;
    }

    private static readonly Case[] All =
    [
        // Readers.
        new("empty image set", s =>
        {
            var root = VocWith(s, VocXml(""));
            System.IO.File.WriteAllText(Path.Combine(root, "ImageSets", "Main", "train.txt"), "");
            s.Ml.Data.LoadFromPascalVoc(root, "train");
            return Ok;
        }, "InvalidDataException: Image set list '{root}/voc/ImageSets/Main/train.txt' is empty. List one image id per line."),
        new("empty dataset at Fit", s => Fit(s, Tiny, Records(s, [])), "InvalidOperationException: The training data has no rows. Give at least one image with its boxes."),
        new("image without boxes is a valid negative", s => Fit(s, Tiny with { BatchSize = 9 }, Records(s, FirstRecords(s, 8).Append(new DetectionRecord(s.Image(0), [], [])))), Ok),
        new("NaN box coordinate", s => Fit(s, Tiny, Records(s, [new DetectionRecord(s.Image(0), [new BoundingBox(float.NaN, 1, 10, 10)], ["circle"])])),
            "InvalidDataException: Row 0 of the training data"),
        new("infinite box coordinate", s => Fit(s, Tiny, Records(s, [new DetectionRecord(s.Image(0), [new BoundingBox(1, 1, float.PositiveInfinity, 10)], ["circle"])])),
            "InvalidDataException: Row 0 of the training data"),
        new("box outside the image", s => Fit(s, Tiny, Records(s, [new DetectionRecord(s.Image(0), [new BoundingBox(10, 10, 500, 20)], ["circle"])])),
            "InvalidDataException: Row 0 of the training data ('{image0}'): box 0 [10, 10, 500, 20] lies outside the 64×64 image. Fix the annotation or clip the box."),
        new("missing image file", s => Fit(s, Tiny, Records(s, [new DetectionRecord(s.File("missing.png"), [new BoundingBox(1, 1, 5, 5)], ["circle"])])),
            "InvalidDataException: Row 0 of the training data: image '{root}/missing.png' cannot be read:"),
        new("image file that is not an image", s =>
        {
            System.IO.File.WriteAllText(s.File("text.png"), "not a png");
            return Fit(s, Tiny, Records(s, [new DetectionRecord(s.File("text.png"), [new BoundingBox(1, 1, 5, 5)], ["circle"])]));
        }, "InvalidDataException: Row 0 of the training data: image '{root}/text.png' cannot be read:"),
        new("VOC unknown label", s => { s.Ml.Data.LoadFromPascalVoc(VocWith(s, VocXml(VocObject("dragon", 2, 2, 20, 20))), "train", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames }); return Ok; },
            "InvalidDataException: '{root}/voc/Annotations/a.xml': object 0 ('dragon', box xmin=2, ymin=2, xmax=20, ymax=20) has the class 'dragon', which is not in the class list (circle, square, triangle, star, cross). Add it to PascalVocOptions.ClassNames (or set DiscoverClasses = true), or set PascalVocOptions.InvalidBoxes = InvalidBoxHandling.SkipWithWarning to leave such boxes out."),
        new("VOC unknown label skipped with a warning", s =>
        {
            var view = s.Ml.Data.LoadFromPascalVoc(VocWith(s, VocXml(VocObject("dragon", 2, 2, 20, 20) + VocObject("circle", 2, 2, 20, 20))), "train",
                new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames, InvalidBoxes = InvalidBoxHandling.SkipWithWarning });
            return $"{Ok}, {DetectionDataView.ReadRecords(view).Single().Boxes.Count} box; " + string.Join(" | ", s.Warnings);
        }, "ok, 1 box; [Source=LoadFromPascalVoc, Kind=Warning] Skipped: '{root}/voc/Annotations/a.xml': object 0 ('dragon'"),
        new("VOC XML with a DTD and an external entity", s =>
        {
            s.Ml.Data.LoadFromPascalVoc(VocWith(s, VocXml(VocObject("&xxe;", 2, 2, 20, 20), "<!DOCTYPE annotation [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]>")), "train",
                new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames });
            return Ok;
        }, "InvalidDataException: '{root}/voc/Annotations/a.xml'"),
        new("YOLO line with 4 numbers", s => { var (i, l) = YoloWith(s, "0 0.5 0.5 0.2\n"); s.Ml.Data.LoadFromYolo(i, l, ["circle"]); return Ok; },
            "InvalidDataException: '{root}/yolo/labels/a.txt' line 1 (\"0 0.5 0.5 0.2\"): "),
        new("YOLO class index out of range", s => { var (i, l) = YoloWith(s, "7 0.5 0.5 0.2 0.2\n"); s.Ml.Data.LoadFromYolo(i, l, ["circle"]); return Ok; },
            "InvalidDataException: '{root}/yolo/labels/a.txt' line 1 (\"7 0.5 0.5 0.2 0.2\"): "),
        new("COCO duplicate image ids", s =>
        {
            s.Ml.Data.LoadFromCocoJson(CocoWith(s, """{"images":[{"id":1,"file_name":"a.png","width":64,"height":64},{"id":1,"file_name":"a.png","width":64,"height":64}],"annotations":[],"categories":[{"id":1,"name":"circle"}]}"""), s.Root);
            return Ok;
        }, "InvalidDataException: '{root}/instances.json': image id 1 appears twice in 'images' (images[0] and images[1])."),
        new("COCO annotation of an unknown image", s =>
        {
            s.Ml.Data.LoadFromCocoJson(CocoWith(s, """{"images":[{"id":1,"file_name":"a.png","width":64,"height":64}],"annotations":[{"id":5,"image_id":2,"category_id":1,"bbox":[1,1,5,5]}],"categories":[{"id":1,"name":"circle"}]}"""), s.Root);
            return Ok;
        }, "InvalidDataException: '{root}/instances.json': annotation id 5 (annotations[0]) refers to image id 2, which is not in 'images'. Add the image or remove the annotation."),

        // Masks and the segmenter.
        new("mask of the wrong size", s => FitSegmenter(s, TinySegmenter, Masks(s, 8, (i, m, path) => { if (i == 3) new SegmentationMask(32, 32).Save(path); })),
            "InvalidDataException: Row 3 of the training data: the mask '{root}/mask-3.png' is 32×32 but the image '"),
        new("mask index past the class names", s => FitSegmenter(s, TinySegmenter, Masks(s, 8, (i, m, _) => { if (i == 2) m[5, 6] = 9; })),
            "InvalidDataException: Row 2 of the training data: mask '{root}/mask-2.png' pixel (x=5, y=6) is 9, but there are 6 classes (0..5, 255 = ignore). Give all class names, or fix the mask."),
        new("stray mask index without class names", s => FitSegmenter(s, TinySegmenter with { ClassNames = null }, Masks(s, 8, (i, m, _) => { if (i == 5) m[7, 1] = 200; })),
            "InvalidDataException: Row 5 of the training data: mask '{root}/mask-5.png' pixel (x=7, y=1) is 200, but no mask has the value 6. Without ClassNames the classes are 0..200 (the largest mask value plus one, 201 classes), so a value past a gap is taken for a stray pixel. Give ClassNames (one per class, background first) to train that many classes, or fix the mask (class indices 0..K-1, 255 = ignore)."),
        new("class weights for another class count", s => FitSegmenter(s, TinySegmenter with { ClassNames = null, ClassWeights = [1f, 1f] }, Masks(s, 8, (_, _, _) => { })),
            "ArgumentException: ClassWeights has 2 values but the training masks have 6 classes."),

        // Trainer options and columns.
        new("bad option at the estimator", s => { s.Ml.Transforms.TrainSsdDetector(Tiny with { BatchSize = 0 }); return Ok; },
            "ArgumentOutOfRangeException: BatchSize must be at least 1."),
        new("missing column at Fit", s => Fit(s, Tiny with { BoxesColumn = "Bboxes" }, s.Train()),
            "ArgumentOutOfRangeException: Column 'Bboxes' not found; it must be a vector of float (N×4 box corners in pixels)."),

        // Checkpoints.
        new("checkpoint from other options", s => Fit(s, Tiny with { EnableCheckpoints = true, CheckpointFolder = s.Checkpoints, Seed = 99 }, s.Train()),
            "InvalidOperationException: The checkpoint in '{checkpoints}/step-00000002' was made with other options or data than this run: Seed 7 in the checkpoint, 99 in this run. Use the checkpoint's options and data to resume, or another CheckpointFolder (or delete this one) to start over."),
        new("checkpoint of other training data", s => Fit(s, Tiny with { EnableCheckpoints = true, CheckpointFolder = s.Checkpoints }, Records(s, FirstRecords(s, 40))),
            "InvalidOperationException: The checkpoint in '{checkpoints}/step-00000002' was made with other options or data than this run: TrainingData "),
        new("checkpoint folder on a read-only path", s => Fit(s, Tiny with { EnableCheckpoints = true, CheckpointFolder = "/proc/mlnetext-checkpoints" }, s.Train()),
            "IOException: The checkpoint folder '/proc/mlnetext-checkpoints' cannot be written ("),
        new("checkpoint folder on a full disk", s =>
        {
            CheckpointStore.FreeSpaceForTests = _ => 0;
            try { return Fit(s, Tiny with { EnableCheckpoints = true, CheckpointFolder = s.Checkpoints }, s.Train()); }
            finally { CheckpointStore.FreeSpaceForTests = null; }
        }, "IOException: The checkpoint folder '{checkpoints}' has 0.0 MB free, but its checkpoints need about "),
        new("checkpoint with a truncated model.bin", s =>
        {
            var copy = Path.Combine(s.Root, "truncated-checkpoint");
            CopyFolder(s.Checkpoints, copy);
            var bin = Path.Combine(copy, "step-00000002", "model.bin");
            System.IO.File.WriteAllBytes(bin, System.IO.File.ReadAllBytes(bin)[..100]);
            return Fit(s, Tiny with { EnableCheckpoints = true, CheckpointFolder = copy }, s.Train());
        }, "InvalidDataException: The checkpoint '{root}/truncated-checkpoint/step-00000002' is truncated or corrupt ("),
        new("checkpoint with a damaged latest.json", s =>
        {
            var copy = Path.Combine(s.Root, "damaged-checkpoint");
            CopyFolder(s.Checkpoints, copy);
            System.IO.File.WriteAllText(Path.Combine(copy, "latest.json"), "{\"checkpoint\": ");
            return Fit(s, Tiny with { EnableCheckpoints = true, CheckpointFolder = copy }, s.Train());
        }, "InvalidDataException: The checkpoint folder '{root}/damaged-checkpoint' cannot be read ("),

        // Model files and scoring.
        new("missing model.zip", s => { DetectionTransformer.Load(s.Ml, s.File("none.zip")); return Ok; },
            "FileNotFoundException: The model file '{root}/none.zip' does not exist."),
        new("truncated model.zip", s =>
        {
            System.IO.File.WriteAllBytes(s.File("half.zip"), System.IO.File.ReadAllBytes(s.ModelZip)[..4000]);
            DetectionTransformer.Load(s.Ml, s.File("half.zip"));
            return Ok;
        }, "InvalidDataException: The model file '{root}/half.zip' is truncated or damaged: it is not a complete zip archive. Save the model again with mlContext.Model.Save."),
        new("model.zip with a bad inflate stream", s =>
        {
            // A deflate block header of type 3, which does not exist: the entry cannot be inflated.
            DetectionTransformer.Load(s.Ml, TamperedZip(s, (bytes, data, _) => bytes[data] = 0x07));
            return Ok;
        }, "InvalidDataException: The model file '{root}/tampered.zip' is damaged: its ONNX network cannot be read ("),
        new("model.zip whose length prefix asks for 2 GB", s =>
        {
            var path = s.File("huge-prefix.zip");
            System.IO.File.Copy(s.ModelZip, path);
            using (var zip = ZipFile.Open(path, ZipArchiveMode.Update))
            {
                var entry = zip.Entries.Single(e => e.Name == "OnnxModel");
                string name = entry.FullName;
                entry.Delete();
                using var stream = zip.CreateEntry(name).Open();
                var prefix = new byte[4];
                BinaryPrimitives.WriteInt32LittleEndian(prefix, int.MaxValue - 16);
                stream.Write(prefix);
                stream.Write(new byte[64]);
            }
            DetectionTransformer.Load(s.Ml, path);
            return Ok;
        }, "InvalidDataException: The model file '{root}/huge-prefix.zip' is damaged: its ONNX network 'TransformerChain/"),
        new("truncated ONNX", s => { DetectionTransformer.Create(s.Ml, TinyTrainedDetector.Get(DetectorArchitecture.Ssd).OnnxModel[..2000]); return Ok; },
            "InvalidDataException: "),
        new("ONNX from another tool loaded as a detector", s =>
        {
            // A valid ONNX graph (Identity) without this library's metadata, as another exporter writes one.
            var graph = new MLNetExtensions.Onnx.OnnxGraphBuilder("other-tool");
            var x = graph.AddInput("x", 1, 3, 8, 8);
            var y = graph.AddNode("Identity", [x]);
            graph.AddOutput(y, "y", 1, 3, 8, 8);
            DetectionTransformer.Create(s.Ml, graph.ToBytes());
            return Ok;
        }, "InvalidDataException: "),
        new("segmenter ONNX loaded as a detector", s => { DetectionTransformer.Create(s.Ml, TinyTrainedSegmenter.Get().OnnxModel); return Ok; },
            "InvalidDataException: "),
        new("scoring a missing image", s => { TinyTrainedDetector.Get(DetectorArchitecture.Ssd).Detect(s.File("missing.png")); return Ok; },
            "FileNotFoundException: "),
        new("Transform of a row whose image is missing", s =>
        {
            var scored = TinyTrainedDetector.Get(DetectorArchitecture.Ssd).Transform(TinyTrainedDetector.ImageView(s.Ml, [s.Image(0), s.Image(1), s.File("missing.png")]));
            s.Ml.Data.CreateEnumerable<DetectionPrediction>(scored, reuseRowObject: false).ToList();
            return Ok;
        }, "FileNotFoundException: Row 2 of the input: the image '{root}/missing.png' (column 'ImagePath') does not exist. Fix the path, or leave the row out."),
        new("segmenter Transform of a row whose image is missing", s =>
        {
            var scored = TinyTrainedSegmenter.Get().Transform(TinyTrainedDetector.ImageView(s.Ml, [s.File("missing.png"), s.Image(0)]));
            s.Ml.Data.CreateEnumerable<SegmentationPrediction>(scored, reuseRowObject: false).ToList();
            return Ok;
        }, "FileNotFoundException: Row 0 of the input: the image '{root}/missing.png' (column 'ImagePath') does not exist. Fix the path, or leave the row out."),

        // Weight files.
        new("safetensors header longer than the file", s => LoadSafetensors(Safetensors(s, "{}", 0, lengthPrefix: 1UL << 40)),
            "InvalidDataException: '{root}/weights.safetensors' is not a valid safetensors file: its header length says 1099511627776 bytes, but only 2 bytes follow (truncated, or not a safetensors file)."),
        new("safetensors shape whose element count overflows", s => LoadSafetensors(Safetensors(s, """{"w":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,0]}}""", 0)),
            "InvalidDataException: '{root}/weights.safetensors' is not a valid safetensors file: the entry 'w' has shape [4294967296, 4294967296], whose element count overflows 64 bits (a damaged or hostile header)."),
    ];

    public static IEnumerable<object[]> Names => All.Select(c => new object[] { c.Name });

    private static readonly Lock Gate = new();
    private static (string Checkpoints, string ModelZip)? _templates;

    /// <summary>A finished checkpoint folder and a saved model.zip, made once; each case works on copies.</summary>
    private static (string Checkpoints, string ModelZip) Templates()
    {
        lock (Gate)
        {
            if (_templates is { } t) return t;
            var folder = Path.Combine(Path.GetTempPath(), "mlnetext-tests", "bad-input-templates-" + Guid.NewGuid().ToString("N")[..8]);
            var ml = new MLContext(1);
            var checkpoints = Path.Combine(folder, "checkpoints");
            ml.Transforms.TrainSsdDetector(Tiny with { EnableCheckpoints = true, CheckpointFolder = checkpoints })
                .Fit(ml.Data.LoadFromPascalVoc(DetectorTrainingTests.TinyShapes, "train", new PascalVocOptions { ClassNames = SyntheticShapesDataset.ClassNames })).Dispose();
            var zip = Path.Combine(folder, "model.zip");
            ml.Model.Save(TinyTrainedDetector.Get(DetectorArchitecture.Ssd), TinyTrainedDetector.ImageView(ml, []).Schema, zip);
            _templates = (checkpoints, zip);
            return _templates.Value;
        }
    }

    private static void CopyFolder(string from, string to)
    {
        foreach (var dir in Directory.GetDirectories(from, "*", SearchOption.AllDirectories))
            Directory.CreateDirectory(Path.Combine(to, Path.GetRelativePath(from, dir)));
        Directory.CreateDirectory(to);
        foreach (var file in Directory.GetFiles(from, "*", SearchOption.AllDirectories))
            System.IO.File.Copy(file, Path.Combine(to, Path.GetRelativePath(from, file)));
    }

    /// <summary>Every file under the folders (or the file) with its SHA-256: what a case must leave as it found it.</summary>
    private static SortedDictionary<string, string> Snapshot(params string[] paths)
    {
        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var path in paths)
        {
            var files = System.IO.File.Exists(path) ? [path] : Directory.GetFiles(path, "*", SearchOption.AllDirectories);
            foreach (var file in files) result[file] = Convert.ToHexString(SHA256.HashData(System.IO.File.ReadAllBytes(file)));
        }
        return result;
    }

    [TestMethod]
    [DynamicData(nameof(Names))]
    public void GivesTheDocumentedOutcomeAndDamagesNothing(string name)
    {
        var c = All.Single(x => x.Name == name);
        var (checkpoints, modelZip) = Templates();
        var root = Path.Combine(Path.GetTempPath(), "mlnetext-tests", "bad-input-" + Guid.NewGuid().ToString("N")[..8]);
        var scene = new Scene
        {
            Ml = new MLContext(1), Root = root, Dataset = Path.Combine(root, "dataset"),
            Checkpoints = Path.Combine(root, "checkpoints"), ModelZip = Path.Combine(root, "model.zip"),
        };
        try
        {
            CopyFolder(DetectorTrainingTests.TinyShapes, scene.Dataset);
            CopyFolder(checkpoints, scene.Checkpoints);
            System.IO.File.Copy(modelZip, scene.ModelZip);
            scene.Ml.Log += (_, e) => { if (e.Kind == Microsoft.ML.Runtime.ChannelMessageKind.Warning) scene.Warnings.Add(e.Message); };
            var before = Snapshot(scene.Dataset, scene.Checkpoints, scene.ModelZip);

            string outcome;
            try { outcome = c.Act(scene); }
            catch (Exception ex) { outcome = $"{ex.GetType().Name}: {ex.Message}"; }

            string expected = c.Expected.Replace("{root}", root).Replace("{checkpoints}", scene.Checkpoints).Replace("{image0}", scene.Image(0));
            Console.WriteLine($"{name}: {outcome}");
            Assert.IsTrue(outcome.StartsWith(expected, StringComparison.Ordinal), $"expected\n  {expected}\ngot\n  {outcome}");
            CollectionAssert.AreEqual(before.ToList(), Snapshot(scene.Dataset, scene.Checkpoints, scene.ModelZip).ToList(),
                "the dataset folder, the finished checkpoint and the saved model.zip are unchanged");
        }
        finally
        {
            if (Directory.Exists(root)) Directory.Delete(root, recursive: true);
        }
    }

    [TestMethod]
    public void TheMatrixHasAtLeast25Cases() => Assert.IsGreaterThanOrEqualTo(25, All.Length);
}
