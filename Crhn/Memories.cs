using Crhn.Core;
using Crhn.Core.Models;

namespace Crhn;

/// <summary>Which pixels of a cue are unknown (1) and which are known (0): one value per pixel of
/// one image (C×H×W), shared by every cue of a batch. Memories that can clamp what is known (the
/// predictive-coding network) use it; the others read the cue as it is.</summary>
public sealed class PixelMask
{
    private readonly float[] _unknown;

    private PixelMask(float[] unknown, int channels, int height, int width)
    {
        _unknown = unknown;
        Channels = channels;
        Height = height;
        Width = width;
    }

    /// <summary>Channels of the images the mask is for.</summary>
    public int Channels { get; }

    /// <summary>Rows of the images the mask is for.</summary>
    public int Height { get; }

    /// <summary>Columns of the images the mask is for.</summary>
    public int Width { get; }

    /// <summary>1 where a pixel is unknown, C×H×W row-major.</summary>
    public ReadOnlySpan<float> Unknown => _unknown;

    /// <summary>The rightmost <paramref name="columns"/> columns unknown, as <see cref="Degrade.MaskColumns"/> hides them.</summary>
    public static PixelMask Columns(int channels, int height, int width, int columns)
    {
        if (columns < 0 || columns > width)
            throw new ArgumentOutOfRangeException(nameof(columns), columns, $"Expected 0 to {width} masked columns.");
        var ones = Enumerable.Repeat(1f, channels * height * width).ToArray();
        var known = Core.Degradations.maskColumns([1, channels, height, width], ones, columns, 0f);
        return new PixelMask([.. known.Select(v => 1f - v)], channels, height, width);
    }

    /// <summary>Every pixel unknown (a noisy or attacked cue: nothing can be trusted as it is).</summary>
    public static PixelMask All(int channels, int height, int width) =>
        new(Enumerable.Repeat(1f, channels * height * width).ToArray(), channels, height, width);

    internal RawTensor ToTensor(ImageBatch cues)
    {
        if (cues.Channels != Channels || cues.Height != Height || cues.Width != Width)
            throw new ArgumentException($"The mask is for {Channels}×{Height}×{Width} images; the cues are {cues.Channels}×{cues.Height}×{cues.Width}.", nameof(cues));
        return Backends.Current().OfFloat32([1, _unknown.Length], _unknown);
    }
}

/// <summary>An auto-associative memory: given damaged cues, it returns the stored images it
/// recalls. CRHN, its codec-only ablation and both baselines answer through this one interface.</summary>
public interface IAssociativeMemory
{
    /// <summary>The name tables and pictures use.</summary>
    string Name { get; }

    /// <summary>Recalls from the cues; <paramref name="unknown"/> says which pixels are unknown where
    /// the memory can use it (null: every pixel is suspect).</summary>
    ImageBatch Recall(ImageBatch cues, PixelMask? unknown = null);
}

/// <summary>How a Modern Hopfield memory retrieves (hopfield-layers' pure associative-memory defaults).</summary>
/// <param name="Beta">Inverse temperature (default 1/√d).</param>
/// <param name="MaxUpdates">Updates at most (default 1, as hopfield-layers).</param>
/// <param name="Tolerance">Stop early when no association row changes by more than this (L2; default 1e-4).</param>
/// <param name="Range">The value range the patterns are stored in (default [−1, 1], as the CRHN's).</param>
public sealed record HopfieldOptions(double? Beta = null, int MaxUpdates = 1, double Tolerance = 1e-4, DataRange Range = DataRange.MinusOneToOne);

/// <summary>The Modern Hopfield network (Ramsauer et al.) in pixel space: ξ ← X softmax(β Xᵀξ) over
/// the stored images X.</summary>
public sealed class ModernHopfieldMemory : IAssociativeMemory
{
    private readonly ModernHopfield _network;
    private readonly HopfieldOptions _options;
    private readonly int _channels, _height, _width;

    private ModernHopfieldMemory(ModernHopfield network, HopfieldOptions options, int channels, int height, int width)
    {
        _network = network;
        _options = options;
        (_channels, _height, _width) = (channels, height, width);
    }

    /// <inheritdoc/>
    public string Name => "MHN";

    /// <summary>Stores the images (one pattern per image, flattened).</summary>
    /// <exception cref="ArgumentException">There are no images.</exception>
    public static ModernHopfieldMemory Store(ImageBatch images, HopfieldOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Count == 0) throw new ArgumentException("There are no images to store.", nameof(images));
        var o = options ?? new HopfieldOptions();
        return new ModernHopfieldMemory(new ModernHopfield(Flat(images, o.Range)), o, images.Channels, images.Height, images.Width);
    }

    /// <summary>The energy of each cue's state under this memory (lower is closer to a stored pattern).</summary>
    public double[] Energy(ImageBatch states)
    {
        Check(states);
        return _network.Energy(Flat(states, _options.Range), _options.Beta ?? ModernHopfield.DefaultBeta(_network.Dimension));
    }

    /// <inheritdoc/>
    public ImageBatch Recall(ImageBatch cues, PixelMask? unknown = null)
    {
        Check(cues);
        var r = _network.Retrieve(Flat(cues, _options.Range), _options.Beta ?? ModernHopfield.DefaultBeta(_network.Dimension), _options.MaxUpdates, _options.Tolerance);
        return Unflat(r.States, _options.Range, cues.Count, _channels, _height, _width);
    }

    private void Check(ImageBatch cues) => ImageBatch.Require(cues, _channels, _height, _width, "cues", nameof(cues));

    internal static RawTensor Flat(ImageBatch images, DataRange range)
    {
        var t = Backends.Current().OfFloat32([images.Count, images.Channels * images.Height * images.Width], images.Values.ToArray());
        return range == DataRange.MinusOneToOne ? t.MulScalar(2.0).AddScalar(-1.0) : t;
    }

    internal static ImageBatch Unflat(RawTensor values, DataRange range, int count, int channels, int height, int width)
    {
        var v = range == DataRange.MinusOneToOne ? values.AddScalar(1.0).MulScalar(0.5) : values;
        return ImageBatch.FromModelValues(v.Clamp(0.0, 1.0).ToFloat32Array(), count, channels, height, width);
    }
}

/// <summary>How a predictive-coding memory learns and recalls (defaults: C16Mftang/covariance-learning-PCNs'
/// scripts/hybridPCNs.py with one hidden layer of 256).</summary>
/// <param name="Hidden">Hidden widths, top first (default 256).</param>
/// <param name="InferenceSteps">Inference iterations in learning and recall (default 50).</param>
/// <param name="InferenceRate">Inference step Dt (default 0.01).</param>
/// <param name="LearningRate">Adam's learning rate (default 5e-4).</param>
/// <param name="Epochs">Training epochs (default 200).</param>
/// <param name="BatchesPerEpoch">Batches per epoch (default 8: the reference's batch of memory size / 8).</param>
/// <param name="Range">The value range the network works in (default [−1, 1], as the CRHN's).</param>
public sealed record PredictiveCodingOptions(
    IReadOnlyList<int>? Hidden = null, int InferenceSteps = 50, double InferenceRate = 0.01, double LearningRate = 5e-4,
    int Epochs = 200, int BatchesPerEpoch = 8, DataRange Range = DataRange.MinusOneToOne);

/// <summary>The hierarchical generative predictive-coding network (Salvatori et al. 2021): learns
/// the stored images as its generative model; recall relaxes the unknown (or every) pixel of a cue.</summary>
public sealed class PredictiveCodingMemory : IAssociativeMemory
{
    private readonly PredictiveCodingNetwork _network;
    private readonly PredictiveCodingOptions _options;
    private readonly int _channels, _height, _width;

    private PredictiveCodingMemory(PredictiveCodingNetwork network, PredictiveCodingOptions options, int channels, int height, int width)
    {
        _network = network;
        _options = options;
        (_channels, _height, _width) = (channels, height, width);
    }

    /// <inheritdoc/>
    public string Name => "PCN";

    /// <summary>An untrained network for images of the given size; the same seed gives the same weights.</summary>
    public static PredictiveCodingMemory Create(int channels, int height, int width, PredictiveCodingOptions? options = null, int seed = 0)
    {
        var o = options ?? new PredictiveCodingOptions();
        if (channels <= 0 || height <= 0 || width <= 0)
            throw new ArgumentException($"Expected a positive image size, found {channels}×{height}×{width}.", nameof(channels));
        var settings = new PcnSettings([.. o.Hidden ?? [256]], o.InferenceSteps, o.InferenceRate, o.LearningRate, o.Epochs, o.BatchesPerEpoch, PcnSettings.Reference.MemoryInitStd);
        return new PredictiveCodingMemory(new PredictiveCodingNetwork(channels * height * width, settings, (ulong)seed), o, channels, height, width);
    }

    /// <summary>Learns the images; reports each epoch's energy.</summary>
    public void Fit(ImageBatch images, IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        Check(images);
        _network.Fit(ModernHopfieldMemory.Flat(images, _options.Range),
            Microsoft.FSharp.Core.FuncConvert.FromAction<EpochReport>(r => progress?.Report(new TrainingProgress(TrainingStage.PredictiveCoding, r.Epoch, _options.Epochs, r.Loss))),
            cancellationToken);
    }

    /// <inheritdoc/>
    public ImageBatch Recall(ImageBatch cues, PixelMask? unknown = null)
    {
        Check(cues);
        var mask = (unknown ?? PixelMask.All(_channels, _height, _width)).ToTensor(cues);
        var r = _network.Recall(ModernHopfieldMemory.Flat(cues, _options.Range), mask);
        return ModernHopfieldMemory.Unflat(r, _options.Range, cues.Count, _channels, _height, _width);
    }

    private void Check(ImageBatch images) => ImageBatch.Require(images, _channels, _height, _width, "images", nameof(images));
}
