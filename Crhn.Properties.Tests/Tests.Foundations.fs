namespace Crhn.Properties

open Crhn
open System
open Xunit
open FsCheck
open FsCheck.FSharp
open Crhn.Core
open Crhn.Core.Models
open Crhn.Core.Native
open Crhn.Core.Providers

/// Random numbers, initialisers, optimisers, model entry checks and provider selection.
type FoundationTests() =

    [<Fact>]
    member _.``SplitMix64 reproduces the test vectors of WORKLOADS.md`` () =
        Assert.Equal(0xE220A8397B1DCDAFUL, Rng.element 0UL 1UL)
        Assert.Equal(0x6E789E6AA1B965F4UL, Rng.element 0UL 2UL)
        Assert.Equal(0x06C45D188009454FUL, Rng.element 0UL 3UL)
        Assert.Equal<float32[]>([| 0.7415648698806763f; 0.1599103808403015f; 0.27860110998153687f; 0.34419065713882446f |], Rng.uniform32 42UL 0.0 1.0 4)

    /// Orthogonal initialisation: W·Wᵀ = gain²·I for rows ≤ cols, Wᵀ·W = gain²·I for rows ≥ cols, to
    /// 1e-12 in float64 (Householder QR is backward stable: error ≈ n·ε₆₄ ≈ 1e-14 here).
    [<Fact>]
    member _.``orthogonal initialisation is semi-orthogonal`` () =
        let gen = Gen.zip3 (Gen.choose (1, 40)) (Gen.choose (1, 40)) Generators.seed
        Check.run "orthogonal init" 100 (Prop.forAll (Arb.fromGen gen) (fun (r, c, seed) ->
            let w = Tensor.Constant(Init.orthogonal Dtype.Float64 seed 1.5 r c)
            let gram = if r <= c then w.MatMul(w, false, true) else w.MatMul(w, true, false)
            let n = min r c
            let g = gram.Primal.ToFloat64Array()
            let worst = Seq.max (seq { for i in 0 .. n - 1 do for j in 0 .. n - 1 -> abs (g.[i * n + j] - (if i = j then 2.25 else 0.0)) })
            worst < 1e-12 |> Prop.label (sprintf "largest deviation from 2.25·I: %g" worst)))

    [<Fact>]
    member _.``companion: a uniform initialisation is not semi-orthogonal`` () =
        let gen = Gen.zip3 (Gen.choose (2, 40)) (Gen.choose (2, 40)) Generators.seed
        Check.fails "uniform init orthogonal" 100 (Prop.forAll (Arb.fromGen gen) (fun (r, c, seed) ->
            let w = Tensor.Constant(Init.uniform Dtype.Float64 seed -1.0 1.0 [| r; c |])
            let gram = if r <= c then w.MatMul(w, false, true) else w.MatMul(w, true, false)
            let n = min r c
            let g = gram.Primal.ToFloat64Array()
            Seq.max (seq { for i in 0 .. n - 1 do for j in 0 .. n - 1 -> abs (g.[i * n + j] - (if i = j then 1.0 else 0.0)) }) < 1e-12))

    [<Fact>]
    member _.``named sub-streams never meet, however many of each are drawn`` () =
        let seed = 12345UL
        let jacf = Seq.init 200000 (Rng.derive (Rng.named seed "jacf")) |> Set.ofSeq
        let shuffle = Seq.init 200000 (Rng.derive (Rng.named seed "shuffle"))
        Assert.True(shuffle |> Seq.forall (fun s -> not (jacf.Contains s)))
        Assert.NotEqual(Rng.named seed "jacf", Rng.named seed "shuffle")

    [<Fact>]
    member _.``companion: offsets of one counter meet once the first has drawn past the second's start`` () =
        let seed = 12345UL
        let draws = Seq.init 200000 (fun k -> Rng.derive seed (1000 + k)) |> Set.ofSeq
        let epochs = Seq.init 200000 (fun e -> Rng.derive seed (100000 + e))
        Assert.True(epochs |> Seq.exists draws.Contains)

    [<Fact>]
    member _.``the same seed gives the same bits`` () =
        Assert.Equal<float[]>((Init.normal Dtype.Float64 9UL 0.0 1.0 [| 7; 5 |]).ToFloat64Array(), (Init.normal Dtype.Float64 9UL 0.0 1.0 [| 7; 5 |]).ToFloat64Array())
        Assert.NotEqual<float[]>((Init.normal Dtype.Float64 9UL 0.0 1.0 [| 7; 5 |]).ToFloat64Array(), (Init.normal Dtype.Float64 10UL 0.0 1.0 [| 7; 5 |]).ToFloat64Array())

    /// Adam's first step is p − lr·g/(|g| + ε) (the bias corrections cancel): PyTorch's formula.
    [<Fact>]
    member _.``Adam's first step follows PyTorch's formula`` () =
        let p = Tensor.Parameter(Cpu.ofFloat64 [| 4 |] [| 1.0; -2.0; 0.5; 3.0 |])
        let target = Tensor.Constant(Cpu.ofFloat64 [| 4 |] [| 0.0; 0.0; 0.0; 0.0 |])
        let adam = Adam([| p |], 0.1)
        (p * p * 0.5 - target).SumAll().Backward()
        adam.Step()
        let expected = [| 1.0; -2.0; 0.5; 3.0 |] |> Array.map (fun x -> x - 0.1 * x / (abs x + 1e-8))
        Array.iter2 (fun (e: float) (a: float) -> Assert.Equal(e, a, 12)) expected (p.Primal.ToFloat64Array())

    /// Adam over five steps follows PyTorch's formula element for element, with the bias
    /// corrections 1 − β₁ᵗ and √(1 − β₂ᵗ): to 1e-12 in float64 and 1e-5 in float32, at lengths
    /// that fill the vector lanes and leave a tail. The companion drops the bias corrections from
    /// the reference and finds the steps differ.
    static member AdamMatches(biasCorrected: bool) =
        let gen = Gen.zip3 (Gen.choose (1, 70)) Generators.seed (Gen.elements [ Dtype.Float32; Dtype.Float64 ])
        Prop.forAll (Arb.fromGen gen) (fun (n, seed, dtype) ->
            let lr, b1, b2, eps = 0.01, 0.9, 0.999, 1e-8
            let start = Rng.uniform64 seed -1.0 1.0 n
            let grads = Array.init 5 (fun t -> Rng.uniform64 (Rng.derive seed (t + 1)) -2.0 2.0 n)
            let make (values: float[]) = match dtype with Dtype.Float32 -> Cpu.ofFloat32 [| n |] (Array.map float32 values) | Dtype.Float64 -> Cpu.ofFloat64 [| n |] values
            let p = Tensor.Parameter(make start)
            let adam = Adam([| p |], lr, b1, b2, eps)
            let expected = (make start).ToFloat64Array()
            let m, v = Array.zeroCreate n, Array.zeroCreate n
            grads |> Array.iteri (fun t g ->
                adam.ZeroGrad()
                (p * Tensor.Constant(make g)).SumAll().Backward()
                adam.Step()
                let g = (make g).ToFloat64Array()
                let step = if biasCorrected then lr / (1.0 - b1 ** float (t + 1)) else lr
                let c2 = if biasCorrected then sqrt (1.0 - b2 ** float (t + 1)) else 1.0
                for i in 0 .. n - 1 do
                    m.[i] <- b1 * m.[i] + (1.0 - b1) * g.[i]
                    v.[i] <- b2 * v.[i] + (1.0 - b2) * g.[i] * g.[i]
                    expected.[i] <- expected.[i] - step * m.[i] / (sqrt v.[i] / c2 + eps))
            let tolerance = if dtype = Dtype.Float64 then 1e-12 else 1e-5
            let got = p.Primal.ToFloat64Array()
            let worst = Array.fold2 (fun w (a: float) e -> max w (abs (a - e))) 0.0 got expected
            worst <= tolerance |> Prop.label (sprintf "%A, %d elements: largest difference %g" dtype n worst))

    [<Fact>]
    member _.``Adam follows PyTorch's formula over several steps, lanes and tail`` () = Check.run "adam steps" 100 (FoundationTests.AdamMatches true)

    [<Fact>]
    member _.``companion: Adam without its bias corrections is not PyTorch's Adam`` () = Check.fails "adam without bias correction" 100 (FoundationTests.AdamMatches false)

    /// SGD with momentum μ: v₁ = g₁, v₂ = μ·v₁ + g₂, p ← p − lr·v (PyTorch's SGD).
    [<Fact>]
    member _.``SGD with momentum follows PyTorch's formula`` () =
        let p = Tensor.Parameter(Cpu.ofFloat64 [| 2 |] [| 1.0; -1.0 |])
        let sgd = Sgd([| p |], 0.1, 0.9)
        let step () =
            sgd.ZeroGrad()
            (p * p).SumAll().Backward()
            sgd.Step()
        step ()
        Assert.Equal<float[]>([| 0.8; -0.8 |], p.Primal.ToFloat64Array() |> Array.map (fun v -> Math.Round(v, 12)))
        step ()
        // g₂ = 2·0.8 = 1.6, v₂ = 0.9·2 + 1.6 = 3.4, p = 0.8 − 0.34.
        Assert.Equal<float[]>([| 0.46; -0.46 |], p.Primal.ToFloat64Array() |> Array.map (fun v -> Math.Round(v, 12)))

    [<Fact>]
    member _.``a tied weight's gradient is the sum of both of its uses`` () =
        let w = Tensor.Parameter(Cpu.ofFloat64 [| 2; 2 |] [| 1.0; 2.0; 3.0; 4.0 |])
        let x = Tensor.Constant(Cpu.ofFloat64 [| 1; 2 |] [| 1.0; -1.0 |])
        // f = sum(x·W·Wᵀ): W is used twice; compare with two separate copies' gradients added.
        (x.MatMul(w).MatMul(w, false, true)).SumAll().Backward()
        let tied = w.Grad.Value.ToFloat64Array()
        let w1 = Tensor.Parameter(Cpu.ofFloat64 [| 2; 2 |] [| 1.0; 2.0; 3.0; 4.0 |])
        let w2 = Tensor.Parameter(Cpu.ofFloat64 [| 2; 2 |] [| 1.0; 2.0; 3.0; 4.0 |])
        (x.MatMul(w1).MatMul(w2, false, true)).SumAll().Backward()
        Assert.Equal<float[]>(Array.map2 (+) (w1.Grad.Value.ToFloat64Array()) (w2.Grad.Value.ToFloat64Array()), tied)

    [<Fact>]
    member _.``the autoencoder refuses NaN and infinite images`` () =
        let model = TiedCodec.Autoencoder(1, 8, 8, [| 2 |], 4, 2, 1, 1UL)
        for bad in [ Double.NaN; Double.PositiveInfinity ] do
            let values = Array.create 64 0.5
            values.[10] <- bad
            let e = Assert.Throws<ArgumentException>(fun () -> model.Forward(Tensor.Constant(Cpu.ofFloat64 [| 1; 1; 8; 8 |] values)) |> ignore)
            Assert.Contains("NaN", e.Message)

    [<Fact>]
    member _.``the autoencoder refuses images of another shape, naming both`` () =
        let model = TiedCodec.Autoencoder(3, 8, 8, [| 2 |], 4, 2, 1, 1UL)
        let e = Assert.Throws<ArgumentException>(fun () -> model.Forward(Tensor.Constant(Cpu.zeros Dtype.Float32 [| 2; 1; 8; 8 |])) |> ignore)
        Assert.Contains("[2, 3, 8, 8]", e.Message)
        Assert.Contains("[2, 1, 8, 8]", e.Message)

    [<Fact>]
    member _.``asking for openblas where it does not load is a clear error with the paths tried`` () =
        match OpenBlasNative.tryLoad [ "/nonexistent/libopenblas.so.0"; "libcrhn-no-such-library.so" ] with
        | OpenBlasNative.Loaded _ -> failwith "loaded a library that does not exist"
        | OpenBlasNative.NotLoaded trace ->
            Assert.Equal(2, trace.Length)
            Assert.Contains("/nonexistent/libopenblas.so.0: no such file", trace.[0])
            Assert.StartsWith("libcrhn-no-such-library.so:", trace.[1])
        let missing () : Result<ILinearAlgebraProvider, string> = Error "OpenBLAS could not be loaded (install Debian's libopenblas0-pthread). Tried:\n  /x/libopenblas.so.0: no such file\n  libopenblas.so: no such file"
        let e = Assert.Throws<ProviderUnavailableException>(fun () -> LinearAlgebra.chooseWith missing "openblas" |> ignore)
        Assert.Contains("CRHN_BACKEND=openblas", e.Message)
        Assert.Contains("/x/libopenblas.so.0", e.Message)
        let p, why = LinearAlgebra.chooseWith missing "auto"
        Assert.Equal("managed", p.Name)
        Assert.Contains("fell back to managed", why)
        Assert.DoesNotContain("\n", why)
        Assert.Contains("libopenblas0-pthread", why)

    [<Fact>]
    member _.``PNG chunks carry the standard CRC-32 and the file its signature`` () =
        // CRC-32 of the bytes "IEND" is 0xAE426082 in every PNG file (PNG specification, §5.3).
        Assert.Equal(0xAE426082u, Crhn.Core.Data.Png.crc32 "IEND"B)
        let png = Crhn.Core.Data.Png.encode 1 2 3 [| 0.0f; 0.5f; 1.0f; 1.0f; 0.5f; 0.0f |]
        Assert.Equal<byte[]>([| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 0x0Duy; 0x0Auy; 0x1Auy; 0x0Auy |], png.[.. 7])
        Assert.Equal<byte[]>([| 0uy; 0uy; 0uy; 0uy; 0x49uy; 0x45uy; 0x4Euy; 0x44uy; 0xAEuy; 0x42uy; 0x60uy; 0x82uy |], png.[png.Length - 12 ..])

    /// Same inputs, same bits: the convolution's weight gradient sums per-core partials, which must
    /// add up in one fixed order (a dynamic split of the images made them differ between runs).
    [<Fact>]
    member _.``the conv weight gradient is bit-for-bit reproducible`` () =
        let g = { StrideH = 2; StrideW = 2; PadH = 1; PadW = 1 }
        let x = Cpu.ofFloat32 [| 50; 3; 16; 16 |] (Rng.uniform32 1UL -1.0 1.0 (50 * 3 * 16 * 16))
        let dy = Cpu.ofFloat32 [| 50; 8; 8; 8 |] (Rng.uniform32 2UL -1.0 1.0 (50 * 8 * 8 * 8))
        let first = x.Conv2dBackwardWeight(dy, [| 8; 3; 4; 4 |], g).ToFloat32Array()
        for _ in 1 .. 20 do
            Assert.Equal<float32[]>(first, x.Conv2dBackwardWeight(dy, [| 8; 3; 4; 4 |], g).ToFloat32Array())

