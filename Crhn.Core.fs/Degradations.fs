namespace Crhn.Core

open System

/// Damage applied to N×C×H×W images, deterministic for a seed, values clipped to [lo, hi].
[<RequireQualifiedAccess>]
module Degradations =

    /// Occludes the last k columns of every row of every channel with `fill`.
    let maskColumns (shape: int[]) (values: float32[]) (k: int) (fill: float32) =
        Shape.checkRank "maskColumns" "images" 4 shape
        let w = shape.[3]
        if k < 0 || k > w then raise (ArgumentOutOfRangeException("k", k, sprintf "maskColumns: k must be in [0, %d] for images %d wide." w w))
        values |> Array.mapi (fun i v -> if i % w >= w - k then fill else v)

    /// x + σ·z with z ~ N(0, 1) from stream `seed`, clipped to [lo, hi].
    let gaussianNoise (values: float32[]) (sigma: float) (seed: uint64) (lo: float32) (hi: float32) =
        if not (sigma >= 0.0) then raise (ArgumentOutOfRangeException("sigma", sigma, "gaussianNoise: σ must be non-negative."))
        let z = Rng.normal64 seed values.Length
        values |> Array.mapi (fun i v -> min hi (max lo (v + float32 (sigma * z.[i]))))
