using MLNetExtensions.Data;

namespace MLNetExtensions.Tests.Data;

[TestClass]
public sealed class ImageHeaderTests
{
    [TestMethod]
    [DataRow("23x17.png")]
    [DataRow("23x17.jpg")]
    [DataRow("23x17_progressive_exif.jpg")]
    [DataRow("23x17.gif")]
    [DataRow("23x17.bmp")]
    public void ReadsTheSizeFromTheHeader(string file)
    {
        var path = TempFolder.Fixture("ImageHeaders/" + file);
        var head = File.ReadAllBytes(path);
        Assert.IsTrue(ImageHeader.TryParse(head, out var size), "parsed from the header, without decoding");
        Assert.AreEqual((23, 17), size);
        Assert.AreEqual((23, 17), ImageHeader.ReadSize(path));
    }

    [TestMethod]
    public void UnreadableFileIsAnErrorNamingIt()
    {
        using var dir = new TempFolder();
        File.WriteAllText(dir["x.jpg"], "not an image");
        var e = Assert.ThrowsExactly<InvalidDataException>(() => ImageHeader.ReadSize(dir["x.jpg"]));
        StringAssert.StartsWith(e.Message, $"'{dir["x.jpg"]}' could not be read as an image (");
    }
}
