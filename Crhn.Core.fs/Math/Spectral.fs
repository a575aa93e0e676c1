namespace Crhn.Core

open System

/// Spectral norms by power iteration, projectors and measures of (semi-)orthogonality, on 2-D
/// tensors (float32 or float64).
[<RequireQualifiedAccess>]
module Spectral =

    let private norm (x: RawTensor) = sqrt ((x.Unary UnaryOp.Square).SumAll())

    /// The largest eigenvalue of a symmetric positive semi-definite map A (given by its action on
    /// row vectors, shape [1, n]) by `iterations` steps of the power method from a seeded start:
    /// x ← Ax/‖Ax‖, λ ≈ ‖Ax‖. Converges as (λ₂/λ₁)^k.
    let powerIteration (apply: RawTensor -> RawTensor) (like: RawTensor) (n: int) (iterations: int) (seed: uint64) =
        let mutable x = like.CreateLike([| 1; n |], Rng.normal64 seed n)
        x <- x.MulScalar(1.0 / max (norm x) Double.Epsilon)
        let mutable lambda = 0.0
        for _ in 1 .. max 1 iterations do
            let y = apply x
            lambda <- norm y
            x <- y.MulScalar(1.0 / max lambda Double.Epsilon)
        lambda

    /// ‖M‖₂, the largest singular value, by power iteration on MᵀM: σ = √λ_max(MᵀM).
    let spectralNorm (m: RawTensor) (iterations: int) (seed: uint64) =
        if m.Shape.Length <> 2 then raise (Shape.mismatch "spectralNorm" "a matrix" m.Shape "m")
        sqrt (powerIteration (fun x -> x.MatMul(false, true, m).MatMul(false, false, m)) m m.Shape.[1] iterations seed)

    /// The exact largest singular value, from the SVD (the oracle for power iteration).
    let largestSingularValue (m: RawTensor) =
        let _, s, _ = m.Svd()
        s.ToFloat64Array() |> Array.fold max 0.0

    /// ‖W·Wᵀ − I‖_F for a wide or square W (rows ≤ cols), ‖Wᵀ·W − I‖_F for a tall one: zero
    /// exactly when W is semi-orthogonal.
    let semiOrthogonalityError (w: RawTensor) =
        if w.Shape.Length <> 2 then raise (Shape.mismatch "semiOrthogonalityError" "a matrix" w.Shape "w")
        let wide = w.Shape.[0] <= w.Shape.[1]
        let gram = if wide then w.MatMul(false, true, w) else w.MatMul(true, false, w)
        norm (gram.Binary(BinaryOp.Sub, Init.identity gram gram.Shape.[0]))

    /// The orthogonal projector WᵀW onto the row space of W, for W with orthonormal rows.
    let rowSpaceProjector (w: RawTensor) = w.MatMul(true, false, w)

    /// One Newton–Schulz step toward the nearest semi-orthogonal matrix: W ← 1.5W − 0.5(WWᵀ)W for a
    /// wide or square W (rows ≤ cols), W ← 1.5W − 0.5W(WᵀW) for a tall one. Near a semi-orthogonal
    /// matrix (WWᵀ = I + E) it leaves an error of O(‖E‖²): it removes the rounding that products of
    /// float32 rotations accumulate, and does nothing else.
    let newtonSchulzStep (w: RawTensor) =
        let wide = w.Shape.[0] <= w.Shape.[1]
        let correction = if wide then w.MatMul(false, true, w).MatMul(false, false, w) else w.MatMul(false, false, w.MatMul(true, false, w))
        w.MulScalar(1.5).Binary(BinaryOp.Sub, correction.MulScalar 0.5)
