using System.Diagnostics;
using System.Text.Json.Nodes;
using Crhn.Core;
using Crhn.Core.Models;
using Crhn.Core.Providers;

namespace Crhn.Bench;

/// <summary>W3 (tied autoencoder training epoch) and W5 (RHN forward/backward; one SRA round) of
/// ../shared/bench/WORKLOADS.md, with the same inputs.</summary>
public static class Models
{
    static float[] U(ulong seed, double lo, double hi, int n) => Rng.uniform32(seed, lo, hi, n);

    /// <summary>W3's autoencoder (conv 32, 64, 64, kernel 4, stride 2, biases at 0) with its kernels from
    /// streams 302–304, as W3 and W4 start from it.</summary>
    public static TiedCodec W3Autoencoder()
    {
        var model = TiedCodec.Autoencoder(3, 64, 64, [32, 64, 64], 4, 2, 1, 0);
        (ulong Seed, int[] Shape)[] weights = [(302, [32, 3, 4, 4]), (303, [64, 32, 4, 4]), (304, [64, 64, 4, 4])];
        for (int k = 0; k < 3; k++)
        {
            var (seed, shape) = weights[k];
            double bound = 1 / Math.Sqrt(shape[1] * 16);
            model.Kernels[k].Primal.CopyInPlace(Backends.Current().OfFloat32(shape, U(seed, -bound, bound, shape.Aggregate(1, (a, b) => a * b))));
        }
        return model;
    }

    /// <summary>W3: 1 warm-up epoch + 5 timed epochs (state carried over), batch 50, Adam 1e-3; the median epoch.</summary>
    public static IEnumerable<JsonObject?> AutoencoderEpochs()
    {
        foreach (var n in new[] { 100, 500 })
        {
            var key = $"W3.ae_train_epoch[N={n},batch=50]";
            if (!Harness.Selected(key)) { yield return null; continue; }
            var x = Tensor.Constant(Backends.Current().OfFloat32([n, 3, 64, 64], U(301, 0, 1, 500 * 3 * 64 * 64)[..(n * 3 * 64 * 64)]));
            var model = W3Autoencoder();
            var times = new List<double>();
            var losses = new List<double>();
            var faults = new List<long>();
            long faultsBefore = Faults.Minor();
            int gen0Before = GC.CollectionCount(0), gen2Before = GC.CollectionCount(2);
            long allocatedBefore = GC.GetTotalAllocatedBytes(true);
            var clock = Stopwatch.StartNew();
            model.Fit(x, 6, 50, 1e-3, Microsoft.FSharp.Core.FuncConvert.FromAction<EpochReport>(r =>
            {
                times.Add(clock.Elapsed.TotalSeconds);
                losses.Add(r.Loss);
                long now = Faults.Minor();
                faults.Add(now - faultsBefore);
                faultsBefore = now;
                clock.Restart();
            }), CancellationToken.None);
            var timed = times.Skip(1).Order().ToArray();
            double median = timed[timed.Length / 2];
            Console.Error.WriteLine($"  {key,-80} {median * 1e3,10:F3} ms");
            yield return new JsonObject
            {
                ["key"] = key, ["median_s"] = median, ["min_s"] = timed[0], ["max_s"] = timed[^1], ["repeats"] = timed.Length, ["warmup"] = 1,
                ["times_s"] = new JsonArray([.. times.Skip(1).Select(t => (JsonNode)t)]),
                ["derived"] = new JsonObject { ["images_per_s"] = n / median },
                ["check"] = new JsonObject { ["loss_epoch1"] = losses[0], ["loss_epoch6"] = losses[^1] },
                ["minor_faults_per_call"] = faultsBefore < 0 ? null : faults.Skip(1).Average(),
                ["gc_per_epoch"] = new JsonObject
                {
                    ["gen0"] = (GC.CollectionCount(0) - gen0Before) / 6.0, ["gen2"] = (GC.CollectionCount(2) - gen2Before) / 6.0,
                    ["allocated_MB"] = (GC.GetTotalAllocatedBytes(true) - allocatedBefore) / 6.0 / (1 << 20),
                },
            };
        }
    }

    /// <summary>W5's RHN forward/backward, and one real SRA round (RSRA + LSRA; with one layer, LSRA's
    /// rank-500 rotation of the 4096-dimensional visible space) on W5's codes.</summary>
    public static IEnumerable<JsonObject?> Rhn()
    {
        const int N = 500, d = 4096, h = 1024;
        var codes = Backends.Current().OfFloat32([N, d], [.. U(501, 0, 1, N * d).Select(u => u < 0.5f ? 1f : -1f)]);
        var w = Backends.Current().OfFloat32([h, d], U(502, -1.0 / 64, 1.0 / 64, h * d));
        RawTensor? r = null;
        yield return Harness.Measure($"W5.rhn_forward_backward[N={N},d={d},h={h}]", 1, 5, 1.0,
            () => r = codes.MatMul(false, true, w).Unary(UnaryOp.Tanh).MatMul(false, false, w).Unary(UnaryOp.Tanh),
            t => new JsonObject { ["gflops"] = 4.0 * N * d * h / t / 1e9 },
            () => new JsonObject { ["recon_mse_before"] = r!.Binary(BinaryOp.Sub, codes).Unary(UnaryOp.Square).SumAll() / ((double)N * d) });
        // The network's orthogonal start (a 1024×4096 QR) takes seconds: only when its keys run.
        if (!Harness.Selected("crhn.sra_")) yield break;
        var net = new RhnNetwork([d, h], 7, null);
        yield return Harness.Measure($"crhn.sra_round[N={N},d={d},h={h},rsra+lsra]", 1, 3, 1.0,
            () => { net.RightRotations(codes); net.LeftRotations(codes); },
            check: () => { var (fixedRows, mse) = net.FixedPoints(codes); return new JsonObject { ["fixed_points"] = fixedRows, ["sign_mse"] = mse }; });
        yield return Harness.Measure($"crhn.sra_reorthogonalise[d={d},h={h},every={RhnNetwork.ReorthogonaliseEvery}_rounds]", 1, 3, 1.0,
            () => net.Reorthogonalise());
    }

    /// <summary>Retrieval throughput of the quickstart's model (100 procedural 3×32×32 images, default
    /// config and training): a batch of 100 noisy cues (σ = 0.3) to a fixed point, CRHN and codec only.</summary>
    public static IEnumerable<JsonObject?> Retrieval()
    {
        const string key = "crhn.retrieve[N=100,3x32x32,quickstart_config,noise=0.3";
        string KeyFor(bool useRhn) => $"{key},{(useRhn ? "crhn" : "codec_only")}]";
        if (!Harness.Selected(KeyFor(true)) && !Harness.Selected(KeyFor(false))) yield break;
        var images = Crhn.ImageBatch.Procedural(seed: 7, count: 100, channels: 3, height: 32, width: 32);
        var model = Crhn.CrhnModel.Create(new Crhn.CrhnConfig(), seed: 1);
        model.Fit(images);
        var cues = Crhn.Degrade.GaussianNoise(images, sigma: 0.3, seed: 1);
        foreach (var useRhn in new[] { true, false })
        {
            var options = new Crhn.RetrievalOptions(UseRhn: useRhn);
            Crhn.RetrievalResult? last = null;
            yield return Harness.Measure(KeyFor(useRhn), 1, 5, 1.0,
                () => last = model.Retrieve(cues, options),
                t => new JsonObject { ["images_per_s"] = images.Count / t },
                () => new JsonObject { ["steps"] = last!.Steps.Count, ["converged"] = last.Converged, ["mse"] = Crhn.Degrade.Mse(last.Images, images) });
        }
    }
    /// <summary>Where the CRHN training key writes the images it trained on (raw little-endian
    /// float32, N×3×32×32 in [0, 1]) for bench/torch/crhn_train.py; null: not written.</summary>
    public static string? TrainingImagesFile { get; set; }

    /// <summary>CRHN training at the performance issue's budget, the way the public reference trains
    /// it: N = 100 photo patches at 3×32×32, conv 16, 32 (kernel 3, stride 2, padding 1), dense 512,
    /// RHN [128, 100]; 300 full-batch Adam epochs at 3e-3 (constant, no damaged copies, last
    /// epoch's weights), then 100 rounds of RSRA and LSRA. 1 warm-up, then 3 timed trainings
    /// (CrhnModel.Fit) of models made from the same seed; the check is the codec's reconstruction
    /// MSE through its binary code, in [0, 1] units, and the fixed points.</summary>
    public static IEnumerable<JsonObject?> CrhnTraining()
    {
        const string key = "crhn.train[N=100,3x32x32,conv=16,32,k=3,dense=512,rhn=128,100,epochs=300,sra=100]";
        if (!Harness.Selected(key)) yield break;
        Crhn.ImageBatch images;
        try { images = Crhn.ImageBatch.Load("photos", 100, 3, 32, 32); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            Console.Error.WriteLine($"  {key}: skipped, no photos ({e.Message}); apt-get install mate-backgrounds");
            yield break;
        }
        if (TrainingImagesFile is string file)
            File.WriteAllBytes(file, System.Runtime.InteropServices.MemoryMarshal.AsBytes(images.Values).ToArray());
        var config = new Crhn.CrhnConfig(ConvLayers: [16, 32], Kernel: 3, Stride: 2, Padding: 1, DenseLayers: [512], RhnHidden: [128, 100]);
        var options = new Crhn.CrhnTrainingOptions(CodecEpochs: 300, BatchSize: 100, LearningRate: 3e-3, SraRounds: 100, SraMinRounds: 100,
            Robust: false, FinalLearningRate: 1.0, KeepBest: false);
        // The models are made before the clock starts, as bench/torch/crhn_train.py builds its
        // model outside its timing: CrhnModel.Create takes about 1 s here (the dense layer's
        // orthogonal start, a float64 Householder QR of 2048×512 in MathNet).
        var fresh = new Queue<Crhn.CrhnModel>(Enumerable.Range(0, 4).Select(_ => Crhn.CrhnModel.Create(config, seed: 0)));
        Crhn.CrhnModel? model = null;
        Crhn.TrainingReport? report = null;
        yield return Harness.Measure(key, 1, 3, 0, () =>
            {
                model = fresh.Dequeue();
                report = model.Fit(images, options);
            },
            check: () => new JsonObject
            {
                ["final_loss"] = report!.CodecLosses[^1],
                ["mse_01"] = Crhn.Degrade.Mse(model!.Retrieve(images, new Crhn.RetrievalOptions(UseRhn: false)).Images, images),
                ["fixed_points"] = report.Stored,
                ["sra_rounds"] = report.SraRounds,
            }, exactReps: 3);
    }
}
