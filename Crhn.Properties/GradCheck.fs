namespace Crhn.Properties

open System
open Crhn.Core

/// Reverse-mode gradients against central finite differences, in float64.
///
/// The op is reduced to a scalar L(x) = Σ r ⊙ f(x) with a fixed random r, so one check covers a
/// random vector–Jacobian product. The finite difference uses step h = 1e-6: its truncation error
/// is O(h²·|L'''|) ≈ 1e-12 and its rounding error O(ε₆₄·|L|/h) ≈ 1e-10·|L|, both far below the
/// acceptance bound of 1e-6 on the relative error ‖g_reverse − g_fd‖ / max(‖g_reverse‖, ‖g_fd‖, 1).
module GradCheck =

    let step = 1e-6

    /// The acceptance bound on the relative error.
    let tolerance = 1e-6

    /// The relative error between the reverse-mode gradient of `f` and central differences of
    /// `reference` (usually `f` itself; for a straight-through op, its surrogate) at `inputs`.
    let relativeErrorAgainst (f: Tensor[] -> Tensor) (reference: Tensor[] -> Tensor) (projectionSeed: uint64) (inputs: RawTensor[]) =
        let parameters = inputs |> Array.map Tensor.Parameter
        let out = f parameters
        let r = Tensor.Constant(Cpu.ofFloat64 out.Shape (Rng.uniform64 projectionSeed -1.0 1.0 out.Primal.Numel))
        let lossOf (g: Tensor[] -> Tensor) (ts: Tensor[]) = (g ts * r).SumAll()
        (lossOf f parameters).Backward()
        let analytic = parameters |> Array.map (fun p -> match p.Grad with Some g -> g.ToFloat64Array() | None -> Array.zeroCreate p.Primal.Numel)
        let values = inputs |> Array.map (fun t -> t.ToFloat64Array())
        let evaluate () =
            (lossOf reference (Array.mapi (fun i (v: float[]) -> Tensor.Constant(Cpu.ofFloat64 inputs.[i].Shape v)) values)).ToScalar()
        let numeric =
            values |> Array.map (fun v ->
                Array.init v.Length (fun j ->
                    let x = v.[j]
                    v.[j] <- x + step
                    let up = evaluate ()
                    v.[j] <- x - step
                    let down = evaluate ()
                    v.[j] <- x
                    (up - down) / (2.0 * step)))
        let a, n = Array.concat analytic, Array.concat numeric
        let norm (v: float[]) = sqrt (Array.sumBy (fun x -> x * x) v)
        let diff = norm (Array.map2 (-) a n)
        diff / max 1.0 (max (norm a) (norm n))

    /// The relative error of f's own reverse rule.
    let relativeError (f: Tensor[] -> Tensor) (projectionSeed: uint64) (inputs: RawTensor[]) =
        relativeErrorAgainst f f projectionSeed inputs
