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

    /// x + β, clipped to [lo, hi] (a brightness shift).
    let brightness (values: float32[]) (beta: float) (lo: float32) (hi: float32) =
        if not (Double.IsFinite beta) then raise (ArgumentOutOfRangeException("beta", beta, "brightness: β must be finite."))
        values |> Array.map (fun v -> min hi (max lo (v + float32 beta)))

    /// (x − μ)·α + μ with μ each image's mean over C×H×W, clipped to [lo, hi] (a contrast change).
    let contrast (shape: int[]) (values: float32[]) (alpha: float) (lo: float32) (hi: float32) =
        Shape.checkRank "contrast" "images" 4 shape
        if not (alpha >= 0.0) || Double.IsInfinity alpha then raise (ArgumentOutOfRangeException("alpha", alpha, "contrast: α must be non-negative and finite."))
        let per = shape.[1] * shape.[2] * shape.[3]
        let means = Array.init shape.[0] (fun n -> Seq.averageBy float (Seq.init per (fun i -> values.[n * per + i])))
        values |> Array.mapi (fun i v -> min hi (max lo (float32 ((float v - means.[i / per]) * alpha + means.[i / per]))))
