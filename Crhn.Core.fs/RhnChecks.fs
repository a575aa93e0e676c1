namespace Crhn.Core

open System

/// What `crhn verify --model` measures on a trained RHN.
type RhnCheckReport =
    { /// ‖W_l W_lᵀ − I‖_F per layer.
      SemiOrthogonality: float[]
      /// The largest ‖F(h+δ) − F(h)‖/‖δ‖ seen over random h and δ, F = one forward and backward pass.
      MaxExpansion: float
      Trials: int
      /// Half-steps (over all stored patterns) at which the energy rose beyond rounding.
      EnergyRises: int
      HalfSteps: int
      /// The largest rise seen.
      LargestRise: float }

/// Checks of a trained RHN's weights and dynamics: semi-orthogonality (what SRA keeps),
/// non-expansiveness of its pass (Proposition 3) on random perturbations, and monotonicity of its
/// energy along recalls of its stored patterns (Proposition 1, which holds for one hidden layer;
/// for more, see P1-deep in `crhn verify`).
[<RequireQualifiedAccess>]
module RhnChecks =

    let private norm (x: RawTensor) = sqrt ((x.Unary UnaryOp.Square).SumAll())

    /// F(h) = the states after one forward pass and one backward pass, tanh at every layer.
    let private pass (net: RhnNetwork) (h: RawTensor) =
        let _, states = net.Forward h
        let _, v = net.Backward(states.[net.Layers], 0)
        v.[0]

    /// Runs the three checks: `trials` random (h, δ) pairs, and `steps` alternating sweeps from
    /// each stored pattern with 10 % of its signs flipped.
    let run (net: RhnNetwork) (codes: RawTensor) (trials: int) (steps: int) (seed: uint64) =
        let n = net.Sizes.[0]
        let orth = net.Weights |> Array.map Spectral.semiOrthogonalityError
        let mutable worst = 0.0
        for t in 0 .. trials - 1 do
            let h = codes.CreateLike([| 1; n |], Rng.uniform64 (Rng.derive seed (2 * t)) -1.0 1.0 n)
            let d = codes.CreateLike([| 1; n |], Rng.uniform64 (Rng.derive seed (2 * t + 1)) -0.01 0.01 n)
            worst <- max worst (norm ((pass net (h.Binary(BinaryOp.Add, d))).Binary(BinaryOp.Sub, pass net h)) / norm d)
        let count = codes.Shape.[0]
        let flips = Rng.uniform64 (Rng.derive seed -1) 0.0 1.0 (count * n) |> Array.map (fun u -> if u < 0.1 then -1.0 else 1.0)
        let start = codes.Binary(BinaryOp.Mul, codes.CreateLike(codes.Shape, flips))
        let weights = net.Weights |> Array.map Tensor.Constant
        let energy (states: RawTensor[]) = (Rhn.energy weights (states |> Array.map Tensor.Constant)).Primal.ToFloat64Array()
        let mutable rises, halfSteps, largest = 0, 0, 0.0
        let _, initial = net.Forward start
        let states = Array.copy initial
        let mutable e = energy states
        let tally (e': float[]) =
            for i in 0 .. count - 1 do
                halfSteps <- halfSteps + 1
                let rise = e'.[i] - e.[i]
                // 4·u₃₂·(n₀n₁ + n₀ + n₁)·(1 + |E|): float32 rounding of the energy's sum.
                if rise > 4.0 * 6e-8 * float (n * net.Sizes.[1] + n + net.Sizes.[1]) * (1.0 + abs e.[i]) then
                    rises <- rises + 1
                    largest <- max largest rise
            e <- e'
        for _ in 1 .. steps do
            let _, up = net.Forward states.[0]
            Array.blit up 1 states 1 net.Layers
            tally (energy states)
            let _, down = net.Backward(states.[net.Layers], 0)
            for l in 0 .. net.Layers - 1 do
                states.[l] <- down.[l]
            tally (energy states)
        { SemiOrthogonality = orth; MaxExpansion = worst; Trials = trials; EnergyRises = rises; HalfSteps = halfSteps; LargestRise = largest }
