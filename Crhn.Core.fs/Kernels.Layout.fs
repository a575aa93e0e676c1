namespace Crhn.Core.Kernels

open System
open Crhn.Core

/// Copies that change layout: permutation, slicing and its adjoint, concatenation.
module Layout =

    /// Output axis i is input axis perm[i]. Runs of the last output axis are copied with the
    /// input's stride along perm[last]; 2-D transposes go through cache-sized tiles.
    let permute (shape: int[]) (x: 'T[]) (perm: int[]) : 'T[] =
        let r = shape.Length
        let outShape = Array.map (fun p -> shape.[p]) perm
        let inStrides = Shape.strides shape
        let s = Array.map (fun p -> inStrides.[p]) perm
        let d = Array.zeroCreate<'T> x.Length
        if x.Length > 0 then
            if r = 2 && perm = [| 1; 0 |] then
                let rows, cols = shape.[0], shape.[1]
                let tile = 32
                for i0 in 0 .. tile .. rows - 1 do
                    for j0 in 0 .. tile .. cols - 1 do
                        for i in i0 .. min rows (i0 + tile) - 1 do
                            for j in j0 .. min cols (j0 + tile) - 1 do
                                d.[j * rows + i] <- x.[i * cols + j]
            else
                let len = outShape.[r - 1]
                let inner = s.[r - 1]
                let idx = Array.zeroCreate (r - 1)
                let mutable off = 0
                for row in 0 .. x.Length / len - 1 do
                    let o = row * len
                    if inner = 1 then Array.blit x off d o len
                    else
                        for j in 0 .. len - 1 do
                            d.[o + j] <- x.[off + j * inner]
                    let mutable ax = r - 2
                    let mutable carry = true
                    while carry && ax >= 0 do
                        idx.[ax] <- idx.[ax] + 1
                        off <- off + s.[ax]
                        if idx.[ax] = outShape.[ax] then
                            off <- off - s.[ax] * outShape.[ax]
                            idx.[ax] <- 0
                            ax <- ax - 1
                        else carry <- false
        d

    /// Visits every row (a run along the last axis) of the block [starts, starts + lengths) of a
    /// tensor of `shape`, passing the flat offset of the row in the full tensor and in the block.
    let private blockRows (shape: int[]) (starts: int[]) (lengths: int[]) (visit: int -> int -> int -> unit) =
        let r = shape.Length
        let total = Shape.numel lengths
        if total > 0 then
            let strides = Shape.strides shape
            let len = lengths.[r - 1]
            let idx = Array.zeroCreate (r - 1)
            let mutable off = Array.fold2 (fun acc st s -> acc + st * s) 0 starts strides
            for row in 0 .. total / len - 1 do
                visit off (row * len) len
                let mutable ax = r - 2
                let mutable carry = true
                while carry && ax >= 0 do
                    idx.[ax] <- idx.[ax] + 1
                    off <- off + strides.[ax]
                    if idx.[ax] = lengths.[ax] then
                        off <- off - strides.[ax] * lengths.[ax]
                        idx.[ax] <- 0
                        ax <- ax - 1
                    else carry <- false

    /// The block [starts, starts + lengths) of x.
    let slice (shape: int[]) (x: 'T[]) (starts: int[]) (lengths: int[]) : 'T[] =
        let d = Array.zeroCreate<'T> (Shape.numel lengths)
        blockRows shape starts lengths (fun full part len -> Array.blit x full d part len)
        d

    /// A zero tensor of `fullShape` with x (of shape `lengths`) written at `starts`.
    let unslice (fullShape: int[]) (x: 'T[]) (lengths: int[]) (starts: int[]) : 'T[] =
        let d = Array.zeroCreate<'T> (Shape.numel fullShape)
        blockRows fullShape starts lengths (fun full part len -> Array.blit x part d full len)
        d

    /// Concatenation along `axis` of tensors whose shapes agree elsewhere.
    let concat (shapes: int[][]) (xs: 'T[][]) (axis: int) : 'T[] =
        let outer = Shape.numel shapes.[0].[.. axis - 1]
        let blocks = shapes |> Array.map (fun s -> Shape.numel s.[axis ..])
        let total = Array.sum blocks
        let d = Array.zeroCreate<'T> (outer * total)
        let mutable o = 0
        for i in 0 .. outer - 1 do
            for t in 0 .. xs.Length - 1 do
                Array.blit xs.[t] (i * blocks.[t]) d o blocks.[t]
                o <- o + blocks.[t]
        d
