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
        let gen = Gen.map3 (fun d r seed -> { Dim = d; Rank = r; Seed = seed }) (Gen.choose (1, 30)) (Gen.choose (1, 30)) seedGen
        arb gen [ (fun (c: NoiseCase) -> c.Dim), (fun c v -> { c with Dim = v }), 1
                  (fun c -> c.Rank), (fun c v -> { c with Rank = v }), 1
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

    let p1Deep =
        { Id = "P1-deep"
          Statement = "L ≥ 2 hidden layers, the paper's sweeps (forward h_{l+1} ← tanh(W_l h_l) for l = 0…L−1, then backward h_l ← tanh(W_lᵀ h_{l+1}) for l = L−1…0): E = −Σ h_{l+1}ᵀW_l h_l + ΣΣG(h_l) never rises"
          Tolerance = "64·(L + 1)(n₀ + n)·n·u·(1 + |E|)"
          Expect = Counterexample
          Property =
            Prop.forAll multiArb (fun c ->
                let order = [ for l in 1 .. c.Layers -> l, true ] @ [ for l in c.Layers - 1 .. -1 .. 0 -> l, false ]
                sweeps c order (fun ws hs l upward ->
                    if upward then Rhn.up ws.[l - 1] None hs.[l - 1] else Rhn.down ws.[l] None hs.[l + 1])) }

    let p1DeepLocal =
        { Id = "P1-deep-local"
          Statement = "L ≥ 2 hidden layers, each layer updated from both neighbours, h_l ← tanh(W_{l−1}h_{l−1} + W_lᵀh_{l+1}) (layer by layer): E never rises"
          Tolerance = "as P1-deep"
          Expect = HoldsUnder "every update sees both neighbouring layers (exact block-coordinate descent); the paper's one-directional sweeps do not (P1-deep)"
          Property =
            Prop.forAll multiArb (fun c ->
                sweeps c [ for l in [ 0 .. c.Layers ] @ [ c.Layers - 1 .. -1 .. 0 ] -> l, true ] (fun ws hs l _ ->
                    let below = if l > 0 then Some(hs.[l - 1].MatMul(ws.[l - 1], false, true)) else None
                    let above = if l < c.Layers then Some(hs.[l + 1].MatMul ws.[l]) else None
                    match below, above with
                    | Some a, Some b -> (a + b).Tanh()
                    | Some a, None -> a.Tanh()
                    | None, Some b -> b.Tanh()
                    | None, None -> hs.[l])) }

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

    // ---------------------------------------------------------------- O4: noise filtering

    let samples = 4000

    /// Mean of ‖Pδ‖² − (r/n)‖δ‖² over `samples` draws, and the bound 6·√(Var/S) with
    /// Var = 2[(1 − r/n)²r + (r/n)²(n − r)] (δ ~ N(0, I): ‖Pδ‖² ~ χ²_r, ‖(I−P)δ‖² ~ χ²_{n−r}, independent).
    let private noiseStatistic (c: NoiseCase) (anisotropic: bool) =
        let n = c.Dim
        let r = min c.Rank n
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
          Statement = sprintf "P an orthogonal projector of rank r in ℝⁿ, δ ~ N(0, I): E‖Pδ‖² = (r/n)·E‖δ‖² (sample mean over %d draws)" samples
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
        [ p1HalfSteps; p1Untied; p1Flow; p1FlowWrong; p1Deep; p1DeepLocal
          p2Optimal; p2Recovers; p2NotOverAll
          p3; p3Gain; p3Steep
          o4; o4Anisotropic
          posterPotential; posterLipschitz; posterGradient; posterGradientTypo; posterHessian
          posterJacobianBound; posterDescent; posterDescentLargeStep; posterPower; posterPowerOneStep ]
