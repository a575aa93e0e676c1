using System.Globalization;
using Spectre.Console;

namespace Crhn.Cli.Experiments;

/// <summary>A user error: a clear message for the console and a non-zero exit, never a stack trace.</summary>
internal sealed class UsageException(string message) : Exception(message);

/// <summary>What every experiment shares: the data, the image size, the memory sizes and seeds, the
/// training budgets and the output folder.</summary>
internal sealed record ExperimentSettings(
    string Data, int Size, int? Channels, int[] Memory, int Seeds, DirectoryInfo Out,
    int? CodecEpochs, int SraRounds, int PcnEpochs, int SurrogateEpochs, bool UntiedDecoder = false)
{
    /// <summary>The shard of the grid (memory sizes × seeds) this run computes, or null for all of it.</summary>
    public ShardSpec? Shard { get; init; }

    /// <summary>Whether the run trains the baselines and the surrogate (their settings are reported only then).</summary>
    public bool WithBaselines { get; init; } = true;

    /// <summary>Grey for the MNIST family, colour otherwise, unless --channels says.</summary>
    public int ImageChannels => Channels ?? (Data.StartsWith("mnist", StringComparison.OrdinalIgnoreCase) || Data.StartsWith("fashion-mnist", StringComparison.OrdinalIgnoreCase) ? 1 : 3);

    public Dictionary<string, string> Describe()
    {
        var settings = Settings();
        if (!WithBaselines)
            foreach (var key in new[] { "MHN", "PCN", "surrogate" }) settings.Remove(key);
        return settings;
    }

    private Dictionary<string, string> Settings() => new()
    {
        ["data"] = Data,
        ["image size"] = $"{ImageChannels}×{Size}×{Size}",
        ["memory sizes"] = string.Join(", ", Memory),
        ["seeds"] = Seeds.ToString(CultureInfo.InvariantCulture),
        ["CRHN"] = $"conv 16, 32 (kernel 4, stride 2); dense {CodeLength}; {(UntiedDecoder ? "untied" : "tied")} decoder; RHN {string.Join(", ", Memory.Select(m => $"{Rhn(m)} at N = {m}"))}; codec {(CodecEpochs is { } e ? $"{e} epochs" : $"200 epochs or {CodecSteps} Adam steps, whichever is more ({string.Join(", ", Memory.Select(m => $"{EpochsFor(m)} epochs at N = {m}"))})")} (batch 16, Adam 3e-3 with a cosine decay to 5 %, robust: damaged copies against the clean images, best epoch kept); SRA {SraRounds} rounds",
        ["MHN"] = "pixel space, β = 1/√d, one update (hopfield-layers' defaults)",
        ["PCN"] = $"hidden 256, 50 inference steps at Dt 0.01, Adam 5e-4, {PcnEpochs} epochs of 8 batches",
        ["surrogate"] = $"tied conv autoencoder 32, 64 (kernel 4, stride 2), {SurrogateEpochs} epochs (batch 16, Adam 1e-3), its own seed",
    };

    /// <summary>Adam steps the codec gets at least (small memories have few batches per epoch).</summary>
    public const int CodecSteps = 1200;

    /// <summary>The codec's epochs for a memory size: --codec-epochs, else 200 or 1,200 steps of batch 16, whichever is more.</summary>
    public int EpochsFor(int memory) => CodecEpochs ?? Math.Max(200, (int)Math.Ceiling(CodecSteps / Math.Ceiling(memory / 16.0)));

    /// <summary>The code length (512 bits: the RHN then corrects more flipped bits than with 256).</summary>
    public const int CodeLength = 512;

    /// <summary>The RHN's hidden width: 128 (a quarter of the code: the strongest correction) up to
    /// 100 images, since it holds only about 145 codes of 512 bits; 384 above.</summary>
    public static int Rhn(int memory) => memory > 100 ? 384 : 128;

    /// <summary>Loads the images every trial draws from: disjoint blocks of the largest memory size per seed.</summary>
    public ImageBatch LoadPool(string experiment)
    {
        int needed = Memory.Max() * Seeds;
        try
        {
            return ImageBatch.Load(Data, needed, ImageChannels, Size, Size);
        }
        catch (ArgumentOutOfRangeException e) when (e.ParamName == "count")
        {
            throw new UsageException($"{Data}: {FirstLine(e.Message)} {experiment} needs {Memory.Max()} images × {Seeds} seeds = {needed} (each seed stores its own images); lower --memory or --seeds.");
        }
    }

    private static string FirstLine(string message) => message.Split('\n')[0].Split(" (Parameter")[0];
}

/// <summary>One (memory size, seed) trial: the stored images and every model trained on them.</summary>
internal sealed class Trial
{
    private Trial(int memory, int seed, ImageBatch images, CrhnModel crhn, PredictiveCodingMemory pcn, ModernHopfieldMemory mhn, TiedAutoencoder surrogate)
    {
        (Memory, Seed, Images, Crhn, Pcn, Mhn, Surrogate) = (memory, seed, images, crhn, pcn, mhn, surrogate);
    }

    public int Memory { get; }

    public int Seed { get; }

    public ImageBatch Images { get; }

    public CrhnModel Crhn { get; }

    public PredictiveCodingMemory Pcn { get; }

    public ModernHopfieldMemory Mhn { get; }

    public TiedAutoencoder Surrogate { get; }

    /// <summary>The memories compared, baselines first.</summary>
    public IAssociativeMemory[] Memories => [Mhn, Pcn, Crhn];

    /// <summary>Trains every model of a trial, with a progress bar per stage.</summary>
    public static Trial Train(ExperimentSettings s, ImageBatch pool, int memory, int seed, RunInfo run, ProgressContext progress, bool withPcn = true, bool withSurrogate = true)
    {
        var images = pool.Take([.. Enumerable.Range(seed * memory, memory)]);
        string tag = $"N={memory} seed {seed + 1}";
        int epochs = s.EpochsFor(memory);
        var crhnTask = progress.AddTask($"{tag}: CRHN", maxValue: epochs + s.SraRounds);
        var crhn = CrhnModel.Create(new CrhnConfig(images.Channels, s.Size, s.Size, DenseLayers: [ExperimentSettings.CodeLength], RhnHidden: [ExperimentSettings.Rhn(memory)], UntiedDecoder: s.UntiedDecoder), 1000 + seed);
        var report = run.Time("train CRHN", () => crhn.Fit(images, new CrhnTrainingOptions(CodecEpochs: epochs, SraRounds: s.SraRounds),
            new Reporter<TrainingProgress>(p => crhnTask.Value = p.Stage == TrainingStage.Codec ? p.Step : epochs + p.Step)));
        crhnTask.Value = crhnTask.MaxValue;
        if (!report.AllStored)
            AnsiConsole.MarkupLine($"[yellow]{tag}: {Markup.Escape(report.Summary)}; the CRHN is measured as it is.[/]");

        var pcn = PredictiveCodingMemory.Create(images.Channels, s.Size, s.Size, new PredictiveCodingOptions(Epochs: s.PcnEpochs), 2000 + seed);
        if (withPcn)
        {
            var pcnTask = progress.AddTask($"{tag}: PCN", maxValue: Math.Max(1, s.PcnEpochs));
            run.Time("train PCN", () =>
            {
                pcn.Fit(images, new Reporter<TrainingProgress>(p => pcnTask.Value = p.Step));
                return 0;
            });
            pcnTask.Value = pcnTask.MaxValue;
        }

        var mhn = s.WithBaselines ? run.Time("store MHN", () => ModernHopfieldMemory.Store(images)) : ModernHopfieldMemory.Store(images);

        var surrogate = TiedAutoencoder.Create(new AutoencoderConfig(images.Channels, s.Size, s.Size, [32, 64]), 3000 + seed);
        if (withSurrogate)
        {
            var surrogateTask = progress.AddTask($"{tag}: surrogate", maxValue: s.SurrogateEpochs);
            run.Time("train surrogate", () => surrogate.Fit(images, new AutoencoderTrainingOptions(s.SurrogateEpochs),
                new Reporter<TrainingProgress>(p => surrogateTask.Value = p.Step)));
            surrogateTask.Value = surrogateTask.MaxValue;
        }
        return new Trial(memory, seed, images, crhn, pcn, mhn, surrogate);
    }

    /// <summary>Every memory's MSE and recall on the cues, plus the cue's own, timed per model.</summary>
    public (Dictionary<string, double> Mse, Dictionary<string, double> Recall) Measure(ImageBatch cues, PixelMask? unknown, RunInfo run, IEnumerable<IAssociativeMemory>? memories = null) =>
        Score(cues, (memories ?? Memories).Select(m => (m.Name, run.Time($"recall {m.Name}", () => m.Recall(cues, unknown)))));

    /// <summary>The MSE and image recall of outputs already retrieved from the cues, with the cue's own.</summary>
    public (Dictionary<string, double> Mse, Dictionary<string, double> Recall) Score(ImageBatch cues, IEnumerable<(string Name, ImageBatch Output)> outputs)
    {
        var mse = new Dictionary<string, double> { ["cue"] = Degrade.Mse(cues, Images) };
        var recall = new Dictionary<string, double> { ["cue"] = Degrade.NearestRecall(cues, Images) };
        foreach (var (name, output) in outputs)
        {
            mse[name] = Degrade.Mse(output, Images);
            recall[name] = Degrade.NearestRecall(output, Images);
        }
        return (mse, recall);
    }
}

/// <summary>An IProgress that reports synchronously, in order (System.Progress posts to the thread pool).</summary>
internal sealed class Reporter<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
