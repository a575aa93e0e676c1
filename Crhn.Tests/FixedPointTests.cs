using Xunit;
using Xunit.Abstractions;

namespace Crhn.Tests;

/// <summary>Stored patterns are fixed points: retrieving each clean stored image returns exactly its own
/// binary code, for 50, 100, 250 and 500 stored images, procedural and Fashion-MNIST, with 5 codec
/// epochs and the default <see cref="CrhnConfig"/> (conv 16, 32; dense 256; RHN 128) up to 100
/// images, and dense 512 with RHN 384 for 250 and 500 (a 128-wide RHN does not reliably hold more
/// codes from a briefly trained codec).</summary>
public class FixedPointTests(ITestOutputHelper output)
{
    private static readonly CrhnTrainingOptions Options = new(CodecEpochs: 5);

    private static CrhnConfig ConfigFor(int count, CrhnConfig baseConfig) =>
        count <= 100 ? baseConfig : baseConfig with { DenseLayers = [512], RhnHidden = [384] };

    private static int BitErrors(CrhnModel model, ImageBatch images)
    {
        var codes = model.Encode(images);
        var recalled = model.Retrieve(images, new RetrievalOptions(MaxSteps: 1)).Steps[0].Codes;
        return codes.Zip(recalled).Sum(p => p.First.Zip(p.Second).Count(b => b.First != b.Second));
    }

    [Theory]
    [InlineData(50)]
    [InlineData(100)]
    [InlineData(250)]
    [InlineData(500)]
    public void Procedural_images_are_stored_with_zero_bit_errors(int count)
    {
        var images = ImageBatch.Procedural(seed: 7, count: count, channels: 3, height: 32, width: 32);
        var model = CrhnModel.Create(ConfigFor(count, new CrhnConfig()), seed: 1);
        var report = model.Fit(images, Options);
        Assert.True(report.AllStored, $"{count} codes: not all fixed after {report.SraRounds} rounds");
        Assert.Equal(0, BitErrors(model, images));
    }

    [Theory]
    [InlineData(50)]
    [InlineData(100)]
    [InlineData(250)]
    [InlineData(500)]
    public void Fashion_mnist_images_are_stored_with_zero_bit_errors(int count)
    {
        var images = FashionMnistData.LoadOrReport(count, output);
        if (images is null) return;
        var model = CrhnModel.Create(ConfigFor(count, new CrhnConfig(Channels: 1, Height: 28, Width: 28)), seed: 1);
        var report = model.Fit(images, Options);
        Assert.True(report.AllStored, $"{count} codes: not all fixed after {report.SraRounds} rounds");
        Assert.Equal(0, BitErrors(model, images));
    }

    [Fact]
    public void A_missing_or_malformed_idx_file_is_a_clear_error()
    {
        Assert.Throws<FileNotFoundException>(() => ImageBatch.FromIdx("/nonexistent/train-images-idx3-ubyte.gz", 1));
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]);
            var e = Assert.Throws<Crhn.Core.Data.DataFormatException>(() => ImageBatch.FromIdx(path, 1));
            Assert.Contains("2×28×28", e.Message);
        }
        finally { File.Delete(path); }
    }
}
