namespace Crhn.Properties

open System
open FsCheck
open FsCheck.FSharp
open Crhn.Core

/// Shape-first, size-aware generators. Values come from a generated seed through the engine's
/// own SplitMix64 streams, so a shrunk case keeps its shape invariants and stays reproducible.
module Generators =

    /// A dimension: mostly small, sometimes a size that is no multiple of any block size
    /// (17, 33, 65), sometimes 1.
    let dim =
        Gen.frequency [ 6, Gen.choose (1, 7); 1, Gen.elements [ 1; 17; 33; 65 ] ]

    /// The most elements a generated shape holds: finite differences cost two evaluations per
    /// element, so gradient checks stay on small tensors (the odd sizes still appear, on fewer axes).
    let budget = 300

    /// A shape of rank 1..maxRank with at most `budget` elements: each axis draws from `dim` and
    /// falls back to the room left when it would overflow.
    let shape (maxRank: int) =
        gen {
            let! r = Gen.choose (1, maxRank)
            let! draws = Gen.arrayOfLength r dim
            let! fallback = Gen.arrayOfLength r (Gen.choose (1, 3))
            let dims = Array.zeroCreate r
            let mutable room = budget
            for i in 0 .. r - 1 do
                let d = if draws.[i] <= room then draws.[i] else max 1 (min fallback.[i] room)
                dims.[i] <- d
                room <- max 1 (room / d)
            return dims
        }

    /// A seed for SplitMix64 streams.
    let seed = Gen.choose (0, Int32.MaxValue) |> Gen.map uint64

    /// float64 values U(lo, hi) of a shape.
    let values (lo: float) (hi: float) (shape: int[]) =
        seed |> Gen.map (fun s -> Rng.uniform64 s lo hi (Shape.numel shape))

    /// A float64 tensor of the shape with values in [lo, hi].
    let tensor64 (lo: float) (hi: float) (shape: int[]) =
        values lo hi shape |> Gen.map (fun v -> Cpu.ofFloat64 shape v)

    /// Moves values that sit within `gap` of a kink (where an op is not differentiable) away
    /// from it, so central differences with step h ≪ gap see a smooth function.
    let avoidKinks (kinks: float list) (gap: float) (v: float[]) =
        v |> Array.map (fun x ->
            match kinks |> List.tryFind (fun k -> abs (x - k) < gap) with
            | Some k -> if x >= k then k + gap else k - gap
            | None -> x)

    /// Conv geometry: batch, input channels, output channels, kernel, stride, padding and a
    /// height and width that fit the kernel after padding.
    let convGeometry (maxBatch: int) (maxChannels: int) (maxKernel: int) (maxSize: int) =
        gen {
            let! n = Gen.choose (1, maxBatch)
            let! c = Gen.choose (1, maxChannels)
            let! o = Gen.choose (1, maxChannels)
            let! k = Gen.choose (1, maxKernel)
            let! s = Gen.choose (1, 3)
            let! p = Gen.choose (0, k - 1)
            let! h = Gen.choose (max 1 (k - 2 * p), maxSize)
            let! w = Gen.choose (max 1 (k - 2 * p), maxSize)
            return n, c, o, k, s, p, h, w
        }
