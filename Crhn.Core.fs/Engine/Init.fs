namespace Crhn.Core

open System
open MathNet.Numerics.LinearAlgebra

/// Seeded initialisers: the same seed gives the same bits on every backend and thread count.
[<RequireQualifiedAccess>]
module Init =

    /// On the current backend (Backends.Current).
    let private make (dtype: Dtype) (shape: int[]) (values: float[]) = Backends.Current().Create(dtype, shape, values)

    /// The n×n identity, of the same dtype and backend as `like`.
    let identity (like: RawTensor) (n: int) =
        like.CreateLike([| n; n |], Array.init (n * n) (fun i -> if i / n = i % n then 1.0 else 0.0))

    /// U(lo, hi) from SplitMix64 stream `seed` (WORKLOADS.md §1: float32 values are computed in
    /// float64 and rounded once).
    let uniform (dtype: Dtype) (seed: uint64) (lo: float) (hi: float) (shape: int[]) =
        Shape.checkValid "uniform" "shape" shape
        make dtype shape (Rng.uniform64 seed lo hi (Shape.numel shape))

    /// N(mean, std²) by Box–Muller on stream `seed`.
    let normal (dtype: Dtype) (seed: uint64) (mean: float) (std: float) (shape: int[]) =
        Shape.checkValid "normal" "shape" shape
        make dtype shape (Rng.normal64 seed (Shape.numel shape) |> Array.map (fun z -> mean + std * z))

    /// A (semi-)orthogonal rows×cols matrix scaled by `gain`, as PyTorch's orthogonal_: QR of a
    /// Gaussian matrix (Householder, MathNet), Q's columns multiplied by sign(diag R) so the result
    /// is Haar-distributed. rows ≤ cols gives W·Wᵀ = gain²·I, rows ≥ cols gives Wᵀ·W = gain²·I.
    let orthogonal (dtype: Dtype) (seed: uint64) (gain: float) (rows: int) (cols: int) =
        if rows <= 0 || cols <= 0 then
            raise (ArgumentException(sprintf "orthogonal: expected positive sizes, found %d×%d." rows cols, "rows"))
        let tall, short = max rows cols, min rows cols
        let g = Matrix<float>.Build.DenseOfColumnMajor(tall, short, Rng.normal64 seed (tall * short))
        let qr = g.QR(Factorization.QRMethod.Thin)
        let q = qr.Q.Multiply(Matrix<float>.Build.DenseOfDiagonalArray(Array.init short (fun i -> if qr.R.[i, i] < 0.0 then -gain else gain)))
        let w = if rows >= cols then q else q.Transpose()
        make dtype [| rows; cols |] (w.ToRowMajorArray())
