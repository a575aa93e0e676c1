namespace Crhn.Core

/// The poster's finite-step Hopfield dynamics (row form: a state is a row v of a B×n batch,
/// M is h×n): T(v) = Mᵀσ(Mv), E(v) = ½‖v‖² − Φ(Mv), ∇E(v) = v − T(v),
/// v_{k+1} = (1 − α)v_k + αT(v_k) = v_k − α∇E(v_k), J_T(v) = Mᵀ H_Φ(Mv) M, ∇²E = I − J_T.
[<RequireQualifiedAccess>]
module HopfieldMap =

    /// T(v) = σ(v Mᵀ) M for each row v.
    let apply (act: Activation) (m: Tensor) (v: Tensor) = act.Apply(v.MatMul(m, false, true)).MatMul(m)

    /// E(v) = ½‖v‖² − Σᵢ Φ((Mv)ᵢ), one value per row (shape [B]).
    let energy (act: Activation) (m: Tensor) (v: Tensor) =
        v.Square().Sum([| 1 |]) * 0.5 - act.Potential(v.MatMul(m, false, true)).Sum([| 1 |])

    /// ∇E(v) = v − T(v).
    let gradient (act: Activation) (m: Tensor) (v: Tensor) = v - apply act m v

    /// One step v ← (1 − α)v + αT(v).
    let step (act: Activation) (alpha: float) (m: Tensor) (v: Tensor) = v * (1.0 - alpha) + apply act m v * alpha

    /// J_T(v)·u for each row pair: ((u Mᵀ) ⊙ H_Φ(v Mᵀ)) M (the Jacobian is symmetric).
    let jvp (act: Activation) (m: Tensor) (v: Tensor) (u: Tensor) =
        (u.MatMul(m, false, true) * act.Hessian(v.MatMul(m, false, true))).MatMul(m)

    /// The dense Jacobian J_T(v) = Mᵀ diag(H_Φ(Mv)) M (n×n) at one state v of shape [1, n].
    let jacobian (act: Activation) (m: Tensor) (v: Tensor) =
        let h = act.Hessian(v.MatMul(m, false, true)).Reshape([| -1; 1 |])
        m.MatMul(m * h, true, false)
