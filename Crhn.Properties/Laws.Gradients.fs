namespace Crhn.Properties

open System
open FsCheck
open FsCheck.FSharp
open Crhn.Core

/// One generated gradient check: the op applied to inputs, described for counterexamples.
type GradCase(description: string, inputs: RawTensor[], f: Tensor[] -> Tensor, projectionSeed: uint64) =
    member _.Inputs = inputs
    member _.F = f
    member _.Seed = projectionSeed
    override _.ToString() =
        sprintf "%s on %s (projection seed %d)" description (inputs |> Array.map (fun t -> Shape.format t.Shape) |> String.concat ", ") projectionSeed

/// Every differentiable op's reverse rule agrees with central finite differences in float64
/// (relative error < GradCheck.tolerance = 1e-6), over random shapes (1×1, tall-skinny, sizes that
/// are no multiple of any block size) and values.
module LawsGradients =

    let private case (description: string) (f: Tensor[] -> Tensor) (inputs: Gen<RawTensor[]>) =
        gen {
            let! xs = inputs
            let! s = Generators.seed
            return GradCase(description, xs, f, s)
        }

    let private t64 (lo: float) (hi: float) (kinks: float list) (shape: int[]) =
        Generators.values lo hi shape |> Gen.map (fun v -> Cpu.ofFloat64 shape (Generators.avoidKinks kinks 1e-3 v))

    let private one (lo: float) (hi: float) (kinks: float list) =
        Generators.shape 4 |> Gen.bind (fun s -> t64 lo hi kinks s) |> Gen.map (fun t -> [| t |])

    let private unary (name: string) (lo: float) (hi: float) (kinks: float list) (f: Tensor -> Tensor) =
        name, case name (fun ts -> f ts.[0]) (one lo hi kinks)

    /// A pair of shapes that broadcast: b is a with some axes set to 1 and leading axes dropped,
    /// sometimes swapped so either side broadcasts.
    let private broadcastPair =
        gen {
            let! a = Generators.shape 4
            let! ones = Gen.arrayOfLength a.Length (Gen.elements [ false; false; true ])
            let! drop = Gen.choose (0, a.Length - 1)
            let b = (Array.mapi (fun i d -> if ones.[i] then 1 else d) a).[drop ..]
            let! swap = Gen.elements [ false; true ]
            return if swap then b, a else a, b
        }

    let private binary (name: string) (bLo: float) (f: Tensor -> Tensor -> Tensor) =
        name, case name (fun ts -> f ts.[0] ts.[1]) (gen {
            let! sa, sb = broadcastPair
            let! a = t64 -2.0 2.0 [] sa
            let! b = t64 bLo 2.0 [] sb
            return [| a; b |]
        })

    let private axesOf (shape: int[]) =
        Gen.subListOf [ 0 .. shape.Length - 1 ] |> Gen.map Array.ofList

    let private matmul (ta: bool) (tb: bool) =
        let name = sprintf "matmul%s%s" (if ta then "T" else "N") (if tb then "T" else "N")
        name, case name (fun ts -> ts.[0].MatMul(ts.[1], ta, tb)) (gen {
            let! m = Generators.dim
            let! n = Generators.dim
            let! k = Gen.frequency [ 4, Generators.dim; 1, Gen.constant 1 ]
            let! a = t64 -1.0 1.0 [] (if ta then [| k; m |] else [| m; k |])
            let! b = t64 -1.0 1.0 [] (if tb then [| n; k |] else [| k; n |])
            return [| a; b |]
        })

    let private convGeometry = Generators.convGeometry 2 3 3 7

    /// The ops and their generators, by name.
    let cases : (string * Gen<GradCase>) list =
        [ binary "add" -2.0 (+)
          binary "sub" -2.0 (-)
          binary "mul" -2.0 (*)
          binary "div" 0.5 (/)
          unary "neg" -2.0 2.0 [] (fun x -> -x)
          unary "addScalar" -2.0 2.0 [] (fun x -> x + 0.75)
          unary "mulScalar" -2.0 2.0 [] (fun x -> x * -1.5)
          unary "exp" -2.0 2.0 [] (fun x -> x.Exp())
          unary "log" 0.1 3.0 [] (fun x -> x.Log())
          unary "sqrt" 0.1 3.0 [] (fun x -> x.Sqrt())
          unary "square" -2.0 2.0 [] (fun x -> x.Square())
          unary "abs" -2.0 2.0 [ 0.0 ] (fun x -> x.Abs())
          unary "tanh" -3.0 3.0 [] (fun x -> x.Tanh())
          unary "sigmoid" -4.0 4.0 [] (fun x -> x.Sigmoid())
          unary "relu" -2.0 2.0 [ 0.0 ] (fun x -> x.Relu())
          unary "clamp" -2.0 2.0 [ -0.5; 0.7 ] (fun x -> x.Clamp(-0.5, 0.7))
          "softmax", case "softmax" (fun ts -> ts.[0].Softmax(ts.[0].Shape.Length - 1)) (one -3.0 3.0 [])
          "softmax(axis 0)", case "softmax(axis 0)" (fun ts -> ts.[0].Softmax(0)) (one -3.0 3.0 [])
          "logSoftmax", case "logSoftmax" (fun ts -> ts.[0].LogSoftmax()) (one -3.0 3.0 [])
          "logSoftmax(axis 0)", case "logSoftmax(axis 0)" (fun ts -> ts.[0].LogSoftmax(0)) (one -3.0 3.0 [])
          "sum", (gen {
              let! s = Generators.shape 4
              let! axes = axesOf s
              let! keep = Gen.elements [ false; true ]
              let! x = t64 -2.0 2.0 [] s
              let! seed = Generators.seed
              return GradCase(sprintf "sum over %A keepDim=%b" axes keep, [| x |], (fun ts -> ts.[0].Sum(axes, keep)), seed) })
          "mean", (gen {
              let! s = Generators.shape 4
              let! axes = axesOf s
              let! x = t64 -2.0 2.0 [] s
              let! seed = Generators.seed
              return GradCase(sprintf "mean over %A" axes, [| x |], (fun ts -> ts.[0].Mean(axes)), seed) })
          unary "sumAll" -2.0 2.0 [] (fun x -> x.SumAll())
          unary "meanAll" -2.0 2.0 [] (fun x -> x.MeanAll())
          unary "reshape" -2.0 2.0 [] (fun x -> x.Reshape([| -1 |]).Reshape(Array.rev x.Shape))
          "permute", (gen {
              let! s = Generators.shape 4
              let! perm = Gen.shuffle [| 0 .. s.Length - 1 |]
              let! x = t64 -2.0 2.0 [] s
              let! seed = Generators.seed
              return GradCase(sprintf "permute %A" perm, [| x |], (fun ts -> ts.[0].Permute perm), seed) })
          "transpose", (gen {
              let! m = Generators.dim
              let! n = Generators.dim
              let! x = t64 -2.0 2.0 [] [| m; n |]
              let! seed = Generators.seed
              return GradCase("transpose", [| x |], (fun ts -> ts.[0].Transpose(0, 1)), seed) })
          "slice", (gen {
              let! s = Generators.shape 4
              let! starts = s |> Array.map (fun d -> Gen.choose (0, d - 1)) |> Gen.sequenceToArray
              let! lengths = Array.map2 (fun d st -> Gen.choose (1, d - st)) s starts |> Gen.sequenceToArray
              let! x = t64 -2.0 2.0 [] s
              let! seed = Generators.seed
              return GradCase(sprintf "slice at %A of %A" starts lengths, [| x |], (fun ts -> ts.[0].Slice(starts, lengths)), seed) })
          "concat", (gen {
              let! s = Generators.shape 3
              let! axis = Gen.choose (0, s.Length - 1)
              let! count = Gen.choose (1, 3)
              let! sizes = Gen.arrayOfLength count (Gen.choose (1, 4))
              let! xs = sizes |> Array.map (fun d -> t64 -2.0 2.0 [] (Array.mapi (fun i v -> if i = axis then d else v) s)) |> Gen.sequenceToArray
              let! seed = Generators.seed
              return GradCase(sprintf "concat along %d" axis, xs, (fun ts -> Tensor.Concat(ts, axis)), seed) })
          matmul false false
          matmul false true
          matmul true false
          matmul true true
          "conv2d", (gen {
              let! n, c, o, k, s, p, h, w = convGeometry
              let! x = t64 -1.0 1.0 [] [| n; c; h; w |]
              let! wt = t64 -1.0 1.0 [] [| o; c; k; k |]
              let! seed = Generators.seed
              return GradCase(sprintf "conv2d stride %d padding %d" s p, [| x; wt |], (fun ts -> ts.[0].Conv2d(ts.[1], s, p)), seed) })
          "convTranspose2d", (gen {
              let! n, c, o, k, s, p, h, w = convGeometry
              let h', w' = Shape.convOutput h k s p, Shape.convOutput w k s p
              // outputPadding = s − 1 always gives a positive size (at least the conv's input size).
              let! op = Gen.elements [ for o in 0 .. s - 1 do if Shape.convTransposeOutput (min h' w') k s p o > 0 then o ]
              let! x = t64 -1.0 1.0 [] [| n; o; h'; w' |]
              let! wt = t64 -1.0 1.0 [] [| o; c; k; k |]
              let! seed = Generators.seed
              return GradCase(sprintf "convTranspose2d stride %d padding %d outputPadding %d" s p op, [| x; wt |], (fun ts -> ts.[0].ConvTranspose2d(ts.[1], s, p, op)), seed) })
          "conv2d+bias", (gen {
              let! n, c, o, k, s, p, h, w = convGeometry
              let! x = t64 -1.0 1.0 [] [| n; c; h; w |]
              let! wt = t64 -1.0 1.0 [] [| o; c; k; k |]
              let! b = t64 -1.0 1.0 [] [| o |]
              let! seed = Generators.seed
              return GradCase(sprintf "conv2d with bias, stride %d padding %d" s p, [| x; wt; b |], (fun ts -> ts.[0].Conv2d(ts.[1], s, p, ts.[2])), seed) })
          "convTranspose2d+bias", (gen {
              let! n, c, o, k, s, p, h, w = convGeometry
              let h', w' = Shape.convOutput h k s p, Shape.convOutput w k s p
              let! x = t64 -1.0 1.0 [] [| n; o; h'; w' |]
              let! wt = t64 -1.0 1.0 [] [| o; c; k; k |]
              let! b = t64 -1.0 1.0 [] [| 1; c; 1; 1 |]
              let! seed = Generators.seed
              return GradCase(sprintf "convTranspose2d with bias, stride %d padding %d" s p, [| x; wt; b |], (fun ts -> ts.[0].ConvTranspose2d(ts.[1], s, p, s - 1, ts.[2])), seed) })
          "tied conv autoencoder", (gen {
              let! n, c, o, k, s, p, h, w = convGeometry
              let op = (h + 2 * p - k) % s
              let! x = t64 -1.0 1.0 [] [| n; c; h; h |]
              let! wt = t64 -1.0 1.0 [] [| o; c; k; k |]
              let! seed = Generators.seed
              return GradCase(sprintf "convTranspose2d(tanh(conv2d(x, w)), w) stride %d padding %d (one weight used twice)" s p, [| x; wt |],
                              (fun ts -> ts.[0].Conv2d(ts.[1], s, p).Tanh().ConvTranspose2d(ts.[1], s, p, op)), seed) })
          "mse", (gen {
              let! s = Generators.shape 4
              let! a = t64 -2.0 2.0 [] s
              let! b = t64 -2.0 2.0 [] s
              let! seed = Generators.seed
              return GradCase("mse", [| a; b |], (fun ts -> Tensor.Mse(ts.[0], ts.[1])), seed) })
          "crossEntropy", (gen {
              let! rows = Generators.dim
              let! classes = Gen.choose (1, 12)
              let! logits = t64 -3.0 3.0 [] [| rows; classes |]
              let! labels = Gen.arrayOfLength rows (Gen.choose (0, classes - 1))
              let! seed = Generators.seed
              return GradCase(sprintf "crossEntropy labels %A" labels, [| logits |], (fun ts -> Tensor.CrossEntropy(ts.[0], labels)), seed) }) ]

    /// The property for one op: its reverse rule agrees with central differences.
    let gradientAgrees (name: string) =
        let gen = cases |> List.find (fun (n, _) -> n = name) |> snd
        Prop.forAll (Arb.fromGen gen) (fun c ->
            let e = GradCheck.relativeError c.F c.Seed c.Inputs
            e < GradCheck.tolerance |> Prop.label (sprintf "%s: relative error %.3g ≥ %g" name e GradCheck.tolerance))

    /// sign's straight-through reverse rule is exactly the derivative of its surrogate
    /// hardtanh = clamp(x, −1, 1) (values kept 1e-3 away from the kinks at −1, 0, 1).
    let signStraightThrough =
        Prop.forAll (Arb.fromGen (case "sign" (fun ts -> ts.[0].Sign()) (one -2.0 2.0 [ -1.0; 0.0; 1.0 ]))) (fun c ->
            let e = GradCheck.relativeErrorAgainst c.F (fun ts -> ts.[0].Clamp(-1.0, 1.0)) c.Seed c.Inputs
            e < GradCheck.tolerance |> Prop.label (sprintf "sign vs hardtanh: relative error %.3g" e))

    /// Companion: sign's straight-through gradient is NOT sign's own derivative (0 away from 0),
    /// so the checker is not vacuous: it finds a case where the two differ.
    let signIsNotItsOwnDerivative =
        Prop.forAll (Arb.fromGen (case "sign" (fun ts -> ts.[0].Sign()) (one -2.0 2.0 [ -1.0; 0.0; 1.0 ]))) (fun c ->
            GradCheck.relativeError c.F c.Seed c.Inputs < GradCheck.tolerance)

    /// Tensors whose values include exact zeros (a zero pre-activation: an input that is the
    /// range's midpoint everywhere, in a codec without biases).
    let private withZeros =
        Generators.shape 4 |> Gen.bind (fun s ->
            Gen.arrayOfLength (Array.fold (*) 1 s) (Gen.elements [ -1.5; -0.5; 0.0; 0.0; 0.5; 1.5 ])
            |> Gen.map (fun v -> Cpu.ofFloat64 s v))

    /// Every entry of `code` is ±1, the sign of `x` where x ≠ 0 and +1 where x = 0.
    let private isCodeOf (x: RawTensor) (code: RawTensor) =
        Array.forall2 (fun v c -> c = (if v < 0.0 then -1.0 else 1.0)) (x.ToFloat64Array()) (code.ToFloat64Array())

    /// A binary code is ±1 everywhere: Binarize is sign with 0 → +1 (so a zero pre-activation still
    /// gives a code the decoder can learn from), and its reverse rule is sign's straight-through one.
    let binarizeIsACode =
        Prop.forAll (Arb.fromGen withZeros) (fun x ->
            let code = Tensor.Constant(x).Binarize().Primal
            let e = GradCheck.relativeErrorAgainst (fun ts -> ts.[0].Binarize()) (fun ts -> ts.[0].Clamp(-1.0, 1.0)) 1UL [| x |]
            (isCodeOf x code |> Prop.label "±1, sign with 0 → +1") .&. (e < GradCheck.tolerance |> Prop.label (sprintf "STE: relative error %.3g" e)))

    /// Companion: plain sign keeps 0, so a zero pre-activation gives a zero code (the decoder sees
    /// nothing and cannot learn the image): the property fails for Sign.
    let signIsNotACode =
        Prop.forAll (Arb.fromGen withZeros) (fun x -> isCodeOf x (x.Unary UnaryOp.Sign))

    /// Companion: a deliberately wrong reverse rule (tanh with g·(1 − tanh) instead of
    /// g·(1 − tanh²)) is caught by the same check and tolerance.
    let wrongRuleIsCaught =
        let wrongTanh (x: Tensor) =
            let y = x.Primal.Unary UnaryOp.Tanh
            Tensor.Record("wrongTanh", y, [| x |], fun g _ -> g.Binary(BinaryOp.Mul, y.MulScalar(-1.0).AddScalar 1.0))
        Prop.forAll (Arb.fromGen (case "wrongTanh" (fun ts -> wrongTanh ts.[0]) (one -3.0 3.0 []))) (fun c ->
            GradCheck.relativeError c.F c.Seed c.Inputs < GradCheck.tolerance)
