namespace Crhn.Core

open System

/// The Restricted Hopfield Network's dynamics and energy (row form: a state is a row of a B×n
/// batch; W_l is n_{l+1}×n_l; σ = tanh).
/// Forward: u_{l+1} = h_l W_lᵀ (+ b_l), h_{l+1} = σ(u_{l+1}), h₀ = input.
/// Backward: r_l = v_{l+1} W_l (+ c_l), v_l = σ(r_l), v_L = h_L.
/// Energy (one hidden layer): E(h₀, h₁) = −h₁ᵀW h₀ − bᵀh₁ − cᵀh₀ + Σ G(h₁) + Σ G(h₀) with
/// G(h) = ∫₀ʰ artanh s ds = h·artanh h + ½ ln(1 − h²); for L layers the couplings and G terms of
/// every layer add up.
[<RequireQualifiedAccess>]
module Rhn =

    /// G(h) = h·artanh h + ½ ln(1 − h²) = ½[(1+h) ln(1+h) + (1−h) ln(1−h)], element-wise on
    /// [−1, 1], computed in the second form with 0·ln 0 = 0 so binary states are finite (G(±1) = ln 2).
    let g (h: Tensor) =
        let xlogx (x: Tensor) = x * x.Clamp(1e-30, 2.0).Log()
        (xlogx (h + 1.0) + xlogx (h * -1.0 + 1.0)) * 0.5

    let private addBias (u: Tensor) (b: Tensor option) = match b with Some b -> u + b | None -> u

    /// One forward half-step: h_{l+1} = tanh(h_l W_lᵀ + b).
    let up (w: Tensor) (b: Tensor option) (h: Tensor) = (addBias (h.MatMul(w, false, true)) b).Tanh()

    /// One backward half-step: v_l = tanh(v_{l+1} W_l + c).
    let down (w: Tensor) (c: Tensor option) (v: Tensor) = (addBias (v.MatMul w) c).Tanh()

    /// E(h₀, h₁) with biases b (hidden) and c (visible), one value per row.
    let energy1 (w: Tensor) (b: Tensor) (c: Tensor) (h0: Tensor) (h1: Tensor) =
        let coupling = (h1 * h0.MatMul(w, false, true)).Sum([| 1 |])
        -coupling - (h1 * b).Sum([| 1 |]) - (h0 * c).Sum([| 1 |]) + g(h1).Sum([| 1 |]) + g(h0).Sum([| 1 |])

    /// E(h₀ … h_L) = −Σ_l h_{l+1}ᵀ W_l h_l + Σ_l Σ G(h_l), one value per row (no biases).
    let energy (weights: Tensor[]) (states: Tensor[]) =
        if states.Length <> weights.Length + 1 then
            raise (ArgumentException(sprintf "rhn energy: %d weights need %d states, found %d." weights.Length (weights.Length + 1) states.Length, "states"))
        let couplings = Array.init weights.Length (fun l -> (states.[l + 1] * states.[l].MatMul(weights.[l], false, true)).Sum([| 1 |]))
        let gs = states |> Array.map (fun h -> g(h).Sum([| 1 |]))
        Array.fold (-) (Array.reduce (+) gs) couplings
