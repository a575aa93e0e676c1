namespace Crhn.Torch.Tests

open System
open Crhn.Core
open Crhn.Properties
open FsCheck
open FsCheck.FSharp
open Xunit

/// Every op of the torch backend against the CPU backend: float64 to 1e-12, float32 within the
/// rounding bound of its sum, factorisations through what they determine, and gradients through
/// the engine's autodiff.
type OpTests() =

    /// float32's unit roundoff, 2⁻²⁴.
    static let u32 = Math.Pow(2.0, -24.0)

    /// Prop: an op on the torch backend returns, in float64, what the CPU backend returns to 1e-12
    /// of the error scale (|result| + the op on |inputs|). With `dtype` Float32 and `tolerance`
    /// None, the torch result is compared with the float64 CPU result within the bound of a sum
    /// of its terms: 2·(terms + 4)·u (u = 2⁻²⁴) of the error scale.
    static member Agree (dtype: Dtype) (tolerance: float option) =
        Prop.forAll (Arb.fromGen Ops.cases) (fun case ->
            let got = case.Run(Ops.place (Ops.torchBackend.Force()) dtype case.Inputs)
            let onTorch = got |> List.forall (fun t -> t.Backend = Ops.torchName)
            let bound = defaultArg tolerance (2.0 * float (case.Terms + 4) * u32)
            let error = Ops.worstError case got
            (onTorch && error <= bound) |> Prop.label (sprintf "%O: error %.3g of the scale, bound %.3g" case error bound))

    [<Fact>]
    member _.``every op agrees with the CPU backend in float64 to 1e-12`` () =
        Check.run "torch ops float64" 400 (OpTests.Agree Dtype.Float64 (Some 1e-12))

    [<Fact>]
    member _.``every op agrees in float32 within the rounding bound of its sum`` () =
        Check.run "torch ops float32" 400 (OpTests.Agree Dtype.Float32 None)

    [<Fact>]
    member _.``companion: float32 results do not meet the float64 tolerance`` () =
        Check.fails "torch ops float32 at 1e-12" 400 (OpTests.Agree Dtype.Float32 (Some 1e-12))

    /// Prop: the torch SVD of an m×n matrix has the CPU's singular values (to `tolerance` of the
    /// largest) and its factors rebuild the matrix (U·diag(S)·Vᵀ to `tolerance` of ‖A‖ entrywise,
    /// U's columns orthonormal): the factors themselves are unique only up to signs.
    static member Svd (dtype: Dtype) (tolerance: float) =
        Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (1, 12)) (Gen.choose (1, 12)) (Gen.choose (0, Int32.MaxValue)))) (fun (m, n, seed) ->
            let a = [ [| m; n |], Ops.values seed -1.0 1.0 (m * n) ]
            let u, s, vt = (List.head (Ops.place (Ops.torchBackend.Force()) dtype a)).Svd()
            let _, s0, _ = (List.head (Ops.place Backends.Cpu Dtype.Float64 a)).Svd()
            let sv, s0v = s.ToFloat64Array(), s0.ToFloat64Array()
            let largest = max 1e-30 (Array.max s0v)
            let values = Array.forall2 (fun x y -> abs (x - y) <= tolerance * largest) sv s0v
            let k = min m n
            let uv, vtv, av = u.ToFloat64Array(), vt.ToFloat64Array(), snd a.Head
            let rebuilt = Array.init (m * n) (fun ij -> Seq.sum (seq { for l in 0 .. k - 1 -> uv.[(ij / n) * k + l] * sv.[l] * vtv.[l * n + ij % n] }))
            let rebuilds = Array.forall2 (fun x y -> abs (x - y) <= tolerance * largest) rebuilt av
            let gram p q = Seq.sum (seq { for i in 0 .. m - 1 -> uv.[i * k + p] * uv.[i * k + q] })
            let orthonormal =
                Seq.allPairs [ 0 .. k - 1 ] [ 0 .. k - 1 ]
                |> Seq.forall (fun (p, q) -> abs (gram p q - (if p = q then 1.0 else 0.0)) <= tolerance * 10.0)
            (values && rebuilds && orthonormal) |> Prop.label (sprintf "%d×%d: values %b, rebuilds %b, orthonormal %b" m n values rebuilds orthonormal))

    [<Fact>]
    member _.``the SVD agrees in float64 to 1e-12 and in float32 to 1e-5`` () =
        Check.run "torch svd float64" 100 (OpTests.Svd Dtype.Float64 1e-12)
        Check.run "torch svd float32" 100 (OpTests.Svd Dtype.Float32 1e-5)

    [<Fact>]
    member _.``companion: the float32 SVD does not meet 1e-12`` () =
        Check.fails "torch svd float32 at 1e-12" 100 (OpTests.Svd Dtype.Float32 1e-12)

    /// Prop: the symmetric eigendecomposition on torch has the CPU's eigenvalues, descending, and
    /// V·diag(λ)·Vᵀ rebuilds the matrix, to `tolerance` of the largest |λ|.
    static member Eigen (tolerance: float) (symmetric: bool) =
        Prop.forAll (Arb.fromGen (Gen.zip (Gen.choose (1, 10)) (Gen.choose (0, Int32.MaxValue)))) (fun (n, seed) ->
            let raw = Ops.values seed -1.0 1.0 (n * n)
            let a = if symmetric then Array.init (n * n) (fun ij -> 0.5 * (raw.[ij] + raw.[(ij % n) * n + ij / n])) else raw
            let v, l = (Backends.Named(Ops.torchName).OfFloat64([| n; n |], a)).SymmetricEigen()
            let _, l0 = (Backends.Cpu.OfFloat64([| n; n |], a)).SymmetricEigen()
            let lv, l0v, vv = l.ToFloat64Array(), l0.ToFloat64Array(), v.ToFloat64Array()
            let largest = max 1e-30 (l0v |> Array.map abs |> Array.max)
            let values = Array.forall2 (fun x y -> abs (x - y) <= tolerance * largest) lv l0v
            let rebuilt = Array.init (n * n) (fun ij -> Seq.sum (seq { for p in 0 .. n - 1 -> vv.[(ij / n) * n + p] * lv.[p] * vv.[(ij % n) * n + p] }))
            let rebuilds = Array.forall2 (fun x y -> abs (x - y) <= tolerance * largest) rebuilt a
            (values && rebuilds) |> Prop.label (sprintf "n %d: values %b, rebuilds %b" n values rebuilds))

    [<Fact>]
    member _.``the symmetric eigendecomposition agrees in float64 to 1e-12`` () =
        Ops.torchBackend.Force() |> ignore
        Check.run "torch eigh" 100 (OpTests.Eigen 1e-12 true)

    [<Fact>]
    member _.``companion: a matrix that is not symmetric is not rebuilt from one triangle`` () =
        Ops.torchBackend.Force() |> ignore
        Check.fails "torch eigh of a non-symmetric matrix" 100 (OpTests.Eigen 1e-12 false)

    /// A small network through the engine's autodiff: conv (stride 2, pad 1) → tanh → the
    /// transposed conv with the same kernel → sigmoid, against the input; plus a dense layer and a
    /// log-softmax on the flattened features. Returns the loss and the gradients of both weights.
    static member Gradients (backend: Backend) (dtype: Dtype) (seed: int) =
        let x = backend.Create(dtype, [| 2; 2; 6; 6 |], Ops.values seed 0.0 1.0 144)
        let w = Tensor.Parameter(backend.Create(dtype, [| 3; 2; 4; 4 |], Ops.values (seed + 1) -0.5 0.5 96))
        let d = Tensor.Parameter(backend.Create(dtype, [| 27; 5 |], Ops.values (seed + 2) -0.5 0.5 135))
        let input = Tensor.Constant x
        let hidden = input.Conv2d(w, 2, 1).Tanh()
        let back = hidden.ConvTranspose2d(w, 2, 1, 0).Sigmoid()
        let logits = hidden.Reshape([| 2; 27 |]).MatMul(d)
        let loss = Tensor.Mse(back, input) + logits.LogSoftmax().MeanAll() * -1.0
        loss.Backward()
        loss.ToScalar(), w.Grad.Value.ToFloat64Array(), d.Grad.Value.ToFloat64Array()

    /// Prop: the gradients the engine's reverse pass computes on torch equal the CPU's (float64)
    /// to `tolerance` of the largest gradient entry.
    static member GradientsAgree (dtype: Dtype) (tolerance: float) =
        Prop.forAll (Arb.fromGen (Gen.choose (0, Int32.MaxValue))) (fun seed ->
            let loss, gw, gd = OpTests.Gradients (Ops.torchBackend.Force()) dtype seed
            let loss0, gw0, gd0 = OpTests.Gradients Backends.Cpu Dtype.Float64 seed
            let close (a: float[]) (b: float[]) =
                let largest = b |> Array.map abs |> Array.fold max 1e-30
                Array.forall2 (fun x y -> abs (x - y) <= tolerance * largest) a b
            (abs (loss - loss0) <= tolerance * abs loss0 && close gw gw0 && close gd gd0) |> Prop.label (sprintf "seed %d" seed))

    [<Fact>]
    member _.``gradients through the autodiff agree in float64 to 1e-12 and in float32 to 1e-5`` () =
        Check.run "torch gradients float64" 50 (OpTests.GradientsAgree Dtype.Float64 1e-12)
        Check.run "torch gradients float32" 50 (OpTests.GradientsAgree Dtype.Float32 1e-5)

    [<Fact>]
    member _.``companion: float32 gradients do not meet 1e-12`` () =
        Check.fails "torch gradients float32 at 1e-12" 50 (OpTests.GradientsAgree Dtype.Float32 1e-12)

    [<Fact>]
    member _.``a torch tensor used after its memory scope raises ObjectDisposedException unless kept`` () =
        let torch = Ops.torchBackend.Force()
        let x = torch.OfFloat32([| 2; 3 |], Array.init 6 float32)
        let lost, kept =
            use _ = Backends.Use torch
            use _ = Memory.Scope()
            let y = x.MulScalar 2.0
            y.AddScalar 1.0, y.Keep()
        Assert.Throws<ObjectDisposedException>(fun () -> lost.ToFloat32Array() |> ignore) |> ignore
        Assert.Equal<float32[]>(Array.init 6 (fun i -> 2.0f * float32 i), kept.ToFloat32Array())
        Assert.Equal<float32[]>(Array.init 6 float32, x.ToFloat32Array())
