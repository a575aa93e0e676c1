using Xunit;

namespace Crhn.Tests;

public class AutoencoderTests
{
    [Fact]
    public void Training_lowers_the_reconstruction_error_at_least_tenfold()
    {
        var images = ImageBatch.Procedural(seed: 7, count: 64, channels: 3, height: 32, width: 32);
        var model = TiedAutoencoder.Create(new AutoencoderConfig(), seed: 1);
        var losses = model.Fit(images, new AutoencoderTrainingOptions(Epochs: 30, BatchSize: 8, LearningRate: 5e-3));
        Assert.Equal(30, losses.Count);
        Assert.True(losses[0] >= 10 * losses[^1], $"MSE fell only from {losses[0]:G4} to {losses[^1]:G4}.");
    }

    [Fact]
    public void Same_seed_gives_the_same_bits()
    {
        var images = ImageBatch.Procedural(seed: 3, count: 8, channels: 3, height: 16, width: 16);
        var config = new AutoencoderConfig(Height: 16, Width: 16);
        var a = TiedAutoencoder.Create(config, seed: 5).Fit(images, new AutoencoderTrainingOptions(Epochs: 2, BatchSize: 4));
        var b = TiedAutoencoder.Create(config, seed: 5).Fit(images, new AutoencoderTrainingOptions(Epochs: 2, BatchSize: 4));
        Assert.Equal(a, b);
    }

    [Fact]
    public void Progress_reports_every_epoch()
    {
        var images = ImageBatch.Procedural(seed: 3, count: 4, channels: 3, height: 16, width: 16);
        var seen = new List<TrainingProgress>();
        TiedAutoencoder.Create(new AutoencoderConfig(Height: 16, Width: 16), seed: 5)
            .Fit(images, new AutoencoderTrainingOptions(Epochs: 3, BatchSize: 4), new ListProgress(seen));
        Assert.Equal([1, 2, 3], seen.Select(p => p.Step));
        Assert.All(seen, p => Assert.Equal((TrainingStage.Autoencoder, 3), (p.Stage, p.Of)));
    }

    [Fact]
    public void Images_of_another_size_are_refused_with_both_sizes_named()
    {
        var model = TiedAutoencoder.Create(new AutoencoderConfig(), seed: 1);
        var wrong = ImageBatch.Procedural(seed: 1, count: 2, channels: 3, height: 16, width: 16);
        var e = Assert.Throws<ArgumentException>(() => model.Loss(wrong));
        Assert.Contains("3×32×32", e.Message);
        Assert.Contains("3×16×16", e.Message);
        Assert.Equal("images", e.ParamName);
    }

    [Theory]
    [InlineData(float.NaN)]
    [InlineData(float.PositiveInfinity)]
    [InlineData(-0.5f)]
    public void Non_finite_or_out_of_range_values_are_refused(float bad)
    {
        var values = new float[3 * 4 * 4];
        values[5] = bad;
        var e = Assert.Throws<ArgumentException>(() => ImageBatch.FromFloats(values, 1, 3, 4, 4));
        Assert.Equal("values", e.ParamName);
    }

    [Fact]
    public void A_stack_that_shrinks_the_image_to_nothing_is_refused()
    {
        var e = Assert.Throws<ArgumentException>(() =>
            TiedAutoencoder.Create(new AutoencoderConfig(Height: 4, Width: 4, Layers: [8, 8, 8, 8]), seed: 1));
        Assert.Contains("4×4", e.Message);
    }

    [Fact]
    public void The_engine_runs_OpenBLAS_exactly_when_it_loads_and_is_not_overridden()
    {
        var setting = Environment.GetEnvironmentVariable("CRHN_BACKEND");
        bool loads = Core.LinearAlgebra.OpenBlas().IsOk;
        string expected = setting?.Trim().ToLowerInvariant() switch
        {
            "managed" => "managed",
            "openblas" => "openblas",
            _ => loads ? "openblas" : "managed",
        };
        Assert.Equal(expected, Engine.ProviderName);
        Assert.StartsWith(expected, Engine.Describe());
    }

    private sealed class ListProgress(List<TrainingProgress> list) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => list.Add(value);
    }
}
