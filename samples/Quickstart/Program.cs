// Quickstart: memorise 100 built-in images in a CRHN, damage them (half the columns masked;
// Gaussian noise), retrieve them, and compare with the codec alone ("CRHN without RHN"): how many
// cues end on their own stored image (recall), and how close the returned images are (MSE).
// Run: dotnet run --project samples/Quickstart -c Release   (writes quickstart.png)
// On LibTorch: dotnet run --project samples/Quickstart -c Release -p:Torch=true -- --backend torch
using Crhn;

using var backend = args is ["--backend", var backendName] ? Engine.UseBackend(backendName) : null;
Console.WriteLine($"Engine: {Engine.Describe()}");

var images = ImageBatch.Procedural(seed: 7, count: 100, channels: 3, height: 32, width: 32);
var model = QuickstartStack.Create(seed: 1);
Console.WriteLine($"Memorising {images.Count} images of {images.Channels}×{images.Height}×{images.Width} " +
    $"(codec conv {string.Join(",", model.Config.ConvChannels)}, code {QuickstartStack.LatentSize} bits, RHN {string.Join(",", model.Config.RhnWidths)}).");
var started = DateTime.UtcNow;
var report = model.Fit(images, progress: new ConsoleProgress());
Console.WriteLine($"Codec MSE {report.CodecLosses[0]:F4} → {report.CodecLosses.Min():F4}; {report.Summary}; {(DateTime.UtcNow - started).TotalSeconds:F1} s.");

var masked = Degrade.MaskColumns(images, images.Width / 2);
var noisy = Degrade.GaussianNoise(images, sigma: 0.3, seed: 1);
var mask = PixelMask.Columns(images.Channels, images.Height, images.Width, images.Width / 2);
var ablation = new RetrievalOptions(UseRhn: false);
Console.WriteLine();
Console.WriteLine("                                  recall          MSE to the clean images");
Console.WriteLine("cue                             CRHN  codec     cue      CRHN     codec only");
var retrieved = new List<ImageBatch>();
foreach (var (name, cue, unknown) in new[] { ("half the columns masked       ", masked, (PixelMask?)null), ("  the same, mask given        ", masked, mask), ("Gaussian noise σ = 0.3        ", noisy, null) })
{
    var crhn = model.Retrieve(cue, unknown: unknown);
    var codecOnly = model.Retrieve(cue, ablation, unknown);
    Console.WriteLine($"{name}  {crhn.RecallAccuracy(),4:P0}  {codecOnly.RecallAccuracy(),4:P0}   {Degrade.Mse(cue, images):F4}   {Degrade.Mse(crhn.Images, images):F4}   {Degrade.Mse(codecOnly.Images, images):F4}" +
        $"   ({crhn.Steps.Count - 1} steps{(crhn.Converged ? "" : ", not converged")})");
    retrieved.Add(crhn.Images);
}

var first = Enumerable.Range(0, 8).ToArray();
ImageBatch.SaveGrid("quickstart.png", images.Take(first), masked.Take(first), retrieved[0].Take(first), retrieved[1].Take(first), noisy.Take(first), retrieved[2].Take(first));
Console.WriteLine();
Console.WriteLine("Wrote quickstart.png: per row clean | masked | CRHN | CRHN, mask given | noisy | CRHN.");

/// <summary>The quickstart's model, declared as a layer stack: the generator checks the shapes at
/// compile time and adds QuickstartStack.Config, .Create(seed), .LatentSize (512) and a shape record per layer.</summary>
[CrhnStack(3, 32, 32)]
[Conv(16)]
[Conv(32)]
[Dense(512)]
[Rhn(128)]
partial class QuickstartStack;

/// <summary>Prints training progress: codec epochs every 10, SRA rounds as they come.</summary>
sealed class ConsoleProgress : IProgress<TrainingProgress>
{
    public void Report(TrainingProgress p)
    {
        if (p.Stage == TrainingStage.Codec && (p.Step % 50 == 0 || p.Step == 1))
            Console.WriteLine($"  codec epoch {p.Step,3}/{p.Of}  MSE {p.Value:F4}");
        else if (p.Stage == TrainingStage.Sra && (p.Step % 25 == 0 || p.Step == 1))
            Console.WriteLine($"  SRA round {p.Step,3}  {p.Value:P0} of the codes are fixed points");
    }
}
