namespace Crhn.Properties

open System
open System.Threading
open FsCheck
open FsCheck.FSharp
open Xunit
open Crhn.Core
open Crhn.Core.Models

/// The poster's iterative classifier: its energy along trained trajectories, the JacQ penalty's
/// gradient, and the regularisers' estimates. Each proposition comes with a companion that drops
/// one of its assumptions.
module Iterative =

    let seeds = Gen.choose (0, 100000) |> Arb.fromGen

    let inputs, hidden, classes = 8, 6, 3

    /// One fixed random projection: the task every sample set shares.
    let private projection = Rng.uniform64 7919UL -1.0 1.0 (classes * inputs)

    /// n points in [0, 1]^8 labelled, as W6 labels its data, by the argmax of the fixed projection.
    let task (seed: uint64) (n: int) =
        let x = Rng.uniform64 seed 0.0 1.0 (n * inputs)
        let g = projection
        let labels =
            Array.init n (fun i ->
                Array.init classes (fun j -> Seq.sum (seq { for k in 0 .. inputs - 1 -> x.[i * inputs + k] * g.[j * inputs + k] }))
                |> Array.mapi (fun j s -> s, j) |> Array.max |> snd)
        Cpu.ofFloat64 [| n; inputs |] x, labels

    let config (steps: int) (regulariser: Regulariser) =
        { Inputs = inputs; State = inputs; Hidden = hidden; Classes = classes; Steps = steps; Alpha = 0.5; InputShift = 0.0; InputActivation = false
          Activation = Activation.Tanh 1.0; Regulariser = regulariser }

    /// A float64 network whose M starts `gain` times its default scale (‖J_T‖ around 3 at gain 3),
    /// trained for 100 epochs on 60 points (Adam 2e-2, batch 20).
    let trained (regulariser: Regulariser) (gain: float) (seed: int) =
        let net = IterativeNet(config 3 regulariser, uint64 seed, Dtype.Float64)
        net.M.Primal.ScaleInPlace gain
        let x, labels = task (uint64 seed) 60
        net.Fit(x, labels, 100, 20, 2e-2, false, ignore, CancellationToken.None) |> ignore
        net

    /// JacQ at margin 1 over every state (q = 1), so that α = 0.5 = 1/(1 + m).
    let jacq = Regulariser.JacQ(1.0, 1.0, 1.0, 5)

    /// Every step of the test trajectories: (‖J_T(v_k)‖₂ by 100 power steps, E(v_k), E(v_{k+1})).
    let testSteps (net: IterativeNet) (seed: int) =
        let x, _ = task (uint64 seed + 50UL) 40
        let energies = net.EnergyTrace x
        let norms = net.JacobianNorms(x, 100)
        [| for i in 0 .. energies.Length - 1 do
               for k in 0 .. net.Config.Steps - 1 -> norms.[i].[k], energies.[i].[k], energies.[i].[k + 1] |]

    let descends (_, e0: float, e1: float) = e1 <= e0 + 1e-12 * (1.0 + abs e0)

    /// Prop: a network trained with JacQ at margin m = 1 (α = 0.5 ≤ 1/(1 + m)) descends the energy
    /// at every step of every test trajectory where ‖J_T(v_k)‖₂ ≤ m, and training has brought the
    /// test trajectories' J_q (q = 0.9) within 2·m (from about 7 at the start; 1.5·m failed on
    /// about 1 seed in 50, seed 62015 at 1.79), so that the hypothesis is near-met rather than vacuous. The companion trains Base from the same start:
    /// nothing keeps its Jacobians near m (its J_q ends near 10).
    let certifiedDescent (regulariser: Regulariser) =
        Prop.forAll seeds (fun seed ->
            let steps = testSteps (trained regulariser 3.0 seed) seed
            let certified = steps |> Array.filter (fun (j, _, _) -> j <= 1.0)
            let norms = steps |> Array.map (fun (j, _, _) -> j) |> Array.sort
            let jq = norms.[int (0.9 * float (norms.Length - 1))]
            (Array.forall descends certified |> Prop.label "a certified step rises")
            .&. (jq <= 2.0 |> Prop.label (sprintf "%s: J_0.9 = %.3g on the test trajectories (%d of %d steps certified)" regulariser.Name jq certified.Length steps.Length)))

    /// Prop: every step v ← v − α∇E(v) with α ≤ 2 descends E, whatever the training: Φ is convex
    /// (σ monotone), so E(y) ≤ E(v) + ∇E(v)·(y − v) + ½‖y − v‖² and the step lowers E by at least
    /// α(1 − α/2)‖∇E‖². Checked on Base-trained networks at α = 0.5 and 2; the companion steps
    /// with α = 2.5, past the bound.
    let descentAnyTraining (alpha: float) =
        Prop.forAll seeds (fun seed ->
            let net = trained Regulariser.Base 3.0 seed
            let x, _ = task (uint64 seed + 50UL) 40
            let act, m = net.Config.Activation, net.M.Detach()
            let mutable v = Tensor.Constant x
            let rises = ResizeArray()
            for _ in 1 .. 3 do
                let next = HopfieldMap.step act alpha m v
                let e0 = (HopfieldMap.energy act m v).Primal.ToFloat64Array()
                let e1 = (HopfieldMap.energy act m next).Primal.ToFloat64Array()
                Array.iteri2 (fun i a b -> if not (descends (0.0, a, b)) then rises.Add(i, a, b)) e0 e1
                v <- next
            rises.Count = 0 |> Prop.label (sprintf "α = %g: %d steps rise, first %A" alpha rises.Count (Seq.tryHead rises)))

    /// The directional derivative of a network's penalty along a random direction of M: reverse
    /// mode against central differences (step 1e-6). None where the power iteration (400 steps, as
    /// the checks below run it) has not converged (a near-double top eigenvalue): there the
    /// estimate's own gradient, which holds the power vectors fixed, is not that of the function
    /// it computes. The vectors must converge, not only the value: after k steps at eigenvalue
    /// ratio r the value is off by about r²ᵏ and the vector by rᵏ, so the test is that 200 steps
    /// already give the value to 1e-12 (r²⁰⁰ ≲ 1e-12 leaves the 400-step vectors within about
    /// 1e-12). Comparing 200 steps with 400 let a case through whose vectors were off by 2e-6 and
    /// whose gradient missed by 2e-5.
    let penaltyDerivatives (regulariser: Regulariser) (seed: int) =
        let net = IterativeNet(config 2 regulariser, uint64 seed, Dtype.Float64)
        let x, _ = task (uint64 seed) 5
        let xt = Tensor.Constant x
        let converged =
            let states, _ = net.Trajectory xt
            states |> Array.forall (fun v ->
                let act, m = net.Config.Activation, net.M.Detach()
                let a = (JacobianNorm.estimate act m (v.Detach()) 200).Primal.ToFloat64Array()
                let b = (JacobianNorm.estimate act m (v.Detach()) 400).Primal.ToFloat64Array()
                Array.forall2 (fun p q -> abs (p - q) <= 1e-12 * (1.0 + abs p)) a b)
        if not converged then None
        else
            let penalty () =
                let states, _ = net.Trajectory xt
                (net.Penalty(xt, states) |> Option.get |> fst)
            (penalty ()).Backward()
            let grad = net.M.Grad.Value.ToFloat64Array()
            let origin = net.M.Primal.ToFloat64Array()
            let direction = Rng.uniform64 (uint64 seed + 3UL) -1.0 1.0 origin.Length
            let at (h: float) =
                net.M.Primal.CopyInPlace(Cpu.ofFloat64 net.M.Shape (Array.map2 (fun o d -> o + h * d) origin direction))
                let value = (penalty ()).ToScalar()
                net.M.Primal.CopyInPlace(Cpu.ofFloat64 net.M.Shape origin)
                value
            let h = 1e-6
            Some(Array.fold2 (fun s g d -> s + g * d) 0.0 grad direction, (at h - at -h) / (2.0 * h))

    /// Prop: the JacQ penalty's gradient in M (through the states v₀ … v_{K−1} and the last power
    /// step; q = 0.5 and margin 0 so the hinge and the interpolating quantile are active) agrees
    /// with central differences of the penalty to a relative 1e-6. The companion checks W6's
    /// JacHinge the same way: it stops the gradient at the last state, so its gradient is not
    /// that of the function it computes.
    let penaltyGradientAgrees (regulariser: Regulariser) =
        Prop.forAll seeds (fun seed ->
            match penaltyDerivatives regulariser seed with
            | None -> false ==> lazy true
            | Some(analytic, numeric) ->
                abs (analytic - numeric) <= 1e-6 * max 1.0 (max (abs analytic) (abs numeric))
                |> Prop.label (sprintf "%s: reverse %.12g, differences %.12g" regulariser.Name analytic numeric))

    /// A float64 network (K = 2, M at twice its default scale; with `inputLayer` an input layer
    /// v₀ = tanh(xPᵀ + p) to a state of 5) with the given regulariser, one input x, the logits as a
    /// function of it, ‖J_f(x) d‖² by central differences (step 1e-6), and ‖J_f(x)‖_F² as the sum
    /// of that over the coordinate directions.
    let jacobianAtWith (inputLayer: bool) (regulariser: Regulariser) (seed: int) =
        let shape = if inputLayer then { config 2 regulariser with State = 5; InputActivation = true } else config 2 regulariser
        let net = IterativeNet(shape, uint64 seed, Dtype.Float64)
        net.M.Primal.ScaleInPlace 2.0
        let x, _ = task (uint64 seed) 1
        let origin = x.ToFloat64Array()
        let logits (v: float[]) = (net.Logits(Cpu.ofFloat64 [| 1; inputs |] v)).ToFloat64Array()
        let h = 1e-6
        let squared (d: float[]) =
            Array.map2 (fun a b -> ((a - b) / (2.0 * h)) ** 2.0) (logits (Array.map2 (fun o e -> o + h * e) origin d)) (logits (Array.map2 (fun o e -> o - h * e) origin d))
            |> Array.sum
        let frobenius = Seq.sum (seq { for k in 0 .. inputs - 1 -> squared (Array.init inputs (fun j -> if j = k then 1.0 else 0.0)) })
        net, x, squared, frobenius

    let jacobianAt (regulariser: Regulariser) (seed: int) = jacobianAtWith false regulariser seed

    /// Prop: JacF's estimate is unbiased: the mean of ‖J_f r‖² over many draws r with E[rrᵀ] = I
    /// (uniform on [−√3, √3]) is within 4 standard errors of ‖J_f‖_F², the dense Jacobian of the
    /// logits taken column by column from central differences. The companion uses draws of the
    /// wrong scale (uniform on [−1, 1], variance 1/3), which underestimates it by two thirds.
    let jacfUnbiased (scale: float) =
        Prop.forAll seeds (fun seed ->
            let _, _, squared, frobenius = jacobianAt Regulariser.Base seed
            let draws = 4000
            let samples = Array.init draws (fun t -> squared (Rng.uniform64 (uint64 (seed * draws + t)) -1.0 1.0 inputs |> Array.map (fun u -> u * scale)))
            let mean = Array.average samples
            let se = sqrt ((samples |> Array.sumBy (fun s -> (s - mean) ** 2.0)) / float (draws - 1) / float draws)
            abs (mean - frobenius) <= 4.0 * se + 1e-9 |> Prop.label (sprintf "mean %g, ‖J‖_F² %g, se %g" mean frobenius se))

    /// The library's JacF penalty (λ = 1, 4000 projections, one sample) against ‖J_f‖_F² from
    /// central differences: its relative error.
    let jacfPenaltyError (inputLayer: bool) (seed: int) =
        let net, x, _, frobenius = jacobianAtWith inputLayer (Regulariser.JacF(1.0, 4000)) seed
        let xt = Tensor.Constant x
        let states, _ = net.Trajectory xt
        let estimate = (net.Penalty(xt, states) |> Option.get |> fst).ToScalar()
        abs (estimate - frobenius) / frobenius

/// Runs the iterative classifier's properties under xunit.
type IterativeTests() =

    [<Fact>]
    member _.``JacQ-trained: every step with ‖J_T‖ ≤ m descends the energy, and the test J_q is within 2 m`` () =
        Check.run "JacQ certified descent" 5 (Iterative.certifiedDescent Iterative.jacq)

    [<Fact>]
    member _.``companion: Base training from the same start leaves the test J_q far above m`` () =
        Check.fails "Base certified" 5 (Iterative.certifiedDescent Regulariser.Base)

    [<Fact>]
    member _.``with α ≤ 2 every step descends the energy whatever the training (convex Φ)`` () =
        Check.run "descent α = 0.5" 5 (Iterative.descentAnyTraining 0.5)
        Check.run "descent α = 2" 5 (Iterative.descentAnyTraining 2.0)

    [<Fact>]
    member _.``companion: at α = 2.5 some step rises`` () = Check.fails "descent α = 2.5" 5 (Iterative.descentAnyTraining 2.5)

    [<Fact>]
    member _.``the JacQ penalty's gradient passes the finite-difference check`` () =
        // At least 75 % of the seeds must be kept (about 7 % are discarded for an unconverged power iteration).
        Check.runKeeping "JacQ gradient" 20 0.75 (Iterative.penaltyGradientAgrees (Regulariser.JacQ(1.0, 0.0, 0.5, 400)))

    [<Fact>]
    member _.``companion: W6's penalty, which stops the gradient at the last state, fails the same check`` () =
        Check.fails "JacHinge gradient" 20 (Iterative.penaltyGradientAgrees (Regulariser.JacHinge(1.0, 0.0, 400)))

    [<Fact>]
    member _.``JacF's random projections are unbiased for the squared Frobenius norm`` () =
        Check.run "JacF unbiased" 5 (Iterative.jacfUnbiased (sqrt 3.0))

    [<Fact>]
    member _.``companion: projections of variance 1/3 underestimate it`` () = Check.fails "JacF wrong scale" 5 (Iterative.jacfUnbiased 1.0)

    [<Fact>]
    member _.``the JacF penalty with 4000 projections is within 10% of the squared Frobenius norm`` () =
        for seed in [ 1; 2; 3 ] do
            let error = Iterative.jacfPenaltyError false seed
            Assert.True(error <= 0.1, sprintf "seed %d: relative error %g" seed error)

    [<Fact>]
    member _.``with an input layer too, the JacF penalty is within 10% of the squared Frobenius norm`` () =
        for seed in [ 1; 2; 3 ] do
            let error = Iterative.jacfPenaltyError true seed
            Assert.True(error <= 0.1, sprintf "seed %d: relative error %g" seed error)
