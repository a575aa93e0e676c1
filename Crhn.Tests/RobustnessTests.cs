using Xunit;
using Xunit.Abstractions;

namespace Crhn.Tests;

/// <summary>The paper's ablation, judged by recall: with 250 stored Fashion-MNIST images and cues that
/// mask half the columns (14 of 28) or add Gaussian noise of σ = 0.5 (on the [0, 1] scale), more cues
/// end on their own stored pattern with the RHN than with the same codec in one pass, in the mean over
/// 3 seeds (default config, 20 codec epochs); the MSEs are reported beside.</summary>
public class RobustnessTests(ITestOutputHelper output)
{
    [Fact]
    public void Crhn_recalls_more_masked_and_noisy_cues_than_the_codec_only_ablation()
    {
        var images = FashionMnistData.LoadOrReport(250, output);
        if (images is null) return;
        var crhnRecall = new Dictionary<string, List<double>>();
        var codecRecall = new Dictionary<string, List<double>>();
        for (int seed = 1; seed <= 3; seed++)
        {
            var model = CrhnModel.Create(new CrhnConfig(Channels: 1, Height: 28, Width: 28), seed);
            var report = model.Fit(images, new CrhnTrainingOptions(CodecEpochs: 20));
            output.WriteLine($"seed {seed}: {report.Summary}");
            foreach (var (name, cue) in new[] { ("mask 14 columns", Degrade.MaskColumns(images, 14)), ("noise 0.5", Degrade.GaussianNoise(images, 0.5, seed)) })
            {
                var crhn = model.Retrieve(cue);
                var codec = model.Retrieve(cue, new RetrievalOptions(UseRhn: false));
                output.WriteLine($"seed {seed}, {name}: recall CRHN {crhn.RecallAccuracy():P0}, codec only {codec.RecallAccuracy():P0}; " +
                    $"MSE cue {Degrade.Mse(cue, images):F4}, CRHN {Degrade.Mse(crhn.Images, images):F4}, codec only {Degrade.Mse(codec.Images, images):F4}");
                (crhnRecall.TryGetValue(name, out var a) ? a : crhnRecall[name] = []).Add(crhn.RecallAccuracy());
                (codecRecall.TryGetValue(name, out var b) ? b : codecRecall[name] = []).Add(codec.RecallAccuracy());
            }
        }
        foreach (var name in crhnRecall.Keys)
        {
            string Line() => $"{name}: recall CRHN {crhnRecall[name].Average():P1}, codec only {codecRecall[name].Average():P1} (mean over 3 seeds)";
            output.WriteLine(Line());
            Assert.True(crhnRecall[name].Average() > codecRecall[name].Average(), Line());
        }
    }
}
