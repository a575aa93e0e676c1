using Crhn.Core;
using Crhn.Core.Models;

namespace Crhn;

/// <summary>The eight attacks of torchattacks the paper measures against.</summary>
public enum Attack
{
    /// <summary>Fast gradient sign method: x + ε·sign(∇).</summary>
    Fgsm,

    /// <summary>FGSM from a random start in the ε-ball, step α = 10/255.</summary>
    Ffgsm,

    /// <summary>Basic iterative method: steps of α, projected to the ε-ball.</summary>
    Bim,

    /// <summary>Projected gradient descent from a random start.</summary>
    Pgd,

    /// <summary>Momentum iterative FGSM (decay 1).</summary>
    Mifgsm,

    /// <summary>Nesterov iterative FGSM (the gradient at the look-ahead point).</summary>
    Nifgsm,

    /// <summary>Diverse-input iterative FGSM: gradients through a random resize-and-pad.</summary>
    Difgsm,

    /// <summary>Expectation over transformation PGD (gradients summed over samples).</summary>
    Eotpgd,
}

/// <summary>An attack's parameters; null keeps torchattacks' default for that attack
/// (ε = 8/255, α = 2/255, 10 steps; FFGSM α = 10/255; MIFGSM/NIFGSM decay 1; DIFGSM resize 0.9,
/// probability 0.5; EOTPGD 2 samples; PGD/EOTPGD/FFGSM random start).</summary>
public sealed record AttackOptions(
    double? Eps = null, double? Alpha = null, int? Steps = null, double? Decay = null, bool? RandomStart = null,
    double? ResizeRate = null, double? DiversityProb = null, int? EotIter = null, int Seed = 0);

/// <summary>Adversarial cues: attacks on a surrogate autoencoder (its own weights, trained
/// separately from the memories) that maximise its reconstruction error against the clean image.</summary>
public static class Adversary
{
    /// <summary>The options an attack runs with, on [0, 1]: the given ones, with torchattacks' default
    /// wherever they leave null (so every value is set).</summary>
    public static AttackOptions Settings(Attack attack, AttackOptions? options = null)
    {
        var o = options ?? new AttackOptions();
        var d = AttackSettings.Defaults(Kind(attack));
        return new AttackOptions(o.Eps ?? d.Eps, o.Alpha ?? d.Alpha, o.Steps ?? d.Steps, o.Decay ?? d.Decay, o.RandomStart ?? d.RandomStart,
            o.ResizeRate ?? d.ResizeRate, o.DiversityProb ?? d.DiversityProb, o.EotIter ?? d.EotIter, o.Seed);
    }

    /// <summary>The engine's settings for an attack on [0, 1].</summary>
    internal static AttackSettings Resolve(Attack attack, AttackOptions? options)
    {
        var s = Settings(attack, options);
        return new AttackSettings(s.Eps!.Value, s.Alpha!.Value, s.Steps!.Value, s.Decay!.Value, s.RandomStart!.Value,
            s.ResizeRate!.Value, s.DiversityProb!.Value, s.EotIter!.Value, 0.0, 1.0, (ulong)s.Seed);
    }

    /// <summary>Attacks the clean images through the surrogate, maximising mean((surrogate(x′) − clean)²).</summary>
    /// <exception cref="ArgumentException">The images do not fit the surrogate, or a parameter is out of range.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every step's forward pass).</exception>
    public static ImageBatch Run(TiedAutoencoder surrogate, ImageBatch clean, Attack attack, AttackOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(surrogate);
        ArgumentNullException.ThrowIfNull(clean);
        surrogate.CheckImages(clean);
        var frozen = surrogate.Codec.Frozen();
        var x = clean.ToTensor().Primal;
        var loss = Attacks.reconstructionLoss(Microsoft.FSharp.Core.FuncConvert.FromFunc<Tensor, Tensor>(input =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            return frozen.Forward(input);
        }), x);
        var adv = Attacks.run(Kind(attack), Resolve(attack, options), loss, x);
        return ImageBatch.FromModelValues(adv.ToFloat32Array(), clean.Count, clean.Channels, clean.Height, clean.Width);
    }

    /// <summary>Attacks labelled images through an iterative classifier, maximising its mean
    /// cross-entropy on their labels (an untargeted evasion attack), with the same update rules.</summary>
    /// <exception cref="ArgumentException">The images do not fit the classifier, or a parameter is out of range.</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled (checked before every step's forward pass).</exception>
    public static ImageBatch Evade(IterativeClassifier classifier, LabelledImages data, Attack attack, AttackOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(classifier);
        ArgumentNullException.ThrowIfNull(data);
        var images = data.Images;
        ImageBatch.Require(images, classifier.Channels, classifier.Height, classifier.Width, "images", nameof(data));
        var x = images.ToTensor().Primal;
        var loss = Microsoft.FSharp.Core.FuncConvert.FromFunc<Tensor, Tensor>(input =>
        {
            cancellationToken.ThrowIfCancellationRequested();
            return classifier.CrossEntropy(input, data.LabelArray);
        });
        var adv = Attacks.run(Kind(attack), Resolve(attack, options), loss, x);
        return ImageBatch.FromModelValues(adv.ToFloat32Array(), images.Count, images.Channels, images.Height, images.Width);
    }

    private static AttackKind Kind(Attack attack) => attack switch
    {
        Attack.Fgsm => AttackKind.Fgsm,
        Attack.Ffgsm => AttackKind.Ffgsm,
        Attack.Bim => AttackKind.Bim,
        Attack.Pgd => AttackKind.Pgd,
        Attack.Mifgsm => AttackKind.Mifgsm,
        Attack.Nifgsm => AttackKind.Nifgsm,
        Attack.Difgsm => AttackKind.Difgsm,
        Attack.Eotpgd => AttackKind.Eotpgd,
        _ => throw new ArgumentOutOfRangeException(nameof(attack), attack, "Unknown attack."),
    };
}
