using System.Globalization;
using System.Text;
using System.Text.Json;
using Crhn.Core;
using Spectre.Console;

namespace Crhn.Cli.Experiments;

/// <summary>What the poster's "noisy" test images are made with.</summary>
internal enum Perturbation
{
    /// <summary>Gaussian noise of standard deviation σ on every pixel, clipped to [0, 1].</summary>
    Noise,

    /// <summary>FGSM on the classifier's cross-entropy, budget ε (L∞).</summary>
    Fgsm,

    /// <summary>PGD on the classifier's cross-entropy: 10 steps of ε/4 from a random start, budget ε (L∞).</summary>
    Pgd,
}

/// <summary>What <c>crhn experiment poster</c> runs: every activation × regulariser × K, over seeds,
/// tested clean and under every perturbation strength.</summary>
internal sealed record PosterSettings(
    string Data, int Train, int Test, int[] Steps, StepActivation[] Activations, RegulariserKind[] Regularisers,
    int Seeds, int Epochs, int BatchSize, double LearningRate, double FinalLearningRate, int Hidden, int? State,
    double[] Sigmas, double[] FgsmEps, double[] PgdEps, DirectoryInfo Out)
{
    /// <summary>The shard of the grid (cells × seeds) this run computes, or null for all of it.</summary>
    public ShardSpec? Shard { get; init; }

    /// <summary>Every perturbation and strength the test images are measured under, in report order.</summary>
    public (Perturbation Kind, double Strength)[] Strengths =>
    [
        .. Sigmas.Select(s => (Perturbation.Noise, s)), .. FgsmEps.Select(e => (Perturbation.Fgsm, e)), .. PgdEps.Select(e => (Perturbation.Pgd, e)),
    ];

    /// <summary>The strengths of one perturbation.</summary>
    public double[] Of(Perturbation kind) => [.. Strengths.Where(s => s.Kind == kind).Select(s => s.Strength)];

    /// <summary>The classifier's options for one cell.</summary>
    public IterativeClassifierOptions Options(StepActivation activation, RegulariserKind regulariser, int steps) =>
        new(Steps: steps, Hidden: Hidden, Activation: activation, Regulariser: new RegulariserOptions(regulariser), State: State, InputActivation: State is not null);

    private static string F(double v) => v.ToString("0.###", CultureInfo.InvariantCulture);

    public Dictionary<string, string> Describe() => new()
    {
        ["data"] = $"{Data}: {Train} training and {Test} test images (28×28 grey, pixels centred: x − 0.5)",
        ["network"] = State is { } n
            ? $"a deep classifier read as finite-step dynamics: v₀ = σ(P(x − 0.5) + p), P {n}×784 (the input layer); K steps v ← (1 − α)v + αMᵀσ(Mv) with one M {Hidden}×{n}, α = 0.5; read-out 10×{n} + bias; K ∈ {{{string.Join(", ", Steps)}}}"
            : $"pixel state: v₀ = x − 0.5; M {Hidden}×784 shared by every step, α = 0.5, read-out 10×784 + bias; K ∈ {{{string.Join(", ", Steps)}}}",
        ["training"] = $"{Epochs} epochs, batch {BatchSize}, Adam {LearningRate.ToString("g", CultureInfo.InvariantCulture)} with a cosine decay to {F(FinalLearningRate)} of it, reshuffled every epoch; {Seeds} seed(s)",
        ["regularisers"] = string.Join("; ", Regularisers.Select(r => new RegulariserOptions(r).ToString())),
        ["perturbations"] = string.Join("; ", new[]
        {
            Sigmas.Length > 0 ? $"Gaussian noise σ ∈ {{{string.Join(", ", Sigmas.Select(F))}}} on every pixel, clipped to [0, 1]" : null,
            FgsmEps.Length > 0 ? $"FGSM ε ∈ {{{string.Join(", ", FgsmEps.Select(F))}}} on the cross-entropy" : null,
            PgdEps.Length > 0 ? $"PGD ε ∈ {{{string.Join(", ", PgdEps.Select(F))}}} (10 steps of ε/4 from a random start) on the cross-entropy" : null,
        }.OfType<string>()),
        ["energy and ‖J_T‖"] = $"E(v_k) = ½‖v_k‖² − Φ(Mv_k) for k = 0 … K on every test image; ‖J_T(v_k)‖₂ by 20 power steps at v₀ … v_{{K−1}} of the first {Math.Min(Test, Poster.Probe)}, J_q its 0.9-quantile over images and steps",
    };
}

/// <summary>One trained classifier's figures (one cell and seed): the unit a sharded run writes.</summary>
/// <param name="Clean">Clean test accuracy.</param>
/// <param name="Perturbed">Test accuracy under each of the settings' strengths, in their order.</param>
/// <param name="Descent">The share of test steps with E(v_{k+1}) ≤ E(v_k).</param>
/// <param name="Jq">The 0.9-quantile of ‖J_T(v_k)‖₂ over the probe images and steps.</param>
/// <param name="Energy">The mean energy at each step.</param>
/// <param name="Failure">Why training stopped (a loss that stopped being finite), or null; the figures are then NaN.</param>
internal sealed record PosterUnit(double Clean, double[] Perturbed, double Descent, double Jq, double[] Energy, string? Failure = null);

/// <summary>One configuration's results over seeds.</summary>
internal sealed record PosterCell(StepActivation Activation, RegulariserKind Regulariser, int Steps,
    double[] Clean, double[][] Perturbed, double[] Descent, double[] Jq, double[][] MeanEnergy)
{
    /// <summary>The drop from clean accuracy under strength <paramref name="index"/>, per seed.</summary>
    public double[] Drop(int index) => [.. Clean.Zip(Perturbed[index], (c, p) => c - p)];
}

/// <summary>The poster's comparison: the iterative classifier for each activation × regulariser × K,
/// clean and under a sweep of noise and attack strengths, with the share of steps that descend the
/// energy, J_q, and Welch's t-test of JacQ's drop against the others'.</summary>
internal static class Poster
{
    /// <summary>Test images J_q is taken on.</summary>
    public const int Probe = 500;

    /// <summary>The drop (points of accuracy) that marks the regime where Base collapses.</summary>
    public const double Collapse = 0.20;

    public static PosterReport? Run(PosterSettings s, RunInfo run)
    {
        var data = new Lazy<(LabelledImages Train, LabelledImages Test)>(() => Load(s));
        var noisy = new Dictionary<double, ImageBatch>();
        var configs = (from a in s.Activations from r in s.Regularisers from k in s.Steps select (a, r, k)).ToArray();
        IReadOnlyList<PosterUnit>? units = null;
        AnsiConsole.Progress().AutoClear(false).HideCompleted(true)
            .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn())
            .Start(ctx =>
            {
                var overall = ctx.AddTask("configurations × seeds", maxValue: s.Shard is { } sh ? Enumerable.Range(0, configs.Length * s.Seeds).Count(sh.Takes) : configs.Length * s.Seeds);
                units = Sharding.Run("poster", configs.Length * s.Seeds, s.Shard, s.Out, run, u =>
                {
                    var (act, reg, k) = configs[u / s.Seeds];
                    int seed = u % s.Seeds;
                    var (train, test) = data.Value;
                    var task = ctx.AddTask($"{act} {reg} K={k} seed {seed + 1}", maxValue: s.Epochs);
                    var model = IterativeClassifier.Create(1, 28, 28, 10, s.Options(act, reg, k), 100 + seed);
                    try
                    {
                        run.Time($"train {reg}", () => model.Fit(train, new IterativeTrainingOptions(s.Epochs, s.BatchSize, s.LearningRate, FinalLearningRate: s.FinalLearningRate),
                            new Reporter<TrainingProgress>(p => task.Value = p.Step)));
                    }
                    catch (InvalidOperationException e) when (e.Message.Contains("training diverged", StringComparison.Ordinal))
                    {
                        // One diverged configuration is a result of the grid, not the end of it.
                        AnsiConsole.MarkupLine($"[yellow]{act} {reg} K={k} seed {seed + 1}: {Markup.Escape(e.Message)}[/]");
                        overall.Increment(1);
                        return new PosterUnit(double.NaN, [.. s.Strengths.Select(_ => double.NaN)], double.NaN, double.NaN, [.. Enumerable.Repeat(double.NaN, k + 1)],
                            $"{act.ToString().ToLowerInvariant()} {reg} K={k} seed {seed + 1}: {e.Message}");
                    }
                    double clean = run.Time("test clean", () => model.Accuracy(test));
                    var perturbed = s.Strengths.Select(p => run.Time($"test {p.Kind.ToString().ToLowerInvariant()}", () =>
                        model.Accuracy(new LabelledImages(Perturb(s, p.Kind, p.Strength, model, test, seed, noisy), test.Labels)))).ToArray();
                    var trace = run.Time("energy", () => model.EnergyTrace(test.Images));
                    double descent = trace.Average(e => Enumerable.Range(0, k).Count(i => e[i + 1] <= e[i] + 1e-6 * (1 + Math.Abs(e[i]))) / (double)k);
                    double[] energy = [.. Enumerable.Range(0, k + 1).Select(i => trace.Average(e => e[i]))];
                    var probe = test.Images.Take([.. Enumerable.Range(0, Math.Min(Probe, test.Images.Count))]);
                    double jq = Quantile(run.Time("‖J_T‖", () => model.JacobianNorms(probe)).SelectMany(r => r).ToArray(), 0.9);
                    task.Value = task.MaxValue;
                    overall.Increment(1);
                    return new PosterUnit(clean, perturbed, descent, jq, energy);
                });
            });
        if (units is null) return null;
        var cells = configs.Select((c, i) =>
        {
            var seeds = units.Skip(i * s.Seeds).Take(s.Seeds).ToArray();
            return new PosterCell(c.a, c.r, c.k, [.. seeds.Select(u => u.Clean)],
                [.. Enumerable.Range(0, s.Strengths.Length).Select(j => seeds.Select(u => u.Perturbed[j]).ToArray())],
                [.. seeds.Select(u => u.Descent)], [.. seeds.Select(u => u.Jq)],
                [.. Enumerable.Range(0, c.k + 1).Select(j => seeds.Select(u => u.Energy[j]).ToArray())]);
        }).ToList();
        return new PosterReport(s, cells, [.. units.Select(u => u.Failure).OfType<string>()]);
    }

    /// <summary>The test images under one perturbation: noise is drawn once per σ (the same for
    /// every model), attacks are run on each model.</summary>
    private static ImageBatch Perturb(PosterSettings s, Perturbation kind, double strength, IterativeClassifier model, LabelledImages test, int seed,
        Dictionary<double, ImageBatch> noisy) => kind switch
    {
        Perturbation.Noise => noisy.TryGetValue(strength, out var n) ? n : noisy[strength] = Degrade.GaussianNoise(test.Images, strength, 7),
        Perturbation.Fgsm => Adversary.Evade(model, test, Attack.Fgsm, new AttackOptions(Eps: strength, Seed: seed)),
        _ => Adversary.Evade(model, test, Attack.Pgd, new AttackOptions(Eps: strength, Alpha: strength / 4, Steps: 10, Seed: seed)),
    };

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

/// <summary>The poster run's report: report.md (clean accuracy, accuracy against every strength,
/// the collapse regime with Welch's tests, energy descent and J_q), poster.csv, welch.csv,
/// poster.json, robustness and energy plots, command.txt.</summary>
internal sealed class PosterReport(PosterSettings settings, IReadOnlyList<PosterCell> cells, IReadOnlyList<string> failures)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public IReadOnlyList<PosterCell> Cells => cells;

    /// <summary>The seeds whose figure exists (a diverged seed's are NaN).</summary>
    private static double[] Finite(double[] v) => [.. v.Where(double.IsFinite)];

    /// <summary>The mean over the seeds whose figure exists (NaN when none).</summary>
    private static double Mean(double[] v) => Finite(v) is { Length: > 0 } f ? Statistics.mean(f) : double.NaN;

    /// <summary>The standard deviation over the seeds whose figure exists (NaN below two).</summary>
    private static double Std(double[] v) => Finite(v) is { Length: > 1 } f ? Statistics.std(f) : double.NaN;

    private static string Missing(double[] v) => Finite(v).Length < v.Length ? $" ({Finite(v).Length} of {v.Length} seeds)" : "";

    private static string Pct(double[] v) => Finite(v) is var f && f.Length == 0 ? "–"
        : (f.Length > 1 ? $"{100 * Statistics.mean(f):0.0} ± {100 * Statistics.std(f):0.0}" : $"{100 * f[0]:0.0}") + Missing(v);

    private static string Num(double[] v) => Finite(v) is var f && f.Length == 0 ? "–"
        : (f.Length > 1 ? $"{Statistics.mean(f):0.000} ± {Statistics.std(f):0.000}" : $"{f[0]:0.000}") + Missing(v);

    private static string P(double p) => double.IsNaN(p) ? "–" : p < 0.001 ? p.ToString("0.0e0", Inv) : p.ToString("0.000", Inv);

    private static string Name(Perturbation kind) => kind switch
    {
        Perturbation.Noise => "Gaussian noise",
        Perturbation.Fgsm => "FGSM",
        _ => "PGD",
    };

    private static string Label(Perturbation kind, double strength) => kind switch
    {
        Perturbation.Noise => $"noise σ={strength.ToString("0.###", Inv)}",
        Perturbation.Fgsm => $"FGSM ε={strength.ToString("0.###", Inv)}",
        _ => $"PGD ε={strength.ToString("0.###", Inv)}",
    };

    private PosterCell? Cell(StepActivation a, RegulariserKind r, int k) => cells.FirstOrDefault(c => c.Activation == a && c.Regulariser == r && c.Steps == k);

    private static double Welch(double[] a, double[] b) =>
        Finite(a) is var fa && Finite(b) is var fb && (fa.Length < 2 || fb.Length < 2) ? double.NaN : Statistics.welch(fa, fb).P;

    /// <summary>The headline cell: Base with ReLU at the smallest K (else the first activation's).</summary>
    private PosterCell? Headline()
    {
        var act = settings.Activations.Contains(StepActivation.Relu) ? StepActivation.Relu : settings.Activations[0];
        return Cell(act, RegulariserKind.Base, settings.Steps.Min());
    }

    /// <summary>The index of the smallest strength of a perturbation at which the headline Base cell
    /// loses at least <see cref="Poster.Collapse"/> in mean, or the strongest when none does.</summary>
    private (int Index, bool Collapses)? CollapseAt(Perturbation kind)
    {
        var indices = settings.Strengths.Select((s, i) => (s, i)).Where(t => t.s.Kind == kind).Select(t => t.i).ToArray();
        if (indices.Length == 0 || Headline() is not { } b) return null;
        foreach (int i in indices)
            if (Mean(b.Drop(i)) >= Poster.Collapse) return (i, true);
        return (indices[^1], false);
    }

    private static string Markdown(string[] header, IEnumerable<string[]> rows, int textColumns)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| " + string.Join(" | ", header) + " |");
        sb.AppendLine("|" + string.Concat(header.Select((_, i) => i < textColumns ? "---|" : "---:|")));
        foreach (var row in rows) sb.AppendLine("| " + string.Join(" | ", row) + " |");
        return sb.ToString();
    }

    private IEnumerable<(StepActivation A, RegulariserKind R)> Rows() =>
        from a in settings.Activations from r in settings.Regularisers select (a, r);

    /// <summary>Clean accuracy (%) per K, and the cells more than 3 points below their activation's Base at the smallest K.</summary>
    private (string Table, List<string> Below) CleanTable()
    {
        int k0 = settings.Steps.Min();
        var below = new List<string>();
        var rows = Rows().Select(t =>
        {
            var row = new List<string> { t.A.ToString().ToLowerInvariant(), t.R.ToString() };
            foreach (int k in settings.Steps)
            {
                var c = Cell(t.A, t.R, k);
                row.Add(c is null ? "" : Pct(c.Clean));
                if (c is not null && Cell(t.A, RegulariserKind.Base, k0) is { } b && !(Mean(b.Clean) - Mean(c.Clean) <= 0.03))
                    below.Add(string.Create(Inv, $"{t.A.ToString().ToLowerInvariant()} {t.R} K={k}: {100 * Mean(c.Clean):0.0} %{Missing(c.Clean)} against Base K={k0}'s {100 * Mean(b.Clean):0.0} %"));
            }
            return row.ToArray();
        });
        return (Markdown(["activation", "regulariser", .. settings.Steps.Select(k => $"K={k}")], rows.ToList(), 2), below);
    }

    /// <summary>Accuracy (%) under every strength of one perturbation, rows activation × regulariser × K.</summary>
    private string SweepTable(Perturbation kind)
    {
        var indices = settings.Strengths.Select((s, i) => (s, i)).Where(t => t.s.Kind == kind).ToArray();
        var rows = from t in Rows() from k in settings.Steps let c = Cell(t.A, t.R, k) where c is not null
                   select (string[])[t.A.ToString().ToLowerInvariant(), t.R.ToString(), k.ToString(Inv), Pct(c.Clean), .. indices.Select(x => Pct(c.Perturbed[x.i]))];
        return Markdown(["activation", "regulariser", "K", "clean", .. indices.Select(x => Label(kind, x.s.Strength))], rows, 3);
    }

    /// <summary>At one strength: each regulariser's drop (points) per activation and K, and Welch's p of JacQ's drop against each other's.</summary>
    private string DropTable(int index)
    {
        var others = settings.Regularisers.Where(r => r != RegulariserKind.JacQ).ToArray();
        bool withJacQ = settings.Regularisers.Contains(RegulariserKind.JacQ);
        var rows = from a in settings.Activations from k in settings.Steps
                   let jacq = Cell(a, RegulariserKind.JacQ, k)
                   select (string[])[a.ToString().ToLowerInvariant(), k.ToString(Inv),
                       .. settings.Regularisers.Select(r => Cell(a, r, k) is { } c ? Pct(c.Drop(index)) : ""),
                       .. withJacQ ? others.Select(r => jacq is not null && Cell(a, r, k) is { } c ? P(Welch(jacq.Drop(index), c.Drop(index))) : "") : []];
        return Markdown(["activation", "K", .. settings.Regularisers.Select(r => $"{r} drop"), .. withJacQ ? others.Select(r => $"p JacQ vs {r}") : []], rows, 2);
    }

    /// <summary>The share of steps that descend E (%) and J_q, per K.</summary>
    private string DynamicsTable()
    {
        var rows = Rows().Select(t => (string[])[t.A.ToString().ToLowerInvariant(), t.R.ToString(),
            .. settings.Steps.SelectMany(k => Cell(t.A, t.R, k) is { } c ? new[] { Pct(c.Descent), Num(c.Jq) } : ["", ""])]);
        return Markdown(["activation", "regulariser", .. settings.Steps.SelectMany(k => new[] { $"K={k} descending", $"K={k} J_q" })], rows, 2);
    }

    /// <summary>The headline in words: at the collapse strength of each perturbation, JacQ's drop beside Base's, JacF's and Lip's.</summary>
    private List<string> Verdicts()
    {
        var lines = new List<string>();
        if (Headline() is not { } b) return lines;
        var jacq = Cell(b.Activation, RegulariserKind.JacQ, b.Steps);
        foreach (var kind in Enum.GetValues<Perturbation>())
        {
            if (CollapseAt(kind) is not { } at) continue;
            string where = Label(kind, settings.Strengths[at.Index].Strength);
            string who = $"{b.Activation.ToString().ToLowerInvariant()}, K = {b.Steps}";
            if (!at.Collapses)
            {
                double most = settings.Strengths.Select((s, i) => (s, i)).Where(t => t.s.Kind == kind).Max(t => Mean(b.Drop(t.i)));
                lines.Add(string.Create(Inv, $"- **{Name(kind)}**: Base ({who}) loses at most {100 * most:0.0} points; no strength tried reaches the {100 * Poster.Collapse:0}-point collapse."));
                continue;
            }
            var parts = settings.Regularisers.Select(r => Cell(b.Activation, r, b.Steps) is { } c ? $"{r} {Pct(c.Drop(at.Index))}" : null).OfType<string>();
            string verdict = "";
            if (jacq is not null)
            {
                double p = Welch(jacq.Drop(at.Index), b.Drop(at.Index));
                double gain = Mean(b.Drop(at.Index)) - Mean(jacq.Drop(at.Index));
                verdict = double.IsNaN(p) ? " (fewer than two finished seeds on a side: no test)"
                    : p < 0.05 && gain > 0 ? string.Create(Inv, $": JacQ keeps {100 * gain:0.0} points more than Base (Welch p = {P(p)}): the poster's claim holds here.")
                    : p < 0.05 ? string.Create(Inv, $": JacQ loses {100 * -gain:0.0} points more than Base (Welch p = {P(p)}): the poster's claim is refuted here.")
                    : string.Create(Inv, $": JacQ {(gain >= 0 ? "keeps" : "loses")} {100 * Math.Abs(gain):0.0} points more than Base, not significantly (Welch p = {P(p)}): the claim is not confirmed.");
            }
            lines.Add($"- **{Name(kind)}** at {where}, where Base ({who}) loses ≥ {100 * Poster.Collapse:0} points — drop (points, mean ± std): {string.Join("; ", parts)}{verdict}");
        }
        return lines;
    }

    public void Print()
    {
        var t = new Table().Border(TableBorder.Rounded).Title("Test accuracy (%): clean, and under each perturbation's strongest setting");
        var last = Enum.GetValues<Perturbation>().Select(k => settings.Strengths.Select((s, i) => (s, i)).Where(x => x.s.Kind == k).ToArray())
            .Where(a => a.Length > 0).Select(a => a[^1]).ToArray();
        foreach (var h in new[] { "activation", "regulariser", "K", "clean" }.Concat(last.Select(x => Label(x.s.Kind, x.s.Strength)))) t.AddColumn(Markup.Escape(h));
        foreach (var c in cells)
            t.AddRow([Markup.Escape(c.Activation.ToString().ToLowerInvariant()), c.Regulariser.ToString(), c.Steps.ToString(Inv), Markup.Escape(Pct(c.Clean)), .. last.Select(x => Markup.Escape(Pct(c.Perturbed[x.i])))]);
        AnsiConsole.Write(t);
        foreach (var line in Verdicts()) AnsiConsole.MarkupLine(Markup.Escape(line.Replace("**", "")));
    }

    public void Write(RunInfo run)
    {
        var folder = settings.Out;
        folder.Create();
        var strengths = settings.Strengths;
        var csv = new StringBuilder("activation,regulariser,K,metric,mean,std,values\n");
        foreach (var c in cells)
        {
            var metrics = new List<(string, double[])> { ("clean_accuracy", c.Clean) };
            metrics.AddRange(strengths.Select((s, i) => ($"accuracy {Label(s.Kind, s.Strength)}", c.Perturbed[i])));
            metrics.AddRange([("descending_fraction", c.Descent), ("j_q", c.Jq)]);
            foreach (var (metric, values) in metrics)
                csv.AppendLine(string.Join(",", c.Activation.ToString().ToLowerInvariant(), c.Regulariser, c.Steps.ToString(Inv), metric,
                    Mean(values).ToString("R", Inv), Std(values).ToString("R", Inv), string.Join(" ", values.Select(v => v.ToString("R", Inv)))));
        }
        File.WriteAllText(Path.Combine(folder.FullName, "poster.csv"), csv.ToString());
        var welch = new StringBuilder("activation,K,perturbation,a,b,drop_a_mean,drop_b_mean,p_welch\n");
        foreach (var a in settings.Activations)
            foreach (int k in settings.Steps)
                foreach (var (s, i) in strengths.Select((s, i) => (s, i)))
                    foreach (var ra in settings.Regularisers)
                        foreach (var rb in settings.Regularisers.Where(r => r > ra))
                            if (Cell(a, ra, k) is { } ca && Cell(a, rb, k) is { } cb)
                                welch.AppendLine(string.Join(",", a.ToString().ToLowerInvariant(), k.ToString(Inv), Label(s.Kind, s.Strength), ra, rb,
                                    Mean(ca.Drop(i)).ToString("R", Inv), Mean(cb.Drop(i)).ToString("R", Inv), Welch(ca.Drop(i), cb.Drop(i)).ToString("R", Inv)));
        File.WriteAllText(Path.Combine(folder.FullName, "welch.csv"), welch.ToString());
        File.WriteAllText(Path.Combine(folder.FullName, "poster.json"), JsonSerializer.Serialize(new
        {
            experiment = "poster",
            command = run.Command,
            engine = run.Engine,
            settings = run.Settings,
            seconds = run.Seconds,
            shards = run.Shards.Select(s => new { shard = s.Shard, seconds = s.Seconds }),
            timings = run.Timings,
            strengths = strengths.Select(s => Label(s.Kind, s.Strength)),
            cells = cells.Select(c => new
            {
                activation = c.Activation.ToString().ToLowerInvariant(), regulariser = c.Regulariser.ToString(), k = c.Steps,
                clean = c.Clean, perturbed = c.Perturbed, descending = c.Descent, j_q = c.Jq, mean_energy = c.MeanEnergy,
            }),
        }, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        File.WriteAllText(Path.Combine(folder.FullName, "command.txt"), run.Command + "\n");

        var pictures = new List<(string Caption, string File)>();
        int k0 = settings.Steps.Min(), kMax = settings.Steps.Max();
        foreach (var kind in Enum.GetValues<Perturbation>())
        {
            var xs = settings.Of(kind);
            if (xs.Length == 0) continue;
            var indices = strengths.Select((s, i) => (s, i)).Where(t => t.s.Kind == kind).Select(t => t.i).ToArray();
            foreach (var a in settings.Activations)
                foreach (int k in new[] { k0, kMax }.Distinct())
                {
                    var series = settings.Regularisers.Select(r => Cell(a, r, k)).OfType<PosterCell>()
                        .Select(c => new Series(c.Regulariser.ToString(), [0, .. xs], [100 * Mean(c.Clean), .. indices.Select(i => 100 * Mean(c.Perturbed[i]))])).ToList();
                    string file = $"robustness-{kind.ToString().ToLowerInvariant()}-{a.ToString().ToLowerInvariant()}-k{k}.svg";
                    File.WriteAllText(Path.Combine(folder.FullName, file), Svg.LinePlot($"{Name(kind)}, {a.ToString().ToLowerInvariant()}, K = {k}: test accuracy", kind == Perturbation.Noise ? "σ" : "ε", "accuracy (%)", series));
                    pictures.Add(($"{Name(kind)}, {a.ToString().ToLowerInvariant()}, K = {k}", file));
                }
        }
        foreach (var a in settings.Activations)
        {
            var series = settings.Regularisers.Select(r => Cell(a, r, kMax)).OfType<PosterCell>()
                .Select(c => new Series(c.Regulariser.ToString(), [.. Enumerable.Range(0, kMax + 1).Select(i => (double)i)],
                    [.. c.MeanEnergy.Select(v => Mean(v))])).ToList();
            if (series.Count == 0) continue;
            string file = $"energy-{a.ToString().ToLowerInvariant()}.svg";
            File.WriteAllText(Path.Combine(folder.FullName, file),
                Svg.LinePlot($"{a.ToString().ToLowerInvariant()}, K = {kMax}: mean energy along test trajectories", "step k", "E(v_k)", series, yFromZero: false));
            pictures.Add(($"energy, {a.ToString().ToLowerInvariant()}, K = {kMax}", file));
        }

        var md = new StringBuilder();
        md.AppendLine("# The poster: finite-step Hopfield dynamics and the JacQ regulariser");
        md.AppendLine();
        md.AppendLine("```");
        md.AppendLine(run.Command);
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine(Inv, $"- Engine: {run.Engine}");
        md.AppendLine(Inv, $"- {run.TimeLine}");
        foreach (var (key, value) in run.Settings) md.AppendLine(Inv, $"- {key}: {value}");
        md.AppendLine();
        md.AppendLine("## The claim");
        md.AppendLine();
        foreach (var line in Verdicts()) md.AppendLine(line);
        if (failures.Count > 0)
        {
            md.AppendLine();
            md.AppendLine("Training diverged (figures NaN) in: " + string.Join("; ", failures));
        }
        md.AppendLine();
        var (clean, below) = CleanTable();
        md.AppendLine("## Clean test accuracy (%), mean ± std over seeds");
        md.AppendLine();
        md.Append(clean);
        md.AppendLine();
        md.AppendLine(below.Count == 0
            ? string.Create(Inv, $"Every cell is within 3 points of its activation's Base at K = {k0}.")
            : "More than 3 points below their activation's Base at K = " + k0.ToString(Inv) + ": " + string.Join("; ", below) + ".");
        md.AppendLine();
        foreach (var kind in Enum.GetValues<Perturbation>())
        {
            if (settings.Of(kind).Length == 0) continue;
            md.AppendLine(Inv, $"## Test accuracy (%) under {Name(kind)}");
            md.AppendLine();
            md.Append(SweepTable(kind));
            md.AppendLine();
            if (CollapseAt(kind) is { } at)
            {
                md.AppendLine(Inv, $"Drop from clean accuracy (points) at {Label(kind, strengths[at.Index].Strength)}{(at.Collapses ? ", where Base collapses" : ", the strongest tried")}, with Welch's p of JacQ's drop against each other regulariser's (all pairs and strengths: welch.csv):");
                md.AppendLine();
                md.Append(DropTable(at.Index));
                md.AppendLine();
            }
        }
        md.AppendLine("## Energy and Jacobian along test trajectories");
        md.AppendLine();
        md.AppendLine("The share of steps with E(v_{k+1}) ≤ E(v_k) (%), and J_q, the 0.9-quantile of ‖J_T(v_k)‖₂:");
        md.AppendLine();
        md.Append(DynamicsTable());
        md.AppendLine();
        md.AppendLine("Every σ here is monotone, so Φ is convex and ∇²E = I − J_T ⪯ I: a step with α ≤ 2 cannot raise E, whatever ‖J_T‖ is. The poster's condition ‖J_T‖ ≤ m with α ≤ 1/(1 + m) is sufficient, not necessary; what the regularisers change is J_q, the contraction of the steps.");
        md.AppendLine();
        foreach (var (caption, file) in pictures)
        {
            md.AppendLine(Inv, $"![{caption}]({file})");
            md.AppendLine();
        }
        md.AppendLine("| stage | seconds |");
        md.AppendLine("|---|---:|");
        foreach (var (stage, seconds) in run.Timings) md.AppendLine(Inv, $"| {stage} | {seconds:F1} |");
        File.WriteAllText(Path.Combine(folder.FullName, "report.md"), md.ToString());
    }
}
