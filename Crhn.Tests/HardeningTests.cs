using Crhn.Core;
using Crhn.Core.Models;
using Microsoft.FSharp.Collections;
using Xunit;

namespace Crhn.Tests;

/// <summary>Model files that refuse bad numbers, training options refused up front, divergence
/// stopped with a clear error, checks that cannot pass on broken weights, saves that clean up.</summary>
public class HardeningTests() : TempFolderTests("crhn-hardening-")
{
    private static readonly Lazy<(CrhnModel Model, ImageBatch Images, byte[] File)> Trained = new(() =>
    {
        var images = ImageBatch.Procedural(seed: 5, count: 8, channels: 3, height: 16, width: 16);
        var model = CrhnModel.Create(new CrhnConfig(Height: 16, Width: 16, ConvLayers: [4, 8], DenseLayers: [64], RhnHidden: [48]), seed: 3);
        model.Fit(images, new CrhnTrainingOptions(CodecEpochs: 3, BatchSize: 4, SraRounds: 10, SraMinRounds: 0));
        using var bytes = new MemoryStream();
        model.Save(bytes);
        return (model, images, bytes.ToArray());
    });

    /// <summary>The saved model's bytes rewritten: its entries and tensors changed, the checksum made anew.</summary>
    private static byte[] Rewrite(Func<List<(string Key, string Value)>, List<(string Key, string Value)>> entries,
        Func<List<(string Name, RawTensor Tensor)>, List<(string Name, RawTensor Tensor)>> tensors)
    {
        var (e, t) = ModelFile.ofBytes(Trained.Value.File);
        var newEntries = entries([.. e.Select(x => (x.Item1, x.Item2))]);
        var newTensors = tensors([.. t.Select(x => (x.Item1, x.Item2))]);
        return ModelFile.toBytes(ListModule.OfSeq(newEntries.Select(x => Tuple.Create(x.Key, x.Value))), ListModule.OfSeq(newTensors.Select(x => Tuple.Create(x.Name, x.Tensor))));
    }

    private static List<(string, string)> Set(List<(string Key, string Value)> entries, string key, string value) =>
        [.. entries.Select(x => x.Key == key ? (x.Key, value) : (x.Key, x.Value))];

    public static TheoryData<string> BadFiles() => [
        "duplicate entry", "duplicate tensor", "NaN weight", "infinite weight", "codes in float64", "range as a number",
        "range unknown", "learning rate NaN", "learning rate negative", "rotations as a number", "overflowing config",
    ];

    [Theory]
    [MemberData(nameof(BadFiles))]
    public void A_model_file_with_bad_contents_is_refused_with_ModelFormatException(string bad)
    {
        List<(string, RawTensor)> Same(List<(string Name, RawTensor Tensor)> t) => [.. t.Select(x => (x.Name, x.Tensor))];
        List<(string, string)> Keep(List<(string Key, string Value)> e) => [.. e.Select(x => (x.Key, x.Value))];
        RawTensor Poisoned(RawTensor t, float value)
        {
            var v = t.ToFloat32Array();
            v[0] = value;
            return Backends.Cpu.OfFloat32(t.Shape, v);
        }
        var bytes = bad switch
        {
            "duplicate entry" => Rewrite(e => [.. e, ("kind", "crhn")], Same),
            "duplicate tensor" => Rewrite(Keep, t => [.. t, t[0]]),
            "NaN weight" => Rewrite(Keep, t => [.. t.Select(x => x.Name == "rhn.weight.0" ? (x.Name, Poisoned(x.Tensor, float.NaN)) : (x.Name, x.Tensor))]),
            "infinite weight" => Rewrite(Keep, t => [.. t.Select(x => x.Name == "codec.kernel.0" ? (x.Name, Poisoned(x.Tensor, float.PositiveInfinity)) : (x.Name, x.Tensor))]),
            "codes in float64" => Rewrite(Keep, t => [.. t.Select(x => x.Name == "memory.codes" ? (x.Name, x.Tensor.Cast(Dtype.Float64)) : (x.Name, x.Tensor))]),
            "range as a number" => Rewrite(e => Set(e, "range", "3"), Same),
            "range unknown" => Rewrite(e => Set(e, "range", "Sideways"), Same),
            "learning rate NaN" => Rewrite(e => Set(e, "learningRate", "NaN"), Same),
            "learning rate negative" => Rewrite(e => Set(e, "learningRate", "-1"), Same),
            "rotations as a number" => Rewrite(e => Set(e, "rotations", "9"), Same),
            _ => Rewrite(e => Set(Set(e, "height", "131072"), "width", "131072"), Same),
        };
        Assert.Throws<ModelFormatException>(() => CrhnModel.Load(new MemoryStream(bytes)));
    }

    [Fact]
    public void Companion_the_unmodified_rewrite_loads()
    {
        var bytes = Rewrite(e => [.. e.Select(x => (x.Key, x.Value))], t => [.. t.Select(x => (x.Name, x.Tensor))]);
        Assert.Equal(Trained.Value.Model.Config, CrhnModel.Load(new MemoryStream(bytes)).Config);
    }

    [Theory]
    [InlineData(double.NaN, SraRotations.Both)]
    [InlineData(-1.0, SraRotations.Both)]
    [InlineData(1e6, SraRotations.Both)]
    [InlineData(3e-3, (SraRotations)9)]
    public void Fit_refuses_options_it_cannot_train_with_before_training(double learningRate, SraRotations rotations)
    {
        var model = CrhnModel.Create(new CrhnConfig(Height: 16, Width: 16, ConvLayers: [4, 8], DenseLayers: [64], RhnHidden: [48]), seed: 3);
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(Trained.Value.Images, new CrhnTrainingOptions(LearningRate: learningRate, Rotations: rotations)));
        Assert.Equal("options", e.ParamName);
        Assert.Equal(0, model.StoredCount);
    }

    [Fact]
    public void Check_refuses_a_non_positive_trial_count()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => Trained.Value.Model.Check(trials: -1));
        Assert.Throws<ArgumentOutOfRangeException>(() => Trained.Value.Model.Check(steps: 0));
    }

    [Fact]
    public void A_model_whose_weights_are_not_finite_never_passes_its_check()
    {
        var (model, _, file) = Trained.Value;
        var broken = CrhnModel.Load(new MemoryStream(file));
        var w = broken.Rhn.Weights[0];
        var v = w.ToFloat32Array();
        v[1] = float.NaN;
        w.CopyInPlace(Backends.Cpu.OfFloat32(w.Shape, v));
        var check = broken.Check(trials: 10, steps: 3);
        Assert.False(check.Passes);
        Assert.Contains(check.Rows, r => r.Check == "every weight finite" && !r.Holds);
        Assert.DoesNotContain(model.Check(trials: 10, steps: 3).Rows, r => r.Check == "every weight finite");
    }

    [Fact]
    public void All_black_images_in_zero_to_one_are_learned_and_recalled()
    {
        // Black is 0 inside a ZeroToOne model, and a codec without biases maps it to a zero
        // pre-activation: its code must still be ±1 (0 → +1), or the decoder sees a zero code,
        // stays at 0.5 everywhere (loss 0.25) while the zero code passes as a fixed point.
        var black = ImageBatch.FromFloats(new float[3 * 16 * 16], 3, 1, 16, 16);
        var model = CrhnModel.Create(new CrhnConfig(Channels: 1, Height: 16, Width: 16, Range: DataRange.ZeroToOne), 1);
        var report = model.Fit(black);
        Assert.True(report.CodecLosses[^1] < 0.01, $"final codec loss {report.CodecLosses[^1]}");
        Assert.True(report.AllStored);
        Assert.True(model.Check(trials: 20, steps: 3).Passes);
        var recalled = model.Retrieve(black).Images.ToArray();
        Assert.True(recalled.Average() < 0.05, $"mean recalled pixel {recalled.Average()}");
    }

    [Fact]
    public void Codec_training_that_diverges_stops_with_a_clear_error()
    {
        var codec = new TiedCodec(new CodecConfig(3, 16, 16, [4], 4, 2, 1, [], Latent.Continuous, OutputMap.Sigmoid, true, false), 1);
        // Finite images so large that the squared error overflows float32: the loss is infinite.
        var x = Tensor.Constant(Backends.Cpu.OfFloat32([4, 3, 16, 16], Rng.uniform32(3, 1e30, 2e30, 4 * 3 * 16 * 16)));
        var e = Assert.Throws<InvalidOperationException>(() => codec.Fit(x, CodecTraining.Plain(5, 2, 1e-3), Microsoft.FSharp.Core.FuncConvert.FromAction<EpochReport>(_ => { }), CancellationToken.None));
        Assert.Contains("training diverged", e.Message);
    }

    [Fact]
    public void Sizes_whose_products_overflow_are_refused_naming_the_parameter()
    {
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => ImageBatch.Procedural(1, 65536, 1, 256, 256)).ParamName);
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => ImageBatch.FromFloats([], 65536, 65536, 65536, 65536)).ParamName);
        Assert.Equal("count", Assert.Throws<ArgumentOutOfRangeException>(() => ImageBatch.Load("fashion-mnist", 1, 3, 30000, 30000)).ParamName);
        Assert.Equal("config", Assert.Throws<ArgumentException>(() => CrhnModel.Create(new CrhnConfig(Height: 131072, Width: 131072), 1)).ParamName);
    }

    public static TheoryData<CrhnConfig> ConfigsCreateRefuses() =>
    [
        new CrhnConfig(Range: (DataRange)7),
        new CrhnConfig(Height: 33, Width: 32),
        new CrhnConfig(Stride: int.MaxValue),
        new CrhnConfig(Padding: 1 << 30),
    ];

    [Theory]
    [MemberData(nameof(ConfigsCreateRefuses))]
    public void Create_refuses_a_config_it_cannot_serve(CrhnConfig config)
    {
        Assert.Equal("config", Assert.Throws<ArgumentException>(() => CrhnModel.Create(config, 1)).ParamName);
    }

    [Fact]
    public void Companion_non_square_images_whose_axes_shrink_alike_are_served()
    {
        var images = ImageBatch.Procedural(seed: 2, count: 4, channels: 3, height: 32, width: 48);
        var model = CrhnModel.Create(new CrhnConfig(Height: 32, Width: 48, ConvLayers: [4, 8], DenseLayers: [64], RhnHidden: [48]), 1);
        model.Fit(images, new CrhnTrainingOptions(CodecEpochs: 2, BatchSize: 4, SraRounds: 2, SraMinRounds: 0));
        var r = model.Retrieve(images);
        Assert.Equal((4, 3, 32, 48), (r.Images.Count, r.Images.Channels, r.Images.Height, r.Images.Width));
    }

    [Fact]
    public void A_save_removes_stale_temporary_files_of_its_target_and_leaves_fresh_ones()
    {
        var path = Path.Combine(Scratch, "model.crhn");
        var stale = Path.Combine(Scratch, $".model.crhn.{Guid.NewGuid():N}.tmp");
        var fresh = Path.Combine(Scratch, $".model.crhn.{Guid.NewGuid():N}.tmp");
        var other = Path.Combine(Scratch, $".other.crhn.{Guid.NewGuid():N}.tmp");
        foreach (var f in new[] { stale, fresh, other }) File.WriteAllBytes(f, [1, 2, 3]);
        File.SetLastWriteTimeUtc(stale, DateTime.UtcNow - ModelFile.StaleAfter - TimeSpan.FromMinutes(1));
        File.SetLastWriteTimeUtc(other, DateTime.UtcNow - TimeSpan.FromDays(1));
        Trained.Value.Model.Save(path);
        Assert.False(File.Exists(stale));
        Assert.True(File.Exists(fresh), "a temporary file a save in progress may own was removed");
        Assert.True(File.Exists(other), "another target's temporary file was removed");
        Assert.True(File.Exists(path));
    }
}
