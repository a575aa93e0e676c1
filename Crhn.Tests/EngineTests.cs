using Xunit;

namespace Crhn.Tests;

public class EngineTests
{
    [Fact]
    public void A_provider_chosen_in_code_runs_until_its_scope_ends()
    {
        var before = Engine.ProviderName;
        using (Engine.UseProvider("managed"))
        {
            Assert.Equal("managed", Engine.ProviderName);
            Assert.Contains("chosen in code", Engine.Describe());
            var images = ImageBatch.Procedural(seed: 1, count: 4, channels: 3, height: 16, width: 16);
            Assert.Equal(4, Degrade.GaussianNoise(images, 0.1, 2).Count);
        }
        Assert.Equal(before, Engine.ProviderName);
    }

    [Fact]
    public void Companion_a_name_that_is_no_provider_is_refused()
    {
        Assert.Throws<ArgumentException>(() => Engine.UseProvider("gpu"));
    }

    [Fact]
    public void The_pool_limit_is_settable_from_code_and_refuses_a_negative_value()
    {
        var before = Engine.PoolLimitBytes;
        try
        {
            Engine.PoolLimitBytes = 0;
            Assert.Equal(0, Engine.PoolLimitBytes);
            Assert.Throws<ArgumentOutOfRangeException>(() => Engine.PoolLimitBytes = -1);
            Assert.Equal(0, Engine.PoolLimitBytes);
        }
        finally
        {
            Engine.PoolLimitBytes = before;
        }
    }

    [Fact]
    public void What_a_scope_returns_through_the_API_stays_valid_after_it_ends()
    {
        var images = ImageBatch.Procedural(seed: 3, count: 8, channels: 3, height: 16, width: 16);
        var model = TiedAutoencoder.Create(new AutoencoderConfig(Height: 16, Width: 16), seed: 1);
        var outside = model.Reconstruct(images).ToArray();
        ImageBatch inside;
        using (Engine.Scope())
            inside = model.Reconstruct(images);
        // The scope's arrays are back in the pool; work that reuses them must not change the result.
        for (int i = 0; i < 3; i++) model.Reconstruct(Degrade.GaussianNoise(images, 0.5, i));
        Assert.Equal(outside, inside.ToArray());
    }

    [Fact]
    public void Loading_stops_on_a_cancelled_token_and_runs_on_a_live_one()
    {
        using var cancelled = new CancellationTokenSource();
        cancelled.Cancel();
        Assert.ThrowsAny<OperationCanceledException>(() => ImageBatch.Load("procedural", 4, 3, 8, 8, cancelled.Token));
        if (Directory.Exists("/usr/share/backgrounds/mate/nature"))
            Assert.ThrowsAny<OperationCanceledException>(() => ImageBatch.Load("photos", 4, 3, 8, 8, cancelled.Token));
        Assert.Equal(4, ImageBatch.Load("procedural", 4, 3, 8, 8, CancellationToken.None).Count);
    }

    [Fact]
    public void An_image_batch_copies_its_values_out()
    {
        var images = ImageBatch.Procedural(seed: 1, count: 2, channels: 1, height: 4, width: 4);
        var copy = images.ToArray();
        Assert.Equal(images.Values.ToArray(), copy);
        copy[0] = 42f;
        Assert.NotEqual(42f, images.Values[0]);
    }
}
