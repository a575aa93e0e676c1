using Xunit;

namespace Crhn.Tests;

/// <summary>The retrieval interface every memory shares, the baselines behind it, and attacks through the C# face.</summary>
public class MemoriesTests
{
    private static readonly Lazy<(CrhnModel Model, ImageBatch Images)> Trained = new(() =>
    {
        var images = ImageBatch.Procedural(seed: 5, count: 20, channels: 3, height: 16, width: 16);
        var model = CrhnModel.Create(new CrhnConfig(Height: 16, Width: 16, ConvLayers: [8, 16], DenseLayers: [128], RhnHidden: [96]), seed: 2);
        // 20 epochs: at 10 the codec is undertrained and σ = 0.1 recall over seeds 1–6 is 80–95 %;
        // at 20 it is 95–100 % (seed 2: 100 %).
        model.Fit(images, new CrhnTrainingOptions(CodecEpochs: 20, BatchSize: 10));
        return (model, images);
    });

    [Fact]
    public void Every_memory_answers_through_the_same_interface_with_its_name()
    {
        var (model, images) = Trained.Value;
        var pcn = PredictiveCodingMemory.Create(3, 16, 16, new PredictiveCodingOptions(Hidden: [32], Epochs: 2));
        pcn.Fit(images);
        IAssociativeMemory[] memories = [ModernHopfieldMemory.Store(images), pcn, model, model.WithoutRhn(), model.LatentHopfield()];
        Assert.Equal(["MHN", "PCN", "CRHN", "codec only", "MHN (latent)"], memories.Select(m => m.Name));
        var cues = Degrade.GaussianNoise(images, 0.1, 1);
        foreach (var m in memories)
        {
            var r = m.Recall(cues);
            Assert.Equal((images.Count, images.Channels, images.Height, images.Width), (r.Count, r.Channels, r.Height, r.Width));
            Assert.All(r.ToArray(), v => Assert.True(float.IsFinite(v)));
            Assert.NotEqual(cues.ToArray(), r.ToArray());
        }
        // MHN answers nearer the stored images than the noisy cues are; the CRHN ends on their codes.
        Assert.True(Degrade.Mse(memories[0].Recall(cues), images) < Degrade.Mse(cues, images));
        Assert.True(model.Retrieve(cues).RecallAccuracy() >= 0.9, $"CRHN recall {model.Retrieve(cues).RecallAccuracy():P0}");
    }

    [Fact]
    public void Modern_Hopfield_at_a_sharp_beta_returns_the_stored_image_of_largest_overlap()
    {
        // Not always the cue's own image: softmax(β Xᵀξ) favours stored images of large norm (the
        // Evaluation property's companion); on [−1, 1] images the brighter ones win.
        var (_, images) = Trained.Value;
        var mhn = ModernHopfieldMemory.Store(images, new HopfieldOptions(Beta: 20.0));
        var recalled = mhn.Recall(images);
        int size = 3 * 16 * 16;
        var x = images.ToArray().Select(v => 2.0 * v - 1).ToArray();
        var r = recalled.ToArray();
        for (int i = 0; i < images.Count; i++)
        {
            int best = Enumerable.Range(0, images.Count).MaxBy(j => Enumerable.Range(0, size).Sum(k => x[i * size + k] * x[j * size + k]));
            Assert.All(Enumerable.Range(0, size), k => Assert.InRange(r[i * size + k] - images.Values[best * size + k], -1e-5f, 1e-5f));
        }
        var energies = mhn.Energy(images);
        var noisy = mhn.Energy(Degrade.GaussianNoise(images, 0.2, 3));
        Assert.All(energies.Zip(noisy), p => Assert.True(p.First < p.Second, $"a stored image's energy {p.First} is not below its noisy cue's {p.Second}"));
    }

    [Fact]
    public void Latent_Hopfield_recalls_the_decoded_code_of_a_stored_image()
    {
        var (model, images) = Trained.Value;
        var latent = model.LatentHopfield(new HopfieldOptions(Beta: 10.0));
        Assert.Equal(model.Decode(model.Encode(images)).ToArray(), latent.Recall(images).ToArray());
    }

    [Fact]
    public void The_predictive_coding_network_keeps_the_known_pixels_of_a_masked_cue()
    {
        var (_, images) = Trained.Value;
        var pcn = PredictiveCodingMemory.Create(3, 16, 16, new PredictiveCodingOptions(Hidden: [32], Epochs: 3));
        pcn.Fit(images);
        var cues = Degrade.MaskColumns(images, 6);
        var recalled = pcn.Recall(cues, PixelMask.Columns(3, 16, 16, 6)).ToArray();
        var cue = cues.ToArray();
        for (int i = 0; i < cue.Length; i++)
            if (i % 16 < 10) Assert.InRange(recalled[i] - cue[i], -1e-6f, 1e-6f);
        Assert.Contains(Enumerable.Range(0, cue.Length), i => i % 16 >= 10 && recalled[i] != cue[i]);
    }

    [Fact]
    public void Attacks_through_the_facade_stay_in_the_ball_and_in_range()
    {
        var (_, images) = Trained.Value;
        var surrogate = TiedAutoencoder.Create(new AutoencoderConfig(3, 16, 16), 4);
        surrogate.Fit(images, new AutoencoderTrainingOptions(Epochs: 2));
        foreach (var attack in Enum.GetValues<Attack>())
        {
            var adv = Adversary.Run(surrogate, images, attack, new AttackOptions(Eps: 0.05, Seed: 1)).ToArray();
            var clean = images.ToArray();
            Assert.All(Enumerable.Range(0, clean.Length), i =>
            {
                Assert.InRange(adv[i], 0f, 1f);
                Assert.InRange(adv[i] - clean[i], -0.05f - 1e-6f, 0.05f + 1e-6f);
            });
            // The attacked loss: the surrogate's reconstruction of the attacked image against the clean one.
            var attacked = Degrade.Mse(surrogate.Reconstruct(ImageBatch.FromFloats(adv, images.Count, 3, 16, 16)), images);
            Assert.True(attacked > Degrade.Mse(surrogate.Reconstruct(images), images), $"{attack} did not raise the surrogate's loss");
        }
    }

    [Fact]
    public void Bad_memory_input_is_refused_with_the_sizes()
    {
        var (model, images) = Trained.Value;
        var wrong = ImageBatch.Procedural(1, 2, 3, 8, 8);
        Assert.Contains("3×16×16", Assert.Throws<ArgumentException>(() => ModernHopfieldMemory.Store(images).Recall(wrong)).Message);
        Assert.Contains("3×16×16", Assert.Throws<ArgumentException>(() => PredictiveCodingMemory.Create(3, 16, 16).Recall(wrong)).Message);
        Assert.Contains("3×8×8", Assert.Throws<ArgumentException>(() => PredictiveCodingMemory.Create(3, 16, 16).Recall(images, PixelMask.Columns(3, 8, 8, 2))).Message);
        Assert.Throws<InvalidOperationException>(() => CrhnModel.Create(model.Config, 3).LatentHopfield());
        Assert.Throws<ArgumentOutOfRangeException>(() => PixelMask.Columns(3, 16, 16, 17));
        Assert.Throws<ArgumentException>(() => Adversary.Run(TiedAutoencoder.Create(new AutoencoderConfig(3, 16, 16), 1), images, Attack.Pgd, new AttackOptions(Eps: -1)));
        Assert.Throws<ArgumentException>(() => Adversary.Run(TiedAutoencoder.Create(new AutoencoderConfig(3, 8, 8), 1), images, Attack.Fgsm));
    }
}
