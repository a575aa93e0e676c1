namespace Crhn;

/// <summary>Damage for cues: each returns new images in [0, 1], deterministic for its seed.</summary>
public static class Degrade
{
    /// <summary>Occludes the rightmost <paramref name="columns"/> columns with black (0).</summary>
    public static ImageBatch MaskColumns(ImageBatch images, int columns)
    {
        ArgumentNullException.ThrowIfNull(images);
        var v = Core.Degradations.maskColumns([images.Count, images.Channels, images.Height, images.Width], images.Values.ToArray(), columns, 0f);
        return ImageBatch.FromModelValues(v, images.Count, images.Channels, images.Height, images.Width);
    }

    /// <summary>Adds Gaussian noise of standard deviation <paramref name="sigma"/>, clipped to [0, 1].
    /// <paramref name="sigma"/> is on the [0, 1] scale: σ = 0.5 on the paper's [−1, 1] scale is 0.25 here.</summary>
    public static ImageBatch GaussianNoise(ImageBatch images, double sigma, int seed)
    {
        ArgumentNullException.ThrowIfNull(images);
        var v = Core.Degradations.gaussianNoise(images.Values.ToArray(), sigma, (ulong)seed, 0f, 1f);
        return ImageBatch.FromModelValues(v, images.Count, images.Channels, images.Height, images.Width);
    }

    /// <summary>Adds <paramref name="beta"/> to every value (a brightness shift), clipped to [0, 1].</summary>
    public static ImageBatch Brightness(ImageBatch images, double beta)
    {
        ArgumentNullException.ThrowIfNull(images);
        var v = Core.Degradations.brightness(images.Values.ToArray(), beta, 0f, 1f);
        return ImageBatch.FromModelValues(v, images.Count, images.Channels, images.Height, images.Width);
    }

    /// <summary>Scales each image's deviation from its own mean by <paramref name="alpha"/>: (x − μ)α + μ, clipped to [0, 1].</summary>
    public static ImageBatch Contrast(ImageBatch images, double alpha)
    {
        ArgumentNullException.ThrowIfNull(images);
        var v = Core.Degradations.contrast([images.Count, images.Channels, images.Height, images.Width], images.Values.ToArray(), alpha, 0f, 1f);
        return ImageBatch.FromModelValues(v, images.Count, images.Channels, images.Height, images.Width);
    }

    /// <summary>The mean squared error between two batches of the same shape (on the [0, 1] scale).</summary>
    public static double Mse(ImageBatch a, ImageBatch b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        if (a.Count != b.Count || a.Channels != b.Channels || a.Height != b.Height || a.Width != b.Width)
            throw new ArgumentException($"Expected batches of one shape, found {a.Count}×{a.Channels}×{a.Height}×{a.Width} and {b.Count}×{b.Channels}×{b.Height}×{b.Width}.", nameof(b));
        double sum = 0;
        var x = a.Values;
        var y = b.Values;
        for (int i = 0; i < x.Length; i++) sum += (x[i] - y[i]) * (double)(x[i] - y[i]);
        return sum / x.Length;
    }

    /// <summary>The share of <paramref name="outputs"/> whose nearest image of <paramref name="stored"/>
    /// (by squared distance) is the one at the same index: how often a memory's output, or a damaged cue
    /// itself, identifies its own stored image.</summary>
    /// <exception cref="ArgumentException">The batches differ in shape.</exception>
    public static double NearestRecall(ImageBatch outputs, ImageBatch stored)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(stored);
        if (outputs.Count != stored.Count || outputs.Channels != stored.Channels || outputs.Height != stored.Height || outputs.Width != stored.Width)
            throw new ArgumentException($"Expected batches of one shape, found {outputs.Count}×{outputs.Channels}×{outputs.Height}×{outputs.Width} and {stored.Count}×{stored.Channels}×{stored.Height}×{stored.Width}.", nameof(stored));
        int n = stored.Count, d = stored.Channels * stored.Height * stored.Width;
        var x = Core.Backends.Current().OfFloat32([n, d], outputs.Values.ToArray());
        var s = Core.Backends.Current().OfFloat32([n, d], stored.Values.ToArray());
        var dots = x.MatMul(false, true, s).ToFloat64Array();
        var norms = s.Binary(Core.BinaryOp.Mul, s).ToFloat64Array();
        var sq = Enumerable.Range(0, n).Select(j => norms.Skip(j * d).Take(d).Sum()).ToArray();
        int hits = 0;
        for (int i = 0; i < n; i++)
        {
            int best = 0;
            for (int j = 1; j < n; j++)
                if (sq[j] - 2 * dots[i * n + j] < sq[best] - 2 * dots[i * n + best]) best = j;
            if (best == i) hits++;
        }
        return hits / (double)n;
    }
}
