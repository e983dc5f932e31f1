using System.Text.Json;
using System.Text.Json.Serialization;

namespace MLNetExtensions.Data.Coco;

// The parts of the COCO formats the readers use; everything else in the files (segmentation polygons, info,
// licenses, URLs) is skipped by the deserializer. Fields are nullable so a missing one is reported by name.

internal sealed class CocoInstancesJson
{
    [JsonPropertyName("images")] public List<CocoImageJson>? Images { get; set; }
    [JsonPropertyName("annotations")] public List<CocoAnnotationJson>? Annotations { get; set; }
    [JsonPropertyName("categories")] public List<CocoCategoryJson>? Categories { get; set; }
}

internal sealed class CocoImageJson
{
    [JsonPropertyName("id")] public long? Id { get; set; }
    [JsonPropertyName("file_name")] public string? FileName { get; set; }
    [JsonPropertyName("width")] public int? Width { get; set; }
    [JsonPropertyName("height")] public int? Height { get; set; }
}

internal sealed class CocoAnnotationJson
{
    [JsonPropertyName("id")] public long? Id { get; set; }
    [JsonPropertyName("image_id")] public long? ImageId { get; set; }
    [JsonPropertyName("category_id")] public long? CategoryId { get; set; }
    [JsonPropertyName("bbox")] public double[]? Bbox { get; set; }
    [JsonPropertyName("area")] public double? Area { get; set; }
    [JsonPropertyName("iscrowd")] public int? IsCrowd { get; set; }
}

internal sealed class CocoCategoryJson
{
    [JsonPropertyName("id")] public long? Id { get; set; }
    [JsonPropertyName("name")] public string? Name { get; set; }
}

/// <summary>One detection of a COCO results file (<c>[{image_id, category_id, bbox, score}, ...]</c>).</summary>
internal sealed class CocoResultJson
{
    [JsonPropertyName("image_id")] public long? ImageId { get; set; }
    [JsonPropertyName("category_id")] public long? CategoryId { get; set; }
    [JsonPropertyName("bbox")] public double[]? Bbox { get; set; }
    [JsonPropertyName("score")] public double? Score { get; set; }
}

internal static class CocoJson
{
    private static readonly JsonSerializerOptions Options = new()
    {
        AllowTrailingCommas = false,
        ReadCommentHandling = JsonCommentHandling.Disallow,
        NumberHandling = JsonNumberHandling.Strict,
    };

    /// <summary>Deserializes <paramref name="path"/>, streaming (COCO train files are hundreds of MB).</summary>
    /// <exception cref="FileNotFoundException">The file does not exist.</exception>
    /// <exception cref="InvalidDataException">The file is not valid JSON of the expected shape; the message names
    /// the file, the line and position (1-based) and the JSON path.</exception>
    public static T Read<T>(string path, string what) where T : class
    {
        if (!File.Exists(path))
            throw new FileNotFoundException($"The COCO {what} file '{path}' does not exist.", path);
        try
        {
            using var stream = File.OpenRead(path);
            return JsonSerializer.Deserialize<T>(stream, Options)
                ?? throw new InvalidDataException($"'{path}' holds JSON null instead of a COCO {what} file.");
        }
        catch (JsonException e)
        {
            long line = (e.LineNumber ?? 0) + 1, position = (e.BytePositionInLine ?? 0) + 1;
            throw new InvalidDataException(
                $"'{path}' is not a valid COCO {what} file: JSON error at line {line}, position {position}" +
                (string.IsNullOrEmpty(e.Path) ? "" : $" (JSON path {e.Path})") + $": {FirstSentence(e.Message)} Fix or re-export the file.", e);
        }
    }

    // System.Text.Json appends "Path: ... | LineNumber: ... | BytePositionInLine: ..." (0-based) to its messages;
    // the 1-based figures above replace it. Its type-mismatch message names internal .NET types: say it plainly.
    private static string FirstSentence(string message)
    {
        if (message.StartsWith("The JSON value could not be converted to ", StringComparison.Ordinal))
            return "the value there has the wrong type (a COCO instances file is an object with 'images', 'annotations' and 'categories'; a results file is an array of {image_id, category_id, bbox, score}; ids and sizes are numbers).";
        int cut = message.IndexOf(" Path: ", StringComparison.Ordinal);
        if (cut < 0) cut = message.IndexOf(" LineNumber: ", StringComparison.Ordinal);
        return (cut < 0 ? message : message[..cut]).Trim();
    }
}
