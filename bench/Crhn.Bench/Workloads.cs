using System.Numerics.Tensors;
using System.Text.Json.Nodes;
using Crhn.Core;
using Crhn.Core.Native;
using Crhn.Core.Providers;

namespace Crhn.Bench;

/// <summary>W5 (plain SVDs) and W7 (kernels) of ../shared/bench/WORKLOADS.md, same keys, same inputs.</summary>
public static class Workloads
{
    static float[] U(ulong seed, double lo, double hi, int n) => Rng.uniform32(seed, lo, hi, n);

    static double Sum(float[] x) => x.Sum(v => (double)v);

    public static IEnumerable<JsonObject?> Svd(ILinearAlgebraProvider p)
    {
        foreach (var (m, n, seed) in new[] { (1024, 1024, 511UL), (4096, 1024, 512UL) })
        {
            var a = U(seed, -1, 1, m * n);
            SvdResult<float>? r = null;
            yield return Harness.Measure($"W5.svd[shape={m}x{n},full_matrices=False]", 1, 5, 1.0,
                () => r = p.Sgesdd(m, n, a),
                check: () => new JsonObject { ["sigma_max"] = r!.S[0], ["sigma_sum"] = r.S.Sum(v => (double)v) });
        }
    }

    static Func<double, JsonObject> Gflops(double flops) => t => new JsonObject { ["gflops"] = flops / t / 1e9 };

    /// <summary>W7's kernels on the CPU backend: GEMM through the provider (and OpenBLAS called
    /// directly), the convolutions, the copy.</summary>
    public static IEnumerable<JsonObject?> Kernels(ILinearAlgebraProvider p, bool direct)
    {
        const int N = 1024;
        var a = U(701, 0, 1, N * N);
        var b = U(702, 0, 1, N * N);
        var c = new float[N * N];
        yield return Harness.Measure("W7.sgemm[m=1024,n=1024,k=1024]", 3, 20, 1.0,
            () => p.Sgemm(false, false, N, N, N, 1f, a, 0, N, b, 0, N, 0f, c, 0, N),
            Gflops(2.0 * N * N * N), () => new JsonObject { ["sum_C"] = Sum(c) });
        if (direct)
            yield return Harness.Measure("W7.sgemm_openblas_direct[m=1024,n=1024,k=1024]", 3, 20, 1.0,
                () => OpenBlasNative.sgemm(false, false, N, N, N, 1f, a, 0, N, b, 0, N, 0f, c, 0, N),
                Gflops(2.0 * N * N * N), () => new JsonObject { ["sum_C"] = Sum(c) });
        foreach (var r in Convolutions()) yield return r;
        foreach (var r in Copy()) yield return r;
    }

    /// <summary>W7's GEMM and W5's SVDs as engine tensor ops on the current backend (another
    /// backend than the CPU's has no provider to call).</summary>
    public static IEnumerable<JsonObject?> TensorKernels()
    {
        const int N = 1024;
        var a = Backends.Current().OfFloat32([N, N], U(701, 0, 1, N * N));
        var b = Backends.Current().OfFloat32([N, N], U(702, 0, 1, N * N));
        RawTensor? c = null;
        yield return Harness.Measure("W7.sgemm[m=1024,n=1024,k=1024]", 3, 20, 1.0,
            () => c = a.MatMul(false, false, b), Gflops(2.0 * N * N * N), () => new JsonObject { ["sum_C"] = c!.SumAll() });
        foreach (var r in Convolutions()) yield return r;
        foreach (var (m, n, seed) in new[] { (1024, 1024, 511UL), (4096, 1024, 512UL) })
        {
            var x = Backends.Current().OfFloat32([m, n], U(seed, -1, 1, m * n));
            RawTensor? s = null;
            yield return Harness.Measure($"W5.svd[shape={m}x{n},full_matrices=False]", 1, 5, 1.0,
                () => (_, s, _) = x.Svd(),
                check: () => { var v = s!.ToFloat32Array(); return new JsonObject { ["sigma_max"] = v[0], ["sigma_sum"] = v.Sum(t => (double)t) }; });
        }
    }

    /// <summary>W7's convolutions on the current backend.</summary>
    static IEnumerable<JsonObject?> Convolutions()
    {
        var g = new ConvGeometry(2, 2, 1, 1);
        var x = Backends.Current().OfFloat32([50, 3, 64, 64], U(703, 0, 1, 50 * 3 * 64 * 64));
        var w = Backends.Current().OfFloat32([32, 3, 4, 4], U(704, -1 / Math.Sqrt(48), 1 / Math.Sqrt(48), 32 * 48));
        var bias = Backends.Current().Zeros(Dtype.Float32, [32]);
        var dy = Backends.Current().OfFloat32([50, 32, 32, 32], U(705, -1, 1, 50 * 32 * 32 * 32));
        double convFlops = 2.0 * 50 * 32 * 32 * 32 * 3 * 16;
        // Each timed call runs in a memory scope: its outputs go back to the engine's pool when it
        // ends, as TorchSharp's dispose scope frees them (and PyTorch when the next call's output
        // replaces them). The checks run one more call outside a scope.
        static void Scoped(Action call)
        {
            using var scope = Crhn.Core.Memory.Scope();
            call();
        }
        RawTensor Forward() => x.Conv2dBias(w, bias, g);
        (RawTensor, RawTensor, RawTensor) ForwardBackward()
        {
            x.Conv2dBias(w, bias, g);
            var (dx, dw) = dy.Conv2dBackward(x, w, g);
            return (dx, dw, dy.SumToShape([1, 32, 1, 1]));
        }
        yield return Harness.Measure("W7.conv2d_fwd[input=50x3x64x64,out_ch=32,k=4,s=2,p=1]", 2, 10, 1.0,
            () => Scoped(() => Forward()),
            Gflops(convFlops), () => new JsonObject { ["sum_y"] = Forward().SumAll() });
        yield return Harness.Measure("W7.conv2d_fwd_bwd[input=50x3x64x64,out_ch=32,k=4,s=2,p=1]", 2, 10, 1.0,
            () => Scoped(() => ForwardBackward()),
            Gflops(3 * convFlops), () =>
            {
                var (dx, dw, db) = ForwardBackward();
                return new JsonObject { ["sum_dx"] = dx.SumAll(), ["sum_dw"] = dw.SumAll(), ["sum_db"] = db.SumAll() };
            });

        var gin = Backends.Current().OfFloat32([50, 32, 32, 32], U(706, -1, 1, 50 * 32 * 32 * 32));
        var cbias = Backends.Current().Zeros(Dtype.Float32, [1, 3, 1, 1]);
        var dout = Backends.Current().OfFloat32([50, 3, 64, 64], U(707, -1, 1, 50 * 3 * 64 * 64));
        (RawTensor, RawTensor, RawTensor) Transposed()
        {
            var y = gin.Conv2dBackwardInput(w, [50, 3, 64, 64], g);
            y.AddInPlace(cbias);
            return (dout.Conv2d(w, g), dout.Conv2dBackwardWeight(gin, w.Shape, g), dout.SumToShape([1, 3, 1, 1]));
        }
        yield return Harness.Measure("W7.conv_transpose2d_fwd_bwd[input=50x32x32x32,out_ch=3,k=4,s=2,p=1]", 2, 10, 1.0,
            () => Scoped(() => Transposed()),
            Gflops(3 * convFlops), () =>
            {
                var (dg, dwt, dc) = Transposed();
                return new JsonObject { ["sum_dg"] = dg.SumAll(), ["sum_dw"] = dwt.SumAll(), ["sum_db"] = dc.SumAll() };
            });
    }

    /// <summary>W7's 256 MiB copy of host memory, as the engine copies one tensor into another
    /// (LibTorch's <c>dst.copy_(src)</c>).</summary>
    static IEnumerable<JsonObject?> Copy()
    {
        const int copyN = 64 * 1024 * 1024;
        var src = Backends.Current().Full(Dtype.Float32, [copyN], 1.0);
        var dst = Backends.Current().Zeros(Dtype.Float32, [copyN]);
        yield return Harness.Measure("W7.copy_256MiB[bytes=268435456]", 2, 10, 1.0,
            () => dst.CopyInPlace(src),
            t => new JsonObject { ["GB_per_s_read_plus_write"] = 2.0 * 268435456 / t / 1e9 });
    }
}
