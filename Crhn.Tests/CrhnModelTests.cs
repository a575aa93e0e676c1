using Xunit;

namespace Crhn.Tests;

public class CrhnModelTests
{
    private static readonly CrhnConfig SmallConfig = new(Height: 16, Width: 16, ConvLayers: [8, 16], DenseLayers: [128], RhnHidden: [64]);

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
        Assert.Equal(model.Decode(model.Encode(images)).ToArray(), retrieval.Images.ToArray());
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
        var expected = model.Retrieve(images).Images.ToArray();
        var results = new float[4][];
        Parallel.For(0, 4, i => results[i] = model.Retrieve(images).Images.ToArray());
        Assert.All(results, r => Assert.Equal(expected, r));
    }

    [Fact]
    public void The_returned_images_are_the_one_pass_decode_of_the_final_codes_or_of_the_cue_where_it_settled_on_no_stored_pattern()
    {
        var (model, images, _) = Trained.Value;
        var r = model.Retrieve(Degrade.GaussianNoise(images, 0.3, seed: 4));
        int d = images.Channels * images.Height * images.Width;
        var decoded = new[] { model.Decode(r.Steps[0].Codes), model.Decode(r.Steps[^1].Codes) };
        for (int i = 0; i < images.Count; i++)
        {
            // A cue that settled on a stored pattern returns the decode of its final code; one that
            // settled on none returns its own one-pass decode (step 0).
            var step = r.Cues[i].Recalled is null ? r.Steps[0] : r.Steps[^1];
            if (r.Cues[i].Recalled is null) Assert.Equal(0, r.Cues[i].ReturnedStep);
            Assert.Equal(step.Images.Values.Slice(i * d, d).ToArray(), r.Images.Values.Slice(i * d, d).ToArray());
            Assert.Equal(decoded[r.Cues[i].Recalled is null ? 0 : 1].Values.Slice(i * d, d).ToArray(), r.Images.Values.Slice(i * d, d).ToArray());
        }
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
        Assert.True(check.Passes, string.Join("; ", check.Rows.Select(r => $"{r.Check}: {r.Measured} ({r.Bound})")));
        var path = Path.Combine(Path.GetTempPath(), $"crhn-check-{Guid.NewGuid():N}.crhn");
        try
        {
            model.Save(path);
            var loaded = CrhnModel.Load(path);
            Assert.Equal(model.StoredCount, loaded.StoredCount);
            Assert.Equal(check.Rows, loaded.Check(trials: 50, steps: 5).Rows);
        }
        finally { File.Delete(path); }
    }

    [Fact]
    public void An_honest_two_hidden_layer_model_passes_every_check_and_with_its_weight_columns_reversed_fails_the_fixed_point_and_recall_rows()
    {
        var images = ImageBatch.Procedural(seed: 11, count: 50, channels: 3, height: 16, width: 16);
        var model = CrhnModel.Create(SmallConfig with { RhnHidden = [96, 64] }, seed: 1);
        model.Fit(images, new CrhnTrainingOptions(CodecEpochs: 30, BatchSize: 10));
        var honest = model.Check(trials: 50, steps: 5);
        Assert.True(honest.Passes, string.Join("; ", honest.Rows.Select(r => $"{r.Check}: {r.Measured} ({r.Bound})")));

        // Reversing the column order keeps W semi-orthogonal and non-expansive, but not the memory.
        var w = model.Rhn.Weights[0];
        int rows = w.Shape[0], cols = w.Shape[1];
        var v = w.ToFloat64Array();
        w.CopyInPlace(w.CreateLike([rows, cols], [.. Enumerable.Range(0, v.Length).Select(i => v[i / cols * cols + (cols - 1 - i % cols)])]));
        var broken = model.Check(trials: 50, steps: 5);
        Assert.False(broken.Passes);
        Assert.True(broken.Rows.Where(r => r.Check.StartsWith("layer") || r.Check.StartsWith("non-expansive")).All(r => r.Holds));
        Assert.False(broken.Rows.Single(r => r.Check == "stored codes that are fixed points").Holds);
    }

    [Fact]
    public void Checking_an_untrained_model_is_a_clear_error()
    {
        var e = Assert.Throws<InvalidOperationException>(() => CrhnModel.Create(SmallConfig, 1).Check());
        Assert.Contains("Fit", e.Message);
    }
}
