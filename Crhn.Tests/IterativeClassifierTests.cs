using System.Globalization;
using Xunit;

namespace Crhn.Tests;

/// <summary>The iterative classifier's facade: create, fit, predict, energy trace, Jacobian norms,
/// labelled data, and clear errors for bad input.</summary>
public class IterativeClassifierTests
{
    /// <summary>n 1×4×4 images in [0, 1], labelled by the argmax of a fixed projection onto 3 classes.</summary>
    private static LabelledImages Task(int n, int seed)
    {
        var rng = new Random(seed);
        var values = new float[n * 16];
        for (int i = 0; i < values.Length; i++) values[i] = (float)rng.NextDouble();
        var g = new Random(99);
        var projection = Enumerable.Range(0, 3 * 16).Select(_ => g.NextDouble() * 2 - 1).ToArray();
        var labels = Enumerable.Range(0, n).Select(i =>
            Enumerable.Range(0, 3).MaxBy(j => Enumerable.Range(0, 16).Sum(k => values[i * 16 + k] * projection[j * 16 + k]))).ToArray();
        return new LabelledImages(ImageBatch.FromFloats(values, n, 1, 4, 4), labels);
    }

    [Fact]
    public void Fit_learns_the_task_and_the_traces_have_the_stated_shapes()
    {
        var train = Task(120, 1);
        var test = Task(60, 2);
        var model = IterativeClassifier.Create(1, 4, 4, 3, new IterativeClassifierOptions(Steps: 2, Hidden: 16, Regulariser: new RegulariserOptions(RegulariserKind.JacQ)), seed: 3);
        double before = model.Accuracy(test);
        var reports = new List<TrainingProgress>();
        var epochs = model.Fit(train, new IterativeTrainingOptions(Epochs: 60, BatchSize: 20, LearningRate: 1e-2), new Progress(reports.Add));
        Assert.Equal(60, epochs.Count);
        Assert.Equal(epochs.Select(e => e.Epoch), reports.Select(e => e.Step));
        Assert.Equal(epochs.Select(e => e.Loss), reports.Select(e => e.Value));
        Assert.All(reports, r => Assert.Equal(TrainingStage.Classifier, r.Stage));
        Assert.All(epochs, e => Assert.True(e.Penalty >= 0 && double.IsFinite(e.Loss)));
        double after = model.Accuracy(test);
        Assert.True(after >= 0.8 && after > before, $"test accuracy {before} before, {after} after training");

        var energy = model.EnergyTrace(test.Images);
        Assert.Equal(60, energy.Length);
        Assert.All(energy, e => Assert.Equal(3, e.Length));
        Assert.All(energy, e => Assert.True(e[1] <= e[0] + 1e-9 && e[2] <= e[1] + 1e-9, "α = 0.5 must descend the energy"));
        var norms = model.JacobianNorms(test.Images);
        Assert.Equal(60, norms.Length);
        Assert.All(norms, j => Assert.True(j.Length == 2 && j.All(v => v >= 0 && double.IsFinite(v))));
        Assert.Equal(60, model.Predict(test.Images).Length);
    }

    [Fact]
    public void An_input_layer_with_a_cosine_schedule_learns_the_task_and_its_steps_descend_the_energy()
    {
        var train = Task(120, 1);
        var test = Task(60, 2);
        var model = IterativeClassifier.Create(1, 4, 4, 3, new IterativeClassifierOptions(Steps: 2, Hidden: 16, Activation: StepActivation.Relu, State: 12, InputActivation: true), seed: 3);
        var epochs = model.Fit(train, new IterativeTrainingOptions(Epochs: 60, BatchSize: 20, LearningRate: 1e-2, FinalLearningRate: 0.05));
        Assert.True(epochs[^1].Loss < epochs[0].Loss, $"loss {epochs[0].Loss} → {epochs[^1].Loss}");
        Assert.True(model.Accuracy(test) >= 0.8, $"test accuracy {model.Accuracy(test)}");
        Assert.All(model.EnergyTrace(test.Images), e => Assert.True(e[1] <= e[0] + 1e-9 && e[2] <= e[1] + 1e-9, "α = 0.5 must descend the energy"));
        Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(train, new IterativeTrainingOptions(Epochs: 1, FinalLearningRate: 0)));
    }

    [Fact]
    public void Evasion_attacks_stay_in_their_budget_and_lower_the_accuracy_more_as_it_grows()
    {
        var train = Task(120, 1);
        var test = Task(60, 2);
        var model = IterativeClassifier.Create(1, 4, 4, 3, new IterativeClassifierOptions(Steps: 2, Hidden: 16, Activation: StepActivation.Relu, State: 12, InputActivation: true), seed: 3);
        model.Fit(train, new IterativeTrainingOptions(Epochs: 60, BatchSize: 20, LearningRate: 1e-2, FinalLearningRate: 0.05));
        double clean = model.Accuracy(test);
        var accuracies = new List<double>();
        foreach (double eps in new[] { 0.0, 0.05, 0.2 })
        {
            var adv = Adversary.Evade(model, test, Attack.Pgd, new AttackOptions(Eps: eps, Alpha: eps / 4, Steps: 10, Seed: 1));
            var a = adv.ToArray();
            var x = test.Images.ToArray();
            Assert.All(Enumerable.Range(0, a.Length), i => Assert.True(Math.Abs(a[i] - x[i]) <= eps + 1e-6 && a[i] >= 0 && a[i] <= 1));
            accuracies.Add(model.Accuracy(new LabelledImages(adv, test.Labels)));
        }
        Assert.Equal(clean, accuracies[0]);
        Assert.True(accuracies[1] <= clean && accuracies[2] < accuracies[1], $"clean {clean}, PGD ε = 0.05: {accuracies[1]}, ε = 0.2: {accuracies[2]}");
        var fgsm = Adversary.Evade(model, test, Attack.Fgsm, new AttackOptions(Eps: 0.2));
        Assert.True(model.Accuracy(new LabelledImages(fgsm, test.Labels)) < clean);
        Assert.Throws<ArgumentException>(() => Adversary.Evade(model, new LabelledImages(ImageBatch.Procedural(1, 2, 1, 8, 8), [0, 1]), Attack.Fgsm));
    }

    [Fact]
    public void Regulariser_descriptions_name_every_setting_in_force()
    {
        Assert.Equal("JacQ(λ = 1, m = 1, q = 0.9, 5 power steps)", new RegulariserOptions(RegulariserKind.JacQ).ToString());
        Assert.Equal("JacF(λ = 0.01, 1 projection)", new RegulariserOptions(RegulariserKind.JacF).ToString());
        Assert.Equal("Lip(λ = 0.5, m = 2)", new RegulariserOptions(RegulariserKind.Lip, Lambda: 0.5, Margin: 2).ToString());
        Assert.Equal("Base", new RegulariserOptions().ToString());
    }

    [Fact]
    public void Bad_input_is_refused_with_a_clear_message()
    {
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => IterativeClassifier.Create(1, 4, 4, 3, new IterativeClassifierOptions(Alpha: 3)));
        Assert.Contains("α must be in (0, 2]", e.Message);
        Assert.Throws<ArgumentException>(() => IterativeClassifier.Create(1, 4, 4, 1));
        Assert.Throws<ArgumentException>(() => IterativeClassifier.Create(1, 4, 4, 3, new IterativeClassifierOptions(Regulariser: new RegulariserOptions(RegulariserKind.JacQ, Quantile: 1.5))));
        var model = IterativeClassifier.Create(1, 4, 4, 3);
        var wrong = Assert.Throws<ArgumentException>(() => model.Predict(ImageBatch.FromFloats(new float[2 * 9], 2, 1, 3, 3)));
        Assert.Contains("1×4×4", wrong.Message);
        var data = new LabelledImages(ImageBatch.FromFloats(new float[16], 1, 1, 4, 4), [5]);
        var label = Assert.Throws<ArgumentOutOfRangeException>(() => model.Fit(data));
        Assert.Contains("outside [0, 3)", label.Message);
        Assert.Throws<ArgumentException>(() => new LabelledImages(ImageBatch.FromFloats(new float[16], 1, 1, 4, 4), [0, 1]));
        Assert.Throws<OperationCanceledException>(() => IterativeClassifier.Create(1, 4, 4, 3).Fit(Task(10, 1), cancellationToken: new CancellationToken(true)));
        var diverging = IterativeClassifier.Create(1, 4, 4, 3, new IterativeClassifierOptions(Steps: 5, Hidden: 16, Activation: StepActivation.Relu), seed: 1);
        var diverged = Assert.Throws<InvalidOperationException>(() => diverging.Fit(Task(40, 1), new IterativeTrainingOptions(Epochs: 20, BatchSize: 10, LearningRate: 1e6)));
        Assert.Contains("training diverged; try a smaller learning rate than 1e+06", diverged.Message);
    }

    [Fact]
    public void Labelled_npm_digits_load_round_robin_with_no_test_split()
    {
        var dir = Directory.CreateTempSubdirectory("crhn-digits-");
        try
        {
            WriteDigits(dir.FullName, 2);
            var (train, test) = LabelledImages.Load("mnist:" + dir.FullName, 15);
            Assert.Null(test);
            Assert.Equal(15, train.Images.Count);
            Assert.Equal(Enumerable.Range(0, 15).Select(i => i % 10), train.Labels);
            Assert.Equal(10, train.Classes);
            var e = Assert.Throws<ArgumentOutOfRangeException>(() => LabelledImages.Load("mnist:" + dir.FullName, 21));
            Assert.Equal("count", e.ParamName);
        }
        finally { dir.Delete(true); }
    }

    /// <summary>A folder shaped like the npm package's digits: 0.json … 9.json, `perDigit` images each.</summary>
    internal static void WriteDigits(string folder, int perDigit)
    {
        var rng = new Random(5);
        for (int d = 0; d < 10; d++)
        {
            var values = Enumerable.Range(0, perDigit * 784).Select(i =>
                (i % 784 / 28 + d) % 10 < 3 ? 0.9 + 0.1 * rng.NextDouble() : 0.1 * rng.NextDouble());
            File.WriteAllText(Path.Combine(folder, $"{d}.json"),
                "{ \"data\": [" + string.Join(",", values.Select(v => v.ToString("0.###", CultureInfo.InvariantCulture))) + "] }");
        }
    }

    private sealed class Progress(Action<TrainingProgress> report) : IProgress<TrainingProgress>
    {
        public void Report(TrainingProgress value) => report(value);
    }
}
