using System.Text.Json.Nodes;
using Crhn.Core;
using Crhn.Core.Models;

namespace Crhn.Bench;

/// <summary>W1 (Modern Hopfield retrieval), W2 (predictive-coding training epoch and retrieval) and
/// W4 (attacks on the W3 autoencoder) of ../shared/bench/WORKLOADS.md, same keys, same inputs.</summary>
public static class Baselines
{
    static float[] U(ulong seed, double lo, double hi, int n) => Rng.uniform32(seed, lo, hi, n);

    /// <summary>W1: one update for N noisy queries through <see cref="ModernHopfield.Retrieve(RawTensor, double, int, double)"/>.</summary>
    public static IEnumerable<JsonObject?> Hopfield()
    {
        const int d = 12288;
        var all = U(101, 0, 1, 500 * d);
        var noise = U(102, -0.3, 0.3, 500 * d);
        foreach (var n in new[] { 50, 100, 250, 500 })
        {
            var key = $"W1.mhn_retrieval[N={n},d={d}]";
            if (!Harness.Selected(key)) { yield return null; continue; }
            var x = Backends.Current().OfFloat32([n, d], all[..(n * d)]);
            var q = Backends.Current().OfFloat32([n, d], [.. Enumerable.Range(0, n * d).Select(i => Math.Clamp(all[i] + noise[i], 0f, 1f))]);
            var mhn = new ModernHopfield(x);
            double beta = (float)(1 / Math.Sqrt(d));
            yield return Harness.Measure(key, 2, 10, 1.0, () =>
                {
                    // The retrieval's arrays go back to the engine's pool at once (PyTorch frees its result
                    // when the next call's replaces it); the check retrieves once more.
                    using var scope = Crhn.Core.Memory.Scope();
                    mhn.Retrieve(q, beta, 1, 0);
                },
                t => new JsonObject { ["gflops"] = 4.0 * n * n * d / t / 1e9 },
                () =>
                {
                    var r = mhn.Retrieve(q, beta, 1, 0);
                    var p = r.Association.ToFloat32Array();
                    var y = r.States.ToFloat32Array();
                    int hits = Enumerable.Range(0, n).Count(i => Enumerable.Range(0, n).MaxBy(j => p[i * n + j]) == i);
                    return new JsonObject
                    {
                        ["accuracy_argmax"] = (double)hits / n,
                        ["sum_Y"] = y.Sum(v => (double)v),
                        ["mean_abs_Y_minus_X"] = y.Select((v, i) => Math.Abs((double)v - all[i])).Average(),
                    };
                });
        }
    }

    /// <summary>W2's two-layer generative network: one inference step on (x0, x1), x0 moving only where m is 1.
    /// W is fixed during inference, so each run of steps packs it once for both products (Wᵀ for the
    /// prediction, W for the error's way back; <see cref="RawTensor.PackRight"/>): packing is part of the
    /// timed work. The value nodes are updated in place, both from the error before the step, so a step
    /// allocates only temporaries, which a storage scope around it recycles.</summary>
    sealed class Pcn(RawTensor w, RawTensor b)
    {
        public RawTensor W = w;
        public RawTensor B = b;

        public (PackedMatrix Forward, PackedMatrix Back) Pack() => (W.PackRight(true), W.PackRight(false));

        /// <summary>The step; returns the error ε0 before it.</summary>
        public RawTensor Step((PackedMatrix Forward, PackedMatrix Back) w, RawTensor x0, RawTensor x1, RawTensor? m)
        {
            var a = x1.Unary(UnaryOp.Tanh);
            var err = x0.Binary(BinaryOp.Sub, a.MatMulPacked(false, w.Forward).Binary(BinaryOp.Add, B));
            x1.AxpyInPlace(0.1, err.MatMulPacked(false, w.Back).ActivationGrad(UnaryOp.Tanh, a));
            if (m is not null) x0.AxpyInPlace(-0.1, err.Binary(BinaryOp.Mul, m));
            return err;
        }
    }

    /// <summary>W2: training epochs (1 warm-up + 5 timed, state carried over) and masked retrieval.</summary>
    public static IEnumerable<JsonObject?> PredictiveCoding()
    {
        const int d = 3072, h = 1024;
        var all = U(201, 0, 1, 100 * d);
        var w0 = U(202, -1.0 / 32, 1.0 / 32, d * h);
        foreach (var n in new[] { 50, 100 })
        {
            var trainKey = $"W2.pcn_train_epoch[N={n},d={d},h={h},T=50]";
            var retrKey = $"W2.pcn_retrieval[N={n},d={d},h={h},T=100]";
            if (!Harness.Selected(trainKey) && !Harness.Selected(retrKey)) { yield return null; continue; }
            var x = Backends.Current().OfFloat32([n, d], all[..(n * d)]);
            var net = new Pcn(Backends.Current().OfFloat32([d, h], w0), Backends.Current().Zeros(Dtype.Float32, [1, d]));
            var energies = new List<double>();
            void Epoch()
            {
                var x1 = x.ZerosLike([n, h]);
                var packed = net.Pack();
                for (int t = 0; t < 50; t++)
                {
                    // Each step's temporaries go back to the engine's pool at its end (PyTorch frees them by reference count).
                    using var scope = Crhn.Core.Memory.Scope();
                    net.Step(packed, x, x1, null);
                }
                // The update's temporaries (the 3072×1024 product among them) are recycled the same way.
                using var update = Crhn.Core.Memory.Scope();
                var a = x1.Unary(UnaryOp.Tanh);
                var err = x.Binary(BinaryOp.Sub, a.MatMulPacked(false, packed.Forward).Binary(BinaryOp.Add, net.B));
                energies.Add(0.5 * err.Unary(UnaryOp.Square).SumAll() / n);
                net.W.AxpyInPlace(0.01 / n, err.MatMul(true, false, a));
                net.B.AxpyInPlace(0.01 / n, err.SumToShape([1, d]));
            }
            var times = new List<double>();
            for (int e = 0; e < 6; e++)
            {
                long start = System.Diagnostics.Stopwatch.GetTimestamp();
                Epoch();
                if (e > 0) times.Add(System.Diagnostics.Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
            if (Harness.Selected(trainKey))
            {
                var sorted = times.Order().ToArray();
                double median = sorted[sorted.Length / 2];
                Console.Error.WriteLine($"  {trainKey,-80} {median * 1e3,10:F3} ms");
                yield return new JsonObject
                {
                    ["key"] = trainKey, ["median_s"] = median, ["min_s"] = sorted[0], ["max_s"] = sorted[^1], ["repeats"] = times.Count, ["warmup"] = 1,
                    ["times_s"] = new JsonArray([.. times.Select(t => (JsonNode)t)]),
                    ["derived"] = new JsonObject { ["gflops"] = (50.0 * 4 * n * d * h + 4.0 * n * d * h) / median / 1e9 },
                    ["check"] = new JsonObject { ["energy_epoch1"] = energies[0], ["energy_epoch6"] = energies[^1], ["epochs_done"] = energies.Count },
                };
            }
            var mask = Backends.Current().OfFloat32([1, d], [.. Enumerable.Range(0, d).Select(k => (k % 1024) / 32 >= 16 ? 1f : 0f)]);
            var known = mask.MulScalar(-1).AddScalar(1);
            RawTensor? output = null;
            yield return Harness.Measure(retrKey, 1, 5, 0, () =>
            {
                var x0 = x.Binary(BinaryOp.Mul, known);
                var x1 = x.ZerosLike([n, h]);
                var packed = net.Pack();
                for (int t = 0; t < 100; t++)
                {
                    using var scope = Crhn.Core.Memory.Scope();
                    net.Step(packed, x0, x1, mask);
                }
                output = x0;
            },
            t => new JsonObject { ["gflops"] = 100.0 * 4 * n * d * h / t / 1e9 },
            () =>
            {
                var diff = output!.Binary(BinaryOp.Sub, x).Binary(BinaryOp.Mul, mask);
                return new JsonObject { ["mse_unknown_after_6_epochs"] = diff.Unary(UnaryOp.Square).SumAll() / (mask.SumAll() * n) };
            }, exactReps: 5);
        }
    }

    /// <summary>W4: the clean forward, FGSM and PGD-10 (random start from stream 401) on the freshly
    /// initialised W3 autoencoder, through <see cref="Attacks.run"/> on the frozen model.</summary>
    public static IEnumerable<JsonObject?> Attacks()
    {
        const int n = 100;
        string[] keys = ["W4.ae_forward_clean[N=100]", "W4.fgsm[N=100,eps=8/255]", "W4.pgd10[N=100,eps=8/255,alpha=2/255,steps=10]"];
        if (!keys.Any(Harness.Selected)) yield break;
        var x = Backends.Current().OfFloat32([n, 3, 64, 64], U(301, 0, 1, 500 * 3 * 64 * 64)[..(n * 3 * 64 * 64)]);
        var model = Models.W3Autoencoder().Frozen();
        var loss = Crhn.Core.Models.Attacks.reconstructionLoss(Microsoft.FSharp.Core.FuncConvert.FromFunc<Tensor, Tensor>(model.Forward), x);
        double Mse(RawTensor candidate) => loss.Invoke(Tensor.Constant(candidate)).ToScalar();
        yield return Harness.Measure(keys[0], 1, 5, 1.0, () =>
            {
                // The forward's intermediates and its output go back to the engine's pool at once (PyTorch
                // frees them by reference count, the output when the next call's replaces it); the check
                // runs the forward once more.
                using var scope = Crhn.Core.Memory.Scope();
                model.Forward(Tensor.Constant(x));
            },
            t => new JsonObject { ["images_per_s"] = n / t }, () =>
            {
                var y = model.Forward(Tensor.Constant(x)).Primal;
                return new JsonObject { ["mse_clean"] = y.Binary(BinaryOp.Sub, x).Unary(UnaryOp.Square).SumAll() / y.Numel };
            });
        foreach (var (key, kind, reps) in new[] { (keys[1], AttackKind.Fgsm, (int?)null), (keys[2], AttackKind.Pgd, 5) })
        {
            var d = AttackSettings.Defaults(kind);
            var settings = new AttackSettings(d.Eps, d.Alpha, d.Steps, d.Decay, d.RandomStart, d.ResizeRate, d.DiversityProb, d.EotIter, 0.0, 1.0, 401);
            RawTensor? adv = null;
            yield return Harness.Measure(key, 1, 5, reps is null ? 1.0 : 0, () => adv = Crhn.Core.Models.Attacks.run(kind, settings, loss, x),
                t => new JsonObject { ["images_per_s"] = n / t },
                () =>
                {
                    var check = new JsonObject { ["mse_adv"] = Mse(adv!), ["sum_x_adv"] = adv!.SumAll() };
                    if (kind == AttackKind.Pgd)
                        check["linf_max"] = adv.Binary(BinaryOp.Sub, x).Unary(UnaryOp.Abs).ToFloat32Array().Max();
                    return check;
                }, exactReps: reps);
        }
    }
    /// <summary>W3/W4's autoencoder layers' channels and input sizes, in encoder order.</summary>
    static readonly int[] channels = [3, 32, 64, 64], sizes = [64, 32, 16, 8];

    /// <summary>The autoencoder's geometry, kernels, and each of its six layers' input for the first
    /// n images of X_all (stream 301): the three convolutions', then the three transposed ones'.</summary>
    static (ConvGeometry Geometry, RawTensor[] Kernels, List<RawTensor> Inputs) LayerInputs(int n)
    {
        var g = new ConvGeometry(2, 2, 1, 1);
        var kernels = Models.W3Autoencoder().Kernels.Select(k => k.Primal).ToArray();
        var h = Backends.Current().OfFloat32([n, 3, 64, 64], U(301, 0, 1, 500 * 3 * 64 * 64)[..(n * 3 * 64 * 64)]);
        var inputs = new List<RawTensor>();
        for (int k = 0; k < 3; k++)
        {
            inputs.Add(h);
            h = h.Conv2d(kernels[k], g).Unary(UnaryOp.Tanh);
        }
        for (int k = 2; k >= 0; k--)
        {
            inputs.Add(h);
            h = h.Conv2dBackwardInput(kernels[k], [n, channels[k], sizes[k], sizes[k]], g).Unary(UnaryOp.Tanh);
        }
        return (g, kernels, inputs);
    }

    /// <summary>The six layers in the order of LayerInputs: name, transposed or not, kernel index,
    /// input and output channels.</summary>
    static IEnumerable<(string Name, bool Transposed, int K, RawTensor X, int OutChannels)> Layers(List<RawTensor> inputs)
    {
        for (int layer = 0; layer < 6; layer++)
        {
            bool transposed = layer >= 3;
            int k = transposed ? 5 - layer : layer;
            yield return (transposed ? $"convT{k + 1}" : $"conv{k + 1}", transposed, k, inputs[layer], transposed ? channels[k] : channels[k + 1]);
        }
    }

    /// <summary>Each layer of W3's autoencoder alone at W3's batch (50 images), forward and backward
    /// of the sum of its output: the kernel's gradient, and the input's for every layer but the
    /// first (whose input is the data). Inputs are the first 50 clean images through the layers
    /// before it. Same keys in TorchSharp.Bench.</summary>
    public static IEnumerable<JsonObject?> AutoencoderLayerGradients()
    {
        const int n = 50;
        var (g, kernels, inputs) = LayerInputs(n);
        foreach (var (name, transposed, k, x, outChannels) in Layers(inputs))
        {
            bool first = !transposed && k == 0;
            var key = $"W3.layer_fwd_bwd[{name},input={string.Join('x', x.Shape)},out_ch={outChannels},k=4,s=2,p=1,grads={(first ? "weight" : "input+weight")}]";
            // What the tape runs: the forward, then the gradient of the output's sum (all ones) in
            // the kernel and (past the first layer) the input, each pair in one fused pass.
            RawTensor Pass()
            {
                var y = transposed ? x.Conv2dBackwardInput(kernels[k], [n, outChannels, sizes[k], sizes[k]], g) : x.Conv2d(kernels[k], g);
                var gy = y.FullLike(y.Shape, 1.0);
                if (first) return x.Conv2dBackwardWeight(gy, kernels[k].Shape, g);
                var (_, dw) = transposed ? gy.Conv2dAndWeightGrad(kernels[k], x, g) : gy.Conv2dBackward(x, kernels[k], g);
                return dw;
            }
            yield return Harness.Measure(key, 2, 10, 1.0,
                () =>
                {
                    using var scope = Crhn.Core.Memory.Scope();
                    Pass();
                },
                check: () => new JsonObject { ["sum_dw"] = Pass().SumAll() });
        }
    }

    /// <summary>Each layer of W4's autoencoder alone, forward with its (zero) bias, as the engine's
    /// Conv2d and ConvTranspose2d run it: the three convolutions and the three transposed
    /// convolutions, on the clean forward's own inputs (X_all[0:100], stream 301, through the
    /// layers before it). Same keys in TorchSharp.Bench.</summary>
    public static IEnumerable<JsonObject?> AutoencoderLayers()
    {
        const int n = 100;
        var (g, kernels, inputs) = LayerInputs(n);
        foreach (var (name, transposed, k, x, outChannels) in Layers(inputs))
        {
            var bias = Backends.Current().Zeros(Dtype.Float32, [outChannels]);
            RawTensor Layer()
            {
                if (!transposed) return x.Conv2dBias(kernels[k], bias, g);
                var y = x.Conv2dBackwardInput(kernels[k], [n, outChannels, sizes[k], sizes[k]], g);
                y.AddInPlace(bias.View([1, outChannels, 1, 1]));
                return y;
            }
            var key = $"W4.layer_fwd[{name},input={string.Join('x', x.Shape)},out_ch={outChannels},k=4,s=2,p=1]";
            yield return Harness.Measure(key, 2, 10, 1.0,
                () =>
                {
                    using var scope = Crhn.Core.Memory.Scope();
                    Layer();
                },
                check: () => new JsonObject { ["sum_y"] = Layer().SumAll() });
        }
    }
}
