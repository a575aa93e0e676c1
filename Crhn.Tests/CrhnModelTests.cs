using Xunit;

namespace Crhn.Tests;

public class CrhnModelTests
{
    private static readonly CrhnConfig SmallConfig = new(Height: 16, Width: 16, ConvLayers: [8, 16], DenseLayers: [128], RhnHidden: [96]);

    private static readonly Lazy<(CrhnModel Model, ImageBatch Images, TrainingReport Report)> Trained = new(() =>
    {
        var images = ImageBatch.Procedural(seed: 11, count: 50, channels: 3, height: 16, width: 16);
        var model = CrhnModel.Create(SmallConfig, seed: 1);
        var report = model.Fit(images, new CrhnTrainingOptions(CodecEpochs: 30, BatchSize: 10));
        return (model, images, report);
    });

    [Fact]
    public void Every_stored_image_is_a_fixed_point_with_zero_bit_errors()
    {
        var (model, images, report) = Trained.Value;
        Assert.True(report.AllStored, $"only some codes were stored after {report.SraRounds} SRA rounds");
        var retrieval = model.Retrieve(images);
        Assert.Equal(1.0, retrieval.RecallAccuracy());
        Assert.All(retrieval.Cues, c => Assert.Equal(0, c.Hamming));
        Assert.Equal(model.Decode(model.Encode(images)).Values.ToArray(), retrieval.Images.Values.ToArray());
    }

    [Fact]
    public void Retrieval_keeps_its_trajectory_and_reports_convergence()
    {
        var (model, images, _) = Trained.Value;
        var cues = Degrade.GaussianNoise(images, 0.3, seed: 3);
        var r = model.Retrieve(cues, new RetrievalOptions(MaxSteps: 50));
        Assert.InRange(r.Steps.Count, 1, 51);
        Assert.Equal(model.Encode(cues), r.Steps[0].Codes);
        Assert.All(r.Steps, s => Assert.All(s.Energy, e => Assert.True(double.IsFinite(e))));
        Assert.All(r.Cues, c =>
        {
            Assert.Equal(r.Steps.Count, c.Energies.Count);
            Assert.True(c.Energies.Zip(c.Energies.Skip(1)).All(p => p.Second <= p.First), "a step raised a cue's energy");
            Assert.Equal(c.Recalled is null, c.Hamming > 0);
        });
        Assert.Equal(images.Count, r.Images.Count);
    }

    [Fact]
    public void The_ablation_runs_behind_the_same_interface_without_energies()
    {
        var (model, images, _) = Trained.Value;
        var r = model.Retrieve(images, new RetrievalOptions(MaxSteps: 3, UseRhn: false));
        Assert.Single(r.Steps);
        Assert.All(r.Steps, s => Assert.All(s.Energy, e => Assert.True(double.IsNaN(e))));
    }

    [Fact]
    public void Retrieve_is_safe_from_several_threads_at_once()
    {
        var (model, images, _) = Trained.Value;
        var expected = model.Retrieve(images).Images.Values.ToArray();
        var results = new float[4][];
        Parallel.For(0, 4, i => results[i] = model.Retrieve(images).Images.Values.ToArray());
        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void The_returned_images_are_the_one_pass_decode_of_the_final_codes()
    {
        var (model, images, _) = Trained.Value;
        var r = model.Retrieve(Degrade.GaussianNoise(images, 0.3, seed: 4));
        Assert.Equal(r.Steps[^1].Images.Values.ToArray(), r.Images.Values.ToArray());
        Assert.Equal(model.Decode(r.Steps[^1].Codes).Values.ToArray(), r.Images.Values.ToArray());
    }

    [Fact]
    public void Bad_input_gets_messages_a_user_can_act_on()
    {
        var (model, _, _) = Trained.Value;
        var wrongSize = ImageBatch.Procedural(1, 2, 3, 32, 32);
        var e = Assert.Throws<ArgumentException>(() => model.Retrieve(wrongSize));
        Assert.Contains("3×16×16", e.Message);
        Assert.Contains("3×32×32", e.Message);
        var empty = ImageBatch.FromFloats([], 0, 3, 16, 16);
        Assert.Throws<ArgumentException>(() => model.Retrieve(empty));
        var badCode = new sbyte[128];
        Assert.Throws<ArgumentException>(() => model.Decode([badCode]));
        Assert.Throws<ArgumentException>(() => model.Decode([new sbyte[5]]));
        Assert.Throws<ArgumentException>(() => CrhnModel.Create(SmallConfig with { DenseLayers = [] }, 1));
    }

    [Fact]
    public void A_trained_model_passes_its_own_checks_and_they_survive_save_and_load()
    {
        var (model, _, _) = Trained.Value;
        var check = model.Check(trials: 50, steps: 5);
        Assert.True(check.Passes, $"semi-orthogonality {string.Join(", ", check.SemiOrthogonality)}, expansion {check.MaxExpansion}, rises {check.EnergyRises} (largest {check.LargestRise})");
        var path = Path.Combine(Path.GetTempPath(), $"crhn-check-{Guid.NewGuid():N}.crhn");
        try
        {
            model.Save(path);
            var loaded = CrhnModel.Load(path);
            Assert.Equal(model.StoredCount, loaded.StoredCount);
            Assert.Equal(check.MaxExpansion, loaded.Check(trials: 50, steps: 5).MaxExpansion);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void Checking_an_untrained_model_is_a_clear_error()
    {
        var e = Assert.Throws<InvalidOperationException>(() => CrhnModel.Create(SmallConfig, 1).Check());
        Assert.Contains("Fit", e.Message);
    }
}
