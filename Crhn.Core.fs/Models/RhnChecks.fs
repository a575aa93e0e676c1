namespace Crhn.Core

open System

/// What `crhn verify --model` measures on a trained RHN.
type RhnCheckReport =
    { /// ‖W_l W_lᵀ − I‖_F per layer.
      SemiOrthogonality: float[]
      /// The largest ‖F(h+δ) − F(h)‖/‖δ‖ seen over random h and δ, F = one forward and backward pass.
      MaxExpansion: float
      Trials: int
      /// Stored codes that are fixed points of c ↦ sign(R₀(c)).
      FixedPoints: int
      Stored: int
      /// Layer updates (over all stored patterns) at which the energy rose beyond rounding, under
      /// block-coordinate relaxation from the stored patterns with 10 % of their signs flipped.
      EnergyRises: int
      Updates: int
      /// The largest rise seen.
      LargestRise: float }

/// Checks of a trained RHN's weights and dynamics: semi-orthogonality (what SRA keeps),
/// non-expansiveness of its pass (Proposition 3) on random perturbations, whether every stored
/// code is a fixed point, and monotonicity of its energy under the block-coordinate dynamics
/// (`RhnNetwork.Relax`: Proposition 1 for one hidden layer, P1-deep-local for more).
[<RequireQualifiedAccess>]
module RhnChecks =

    let private norm (x: RawTensor) = sqrt ((x.Unary UnaryOp.Square).SumAll())

    /// The stored codes with a `fraction` of their signs flipped (each independently).
    let damaged (codes: RawTensor) (fraction: float) (seed: uint64) =
        let flips = Rng.uniform64 seed 0.0 1.0 codes.Numel |> Array.map (fun u -> if u < fraction then -1.0 else 1.0)
        codes.Binary(BinaryOp.Mul, codes.CreateLike(codes.Shape, flips))

    /// Runs the checks: `trials` random (h, δ) pairs, and `steps` relaxation sweeps from each
    /// stored pattern with 10 % of its signs flipped; `cancel` is checked before each trial and sweep.
    let run (net: RhnNetwork) (codes: RawTensor) (trials: int) (steps: int) (seed: uint64) (cancel: Threading.CancellationToken) =
        let n = net.Sizes.[0]
        let orth = net.Weights |> Array.map Spectral.semiOrthogonalityError
        let mutable worst = 0.0
        for t in 0 .. trials - 1 do
            cancel.ThrowIfCancellationRequested()
            let h = codes.CreateLike([| 1; n |], Rng.uniform64 (Rng.derive seed (2 * t)) -1.0 1.0 n)
            let d = codes.CreateLike([| 1; n |], Rng.uniform64 (Rng.derive seed (2 * t + 1)) -0.01 0.01 n)
            worst <- max worst (norm ((net.Pass(h.Binary(BinaryOp.Add, d))).Binary(BinaryOp.Sub, net.Pass h)) / norm d)
        let count = codes.Shape.[0]
        let fixedPoints, _ = net.FixedPoints codes
        let weights = net.Weights |> Array.map Tensor.Constant
        let energy (states: RawTensor[]) = (Rhn.energy weights (states |> Array.map Tensor.Constant)).Primal.ToFloat64Array()
        // 4·u₃₂·Σ_l (n_l n_{l+1} + n_l + n_{l+1})·(1 + |E|): float32 rounding of the energy's sum.
        let terms = Seq.pairwise net.Sizes |> Seq.sumBy (fun (a, b) -> a * b + a + b)
        let _, initial = net.Forward(damaged codes 0.1 (Rng.derive seed -1))
        let mutable states = initial
        let mutable e = energy states
        let mutable rises, updates, largest = 0, 0, 0.0
        for _ in 1 .. steps do
            cancel.ThrowIfCancellationRequested()
            states <- net.Relax states
            let e' = energy states
            for i in 0 .. count - 1 do
                updates <- updates + 1
                let rise = e'.[i] - e.[i]
                if rise > 4.0 * 6e-8 * float terms * (1.0 + abs e.[i]) then
                    rises <- rises + 1
                    largest <- max largest rise
            e <- e'
        { SemiOrthogonality = orth; MaxExpansion = worst; Trials = trials; FixedPoints = fixedPoints; Stored = count
          EnergyRises = rises; Updates = updates; LargestRise = largest }
