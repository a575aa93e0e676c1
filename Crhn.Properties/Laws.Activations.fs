namespace Crhn.Properties

open System
open FsCheck
open FsCheck.FSharp
open Crhn.Core

/// The float32 activations (Kernels.FastActivation: float32 exp, Cephes' polynomial for small |x|)
/// against float64 references, in units in the last place of the float32 result: tanh within 2 ulp,
/// the sigmoid within 4 ulp (its exp's 2 ulp and one division), both exact on ±∞ and NaN-preserving.
module LawsActivations =

    /// float32 values that reach every branch: the bulk, the small-|x| range, tiny and huge
    /// magnitudes, the branch points and the special values.
    let values =
        let uniform (lo: float) (hi: float) = Gen.choose (0, 1 <<< 24) |> Gen.map (fun k -> float32 (lo + (hi - lo) * float k / float (1 <<< 24)))
        let magnitude = gen {
            let! e = Gen.choose (-38, 2)
            let! m = Gen.choose (1, 9)
            let! negative = Gen.elements [ false; true ]
            return float32 (float m * 10.0 ** float e) * (if negative then -1.0f else 1.0f) }
        let special = Gen.elements [ 0.0f; -0.0f; infinityf; -infinityf; nanf; 0.625f; -0.625f; 9.0f; -9.0f; 87.0f; -87.0f; 88.5f; -88.5f; -104.0f ]
        Gen.frequency [ 4, uniform -12.0 12.0; 3, uniform -0.7 0.7; 2, magnitude; 1, special ]
        |> Gen.arrayOfLength 64

    /// |y − reference| in float32 ulps of the reference (the spacing at its magnitude, at least the smallest normal's).
    let ulps (y: float32) (reference: float) =
        let r = float32 reference
        let spacing = float (MathF.BitIncrement(max (abs r) 1.1754944e-38f) - max (abs r) 1.1754944e-38f)
        abs (float y - reference) / spacing

    let private within (name: string) (bound: float) (f: float32[] -> float32[]) (reference: float -> float) (xs: float32[]) =
        let ys = f xs
        let bad =
            Array.zip xs ys |> Array.tryFind (fun (x, y) ->
                let r = reference (float x)
                if Double.IsNaN r then not (Single.IsNaN y) else ulps y r > bound)
        match bad with
        | None -> true |> Prop.label name
        | Some(x, y) -> false |> Prop.label (sprintf "%s(%.9g) = %.9g, reference %.9g (%.2f ulp > %g)" name x y (reference (float x)) (ulps y (reference (float x))) bound)

    let private sigmoid64 (x: float) = if x >= 0.0 then 1.0 / (1.0 + exp -x) else exp x / (1.0 + exp x)

    let private engine (op: UnaryOp) (xs: float32[]) = (Cpu.ofFloat32 [| xs.Length |] xs).Unary(op).ToFloat32Array()

    /// float32 tanh is within 2 ulp of float64 tanh everywhere, ±1 at ±∞, NaN at NaN.
    let tanhAccurate = Prop.forAll (Arb.fromGen values) (within "tanh" 2.0 (engine UnaryOp.Tanh) Math.Tanh)

    /// The float32 sigmoid is within 4 ulp of the float64 one wherever that is a normal float32
    /// (below x = −87 it is a denormal and the kernel returns 0).
    let sigmoidAccurate =
        Prop.forAll (Arb.fromGen values) (fun xs ->
            let normal = xs |> Array.filter (fun x -> not (x < -87.0f))
            within "sigmoid" 4.0 (engine UnaryOp.Sigmoid) sigmoid64 normal
            .&. (xs |> Array.filter (fun x -> x < -87.0f) |> engine UnaryOp.Sigmoid |> Array.forall ((=) 0.0f) |> Prop.label "0 below −87"))

    /// Companion: dropping the small-|x| polynomial, tanh = 1 − 2/(e²ˣ + 1) evaluated in float32
    /// cancels near 0 and misses the 2-ulp bound.
    let tanhWithoutSmallBranchFails =
        let naive (xs: float32[]) = xs |> Array.map (fun x -> 1.0f - 2.0f / (MathF.Exp(2.0f * x) + 1.0f))
        Prop.forAll (Arb.fromGen values) (within "1 − 2/(e²ˣ + 1)" 2.0 naive Math.Tanh)

    /// float64 tanh within `bound` float64 ulps of Math.Tanh (the spacing at the reference's magnitude).
    let private within64 (bound: float) (f: float[] -> float[]) (xs: float32[]) =
        let xs = xs |> Array.map float |> Array.filter (fun x -> not (Double.IsNaN x))
        let ys = f xs
        let ulp64 (r: float) = let m = max (abs r) 2.2250738585072014e-308 in Math.BitIncrement m - m
        match Array.zip xs ys |> Array.tryFind (fun (x, y) -> abs (y - Math.Tanh x) > bound * ulp64 (Math.Tanh x)) with
        | None -> true |> Prop.label "tanh float64"
        | Some(x, y) -> false |> Prop.label (sprintf "tanh(%.17g) = %.17g, Math.Tanh %.17g (%.0f ulp > %g)" x y (Math.Tanh x) (abs (y - Math.Tanh x) / ulp64 (Math.Tanh x)) bound)

    /// float64 tanh (the engine's kernel) is within 2 ulp of Math.Tanh everywhere, small |x| included.
    let tanh64Accurate =
        Prop.forAll (Arb.fromGen values) (within64 2.0 (fun xs -> (Cpu.ofFloat64 [| xs.Length |] xs).Unary(UnaryOp.Tanh).ToFloat64Array()))

    /// Companion: the vectorised (e²ˣ − 1)/(e²ˣ + 1) of TensorPrimitives.Tanh in float64 cancels near
    /// 0 (relative errors of 1e-12 at |x| ≈ 1e-5, 1e-9 at 1e-8) and misses the 2-ulp bound.
    let tensorPrimitivesTanh64Fails =
        Prop.forAll (Arb.fromGen values) (within64 2.0 (fun xs ->
            let d = Array.zeroCreate<float> xs.Length
            Numerics.Tensors.TensorPrimitives.Tanh(ReadOnlySpan xs, Span d)
            d))
