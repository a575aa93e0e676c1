/// The engine's ops as cases to run on two backends: random shapes and values, how to run the op,
/// and how many roundings its float32 result may accumulate.
module Crhn.Torch.Tests.Ops

open System
open Crhn.Core
open Crhn.Torch
open FsCheck
open FsCheck.FSharp

/// The torch backend's name: on the CPU, or on the device CRHN_TORCH_DEVICE names (bench/cuda.sh).
let torchName =
    match Environment.GetEnvironmentVariable "CRHN_TORCH_DEVICE" with
    | null | "" | "cpu" -> "torch"
    | "cuda" -> "torch:cuda:0"
    | device -> "torch:" + device

/// The torch backend, registered once.
let torchBackend =
    lazy
        (TorchBackend.Register()
         Backends.Named torchName)

/// One op on concrete inputs: host values with their shapes, the op on tensors of any backend,
/// and the number of roundings a float32 output element may accumulate (k of a sum of k products).
[<NoEquality; NoComparison>]
type Case =
    { Name: string
      Inputs: (int[] * float[]) list
      Run: RawTensor list -> RawTensor list
      Terms: int }
    override c.ToString() = sprintf "%s on %s" c.Name (c.Inputs |> List.map (fst >> Shape.format) |> String.concat ", ")

/// Values in [lo, hi] from a seed, exactly representable in float32 (so both dtypes see the same inputs).
let values (seed: int) (lo: float) (hi: float) (n: int) =
    Rng.uniform64 (uint64 seed) lo hi n |> Array.map (float32 >> float)

let private input seed lo hi (shape: int[]) = shape, values seed lo hi (Shape.numel shape)

/// The inputs on a backend in a dtype.
let place (backend: Backend) (dtype: Dtype) (inputs: (int[] * float[]) list) =
    inputs |> List.map (fun (shape, v) -> backend.Create(dtype, shape, v))

let private scalar (x: RawTensor) (v: float) = x.CreateLike([| 1 |], [| v |])

let private unaryCase name op lo hi =
    gen {
        let! rows = Gen.choose (1, 6)
        let! cols = Gen.choose (1, 40)
        let! seed = Gen.choose (0, Int32.MaxValue)
        return { Name = name; Inputs = [ input seed lo hi [| rows; cols |] ]; Run = (fun xs -> [ op (List.head xs) ]); Terms = 4 }
    }

let private binaryCases =
    gen {
        let! kind = Gen.elements [ BinaryOp.Add; BinaryOp.Sub; BinaryOp.Mul; BinaryOp.Div ]
        let! rows = Gen.choose (1, 6)
        let! cols = Gen.choose (1, 20)
        let! broadcast = Gen.elements [ [| 1; cols |]; [| rows; 1 |]; [| rows; cols |]; [| cols |] ]
        let! seed = Gen.choose (0, Int32.MaxValue)
        // Divisors kept away from zero.
        let lo, hi = if kind = BinaryOp.Div then 0.5, 2.0 else -2.0, 2.0
        return { Name = sprintf "binary %A" kind; Inputs = [ input seed -2.0 2.0 [| rows; cols |]; input (seed + 1) lo hi broadcast ]
                 Run = (fun xs -> [ xs.[0].Binary(kind, xs.[1]) ]); Terms = 2 }
    }

/// A seed and three sizes, each from 1 to its bound.
let private seedAndSizes (a: int) (b: int) (c: int) =
    Gen.zip (Gen.choose (0, Int32.MaxValue)) (Gen.zip3 (Gen.choose (1, a)) (Gen.choose (1, b)) (Gen.choose (1, c)))

let private reductionCases =
    gen {
        let! seed, (a, b, c) = seedAndSizes 5 6 30
        let! target = Gen.elements [ [| 1; b; 1 |]; [| b; c |]; [| c |]; [| a; 1; c |]; [| 1; 1; 1 |] ]
        let! which = Gen.choose (0, 3)
        let x = input seed -2.0 2.0 [| a; b; c |]
        return
            match which with
            | 0 -> { Name = "sumToShape"; Inputs = [ x ]; Run = (fun xs -> [ xs.[0].SumToShape target ]); Terms = a * b * c + 2 }
            | 1 -> { Name = "sumAll"; Inputs = [ x ]; Run = (fun xs -> [ scalar xs.[0] (xs.[0].SumAll()) ]); Terms = 2 }
            | 2 -> { Name = "softmaxLast"; Inputs = [ x ]; Run = (fun xs -> [ xs.[0].SoftmaxLast() ]); Terms = c + 8 }
            | _ -> { Name = "logSoftmaxLast"; Inputs = [ x ]; Run = (fun xs -> [ xs.[0].LogSoftmaxLast() ]); Terms = c + 8 }
    }

let private layoutCases =
    gen {
        let! seed, (a, b, c) = seedAndSizes 4 5 6
        let! perm = Gen.elements [ [| 0; 2; 1 |]; [| 2; 1; 0 |]; [| 1; 0; 2 |]; [| 2; 0; 1 |] ]
        let! s0 = Gen.choose (0, a - 1)
        let! s2 = Gen.choose (0, c - 1)
        let! which = Gen.choose (0, 4)
        let x = input seed -2.0 2.0 [| a; b; c |]
        let starts, lengths = [| s0; 0; s2 |], [| a - s0; b; c - s2 |]
        return
            match which with
            | 0 -> { Name = "permute"; Inputs = [ x ]; Run = (fun xs -> [ xs.[0].Permute perm ]); Terms = 0 }
            | 1 -> { Name = "slice"; Inputs = [ x ]; Run = (fun xs -> [ xs.[0].Slice(starts, lengths) ]); Terms = 0 }
            | 2 -> { Name = "unslice"; Inputs = [ input seed -2.0 2.0 lengths ]; Run = (fun xs -> [ xs.[0].Unslice([| a; b; c |], starts) ]); Terms = 0 }
            | 3 -> { Name = "concat"; Inputs = [ x; input (seed + 1) -2.0 2.0 [| a; 3; c |] ]; Run = (fun xs -> [ xs.[0].Concat([| xs.[1] |], 1) ]); Terms = 0 }
            | _ -> { Name = "view"; Inputs = [ x ]; Run = (fun xs -> [ xs.[0].View [| a * b; c |] ]); Terms = 0 }
    }

let private productCases =
    gen {
        let! m = Gen.choose (1, 12)
        let! n = Gen.choose (1, 12)
        let! k = Gen.choose (1, 40)
        let! transA = Gen.elements [ false; true ]
        let! transB = Gen.elements [ false; true ]
        let! seed = Gen.choose (0, Int32.MaxValue)
        let! which = Gen.choose (0, 2)
        let a = input seed -2.0 2.0 (if transA then [| k; m |] else [| m; k |])
        let b = input (seed + 1) -2.0 2.0 (if transB then [| n; k |] else [| k; n |])
        return
            match which with
            | 0 -> { Name = sprintf "matmul %b %b" transA transB; Inputs = [ a; b ]; Run = (fun xs -> [ xs.[0].MatMul(transA, transB, xs.[1]) ]); Terms = k + 2 }
            | 1 -> { Name = sprintf "matmul packed %b %b" transA transB; Inputs = [ a; b ]; Run = (fun xs -> [ xs.[0].MatMulPacked(transA, xs.[1].PackRight transB) ]); Terms = k + 2 }
            | _ ->
                { Name = sprintf "matmul accumulate %b %b" transA transB; Inputs = [ a; b; input (seed + 2) -2.0 2.0 [| m; n |] ]
                  Run = (fun xs ->
                    let into = xs.[2].MulScalar 1.0
                    xs.[0].MatMulAddInto(transA, transB, xs.[1], into)
                    [ into ]); Terms = k + 3 }
    }

let private convCases =
    gen {
        let! n = Gen.choose (1, 3)
        let! c = Gen.choose (1, 4)
        let! o = Gen.choose (1, 4)
        let! k = Gen.choose (1, 4)
        let! s = Gen.choose (1, 3)
        let! p = Gen.choose (0, 2)
        let! h = Gen.choose (max 1 (k - 2 * p), 9)
        let! w = Gen.choose (max 1 (k - 2 * p), 9)
        let! seed = Gen.choose (0, Int32.MaxValue)
        let! which = Gen.choose (0, 4)
        let g = { StrideH = s; StrideW = s; PadH = p; PadW = p }
        let ho, wo = Shape.convOutput h k s p, Shape.convOutput w k s p
        let x = input seed -2.0 2.0 [| n; c; h; w |]
        let weight = input (seed + 1) -1.0 1.0 [| o; c; k; k |]
        let dy = input (seed + 2) -1.0 1.0 [| n; o; ho; wo |]
        let forwardTerms = c * k * k + 2
        let weightTerms = n * ho * wo + 2
        let inputTerms = o * k * k + 2
        return
            match which with
            | 0 -> { Name = "conv2d"; Inputs = [ x; weight ]; Run = (fun xs -> [ xs.[0].Conv2d(xs.[1], g) ]); Terms = forwardTerms }
            | 1 -> { Name = "conv2d backward input"; Inputs = [ dy; weight ]; Run = (fun xs -> [ xs.[0].Conv2dBackwardInput(xs.[1], [| n; c; h; w |], g) ]); Terms = inputTerms }
            | 2 -> { Name = "conv2d backward weight"; Inputs = [ x; dy ]; Run = (fun xs -> [ xs.[0].Conv2dBackwardWeight(xs.[1], [| o; c; k; k |], g) ]); Terms = weightTerms }
            | 3 ->
                { Name = "conv2d and weight grad"; Inputs = [ x; weight; dy ]
                  Run = (fun xs -> let y, dw = xs.[0].Conv2dAndWeightGrad(xs.[1], xs.[2], g) in [ y; dw ]); Terms = max forwardTerms weightTerms }
            | _ ->
                { Name = "conv2d backward"; Inputs = [ dy; x; weight ]
                  Run = (fun xs -> let dx, dw = xs.[0].Conv2dBackward(xs.[1], xs.[2], g) in [ dx; dw ]); Terms = max inputTerms weightTerms }
        |> fun case -> { case with Name = sprintf "%s (k %d, stride %d, pad %d)" case.Name k s p }
    }

let private inPlaceCases =
    gen {
        let! rows = Gen.choose (1, 6)
        let! cols = Gen.choose (1, 30)
        let! seed = Gen.choose (0, Int32.MaxValue)
        let! which = Gen.choose (0, 4)
        let shape = [| rows; cols |]
        let x = input seed -2.0 2.0 shape
        let y = input (seed + 1) -2.0 2.0 shape
        let copyOf (t: RawTensor) = t.MulScalar 1.0
        return
            match which with
            | 0 -> { Name = "axpy"; Inputs = [ x; y ]; Run = (fun xs -> let t = copyOf xs.[0] in t.AxpyInPlace(0.37, xs.[1]); [ t ]); Terms = 3 }
            | 1 -> { Name = "scale"; Inputs = [ x ]; Run = (fun xs -> let t = copyOf xs.[0] in t.ScaleInPlace 1.7; [ t ]); Terms = 2 }
            | 2 -> { Name = "addInPlace"; Inputs = [ x; input (seed + 1) -2.0 2.0 [| 1; cols |] ]; Run = (fun xs -> let t = copyOf xs.[0] in t.AddInPlace xs.[1]; [ t ]); Terms = 2 }
            | 3 -> { Name = "copyInPlace"; Inputs = [ x; y ]; Run = (fun xs -> let t = copyOf xs.[0] in t.CopyInPlace xs.[1]; [ t ]); Terms = 0 }
            | _ ->
                { Name = "adam"; Inputs = [ x; y; input (seed + 2) -0.5 0.5 shape; input (seed + 3) 0.0 0.5 shape ]
                  Run = (fun xs ->
                    let p, m, v = copyOf xs.[0], copyOf xs.[2], copyOf xs.[3]
                    p.AdamInPlace(xs.[1], m, v, 0.01 / (1.0 - 0.9 ** 3.0), 0.9, 0.999, sqrt (1.0 - 0.999 ** 3.0), 1e-8)
                    [ p; m; v ]); Terms = 12 }
    }

/// Every op of RawTensor but SVD and the symmetric eigendecomposition (their own properties:
/// their factors are unique only up to signs).
let cases: Gen<Case> =
    Gen.oneof [
        unaryCase "neg" (fun x -> x.Unary UnaryOp.Neg) -2.0 2.0
        unaryCase "abs" (fun x -> x.Unary UnaryOp.Abs) -2.0 2.0
        unaryCase "sign" (fun x -> x.Unary UnaryOp.Sign) -2.0 2.0
        unaryCase "exp" (fun x -> x.Unary UnaryOp.Exp) -4.0 4.0
        unaryCase "log" (fun x -> x.Unary UnaryOp.Log) 0.01 4.0
        unaryCase "sqrt" (fun x -> x.Unary UnaryOp.Sqrt) 0.0 4.0
        unaryCase "square" (fun x -> x.Unary UnaryOp.Square) -2.0 2.0
        unaryCase "tanh" (fun x -> x.Unary UnaryOp.Tanh) -4.0 4.0
        unaryCase "sigmoid" (fun x -> x.Unary UnaryOp.Sigmoid) -6.0 6.0
        unaryCase "relu" (fun x -> x.Unary UnaryOp.Relu) -2.0 2.0
        unaryCase "step" (fun x -> x.Unary UnaryOp.Step) -2.0 2.0
        unaryCase "addScalar" (fun x -> x.AddScalar 0.3) -2.0 2.0
        unaryCase "mulScalar" (fun x -> x.MulScalar -1.7) -2.0 2.0
        unaryCase "clamp" (fun x -> x.Clamp(-0.5, 0.75)) -2.0 2.0
        unaryCase "inRangeMask" (fun x -> x.InRangeMask(-0.5, 0.75)) -2.0 2.0
        unaryCase "activationGrad tanh" (fun x -> x.ActivationGrad(UnaryOp.Tanh, x.Unary UnaryOp.Tanh)) -2.0 2.0
        unaryCase "activationGrad sigmoid" (fun x -> x.ActivationGrad(UnaryOp.Sigmoid, x.Unary UnaryOp.Sigmoid)) -2.0 2.0
        unaryCase "isFinite" (fun x -> scalar x (if (x.AddScalar 0.5).Unary(UnaryOp.Log).IsFinite() then 1.0 else 0.0)) -2.0 2.0
        unaryCase "cast" (fun x -> (x.Cast(if x.Dtype = Dtype.Float32 then Dtype.Float64 else Dtype.Float32)).Cast x.Dtype) -2.0 2.0
        binaryCases
        reductionCases
        layoutCases
        productCases
        convCases
        inPlaceCases
    ]

/// The largest |got − reference| / scale over the outputs, where scale is |reference| plus the
/// op run on the inputs' absolute values (for sums of products: Σ|a||b|, the classic bound's
/// scale), both in float64 on the CPU. Shapes must match exactly.
let worstError (case: Case) (got: RawTensor list) =
    let reference = case.Run(place Backends.Cpu Dtype.Float64 case.Inputs)
    let magnitude = case.Run(place Backends.Cpu Dtype.Float64 (case.Inputs |> List.map (fun (s, v) -> s, Array.map abs v)))
    List.zip3 got reference magnitude
    |> List.map (fun (g, r, m) ->
        if g.Shape <> r.Shape then infinity
        else
            let gv, rv, mv = g.ToFloat64Array(), r.ToFloat64Array(), m.ToFloat64Array()
            Array.init gv.Length (fun i -> abs (gv.[i] - rv.[i]) / (abs rv.[i] + abs mv.[i] + 1e-30)) |> Array.fold max 0.0)
    |> List.fold max 0.0
