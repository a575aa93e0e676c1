using Crhn.Core;
using Crhn.Core.Models;

namespace Crhn;

/// <summary>The value range a model works in. Images enter and leave the API in [0, 1]; a model in
/// <see cref="MinusOneToOne"/> maps them to [−1, 1] inside (the paper scales STL-10 so).</summary>
public enum DataRange
{
    /// <summary>Values in [0, 1]; the decoder ends in a sigmoid.</summary>
    ZeroToOne,

    /// <summary>Values in [−1, 1]; the decoder ends in tanh.</summary>
    MinusOneToOne,
}

/// <summary>The layer stack of a CRHN: a tied convolutional codec with a binary latent, and the RHN that stores its codes.</summary>
/// <param name="Channels">Image channels (default 3).</param>
/// <param name="Height">Image rows (default 32).</param>
/// <param name="Width">Image columns (default 32).</param>
/// <param name="ConvLayers">Output channels of each conv layer (default 16, 32).</param>
/// <param name="Kernel">Square kernel of every conv layer (default 4).</param>
/// <param name="Stride">Stride of every conv layer (default 2).</param>
/// <param name="Padding">Zero padding of every conv layer (default 1).</param>
/// <param name="DenseLayers">Widths of the dense layers after the convolutions; the last is the code length (default 512:
/// against 256 bits, the RHN's projection keeps a smaller share of each flipped bit, so it corrects more of them).</param>
/// <param name="RhnHidden">Widths of the RHN's hidden layers (default 128: a quarter of the code, so that its
/// projection filters three quarters of any isotropic noise, Observation 4; see the README for the measured capacity).</param>
/// <param name="Range">The value range the model works in (default <see cref="DataRange.MinusOneToOne"/>).</param>
/// <param name="UntiedDecoder">The decoder gets kernels and dense weights of its own, initialised equal to the encoder's
/// (default false: the paper's tied codec; see the README for what each measured).</param>
public sealed record CrhnConfig(
    int Channels = 3, int Height = 32, int Width = 32, IReadOnlyList<int>? ConvLayers = null,
    int Kernel = ConvGeometry.Kernel, int Stride = ConvGeometry.Stride, int Padding = ConvGeometry.Padding, IReadOnlyList<int>? DenseLayers = null,
    IReadOnlyList<int>? RhnHidden = null, DataRange Range = DataRange.MinusOneToOne, bool UntiedDecoder = false)
{
    private readonly IReadOnlyList<int>? _conv = Copy(ConvLayers), _dense = Copy(DenseLayers), _rhn = Copy(RhnHidden);

    /// <summary>Output channels of each conv layer (null: the default 16, 32); a read-only copy of what was given.</summary>
    public IReadOnlyList<int>? ConvLayers { get => _conv; init => _conv = Copy(value); }

    /// <summary>Widths of the dense layers (null: the default 512); a read-only copy of what was given.</summary>
    public IReadOnlyList<int>? DenseLayers { get => _dense; init => _dense = Copy(value); }

    /// <summary>Widths of the RHN's hidden layers (null: the default 128); a read-only copy of what was given.</summary>
    public IReadOnlyList<int>? RhnHidden { get => _rhn; init => _rhn = Copy(value); }

    /// <summary>The conv layers, defaulting to 16, 32.</summary>
    public IReadOnlyList<int> ConvChannels => ConvLayers ?? DefaultConv;

    /// <summary>The dense layers, defaulting to 512.</summary>
    public IReadOnlyList<int> DenseWidths => DenseLayers ?? DefaultDense;

    /// <summary>The RHN's hidden layers, defaulting to 128.</summary>
    public IReadOnlyList<int> RhnWidths => RhnHidden ?? DefaultRhn;

    /// <summary>The code length: the last dense width (0 without a dense layer, which <see cref="CrhnModel.Create"/> refuses).</summary>
    public int CodeLength => DenseWidths.Count > 0 ? DenseWidths[^1] : 0;

    /// <summary>Configs are equal when they describe the same stack: the same sizes, widths (a default
    /// equals the same widths given), geometry, range and decoder.</summary>
    public bool Equals(CrhnConfig? other) =>
        other is not null && Channels == other.Channels && Height == other.Height && Width == other.Width
        && Kernel == other.Kernel && Stride == other.Stride && Padding == other.Padding && Range == other.Range && UntiedDecoder == other.UntiedDecoder
        && ConvChannels.SequenceEqual(other.ConvChannels) && DenseWidths.SequenceEqual(other.DenseWidths) && RhnWidths.SequenceEqual(other.RhnWidths);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var h = new HashCode();
        foreach (var v in new[] { Channels, Height, Width, Kernel, Stride, Padding, (int)Range, UntiedDecoder ? 1 : 0 }) h.Add(v);
        foreach (var list in new[] { ConvChannels, DenseWidths, RhnWidths })
        {
            h.Add(list.Count);
            foreach (var v in list) h.Add(v);
        }
        return h.ToHashCode();
    }

    private static readonly IReadOnlyList<int> DefaultConv = Array.AsReadOnly(new[] { 16, 32 });
    private static readonly IReadOnlyList<int> DefaultDense = Array.AsReadOnly(new[] { 512 });
    private static readonly IReadOnlyList<int> DefaultRhn = Array.AsReadOnly(new[] { 128 });

    private static IReadOnlyList<int>? Copy(IReadOnlyList<int>? widths) => widths is null ? null : Array.AsReadOnly(widths.ToArray());
}

/// <summary>Which rotations SRA applies each round.</summary>
public enum SraRotations
{
    /// <summary>RSRA then LSRA (the default: the paper found both more robust than LSRA alone).</summary>
    Both,

    /// <summary>Only LSRA.</summary>
    LeftOnly,

    /// <summary>Only RSRA.</summary>
    RightOnly,
}

/// <summary>How to train a CRHN: the codec first (Adam on the reconstruction error), then SRA on its codes.</summary>
/// <param name="CodecEpochs">Most codec training epochs (default 200).</param>
/// <param name="BatchSize">Images per Adam step (default 16).</param>
/// <param name="LearningRate">Adam's learning rate at the first epoch (default 3e-3).</param>
/// <param name="SraRounds">Most SRA rounds (default 100, as the reference).</param>
/// <param name="Rotations">Which rotations each round applies (default both).</param>
/// <param name="SraMinRounds">Rounds SRA runs even once every code is a fixed point (default 100; the reference stops at
/// once, 0). Later rounds keep aligning the reconstructions with the codes, which widens the stored codes' basins.</param>
/// <param name="Robust">Also train the codec on a damaged copy of every batch (noise, occluded columns, both)
/// against the clean images, with a hinge pulling its code to the clean code and a term spreading the codes of different
/// images apart, so that damaged cues encode near their own stored codes and far from the others (default true; false is the paper's codec).</param>
/// <param name="FinalLearningRate">The learning rate at the last epoch as a fraction of the first, by a cosine schedule (default 0.05; 1 keeps it constant).</param>
/// <param name="KeepBest">Keep the codec weights of the epoch with the lowest clean reconstruction error, not the last (default true).</param>
/// <param name="Patience">Stop codec training after this many epochs without a lower clean error (default 0: run every epoch).</param>
public sealed record CrhnTrainingOptions(int CodecEpochs = 200, int BatchSize = 16, double LearningRate = 3e-3, int SraRounds = 100,
    SraRotations Rotations = SraRotations.Both, int SraMinRounds = 100, bool Robust = true, double FinalLearningRate = 0.05, bool KeepBest = true, int Patience = 0);

/// <summary>How to retrieve.</summary>
/// <param name="MaxSteps">Most RHN passes in code space (and, with a known mask, most fill-in rounds) (default 50).</param>
/// <param name="UseRhn">false runs the ablation "CRHN without RHN": the same codec in one pass, encode → sign → decode (default true).</param>
public sealed record RetrievalOptions(int MaxSteps = 50, bool UseRhn = true);

/// <summary>What a model is training when it reports progress.</summary>
public enum TrainingStage
{
    /// <summary>A CRHN's codec: Adam epochs on the reconstruction error.</summary>
    Codec,

    /// <summary>A CRHN's RHN: rounds of the Subspace Rotation Algorithm.</summary>
    Sra,

    /// <summary>A predictive-coding memory's epochs.</summary>
    PredictiveCoding,

    /// <summary>A tied autoencoder's epochs.</summary>
    Autoencoder,

    /// <summary>An iterative classifier's epochs.</summary>
    Classifier,
}

/// <summary>Progress of training, the one shape every model's <c>Fit</c> reports: the stage, the
/// step within it and its figure.</summary>
/// <param name="Stage">What is training.</param>
/// <param name="Step">The epoch or round just finished.</param>
/// <param name="Of">The most epochs or rounds the stage runs.</param>
/// <param name="Value">The epoch's mean loss; for <see cref="TrainingStage.Sra"/>, the fraction of codes that are fixed points.</param>
public readonly record struct TrainingProgress(TrainingStage Stage, int Step, int Of, double Value);

/// <summary>What training did.</summary>
/// <param name="CodecLosses">The codec's clean reconstruction error per epoch run (on the model's value range).</param>
/// <param name="SraRounds">SRA rounds run.</param>
/// <param name="Stored">How many of the images' codes are fixed points of the RHN (recalled exactly from a clean cue).</param>
/// <param name="Patterns">How many images were memorised.</param>
public sealed record TrainingReport(IReadOnlyList<double> CodecLosses, int SraRounds, int Stored, int Patterns)
{
    /// <summary>Whether every image's code became a fixed point of the RHN.</summary>
    public bool AllStored => Stored == Patterns;

    /// <summary>One line for people: what was stored, and a warning when not everything was.</summary>
    public string Summary => AllStored
        ? $"every one of the {Patterns} images stored after {SraRounds} SRA round(s)"
        : $"warning: only {Stored} of {Patterns} images stored after {SraRounds} SRA round(s); the rest are not fixed points and cannot be recalled exactly (store fewer, or widen the RHN)";
}

/// <summary>One step of a retrieval (step 0 is the cue's own code).</summary>
/// <param name="Step">0, 1, …</param>
/// <param name="Images">The decoded images, in [0, 1] (visible pixels of a known mask restored).</param>
/// <param name="Codes">The ±1 codes after the step, one row per image.</param>
/// <param name="Energy">The RHN energy of each code (NaN without the RHN).</param>
/// <param name="Changed">How many codes the step changed.</param>
/// <param name="Change">Mean squared change of the images from the previous step (NaN at step 0).</param>
public sealed record RetrievalStepInfo(int Step, ImageBatch Images, sbyte[][] Codes, double[] Energy, int Changed, double Change);

/// <summary>Where one cue's retrieval ended.</summary>
/// <param name="Recalled">The index of the stored pattern whose code the final code equals, or null when it equals none.</param>
/// <param name="Nearest">The index of the stored pattern whose code is nearest the final code.</param>
/// <param name="Hamming">The Hamming distance of the final code to the nearest stored code (0 when recalled).</param>
/// <param name="Converged">Whether the code reached a fixed point of the dynamics.</param>
/// <param name="ReturnedStep">The step whose code is returned: the last one that changed it, or 0 (the cue's own code) when it settled on no stored pattern.</param>
/// <param name="Energies">The RHN energy of this cue's code at each step.</param>
public sealed record CueOutcome(int? Recalled, int Nearest, int Hamming, bool Converged, int ReturnedStep, IReadOnlyList<double> Energies);

/// <summary>A retrieval: every step, the returned images, and per cue where it ended.</summary>
/// <param name="Steps">Every step, first (the cue's own code) to last.</param>
/// <param name="Images">The returned images: the one-pass decode of the returned codes (a cue that settled on no stored pattern returns its own one-pass decode), visible pixels of a known mask restored.</param>
/// <param name="Cues">Per cue: the stored pattern it ended on, its distance to the nearest, convergence, the returned step and its energies.</param>
public sealed record RetrievalResult(IReadOnlyList<RetrievalStepInfo> Steps, ImageBatch Images, IReadOnlyList<CueOutcome> Cues)
{
    /// <summary>Whether every cue's code reached a fixed point.</summary>
    public bool Converged => Cues.All(c => c.Converged);

    /// <summary>The share of cues that ended on their own stored pattern: cue i on pattern
    /// <paramref name="expected"/>[i], or on pattern i when <paramref name="expected"/> is null.</summary>
    /// <exception cref="ArgumentException">The expected list is not one index per cue.</exception>
    public double RecallAccuracy(IReadOnlyList<int>? expected = null)
    {
        if (expected is not null && expected.Count != Cues.Count)
            throw new ArgumentException($"Expected one index per cue ({Cues.Count}), found {expected.Count}.", nameof(expected));
        return Cues.Select((c, i) => c.Recalled == (expected?[i] ?? i) ? 1.0 : 0.0).Average();
    }
}

/// <summary>
/// A Convolutional Restricted Hopfield Network: memorises images as fixed points of an RHN over a
/// tied codec's binary codes, and retrieves them from damaged cues: encode once, run the RHN in
/// code space to a fixed point, decode once (with a known mask, fill the unknown pixels and repeat).
/// Retrieve is safe to call from several threads at once.
/// </summary>
public sealed class CrhnModel : IAssociativeMemory
{
    private readonly TiedCodec _codec;
    private readonly RhnNetwork _rhn;
    private RawTensor? _codes;

    private CrhnModel(CrhnConfig config, TiedCodec codec, RhnNetwork rhn)
    {
        Config = config;
        _codec = codec;
        _rhn = rhn;
    }

    /// <summary>The layer stack.</summary>
    public CrhnConfig Config { get; }

    /// <summary>The options of the last <see cref="Fit"/> (null before any).</summary>
    public CrhnTrainingOptions? TrainedWith { get; private set; }

    /// <summary>Creates an untrained model; the same seed gives the same weights.</summary>
    /// <remarks>One seed serves the whole model: the codec draws from the seed's own stream, the
    /// RHN from the seed's stream named <c>rhn</c> (as every component of the library names the
    /// streams it draws from), so the two never share draws.</remarks>
    /// <exception cref="ArgumentException">A size is not positive, or the stack shrinks the image to nothing.</exception>
    public static CrhnModel Create(CrhnConfig config, int seed)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (!Enum.IsDefined(config.Range))
            throw new ArgumentException($"Range must be one of {string.Join(", ", Enum.GetNames<DataRange>())}; found {(int)config.Range}.", nameof(config));

        if (config.DenseWidths.Count == 0)
            throw new ArgumentException("A CRHN needs at least one dense layer: the last one's width is the code length.", nameof(config));
        TiedCodec codec;
        try
        {
            codec = new TiedCodec(new CodecConfig(config.Channels, config.Height, config.Width, [.. config.ConvChannels],
                config.Kernel, config.Stride, config.Padding, [.. config.DenseWidths], Latent.Binary,
                config.Range == DataRange.ZeroToOne ? OutputMap.Sigmoid : OutputMap.Tanh, false, config.UntiedDecoder), (ulong)seed);
        }
        catch (OverflowException)
        {
            throw new ArgumentException($"A {config.Channels}×{config.Height}×{config.Width} input through this stack is too large: its sizes overflow 32-bit counts.", nameof(config));
        }
        var rhn = new RhnNetwork([config.CodeLength, .. config.RhnWidths], Rng.named((ulong)seed, "rhn"), null);
        return new CrhnModel(config, codec, rhn);
    }

    /// <summary>Memorises the images: trains the codec, then stores its codes in the RHN by SRA.</summary>
    /// <exception cref="ArgumentException">The images do not match the config, or there are none.</exception>
    public TrainingReport Fit(ImageBatch images, CrhnTrainingOptions? options = null,
        IProgress<TrainingProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        var o = options ?? new CrhnTrainingOptions();
        ArgumentNullException.ThrowIfNull(images);
        if (Invalid(o) is { } why) throw new ArgumentOutOfRangeException(nameof(options), o, why);
        var x = ToModel(images);
        double lo = Config.Range == DataRange.MinusOneToOne ? -1 : 0;
        var damage = o.Robust
            ? Microsoft.FSharp.Core.FSharpOption<Microsoft.FSharp.Core.FSharpFunc<RawTensor, Microsoft.FSharp.Core.FSharpFunc<ulong, RawTensor>>>.Some(
                Microsoft.FSharp.Core.FuncConvert.FromFunc<RawTensor, ulong, RawTensor>((batch, seed) =>
                    Degradations.training(batch, RobustNoise, lo, 1.0, seed)))
            : null;
        var training = new CodecTraining(o.CodecEpochs, o.BatchSize, o.LearningRate, o.FinalLearningRate, o.Patience, o.KeepBest, damage, o.Robust ? CodeMargin : 0.0, o.Robust ? Spread : 0.0);
        var mode = o.Rotations switch
        {
            SraRotations.LeftOnly => SraMode.LeftOnly,
            SraRotations.RightOnly => SraMode.RightOnly,
            _ => SraMode.Both,
        };
        // The memory trains itself (codec, then SRA on its codes); the facade only adapts.
        var trained = new CrhnMemory(_codec, Microsoft.FSharp.Core.FSharpOption<RhnNetwork>.Some(_rhn)).Fit(x, training, o.SraMinRounds, o.SraRounds, mode,
            Microsoft.FSharp.Core.FuncConvert.FromAction<EpochReport>(r => progress?.Report(new TrainingProgress(TrainingStage.Codec, r.Epoch, o.CodecEpochs, r.Loss))),
            Microsoft.FSharp.Core.FuncConvert.FromAction<SraReport>(r => progress?.Report(new TrainingProgress(TrainingStage.Sra, r.Round, o.SraRounds, (double)r.FixedPoints / r.Codes))),
            cancellationToken);
        _codes = trained.Codes;
        TrainedWith = o;
        return new TrainingReport([.. trained.CodecEpochs.Select(l => l.Loss)], trained.SraRounds, trained.FixedPoints, trained.Codes.Shape[0]);
    }

    /// <summary>Why training options cannot train (null when they can).</summary>
    private static string? Invalid(CrhnTrainingOptions o) =>
        o.CodecEpochs <= 0 || o.BatchSize <= 0 || o.SraRounds < 0 || o.SraMinRounds < 0 || o.Patience < 0
            ? "Codec epochs and batch size must be positive, SRA rounds and patience non-negative."
        : !(o.LearningRate > 0 && o.LearningRate <= 1)
            ? $"The learning rate must be in (0, 1]; found {o.LearningRate}."
        : !(o.FinalLearningRate > 0 && o.FinalLearningRate <= 1)
            ? $"The final learning rate must be a fraction in (0, 1]; found {o.FinalLearningRate}."
        : !Enum.IsDefined(o.Rotations)
            ? $"Rotations must be one of {string.Join(", ", Enum.GetNames<SraRotations>())}; found {(int)o.Rotations}."
        : null;

    /// <summary>The largest σ of the robust training's Gaussian noise, as a fraction of the value
    /// range (0.5: σ up to 0.5 on [0, 1]; 0.3 left σ = 0.3 cues at the edge of what it saw).</summary>
    private const double RobustNoise = 0.5;

    /// <summary>The weight of the robust training's code hinge (measured on 100 photo patches:
    /// 0.1 took the masked cues' code error from 22 to 2 bits; 1 cost the clean error fivefold).</summary>
    private const double CodeMargin = 0.1;

    /// <summary>The weight of the robust training's code spread (measured on 100 photo patches over 3 seeds:
    /// 1 took the median distance from a code to its nearest other from 12 to 72 bits and σ = 0.3 recall
    /// from 92–95 % to 100 %; 3 and 10 spread them further but cost recall under heavy damage).</summary>
    private const double Spread = 1.0;

    /// <summary>Saves the config, every weight and the training options to a versioned binary file
    /// with a checksum, atomically (a temporary file renamed over the target).</summary>
    public void Save(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var (entries, tensors) = Contents();
        ModelFile.save(path, entries, tensors);
    }

    /// <summary>Writes the model, as <see cref="Save(string)"/> writes it to a file, to a stream (which stays open).</summary>
    public void Save(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var (entries, tensors) = Contents();
        stream.Write(ModelFile.toBytes(entries, tensors));
    }

    /// <summary>The entries and tensors a model file holds.</summary>
    private (Microsoft.FSharp.Collections.FSharpList<Tuple<string, string>>, Microsoft.FSharp.Collections.FSharpList<Tuple<string, RawTensor>>) Contents()
    {
        static string List(IEnumerable<int> xs) => string.Join(",", xs);
        var c = Config;
        var entries = new List<Tuple<string, string>>
        {
            new("kind", "crhn"), new("channels", $"{c.Channels}"), new("height", $"{c.Height}"), new("width", $"{c.Width}"),
            new("conv", List(c.ConvChannels)), new("kernel", $"{c.Kernel}"), new("stride", $"{c.Stride}"), new("padding", $"{c.Padding}"),
            new("dense", List(c.DenseWidths)), new("rhn", List(c.RhnWidths)), new("range", c.Range.ToString()),
            new("decoder", c.UntiedDecoder ? "untied" : "tied"),
        };
        if (TrainedWith is { } o)
            entries.AddRange([new("codecEpochs", $"{o.CodecEpochs}"), new("batchSize", $"{o.BatchSize}"),
                new("learningRate", o.LearningRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
                new("sraRounds", $"{o.SraRounds}"), new("rotations", o.Rotations.ToString()),
                new("sraMinRounds", $"{o.SraMinRounds}"), new("robust", o.Robust ? "true" : "false"),
                new("finalLearningRate", o.FinalLearningRate.ToString("R", System.Globalization.CultureInfo.InvariantCulture)),
                new("keepBest", o.KeepBest ? "true" : "false"), new("patience", $"{o.Patience}")]);
        var tensors = Weights().ToList();
        if (_codes is not null) tensors.Add(Tuple.Create("memory.codes", _codes));
        return (Microsoft.FSharp.Collections.ListModule.OfSeq(entries), Microsoft.FSharp.Collections.ListModule.OfSeq(tensors));
    }

    /// <summary>The same model (weights, stored codes, training options) with its tensors on the named
    /// backend (<see cref="Engine.UseBackend"/>), bit for bit: a copy through the host.</summary>
    /// <exception cref="ArgumentException">No backend has that name.</exception>
    public CrhnModel MoveTo(string backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        using var bytes = new MemoryStream();
        Save(bytes);
        bytes.Position = 0;
        using var _ = Engine.UseBackend(backend);
        return Load(bytes);
    }

    /// <summary>Loads a model saved by <see cref="Save(string)"/>.</summary>
    /// <exception cref="ModelFormatException">The file is not a Crhn model, is of another format version, is truncated, or was modified.</exception>
    public static CrhnModel Load(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return FromContents(ModelFile.load(path));
    }

    /// <summary>Reads a model, as <see cref="Save(Stream)"/> wrote it, from the rest of a stream.</summary>
    /// <exception cref="ModelFormatException">The bytes are not a Crhn model, are of another format version, are truncated, or were modified.</exception>
    public static CrhnModel Load(Stream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return FromContents(ModelFile.ofBytes(copy.ToArray()));
    }

    private static CrhnModel FromContents(Tuple<Microsoft.FSharp.Collections.FSharpList<Tuple<string, string>>, Microsoft.FSharp.Collections.FSharpList<Tuple<string, RawTensor>>> contents)
    {
        var (entryList, tensorList) = contents;
        var entries = entryList.ToDictionary(e => e.Item1, e => e.Item2);
        string Get(string key) => entries.TryGetValue(key, out var v) ? v : throw new ModelFormatException($"The model file has no \"{key}\" entry.");
        int Int(string key) => int.TryParse(Get(key), out var v) ? v : throw new ModelFormatException($"The model file's \"{key}\" entry is not a number: {Get(key)}.");
        bool Bool(string key) => Get(key) switch
        {
            "true" => true,
            "false" => false,
            var v => throw new ModelFormatException($"The model file's \"{key}\" entry is not true or false: {v}."),
        };
        double Double(string key) => double.TryParse(Get(key), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var v)
            ? v : throw new ModelFormatException($"The model file's \"{key}\" entry is not a number: {Get(key)}.");
        int[] Ints(string key) => [.. Get(key).Split(',', StringSplitOptions.RemoveEmptyEntries).Select(s => int.TryParse(s, out var v) ? v : throw new ModelFormatException($"The model file's \"{key}\" entry is not a list of numbers: {Get(key)}."))];
        if (Get("kind") != "crhn") throw new ModelFormatException($"The model file holds a \"{Get("kind")}\" model, not a CRHN.");
        // Enum entries are written by name: a number or an undefined name is not a value of the enum.
        T Named<T>(string key) where T : struct, Enum =>
            Enum.TryParse<T>(Get(key), out var v) && Enum.IsDefined(v) && !Get(key).TrimStart('-').Any(char.IsAsciiDigit)
                ? v : throw new ModelFormatException($"The model file's \"{key}\" entry is not one of {string.Join(", ", Enum.GetNames<T>())}: {Get(key)}.");
        CrhnConfig config;
        try
        {
            config = new CrhnConfig(Int("channels"), Int("height"), Int("width"), Ints("conv"), Int("kernel"), Int("stride"), Int("padding"),
                Ints("dense"), Ints("rhn"), Named<DataRange>("range"),
                (entries.TryGetValue("decoder", out var decoder) ? decoder : "tied") switch
                {
                    "tied" => false,
                    "untied" => true,
                    var other => throw new ModelFormatException($"The model file's decoder is \"{other}\"; expected tied or untied."),
                });
            _ = config.CodeLength;
        }
        catch (Exception e) when (e is ArgumentException or OverflowException)
        {
            throw new ModelFormatException($"The model file's config is not valid: {e.Message}");
        }
        var tensors = tensorList.ToDictionary(t => t.Item1, t => t.Item2);
        // Check every shape the config implies against the file before building anything, so a
        // header cannot make the loader allocate more than the file holds.
        if (config.ConvChannels.Count == 0 || config.DenseWidths.Count == 0
            || config.ConvChannels.Concat(config.DenseWidths).Concat(config.RhnWidths).Any(v => v <= 0)
            || config.Channels <= 0 || config.Height <= 0 || config.Width <= 0 || config.Kernel <= 0 || config.Stride <= 0 || config.Padding < 0)
            throw new ModelFormatException("The model file's config has an empty layer list or a size that is not positive.");
        Tuple<int[][], int[][]> parameterShapes;
        try
        {
            parameterShapes = TiedCodec.ParameterShapes(new CodecConfig(config.Channels, config.Height, config.Width,
            [.. config.ConvChannels], config.Kernel, config.Stride, config.Padding, [.. config.DenseWidths], Latent.Binary, OutputMap.Tanh, false, config.UntiedDecoder));
        }
        catch (OverflowException e)
        {
            throw new ModelFormatException($"The model file's config is not valid: {e.Message}");
        }
        var (kernelShapes, denseShapes) = parameterShapes;
        int[] rhnSizes = [config.CodeLength, .. config.RhnWidths];
        var expected = kernelShapes.Select((s, i) => ($"codec.kernel.{i}", s))
            .Concat(denseShapes.Select((s, j) => ($"codec.dense.{j}", s)))
            .Concat(config.UntiedDecoder ? kernelShapes.Select((s, i) => ($"codec.decoder.kernel.{i}", s)) : [])
            .Concat(config.UntiedDecoder ? denseShapes.Select((s, j) => ($"codec.decoder.dense.{j}", s)) : [])
            .Concat(Enumerable.Range(0, rhnSizes.Length - 1).Select(l => ($"rhn.weight.{l}", new[] { rhnSizes[l + 1], rhnSizes[l] })));
        foreach (var (name, shape) in expected)
            if (!tensors.TryGetValue(name, out var saved) || !saved.Shape.SequenceEqual(shape))
                throw new ModelFormatException($"The model file's tensor \"{name}\" is missing or is not [{string.Join(", ", shape)}] as its config needs.");
        CrhnModel model;
        try { model = Create(config, 0); }
        catch (ArgumentException e) { throw new ModelFormatException($"The model file's config is not valid: {e.Message}"); }
        foreach (var (name, target) in model.Weights())
        {
            if (!tensors.TryGetValue(name, out var saved)) throw new ModelFormatException($"The model file has no tensor \"{name}\".");
            if (!saved.Shape.SequenceEqual(target.Shape) || saved.Dtype != target.Dtype)
                throw new ModelFormatException($"The model file's tensor \"{name}\" is {saved.Dtype} [{string.Join(", ", saved.Shape)}]; the config needs {target.Dtype} [{string.Join(", ", target.Shape)}].");
            target.CopyInPlace(saved);
        }
        if (tensors.TryGetValue("memory.codes", out var stored))
        {
            if (stored.Dtype != Dtype.Float32 || stored.Shape.Length != 2 || stored.Shape[1] != config.CodeLength || !stored.ToFloat64Array().All(v => v is 1.0 or -1.0))
                throw new ModelFormatException($"The model file's stored codes are not float32 ±1 rows of length {config.CodeLength}.");
            model._codes = stored;
        }
        if (entries.ContainsKey("codecEpochs"))
            model.TrainedWith = new CrhnTrainingOptions(Int("codecEpochs"), Int("batchSize"),
                double.TryParse(Get("learningRate"), System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var lr)
                    ? lr : throw new ModelFormatException($"The model file's learning rate is not a number: {Get("learningRate")}."),
                Int("sraRounds"), Named<SraRotations>("rotations"),
                // Files from before these options were trained the reference's way.
                entries.ContainsKey("sraMinRounds") ? Int("sraMinRounds") : 0, entries.ContainsKey("robust") && Bool("robust"),
                entries.ContainsKey("finalLearningRate") ? Double("finalLearningRate") : 1.0, entries.ContainsKey("keepBest") && Bool("keepBest"),
                entries.ContainsKey("patience") ? Int("patience") : 0);
        if (model.TrainedWith is { } trained && Invalid(trained) is { } why)
            throw new ModelFormatException($"The model file's training options are not valid: {why}");
        return model;
    }

    /// <summary>The RHN itself (live weights), for tests that corrupt it.</summary>
    internal RhnNetwork Rhn => _rhn;

    /// <summary>The number of stored patterns (0 before <see cref="Fit"/>).</summary>
    public int StoredCount => _codes?.Shape[0] ?? 0;

    /// <summary>Checks that the trained memory works, each check a row with its measured figure and
    /// its bound: each RHN layer's semi-orthogonality error; the largest expansion of random
    /// perturbations by one RHN pass (Proposition 3 says ≤ 1); that every stored code is a fixed
    /// point; that at least 90 % of the stored patterns' own decodes, given as cues, are retrieved
    /// as those patterns (a decode is not the stored image itself: its code can differ by a few
    /// bits, and a weak codec's by more than the RHN corrects);
    /// that the RHN energy never rises under block-coordinate relaxation from the stored codes with
    /// 10 % of their signs flipped (Proposition 1; P1-deep-local for deep RHNs); and that at least
    /// 90 % of the stored codes with 5 % of their signs flipped settle back on their own code.</summary>
    /// <exception cref="InvalidOperationException">The model has stored nothing yet.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public ModelCheck Check(int trials = 200, int steps = 10, int seed = 1, CancellationToken cancellationToken = default)
    {
        var codes = _codes ?? throw new InvalidOperationException("The model has no stored patterns: call Fit, or load a model saved after Fit.");
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(trials);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(steps);
        var nonFinite = Weights().Where(w => !w.Item2.IsFinite()).Select(w => w.Item1).ToList();
        if (nonFinite.Count > 0)
            return new ModelCheck([new CheckRow("every weight finite", $"NaN or infinite values in {string.Join(", ", nonFinite)}", "all finite", false)]);
        var r = RhnChecks.run(_rhn, codes, trials, steps, (ulong)seed, cancellationToken);
        var memory = new CrhnMemory(_codec, Microsoft.FSharp.Core.FSharpOption<RhnNetwork>.Some(_rhn));
        var storedCodes = Microsoft.FSharp.Core.FSharpOption<RawTensor>.Some(codes);
        // A pattern counts as its own when its code comes back: the same index, or a stored pattern
        // with the same code (identical images share a code, and Locate names the first).
        var host = codes.ToFloat32Array();
        int width = codes.Shape[1];
        bool SameCode(int k, int i) => k == i || host.AsSpan(k * width, width).SequenceEqual(host.AsSpan(i * width, width));
        int Own(int[] recalled) => recalled.Where((k, i) => k >= 0 && SameCode(k, i)).Count();
        int returned = Own(memory.Retrieve(_codec.Decode(Tensor.Constant(codes)), null, storedCodes, 50, cancellationToken).Outcome.Value.Recalled);
        var settled = memory.Settle(RhnChecks.damaged(codes, LightDamage, Rng.derive((ulong)seed, 7)), 50, Microsoft.FSharp.Core.FuncConvert.FromAction<RawTensor, double[], bool[]>((_, _, _) => { }), cancellationToken).Item1;
        int corrected = Own(CrhnMemory.Locate(settled, codes).Recalled);
        int n = r.Stored;
        var rows = new List<CheckRow>();
        for (int l = 0; l < r.SemiOrthogonality.Length; l++)
            rows.Add(new($"layer {l}: ‖WWᵀ − I‖_F", $"{r.SemiOrthogonality[l]:G3}", "≤ 1e-4", r.SemiOrthogonality[l] <= 1e-4));
        rows.Add(new($"non-expansive ({r.Trials} random perturbations)", $"max ratio {r.MaxExpansion:G6}", "≤ 1 + 1e-4", r.MaxExpansion <= 1 + 1e-4));
        rows.Add(new("stored codes that are fixed points", $"{r.FixedPoints} of {n}", "all", r.FixedPoints == n));
        rows.Add(new("stored patterns' own decodes retrieved as themselves", $"{returned} of {n} ({100.0 * returned / n:0.#} %)", $"≥ {MinimumRecall:P0}", returned >= MinimumRecall * n));
        rows.Add(new($"energy under relaxation ({n} codes, 10 % flipped, {steps} sweeps)", $"{r.EnergyRises} rises in {r.Updates} sweeps" + (r.EnergyRises > 0 ? $", largest {r.LargestRise:G3}" : ""), "0 rises", r.EnergyRises == 0));
        rows.Add(new($"recall of stored codes with {LightDamage:P0} of signs flipped", $"{corrected} of {n} ({100.0 * corrected / n:0.#} %)", $"≥ {MinimumRecall:P0}", corrected >= MinimumRecall * n));
        return new ModelCheck(rows);
    }

    /// <summary>The share of signs <see cref="Check"/> flips in each stored code for its recall row.</summary>
    public const double LightDamage = 0.05;

    /// <summary>The share of decoded and of lightly damaged stored patterns <see cref="Check"/> requires to come back as their own.</summary>
    public const double MinimumRecall = 0.9;

    private IEnumerable<Tuple<string, RawTensor>> Weights() =>
        _codec.Kernels.Select((k, i) => Tuple.Create($"codec.kernel.{i}", k.Primal))
            .Concat(_codec.DenseWeights.Select((d, j) => Tuple.Create($"codec.dense.{j}", d.Primal)))
            .Concat(Config.UntiedDecoder ? _codec.DecoderKernels.Select((k, i) => Tuple.Create($"codec.decoder.kernel.{i}", k.Primal)) : [])
            .Concat(Config.UntiedDecoder ? _codec.DecoderDenseWeights.Select((d, j) => Tuple.Create($"codec.decoder.dense.{j}", d.Primal)) : [])
            .Concat(_rhn.Weights.Select((w, l) => Tuple.Create($"rhn.weight.{l}", w)));

    /// <summary>Retrieves the stored images nearest to the cues, keeping every step. With
    /// <paramref name="unknown"/> the pixels it marks known are kept as they are in the cue and only
    /// the unknown ones are filled in; without it the whole cue is read as it is.</summary>
    /// <exception cref="ArgumentException">The cues or the mask do not match the config, or there are no cues.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every pass of the dynamics).</exception>
    public RetrievalResult Retrieve(ImageBatch cues, RetrievalOptions? options = null, PixelMask? unknown = null, CancellationToken cancellationToken = default)
    {
        var o = options ?? new RetrievalOptions();
        if (o.MaxSteps <= 0) throw new ArgumentOutOfRangeException(nameof(options), o.MaxSteps, "MaxSteps must be positive.");
        var memory = new CrhnMemory(_codec, o.UseRhn ? Microsoft.FSharp.Core.FSharpOption<RhnNetwork>.Some(_rhn) : null);
        var x = ToModel(cues);
        var known = unknown is null ? null : Microsoft.FSharp.Core.FSharpOption<RawTensor>.Some(unknown.ToTensor(cues).MulScalar(-1.0).AddScalar(1.0));
        var stored = _codes is null ? null : Microsoft.FSharp.Core.FSharpOption<RawTensor>.Some(_codes);
        var r = memory.Retrieve(x, known, stored, o.MaxSteps, cancellationToken);
        var outcome = r.Outcome?.Value;
        var cueOutcomes = Enumerable.Range(0, cues.Count).Select(i => new CueOutcome(
            outcome is null || outcome.Recalled[i] < 0 ? null : outcome.Recalled[i],
            outcome?.Nearest[i] ?? -1, outcome?.Hamming[i] ?? -1, r.CueConverged[i], r.Returned[i],
            [.. r.Steps.Select(s => s.Energy[i])])).ToList();
        return new RetrievalResult(
            [.. r.Steps.Select(s => new RetrievalStepInfo(s.Step, FromModel(s.Images), ToCodes(s.Codes), s.Energy, s.Changed, s.Change))],
            KeepKnown(FromModel(r.Images), cues, unknown), cueOutcomes);
    }

    /// <summary>The images with the cue's own values wherever the mask says known (the model's value
    /// range round trip would otherwise move them by a rounding step).</summary>
    private static ImageBatch KeepKnown(ImageBatch images, ImageBatch cues, PixelMask? unknown)
    {
        if (unknown is null) return images;
        var values = images.Values.ToArray();
        var cue = cues.Values;
        var mask = unknown.Unknown;
        for (int i = 0; i < values.Length; i++)
            if (mask[i % mask.Length] == 0f) values[i] = cue[i];
        return ImageBatch.FromModelValues(values, images.Count, images.Channels, images.Height, images.Width);
    }

    /// <inheritdoc/>
    public string Name => "CRHN";

    /// <summary>Retrieves with the default options and returns the retrieved images; the pixels
    /// <paramref name="unknown"/> marks known are kept from the cue.</summary>
    public ImageBatch Recall(ImageBatch cues, PixelMask? unknown = null) => Retrieve(cues, null, unknown).Images;

    /// <summary>The paper's ablation "CRHN without RHN": the trained codec iterated alone, behind the same interface.</summary>
    public IAssociativeMemory WithoutRhn(RetrievalOptions? options = null) =>
        new View("codec only", (cues, unknown) => Retrieve(cues, (options ?? new RetrievalOptions()) with { UseRhn = false }, unknown).Images);

    /// <summary>A Modern Hopfield network in this model's latent space: it stores the ±1 codes of the
    /// images <see cref="Fit"/> memorised, retrieves from a cue's code, and decodes the sign of the result.</summary>
    /// <exception cref="InvalidOperationException">The model has not been fitted.</exception>
    public IAssociativeMemory LatentHopfield(HopfieldOptions? options = null)
    {
        var codes = _codes ?? throw new InvalidOperationException("The model has no stored patterns: call Fit, or load a model saved after Fit.");
        var o = options ?? new HopfieldOptions();
        var network = new ModernHopfield(codes);
        return new View("MHN (latent)", (cues, _) =>
        {
            var cueCodes = new CrhnMemory(_codec, null).Codes(ToModel(cues));
            var r = network.Retrieve(cueCodes, o.Beta ?? ModernHopfield.DefaultBeta(network.Dimension), o.MaxUpdates, o.Tolerance);
            return FromModel(_codec.Decode(Tensor.Constant(CrhnMemory.Binarize(r.States))).Primal);
        });
    }

    private sealed class View(string name, Func<ImageBatch, PixelMask?, ImageBatch> recall) : IAssociativeMemory
    {
        public string Name => name;

        public ImageBatch Recall(ImageBatch cues, PixelMask? unknown = null) => recall(cues, unknown);
    }

    /// <summary>The ±1 code of each image.</summary>
    public sbyte[][] Encode(ImageBatch images) => ToCodes(new CrhnMemory(_codec, null).Codes(ToModel(images)));

    /// <summary>The images decoded from ±1 codes (one row per image, of the code length).</summary>
    /// <exception cref="ArgumentException">A code has the wrong length or an entry other than ±1.</exception>
    public ImageBatch Decode(IReadOnlyList<sbyte[]> codes)
    {
        ArgumentNullException.ThrowIfNull(codes);
        if (codes.Count == 0) throw new ArgumentException("There are no codes to decode.", nameof(codes));
        int n = Config.CodeLength;
        var values = new float[codes.Count * n];
        for (int i = 0; i < codes.Count; i++)
        {
            if (codes[i] is null || codes[i].Length != n)
                throw new ArgumentException($"Code {i} has {codes[i]?.Length ?? 0} entries; expected {n}.", nameof(codes));
            for (int j = 0; j < n; j++)
            {
                sbyte v = codes[i][j];
                if (v != 1 && v != -1) throw new ArgumentException($"Code {i} entry {j} is {v}; expected −1 or +1.", nameof(codes));
                values[i * n + j] = v;
            }
        }
        return FromModel(_codec.Decode(Tensor.Constant(Backends.Current().OfFloat32([codes.Count, n], values))).Primal);
    }

    private Tensor ToModel(ImageBatch images)
    {
        ArgumentNullException.ThrowIfNull(images);
        if (images.Channels != Config.Channels || images.Height != Config.Height || images.Width != Config.Width)
            throw new ArgumentException(
                $"Expected images of {Config.Channels}×{Config.Height}×{Config.Width}, found {images.Channels}×{images.Height}×{images.Width}.",
                nameof(images));
        if (images.Count == 0) throw new ArgumentException("The batch holds no images.", nameof(images));
        var t = images.ToTensor();
        return Config.Range == DataRange.MinusOneToOne ? t * 2.0 + -1.0 : t;
    }

    private ImageBatch FromModel(RawTensor values)
    {
        var v = Config.Range == DataRange.MinusOneToOne ? values.AddScalar(1.0).MulScalar(0.5) : values;
        var s = v.Shape;
        return ImageBatch.FromModelValues(v.Clamp(0.0, 1.0).ToFloat32Array(), s[0], s[1], s[2], s[3]);
    }

    private static sbyte[][] ToCodes(RawTensor codes)
    {
        var v = codes.ToFloat32Array();
        int rows = codes.Shape[0], n = codes.Shape[1];
        return [.. Enumerable.Range(0, rows).Select(i => Enumerable.Range(0, n).Select(j => (sbyte)v[i * n + j]).ToArray())];
    }
}

/// <summary>One check of <see cref="CrhnModel.Check"/>: what it measures, the figure measured, the bound it must meet, and whether it does.</summary>
public sealed record CheckRow(string Check, string Measured, string Bound, bool Holds);

/// <summary>What <see cref="CrhnModel.Check"/> measured, one row per check.</summary>
public sealed record ModelCheck(IReadOnlyList<CheckRow> Rows)
{
    /// <summary>Whether every check holds.</summary>
    public bool Passes => Rows.All(r => r.Holds);
}
