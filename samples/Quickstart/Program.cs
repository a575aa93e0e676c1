// Quickstart: train a tied-weight convolutional autoencoder on built-in procedural images and
// watch its reconstruction error fall. Run: dotnet run --project samples/Quickstart
using Crhn;

Console.WriteLine($"Engine: {Engine.Describe()}");

var images = ImageBatch.Procedural(seed: 7, count: 64, channels: 3, height: 32, width: 32);
var model = TiedAutoencoder.Create(new AutoencoderConfig(), seed: 1);
var options = new AutoencoderTrainingOptions(Epochs: 30, BatchSize: 8, LearningRate: 5e-3);
Console.WriteLine($"Training on {images.Count} images of {images.Channels}×{images.Height}×{images.Width} for {options.Epochs} epochs.");

var started = DateTime.UtcNow;
var losses = model.Fit(images, options, new ConsoleProgress());
Console.WriteLine($"MSE {losses[0]:F5} → {losses[^1]:F5} ({losses[0] / losses[^1]:F1}× lower) in {(DateTime.UtcNow - started).TotalSeconds:F1} s.");

/// <summary>Prints each epoch's loss as it finishes, with a bar to show the curve.</summary>
sealed class ConsoleProgress : IProgress<EpochProgress>
{
    public void Report(EpochProgress p) =>
        Console.WriteLine($"epoch {p.Epoch,3}/{p.Epochs}  loss {p.Loss:F5}  {new string('#', Math.Clamp((int)(p.Loss * 600), 0, 60))}");
}
