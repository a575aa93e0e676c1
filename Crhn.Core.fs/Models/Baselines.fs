namespace Crhn.Core.Models

open System
open Crhn.Core

/// A Modern Hopfield retrieval: the retrieved states, the association (softmax) rows of the
/// last update and how many updates ran.
[<NoComparison; NoEquality>]
type HopfieldRetrieval = { States: RawTensor; Association: RawTensor; Updates: int }

/// The Modern Hopfield network of Ramsauer et al. as ml-jku/hopfield-layers runs it in its pure
/// associative-memory configuration (static stored patterns, no projections, no layer norms):
/// ξ ← X softmax(β Xᵀξ), in row form Ξ ← softmax(β Ξ Xᵀ) X for a batch of states Ξ (M×d) and the
/// stored patterns X (N×d). Like hopfield-layers, β defaults to 1/√d and ONE update runs; more
/// run while some state's association row still changes by more than `tolerance` (L2 norm) and
/// fewer than `maxUpdates` have run.
type ModernHopfield(patterns: RawTensor) =
    do
        if patterns.Shape.Length <> 2 || patterns.Shape.[0] = 0 || patterns.Shape.[1] = 0 then
            raise (Shape.mismatch "modern hopfield" "a non-empty N×d matrix of stored patterns" patterns.Shape "patterns")
        if not (patterns.IsFinite()) then raise (ArgumentException("modern hopfield: the stored patterns hold NaN or infinite values.", "patterns"))
    let d = patterns.Shape.[1]
    let largestNorm =
        let sq = (patterns.Unary UnaryOp.Square).ToFloat64Array()
        Array.init patterns.Shape.[0] (fun i -> Seq.sum sq.[i * d .. (i + 1) * d - 1]) |> Array.max |> Math.Sqrt

    /// hopfield-layers' default inverse temperature, 1/√d.
    static member DefaultBeta(dimension: int) = 1.0 / Math.Sqrt(float dimension)

    /// The stored patterns, one per row.
    member _.Patterns = patterns
    /// The pattern dimension d.
    member _.Dimension = d

    /// softmax(β Ξ Xᵀ) for states Ξ (M×d): row m is state m's association with each stored pattern.
    member _.Association(states: RawTensor, beta: float) =
        (states.MatMul(false, true, patterns).MulScalar beta).SoftmaxLast()

    /// Retrieves from `cues` (M×d): at least one and at most `maxUpdates` updates.
    member this.Retrieve(cues: RawTensor, beta: float, maxUpdates: int, tolerance: float) =
        if cues.Shape.Length <> 2 || cues.Shape.[1] <> d then
            raise (Shape.mismatch "modern hopfield" (sprintf "an M×%d matrix of cues" d) cues.Shape "cues")
        if not (beta > 0.0) || Double.IsInfinity beta then raise (ArgumentOutOfRangeException("beta", beta, "modern hopfield: β must be positive and finite."))
        if maxUpdates < 1 then raise (ArgumentOutOfRangeException("maxUpdates", maxUpdates, "modern hopfield: at least one update runs."))
        let mutable p = this.Association(cues, beta)
        let mutable xi = p.MatMul(false, false, patterns)
        let mutable updates = 1
        let mutable moving = true
        while moving && updates < maxUpdates do
            let next = this.Association(xi, beta)
            let change = (next.Binary(BinaryOp.Sub, p).Unary UnaryOp.Square).ToFloat64Array()
            let m = cues.Shape.[0]
            let n = patterns.Shape.[0]
            moving <- Seq.init m (fun i -> Math.Sqrt(Seq.sum change.[i * n .. (i + 1) * n - 1])) |> Seq.exists (fun c -> c > tolerance)
            p <- next
            xi <- p.MatMul(false, false, patterns)
            updates <- updates + 1
        { States = xi; Association = p; Updates = updates }

    /// hopfield-layers' defaults: β = 1/√d, one update, tolerance 1e-4.
    member this.Retrieve(cues: RawTensor) = this.Retrieve(cues, ModernHopfield.DefaultBeta d, 1, 1e-4)

    /// The energy of each state (row of Ξ): E(ξ) = −β⁻¹ log Σᵢ exp(β xᵢᵀξ) + ½ ξᵀξ + β⁻¹ log N + ½ M²,
    /// M the largest stored norm (Ramsauer et al., eq. 2); an update never raises it.
    member _.Energy(states: RawTensor, beta: float) =
        let s = states.MatMul(false, true, patterns).ToFloat64Array()
        let q = (states.Unary UnaryOp.Square).ToFloat64Array()
        let n = patterns.Shape.[0]
        Array.init states.Shape.[0] (fun m ->
            let row = s.[m * n .. (m + 1) * n - 1]
            let top = Array.max row
            let lse = top + Math.Log(row |> Array.sumBy (fun v -> Math.Exp(beta * (v - top)))) / beta
            -lse + 0.5 * Seq.sum q.[m * d .. (m + 1) * d - 1] + Math.Log(float n) / beta + 0.5 * largestNorm * largestNorm)

/// Settings of the hierarchical predictive-coding network. Defaults are those of
/// C16Mftang/covariance-learning-PCNs' scripts/hybridPCNs.py.
type PcnSettings =
    { /// Widths of the hidden layers above the sensory layer, top first (reference: [256]·n).
      Hidden: int[]
      /// Inference iterations during learning and during recall (reference: 50).
      InferenceSteps: int
      /// Inference rate Dt (reference: 0.01).
      InferenceRate: float
      /// Adam's learning rate on the weights and the memory vector (reference: 5e-4).
      LearningRate: float
      /// Training epochs (reference: 200).
      Epochs: int
      /// Mini-batches per epoch (reference: batch size = memory size / 8).
      BatchesPerEpoch: int
      /// Standard deviation of the initial top memory vector (reference script: 1).
      MemoryInitStd: float }

    /// The reference defaults with one hidden layer of 256.
    static member Reference =
        { Hidden = [| 256 |]; InferenceSteps = 50; InferenceRate = 0.01; LearningRate = 5e-4; Epochs = 200; BatchesPerEpoch = 8; MemoryInitStd = 1.0 }

/// The hierarchical generative predictive-coding network of Salvatori et al. (2021) as
/// C16Mftang/covariance-learning-PCNs' HierarchicalPCN implements it. Layers x₀ (the top, a
/// learned memory vector μ as its prior) … x_L (the sensory layer, the image); predictions
/// μ_l = W_{l−1} tanh(x_{l−1}), errors ε₀ = x₀ − μ, ε_l = x_l − μ_l, energy F = ½ Σ_l ‖ε_l‖².
/// Inference descends F on the value nodes with step Dt (every hidden layer at once, from the
/// errors before the step; in recall, the sensory nodes too, only where the update mask is 1).
/// Learning: after the inference steps on a batch with the image clamped, Adam on the weights
/// and μ with gradients −ε_{l+1}ᵀ tanh(x_l) and −Σ ε₀.
type PredictiveCodingNetwork(pixels: int, settings: PcnSettings, seed: uint64) =
    do
        if pixels <= 0 || settings.Hidden.Length = 0 || Array.exists (fun h -> h <= 0) settings.Hidden then
            raise (ArgumentException("pcn: expected a positive pixel count and at least one positive hidden width.", "settings"))
        if settings.InferenceSteps < 0 || not (settings.InferenceRate > 0.0) || not (settings.LearningRate > 0.0) || settings.Epochs < 0 || settings.BatchesPerEpoch < 1 then
            raise (ArgumentException("pcn: inference steps and epochs must be non-negative, rates positive, batches per epoch at least 1.", "settings"))
    let nodes = Array.append settings.Hidden [| pixels |]
    let layers = nodes.Length
    let weights =
        Array.init (layers - 1) (fun l ->
            let bound = 1.0 / Math.Sqrt(float nodes.[l])
            Tensor.Parameter(Backends.Current().OfFloat32([| nodes.[l + 1]; nodes.[l] |], Rng.uniform32 (Rng.derive seed l) -bound bound (nodes.[l + 1] * nodes.[l]))))
    let memory =
        let z = Rng.normal64 (Rng.derive seed 1000) nodes.[0]
        Tensor.Parameter(Backends.Current().OfFloat32([| 1; nodes.[0] |], z |> Array.map (fun v -> float32 (settings.MemoryInitStd * v))))
    let adam = Adam(Array.append weights [| memory |], settings.LearningRate)

    /// Each weight packed for its two products, W_l for the way down (tanh(x_l)·W_lᵀ) and for the
    /// errors' way back (ε_{l+1}·W_l): the weights are fixed during inference, so a run of steps
    /// packs them once instead of once per product.
    let packWeights () = weights |> Array.map (fun w -> w.Primal.PackRight true, w.Primal.PackRight false)

    /// The errors ε_l, with down l a = a·W_lᵀ (packed during inference, plain otherwise).
    let errorsWith (down: int -> RawTensor -> RawTensor) (values: RawTensor[]) =
        Array.init layers (fun l ->
            if l = 0 then values.[0].Binary(BinaryOp.Sub, memory.Primal)
            else values.[l].Binary(BinaryOp.Sub, down (l - 1) (values.[l - 1].Unary UnaryOp.Tanh)))

    let errors (packed: (PackedMatrix * PackedMatrix)[]) = errorsWith (fun l a -> a.MatMulPacked(false, fst packed.[l]))

    /// Value nodes from the top down (the prior's predictions), the sensory layer set to `input`.
    let initial (input: RawTensor) =
        let batch = input.Shape.[0]
        let values = Array.zeroCreate<RawTensor> layers
        values.[0] <- memory.Primal.Binary(BinaryOp.Add, memory.Primal.ZerosLike [| batch; nodes.[0] |])
        for l in 1 .. layers - 2 do
            values.[l] <- (values.[l - 1].Unary UnaryOp.Tanh).MatMul(false, true, weights.[l - 1].Primal)
        values.[layers - 1] <- input
        values

    /// One inference step; the sensory nodes move only where `mask` is 1 (None: clamped).
    let step (packed: (PackedMatrix * PackedMatrix)[]) (values: RawTensor[]) (errs: RawTensor[]) (mask: RawTensor option) =
        for l in 0 .. layers - 2 do
            let a = values.[l].Unary UnaryOp.Tanh
            let back = errs.[l + 1].MatMulPacked(false, snd packed.[l]).ActivationGrad(UnaryOp.Tanh, a)
            values.[l] <- values.[l].Binary(BinaryOp.Add, back.Binary(BinaryOp.Sub, errs.[l]).MulScalar settings.InferenceRate)
        match mask with
        | Some m -> values.[layers - 1] <- values.[layers - 1].Binary(BinaryOp.Sub, errs.[layers - 1].Binary(BinaryOp.Mul, m).MulScalar settings.InferenceRate)
        | None -> ()
        errors packed values

    let checkBatch (op: string) (x: RawTensor) =
        if x.Shape.Length <> 2 || x.Shape.[1] <> pixels || x.Shape.[0] = 0 then
            raise (Shape.mismatch op (sprintf "a non-empty N×%d batch" pixels) x.Shape "images")
        if not (x.IsFinite()) then raise (ArgumentException(sprintf "%s: the images hold NaN or infinite values." op, "images"))

    /// The layer widths, top first, the sensory layer last.
    member _.Nodes = nodes
    /// The settings.
    member _.Settings = settings
    /// The weights W_l (width of layer l+1 × width of layer l) and the memory vector μ (1×width₀).
    member _.Parameters = Array.append weights [| memory |]

    /// The energy F = ½ Σ_l ‖ε_l‖² of each row of a batch of value nodes.
    member _.Energy(values: RawTensor[]) =
        let errs = errorsWith (fun l a -> a.MatMul(false, true, weights.[l].Primal)) values
        let batch = values.[0].Shape.[0]
        let total = Array.zeroCreate<float> batch
        for e in errs do
            let sq = (e.Unary UnaryOp.Square).ToFloat64Array()
            let w = e.Shape.[1]
            for i in 0 .. batch - 1 do
                total.[i] <- total.[i] + 0.5 * Seq.sum sq.[i * w .. (i + 1) * w - 1]
        total

    /// One learning step on a batch (N×pixels) clamped to the sensory layer; returns the batch's
    /// mean energy after inference (the monitoring value hybridPCNs.py plots).
    member this.LearnBatch(images: RawTensor) =
        checkBatch "pcn learn" images
        let values = initial images
        let packed = packWeights ()
        let mutable errs = errors packed values
        for _ in 1 .. settings.InferenceSteps do
            errs <- step packed values errs None
        adam.ZeroGrad()
        memory.SetGrad(Some((errs.[0].SumToShape [| 1; nodes.[0] |]).MulScalar -1.0))
        for l in 0 .. layers - 2 do
            weights.[l].SetGrad(Some((errs.[l + 1].MatMul(true, false, values.[l].Unary UnaryOp.Tanh)).MulScalar -1.0))
        adam.Step()
        Array.average (this.Energy values)

    /// Trains on the memory set for settings.Epochs epochs of BatchesPerEpoch contiguous batches
    /// (as the reference, no shuffling); reports each epoch's last batch energy.
    member this.Fit(images: RawTensor, onEpoch: EpochReport -> unit, cancel: Threading.CancellationToken) =
        checkBatch "pcn fit" images
        let n = images.Shape.[0]
        let size = max 1 (n / settings.BatchesPerEpoch)
        for epoch in 1 .. settings.Epochs do
            cancel.ThrowIfCancellationRequested()
            let mutable energy = 0.0
            let mutable start = 0
            while start < n do
                let len = min size (n - start)
                energy <- this.LearnBatch(images.Slice([| start; 0 |], [| len; pixels |]))
                start <- start + len
            onEpoch { Epoch = epoch; Loss = energy }

    /// Recall from corrupted images (N×pixels): the sensory nodes start at the cue and relax where
    /// `updateMask` (N×pixels or 1×pixels, 1 = free) is 1; the rest stay clamped. A masked cue
    /// frees its unknown pixels; a noisy cue frees every pixel.
    member _.Recall(cues: RawTensor, updateMask: RawTensor, steps: int) =
        checkBatch "pcn recall" cues
        if steps < 0 then raise (ArgumentOutOfRangeException("steps", steps, "pcn recall: steps must be non-negative."))
        let values = initial cues
        let packed = packWeights ()
        let mutable errs = errors packed values
        for _ in 1 .. steps do
            errs <- step packed values errs (Some updateMask)
        values.[layers - 1]

    /// Recall with the settings' inference steps.
    member this.Recall(cues: RawTensor, updateMask: RawTensor) = this.Recall(cues, updateMask, settings.InferenceSteps)
