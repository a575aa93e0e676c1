namespace Crhn.Core.Kernels

open System
open System.Numerics
open System.Numerics.Tensors
open Crhn.Core

/// Element-wise primal kernels over flat row-major arrays, vectorised through
/// System.Numerics.Tensors.TensorPrimitives, generic over float32 and float64.
module Broadcast =

    /// Rewrites a broadcast (out, a, b) into the fewest axes with the same row-major meaning:
    /// axes of size 1 are dropped, and neighbouring axes merge where both operands are either
    /// full or broadcast along both (so [50, 32, 32, 32] + [1, 32, 1, 1] becomes [1600, 1024] +
    /// [1600 → 32 repeating, 1], i.e. rows of 1024 with one scalar each).
    let coalesce (outShape: int[]) (aShape: int[]) (bShape: int[]) =
        let r = outShape.Length
        let pad (s: int[]) = Array.append (Array.create (r - s.Length) 1) s
        let sa, sb = pad aShape, pad bShape
        let axes =
            [ for i in 0 .. r - 1 do
                if outShape.[i] <> 1 then yield outShape.[i], sa.[i] <> 1, sb.[i] <> 1 ]
        let merged =
            axes |> List.fold (fun acc (size, fa, fb) ->
                match acc with
                | (s, pa, pb) :: rest when pa = fa && pb = fb -> (s * size, fa, fb) :: rest
                | _ -> (size, fa, fb) :: acc) [] |> List.rev
        match merged with
        | [] -> [| 1 |], [| 1 |], [| 1 |]
        | _ ->
            let out = merged |> List.map (fun (s, _, _) -> s) |> Array.ofList
            let a = merged |> List.map (fun (s, fa, _) -> if fa then s else 1) |> Array.ofList
            let b = merged |> List.map (fun (s, _, fb) -> if fb then s else 1) |> Array.ofList
            out, a, b

module Elementwise =

    let private binarySpan<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (a: ReadOnlySpan<'T>) (b: ReadOnlySpan<'T>) (d: Span<'T>) =
        match op with
        | BinaryOp.Add -> TensorPrimitives.Add(a, b, d)
        | BinaryOp.Sub -> TensorPrimitives.Subtract(a, b, d)
        | BinaryOp.Mul -> TensorPrimitives.Multiply(a, b, d)
        | BinaryOp.Div -> TensorPrimitives.Divide(a, b, d)

    let private binarySpanScalar<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (a: ReadOnlySpan<'T>) (b: 'T) (d: Span<'T>) =
        match op with
        | BinaryOp.Add -> TensorPrimitives.Add(a, b, d)
        | BinaryOp.Sub -> TensorPrimitives.Subtract(a, b, d)
        | BinaryOp.Mul -> TensorPrimitives.Multiply(a, b, d)
        | BinaryOp.Div -> TensorPrimitives.Divide(a, b, d)

    let private binaryScalarSpan<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (a: 'T) (b: ReadOnlySpan<'T>) (d: Span<'T>) =
        match op with
        | BinaryOp.Add -> TensorPrimitives.Add(b, a, d)
        | BinaryOp.Sub -> TensorPrimitives.Subtract(a, b, d)
        | BinaryOp.Mul -> TensorPrimitives.Multiply(b, a, d)
        | BinaryOp.Div -> TensorPrimitives.Divide(a, b, d)

    let private scalar<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (a: 'T) (b: 'T) =
        match op with
        | BinaryOp.Add -> a + b
        | BinaryOp.Sub -> a - b
        | BinaryOp.Mul -> a * b
        | BinaryOp.Div -> a / b

    /// d ← a ∘ b with NumPy broadcasting; `outShape` is the broadcast shape and d may be a itself
    /// (each element is read before it is written). Same shapes and scalar
    /// operands take one vectorised pass; otherwise rows of the last axis are vectorised and an
    /// odometer walks the outer axes with stride 0 on broadcast ones.
    let binaryInto<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (aShape: int[]) (a: 'T[]) (bShape: int[]) (b: 'T[]) (outShape: int[]) (d: 'T[]) =
        let n = d.Length
        if aShape = bShape then binarySpan op (ReadOnlySpan a) (ReadOnlySpan b) (Span d)
        elif b.Length = 1 && a.Length = n then binarySpanScalar op (ReadOnlySpan a) b.[0] (Span d)
        elif a.Length = 1 && b.Length = n then binaryScalarSpan op a.[0] (ReadOnlySpan b) (Span d)
        elif n > 0 then
            let outShape, aShape, bShape = Broadcast.coalesce outShape aShape bShape
            let r = outShape.Length
            let strideOf (s: int[]) = Array.mapi (fun i st -> if s.[i] = 1 then 0 else st) (Shape.strides s)
            let ta, tb = strideOf aShape, strideOf bShape
            let len = outShape.[r - 1]
            let ia, ib = ta.[r - 1], tb.[r - 1]
            Rows.walk outShape [| 0; 0 |] [| ta; tb |] (fun row off ->
                let offA, offB = off.[0], off.[1]
                let dst = Span(d, row * len, len)
                if ia = 1 && ib = 1 then binarySpan op (ReadOnlySpan(a, offA, len)) (ReadOnlySpan(b, offB, len)) dst
                elif ia = 1 then binarySpanScalar op (ReadOnlySpan(a, offA, len)) b.[offB] dst
                elif ib = 1 then binaryScalarSpan op a.[offA] (ReadOnlySpan(b, offB, len)) dst
                else dst.Fill(scalar op a.[offA] b.[offB]))

    /// a ∘ b with NumPy broadcasting into a new array of the broadcast shape `outShape`.
    let binary<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (aShape: int[]) (a: 'T[]) (bShape: int[]) (b: 'T[]) (outShape: int[]) : 'T[] =
        let d = Array.zeroCreate<'T> (Shape.numel outShape)
        binaryInto op aShape a bShape b outShape d
        d

    /// f(x) element-wise.
    let unary<'T when 'T :> IFloatingPointIeee754<'T>> (op: UnaryOp) (x: 'T[]) : 'T[] =
        let d = Array.zeroCreate<'T> x.Length
        let s = ReadOnlySpan x
        let t = Span d
        match op with
        | UnaryOp.Neg -> TensorPrimitives.Negate(s, t)
        | UnaryOp.Abs -> TensorPrimitives.Abs(s, t)
        | UnaryOp.Exp -> TensorPrimitives.Exp(s, t)
        | UnaryOp.Log -> TensorPrimitives.Log(s, t)
        | UnaryOp.Sqrt -> TensorPrimitives.Sqrt(s, t)
        | UnaryOp.Square -> TensorPrimitives.Multiply(s, s, t)
        | UnaryOp.Tanh -> TensorPrimitives.Tanh(s, t)
        | UnaryOp.Sigmoid -> TensorPrimitives.Sigmoid(s, t)
        | UnaryOp.Relu -> TensorPrimitives.Max(s, 'T.Zero, t)
        | UnaryOp.Sign ->
            for i in 0 .. x.Length - 1 do
                let v = x.[i]
                d.[i] <- if 'T.IsZero v || 'T.IsNaN v then v elif 'T.IsNegative v then -'T.One else 'T.One
        | UnaryOp.Step ->
            for i in 0 .. x.Length - 1 do
                let v = x.[i]
                d.[i] <- if 'T.IsPositive v && not ('T.IsZero v) && not ('T.IsNaN v) then 'T.One else 'T.Zero
        d

    /// x + c.
    let addScalar<'T when 'T :> IFloatingPointIeee754<'T>> (c: 'T) (x: 'T[]) =
        let d = Array.zeroCreate<'T> x.Length
        TensorPrimitives.Add(ReadOnlySpan x, c, Span d)
        d

    /// x · c.
    let mulScalar<'T when 'T :> IFloatingPointIeee754<'T>> (c: 'T) (x: 'T[]) =
        let d = Array.zeroCreate<'T> x.Length
        TensorPrimitives.Multiply(ReadOnlySpan x, c, Span d)
        d

    /// min(max(x, lo), hi); NaN stays NaN.
    let clamp<'T when 'T :> IFloatingPointIeee754<'T>> (lo: 'T) (hi: 'T) (x: 'T[]) =
        let d = Array.zeroCreate<'T> x.Length
        TensorPrimitives.Max(ReadOnlySpan x, lo, Span d)
        TensorPrimitives.Min(ReadOnlySpan d, hi, Span d)
        d

    /// 1 where lo ≤ x ≤ hi, else 0.
    let inRange<'T when 'T :> IFloatingPointIeee754<'T>> (lo: 'T) (hi: 'T) (x: 'T[]) =
        Array.map (fun v -> if 'T.op_GreaterThanOrEqual(v, lo) && 'T.op_LessThanOrEqual(v, hi) then 'T.One else 'T.Zero) x

    /// True when every element is finite.
    let isFinite<'T when 'T :> IFloatingPointIeee754<'T>> (x: 'T[]) =
        let mutable ok = true
        let mutable i = 0
        while ok && i < x.Length do
            ok <- 'T.IsFinite x.[i]
            i <- i + 1
        ok
