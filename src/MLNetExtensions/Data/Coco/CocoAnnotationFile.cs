namespace MLNetExtensions.Data.Coco;

/// <summary>One image of a COCO instances file.</summary>
internal sealed record CocoImage(long Id, string FileName, int Width, int Height);

/// <summary>
/// A COCO instances file with its categories and images checked: ids unique, names present. Class names are the
/// category names in ascending id order, so label key <c>k</c> is the <c>k</c>-th smallest category id.
/// </summary>
internal sealed class CocoAnnotationFile
{
    private CocoAnnotationFile(string path, string[] classNames, Dictionary<long, int> classIndexById,
        CocoImage[] images, Dictionary<long, int> imageIndexById, List<CocoAnnotationJson> annotations)
    {
        Path = path;
        ClassNames = classNames;
        ClassIndexByCategoryId = classIndexById;
        Images = images;
        ImageIndexById = imageIndexById;
        Annotations = annotations;
    }

    public string Path { get; }
    public string[] ClassNames { get; }
    /// <summary>Category id → 0-based class index.</summary>
    public IReadOnlyDictionary<long, int> ClassIndexByCategoryId { get; }
    public CocoImage[] Images { get; }
    /// <summary>Image id → index in <see cref="Images"/> (the file's order).</summary>
    public IReadOnlyDictionary<long, int> ImageIndexById { get; }
    public List<CocoAnnotationJson> Annotations { get; }

    /// <exception cref="InvalidDataException">The file is malformed or breaks COCO's rules; the message says where.</exception>
    public static CocoAnnotationFile Load(string path)
    {
        var json = CocoJson.Read<CocoInstancesJson>(path, "instances");
        if (json.Categories == null || json.Categories.Count == 0)
            throw new InvalidDataException($"'{path}' has no 'categories': a COCO instances file lists its classes there.");
        if (json.Images == null)
            throw new InvalidDataException($"'{path}' has no 'images' list: a COCO instances file lists its images there.");

        var categories = new List<(long Id, string Name)>();
        var namesSeen = new Dictionary<string, long>(StringComparer.Ordinal);
        var idsSeen = new HashSet<long>();
        for (int i = 0; i < json.Categories.Count; i++)
        {
            var c = json.Categories[i] ?? throw new InvalidDataException($"'{path}': categories[{i}] is null.");
            if (c.Id is not long id)
                throw new InvalidDataException($"'{path}': categories[{i}] has no 'id'.");
            if (string.IsNullOrWhiteSpace(c.Name))
                throw new InvalidDataException($"'{path}': category id {id} (categories[{i}]) has no 'name'.");
            if (!idsSeen.Add(id))
                throw new InvalidDataException($"'{path}': category id {id} appears twice in 'categories'.");
            if (!namesSeen.TryAdd(c.Name, id))
                throw new InvalidDataException($"'{path}': categories {namesSeen[c.Name]} and {id} are both named '{c.Name}'; class names must be unique.");
            categories.Add((id, c.Name));
        }
        categories.Sort((a, b) => a.Id.CompareTo(b.Id));
        var classIndex = new Dictionary<long, int>();
        for (int k = 0; k < categories.Count; k++)
            classIndex[categories[k].Id] = k;

        var images = new CocoImage[json.Images.Count];
        var imageIndex = new Dictionary<long, int>();
        for (int i = 0; i < images.Length; i++)
        {
            var im = json.Images[i] ?? throw new InvalidDataException($"'{path}': images[{i}] is null.");
            if (im.Id is not long id)
                throw new InvalidDataException($"'{path}': images[{i}] has no 'id'.");
            if (string.IsNullOrEmpty(im.FileName))
                throw new InvalidDataException($"'{path}': image id {id} (images[{i}]) has no 'file_name'.");
            if (im.Width is not > 0 || im.Height is not > 0)
                throw new InvalidDataException($"'{path}': image id {id} ('{im.FileName}') needs a positive 'width' and 'height', but has {Show(im.Width)}×{Show(im.Height)}.");
            if (!imageIndex.TryAdd(id, i))
                throw new InvalidDataException($"'{path}': image id {id} appears twice in 'images' (images[{imageIndex[id]}] and images[{i}]).");
            images[i] = new CocoImage(id, im.FileName, im.Width.Value, im.Height.Value);
        }
        return new CocoAnnotationFile(path, categories.Select(c => c.Name).ToArray(), classIndex, images, imageIndex,
            json.Annotations ?? []);
    }

    private static string Show(int? v) => v?.ToString() ?? "none";
}
