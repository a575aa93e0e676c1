namespace Crhn.Core

open System

/// Shapes are int arrays in row-major order (the last axis varies fastest). This module holds the
/// arithmetic on them and the checks made at every boundary: a mismatch is an ArgumentException
/// whose message names the operation, the shape expected and the shape found.
[<RequireQualifiedAccess>]
module Shape =

    /// Renders a shape as it appears in error messages, for example [50, 3, 64, 64].
    let format (shape: int[]) = "[" + String.Join(", ", shape) + "]"

    /// The number of elements of a shape; throws OverflowException past Int32.MaxValue.
    let numel (shape: int[]) =
        let mutable n = 1L
        for d in shape do
            n <- n * int64 d
        if n > int64 Int32.MaxValue then
            raise (OverflowException(sprintf "a tensor of shape %s has %d elements, more than one array holds" (format shape) n))
        int n

    /// Row-major strides (in elements) of a contiguous tensor of this shape.
    let strides (shape: int[]) =
        let s = Array.zeroCreate shape.Length
        let mutable acc = 1
        for i in shape.Length - 1 .. -1 .. 0 do
            s.[i] <- acc
            acc <- acc * shape.[i]
        s

    let mismatch (op: string) (expected: string) (actual: int[]) (paramName: string) : exn =
        ArgumentException(sprintf "%s: expected %s, found shape %s." op expected (format actual), paramName) :> exn

    /// Throws unless every dimension is non-negative.
    let checkValid (op: string) (paramName: string) (shape: int[]) =
        if shape |> Array.exists (fun d -> d < 0) then
            raise (mismatch op "non-negative dimensions" shape paramName)

    /// Throws unless the shape has the given rank.
    let checkRank (op: string) (paramName: string) (rank: int) (shape: int[]) =
        if shape.Length <> rank then
            raise (mismatch op (sprintf "a tensor of rank %d" rank) shape paramName)

    /// Throws unless two shapes are equal.
    let checkEqual (op: string) (paramName: string) (expected: int[]) (actual: int[]) =
        if expected <> actual then
            raise (mismatch op (sprintf "shape %s" (format expected)) actual paramName)

    /// The NumPy broadcast of two shapes: axes aligned from the right, each pair equal or one of
    /// them 1. Throws an ArgumentException naming both shapes where they do not broadcast.
    let broadcast (op: string) (a: int[]) (b: int[]) =
        let rank = max a.Length b.Length
        Array.init rank (fun i ->
            let da = if i < rank - a.Length then 1 else a.[i - (rank - a.Length)]
            let db = if i < rank - b.Length then 1 else b.[i - (rank - b.Length)]
            if da = db || db = 1 then da
            elif da = 1 then db
            else
                raise (ArgumentException(
                    sprintf "%s: shapes %s and %s do not broadcast (axis %d: %d against %d); expected equal sizes or a size of 1."
                        op (format a) (format b) i da db, "other")))

    /// Normalises a possibly negative axis index against a rank, throwing where it is out of range.
    let axis (op: string) (rank: int) (ax: int) =
        let a = if ax < 0 then ax + rank else ax
        if a < 0 || a >= rank then
            raise (ArgumentOutOfRangeException("axis", ax, sprintf "%s: axis %d is out of range for a tensor of rank %d." op ax rank))
        a

    /// The output size of a strided, padded window along one axis: ⌊(size + 2·padding − kernel) / stride⌋ + 1,
    /// or 0 where the kernel does not fit in the padded input.
    let convOutput (size: int) (kernel: int) (stride: int) (padding: int) =
        let room = size + 2 * padding - kernel
        if room < 0 then 0 else room / stride + 1

    /// The output size of a transposed convolution along one axis: (size − 1)·stride − 2·padding + kernel + outputPadding.
    let convTransposeOutput (size: int) (kernel: int) (stride: int) (padding: int) (outputPadding: int) =
        (size - 1) * stride - 2 * padding + kernel + outputPadding
