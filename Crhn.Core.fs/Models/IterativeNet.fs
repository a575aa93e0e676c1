namespace Crhn.Core.Models

open System
open System.Threading
open Crhn.Core

/// The penalty added to the cross-entropy while an iterative classifier trains. The poster
/// publishes no values for λ, m or q; the C# facade's defaults (RegulariserOptions) are chosen so
/// that α = 0.5 satisfies α ≤ 1/(1 + m) (m = 1) and documented in the README.
[<RequireQualifiedAccess>]
type Regulariser =
    /// No penalty (the poster's Base).
    | Base
    /// JacQ: λ·max(J_q − m, 0)², J_q the q-quantile, over the batch and the states v₀ … v_{K−1}
    /// the steps start from, of ‖J_T(v_k)‖₂, each estimated by `powerSteps` steps of power
    /// iteration on Jacobian-vector products (no gradient) and one more that is differentiated
    /// through, states included.
    | JacQ of lambda: float * margin: float * quantile: float * powerSteps: int
    /// JacF (Jakubovitz & Giryes 2018): λ·‖J_f(x)‖_F², f the logits as a function of the input,
    /// estimated by random projections: the mean of ‖J_f(x) r‖² over `projections` draws
    /// r ~ N(0, I), since E‖J r‖² = ‖J‖_F². Each J r is a forward-mode product through the steps.
    | JacF of lambda: float * projections: int
    /// Lip: λ·max(L_Φ‖M‖₂² − m, 0)², L_Φ‖M‖₂² bounding every ‖J_T(v)‖₂; ‖M‖₂ by persistent power
    /// iteration (one step per training step, its vector kept between steps).
    | Lip of lambda: float * margin: float
    /// W6's penalty: λ·mean over the batch of max(‖J_T(v̄_K)‖₂ − m, 0)², at the last state with
    /// its gradient stopped, each norm by `powerSteps` steps of power iteration and one more that is
    /// differentiated through (in M).
    | JacHinge of lambda: float * margin: float * powerSteps: int

    member r.Name =
        match r with
        | Base -> "Base"
        | JacQ _ -> "JacQ"
        | JacF _ -> "JacF"
        | Lip _ -> "Lip"
        | JacHinge _ -> "JacHinge"

    override r.ToString() =
        match r with
        | Base -> "Base"
        | JacQ(l, m, q, s) -> sprintf "JacQ(λ = %g, m = %g, q = %g, %d power steps)" l m q s
        | JacF(l, p) -> sprintf "JacF(λ = %g, %d projection%s)" l p (if p = 1 then "" else "s")
        | Lip(l, m) -> sprintf "Lip(λ = %g, m = %g)" l m
        | JacHinge(l, m, s) -> sprintf "JacHinge(λ = %g, m = %g, %d power steps)" l m s

/// The shape of an iterative classifier.
type IterativeConfig =
    { Inputs: int
      /// The state's size: Inputs for the identity input map v₀ = x (as W6; unless
      /// InputActivation), anything else for a trained map v₀ = x Pᵀ + p.
      State: int
      Hidden: int
      Classes: int
      /// K, the number of steps.
      Steps: int
      /// α, the step size: v ← (1 − α)v + αT(v).
      Alpha: float
      /// Subtracted from every input before the input map (0.5 centres pixels in [0, 1]; T has no
      /// bias of its own, so uncentred inputs put every hidden unit off its centre).
      InputShift: float
      /// The input map ends in σ, v₀ = σ((x − s)Pᵀ + p): a hidden layer before the steps, so that the
      /// network is an ordinary deep classifier whose later layers are the Hopfield steps (only with
      /// a trained input map, State ≠ Inputs or not).
      InputActivation: bool
      Activation: Activation
      Regulariser: Regulariser }

/// One training epoch's record (sample-weighted means over the epoch).
type IterativeEpoch =
    { Epoch: int
      Loss: float
      CrossEntropy: float
      Penalty: float
      /// Training accuracy of the epoch's batches, as they were classified before each step.
      Accuracy: float }

/// The parts of a batch's loss: the differentiable total, and its parts as numbers.
[<NoComparison; NoEquality>]
type IterativeLoss =
    { Total: Tensor
      CrossEntropy: float
      Penalty: float
      /// What the penalty measured: J_q (JacQ), the sum of the batch's ‖J_T(v̄_K)‖₂ estimates
      /// (JacHinge), L_Φ‖M‖₂² (Lip); NaN for Base and JacF.
      Jacobian: float
      Correct: int }

/// Power iteration on J_T(v) = Mᵀ diag(σ′(Mv)) M, one estimate per state (row).
module JacobianNorm =

    /// Rows scaled to unit length (zero rows stay zero).
    let private normalise (w: RawTensor) =
        let norms = w.Unary(UnaryOp.Square).SumToShape([| w.Shape.[0]; 1 |]).Unary(UnaryOp.Sqrt).AddScalar 1e-12
        w.Binary(BinaryOp.Div, norms)

    /// `steps` power steps u ← J_T u/‖J_T u‖ from u = 1/√n, with J_T u = ((u Mᵀ) ⊙ h) M for the
    /// given H_Φ values h (one row per state), on constants.
    let private power (h: RawTensor) (m: RawTensor) (steps: int) =
        if steps < 0 then raise (ArgumentOutOfRangeException("steps", steps, "power iteration: the number of steps must be non-negative."))
        let n = m.Shape.[1]
        let mutable u = h.FullLike([| h.Shape.[0]; n |], 1.0 / sqrt (float n))
        for _ in 1 .. steps do
            u <- normalise (u.MatMul(false, true, m).Binary(BinaryOp.Mul, h).MatMul(false, false, m))
        u

    /// ‖J_T(v)‖₂ for each row v of `states` (B×n): `steps` power steps on constants, then
    /// σ̂ = ‖J_T(v) u‖ once more, differentiable in M and (unless they are constants) the states.
    /// H_Φ(v Mᵀ) is computed once, differentiably, and its value drives the power steps. J_T is
    /// symmetric positive semi-definite for a monotone σ, so the estimate rises to the largest
    /// eigenvalue from below; at a converged u its gradient is that of the eigenvalue itself (uᵀ dJ u).
    let estimate (act: Activation) (m: Tensor) (states: Tensor) (steps: int) =
        let h = act.Hessian(states.MatMul(m, false, true))
        let u = power h.Primal m.Primal steps
        let w = (Tensor.Constant(u).MatMul(m, false, true) * h).MatMul(m)
        (w.Square().Sum([| 1 |]) + 1e-20).Sqrt()

    /// The q-quantile of the values (linear interpolation between order statistics, NumPy's
    /// default), as a differentiable combination of the one or two values it falls between.
    let quantile (q: float) (values: Tensor[]) =
        if not (q >= 0.0 && q <= 1.0) then raise (ArgumentOutOfRangeException("q", q, "quantile: q must be in [0, 1]."))
        let flat = values |> Array.mapi (fun t v -> v.Primal.ToFloat64Array() |> Array.mapi (fun i x -> x, t, i)) |> Array.concat
        if flat.Length = 0 then raise (ArgumentException("quantile: there are no values.", "values"))
        let sorted = flat |> Array.sortBy (fun (x, _, _) -> x)
        let position = q * float (sorted.Length - 1)
        let lo = int (floor position)
        let hi = min (sorted.Length - 1) (lo + 1)
        let frac = position - float lo
        let weights = values |> Array.map (fun v -> Array.zeroCreate<float> v.Primal.Numel)
        let put (_, t, i) w = weights.[t].[i] <- weights.[t].[i] + w
        put sorted.[lo] (1.0 - frac)
        put sorted.[hi] frac
        values
        |> Array.mapi (fun t v -> (v * Tensor.Constant(v.Primal.CreateLike(v.Shape, weights.[t]))).SumAll())
        |> Array.reduce (+)

/// The poster's weight-shared iterative classifier: v₀ = x − s (or (x − s)Pᵀ + p), K steps
/// v_{k+1} = (1 − α)v_k + αT(v_k) with T(v) = Mᵀσ(Mv) (one M for every step: gradient descent on
/// E(v) = ½‖v‖² − Φ(Mv)), logits v_K Cᵀ + c, trained with Adam on the cross-entropy plus the
/// configured regulariser. Row form throughout: a batch is B×Inputs.
type IterativeNet(config: IterativeConfig, seed: uint64, dtype: Dtype) =
    do
        if config.Inputs <= 0 || config.State <= 0 || config.Hidden <= 0 || config.Classes < 2 then
            raise (ArgumentException("iterative net: expected positive inputs, state and hidden sizes and at least two classes.", "config"))
        if config.Steps < 0 then raise (ArgumentOutOfRangeException("config", config.Steps, "iterative net: the number of steps K must be non-negative."))
        if not (config.Alpha > 0.0 && config.Alpha <= 2.0) then
            raise (ArgumentOutOfRangeException("config", config.Alpha, "iterative net: α must be in (0, 2]: beyond 2 a step overshoots the energy's minimum along its own direction."))
        match config.Regulariser with
        | Regulariser.JacQ(l, m, q, s) when l < 0.0 || m < 0.0 || not (q >= 0.0 && q <= 1.0) || s < 0 ->
            raise (ArgumentException("iterative net: JacQ needs λ ≥ 0, m ≥ 0, q in [0, 1] and non-negative power steps.", "config"))
        | Regulariser.JacF(l, p) when l < 0.0 || p < 1 -> raise (ArgumentException("iterative net: JacF needs λ ≥ 0 and at least one projection.", "config"))
        | Regulariser.Lip(l, m) when l < 0.0 || m < 0.0 -> raise (ArgumentException("iterative net: Lip needs λ ≥ 0 and m ≥ 0.", "config"))
        | Regulariser.JacHinge(l, m, s) when l < 0.0 || m < 0.0 || s < 0 ->
            raise (ArgumentException("iterative net: JacHinge needs λ ≥ 0, m ≥ 0 and non-negative power steps.", "config"))
        | _ -> ()

    let uniform (stream: int) (rows: int) (cols: int) =
        let bound = 1.0 / sqrt (float cols)
        let s = Rng.derive seed stream
        Tensor.Parameter(
            match dtype with
            | Dtype.Float32 -> Backends.Current().OfFloat32([| rows; cols |], Rng.uniform32 s -bound bound (rows * cols))
            | Dtype.Float64 -> Backends.Current().OfFloat64([| rows; cols |], Rng.uniform64 s -bound bound (rows * cols)))
    let zeros (cols: int) = Tensor.Parameter(Backends.Current().Zeros(dtype, [| 1; cols |]))
    let inputMap = if config.State = config.Inputs && not config.InputActivation then None else Some(uniform 0 config.State config.Inputs, zeros config.State)
    let m = uniform 1 config.Hidden config.State
    let c = uniform 2 config.Classes config.State
    let bias = zeros config.Classes
    let parameters = Array.append (inputMap |> Option.map (fun (p, b) -> [| p; b |]) |> Option.defaultValue [||]) [| m; c; bias |]
    // Lip's persistent vector (updated in place: it outlives the training steps' storage scopes)
    // and JacF's draw counter.
    let lipVector = m.Primal.FullLike([| 1; config.State |], 1.0 / sqrt (float config.State))
    let mutable draws = 0UL

    let checkBatch (x: Tensor) =
        if x.Shape.Length <> 2 || x.Shape.[1] <> config.Inputs then
            raise (Shape.mismatch "iterative net" (sprintf "a batch of shape [B, %d]" config.Inputs) x.Shape "x")

    /// The input map and the K steps from given parameters (the live ones, or their constants).
    let trajectory (ps: Tensor[]) (x: Tensor) =
        let mm, cc, bb = ps.[ps.Length - 3], ps.[ps.Length - 2], ps.[ps.Length - 1]
        let states = Array.zeroCreate<Tensor> (config.Steps + 1)
        let shifted = if config.InputShift = 0.0 then x else x + -config.InputShift
        states.[0] <-
            match inputMap with
            | None -> shifted
            | Some _ ->
                let pre = shifted.MatMul(ps.[0], false, true) + ps.[1]
                if config.InputActivation then config.Activation.Apply pre else pre
        for k in 1 .. config.Steps do
            states.[k] <- HopfieldMap.step config.Activation config.Alpha mm states.[k - 1]
        states, states.[config.Steps].MatMul(cc, false, true) + bb

    let frozen () = parameters |> Array.map (fun p -> p.Detach())

    /// A batch as a constant in the network's dtype.
    let constant (x: RawTensor) = Tensor.Constant(if x.Dtype = dtype then x else x.Cast dtype)

    let argmax (logits: RawTensor) =
        let values = logits.ToFloat32Array()
        Array.init logits.Shape.[0] (fun i ->
            let row = ReadOnlySpan(values, i * config.Classes, config.Classes)
            let mutable best = 0
            for j in 1 .. config.Classes - 1 do
                if row.[j] > row.[best] then best <- j
            best)

    /// How many predictions equal their labels.
    static let countCorrect (predicted: int[]) (labels: int[]) = Array.fold2 (fun n p l -> if p = l then n + 1 else n) 0 predicted labels

    /// A float32 network.
    new(config: IterativeConfig, seed: uint64) = IterativeNet(config, seed, Dtype.Float32)

    member _.Config = config

    member _.Dtype = dtype

    /// The trained parameters in order: P and p (only with a linear input map), M, C, c.
    member _.Parameters = parameters

    /// M (Hidden×State), shared by every step.
    member _.M = m

    /// C (Classes×State), the read-out.
    member _.C = c

    /// c (1×Classes), the read-out's bias.
    member _.Bias = bias

    /// The states v₀ … v_K of a batch (row form) and its logits, differentiable in the parameters.
    member _.Trajectory(x: Tensor) =
        checkBatch x
        trajectory parameters x

    /// The regulariser's penalty for a batch from its states (with the input x for JacF), and what
    /// it measured (IterativeLoss.Jacobian).
    member _.Penalty(x: Tensor, states: Tensor[]) =
        let act = config.Activation
        match config.Regulariser with
        | Regulariser.Base -> None
        | Regulariser.JacQ(lambda, margin, q, steps) ->
            let norms = states.[.. config.Steps - 1] |> Array.map (fun v -> JacobianNorm.estimate act m v steps)
            if norms.Length = 0 then None
            else
                let jq = JacobianNorm.quantile q norms
                Some((jq + -margin).Relu().Square() * lambda, jq.ToScalar())
        | Regulariser.JacHinge(lambda, margin, steps) ->
            let norms = JacobianNorm.estimate act m (states.[config.Steps].Detach()) steps
            Some((norms + -margin).Relu().Square().MeanAll() * lambda, norms.Primal.SumAll())
        | Regulariser.JacF(lambda, projections) ->
            let rows = x.Shape.[0]
            let total =
                Array.init projections (fun _ ->
                    draws <- draws + 1UL
                    let r = Tensor.Constant(x.Primal.CreateLike(x.Shape, Rng.normal64 (Rng.derive (Rng.named seed "jacf") (int draws)) x.Primal.Numel))
                    let mutable t =
                        match inputMap with
                        | None -> r
                        | Some(p, b) when config.InputActivation ->
                            let shifted = if config.InputShift = 0.0 then x else x + -config.InputShift
                            r.MatMul(p, false, true) * act.Hessian(shifted.MatMul(p, false, true) + b)
                        | Some(p, _) -> r.MatMul(p, false, true)
                    for k in 0 .. config.Steps - 1 do
                        t <- t * (1.0 - config.Alpha) + HopfieldMap.jvp act m states.[k] t * config.Alpha
                    t.MatMul(c, false, true).Square().SumAll())
                |> Array.reduce (+)
            Some(total * (lambda / float (rows * projections)), nan)
        | Regulariser.Lip(lambda, margin) ->
            let w = lipVector.MatMul(false, true, m.Primal).MatMul(false, false, m.Primal)
            lipVector.CopyInPlace(w.MulScalar(1.0 / sqrt (max 1e-30 (w.Unary(UnaryOp.Square).SumAll()))))
            let sigma2 = Tensor.Constant(lipVector).MatMul(m, false, true).Square().SumAll()
            let bound = sigma2 * act.Lipschitz
            Some((bound + -margin).Relu().Square() * lambda, bound.ToScalar())

    /// A batch's loss: the mean cross-entropy plus the penalty, differentiable in the parameters.
    member this.Loss(x: Tensor, labels: int[]) =
        let states, logits = this.Trajectory x
        let ce = Tensor.CrossEntropy(logits, labels)
        let penalty = this.Penalty(x, states)
        let predicted = argmax logits.Primal
        let correct = countCorrect predicted labels
        { Total = (match penalty with Some(p, _) -> ce + p | None -> ce)
          CrossEntropy = ce.ToScalar()
          Penalty = (match penalty with Some(p, _) -> p.ToScalar() | None -> 0.0)
          Jacobian = (match penalty with Some(_, j) -> j | None -> nan)
          Correct = correct }

    /// Trains with Adam on batches of `batchSize` rows, reshuffled every epoch (from the seed) when
    /// `shuffle` is set, else in order; `onEpoch` sees each epoch's record. The learning rate
    /// falls from `learningRate` to `finalFraction` of it by a cosine over the epochs (default 1:
    /// constant). Stops with InvalidOperationException, before the update, on a batch whose loss
    /// is not finite.
    member this.Fit(x: RawTensor, labels: int[], epochs: int, batchSize: int, learningRate: float, shuffle: bool, onEpoch: IterativeEpoch -> unit, cancel: CancellationToken, ?finalFraction: float) =
        let finalFraction = defaultArg finalFraction 1.0
        if not (finalFraction > 0.0 && finalFraction <= 1.0) then
            raise (ArgumentOutOfRangeException("finalFraction", finalFraction, "iterative net: the final learning rate must be a fraction in (0, 1]."))
        checkBatch (Tensor.Constant x)
        let n = x.Shape.[0]
        if labels.Length <> n then raise (ArgumentException(sprintf "iterative net: %d labels for %d samples." labels.Length n, "labels"))
        labels |> Array.iteri (fun i l ->
            if l < 0 || l >= config.Classes then
                raise (ArgumentOutOfRangeException("labels", sprintf "iterative net: label %d of sample %d is outside [0, %d)." l i config.Classes)))
        if n = 0 then raise (ArgumentException("iterative net: there are no samples to train on.", "x"))
        if epochs <= 0 then raise (ArgumentOutOfRangeException("epochs", epochs, "iterative net: epochs must be positive."))
        if batchSize <= 0 then raise (ArgumentOutOfRangeException("batchSize", batchSize, "iterative net: the batch size must be positive."))
        let values = x.ToFloat64Array()
        let d = config.Inputs
        let adam = Adam(parameters, learningRate)
        adam.ZeroGrad()
        [| for epoch in 1 .. epochs ->
            let progress = if epochs = 1 then 0.0 else float (epoch - 1) / float (epochs - 1)
            adam.LearningRate <- learningRate * (finalFraction + (1.0 - finalFraction) * 0.5 * (1.0 + cos (Math.PI * progress)))
            let order =
                if shuffle then Rng.uniform64 (Rng.derive (Rng.named seed "shuffle") epoch) 0.0 1.0 n |> Array.mapi (fun i u -> u, i) |> Array.sort |> Array.map snd
                else Array.init n id
            let mutable loss, ce, penalty, correct = 0.0, 0.0, 0.0, 0
            for start in 0 .. batchSize .. n - 1 do
                cancel.ThrowIfCancellationRequested()
                // The step's tensors and gradients go back to the pool at the end of the step.
                use _ = Memory.Scope()
                let rows = order.[start .. min n (start + batchSize) - 1]
                let batch = Array.zeroCreate<float> (rows.Length * d)
                rows |> Array.iteri (fun j i -> Array.blit values (i * d) batch (j * d) d)
                let xb = Tensor.Constant(m.Primal.CreateLike([| rows.Length; d |], batch))
                let parts = this.Loss(xb, rows |> Array.map (fun i -> labels.[i]))
                let total = parts.Total.ToScalar()
                if not (Double.IsFinite total) then
                    raise (InvalidOperationException(
                        sprintf "iterative net: the loss became %g in epoch %d at sample %d: training diverged; try a smaller learning rate than %g." total epoch start learningRate))
                parts.Total.Backward()
                adam.Step()
                // The gradients live in the step's scope: forget them before it ends.
                adam.ZeroGrad()
                let w = float rows.Length
                loss <- loss + total * w
                ce <- ce + parts.CrossEntropy * w
                penalty <- penalty + parts.Penalty * w
                correct <- correct + parts.Correct
            let report = { Epoch = epoch; Loss = loss / float n; CrossEntropy = ce / float n; Penalty = penalty / float n; Accuracy = float correct / float n }
            onEpoch report
            report |]

    /// The frozen parameters and a batch's states and logits under them (no gradient recorded).
    member private _.Frozen(x: RawTensor) =
        let xt = constant x
        checkBatch xt
        let ps = frozen ()
        let states, logits = trajectory ps xt
        ps.[ps.Length - 3], states, logits

    /// The mean cross-entropy of a batch under the frozen parameters, differentiable in `x` only:
    /// what an attack on the classifier maximises.
    /// Images of any shape are read as rows (B×Inputs).
    member _.FrozenLoss(x: Tensor, labels: int[]) =
        let x = if x.Shape.Length = 2 || Shape.numel x.Shape <> x.Shape.[0] * config.Inputs then x else x.Reshape([| x.Shape.[0]; config.Inputs |])
        checkBatch x
        if labels.Length <> x.Shape.[0] then raise (ArgumentException(sprintf "iterative net: %d labels for %d samples." labels.Length x.Shape.[0], "labels"))
        let xs = if x.Primal.Dtype = dtype then x else Tensor.Constant(x.Primal.Cast dtype)
        let _, logits = trajectory (frozen ()) xs
        Tensor.CrossEntropy(logits, labels)

    /// The logits of a batch, with no gradient recorded.
    member this.Logits(x: RawTensor) =
        let _, _, logits = this.Frozen x
        logits.Primal

    /// The predicted class of each row.
    member this.Predict(x: RawTensor) = argmax (this.Logits x)

    /// The fraction of rows whose prediction is the label.
    member this.Accuracy(x: RawTensor, labels: int[]) =
        let predicted = this.Predict x
        if labels.Length <> predicted.Length then raise (ArgumentException(sprintf "iterative net: %d labels for %d samples." labels.Length predicted.Length, "labels"))
        float (countCorrect predicted labels) / float predicted.Length

    /// E(v_k) = ½‖v_k‖² − Φ(M v_k) along each row's trajectory: B rows of K + 1 energies.
    member this.EnergyTrace(x: RawTensor) =
        let mm, states, _ = this.Frozen x
        let energies = states |> Array.map (fun v -> (HopfieldMap.energy config.Activation mm v).Primal.ToFloat64Array())
        Array.init x.Shape.[0] (fun i -> Array.init states.Length (fun k -> energies.[k].[i]))

    /// ‖J_T(v_k)‖₂ at the states v₀ … v_{K−1} the steps start from, by `powerSteps` steps of power
    /// iteration: B rows of K estimates.
    member this.JacobianNorms(x: RawTensor, powerSteps: int) =
        let mm, states, _ = this.Frozen x
        let norms = states.[.. config.Steps - 1] |> Array.map (fun v -> (JacobianNorm.estimate config.Activation mm v powerSteps).Primal.ToFloat64Array())
        Array.init x.Shape.[0] (fun i -> Array.init config.Steps (fun k -> norms.[k].[i]))
