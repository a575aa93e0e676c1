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

    /// Damage for training a codec to map damaged images to their clean codes: each image of a
    /// batch, from stream `seed`, gets one of three at random (equally often): Gaussian noise of
    /// σ ~ U(0, maxSigma) (on [lo, hi]), clamped to [lo, hi]; the left or the right columns, a
    /// random 25–60 % of the width, set to `lo` (black); or both. Only the random parts (noise,
    /// columns) are drawn on the host, from the shape and the seed; they are combined with the
    /// images on the batch's backend, so the images never come to the host.
    let training (batch: RawTensor) (maxSigma: float) (lo: float) (hi: float) (seed: uint64) =
        let shape = batch.Shape
        Shape.checkRank "training damage" "images" 4 shape
        let per = shape.[1] * shape.[2] * shape.[3]
        let w = shape.[3]
        let count = Shape.numel shape
        let z = Rng.normal64 (Rng.derive seed 1) count
        let u k = Rng.unit (Rng.derive seed 2) (uint64 k + 1UL)
        // x ↦ clamp(x + noise, lo, hi)·keep + fill: noise rounded to float32 as the images are,
        // keep 0 and fill lo on masked pixels.
        let noise = Array.zeroCreate<float> count
        let keep = Array.create count 1.0
        let fill = Array.zeroCreate<float> count
        for n in 0 .. shape.[0] - 1 do
            let kind = int (u (4 * n) * 3.0)
            let sigma = maxSigma * (hi - lo) * u (4 * n + 1)
            let columns = int (Math.Round(float w * (0.25 + 0.35 * u (4 * n + 2))))
            let left = u (4 * n + 3) < 0.5
            for i in n * per .. (n + 1) * per - 1 do
                let col = i % w
                if kind >= 1 && (if left then col < columns else col >= w - columns) then
                    keep.[i] <- 0.0
                    fill.[i] <- lo
                elif kind <> 1 then noise.[i] <- float (float32 (sigma * z.[i]))
        let noisy = batch.Binary(BinaryOp.Add, batch.CreateLike(shape, noise)).Clamp(lo, hi)
        noisy.Binary(BinaryOp.Mul, batch.CreateLike(shape, keep)).Binary(BinaryOp.Add, batch.CreateLike(shape, fill))
