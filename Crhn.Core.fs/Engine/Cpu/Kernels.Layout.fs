namespace Crhn.Core.Kernels

open System
open Crhn.Core

/// Copies that change layout: permutation, slicing and its adjoint, concatenation.
module internal Layout =

    /// Output axis i is input axis perm[i]. Runs of the last output axis are copied with the
    /// input's stride along perm[last]; 2-D transposes go through cache-sized tiles.
    let permute (shape: int[]) (x: 'T[]) (perm: int[]) : 'T[] =
        let r = shape.Length
        let outShape = Array.map (fun p -> shape.[p]) perm
        let inStrides = Shape.strides shape
        let s = Array.map (fun p -> inStrides.[p]) perm
        let d = Storage.uninit<'T> x.Length
        if r = 0 then Array.blit x 0 d 0 x.Length
        elif x.Length > 0 then
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
                Rows.walk outShape [| 0 |] [| s |] (fun row off ->
                    let o = row * len
                    if inner = 1 then Array.blit x off.[0] d o len
                    else
                        for j in 0 .. len - 1 do
                            d.[o + j] <- x.[off.[0] + j * inner])
        d

    /// Visits every row (a run along the last axis) of the block [starts, starts + lengths) of a
    /// tensor of `shape`, passing the flat offset of the row in the full tensor and in the block.
    let private blockRows (shape: int[]) (starts: int[]) (lengths: int[]) (visit: int -> int -> int -> unit) =
        if shape.Length = 0 then visit 0 0 1
        else
            let strides = Shape.strides shape
            let first = Array.fold2 (fun acc st s -> acc + st * s) 0 starts strides
            let len = Array.last lengths
            Rows.walk lengths [| first |] [| strides |] (fun row off -> visit off.[0] (row * len) len)

    /// The block [starts, starts + lengths) of x.
    let slice (shape: int[]) (x: 'T[]) (starts: int[]) (lengths: int[]) : 'T[] =
        let d = Storage.uninit<'T> (Shape.numel lengths)
        blockRows shape starts lengths (fun full part len -> Array.blit x full d part len)
        d

    /// A zero tensor of `fullShape` with x (of shape `lengths`) written at `starts`.
    let unslice (fullShape: int[]) (x: 'T[]) (lengths: int[]) (starts: int[]) : 'T[] =
        let d = Storage.zeros<'T> (Shape.numel fullShape)
        blockRows fullShape starts lengths (fun full part len -> Array.blit x part d full len)
        d

    /// Concatenation along `axis` of tensors whose shapes agree elsewhere.
    let concat (shapes: int[][]) (xs: 'T[][]) (axis: int) : 'T[] =
        let outer = Shape.numel shapes.[0].[.. axis - 1]
        let blocks = shapes |> Array.map (fun s -> Shape.numel s.[axis ..])
        let total = Array.sum blocks
        let d = Storage.uninit<'T> (outer * total)
        let mutable o = 0
        for i in 0 .. outer - 1 do
            for t in 0 .. xs.Length - 1 do
                Array.blit xs.[t] (i * blocks.[t]) d o blocks.[t]
                o <- o + blocks.[t]
        d
