using Crhn.Core.Models;

namespace Crhn;

/// <summary>The layer stack of a tied convolutional autoencoder.</summary>
/// <param name="Channels">Input channels (default 3).</param>
/// <param name="Height">Input rows (default 32).</param>
/// <param name="Width">Input columns (default 32).</param>
/// <param name="Layers">Output channels of each conv layer (default one layer of 32).</param>
/// <param name="Kernel">Square kernel size of every layer (default 4).</param>
/// <param name="Stride">Stride of every layer (default 2).</param>
/// <param name="Padding">Zero padding of every layer (default 1).</param>
public sealed record AutoencoderConfig(
    int Channels = 3, int Height = 32, int Width = 32, IReadOnlyList<int>? Layers = null,
    int Kernel = ConvGeometry.Kernel, int Stride = ConvGeometry.Stride, int Padding = ConvGeometry.Padding)
{
    /// <summary>The conv layers' channels, defaulting to one layer of 32.</summary>
    public IReadOnlyList<int> LayerChannels => Layers ?? [32];
}

/// <summary>How to train an autoencoder.</summary>
/// <param name="Epochs">Passes over the images (default 30).</param>
/// <param name="BatchSize">Images per Adam step (default 16).</param>
/// <param name="LearningRate">Adam's learning rate (default 1e-3; β₁ 0.9, β₂ 0.999, ε 1e-8 as PyTorch).</param>
public sealed record AutoencoderTrainingOptions(int Epochs = 30, int BatchSize = 16, double LearningRate = 1e-3);

/// <summary>
/// A tied-weight convolutional autoencoder: the decoder runs the encoder's own kernels
/// transposed (one parameter per tie, trained by the sum of both gradients); tanh between layers,
/// a sigmoid output in [0, 1]; trained with Adam on the mean squared reconstruction error.
/// </summary>
public sealed class TiedAutoencoder
{
    private readonly TiedCodec _model;

    private TiedAutoencoder(TiedCodec model, AutoencoderConfig config)
    {
        _model = model;
        Config = config;
    }

    /// <summary>The layer stack.</summary>
    public AutoencoderConfig Config { get; }

    internal TiedCodec Codec => _model;

    /// <summary>Creates an untrained autoencoder; the same seed gives the same weights.</summary>
    /// <exception cref="ArgumentException">The stack shrinks the image to nothing, or a size is not positive.</exception>
    public static TiedAutoencoder Create(AutoencoderConfig config, int seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        var model = TiedCodec.Autoencoder(config.Channels, config.Height, config.Width,
            [.. config.LayerChannels], config.Kernel, config.Stride, config.Padding, (ulong)seed);
        return new TiedAutoencoder(model, config);
    }

    /// <summary>Trains on the images and returns each epoch's mean reconstruction loss.</summary>
    /// <exception cref="ArgumentException">The images do not match the config's channels and size.</exception>
    public IReadOnlyList<double> Fit(ImageBatch images, AutoencoderTrainingOptions? options = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(images);
        var o = options ?? new AutoencoderTrainingOptions();
        CheckImages(images);
        var reports = _model.Fit(images.ToTensor(), o.Epochs, o.BatchSize, o.LearningRate,
            Microsoft.FSharp.Core.FuncConvert.FromAction<EpochReport>(r => progress?.Report(new TrainingProgress(TrainingStage.Autoencoder, r.Epoch, o.Epochs, r.Loss))),
            cancellationToken);
        return [.. reports.Select(r => r.Loss)];
    }

    /// <summary>Encodes and decodes the images.</summary>
    public ImageBatch Reconstruct(ImageBatch images)
    {
        ArgumentNullException.ThrowIfNull(images);
        CheckImages(images);
        return ImageBatch.FromTensor(_model.Forward(images.ToTensor()));
    }

    /// <summary>The mean squared reconstruction error over the images.</summary>
    public double Loss(ImageBatch images)
    {
        ArgumentNullException.ThrowIfNull(images);
        CheckImages(images);
        return _model.Loss(images.ToTensor()).ToScalar();
    }

    internal void CheckImages(ImageBatch images)
    {
        if (images.Channels != Config.Channels || images.Height != Config.Height || images.Width != Config.Width)
            throw new ArgumentException(
                $"Expected images of {Config.Channels}×{Config.Height}×{Config.Width}, found {images.Channels}×{images.Height}×{images.Width}.",
                nameof(images));
        if (images.Count == 0)
            throw new ArgumentException("The batch holds no images.", nameof(images));
    }
}
