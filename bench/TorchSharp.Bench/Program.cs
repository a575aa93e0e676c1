// Idiomatic TorchSharp for the workloads of ../shared/bench/WORKLOADS.md (W1–W7, same keys, same
// inputs, same timing rules as Crhn.Bench): results-torchsharp.json. Usage:
//   dotnet run --project bench/TorchSharp.Bench -c Release -- [--out DIR] [--only 'PREFIX|PREFIX…']
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using TorchSharp;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

string outDir = "bench-results";
string? only = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--out" && i + 1 < args.Length) outDir = args[++i];
    else if (args[i] == "--only" && i + 1 < args.Length) only = args[++i];
    else { Console.Error.WriteLine($"unknown argument {args[i]}; usage: [--out DIR] [--only KEYPREFIX]"); return 2; }
}
Directory.CreateDirectory(outDir);
Console.Error.WriteLine($"== TorchSharp {typeof(Tensor).Assembly.GetName().Version}, LibTorch {__version__}, {get_num_threads()} threads");
var results = new JsonArray();
foreach (var r in W7().Concat(W5()).Concat(W3()).Concat(W3Layers()).Concat(W1()).Concat(W2()).Concat(W4()).Concat(W6()).OfType<JsonObject>())
    results.Add(r);
var path = Path.Combine(outDir, "results-torchsharp.json");
File.WriteAllText(path, new JsonObject { ["env"] = new JsonObject { ["torchsharp"] = typeof(Tensor).Assembly.GetName().Version!.ToString(), ["libtorch"] = __version__, ["threads"] = get_num_threads() }, ["results"] = results }
    .ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
Console.Error.WriteLine($"wrote {path}");
return 0;

bool Selected(string key) => only is null || only.Split('|').Any(p => key.StartsWith(p, StringComparison.Ordinal));

// The inputs: SplitMix64 stream `seed`, U(lo, hi), as float32, in a shape.
Tensor U(ulong seed, double lo, double hi, params long[] shape) =>
    tensor(Crhn.Core.Rng.uniform32(seed, lo, hi, (int)shape.Aggregate(1L, (a, b) => a * b)), shape);

// Warm-up calls, then at least minReps calls and `target` seconds (at most 200, or exactly `exact`); the median.
JsonObject? Measure(string key, int warmup, int minReps, Action call, int? exact = null, double target = 1.0)
{
    if (!Selected(key)) return null;
    for (int i = 0; i < warmup; i++) Scoped(call);
    var times = new List<double>();
    long faults = Crhn.Bench.Faults.Minor();
    var total = Stopwatch.StartNew();
    while (times.Count < 200 && (exact is int e ? times.Count < e : times.Count < minReps || total.Elapsed.TotalSeconds < target))
    {
        long start = Stopwatch.GetTimestamp();
        Scoped(call);
        times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
    }
    faults = Crhn.Bench.Faults.Minor() - faults;
    var result = Result(key, times);
    result["minor_faults_per_call"] = faults < 0 ? null : (double)faults / times.Count;
    return result;
}

// Each call's tensors are disposed when it ends, as a TorchSharp user does with dispose scopes.
void Scoped(Action call)
{
    using var scope = NewDisposeScope();
    call();
}

JsonObject Result(string key, List<double> times)
{
    var sorted = times.Order().ToArray();
    double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
    Console.Error.WriteLine($"  {key,-80} {median * 1e3,10:F3} ms");
    return new JsonObject { ["key"] = key, ["median_s"] = median, ["min_s"] = sorted[0], ["max_s"] = sorted[^1], ["repeats"] = times.Count, ["times_s"] = new JsonArray([.. times.Select(t => (JsonNode)t)]) };
}

IEnumerable<JsonObject?> W7()
{
    var a = U(701, 0, 1, 1024, 1024);
    var b = U(702, 0, 1, 1024, 1024);
    yield return Measure("W7.sgemm[m=1024,n=1024,k=1024]", 3, 20, () => mm(a, b));
    var x = U(703, 0, 1, 50, 3, 64, 64);
    var w = U(704, -1 / Math.Sqrt(48), 1 / Math.Sqrt(48), 32, 3, 4, 4);
    var bias = zeros(32);
    var gy = U(705, -1, 1, 50, 32, 32, 32);
    using (no_grad())
        yield return Measure("W7.conv2d_fwd[input=50x3x64x64,out_ch=32,k=4,s=2,p=1]", 2, 10, () => F.conv2d(x, w, bias, [2], [1]));
    var xg = x.clone().requires_grad_();
    var wg = w.clone().requires_grad_();
    var bg = bias.clone().requires_grad_();
    yield return Measure("W7.conv2d_fwd_bwd[input=50x3x64x64,out_ch=32,k=4,s=2,p=1]", 2, 10, () =>
    {
        xg.grad?.zero_(); wg.grad?.zero_(); bg.grad?.zero_();
        F.conv2d(xg, wg, bg, [2], [1]).backward([gy]);
    });
    var g = U(706, -1, 1, 50, 32, 32, 32).requires_grad_();
    var gout = U(707, -1, 1, 50, 3, 64, 64);
    var cb = zeros(3).requires_grad_();
    yield return Measure("W7.conv_transpose2d_fwd_bwd[input=50x32x32x32,out_ch=3,k=4,s=2,p=1]", 2, 10, () =>
    {
        g.grad?.zero_(); wg.grad?.zero_(); cb.grad?.zero_();
        F.conv_transpose2d(g, wg, cb, [2], [1]).backward([gout]);
    });
    var src = full(64L * 1024 * 1024, 1.0f);
    var dst = zeros(64L * 1024 * 1024);
    yield return Measure("W7.copy_256MiB[bytes=268435456]", 2, 10, () => dst.copy_(src));
}

IEnumerable<JsonObject?> W5()
{
    foreach (var (m, n, seed) in new[] { (1024L, 1024L, 511UL), (4096L, 1024L, 512UL) })
    {
        var a = U(seed, -1, 1, m, n);
        yield return Measure($"W5.svd[shape={m}x{n},full_matrices=False]", 1, 5, () => linalg.svd(a, fullMatrices: false));
    }
    var codes = U(501, 0, 1, 500, 4096).lt(0.5).to_type(ScalarType.Float32).mul(2).sub(1);
    var wr = U(502, -1.0 / 64, 1.0 / 64, 1024, 4096);
    yield return Measure("W5.rhn_forward_backward[N=500,d=4096,h=1024]", 1, 5, () => tanh(mm(tanh(mm(codes, wr.t())), wr)));
}

// The tied autoencoder of W3/W4: conv 32, 64, 64 (kernel 4, stride 2, padding 1), tanh, the
// transposed convs with the same kernels, a sigmoid output.
Tensor Autoencoder(Tensor v, Tensor[] p)
{
    var h1 = tanh(F.conv2d(v, p[0], p[3], [2], [1]));
    var h2 = tanh(F.conv2d(h1, p[1], p[4], [2], [1]));
    var z = tanh(F.conv2d(h2, p[2], p[5], [2], [1]));
    var g2 = tanh(F.conv_transpose2d(z, p[2], p[6], [2], [1]));
    var g1 = tanh(F.conv_transpose2d(g2, p[1], p[7], [2], [1]));
    return sigmoid(F.conv_transpose2d(g1, p[0], p[8], [2], [1]));
}

Tensor[] AutoencoderParameters() =>
[
    U(302, -1 / Math.Sqrt(48), 1 / Math.Sqrt(48), 32, 3, 4, 4), U(303, -1 / Math.Sqrt(512), 1 / Math.Sqrt(512), 64, 32, 4, 4),
    U(304, -1 / Math.Sqrt(1024), 1 / Math.Sqrt(1024), 64, 64, 4, 4), zeros(32), zeros(64), zeros(64), zeros(64), zeros(32), zeros(3),
];

IEnumerable<JsonObject?> W3()
{
    var all = U(301, 0, 1, 500, 3, 64, 64);
    foreach (var n in new[] { 100, 500 })
    {
        var key = $"W3.ae_train_epoch[N={n},batch=50]";
        if (!Selected(key)) continue;
        var p = AutoencoderParameters().Select(t => new TorchSharp.Modules.Parameter(t)).ToArray();
        var opt = optim.Adam(p, lr: 1e-3);
        // The epoch's mean batch loss (batches are all 50 images).
        double Epoch()
        {
            double sum = 0;
            for (int j = 0; j < n / 50; j++)
            {
                using var scope = NewDisposeScope();
                var x = all.narrow(0, 50 * j, 50);
                opt.zero_grad();
                var loss = F.mse_loss(Autoencoder(x, p), x);
                loss.backward();
                opt.step();
                sum += loss.item<float>();
            }
            return sum / (n / 50);
        }
        double first = Epoch(), last = first;
        var times = new List<double>();
        for (int e = 0; e < 5; e++)
        {
            long start = Stopwatch.GetTimestamp();
            last = Epoch();
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        var result = Result(key, times);
        result["check"] = new JsonObject { ["loss_epoch1"] = first, ["loss_epoch6"] = last };
        yield return result;
    }
}

// Each layer of W3's autoencoder alone at W3's batch, forward and backward of its output's sum:
// the kernel's gradient, and the input's past the first layer (same keys in Crhn.Bench).
IEnumerable<JsonObject?> W3Layers()
{
    const int n = 50;
    var p = AutoencoderParameters();
    int[] channels = [3, 32, 64, 64];
    var inputs = new List<Tensor>();
    using (no_grad())
    {
        var h = U(301, 0, 1, 500, 3, 64, 64).narrow(0, 0, n);
        for (int k = 0; k < 3; k++) { inputs.Add(h); h = tanh(F.conv2d(h, p[k], null, [2], [1])); }
        for (int k = 2; k >= 0; k--) { inputs.Add(h); h = tanh(F.conv_transpose2d(h, p[k], null, [2], [1])); }
    }
    for (int layer = 0; layer < 6; layer++)
    {
        bool transposed = layer >= 3;
        int k = transposed ? 5 - layer : layer;
        var input = inputs[layer];
        int outChannels = transposed ? channels[k] : channels[k + 1];
        var name = transposed ? $"convT{k + 1}" : $"conv{k + 1}";
        var key = $"W3.layer_fwd_bwd[{name},input={string.Join('x', input.shape)},out_ch={outChannels},k=4,s=2,p=1,grads={(layer == 0 ? "weight" : "input+weight")}]";
        Tensor Pass()
        {
            var x = layer == 0 ? input : input.detach().requires_grad_();
            var w = p[k].detach().requires_grad_();
            (transposed ? F.conv_transpose2d(x, w, null, [2], [1]) : F.conv2d(x, w, null, [2], [1])).sum().backward();
            return w.grad!;
        }
        var r = Measure(key, 2, 10, () => Pass());
        if (r is not null) r["check"] = new JsonObject { ["sum_dw"] = Pass().sum().item<float>() };
        yield return r;
    }
}

IEnumerable<JsonObject?> W1()
{
    const int d = 12288;
    var all = U(101, 0, 1, 500, d);
    var noise = U(102, -0.3, 0.3, 500, d);
    foreach (var n in new[] { 50, 100, 250, 500 })
    {
        var x = all.narrow(0, 0, n);
        var q = clamp(x + noise.narrow(0, 0, n), 0, 1);
        double beta = 1 / Math.Sqrt(d);
        using (no_grad())
            yield return Measure($"W1.mhn_retrieval[N={n},d={d}]", 2, 10, () => mm(softmax(mm(q, x.t()).mul(beta), 1), x));
    }
}

IEnumerable<JsonObject?> W2()
{
    const int d = 3072, h = 1024;
    var all = U(201, 0, 1, 100, d);
    using var noGrad = no_grad();
    foreach (var n in new[] { 50, 100 })
    {
        var x = all.narrow(0, 0, n);
        var w = U(202, -1.0 / 32, 1.0 / 32, d, h);
        var b = zeros(d);
        (Tensor, Tensor) Step(Tensor x0, Tensor x1, Tensor? m)
        {
            var a = tanh(x1);
            var e0 = x0 - (mm(a, w.t()) + b);
            x1 = x1 + 0.1 * (mm(e0, w) * (1 - a * a));
            if (m is not null) x0 = x0 - 0.1 * (e0 * m);
            return (x0, x1);
        }
        var key = $"W2.pcn_train_epoch[N={n},d={d},h={h},T=50]";
        if (Selected(key))
        {
            var times = new List<double>();
            for (int k = 0; k < 6; k++)
            {
                long start = Stopwatch.GetTimestamp();
                using (var scope = NewDisposeScope())
                {
                    var x1 = zeros(n, h);
                    for (int t = 0; t < 50; t++)
                        using (var inner = NewDisposeScope())
                            x1 = Step(x, x1, null).Item2.MoveToOuterDisposeScope();
                    var a = tanh(x1);
                    var e0 = x - (mm(a, w.t()) + b);
                    _ = (0.5 * (e0 * e0).sum() / n).item<float>();
                    w.add_(mm(e0.t(), a), alpha: 0.01 / n);
                    b.add_(e0.mean([0]), alpha: 0.01);
                }
                if (k > 0) times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
            yield return Result(key, times);
        }
        var mask = tensor(Enumerable.Range(0, d).Select(k => (k % 1024) / 32 >= 16 ? 1f : 0f).ToArray());
        yield return Measure($"W2.pcn_retrieval[N={n},d={d},h={h},T=100]", 1, 5, () =>
        {
            Tensor x0 = x * (1 - mask), x1 = zeros(n, h);
            for (int t = 0; t < 100; t++)
                using (var inner = NewDisposeScope())
                {
                    var (a0, a1) = Step(x0, x1, mask);
                    x0 = a0.MoveToOuterDisposeScope();
                    x1 = a1.MoveToOuterDisposeScope();
                }
        }, exact: 5);
    }
}

IEnumerable<JsonObject?> W4()
{
    const int n = 100;
    var x = U(301, 0, 1, 500, 3, 64, 64).narrow(0, 0, n);
    var p = AutoencoderParameters();
    double eps = 8.0 / 255, alpha = 2.0 / 255;
    var delta0 = U(401, -eps, eps, n, 3, 64, 64);
    Tensor Grad(Tensor v)
    {
        var vg = v.detach().requires_grad_();
        var loss = F.mse_loss(Autoencoder(vg, p), x);
        return autograd.grad([loss], [vg])[0];
    }
    // The checks: LibTorch's own float32 MSE, and the same squared errors summed in float64.
    JsonObject Mse(Tensor v)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var err = Autoencoder(v, p) - x;
        return new JsonObject { ["mse"] = F.mse_loss(Autoencoder(v, p), x).item<float>(), ["mse_f64"] = err.to_type(ScalarType.Float64).square().mean().item<double>() };
    }
    JsonObject Attacked(Tensor adv, bool linf)
    {
        var m = Mse(adv);
        var check = new JsonObject { ["mse_adv"] = m["mse"]!.GetValue<float>(), ["mse_adv_f64"] = m["mse_f64"]!.GetValue<double>(), ["sum_x_adv"] = adv.to_type(ScalarType.Float64).sum().item<double>() };
        if (linf) check["linf_max"] = (adv - x).abs().max().item<float>();
        return check;
    }
    JsonObject? WithCheck(JsonObject? r, Func<JsonObject> check)
    {
        if (r is not null) r["check"] = check();
        return r;
    }
    using (no_grad())
        yield return WithCheck(Measure("W4.ae_forward_clean[N=100]", 1, 5, () => Autoencoder(x, p)), () =>
        {
            var m = Mse(x);
            return new JsonObject { ["mse_clean"] = m["mse"]!.GetValue<float>(), ["mse_clean_f64"] = m["mse_f64"]!.GetValue<double>() };
        });
    Tensor Fgsm() => clamp(x + eps * Grad(x).sign(), 0, 1);
    Tensor Pgd()
    {
        var v = clamp(x + delta0, 0, 1);
        for (int s = 0; s < 10; s++)
        {
            v = v + alpha * Grad(v).sign();
            v = clamp(minimum(maximum(v, x - eps), x + eps), 0, 1);
        }
        return v;
    }
    yield return WithCheck(Measure("W4.fgsm[N=100,eps=8/255]", 1, 5, () => Fgsm()), () => Attacked(Fgsm(), false));
    yield return WithCheck(Measure("W4.pgd10[N=100,eps=8/255,alpha=2/255,steps=10]", 1, 5, () => Pgd(), exact: 5), () => Attacked(Pgd(), true));
    // Each layer alone, forward with its (zero) bias, on the clean forward's own inputs.
    var inputs = new List<Tensor>();
    using (no_grad())
    {
        var h = x;
        for (int k = 0; k < 3; k++) { inputs.Add(h); h = tanh(F.conv2d(h, p[k], p[3 + k], [2], [1])); }
        for (int k = 2; k >= 0; k--) { inputs.Add(h); h = tanh(F.conv_transpose2d(h, p[k], p[8 - k], [2], [1])); }
        for (int layer = 0; layer < 6; layer++)
        {
            bool transposed = layer >= 3;
            int k = transposed ? 5 - layer : layer;
            var input = inputs[layer];
            var weight = p[k];
            var bias = transposed ? p[8 - k] : p[3 + k];
            var name = transposed ? $"convT{k + 1}" : $"conv{k + 1}";
            var key = $"W4.layer_fwd[{name},input={string.Join('x', input.shape)},out_ch={bias.shape[0]},k=4,s=2,p=1]";
            yield return Measure(key, 2, 10, () => { _ = transposed ? F.conv_transpose2d(input, weight, bias, [2], [1]) : F.conv2d(input, weight, bias, [2], [1]); });
        }
    }
}

IEnumerable<JsonObject?> W6()
{
    const int N = 10000, D = 784, H = 512, Classes = 10, Batch = 128;
    const double Alpha = 0.5, Lambda = 0.1, Margin = 0.5;
    var xAll = U(601, 0, 1, N, D);
    var y = mm(xAll.to_type(ScalarType.Float64), U(602, -1, 1, Classes, D).to_type(ScalarType.Float64).t()).argmax(1);
    foreach (var k in new[] { 1, 3, 5 })
        foreach (var penalty in new[] { false, true })
        {
            var key = $"W6.iter_net_epoch[K={k},jac_penalty={(penalty ? "True" : "False")},n={N},batch={Batch}]";
            if (!Selected(key)) continue;
            var m = new TorchSharp.Modules.Parameter(U(603, -1.0 / 28, 1.0 / 28, H, D));
            var cw = new TorchSharp.Modules.Parameter(U(604, -1.0 / 28, 1.0 / 28, Classes, D));
            var cb = new TorchSharp.Modules.Parameter(zeros(Classes));
            var opt = optim.Adam([m, cw, cb], lr: 1e-3);
            var times = new List<double>();
            for (int epoch = 0; epoch < 6; epoch++)
            {
                long start = Stopwatch.GetTimestamp();
                for (int s = 0; s < N; s += Batch)
                {
                    using var scope = NewDisposeScope();
                    int len = Math.Min(Batch, N - s);
                    var x = xAll.narrow(0, s, len);
                    opt.zero_grad();
                    var v = x;
                    for (int step = 0; step < k; step++)
                        v = (1 - Alpha) * v + Alpha * mm(tanh(mm(v, m.t())), m);
                    var logits = mm(v, cw.t()) + cb;
                    var loss = F.cross_entropy(logits, y.narrow(0, s, len));
                    if (penalty)
                    {
                        var vbar = v.detach();
                        Tensor u;
                        using (no_grad())
                        {
                            var dbar = 1 - tanh(mm(vbar, m.t())).pow(2);
                            u = full(len, D, 1.0 / 28);
                            for (int it = 0; it < 5; it++)
                            {
                                var w = mm(mm(u, m.t()) * dbar, m);
                                u = w / (w.norm(1, true) + 1e-12);
                            }
                        }
                        var dd = 1 - tanh(mm(vbar, m.t())).pow(2);
                        var sigma = mm(mm(u, m.t()) * dd, m).norm(1);
                        loss = loss + Lambda * clamp(sigma - Margin, min: 0).pow(2).mean();
                    }
                    loss.backward();
                    opt.step();
                    _ = loss.item<float>();
                }
                if (epoch > 0) times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
            }
            yield return Result(key, times);
        }
}
