namespace Crhn.Core.Kernels

open System
open System.Numerics
open System.Numerics.Tensors
open Crhn.Core

/// Reductions and row-wise normalisations over flat row-major arrays.
module internal Reduce =

    /// The sum of a span in float64: float32 values in blocks of 1024 (each summed by the vector
    /// kernel, whose lanes keep a block's rounding error near 1e-7 of it), the blocks in float64.
    let private sum64<'T when 'T :> IFloatingPointIeee754<'T>> (src: ReadOnlySpan<'T>) =
        if typeof<'T> = typeof<float> then Double.CreateChecked(TensorPrimitives.Sum src)
        else
            let block = 1024
            let mutable acc = 0.0
            let mutable i = 0
            while i < src.Length do
                let len = min block (src.Length - i)
                acc <- acc + Double.CreateChecked(TensorPrimitives.Sum(src.Slice(i, len)))
                i <- i + len
            acc

    /// Sums x (of `shape`) down to `target`, a shape that broadcasts to `shape` (the reverse of
    /// broadcasting), accumulating in float64 whatever 'T is: rows of the last axis are summed or
    /// added as vectors, an odometer walks the outer axes with stride 0 on the reduced ones.
    let sumToShape<'T when 'T :> IFloatingPointIeee754<'T>> (fullShape: int[]) (x: 'T[]) (target: int[]) : 'T[] =
        let n = Shape.numel target
        if x.Length = 0 then Storage.zeros<'T> n
        elif n = x.Length then
            // Nothing is reduced (the shapes differ at most by axes of length 1): a copy, with no
            // float64 buffer of the whole tensor (a gradient's every step would put one on the
            // large-object heap, and those allocations start full collections).
            let out = Storage.uninit<'T> n
            Array.Copy(x, out, n)
            out
        else
            let acc = Array.zeroCreate<float> n
            // Merge neighbouring axes that are both kept or both reduced (Broadcast.coalesce with b = target).
            // (It never returns an empty shape: a scalar becomes [1].)
            let shape, _, padded = Broadcast.coalesce fullShape fullShape target
            let strides = Array.mapi (fun i st -> if padded.[i] = 1 && shape.[i] <> 1 then 0 else st) (Shape.strides padded)
            let len = Array.last shape
            let innerReduced = Array.last strides = 0
            let wide = if innerReduced || typeof<'T> = typeof<float> then [||] else Array.zeroCreate<float> len
            Rows.walk shape [| 0 |] [| strides |] (fun row off ->
                if innerReduced then acc.[off.[0]] <- acc.[off.[0]] + sum64 (ReadOnlySpan(x, row * len, len))
                else
                    let into = Span(acc, off.[0], len)
                    if typeof<'T> = typeof<float> then TensorPrimitives.Add(Span<float>.op_Implicit into, ReadOnlySpan(box x :?> float[], row * len, len), into)
                    else
                        TensorPrimitives.ConvertTruncating<float32, float>(ReadOnlySpan(box x :?> float32[], row * len, len), Span wide)
                        TensorPrimitives.Add(Span<float>.op_Implicit into, ReadOnlySpan wide, into))
            let out = Storage.uninit<'T> n
            for i in 0 .. n - 1 do
                out.[i] <- 'T.CreateTruncating acc.[i]
            out

    /// The sum of all elements, accumulated in float64 (sum64).
    let sumAll<'T when 'T :> IFloatingPointIeee754<'T>> (x: 'T[]) = sum64 (ReadOnlySpan x)

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
