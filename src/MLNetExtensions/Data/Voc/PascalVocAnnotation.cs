using System.Globalization;
using System.Xml;
using System.Xml.Linq;

namespace MLNetExtensions.Data.Voc;

/// <summary>One <c>&lt;object&gt;</c> of a VOC annotation, its box as written: 1-based, inclusive pixel indices.</summary>
internal sealed record PascalVocObject(string Name, bool Difficult, float XMin, float YMin, float XMax, float YMax);

/// <summary>The parts of a VOC annotation file a reader needs. Width and Height are null when <c>&lt;size&gt;</c> is absent or zero.</summary>
internal sealed record PascalVocAnnotation(string? FileName, int? Width, int? Height, IReadOnlyList<PascalVocObject> Objects)
{
    private static readonly XmlReaderSettings Settings = new()
    {
        // Annotations are plain XML; a DTD could expand entities without bound or read other files.
        DtdProcessing = DtdProcessing.Prohibit,
        XmlResolver = null,
        IgnoreComments = true,
    };

    /// <exception cref="InvalidDataException">The file is not a VOC annotation; the message names the file and the problem.</exception>
    public static PascalVocAnnotation Load(string path)
    {
        XDocument doc;
        try
        {
            using var reader = XmlReader.Create(path, Settings);
            doc = XDocument.Load(reader);
        }
        catch (XmlException e)
        {
            throw new InvalidDataException(
                $"'{path}' is not a readable annotation: {e.Message} VOC annotations are plain XML; " +
                "document type declarations (DTDs) and entities are refused. Fix or re-export the file.", e);
        }
        var root = doc.Root!;
        if (root.Name.LocalName != "annotation")
            throw Bad(path, $"the root element is <{root.Name.LocalName}>, not <annotation>");

        int? width = null, height = null;
        if (root.Element("size") is { } size)
        {
            width = OptionalInt(path, size, "width");
            height = OptionalInt(path, size, "height");
            if (width is null or 0 || height is null or 0) width = height = null; // some exports write 0: use the image
        }

        var objects = new List<PascalVocObject>();
        int index = 0;
        foreach (var obj in root.Elements("object"))
        {
            string where = $"object {index}";
            string name = obj.Element("name")?.Value.Trim() ?? "";
            if (name.Length == 0)
                throw Bad(path, $"{where} has no <name>");
            where = $"object {index} ('{name}')";
            var box = obj.Element("bndbox") ?? throw Bad(path, $"{where} has no <bndbox>");
            bool difficult = obj.Element("difficult")?.Value.Trim() switch
            {
                null or "" or "0" => false,
                "1" => true,
                var v => throw Bad(path, $"{where} has <difficult>{v}</difficult>; it must be 0 or 1"),
            };
            objects.Add(new PascalVocObject(name, difficult,
                Coordinate(path, where, box, "xmin"), Coordinate(path, where, box, "ymin"),
                Coordinate(path, where, box, "xmax"), Coordinate(path, where, box, "ymax")));
            index++;
        }
        return new PascalVocAnnotation(root.Element("filename")?.Value.Trim(), width, height, objects);
    }

    private static float Coordinate(string path, string where, XElement box, string name)
    {
        var text = box.Element(name)?.Value.Trim()
            ?? throw Bad(path, $"{where} has no <bndbox><{name}>");
        if (!float.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !float.IsFinite(value))
            throw Bad(path, $"{where} has <{name}>{text}</{name}>, which is not a number");
        return value;
    }

    private static int? OptionalInt(string path, XElement parent, string name)
    {
        var text = parent.Element(name)?.Value.Trim();
        if (string.IsNullOrEmpty(text)) return null;
        // Some tools write sizes as "500.0".
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < 0 || value != Math.Floor(value) || value > int.MaxValue)
            throw Bad(path, $"<size><{name}>{text}</{name}> is not a whole number of pixels");
        return (int)value;
    }

    private static InvalidDataException Bad(string path, string problem)
        => new($"'{path}' is not a valid VOC annotation: {problem}. Fix or re-export the file.");
}
