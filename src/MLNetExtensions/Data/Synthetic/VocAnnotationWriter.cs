using System.Text;
using System.Xml;

namespace MLNetExtensions.Data.Synthetic;

/// <summary>Writes a scene's annotation in the Pascal VOC XML format (boxes as 1-based inclusive pixel indices).</summary>
internal static class VocAnnotationWriter
{
    private static readonly XmlWriterSettings Settings = new()
    {
        Indent = true,
        OmitXmlDeclaration = true,
        Encoding = new UTF8Encoding(encoderShouldEmitUTF8Identifier: false),
        NewLineChars = "\n",
    };

    public static void Write(string path, string imageFileName, SyntheticScene scene, IReadOnlyList<string> classNames, IReadOnlyList<ShapeKind> shapes)
    {
        using var w = XmlWriter.Create(path, Settings);
        w.WriteStartElement("annotation");
        w.WriteElementString("folder", "SyntheticShapes");
        w.WriteElementString("filename", imageFileName);
        w.WriteStartElement("source");
        w.WriteElementString("database", "MLNetExtensions synthetic shapes");
        w.WriteEndElement();
        w.WriteStartElement("size");
        w.WriteElementString("width", Num(scene.Size));
        w.WriteElementString("height", Num(scene.Size));
        w.WriteElementString("depth", "3");
        w.WriteEndElement();
        w.WriteElementString("segmented", "1");
        foreach (var o in scene.Objects)
        {
            w.WriteStartElement("object");
            w.WriteElementString("name", classNames[IndexOf(shapes, o.Kind)]);
            w.WriteElementString("pose", "Unspecified");
            w.WriteElementString("truncated", "0");
            w.WriteElementString("occluded", o.Occluded ? "1" : "0");
            w.WriteElementString("difficult", o.Difficult ? "1" : "0");
            w.WriteStartElement("bndbox");
            w.WriteElementString("xmin", Num(o.XMin + 1));
            w.WriteElementString("ymin", Num(o.YMin + 1));
            w.WriteElementString("xmax", Num(o.XMax + 1));
            w.WriteElementString("ymax", Num(o.YMax + 1));
            w.WriteEndElement();
            w.WriteEndElement();
        }
        w.WriteEndElement();
    }

    private static int IndexOf(IReadOnlyList<ShapeKind> shapes, ShapeKind kind)
    {
        for (int i = 0; i < shapes.Count; i++)
            if (shapes[i] == kind) return i;
        throw new ArgumentException($"{kind} is not among the dataset's shapes.", nameof(kind));
    }

    private static string Num(int v) => v.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
