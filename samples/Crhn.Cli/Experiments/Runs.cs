using System.Globalization;
using Spectre.Console;

namespace Crhn.Cli.Experiments;

/// <summary>A damaged-cue condition: its label, how it damages images, and which pixels it leaves unknown.</summary>
internal sealed record Condition(string Label, Func<ImageBatch, int, ImageBatch> Damage, PixelMask? Unknown);

/// <summary>One figure of one trial: a model's MSE (or image recall) under a condition.</summary>
internal sealed record Measured(int Memory, string Condition, string Model, bool Recall, double Value);

/// <summary>The recall study of one trial and condition: code recall, retrievals no farther than the one-pass decode, the largest excess.</summary>
internal sealed record Studied(int Memory, string Condition, double Recall, int NoFarther, double Excess);

/// <summary>A picture a trial drew into the output folder.</summary>
internal sealed record Drawn(string Caption, string File);

/// <summary>What one (memory size, seed) trial measured: the unit a sharded run writes and a merge reads.</summary>
internal sealed record TrialResult(List<Measured> Measured, List<Studied> Studied, List<Drawn> Pictures)
{
    public TrialResult() : this([], [], []) { }

    /// <summary>Adds every model's MSE and image recall under a condition.</summary>
    public void Record(int memory, string condition, (Dictionary<string, double> Mse, Dictionary<string, double> Recall) measured)
    {
        foreach (var (recall, cells) in new[] { (false, measured.Mse), (true, measured.Recall) })
            foreach (var (model, value) in cells)
                Measured.Add(new(memory, condition, model, recall, value));
    }
}

/// <summary>The experiments of the paper, each writing a report into its output folder.</summary>
internal static class Runs
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private static Progress Bars() => AnsiConsole.Progress().AutoClear(false).HideCompleted(true)
        .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn(), new RemainingTimeColumn());

    private static string Eps(double eps) => $"{eps * 255:0.##}/255";

    /// <summary>Table 1: MSE of MHN, PCN and CRHN under the eight attacks at ε, per memory size, over seeds.</summary>
    public static Report? Table1(ExperimentSettings s, double eps, RunInfo run)
    {
        var report = new Report(s.Out, "table1", $"Table 1: retrieval MSE under attack (ε = {Eps(eps)})");
        var pool = new Lazy<ImageBatch>(() => s.LoadPool("table1"));
        var trials = Trials(s, "table1", run, (memory, seed, ctx) =>
        {
            var result = new TrialResult();
            var trial = Trial.Train(s, pool.Value, memory, seed, run, ctx);
            var task = ctx.AddTask($"N={memory} seed {seed + 1}: attacks", maxValue: Attack.Fgsm.All().Length + 1);
            result.Record(memory, "none (clean cue)", trial.Measure(trial.Images, null, run));
            task.Increment(1);
            foreach (var attack in Attack.Fgsm.All())
            {
                var adv = run.Time($"attack {attack}", () => Adversary.Run(trial.Surrogate, trial.Images, attack, new AttackOptions(Eps: eps, Seed: seed)));
                result.Record(memory, attack.ToString().ToUpperInvariant(), trial.Measure(adv, null, run));
                task.Increment(1);
            }
            return result;
        });
        if (trials is null) return null;
        Fill(report, trials);
        report.Note($"Attacks: torchattacks' update rules and defaults (α = 2/255, 10 steps; FFGSM α = 10/255; DIFGSM resize 0.9, p = 0.5; EOTPGD 2 samples) at ε = {Eps(eps)}, on a surrogate autoencoder trained separately on the same images, maximising its reconstruction MSE against the clean image. The cue column is the attacked image's own MSE.");
        return report;
    }

    /// <summary>Table 2: the ablation — CRHN against its codec alone, under Gaussian noise and masking.</summary>
    public static Report? Table2(ExperimentSettings s, double[] sigmas, int[] columnsAt96, RunInfo run)
    {
        var report = new Report(s.Out, "table2", "Table 2: CRHN against the codec alone (without the RHN)");
        var pool = new Lazy<ImageBatch>(() => s.LoadPool("table2"));
        var conditions = NoiseConditions(sigmas).Concat(MaskConditions(s, columnsAt96)).ToArray();
        var trials = Trials(s, "table2", run, (memory, seed, ctx) =>
        {
            var result = new TrialResult();
            var trial = Trial.Train(s, pool.Value, memory, seed, run, ctx, withPcn: false, withSurrogate: false);
            IAssociativeMemory[] models = [trial.Crhn.WithoutRhn(), trial.Crhn];
            var task = ctx.AddTask($"N={memory} seed {seed + 1}: cues", maxValue: conditions.Length);
            foreach (var c in conditions)
            {
                result.Record(memory, c.Label, trial.Measure(c.Damage(trial.Images, seed), c.Unknown, run, models));
                task.Increment(1);
            }
            return result;
        });
        if (trials is null) return null;
        Fill(report, trials);
        report.Note("Noise σ is on the [0, 1] scale (σ = 0.1 here is 0.2 on the paper's [−1, 1] scale). Masked columns are the rightmost ones, set to black.");
        return report;
    }

    /// <summary>Recall: CRHN against its codec alone on clean, noisy and masked cues (the mask given
    /// and not), with the share of cues ending on their own stored code and of retrievals no farther
    /// from the stored image than the one-pass decode.</summary>
    public static Report? Recall(ExperimentSettings s, double[] sigmas, int[] columnsAt96, RunInfo run)
    {
        var report = new Report(s.Out, "recall", "Recall: CRHN against its codec alone");
        var pool = new Lazy<ImageBatch>(() => s.LoadPool("recall"));
        var masks = MaskConditions(s, columnsAt96).ToArray();
        Condition[] conditions =
        [
            new("clean", (x, _) => x, null), .. NoiseConditions(sigmas), .. masks,
            .. masks.Select(m => m with { Label = $"{m.Label}, no mask", Unknown = null }),
        ];
        var trials = Trials(s, "recall", run, (memory, seed, ctx) =>
        {
            var result = new TrialResult();
            var trial = Trial.Train(s, pool.Value, memory, seed, run, ctx, withPcn: false, withSurrogate: false);
            var task = ctx.AddTask($"N={memory} seed {seed + 1}: cues", maxValue: conditions.Length);
            foreach (var c in conditions)
            {
                var cues = c.Damage(trial.Images, seed);
                // Each memory retrieves once; the same outputs give the MSE, image recall and the comparison.
                var onePass = run.Time("recall codec only", () => trial.Crhn.Retrieve(cues, new RetrievalOptions(UseRhn: false), c.Unknown).Images);
                var crhn = run.Time("recall CRHN", () => trial.Crhn.Retrieve(cues, null, c.Unknown));
                result.Record(memory, c.Label, trial.Score(cues, [("codec only", onePass), ("CRHN", crhn.Images)]));
                var excess = Enumerable.Range(0, memory).Select(i => ImageMse(crhn.Images, trial.Images, i) - ImageMse(onePass, trial.Images, i)).ToArray();
                result.Studied.Add(new(memory, c.Label, crhn.RecallAccuracy(), excess.Count(e => e <= 0), excess.Max()));
                task.Increment(1);
            }
            return result;
        });
        if (trials is null) return null;
        Fill(report, trials);
        var studied = new Dictionary<(int Memory, string Condition), List<(double Recall, int NoFarther, double Excess)>>();
        foreach (var st in trials.SelectMany(t => t.Studied))
        {
            if (!studied.TryGetValue((st.Memory, st.Condition), out var list)) studied[(st.Memory, st.Condition)] = list = [];
            list.Add((st.Recall, st.NoFarther, st.Excess));
        }
        var table = new System.Text.StringBuilder();
        table.AppendLine("**Code recall and \"no farther\"** (per seed: the share of cues whose code ended on their own stored code; the retrievals, of the memory size, whose image is no farther from the stored image than the codec's one-pass decode; the largest excess MSE of the others)");
        table.AppendLine();
        table.AppendLine("| memory | condition | code recall | no farther | all seeds | largest excess |");
        table.AppendLine("|---:|---|---|---|---:|---:|");
        foreach (var ((memory, condition), list) in studied)
            table.AppendLine(string.Create(Inv, $"| {memory} | {condition} | {string.Join(" / ", list.Select(l => $"{100 * l.Recall:0} %"))} | {string.Join(" / ", list.Select(l => l.NoFarther))} | {100.0 * list.Sum(l => l.NoFarther) / (memory * list.Count):0.0} % | {list.Max(l => l.Excess):0.0000} |"));
        foreach (int memory in s.Memory)
        {
            var all = studied.Where(kv => kv.Key.Memory == memory).SelectMany(kv => kv.Value).ToArray();
            table.AppendLine();
            table.AppendLine(string.Create(Inv, $"Memory {memory}, every condition and seed: {100.0 * all.Sum(l => l.NoFarther) / (memory * all.Length):0.0} % of {memory * all.Length} retrievals no farther than the one-pass decode."));
        }
        report.Note(table.ToString());
        report.Note("Noise σ is on the [0, 1] scale. Masked columns are the rightmost ones, set to black; with the mask given the CRHN and the codec keep the known pixels. A CRHN cue whose code settles on no stored pattern returns its own one-pass decode.");
        return report;
    }

    private static double ImageMse(ImageBatch a, ImageBatch b, int i)
    {
        int d = a.Channels * a.Height * a.Width;
        var x = a.Values.Slice(i * d, d);
        var y = b.Values.Slice(i * d, d);
        double sum = 0;
        for (int k = 0; k < d; k++) sum += (x[k] - (double)y[k]) * (x[k] - (double)y[k]);
        return sum / d;
    }

    /// <summary>Figures 4 and 5: grids clean | cue | MHN | PCN | CRHN for each condition, and their MSEs.</summary>
    public static Report? Figure(ExperimentSettings s, string name, string title, Condition[] conditions, int rows, RunInfo run)
    {
        var report = new Report(s.Out, name, title);
        var pool = new Lazy<ImageBatch>(() => s.LoadPool(name));
        var trials = Trials(s, name, run, (memory, seed, ctx) =>
        {
            var result = new TrialResult();
            var trial = Trial.Train(s, pool.Value, memory, seed, run, ctx, withSurrogate: false);
            var task = ctx.AddTask($"N={memory} seed {seed + 1}: cues", maxValue: conditions.Length);
            foreach (var c in conditions)
            {
                var cues = c.Damage(trial.Images, seed);
                result.Record(memory, c.Label, trial.Measure(cues, c.Unknown, run));
                if (seed == 0)
                {
                    var shown = Enumerable.Range(0, Math.Min(rows, memory)).ToArray();
                    var file = $"{name}-N{memory}-{Slug(c.Label)}.png";
                    s.Out.Create();
                    ImageBatch.SaveGrid(Path.Combine(s.Out.FullName, file),
                        [trial.Images.Take(shown), cues.Take(shown), .. trial.Memories.Select(m => m.Recall(cues.Take(shown), c.Unknown))]);
                    result.Pictures.Add(new($"N = {memory}, {c.Label}: clean | cue | MHN | PCN | CRHN", file));
                }
                task.Increment(1);
            }
            return result;
        });
        if (trials is null) return null;
        Fill(report, trials);
        return report;
    }

    /// <summary>Figure 6: MSE against ε for every attack and model, one SVG per attack.</summary>
    public static Report? Figure6(ExperimentSettings s, double[] epsilons, RunInfo run)
    {
        var report = new Report(s.Out, "fig6", "Figure 6: retrieval MSE against the attack budget ε");
        var pool = new Lazy<ImageBatch>(() => s.LoadPool("fig6"));
        var trials = Trials(s, "fig6", run, (memory, seed, ctx) =>
        {
            var result = new TrialResult();
            var trial = Trial.Train(s, pool.Value, memory, seed, run, ctx);
            var task = ctx.AddTask($"N={memory} seed {seed + 1}: attacks × ε", maxValue: Attack.Fgsm.All().Length * epsilons.Length);
            foreach (var attack in Attack.Fgsm.All())
                foreach (var eps in epsilons)
                {
                    var adv = run.Time($"attack {attack}", () => Adversary.Run(trial.Surrogate, trial.Images, attack, new AttackOptions(Eps: eps, Seed: seed)));
                    result.Record(memory, $"{attack.ToString().ToUpperInvariant()} ε={Eps(eps)}", trial.Measure(adv, null, run));
                    task.Increment(1);
                }
            return result;
        });
        if (trials is null) return null;
        Fill(report, trials);
        s.Out.Create();
        foreach (int memory in s.Memory)
            foreach (var attack in Attack.Fgsm.All())
            {
                string label = attack.ToString().ToUpperInvariant();
                var series = new[] { "cue", "MHN", "PCN", "CRHN" }.Select(model => new Series(model,
                    [.. epsilons.Select(e => e * 255)],
                    [.. epsilons.Select(e => report.Rows.First(r => r.Memory == memory && r.Model == model && r.Condition == $"{label} ε={Eps(e)}").Mean)])).ToArray();
                var file = $"fig6-N{memory}-{label.ToLowerInvariant()}.svg";
                File.WriteAllText(Path.Combine(s.Out.FullName, file), Svg.LinePlot($"{label}, memory {memory}", "ε (×1/255)", "MSE", series));
                report.Picture($"{label}, memory {memory}", file);
            }
        return report;
    }

    public static IEnumerable<Condition> NoiseConditions(double[] sigmas) =>
        sigmas.Select(sigma => new Condition($"noise σ={sigma.ToString("0.###", Inv)}", (x, seed) => Degrade.GaussianNoise(x, sigma, 7000 + seed), null));

    /// <summary>Masking conditions given as columns of a 96-pixel image (the paper's STL-10), scaled to the size.</summary>
    public static IEnumerable<Condition> MaskConditions(ExperimentSettings s, int[] columnsAt96) =>
        columnsAt96.Select(c =>
        {
            int k = Math.Clamp((int)Math.Round(c * s.Size / 96.0), 0, s.Size);
            return new Condition($"mask {k}/{s.Size} columns", (x, _) => Degrade.MaskColumns(x, k), PixelMask.Columns(s.ImageChannels, s.Size, s.Size, k));
        });

    public static IEnumerable<Condition> BrightnessConditions(double[] betas) =>
        betas.Select(b => new Condition($"brightness β={b.ToString("+0.###;-0.###", Inv)}", (x, _) => Degrade.Brightness(x, b), null));

    public static IEnumerable<Condition> ContrastConditions(double[] alphas) =>
        alphas.Select(a => new Condition($"contrast α={a.ToString("0.###", Inv)}", (x, _) => Degrade.Contrast(x, a), null));

    private static Attack[] All(this Attack _) => Enum.GetValues<Attack>();

    /// <summary>Every trial of the grid (memory sizes × seeds, in that order) in the run's shard, or
    /// those of merged shards; null when this run is a shard (it wrote them to its folder).</summary>
    private static IReadOnlyList<TrialResult>? Trials(ExperimentSettings s, string name, RunInfo run, Func<int, int, ProgressContext, TrialResult> trial)
    {
        IReadOnlyList<TrialResult>? results = null;
        Bars().Start(ctx => results = Sharding.Run(name, s.Memory.Length * s.Seeds, s.Shard, s.Out, run, u => trial(s.Memory[u / s.Seeds], u % s.Seeds, ctx)));
        return results;
    }

    /// <summary>The trials' figures into the report: per memory, condition and model, the values of the seeds in order.</summary>
    private static void Fill(Report report, IReadOnlyList<TrialResult> trials)
    {
        var values = new Dictionary<(int, string, string, bool), List<double>>();
        foreach (var m in trials.SelectMany(t => t.Measured))
        {
            if (!values.TryGetValue((m.Memory, m.Condition, m.Model, m.Recall), out var list)) values[(m.Memory, m.Condition, m.Model, m.Recall)] = list = [];
            list.Add(m.Value);
        }
        foreach (var ((memory, condition, model, recall), list) in values)
            if (recall) report.AddRecall(memory, condition, model, list);
            else report.Add(memory, condition, model, list);
        foreach (var p in trials.SelectMany(t => t.Pictures)) report.Picture(p.Caption, p.File);
    }

    private static string Slug(string label) =>
        string.Join("-", System.Text.RegularExpressions.Regex.Split(label.ToLowerInvariant().Replace("=-", " minus ").Replace("=+", " plus "), "[^a-z0-9.]+")
            .Where(part => part.Length > 0));
}
