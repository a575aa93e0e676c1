using System.Diagnostics;
using System.Text.Json.Nodes;
using Crhn.Core;
using Crhn.Core.Models;
using Microsoft.FSharp.Core;

namespace Crhn.Bench;

/// <summary>W6 of ../shared/bench/WORKLOADS.md: the weight-shared iterative network (the library's
/// <see cref="IterativeNet"/>, started from W6's parameters) trained with Adam for 1 warm-up + 5
/// timed epochs, without a penalty and with W6's (<see cref="Regulariser.JacHinge"/>).</summary>
public static class Iterative
{
    const int N = 10000, D = 784, H = 512, Classes = 10, Batch = 128;
    const double Lambda = 0.1, Margin = 0.5;
    const int PowerSteps = 5;

    public static IEnumerable<JsonObject?> Epochs()
    {
        foreach (int k in new[] { 1, 3, 5 })
            foreach (bool penalty in new[] { false, true })
            {
                var key = $"W6.iter_net_epoch[K={k},jac_penalty={(penalty ? "True" : "False")},n={N},batch={Batch}]";
                if (!Harness.Selected(key)) { yield return null; continue; }
                yield return Run(key, k, penalty);
            }
    }

    static JsonObject Run(string key, int k, bool penalty)
    {
        var x = Rng.uniform32(601, 0, 1, N * D);
        var g = Rng.uniform32(602, -1, 1, Classes * D);
        var labels = new int[N];
        for (int i = 0; i < N; i++)
        {
            double best = double.NegativeInfinity;
            for (int j = 0; j < Classes; j++)
            {
                double s = 0;
                for (int t = 0; t < D; t++) s += (double)x[i * D + t] * g[j * D + t];
                if (s > best) { best = s; labels[i] = j; }
            }
        }
        var config = new IterativeConfig(D, D, H, Classes, k, 0.5, 0.0, false, Activation.NewTanh(1.0),
            penalty ? Regulariser.NewJacHinge(Lambda, Margin, PowerSteps) : Regulariser.Base);
        var net = new IterativeNet(config, 0);
        net.M.Primal.CopyInPlace(Backends.Current().OfFloat32([H, D], Rng.uniform32(603, -1.0 / 28, 1.0 / 28, H * D)));
        net.C.Primal.CopyInPlace(Backends.Current().OfFloat32([Classes, D], Rng.uniform32(604, -1.0 / 28, 1.0 / 28, Classes * D)));
        var batches = Enumerable.Range(0, (N + Batch - 1) / Batch).Select(b =>
        {
            int start = b * Batch, len = Math.Min(Batch, N - start);
            return (X: Tensor.Constant(Backends.Current().OfFloat32([len, D], x[(start * D)..((start + len) * D)])), Y: labels[start..(start + len)]);
        }).ToArray();
        var adam = new Adam(net.Parameters, FSharpOption<double>.Some(1e-3), null, null, null);
        var epochs = new List<(double Time, double Ce, double Acc, double Pen, double Sigma)>();
        for (int epoch = 0; epoch < 6; epoch++)
        {
            long start = Stopwatch.GetTimestamp();
            double ce = 0, pen = 0, sigma = 0;
            int correct = 0;
            foreach (var (xb, yb) in batches)
            {
                // The step's tensors go back to the engine's pool when it ends (PyTorch frees them by reference count).
                using var scope = Crhn.Core.Memory.Scope();
                adam.ZeroGrad();
                var loss = net.Loss(xb, yb);
                loss.Total.Backward(null);
                adam.Step();
                ce += loss.CrossEntropy * yb.Length;
                pen += loss.Penalty * yb.Length;
                if (penalty) sigma += loss.Jacobian;
                correct += loss.Correct;
            }
            epochs.Add((Stopwatch.GetElapsedTime(start).TotalSeconds, ce / N, (double)correct / N, pen / N, sigma / N));
        }
        var times = epochs.Skip(1).Select(e => e.Time).ToArray();
        var sorted = times.Order().ToArray();
        double median = sorted[sorted.Length / 2];
        Console.Error.WriteLine($"  {key,-80} {median * 1e3,10:F3} ms");
        var check = new JsonObject { ["ce_epoch1"] = epochs[0].Ce, ["acc_epoch1"] = epochs[0].Acc, ["ce_epoch6"] = epochs[^1].Ce };
        if (penalty)
        {
            check["penalty_epoch1"] = epochs[0].Pen;
            check["sigma_mean_epoch1"] = epochs[0].Sigma;
        }
        return new JsonObject
        {
            ["key"] = key, ["median_s"] = median, ["min_s"] = sorted[0], ["max_s"] = sorted[^1], ["repeats"] = times.Length, ["warmup"] = 1,
            ["times_s"] = new JsonArray([.. times.Select(t => (JsonNode)t)]),
            ["derived"] = new JsonObject { ["samples_per_s"] = N / median },
            ["check"] = check,
        };
    }
}
