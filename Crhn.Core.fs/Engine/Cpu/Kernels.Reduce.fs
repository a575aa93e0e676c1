namespace Crhn.Core.Kernels

open System
open System.Numerics
open System.Numerics.Tensors
open Crhn.Core

/// Reductions and row-wise normalisations over flat row-major arrays.
module internal Reduce =

    /// Sums x (of `shape`) down to `target`, a shape that broadcasts to `shape` (the reverse of
    /// broadcasting): rows of the last axis are summed or added as vectors, an odometer walks the
    /// outer axes with stride 0 on the reduced ones.
    let sumToShape<'T when 'T :> IFloatingPointIeee754<'T>> (fullShape: int[]) (x: 'T[]) (target: int[]) : 'T[] =
        let out = Storage.zeros<'T> (Shape.numel target)
        if x.Length > 0 then
            // Merge neighbouring axes that are both kept or both reduced (Broadcast.coalesce with b = target).
            // (It never returns an empty shape: a scalar becomes [1].)
            let shape, _, padded = Broadcast.coalesce fullShape fullShape target
            let strides = Array.mapi (fun i st -> if padded.[i] = 1 && shape.[i] <> 1 then 0 else st) (Shape.strides padded)
            let len = Array.last shape
            let innerReduced = Array.last strides = 0
            Rows.walk shape [| 0 |] [| strides |] (fun row off ->
                let src = ReadOnlySpan(x, row * len, len)
                if innerReduced then out.[off.[0]] <- out.[off.[0]] + TensorPrimitives.Sum src
                else TensorPrimitives.Add(ReadOnlySpan(out, off.[0], len), src, Span(out, off.[0], len)))
        out

    /// The sum of all elements, accumulated in float64 in blocks so that float32 sums stay accurate.
    let sumAll<'T when 'T :> IFloatingPointIeee754<'T>> (x: 'T[]) =
        let block = 4096
        let mutable acc = 0.0
        let mutable i = 0
        while i < x.Length do
            let len = min block (x.Length - i)
            acc <- acc + Double.CreateChecked(TensorPrimitives.Sum(ReadOnlySpan(x, i, len)))
            i <- i + len
        acc

    /// Softmax along the last axis (length `len`), each row shifted by its maximum.
    let softmaxLast<'T when 'T :> IFloatingPointIeee754<'T>> (len: int) (x: 'T[]) =
        let d = Storage.uninit<'T> x.Length
        if len > 0 then
            for row in 0 .. x.Length / len - 1 do
                let src = ReadOnlySpan(x, row * len, len)
                let dst = Span(d, row * len, len)
                TensorPrimitives.Subtract(src, TensorPrimitives.Max src, dst)
                TensorPrimitives.Exp(Span<'T>.op_Implicit dst, dst)
                TensorPrimitives.Divide(Span<'T>.op_Implicit dst, TensorPrimitives.Sum(Span<'T>.op_Implicit dst), dst)
        d

    /// Log-softmax along the last axis: x − max − log Σ exp(x − max).
    let logSoftmaxLast<'T when 'T :> IFloatingPointIeee754<'T>> (len: int) (x: 'T[]) =
        let d = Storage.uninit<'T> x.Length
        if len > 0 then
            let tmp = Array.zeroCreate<'T> len
            for row in 0 .. x.Length / len - 1 do
                let src = ReadOnlySpan(x, row * len, len)
                let dst = Span(d, row * len, len)
                TensorPrimitives.Subtract(src, TensorPrimitives.Max src, dst)
                TensorPrimitives.Exp(Span<'T>.op_Implicit dst, Span tmp)
                TensorPrimitives.Subtract(Span<'T>.op_Implicit dst, 'T.Log(TensorPrimitives.Sum(ReadOnlySpan tmp)), dst)
        d
