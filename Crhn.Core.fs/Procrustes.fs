namespace Crhn.Core

/// The orthogonal Procrustes problem (Proposition 2): argmin over orthogonal R of ‖R A − B‖_F is
/// R* = U Vᵀ where U Σ Vᵀ = svd(B Aᵀ) (Schönemann 1966). A and B are n×N (one column per sample).
[<RequireQualifiedAccess>]
module Procrustes =

    /// R* = U Vᵀ from the SVD of B Aᵀ (n×n).
    let solve (a: RawTensor) (b: RawTensor) =
        if a.Shape.Length <> 2 then raise (Shape.mismatch "procrustes" "a matrix" a.Shape "a")
        Shape.checkEqual "procrustes" "b" a.Shape b.Shape
        let u, _, vt = b.MatMul(false, true, a).Svd()
        u.MatMul(false, false, vt)

    /// ‖R A − B‖_F.
    let residual (r: RawTensor) (a: RawTensor) (b: RawTensor) =
        sqrt ((r.MatMul(false, false, a).Binary(BinaryOp.Sub, b).Unary UnaryOp.Square).SumAll())
