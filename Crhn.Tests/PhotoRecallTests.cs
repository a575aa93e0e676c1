using Xunit;
using Xunit.Abstractions;

namespace Crhn.Tests;

/// <summary>Recall on natural photographs: 100 textured 96×96 patches of Debian's mate-backgrounds
/// nature photographs, resized to 3×32×32, memorised with the default config and training. CI installs
/// the package and sets CRHN_REQUIRE_PHOTOS=1, where its absence fails; elsewhere the test says so.
/// Thresholds are the acceptance points, at or below the figures measured over three seeds
/// (README, "Recall"): clean 100 %, noise σ = 0.3 100 %, half the columns masked 97 % with the mask
/// given and 96–97 % without.</summary>
public class PhotoRecallTests(ITestOutputHelper output)
{
    [Fact]
    public void Damaged_photo_patches_end_on_their_own_stored_patterns()
    {
        if (!Directory.Exists(Core.Data.Folder.Patches.DefaultFolder))
        {
            var message = $"{Core.Data.Folder.Patches.DefaultFolder} is missing (apt-get install mate-backgrounds): this test checked nothing.";
            Assert.False(Environment.GetEnvironmentVariable("CRHN_REQUIRE_PHOTOS") == "1", message);
            output.WriteLine(message);
            return;
        }
        var images = ImageBatch.Load("photos", 100, 3, 32, 32);
        var model = CrhnModel.Create(new CrhnConfig(), seed: 1000);
        var report = model.Fit(images);
        output.WriteLine(report.Summary);
        Assert.True(report.AllStored, report.Summary);
        var mask = PixelMask.Columns(3, 32, 32, 16);
        var masked = Degrade.MaskColumns(images, 16);
        var cases = new (string Name, ImageBatch Cue, PixelMask? Mask, double Least)[]
        {
            ("clean", images, null, 1.0), ("noise σ = 0.3", Degrade.GaussianNoise(images, 0.3, 7000), null, 0.95),
            ("half masked, mask given", masked, mask, 0.95), ("half masked, no mask", masked, null, 0.5),
        };
        foreach (var (name, cue, unknown, least) in cases)
        {
            var crhn = model.Retrieve(cue, unknown: unknown);
            var codec = model.Retrieve(cue, new RetrievalOptions(UseRhn: false), unknown);
            string line = $"{name}: recall CRHN {crhn.RecallAccuracy():P0}, codec alone {codec.RecallAccuracy():P0}; MSE cue {Degrade.Mse(cue, images):F4}, CRHN {Degrade.Mse(crhn.Images, images):F4}";
            output.WriteLine(line);
            Assert.True(crhn.RecallAccuracy() >= least, line);
            if (unknown is not null) Assert.True(Degrade.Mse(crhn.Images, images) <= 0.02, line);
            if (cue != images) Assert.True(crhn.RecallAccuracy() > codec.RecallAccuracy(), line);
        }
        var completed = model.Retrieve(masked, unknown: mask).Images.ToArray();
        var given = masked.ToArray();
        for (int i = 0; i < given.Length; i++)
            if (i % 32 < 16) Assert.Equal(given[i], completed[i]);
    }
}
