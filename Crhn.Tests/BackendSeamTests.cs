using Crhn.Properties;
using Xunit;

namespace Crhn.Tests;

/// <summary>The backend seam: everything the facade does creates its tensors through the backend
/// factory, shown on a strict stand-in backend that refuses operands of any other backend.</summary>
public class BackendSeamTests
{
    static BackendSeamTests() => StandIn.Register();

    /// <summary>Everything a user runs, small: CRHN fit, retrieve, check, save and load; the four
    /// attacks on a surrogate; PCN and MHN; the iterative classifier. Returns every number it saw.</summary>
    private static List<double[]> Workload()
    {
        var seen = new List<double[]>();
        void See(IEnumerable<float> values) => seen.Add(values.Select(v => (double)v).ToArray());
        var images = ImageBatch.Procedural(seed: 5, count: 10, channels: 3, height: 16, width: 16);
        var cues = Degrade.GaussianNoise(images, 0.2, 1);

        var model = CrhnModel.Create(new CrhnConfig(Height: 16, Width: 16, ConvLayers: [8, 16], DenseLayers: [96], RhnHidden: [64]), seed: 2);
        var report = model.Fit(images, new CrhnTrainingOptions(CodecEpochs: 3, BatchSize: 5, SraRounds: 4, SraMinRounds: 1));
        seen.Add([.. report.CodecLosses, report.SraRounds, report.Stored]);
        var retrieved = model.Retrieve(cues);
        See(retrieved.Images.ToArray());
        seen.Add(retrieved.Cues.SelectMany(c => c.Energies).ToArray());
        var check = model.Check(trials: 10, steps: 3);
        seen.Add(check.Rows.Select(r => (double)r.Measured.GetHashCode(StringComparison.Ordinal)).ToArray());
        using var file = new MemoryStream();
        model.Save(file);
        file.Position = 0;
        See(CrhnModel.Load(file).Retrieve(cues).Images.ToArray());

        var surrogate = TiedAutoencoder.Create(new AutoencoderConfig(3, 16, 16), 4);
        seen.Add([.. surrogate.Fit(images, new AutoencoderTrainingOptions(Epochs: 2))]);
        foreach (var attack in Enum.GetValues<Attack>())
            See(Adversary.Run(surrogate, images, attack, new AttackOptions(Eps: 0.05, Steps: 3, Seed: 1)).ToArray());

        var pcn = PredictiveCodingMemory.Create(3, 16, 16, new PredictiveCodingOptions(Hidden: [32], Epochs: 2), seed: 3);
        pcn.Fit(images);
        See(pcn.Recall(cues).ToArray());
        See(ModernHopfieldMemory.Store(images).Recall(cues).ToArray());

        var labels = Enumerable.Range(0, images.Count).Select(i => i % 3).ToArray();
        var classifier = IterativeClassifier.Create(3, 16, 16, 3, new IterativeClassifierOptions(Steps: 2, Hidden: 16, Regulariser: new RegulariserOptions(RegulariserKind.JacQ)), seed: 3);
        seen.Add(classifier.Fit(new LabelledImages(images, labels), new IterativeTrainingOptions(Epochs: 3, BatchSize: 5)).Select(e => e.Loss).ToArray());
        seen.Add(classifier.Predict(cues).Select(p => (double)p).ToArray());
        seen.Add(classifier.EnergyTrace(cues).SelectMany(e => e).ToArray());
        return seen;
    }

    [Fact]
    public void Every_model_runs_on_a_stand_in_backend_that_refuses_foreign_operands_bit_for_bit()
    {
        var onCpu = Workload();
        long before = StandInTensor.Created;
        List<double[]> onStandIn;
        using (Engine.UseBackend("standin"))
        {
            Assert.Equal("standin", Engine.BackendName);
            onStandIn = Workload();
        }
        Assert.Equal("cpu", Engine.BackendName);
        Assert.True(StandInTensor.Created - before > 10_000, $"only {StandInTensor.Created - before} stand-in tensors were made");
        Assert.Equal(onCpu.Count, onStandIn.Count);
        for (int i = 0; i < onCpu.Count; i++)
            Assert.True(onCpu[i].SequenceEqual(onStandIn[i]), $"output {i} differs between the CPU and the stand-in backend");
    }

    [Fact]
    public void Companion_a_model_made_on_one_backend_is_refused_by_another_until_moved()
    {
        var images = ImageBatch.Procedural(seed: 5, count: 6, channels: 3, height: 16, width: 16);
        var model = CrhnModel.Create(new CrhnConfig(Height: 16, Width: 16, ConvLayers: [8, 16], DenseLayers: [96], RhnHidden: [64]), seed: 2);
        model.Fit(images, new CrhnTrainingOptions(CodecEpochs: 2, BatchSize: 6, SraRounds: 2, SraMinRounds: 1));
        var expected = model.Retrieve(images).Images.ToArray();
        using (Engine.UseBackend("standin"))
        {
            var e = Assert.Throws<ArgumentException>(() => model.Retrieve(images));
            Assert.Contains("stand-in backend refuses an operand from backend 'cpu'", e.Message);
            Assert.Equal(expected, model.MoveTo("standin").Retrieve(images).Images.ToArray());
        }
        Assert.Throws<ArgumentException>(() => model.MoveTo("gpu"));
    }
}
