namespace Crhn.Properties

open System
open FsCheck
open FsCheck.FSharp
open Crhn.Core
open Recipes

/// What a proposition's check must come to.
type Expectation =
    /// The statement holds on every case.
    | Holds
    /// The statement holds under the stated condition (which the check assumes).
    | HoldsUnder of condition: string
    /// The statement is false: the check must find (and shrink) a counterexample. Companions that
    /// drop an assumption, and claims of the papers that turn out false, are of this kind.
    | Counterexample

/// One executable proposition: an id, the exact statement checked, its tolerance and how it was
/// derived, what the check must come to, and the FsCheck property.
[<NoEquality; NoComparison>]
type Proposition =
    { Id: string
      Statement: string
      Tolerance: string
      Expect: Expectation
      Property: Property }

/// RHN cases: sizes, layers, half-steps, a seed, the weight scale in tenths.
type RhnCase = { Visible: int; Hidden: int; Layers: int; Steps: int; Seed: int; Scale: int }

/// Procrustes cases: dimension, samples, seed.
type ProcrustesCase = { Dim: int; Samples: int; Seed: int }

/// Map cases: visible and hidden sizes, seed, scales and choices (activation, α, iterations).
type MapCase = { Visible: int; Hidden: int; Seed: int; Scale: int; Act: int; Alpha: int; Steps: int }

/// Projection cases: dimension, rank, seed.
type NoiseCase = { Dim: int; Rank: int; Seed: int }

/// The propositions of the CRHN paper (P1–P3, O4) and of the finite-step Hopfield poster, each
/// with a companion that drops an assumption and must find a counterexample.
module Propositions =

    // ---------------------------------------------------------------- generators (recipes)

    let rhnArb (maxLayers: int) =
        let gen =
            gen {
                let! v = Gen.choose (1, 10)
                let! h = Gen.choose (1, 10)
                let! l = Gen.choose (1, maxLayers)
                let! st = Gen.choose (1, 8)
                let! seed = seedGen
                let! scale = Gen.choose (1, 10)
                return { Visible = v; Hidden = h; Layers = l; Steps = st; Seed = seed; Scale = scale }
            }
        arb gen [ (fun (c: RhnCase) -> c.Visible), (fun c v -> { c with Visible = v }), 1
                  (fun c -> c.Hidden), (fun c v -> { c with Hidden = v }), 1
                  (fun c -> c.Layers), (fun c v -> { c with Layers = v }), 1
                  (fun c -> c.Steps), (fun c v -> { c with Steps = v }), 1
                  (fun c -> c.Seed), (fun c v -> { c with Seed = v }), 0
                  (fun c -> c.Scale), (fun c v -> { c with Scale = v }), 1 ]

    let procrustesArb =
        let gen = Gen.map3 (fun d s seed -> { Dim = d; Samples = s; Seed = seed }) (Gen.choose (1, 8)) (Gen.choose (1, 12)) seedGen
        arb gen [ (fun (c: ProcrustesCase) -> c.Dim), (fun c v -> { c with Dim = v }), 1
                  (fun c -> c.Samples), (fun c v -> { c with Samples = v }), 1
                  (fun c -> c.Seed), (fun c v -> { c with Seed = v }), 0 ]

    let mapArb =
        let gen =
            gen {
                let! v = Gen.choose (1, 10)
                let! h = Gen.choose (1, 10)
                let! seed = seedGen
                let! scale = Gen.choose (1, 20)
                let! act = Gen.choose (0, activations.Length - 1)
                let! alpha = Gen.choose (1, 10)
                let! steps = Gen.choose (1, 20)
                return { Visible = v; Hidden = h; Seed = seed; Scale = scale; Act = act; Alpha = alpha; Steps = steps }
            }
        arb gen [ (fun (c: MapCase) -> c.Visible), (fun c v -> { c with Visible = v }), 1
                  (fun c -> c.Hidden), (fun c v -> { c with Hidden = v }), 1
                  (fun c -> c.Seed), (fun c v -> { c with Seed = v }), 0
                  (fun c -> c.Scale), (fun c v -> { c with Scale = v }), 1
                  (fun c -> c.Act), (fun c v -> { c with Act = v }), 0
                  (fun c -> c.Alpha), (fun c v -> { c with Alpha = v }), 1
                  (fun c -> c.Steps), (fun c v -> { c with Steps = v }), 1 ]

    let noiseArb =
        // Rank < dimension by construction (a projector of full rank is the identity, and both
        // sides are then equal whatever the noise): Dim = Rank + Gap, Gap ≥ 1.
        let gen = Gen.map3 (fun gap r seed -> { Dim = r + gap; Rank = r; Seed = seed }) (Gen.choose (1, 15)) (Gen.choose (1, 15)) seedGen
        arb gen [ (fun (c: NoiseCase) -> c.Dim - c.Rank), (fun c v -> { c with Dim = c.Rank + v }), 1
                  (fun c -> c.Rank), (fun c v -> { c with Rank = v; Dim = v + (c.Dim - c.Rank) }), 1
                  (fun c -> c.Seed), (fun c v -> { c with Seed = v }), 0 ]

    // ---------------------------------------------------------------- helpers

    let private value (t: Tensor) = t.Primal.ToFloat64Array()
    let private scalar (t: Tensor) = (value t).[0]
    let private norm (t: Tensor) = sqrt (t.Square().SumAll().ToScalar())
    let private states (seed: int) (k: int) (n: int) = tensor [| 1; n |] (Rng.uniform64 (Rng.derive (uint64 seed) k) -0.9 0.9 n)

    /// The RHN of a case: L weight matrices (visible → hidden → hidden …), entries U(−s, s).
    let private rhnWeights (c: RhnCase) =
        let s = float c.Scale / 10.0
        Array.init c.Layers (fun l ->
            let cols = if l = 0 then c.Visible else c.Hidden
            Tensor.Constant(uniform (int (Rng.derive (uint64 c.Seed) (100 + l) % 1_000_000UL)) -s s c.Hidden cols))

    /// Tolerance for an energy comparison: the float64 rounding of a sum of `terms` terms of size ≤ 1 + |E|.
    let private energyTol (terms: int) (e: float) = 64.0 * float terms * u64 * (1.0 + abs e)

    // ---------------------------------------------------------------- P1: Lyapunov

    /// Alternating half-steps on one hidden layer, with `down` for the backward step; every
    /// energy after a half-step against the one before.
    let private halfSteps (c: RhnCase) (downWeight: Tensor -> Tensor) =
        let w = (rhnWeights { c with Layers = 1 }).[0]
        let b = states c.Seed 1 c.Hidden
        let cv = states c.Seed 2 c.Visible
        let mutable h0 = states c.Seed 3 c.Visible
        let mutable h1 = states c.Seed 4 c.Hidden
        let terms = c.Visible * c.Hidden + c.Visible + c.Hidden
        let rises = ResizeArray<string>()
        let mutable e = scalar (Rhn.energy1 w b cv h0 h1)
        for step in 1 .. c.Steps do
            h1 <- Rhn.up w (Some b) h0
            let e1 = scalar (Rhn.energy1 w b cv h0 h1)
            if e1 > e + energyTol terms e then rises.Add(sprintf "forward half-step %d: E %.17g → %.17g" step e e1)
            h0 <- Rhn.down (downWeight w) (Some cv) h1
            let e2 = scalar (Rhn.energy1 w b cv h0 h1)
            if e2 > e1 + energyTol terms e1 then rises.Add(sprintf "backward half-step %d: E %.17g → %.17g" step e1 e2)
            e <- e2
        rises.Count = 0 |> Prop.label (String.Join("; ", rises))

    let p1HalfSteps =
        { Id = "P1"
          Statement = "One hidden layer: E(h₀,h₁) = −h₁ᵀWh₀ − bᵀh₁ − cᵀh₀ + ΣG(h₁) + ΣG(h₀) never rises under h₁ ← tanh(Wh₀ + b) and h₀ ← tanh(Wᵀh₁ + c)"
          Tolerance = "64·(n₀n₁ + n₀ + n₁)·u·(1 + |E|): float64 rounding of the energy's sum"
          Expect = Holds
          Property = Prop.forAll (rhnArb 1) (fun c -> halfSteps c id) }

    let p1Untied =
        { Id = "P1-untied"
          Statement = "Companion: with the backward half-step through another matrix W′ = W + U(−0.5, 0.5) (weights not tied), E never rises"
          Tolerance = "as P1"
          Expect = Counterexample
          Property =
            Prop.forAll (rhnArb 1) (fun c ->
                halfSteps c (fun w -> w + Tensor.Constant(uniform (c.Seed + 7) -0.5 0.5 c.Hidden c.Visible))) }

    /// dE/dt along the continuous-time flow u̇₁ = −u₁ + Wh₀ + b, u̇₀ = −u₀ + W′ᵀh₁ + c (W′ = W for
    /// the network's own flow), h = tanh u: ⟨∇_h E, ḣ⟩ with ∇_h E by reverse mode and
    /// ḣ = (1 − h²) ⊙ u̇. `onNullcline` starts from h₁ = tanh(Wh₀ + b), where only the visible
    /// layer moves.
    let private flowDerivative (c: RhnCase) (visibleCoupling: Tensor -> Tensor) (onNullcline: bool) =
        let w = (rhnWeights { c with Layers = 1 }).[0]
        let b = states c.Seed 1 c.Hidden
        let cv = states c.Seed 2 c.Visible
        let h0 = Tensor.Parameter((states c.Seed 3 c.Visible).Primal)
        let h1 = Tensor.Parameter((if onNullcline then Rhn.up w (Some b) h0 else states c.Seed 4 c.Hidden).Primal)
        (Rhn.energy1 w b cv h0 h1).SumAll().Backward()
        let atanh (h: Tensor) = ((h + 1.0).Log() - (h * -1.0 + 1.0).Log()) * 0.5
        let h0c, h1c = h0.Detach(), h1.Detach()
        let u1dot = (h0c.MatMul(w, false, true) + b) - atanh h1c
        let u0dot = (h1c.MatMul(visibleCoupling w) + cv) - atanh h0c
        let h1dot = u1dot * (h1c.Square() * -1.0 + 1.0)
        let h0dot = u0dot * (h0c.Square() * -1.0 + 1.0)
        let terms =
            Array.append
                (Array.map2 (*) (h1.Grad.Value.ToFloat64Array()) (value h1dot))
                (Array.map2 (*) (h0.Grad.Value.ToFloat64Array()) (value h0dot))
        Array.sum terms, Array.sumBy abs terms

    let p1Flow =
        { Id = "P1-flow"
          Statement = "Continuous time: along u̇₁ = −u₁ + Wh₀ + b, u̇₀ = −u₀ + Wᵀh₁ + c (h = tanh u), dE/dt = ⟨∇_h E, ḣ⟩ = −Σσ′(u)u̇² ≤ 0"
          Tolerance = "4·(n₀ + n₁)·u·Σ|∂E/∂hᵢ·ḣᵢ|: rounding of the inner product"
          Expect = Holds
          Property =
            Prop.forAll (rhnArb 1) (fun c ->
                let d, mag = flowDerivative c id false
                d <= 4.0 * float (c.Visible + c.Hidden) * u64 * mag |> Prop.label (sprintf "dE/dt = %g" d)) }

    let p1FlowWrong =
        { Id = "P1-flow-wrong-field"
          Statement = "Companion: with couplings that are not symmetric (the visible layer driven by −W: u̇₀ = −u₀ − Wᵀh₁ + c), dE/dt ≤ 0 still"
          Tolerance = "as P1-flow"
          Expect = Counterexample
          Property =
            Prop.forAll (rhnArb 1) (fun c ->
                let d, mag = flowDerivative c (fun w -> w * -1.0) true
                d <= 4.0 * float (c.Visible + c.Hidden) * u64 * mag |> Prop.label (sprintf "dE/dt = %g" d)) }

    /// The multi-layer energy along L-layer sweeps: `order` lists (layer, upward?) updates and
    /// `update weights states layer upward` gives the new h_layer.
    let private sweeps (c: RhnCase) (order: (int * bool) list) (update: Tensor[] -> Tensor[] -> int -> bool -> Tensor) =
        let ws = rhnWeights c
        let hs = Array.init (c.Layers + 1) (fun l -> states c.Seed (10 + l) (if l = 0 then c.Visible else c.Hidden))
        let terms = (c.Layers + 1) * (c.Visible + c.Hidden) * c.Hidden
        let rises = ResizeArray<string>()
        let mutable e = scalar (Rhn.energy ws hs)
        for _ in 1 .. c.Steps do
            for l, upward in order do
                hs.[l] <- update ws hs l upward
                let e' = scalar (Rhn.energy ws hs)
                if e' > e + energyTol terms e then rises.Add(sprintf "update of h%d: E %.17g → %.17g" l e e')
                e <- e'
        rises.Count = 0 |> Prop.label (String.Join("; ", rises))

    let private multiArb = Arb.filter (fun (c: RhnCase) -> c.Layers >= 2) (rhnArb 3)

    /// The library's RHN (float64) with the case's weights: sizes n₀ = Visible, then Hidden per layer.
    let private network (c: RhnCase) =
        let net = RhnNetwork(Array.init (c.Layers + 1) (fun l -> if l = 0 then c.Visible else c.Hidden), uint64 c.Seed, Dtype.Float64)
        Array.iter2 (fun (w: RawTensor) (t: Tensor) -> w.CopyInPlace t.Primal) net.Weights (rhnWeights c)
        net

    /// The energy of the library's states after each of `c.Steps` applications of `advance`, from
    /// the case's states, against the one before.
    let private descends (c: RhnCase) (advance: RhnNetwork -> RawTensor[] -> RawTensor[]) =
        let net = network c
        let weights = net.Weights |> Array.map Tensor.Constant
        let energy (hs: RawTensor[]) = scalar (Rhn.energy weights (hs |> Array.map Tensor.Constant))
        let mutable hs = Array.init (c.Layers + 1) (fun l -> (states c.Seed (10 + l) (if l = 0 then c.Visible else c.Hidden)).Primal)
        let terms = (c.Layers + 1) * (c.Visible + c.Hidden) * c.Hidden
        let rises = ResizeArray<string>()
        let mutable e = energy hs
        for step in 1 .. c.Steps do
            hs <- advance net hs
            let e' = energy hs
            if e' > e + energyTol terms e then rises.Add(sprintf "step %d: E %.17g → %.17g" step e e')
            e <- e'
        rises.Count = 0 |> Prop.label (String.Join("; ", rises))

    let p1Deep =
        { Id = "P1-deep"
          Statement = "L ≥ 2 hidden layers, the paper's sweeps as the library runs them (RhnNetwork.Forward from h₀, then RhnNetwork.Backward from h_L): E = −Σ h_{l+1}ᵀW_l h_l + ΣΣG(h_l) never rises"
          Tolerance = "64·(L + 1)(n₀ + n)·n·u·(1 + |E|)"
          Expect = Counterexample
          Property =
            Prop.forAll multiArb (fun c ->
                descends c (fun net hs ->
                    let _, up = net.Forward hs.[0]
                    let _, down = net.Backward(up.[net.Layers], 0)
                    Array.init hs.Length (fun l -> if l = net.Layers then up.[l] else down.[l]))) }

    let p1DeepLocal =
        { Id = "P1-deep-local"
          Statement = "L = 1 … 3 hidden layers, the library's block-coordinate relaxation (RhnNetwork.Relax: each layer from both neighbours, h_l ← tanh(W_{l−1}h_{l−1} + W_lᵀh_{l+1}), up then down): E never rises"
          Tolerance = "as P1-deep"
          Expect = HoldsUnder "every update sees both neighbouring layers (exact block-coordinate descent); the paper's one-directional sweeps do not (P1-deep)"
          Property = Prop.forAll (rhnArb 3) (fun c -> descends c (fun net hs -> net.Relax hs)) }

    let p1RelaxUntied =
        { Id = "P1-deep-local-untied"
          Statement = "Companion: relaxation in which each layer's update from above uses another matrix W′_l = W_l + U(−0.5, 0.5) (weights not tied): E never rises"
          Tolerance = "as P1-deep"
          Expect = Counterexample
          Property =
            Prop.forAll (rhnArb 3) (fun c ->
                descends c (fun net hs ->
                    let hs = Array.copy hs
                    let coupled l = (net.Weights.[l]).Binary(BinaryOp.Add, (uniform (c.Seed + 7 + l) -0.5 0.5 c.Hidden (if l = 0 then c.Visible else c.Hidden)))
                    let update l =
                        let below = if l > 0 then Some(hs.[l - 1].MatMul(false, true, net.Weights.[l - 1])) else None
                        let above = if l < net.Layers then Some(hs.[l + 1].MatMul(false, false, coupled l)) else None
                        match below, above with
                        | Some a, Some b -> hs.[l] <- (a.Binary(BinaryOp.Add, b)).Unary UnaryOp.Tanh
                        | Some a, None -> hs.[l] <- a.Unary UnaryOp.Tanh
                        | None, Some b -> hs.[l] <- b.Unary UnaryOp.Tanh
                        | None, None -> ()
                    for l in 1 .. net.Layers do update l
                    for l in net.Layers - 1 .. -1 .. 0 do update l
                    hs)) }

    /// Random ±1 codes for an RHN case: Steps rows of Visible signs.
    let private signs (c: RhnCase) =
        Cpu.ofFloat64 [| c.Steps; c.Visible |] (Rng.uniform64 (uint64 c.Seed + 23UL) -1.0 1.0 (c.Steps * c.Visible) |> Array.map (fun u -> if u < 0.0 then -1.0 else 1.0))

    /// The energy of the codes after each pass of `passes` (recomputed from the codes with
    /// Rhn.energy over one forward pass), against the pass before, row by row.
    let private codeEnergyDescends (c: RhnCase) (passes: RhnNetwork -> RawTensor -> RawTensor list) =
        let net = network c
        let weights = net.Weights |> Array.map Tensor.Constant
        let energy (codes: RawTensor) =
            let _, hs = net.Forward codes
            value (Rhn.energy weights (hs |> Array.map Tensor.Constant))
        let terms = (c.Layers + 1) * (c.Visible + c.Hidden) * c.Hidden
        let start = signs c
        let trajectory = start :: passes net start |> List.map energy
        let rises =
            trajectory |> List.pairwise |> List.indexed |> List.collect (fun (k, (a, b)) ->
                [ for i in 0 .. a.Length - 1 do
                    if b.[i] > a.[i] + energyTol terms a.[i] then yield sprintf "pass %d, code %d: E %.17g → %.17g" (k + 1) i a.[i] b.[i] ])
        rises.IsEmpty |> Prop.label (String.Join("; ", rises))

    let p1Retrieval =
        { Id = "P1-retrieval"
          Statement = "The library's retrieval dynamics on ±1 codes (RhnNetwork.Settle: c ← sign(R₀(c)), a pass that would raise a code's energy refused; any weights, 1–3 hidden layers): E(c, h₁ … h_L) never rises"
          Tolerance = "as P1-deep"
          Expect = Holds
          Property =
            Prop.forAll (rhnArb 3) (fun c ->
                codeEnergyDescends c (fun net start ->
                    let passes = ResizeArray<RawTensor>()
                    net.Settle(start, 20, fun codes _ _ -> passes.Add codes) |> ignore
                    List.ofSeq passes)) }

    let p1RetrievalUnrefused =
        { Id = "P1-retrieval-unrefused"
          Statement = "Companion: the sign passes alone (c ← sign(R₀(c)), every pass accepted) never raise a code's energy either"
          Tolerance = "as P1-deep"
          Expect = Counterexample
          Property =
            Prop.forAll (rhnArb 3) (fun c ->
                codeEnergyDescends c (fun net start ->
                    List.unfold (fun (k, codes) -> if k = 0 then None else let next = fst (net.SignPass codes) in Some(next, (k - 1, next))) (20, start))) }

    // ---------------------------------------------------------------- P2: Procrustes

    let private procrustesData (c: ProcrustesCase) =
        uniform c.Seed -1.0 1.0 c.Dim c.Samples, uniform (c.Seed + 1) -1.0 1.0 c.Dim c.Samples

    let private frob (x: RawTensor) = sqrt ((x.Unary UnaryOp.Square).SumAll())

    let p2Optimal =
        { Id = "P2"
          Statement = "R* = UVᵀ with UΣVᵀ = svd(BAᵀ) is orthogonal and ‖R*A − B‖_F ≤ ‖QA − B‖_F for a random orthogonal Q"
          Tolerance = "orthogonality 100·n·u; residuals 100·n·N·u·(‖A‖_F + ‖B‖_F)"
          Expect = Holds
          Property =
            Prop.forAll procrustesArb (fun c ->
                let a, b = procrustesData c
                let r = Procrustes.solve a b
                let q = semiOrthogonal (c.Seed + 2) c.Dim c.Dim
                let orth = Spectral.semiOrthogonalityError r
                let tol = 100.0 * float (c.Dim * c.Samples) * u64 * (frob a + frob b)
                let rStar, rQ = Procrustes.residual r a b, Procrustes.residual q a b
                (orth <= 100.0 * float c.Dim * u64 |> Prop.label (sprintf "‖R*ᵀR* − I‖ = %g" orth))
                .&. (rStar <= rQ + tol |> Prop.label (sprintf "‖R*A − B‖ = %.17g > ‖QA − B‖ = %.17g" rStar rQ))) }

    let p2Recovers =
        { Id = "P2-recovers"
          Statement = "If B = Q₀A with Q₀ orthogonal and A of full row rank (singular values in [1, 2]), then R* = Q₀"
          Tolerance = "‖R* − Q₀‖_F ≤ 1e3·n·u·κ(A) with κ(A) ≤ 2 (the polar factor's condition is 1/σ_min)"
          Expect = Holds
          Property =
            Prop.forAll procrustesArb (fun c ->
                let samples = c.Dim + c.Samples - 1
                let a = withSingularValues c.Seed c.Dim samples (Array.init c.Dim (fun i -> 2.0 - float i / float (max 1 c.Dim)))
                let q0 = semiOrthogonal (c.Seed + 3) c.Dim c.Dim
                let r = Procrustes.solve a (q0.MatMul(false, false, a))
                let err = frob (r.Binary(BinaryOp.Sub, q0))
                err <= 2e3 * float c.Dim * u64 |> Prop.label (sprintf "‖R* − Q₀‖ = %g" err)) }

    let p2NotOverAll =
        { Id = "P2-any-matrix"
          Statement = "Companion: ‖R*A − B‖_F ≤ ‖RA − B‖_F for every R, orthogonal or not (here R = cR* with the best scale c)"
          Tolerance = "as P2"
          Expect = Counterexample
          Property =
            Prop.forAll procrustesArb (fun c ->
                let a, b = procrustesData c
                let r = Procrustes.solve a b
                let ra = r.MatMul(false, false, a)
                let scale = (ra.Binary(BinaryOp.Mul, b)).SumAll() / max ((ra.Unary UnaryOp.Square).SumAll()) Double.Epsilon
                let tol = 100.0 * float (c.Dim * c.Samples) * u64 * (frob a + frob b)
                let rStar, rScaled = Procrustes.residual r a b, Procrustes.residual (r.MulScalar scale) a b
                rStar <= rScaled + tol |> Prop.label (sprintf "‖R*A − B‖ = %.17g > ‖%gR*A − B‖ = %.17g" rStar scale rScaled)) }

    /// ±1 codes for an SRA case: Steps rows (1 … 8) of Visible signs, so that both Procrustes
    /// solvers run (the thin one when twice the rows are fewer than the layer's width).
    let private codesOf (c: RhnCase) =
        let n = c.Steps
        Cpu.ofFloat64 [| n; c.Visible |] (Rng.uniform64 (uint64 c.Seed + 17UL) -1.0 1.0 (n * c.Visible) |> Array.map (fun u -> if u < 0.0 then -1.0 else 1.0))

    /// An orthogonally initialised float64 network of the case's sizes (SRA's starting point).
    let private sraNetwork (c: RhnCase) =
        RhnNetwork(Array.init (c.Layers + 1) (fun l -> if l = 0 then c.Visible else c.Hidden), uint64 c.Seed, Dtype.Float64)

    /// RSRA at every layer l = L−2 … 0 of the library's network: its own Procrustes objective
    /// ‖A_{l+1} − V_{l+1}‖_F (V from before the rotation) after `rotate` against before.
    let private rsraObjective (c: RhnCase) (rotate: RhnNetwork -> RawTensor -> int -> unit) =
        let net = sraNetwork c
        let x = codesOf c
        let rises = ResizeArray<string>()
        for l in net.Layers - 2 .. -1 .. 0 do
            let pre, hs = net.Forward x
            let _, v = net.Backward(hs.[net.Layers], l + 1)
            let before = frob (pre.[l].Binary(BinaryOp.Sub, v.[l + 1]))
            rotate net x l
            let after = frob ((fst (net.Forward x)).[l].Binary(BinaryOp.Sub, v.[l + 1]))
            let tol = 100.0 * float (x.Numel + c.Hidden * c.Hidden) * u64 * (frob pre.[l] + frob v.[l + 1])
            if after > before + tol then rises.Add(sprintf "layer %d: ‖A − V‖ %.17g → %.17g" l before after)
        rises.Count = 0 |> Prop.label (String.Join("; ", rises))

    /// LSRA at layer 0 of the library's network: its own objective ‖R₀ − X‖_F, R₀ = V₁W₀ with V₁
    /// from before the rotation, after `rotate` against before.
    let private lsraObjective (c: RhnCase) (rotate: RhnNetwork -> RawTensor -> unit) =
        let net = sraNetwork c
        let x = codesOf c
        let _, hs = net.Forward x
        let r, v = net.Backward(hs.[net.Layers], 0)
        let before = frob (r.[0].Binary(BinaryOp.Sub, x))
        rotate net x
        let after = frob ((v.[1].MatMul(false, false, net.Weights.[0])).Binary(BinaryOp.Sub, x))
        let tol = 100.0 * float (x.Numel + c.Visible * c.Visible) * u64 * (frob r.[0] + frob x)
        after <= before + tol |> Prop.label (sprintf "‖R₀ − X‖ %.17g → %.17g" before after)

    let p2Rsra =
        { Id = "P2-RSRA"
          Statement = "L ≥ 2 hidden layers: each of the library's RSRA steps (RhnNetwork.RightRotation at l = L−2 … 0, W_l ← QW_l) never increases its own objective ‖A_{l+1} − V_{l+1}‖_F"
          Tolerance = "100·(N·n₀ + n²)·u·(‖A‖_F + ‖V‖_F)"
          Expect = Holds
          Property = Prop.forAll multiArb (fun c -> rsraObjective c (fun net x l -> net.RightRotation(x, l))) }

    let p2Lsra =
        { Id = "P2-LSRA"
          Statement = "L ≥ 2 hidden layers: the library's LSRA step at the code layer (RhnNetwork.LeftRotation at l = 0, W₀ ← W₀Rᵀ) never increases its own objective ‖V₁W₀ − X‖_F (V₁ from before it)"
          Tolerance = "100·(N·n₀ + n₀²)·u·(‖R₀‖_F + ‖X‖_F)"
          Expect = Holds
          Property = Prop.forAll multiArb (fun c -> lsraObjective c (fun net x -> net.LeftRotation(x, 0))) }

    let p2AnyRotation =
        { Id = "P2-any-rotation"
          Statement = "Companion: any orthogonal Q in place of the Procrustes solution (W_l ← QW_l with a random orthogonal Q) never increases RSRA's objective either"
          Tolerance = "as P2-RSRA"
          Expect = Counterexample
          Property =
            Prop.forAll multiArb (fun c ->
                rsraObjective c (fun net _ l ->
                    let q = semiOrthogonal (c.Seed + 31 + l) c.Hidden c.Hidden
                    net.Weights.[l].CopyInPlace(q.MatMul(false, false, net.Weights.[l])))) }

    /// Cases for Newton–Schulz: a semi-orthogonal matrix (Visible × Hidden, either shape) plus a
    /// perturbation of size Scale/1000 per entry.
    let private perturbedNetwork (c: RhnCase) =
        let net = RhnNetwork([| c.Visible; c.Hidden |], uint64 c.Seed, Dtype.Float64)
        let w = net.Weights.[0]
        w.CopyInPlace(w.Binary(BinaryOp.Add, uniform (c.Seed + 5) (-float c.Scale / 1000.0) (float c.Scale / 1000.0) c.Hidden c.Visible))
        net

    /// ‖E′‖ against 0.75‖E‖² + 0.25‖E‖³ (+ rounding) when `orthogonalise` maps W (WWᵀ = I + E, or
    /// WᵀW for a tall W) to W′.
    let private newtonSchulz (c: RhnCase) (orthogonalise: RhnNetwork -> unit) =
        let net = perturbedNetwork c
        let e0 = Spectral.semiOrthogonalityError net.Weights.[0]
        orthogonalise net
        let e1 = Spectral.semiOrthogonalityError net.Weights.[0]
        let bound = 0.75 * e0 * e0 + 0.25 * e0 * e0 * e0 + 100.0 * float (c.Visible * c.Hidden) * u64
        e1 <= bound |> Prop.label (sprintf "‖E‖ = %g → ‖E′‖ = %g > %g" e0 e1 bound)

    let p2NewtonSchulz =
        { Id = "P2-Newton-Schulz"
          Statement = "The library's re-orthogonalisation (RhnNetwork.Reorthogonalise: one Newton–Schulz step W ← 1.5W − 0.5WWᵀW) maps the orthogonality error E = WWᵀ − I (WᵀW − I for a tall W) to E′ = −¾E² + ¼E³, so ‖E′‖_F ≤ ¾‖E‖² + ¼‖E‖³ (W semi-orthogonal plus U(−s, s), s ≤ 0.01)"
          Tolerance = "100·n₀n₁·u"
          Expect = Holds
          Property = Prop.forAll (rhnArb 1) (fun c -> newtonSchulz c (fun net -> net.Reorthogonalise())) }

    let p2NoReorthogonalise =
        { Id = "P2-Newton-Schulz-skipped"
          Statement = "Companion: without the step (W′ = W) the error is already within ¾‖E‖² + ¼‖E‖³"
          Tolerance = "as P2-Newton-Schulz"
          Expect = Counterexample
          Property = Prop.forAll (rhnArb 1) (fun c -> newtonSchulz c ignore) }

    // ---------------------------------------------------------------- P3: non-expansiveness

    /// Whether ‖Fᵏ(h+δ) − Fᵏ(h)‖ ≤ ‖δ‖ + tolₖ for k = 1..K, F(h) = σ(Wᵀσ(Wh)) in row form, with
    /// tolₖ = 16·k·(n₀ + n₁)·u·(‖h‖ + √n₀) (the rounding of evaluating Fᵏ at two points whose
    /// images have norm ≤ ‖h‖ + √n₀); and the worst ratio seen.
    let private expansion (c: MapCase) (act: Activation) (gain: float) =
        let hidden = min c.Hidden c.Visible
        let w = Tensor.Constant((semiOrthogonal c.Seed hidden c.Visible).MulScalar gain)
        let hScale = [| 0.01; 0.3; 1.0 |].[c.Scale % 3]
        let h = tensor [| 1; c.Visible |] (Rng.uniform64 (uint64 c.Seed + 1UL) -hScale hScale c.Visible)
        let delta = tensor [| 1; c.Visible |] (Rng.uniform64 (uint64 c.Seed + 2UL) -0.01 0.01 c.Visible)
        let f (x: Tensor) = act.Apply(act.Apply(x.MatMul(w, false, true)).MatMul w)
        let mutable a, b = h + delta, h
        let d = norm delta
        let scale = 16.0 * float (c.Visible + hidden) * u64 * (norm h + sqrt (float c.Visible))
        let mutable worst = 0.0
        let mutable within = true
        for k in 1 .. c.Steps do
            a <- f a
            b <- f b
            let gap = norm (a - b)
            worst <- max worst (gap / d)
            within <- within && gap <= d + float k * scale
        within, worst

    let private oneLipschitz = [| Activation.Tanh 1.0; Activation.Sigmoid 4.0; Activation.Relu; Activation.Tanh 0.5; Activation.Sigmoid 1.0 |]

    let p3 =
        { Id = "P3"
          Statement = "WWᵀ = I and σ 1-Lipschitz (tanh, sigmoid(βu) with β ≤ 4, ReLU): ‖Fᵏ(h+δ) − Fᵏ(h)‖ ≤ ‖δ‖ for k = 1…K ≤ 20, F(h) = σ(Wᵀσ(Wh))"
          Tolerance = "absolute 16·k·(n₀ + n₁)·u·(‖h‖ + √n₀) at step k: rounding of evaluating Fᵏ at two points whose images have norm ≤ ‖h‖ + √n₀"
          Expect = Holds
          Property =
            Prop.forAll mapArb (fun c ->
                let act = oneLipschitz.[c.Act % oneLipschitz.Length]
                let within, r = expansion c act 1.0
                within |> Prop.label (sprintf "%s: max ‖Fᵏ(h+δ) − Fᵏ(h)‖/‖δ‖ = %.17g" act.Name r)) }

    let p3Gain =
        { Id = "P3-norm>1"
          Statement = "Companion: with ‖W‖₂ = 1.5 (W = 1.5·semi-orthogonal), F is still non-expansive"
          Tolerance = "as P3"
          Expect = Counterexample
          Property =
            Prop.forAll mapArb (fun c ->
                let within, r = expansion c (Activation.Tanh 1.0) 1.5
                within |> Prop.label (sprintf "‖Fᵏ(h+δ) − Fᵏ(h)‖/‖δ‖ = %.6g" r)) }

    let p3Steep =
        { Id = "P3-2-Lipschitz"
          Statement = "Companion: with the 2-Lipschitz σ = tanh(2u), F is still non-expansive"
          Tolerance = "as P3"
          Expect = Counterexample
          Property =
            Prop.forAll mapArb (fun c ->
                let within, r = expansion c (Activation.Tanh 2.0) 1.0
                within |> Prop.label (sprintf "‖Fᵏ(h+δ) − Fᵏ(h)‖/‖δ‖ = %.6g" r)) }

    /// Whether the library's RHN pass (RhnNetwork.Pass, orthogonally initialised, 1–3 hidden
    /// layers, weights scaled by `gain`) keeps ‖Fᵏ(h+δ) − Fᵏ(h)‖ ≤ ‖δ‖ + tolₖ for k = 1…K.
    let private rhnExpansion (c: RhnCase) (gain: float) =
        let net = sraNetwork c
        for w in net.Weights do w.ScaleInPlace gain
        let h = Cpu.ofFloat64 [| 1; c.Visible |] (Rng.uniform64 (uint64 c.Seed + 1UL) -1.0 1.0 c.Visible)
        let delta = Cpu.ofFloat64 [| 1; c.Visible |] (Rng.uniform64 (uint64 c.Seed + 2UL) -0.01 0.01 c.Visible)
        let d = frob delta
        let scale = 16.0 * float ((c.Layers + 1) * (c.Visible + c.Hidden)) * u64 * (frob h + sqrt (float c.Visible))
        let mutable a, b = h.Binary(BinaryOp.Add, delta), h
        let mutable worst = 0.0
        let mutable within = true
        for k in 1 .. c.Steps do
            a <- net.Pass a
            b <- net.Pass b
            let gap = frob (a.Binary(BinaryOp.Sub, b))
            worst <- max worst (gap / d)
            within <- within && gap <= d + float k * scale
        within |> Prop.label (sprintf "max ‖Fᵏ(h+δ) − Fᵏ(h)‖/‖δ‖ = %.17g" worst)

    let p3Rhn =
        { Id = "P3-RHN"
          Statement = "The library's RHN pass F = RhnNetwork.Pass (forward then backward, tanh, 1–3 hidden layers, semi-orthogonal weights as initialised): ‖Fᵏ(h+δ) − Fᵏ(h)‖ ≤ ‖δ‖ for k = 1…K ≤ 8"
          Tolerance = "absolute 16·k·(L + 1)(n₀ + n)·u·(‖h‖ + √n₀)"
          Expect = Holds
          Property = Prop.forAll (rhnArb 3) (fun c -> rhnExpansion c 1.0) }

    let p3RhnGain =
        { Id = "P3-RHN-norm>1"
          Statement = "Companion: with the library's RHN weights scaled to ‖W_l‖₂ = 1.5, its pass is still non-expansive"
          Tolerance = "as P3-RHN"
          Expect = Counterexample
          Property = Prop.forAll (rhnArb 3) (fun c -> rhnExpansion c 1.5) }

    // ---------------------------------------------------------------- O4: noise filtering

    let samples = 4000

    /// Mean of ‖Pδ‖² − (r/n)‖δ‖² over `samples` draws, and the bound 6·√(Var/S) with
    /// Var = 2[(1 − r/n)²r + (r/n)²(n − r)] (δ ~ N(0, I): ‖Pδ‖² ~ χ²_r, ‖(I−P)δ‖² ~ χ²_{n−r}, independent).
    let private noiseStatistic (c: NoiseCase) (anisotropic: bool) =
        let n = c.Dim
        let r = c.Rank
        let w = semiOrthogonal c.Seed r n
        let p = Spectral.rowSpaceProjector w
        let z = Cpu.ofFloat64 [| samples; n |] (Rng.normal64 (uint64 c.Seed + 5UL) (samples * n))
        let delta = if anisotropic then z.Binary(BinaryOp.Add, z.MatMul(false, false, p)) else z
        let pd = delta.MatMul(false, false, p)
        let rowSums (x: RawTensor) = (x.Unary UnaryOp.Square).SumToShape([| samples; 1 |]).ToFloat64Array()
        let fr = float r / float n
        let d = Array.map2 (fun a b -> a - fr * b) (rowSums pd) (rowSums delta)
        let mean = Array.average d
        let var = 2.0 * ((1.0 - fr) ** 2.0 * float r + fr * fr * float (n - r))
        mean, 6.0 * sqrt (var / float samples) + 1e-9

    let o4 =
        { Id = "O4"
          Statement = sprintf "P an orthogonal projector of rank r < n in ℝⁿ, δ ~ N(0, I): E‖Pδ‖² = (r/n)·E‖δ‖² (sample mean over %d draws)" samples
          Tolerance = "|mean(‖Pδ‖² − (r/n)‖δ‖²)| ≤ 6·√(2[(1−r/n)²r + (r/n)²(n−r)]/S): six standard errors (false-alarm rate ≈ 2·10⁻⁹ per case)"
          Expect = Holds
          Property =
            Prop.forAll noiseArb (fun c ->
                let mean, bound = noiseStatistic c false
                abs mean <= bound |> Prop.label (sprintf "mean %g, bound %g" mean bound)) }

    let o4Anisotropic =
        { Id = "O4-anisotropic"
          Statement = "Companion: with δ = z + Pz (variance 4 along the subspace, not isotropic), E‖Pδ‖² = (r/n)·E‖δ‖² still"
          Tolerance = "as O4"
          Expect = Counterexample
          Property =
            Prop.forAll noiseArb (fun c ->
                let mean, bound = noiseStatistic c true
                abs mean <= bound |> Prop.label (sprintf "mean of ‖Pδ‖² − (r/n)‖δ‖² = %g, bound %g" mean bound)) }

    // ---------------------------------------------------------------- the poster

    let private poster (c: MapCase) =
        let act = activations.[c.Act % activations.Length]
        let m = Tensor.Constant(uniform c.Seed (-float c.Scale / 10.0) (float c.Scale / 10.0) c.Hidden c.Visible)
        let v = tensor [| 1; c.Visible |] (Rng.uniform64 (uint64 c.Seed + 9UL) -2.0 2.0 c.Visible)
        act, m, v

    let private awayFromKink (act: Activation) (u: float[]) =
        match act with
        | Activation.Relu -> Generators.avoidKinks [ 0.0 ] 1e-3 u
        | _ -> u

    let posterPotential =
        { Id = "Poster-Φ"
          Statement = "Φ′ = σ and Φ″ = H_Φ (central differences, step 1e-5) for tanh(βu), sigmoid(βu), ReLU"
          Tolerance = "1e-7·(1 + |·|): truncation h²|Φ‴|/6 ≤ 1e-9·β², rounding u·|Φ|/h ≈ 1e-10"
          Expect = Holds
          Property =
            Prop.forAll mapArb (fun c ->
                let act = activations.[c.Act % activations.Length]
                let u = awayFromKink act (Rng.uniform64 (uint64 c.Seed) -4.0 4.0 8)
                let at (x: float[]) = tensor [| x.Length |] x
                let fd (f: Tensor -> Tensor) = Array.init u.Length (fun i ->
                    let step = 1e-5
                    let plus, minus = Array.copy u, Array.copy u
                    plus.[i] <- plus.[i] + step
                    minus.[i] <- minus.[i] - step
                    ((value (f (at plus))).[i] - (value (f (at minus))).[i]) / (2.0 * step))
                let sigma, h = value (act.Apply(at u)), value (act.Hessian(at u))
                let d1 = Array.map2 (fun a b -> abs (a - b) / (1.0 + abs b)) (fd act.Potential) sigma |> Array.max
                let d2 = Array.map2 (fun a b -> abs (a - b) / (1.0 + abs b)) (fd act.Apply) h |> Array.max
                (d1 <= 1e-7 |> Prop.label (sprintf "%s: Φ′ − σ = %g" act.Name d1)) .&. (d2 <= 1e-7 |> Prop.label (sprintf "%s: Φ″ − H = %g" act.Name d2))) }

    let posterLipschitz =
        { Id = "Poster-L"
          Statement = "0 ≤ H_Φ(u) ≤ L_Φ (L = β for tanh(βu), β/4 for sigmoid(βu), 1 for ReLU)"
          Tolerance = "exact (4u relative for the float64 evaluation of H)"
          Expect = Holds
          Property =
            Prop.forAll mapArb (fun c ->
                let act = activations.[c.Act % activations.Length]
                let h = value (act.Hessian(tensor [| 64 |] (Rng.uniform64 (uint64 c.Seed) -6.0 6.0 64)))
                Array.forall (fun x -> x >= 0.0 && x <= act.Lipschitz * (1.0 + 4.0 * u64)) h |> Prop.label (sprintf "%s: max H = %.17g" act.Name (Array.max h))) }

    /// The largest H_Φ on a grid of 4001 points over [−4/β, 4/β] (0 among them) against `bound`.
    let private hessianSupremum (c: MapCase) (bound: Activation -> float) =
        let act = activations.[c.Act % activations.Length]
        let width = match act with Activation.Tanh b | Activation.Sigmoid b -> 4.0 / b | Activation.Relu -> 4.0
        let grid = Array.init 4001 (fun i -> width * float (i - 2000) / 2000.0)
        let top = value (act.Hessian(tensor [| grid.Length |] grid)) |> Array.max
        let l = bound act
        top >= l * (1.0 - 1e-12) |> Prop.label (sprintf "%s: max H = %.17g, L = %.17g" act.Name top l)

    let posterLipschitzSupremum =
        { Id = "Poster-L-sup"
          Statement = "L_Φ is the supremum of H_Φ, not only a bound: H_Φ reaches L_Φ (at u = 0 for tanh(βu) and sigmoid(βu), for u > 0 for ReLU)"
          Tolerance = "relative 1e-12"
          Expect = Holds
          Property = Prop.forAll mapArb (fun c -> hessianSupremum c (fun act -> act.Lipschitz)) }

    let posterLipschitzLoose =
        { Id = "Poster-L-sup-doubled"
          Statement = "Companion: H_Φ reaches 2·L_Φ too (a bound twice as large is still the supremum)"
          Tolerance = "as Poster-L-sup"
          Expect = Counterexample
          Property = Prop.forAll mapArb (fun c -> hessianSupremum c (fun act -> 2.0 * act.Lipschitz)) }

    /// Smooth activations only (central differences of T need σ differentiable).
    let private smooth = activations |> Array.filter (fun a -> a <> Activation.Relu)

    /// J_T(v)·r by central differences of the library's T (HopfieldMap.apply), step 1e-5.
    let private jvpByDifferences (act: Activation) (m: Tensor) (v: Tensor) (r: float[]) =
        let origin = value v
        let at (h: float) = value (HopfieldMap.apply act m (tensor v.Shape (Array.map2 (fun o d -> o + h * d) origin r)))
        let step = 1e-5
        Array.map2 (fun a b -> (a - b) / (2.0 * step)) (at step) (at -step)

    /// The library's J_T·r three ways against central differences: HopfieldMap.jvp (`jvp`), the
    /// reverse-mode gradient of ⟨T(v), r⟩ (J_T is symmetric), and JacobianNorm.estimate with 3
    /// power steps against the same power steps run on differences.
    let private jacobianAgrees (c: MapCase) (jvp: Activation -> Tensor -> Tensor -> Tensor -> Tensor) =
        let act = smooth.[c.Act % smooth.Length]
        let m = Tensor.Constant(uniform c.Seed (-float c.Scale / 10.0) (float c.Scale / 10.0) c.Hidden c.Visible)
        let v = tensor [| 1; c.Visible |] (Rng.uniform64 (uint64 c.Seed + 9UL) -2.0 2.0 c.Visible)
        let r = Rng.uniform64 (uint64 c.Seed + 11UL) -1.0 1.0 c.Visible
        let expected = jvpByDifferences act m v r
        let scale = 1.0 + Spectral.largestSingularValue m.Primal ** 2.0
        let tol = 1e-6 * scale * (1.0 + (Array.map abs expected |> Array.max))
        let distance (a: float[]) (b: float[]) = Array.map2 (fun x y -> abs (x - y)) a b |> Array.max
        let forward = value (jvp act m v (tensor [| 1; c.Visible |] r))
        let p = Tensor.Parameter v.Primal
        ((HopfieldMap.apply act m p) * tensor [| 1; c.Visible |] r).SumAll().Backward()
        let reverse = p.Grad.Value.ToFloat64Array()
        let mutable u = Array.create c.Visible (1.0 / sqrt (float c.Visible))
        for _ in 1 .. 3 do
            let w = jvpByDifferences act m v u
            let n = sqrt (Array.sumBy (fun x -> x * x) w) + 1e-12
            u <- w |> Array.map (fun x -> x / n)
        let powered = sqrt (Array.sumBy (fun x -> x * x) (jvpByDifferences act m v u))
        let estimated = scalar (Crhn.Core.Models.JacobianNorm.estimate act m v 3)
        (distance forward expected <= tol |> Prop.label (sprintf "%s: jvp off by %g" act.Name (distance forward expected)))
        .&. (distance reverse expected <= tol |> Prop.label (sprintf "%s: reverse mode off by %g" act.Name (distance reverse expected)))
        .&. (abs (estimated - powered) <= tol |> Prop.label (sprintf "%s: ‖J_T‖ estimate %.12g, by differences %.12g" act.Name estimated powered))

    let posterJacobianProduct =
        { Id = "Poster-J_T"
          Statement = "For tanh(βu) and sigmoid(βu): J_T(v)·r = Mᵀ(H_Φ(Mv) ⊙ Mr) as the library computes it (HopfieldMap.jvp), as reverse mode gives it (∇⟨T(v), r⟩, J_T symmetric), and JacQ's ‖J_T‖₂ estimate (JacobianNorm.estimate, 3 power steps) all agree with central differences of T"
          Tolerance = "1e-6·(1 + ‖M‖²)·(1 + ‖J_T r‖_∞): truncation and rounding of differences at step 1e-5"
          Expect = Holds
          Property = Prop.forAll mapArb (fun c -> jacobianAgrees c HopfieldMap.jvp) }

    let posterJacobianWithoutHessian =
        { Id = "Poster-J_T-without-H"
          Statement = "Companion: J_T(v)·r = MᵀMr (the activation's Hessian H_Φ left out) agrees with central differences of T"
          Tolerance = "as Poster-J_T"
          Expect = Counterexample
          Property = Prop.forAll mapArb (fun c -> jacobianAgrees c (fun _ m _ r -> r.MatMul(m, false, true).MatMul m)) }

    /// ∇E(v) by reverse mode at the case's state.
    let private energyGradient (act: Activation) (m: Tensor) (v: Tensor) =
        let p = Tensor.Parameter v.Primal
        (HopfieldMap.energy act m p).SumAll().Backward()
        p.Grad.Value.ToFloat64Array()

    let private gradientMatches (alpha: float) (c: MapCase) =
        let act, m, v = poster c
        let g = energyGradient act m v
        let expected = value (v - HopfieldMap.apply act m v * alpha)
        let err = Array.map2 (fun a b -> abs (a - b)) g expected |> Array.max
        let scale = 1.0 + (Array.map abs expected |> Array.max)
        err <= 64.0 * float (c.Visible * c.Hidden) * u64 * scale |> Prop.label (sprintf "%s: |∇E − (v − %gT)| = %g" act.Name alpha err)

    let posterGradient =
        { Id = "Poster-∇E"
          Statement = "∇E(v) = v − T(v) for E(v) = ½‖v‖² − Φ(Mv), T(v) = Mᵀσ(Mv)"
          Tolerance = "64·n·h·u·(1 + ‖∇E‖_∞)"
          Expect = Holds
          Property = Prop.forAll mapArb (gradientMatches 1.0) }

    let posterGradientTypo =
        { Id = "Poster-∇E-as-printed"
          Statement = "Companion: the poster's printed ∇E(v) = v − αT(v), here with α = 0.5"
          Tolerance = "as Poster-∇E"
          Expect = Counterexample
          Property = Prop.forAll mapArb (gradientMatches 0.5) }

    let posterHessian =
        { Id = "Poster-∇²E"
          Statement = "∇²E(v) = I − J_T(v) with J_T(v) = Mᵀ H_Φ(Mv) M (central differences of ∇E, step 1e-6)"
          Tolerance = "1e-6·(1 + ‖M‖²): truncation h²·|∇⁴E| and rounding u·|∇E|/h; ReLU cases with |Mv| < 1e-3 are discarded (kink)"
          Expect = Holds
          Property =
            Prop.forAll mapArb (fun c ->
                let act, m, v = poster c
                let u = value (v.MatMul(m, false, true))
                let smooth = (act <> Activation.Relu) || Array.forall (fun x -> abs x > 1e-3) u
                smooth ==> lazy (
                    let n = c.Visible
                    let j = value (HopfieldMap.jacobian act m v)
                    let origin = value v
                    let step = 1e-6
                    let worst =
                        seq { for col in 0 .. n - 1 do
                                let plus, minus = Array.copy origin, Array.copy origin
                                plus.[col] <- plus.[col] + step
                                minus.[col] <- minus.[col] - step
                                let gp = energyGradient act m (tensor [| 1; n |] plus)
                                let gm = energyGradient act m (tensor [| 1; n |] minus)
                                for row in 0 .. n - 1 ->
                                    let fdv = (gp.[row] - gm.[row]) / (2.0 * step)
                                    abs (fdv - ((if row = col then 1.0 else 0.0) - j.[row * n + col])) } |> Seq.max
                    let mNorm = Spectral.largestSingularValue m.Primal
                    worst <= 1e-6 * (1.0 + mNorm * mNorm) |> Prop.label (sprintf "%s: ∇²E − (I − J_T) = %g" act.Name worst))) }

    let posterJacobianBound =
        { Id = "Poster-‖J_T‖"
          Statement = "‖J_T(v)‖₂ ≤ L_Φ·‖M‖₂² (spectral norms from the SVD)"
          Tolerance = "relative 100·n·u"
          Expect = Holds
          Property =
            Prop.forAll mapArb (fun c ->
                let act, m, v = poster c
                let j = Spectral.largestSingularValue (HopfieldMap.jacobian act m v).Primal
                let bound = act.Lipschitz * (Spectral.largestSingularValue m.Primal ** 2.0)
                j <= bound * (1.0 + 100.0 * float c.Visible * u64) + 1e-300 |> Prop.label (sprintf "%s: ‖J_T‖ = %g > %g" act.Name j bound)) }

    /// E before and after one step v ← v − α∇E(v) with α = fraction/(1 + m), m = ‖J_T(v)‖₂.
    let private descent (c: MapCase) (alphaOf: float -> float) =
        let act, m, v = poster c
        let jn = Spectral.largestSingularValue (HopfieldMap.jacobian act m v).Primal
        let alpha = alphaOf jn
        let e0 = scalar (HopfieldMap.energy act m v)
        let e1 = scalar (HopfieldMap.energy act m (HopfieldMap.step act alpha m v))
        e1 <= e0 + energyTol (c.Visible * c.Hidden) e0 |> Prop.label (sprintf "%s, m = %g, α = %g: E %.17g → %.17g" act.Name jn alpha e0 e1)

    let posterDescent =
        { Id = "Poster-descent"
          Statement = "If ‖J_T(v_k)‖₂ ≤ m and 0 < α ≤ 1/(1 + m), then E(v_{k+1}) ≤ E(v_k) for v_{k+1} = (1 − α)v_k + αT(v_k) (m = ‖J_T(v_k)‖₂, α = a/(1 + m), a ∈ (0, 1])"
          Tolerance = "64·n·h·u·(1 + |E|)"
          Expect = Holds
          Property = Prop.forAll mapArb (fun c -> descent c (fun m -> (float c.Alpha / 10.0) / (1.0 + m))) }

    let posterDescentLargeStep =
        { Id = "Poster-descent-large-step"
          Statement = "Companion: with α = 3 (well above 2/(1 + m) for every m ≥ 0), E(v_{k+1}) ≤ E(v_k) still"
          Tolerance = "as Poster-descent"
          Expect = Counterexample
          Property = Prop.forAll mapArb (fun c -> descent c (fun _ -> 3.0)) }

    let private powerConverges (iterations: int) (c: MapCase) =
        let s = Array.init (min c.Visible c.Hidden) (fun i -> if i = 0 then 2.0 else 1.0 / float (i + 1))
        let m = withSingularValues c.Seed c.Hidden c.Visible s
        let est = Spectral.spectralNorm m iterations (uint64 c.Seed)
        abs (est - 2.0) <= 1e-9 |> Prop.label (sprintf "power iteration %.17g vs σ₁ = 2" est)

    let posterPower =
        { Id = "Poster-power-iteration"
          Statement = "Power iteration (60 steps on MᵀM) converges to the largest singular value σ₁ = 2 when σ₂ ≤ 1"
          Tolerance = "1e-9: the error falls as (σ₂/σ₁)^{2k} = 4⁻⁶⁰"
          Expect = Holds
          Property = Prop.forAll mapArb (powerConverges 60) }

    let posterPowerOneStep =
        { Id = "Poster-power-iteration-1-step"
          Statement = "Companion: one step of power iteration already gives σ₁ to 1e-9"
          Tolerance = "as Poster-power-iteration"
          Expect = Counterexample
          Property = Prop.forAll mapArb (powerConverges 1) }

    /// Every proposition, in the order they are reported.
    let all =
        [ p1HalfSteps; p1Untied; p1Flow; p1FlowWrong; p1Deep; p1DeepLocal; p1RelaxUntied; p1Retrieval; p1RetrievalUnrefused
          p2Optimal; p2Recovers; p2NotOverAll; p2Rsra; p2Lsra; p2AnyRotation; p2NewtonSchulz; p2NoReorthogonalise
          p3; p3Gain; p3Steep; p3Rhn; p3RhnGain
          o4; o4Anisotropic
          posterPotential; posterLipschitz; posterLipschitzSupremum; posterLipschitzLoose; posterGradient; posterGradientTypo; posterHessian
          posterJacobianBound; posterJacobianProduct; posterJacobianWithoutHessian
          posterDescent; posterDescentLargeStep; posterPower; posterPowerOneStep ]
