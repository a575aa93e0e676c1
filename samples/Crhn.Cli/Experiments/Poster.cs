using System.Globalization;
using System.Text;
using System.Text.Json;
using Crhn.Core;
using Spectre.Console;

namespace Crhn.Cli.Experiments;

/// <summary>What <c>crhn experiment poster</c> runs: every activation × regulariser × K, over seeds.</summary>
internal sealed record PosterSettings(
    string Data, int Train, int Test, int[] Steps, StepActivation[] Activations, RegulariserKind[] Regularisers,
    int Seeds, int Epochs, int BatchSize, double LearningRate, double Noise, int Hidden, int? State, DirectoryInfo Out)
{
    public Dictionary<string, string> Describe() => new()
    {
        ["data"] = $"{Data}: {Train} training and {Test} test images (28×28 grey, pixels centred: x − 0.5)",
        ["network"] = State is { } n
            ? $"v₀ = P(x − 0.5) + p with P {n}×784 trained; M {Hidden}×{n} shared by every step, α = 0.5, read-out 10×{n} + bias; K ∈ {{{string.Join(", ", Steps)}}}"
            : $"v₀ = x − 0.5; M {Hidden}×784 shared by every step, α = 0.5, read-out 10×784 + bias; K ∈ {{{string.Join(", ", Steps)}}}",
        ["training"] = $"{Epochs} epochs, batch {BatchSize}, Adam {LearningRate.ToString("g", CultureInfo.InvariantCulture)}, reshuffled every epoch; {Seeds} seed(s)",
        ["regularisers"] = string.Join("; ", Regularisers.Select(r => new RegulariserOptions(r).ToString())),
        ["noisy test"] = $"Gaussian noise σ = {Noise.ToString("0.###", CultureInfo.InvariantCulture)} added to every pixel, clipped to [0, 1]",
        ["energy and ‖J_T‖"] = $"on the first {Math.Min(Test, Poster.Probe)} test images: E(v_k) = ½‖v_k‖² − Φ(Mv_k) for k = 0 … K; ‖J_T(v_k)‖₂ by 20 power steps at v₀ … v_{{K−1}}, J_q its 0.9-quantile over images and steps",
    };
}

/// <summary>One configuration's results over seeds.</summary>
internal sealed record PosterCell(StepActivation Activation, RegulariserKind Regulariser, int Steps,
    double[] Clean, double[] Noisy, double[] Descent, double[] Jq, double[][] MeanEnergy);

/// <summary>The poster's comparison: clean and noisy test accuracy of the weight-shared iterative
/// classifier for each activation × regulariser × K, the fraction of steps that descend the
/// energy, the mean J_q, and the energy along test trajectories.</summary>
internal static class Poster
{
    /// <summary>Test images the energy and Jacobian statistics are taken on.</summary>
    public const int Probe = 500;

    public static PosterReport Run(PosterSettings s, RunInfo run)
    {
        var (train, test) = Load(s);
        var noisy = Degrade.GaussianNoise(test.Images, s.Noise, 7);
        var probe = test.Images.Take([.. Enumerable.Range(0, Math.Min(Probe, test.Images.Count))]);
        var cells = new List<PosterCell>();
        var configs = (from a in s.Activations from r in s.Regularisers from k in s.Steps select (a, r, k)).ToArray();
        AnsiConsole.Progress().AutoClear(false).HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var overall = ctx.AddTask("configurations", maxValue: configs.Length * s.Seeds);
                foreach (var (act, reg, k) in configs)
                {
                    var clean = new double[s.Seeds];
                    var noisyAcc = new double[s.Seeds];
                    var descent = new double[s.Seeds];
                    var jq = new double[s.Seeds];
                    var energy = new double[s.Seeds][];
                    for (int seed = 0; seed < s.Seeds; seed++)
                    {
                        string tag = $"{act} {reg} K={k} seed {seed + 1}";
                        var task = ctx.AddTask(tag, maxValue: s.Epochs);
                        var model = IterativeClassifier.Create(1, 28, 28, 10,
                            new IterativeClassifierOptions(Steps: k, Hidden: s.Hidden, Activation: act, Regulariser: new RegulariserOptions(reg), State: s.State), 100 + seed);
                        run.Time($"train {reg}", () => model.Fit(train, new IterativeTrainingOptions(s.Epochs, s.BatchSize, s.LearningRate),
                            new Reporter<TrainingProgress>(p => task.Value = p.Step)));
                        clean[seed] = run.Time("test", () => model.Accuracy(test));
                        noisyAcc[seed] = run.Time("test", () => model.Accuracy(new LabelledImages(noisy, test.Labels)));
                        var trace = run.Time("energy and ‖J_T‖", () => model.EnergyTrace(probe));
                        descent[seed] = k == 0 ? double.NaN
                            : trace.Average(e => Enumerable.Range(0, k).Count(i => e[i + 1] <= e[i] + 1e-6 * (1 + Math.Abs(e[i]))) / (double)k);
                        energy[seed] = [.. Enumerable.Range(0, k + 1).Select(i => trace.Average(e => e[i]))];
                        jq[seed] = k == 0 ? double.NaN : Quantile(run.Time("energy and ‖J_T‖", () => model.JacobianNorms(probe)).SelectMany(r => r).ToArray(), 0.9);
                        task.Value = task.MaxValue;
                        overall.Increment(1);
                    }
                    cells.Add(new PosterCell(act, reg, k, clean, noisyAcc, descent, jq,
                        [.. Enumerable.Range(0, k + 1).Select(i => energy.Select(e => e[i]).ToArray())]));
                }
            });
        return new PosterReport(s, cells);
    }

    private static (LabelledImages Train, LabelledImages Test) Load(PosterSettings s)
    {
        var (train, split) = LoadOrRefuse(s.Data, s.Train, "--train");
        if (split is { } test)
        {
            if (test.Images.Count < s.Test) throw new UsageException($"{s.Data}: its test split holds {test.Images.Count} images; --test asks for {s.Test}.");
            return (train, test.Take([.. Enumerable.Range(0, s.Test)]));
        }
        // No test split (the npm digits): the first --train images train, the next --test test.
        var (both, _) = LoadOrRefuse(s.Data, s.Train + s.Test, "--train + --test");
        return (both.Take([.. Enumerable.Range(0, s.Train)]), both.Take([.. Enumerable.Range(s.Train, s.Test)]));
    }

    private static (LabelledImages, LabelledImages?) LoadOrRefuse(string spec, int count, string what)
    {
        try
        {
            return LabelledImages.Load(spec, count);
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "count")
        {
            throw new UsageException($"{spec}: {e.Message.Split('\n')[0].Split(" (Parameter")[0]} Lower {what}.");
        }
    }

    /// <summary>The q-quantile with linear interpolation (NumPy's default).</summary>
    public static double Quantile(double[] values, double q)
    {
        if (values.Length == 0) return double.NaN;
        var sorted = values.Order().ToArray();
        double position = q * (sorted.Length - 1);
        int lo = (int)Math.Floor(position), hi = Math.Min(sorted.Length - 1, lo + 1);
        return sorted[lo] + (position - lo) * (sorted[hi] - sorted[lo]);
    }
}

/// <summary>The poster run's report: report.md with the poster-shaped table, poster.csv,
/// poster.json, one energy plot per activation, command.txt.</summary>
internal sealed class PosterReport(PosterSettings settings, IReadOnlyList<PosterCell> cells)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public IReadOnlyList<PosterCell> Cells => cells;

    private static string Pct(double[] v) =>
        v.All(double.IsNaN) ? "–" : v.Length > 1 ? $"{100 * Statistics.mean(v):0.0} ± {100 * Statistics.std(v):0.0}" : $"{100 * v[0]:0.0}";

    private static string Num(double[] v) =>
        v.All(double.IsNaN) ? "–" : v.Length > 1 ? $"{Statistics.mean(v):0.000} ± {Statistics.std(v):0.000}" : $"{v[0]:0.000}";

    private PosterCell? Cell(StepActivation a, RegulariserKind r, int k) => cells.FirstOrDefault(c => c.Activation == a && c.Regulariser == r && c.Steps == k);

    /// <summary>Rows activation × regulariser; for each K two columns, named and filled by the given pair.</summary>
    private (string[] Header, List<string[]> Rows) Table(string first, Func<PosterCell, string> firstCell, string second, Func<PosterCell, string> secondCell)
    {
        var header = new List<string> { "σ", "regulariser" };
        foreach (int k in settings.Steps) header.AddRange([$"K={k} {first}", $"K={k} {second}"]);
        var rows = new List<string[]>();
        foreach (var a in settings.Activations)
            foreach (var r in settings.Regularisers)
            {
                var row = new List<string> { a.ToString().ToLowerInvariant(), r.ToString() };
                foreach (int k in settings.Steps)
                {
                    var c = Cell(a, r, k);
                    row.Add(c is null ? "" : firstCell(c));
                    row.Add(c is null ? "" : secondCell(c));
                }
                rows.Add([.. row]);
            }
        return ([.. header], rows);
    }

    /// <summary>Clean | noisy test accuracy (%) per K.</summary>
    private (string[] Header, List<string[]> Rows) AccuracyTable() => Table("clean", c => Pct(c.Clean), "noisy", c => Pct(c.Noisy));

    /// <summary>The share of steps that descend E (%) and J_q per K.</summary>
    private (string[] Header, List<string[]> Rows) DynamicsTable() => Table("descending", c => Pct(c.Descent), "J_q", c => Num(c.Jq));

    private static string Markdown((string[] Header, List<string[]> Rows) t)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| " + string.Join(" | ", t.Header) + " |");
        sb.AppendLine("|" + string.Concat(t.Header.Select((_, i) => i < 2 ? "---|" : "---:|")));
        foreach (var row in t.Rows) sb.AppendLine("| " + string.Join(" | ", row) + " |");
        return sb.ToString();
    }

    public void Print()
    {
        foreach (var (title, t) in new[] { ("Test accuracy (%), clean | noisy", AccuracyTable()), ("Steps that descend E (%) | J_q", DynamicsTable()) })
        {
            var table = new Table().Border(TableBorder.Rounded).Title(Markup.Escape(title));
            foreach (var h in t.Header) table.AddColumn(Markup.Escape(h));
            foreach (var row in t.Rows) table.AddRow([.. row.Select(Markup.Escape)]);
            AnsiConsole.Write(table);
        }
    }

    public void Write(RunInfo run)
    {
        var folder = settings.Out;
        folder.Create();
        var csv = new StringBuilder("activation,regulariser,K,metric,mean,std,values\n");
        foreach (var c in cells)
            foreach (var (metric, values) in new[] { ("clean_accuracy", c.Clean), ("noisy_accuracy", c.Noisy), ("descending_fraction", c.Descent), ("j_q", c.Jq) })
                csv.AppendLine(string.Join(",", c.Activation.ToString().ToLowerInvariant(), c.Regulariser, c.Steps.ToString(Inv), metric,
                    Statistics.mean(values).ToString("R", Inv), Statistics.std(values).ToString("R", Inv), string.Join(" ", values.Select(v => v.ToString("R", Inv)))));
        File.WriteAllText(Path.Combine(folder.FullName, "poster.csv"), csv.ToString());
        File.WriteAllText(Path.Combine(folder.FullName, "poster.json"), JsonSerializer.Serialize(new
        {
            experiment = "poster",
            command = run.Command,
            engine = run.Engine,
            settings = run.Settings,
            started = run.Started.ToString("o", Inv),
            seconds = run.Seconds,
            timings = run.Timings,
            cells = cells.Select(c => new
            {
                activation = c.Activation.ToString().ToLowerInvariant(), regulariser = c.Regulariser.ToString(), k = c.Steps,
                clean = c.Clean, noisy = c.Noisy, descending = c.Descent, j_q = c.Jq, mean_energy = c.MeanEnergy,
            }),
        }, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        File.WriteAllText(Path.Combine(folder.FullName, "command.txt"), run.Command + "\n");

        int kMax = settings.Steps.Max();
        var pictures = new List<string>();
        foreach (var a in settings.Activations)
        {
            var series = settings.Regularisers.Select(r => Cell(a, r, kMax)).OfType<PosterCell>()
                .Select(c => new Series(c.Regulariser.ToString(), [.. Enumerable.Range(0, kMax + 1).Select(i => (double)i)],
                    [.. c.MeanEnergy.Select(v => Statistics.mean(v))])).ToList();
            if (series.Count == 0) continue;
            string file = $"energy-{a.ToString().ToLowerInvariant()}.svg";
            File.WriteAllText(Path.Combine(folder.FullName, file),
                Svg.LinePlot($"{a.ToString().ToLowerInvariant()}, K = {kMax}: mean energy along test trajectories", "step k", "E(v_k)", series, yFromZero: false));
            pictures.Add(file);
        }

        var md = new StringBuilder();
        md.AppendLine("# The poster: finite-step Hopfield dynamics and the JacQ regulariser");
        md.AppendLine();
        md.AppendLine("```");
        md.AppendLine(run.Command);
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine(Inv, $"- Engine: {run.Engine}");
        md.AppendLine(Inv, $"- Started {run.Started:yyyy-MM-dd HH:mm} UTC, took {run.Seconds:F0} s on {Environment.ProcessorCount} cores.");
        foreach (var (key, value) in run.Settings) md.AppendLine(Inv, $"- {key}: {value}");
        md.AppendLine();
        md.AppendLine("**Test accuracy (%)**, clean and noisy, mean ± std over seeds:");
        md.AppendLine();
        md.Append(Markdown(AccuracyTable()));
        md.AppendLine();
        md.AppendLine("**Energy and Jacobian along test trajectories**: the share of steps with E(v_{k+1}) ≤ E(v_k) (%), and J_q, the 0.9-quantile of ‖J_T(v_k)‖₂:");
        md.AppendLine();
        md.Append(Markdown(DynamicsTable()));
        md.AppendLine();
        md.AppendLine("Every σ here is monotone, so Φ is convex and ∇²E = I − J_T ⪯ I: a step with α ≤ 2 cannot raise E, whatever ‖J_T‖ is. The poster's condition ‖J_T‖ ≤ m with α ≤ 1/(1 + m) is sufficient, not necessary; what the regularisers change is J_q, the contraction of the steps.");
        md.AppendLine();
        foreach (var file in pictures)
        {
            md.AppendLine(Inv, $"![{file}]({file})");
            md.AppendLine();
        }
        md.AppendLine("| stage | seconds |");
        md.AppendLine("|---|---:|");
        foreach (var (stage, seconds) in run.Timings) md.AppendLine(Inv, $"| {stage} | {seconds:F1} |");
        File.WriteAllText(Path.Combine(folder.FullName, "report.md"), md.ToString());
    }
}
