using Xunit;
using Xunit.Abstractions;

namespace Crhn.Tests;

/// <summary>Stored patterns are fixed points: each clean stored image is recalled as its own pattern
/// (its final code is its own stored code) and comes back as the one-pass decode, for 50, 100, 250 and
/// 500 stored images, procedural and Fashion-MNIST, with 40 codec epochs and the default
/// <see cref="CrhnConfig"/> (conv 16, 32; dense 512; RHN 128) up to 100 images, and RHN 384 for 250 and 500.</summary>
public class FixedPointTests(ITestOutputHelper output)
{
    private static readonly CrhnTrainingOptions Options = new(CodecEpochs: 40);

    private static CrhnConfig ConfigFor(int count, CrhnConfig baseConfig) =>
        count <= 100 ? baseConfig : baseConfig with { DenseLayers = [512], RhnHidden = [384] };

    /// <summary>Asserts every clean image is recalled as its own pattern (images whose codes coincide
    /// count as one pattern: the memory cannot tell them apart) and returns exactly its one-pass decode.</summary>
    private static void AssertRecalled(CrhnModel model, ImageBatch images)
    {
        var codes = model.Encode(images);
        var r = model.Retrieve(images);
        var first = codes.Select(c => Array.FindIndex(codes, d => d.SequenceEqual(c))).ToArray();
        Assert.Equal(first, r.Cues.Select(c => c.Recalled ?? -1).ToArray());
        Assert.Equal(model.Decode(codes).ToArray(), r.Images.ToArray());
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
        Assert.True(report.AllStored, $"{count} codes: {report.Summary}");
        AssertRecalled(model, images);
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
        Assert.True(report.AllStored, $"{count} codes: {report.Summary}");
        AssertRecalled(model, images);
    }

    [Fact]
    public void A_missing_or_malformed_idx_file_is_a_clear_error()
    {
        Assert.Throws<FileNotFoundException>(() => ImageBatch.FromIdx("/nonexistent/train-images-idx3-ubyte.gz", 1));
        var path = Path.GetTempFileName();
        try
        {
            File.WriteAllBytes(path, [0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 28, 0, 0, 0, 28, 1, 2, 3]);
            var e = Assert.Throws<Crhn.DataFormatException>(() => ImageBatch.FromIdx(path, 1));
            Assert.Contains("2×28×28", e.Message);
        }
        finally { File.Delete(path); }
    }
}
