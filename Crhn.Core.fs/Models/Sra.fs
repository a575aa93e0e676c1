namespace Crhn.Core

open System

/// Which rotations a round of the Subspace Rotation Algorithm applies.
[<RequireQualifiedAccess>]
type SraMode =
    /// RSRA then LSRA (the paper found both more robust than LSRA alone; the reference's order).
    | Both
    /// Only the left rotations (input side of each layer).
    | LeftOnly
    /// Only the right rotations (output side of every layer but the top one).
    | RightOnly

/// One round's record: the round, how many stored codes are fixed points after it, and the
/// reconstruction MSE of the visible logits' signs against the codes.
type SraReport = { Round: int; FixedPoints: int; Codes: int; SignMse: float }

/// Row-wise helpers of the retrieval dynamics on N×… batches of codes and images, computed on the
/// tensors' backend: one number per row goes to the host, one per row comes back.
module internal CodeRows =

    /// Rows of `a` and `b` (N×n codes, finite) that differ in any entry, as a bool per row.
    let differ (a: RawTensor) (b: RawTensor) =
        let rows = a.Shape.[0]
        a.Binary(BinaryOp.Sub, b).Unary(UnaryOp.Abs).View([| rows; a.Numel / rows |]).SumToShape([| rows; 1 |]).ToFloat64Array()
        |> Array.map (fun d -> d <> 0.0)

    /// Rows of `candidate` (N×…) where `take` holds, rows of `current` elsewhere, exactly (codes
    /// and images alike, finite): candidate·m + current·(1 − m) with m one 0 or 1 per row.
    let pick (take: bool[]) (candidate: RawTensor) (current: RawTensor) =
        let shape = Array.init current.Shape.Length (fun axis -> if axis = 0 then take.Length else 1)
        let m = current.CreateLike(shape, take |> Array.map (fun t -> if t then 1.0 else 0.0))
        let rest = current.CreateLike(shape, take |> Array.map (fun t -> if t then 0.0 else 1.0))
        candidate.Binary(BinaryOp.Mul, m).Binary(BinaryOp.Add, current.Binary(BinaryOp.Mul, rest))

/// A Restricted Hopfield Network: weights W_l (n_{l+1}×n_l), σ = tanh, no biases, orthogonally
/// initialised (semi-orthogonal rows when n_{l+1} ≤ n_l), trained without gradients by SRA.
/// Row form: the N stored codes are the rows of an N×n₀ matrix of ±1.
type RhnNetwork(sizes: int[], seed: uint64, ?dtype: Dtype) =
    do
        if sizes.Length < 2 || Array.exists (fun s -> s <= 0) sizes then
            raise (ArgumentException(sprintf "rhn: expected at least two positive layer sizes (n₀ → n₁ …), found %A." sizes, "sizes"))
    let dtype = defaultArg dtype Dtype.Float32
    let weights = Array.init (sizes.Length - 1) (fun l -> Init.orthogonal dtype (Rng.derive seed l) 1.0 sizes.[l + 1] sizes.[l])
    // LSRA's target at layer 0 is the stored codes themselves: prepared once, kept while the
    // same codes tensor comes back.
    let mutable codeTarget: ProcrustesTarget option = None
    let targetFor (codes: RawTensor) =
        match codeTarget with
        | Some t when obj.ReferenceEquals(t.Rows, codes) -> t
        | _ ->
            let t = Procrustes.prepare codes
            codeTarget <- Some t
            t

    /// Layer sizes n₀ (the code length) … n_L.
    member _.Sizes = sizes
    /// The weights W₀ … W_{L−1}, W_l of shape n_{l+1}×n_l (live: SRA rotates them in place).
    member _.Weights = weights
    /// The number of weight layers L.
    member _.Layers = weights.Length

    /// Forward pass: pre-activations A₁ … A_L and states H₀ = X, H_{l+1} = tanh(H_l W_lᵀ).
    member _.Forward(x: RawTensor) =
        let pre = Array.zeroCreate weights.Length
        let states = Array.zeroCreate (weights.Length + 1)
        states.[0] <- x
        for l in 0 .. weights.Length - 1 do
            pre.[l] <- states.[l].MatMul(false, true, weights.[l])
            states.[l + 1] <- pre.[l].Unary UnaryOp.Tanh
        pre, states

    /// Backward pass from the top state down to layer `lowest`: V_L = top, R_l = V_{l+1} W_l,
    /// V_l = tanh(R_l). Returns (R, V) indexed by layer (entries below `lowest` unset; V_lowest
    /// too when `stateAtLowest` is false, for callers that only need the logits there).
    member _.Backward(top: RawTensor, lowest: int, ?stateAtLowest: bool) =
        let r = Array.zeroCreate (weights.Length + 1)
        let v = Array.zeroCreate (weights.Length + 1)
        v.[weights.Length] <- top
        for l in weights.Length - 1 .. -1 .. lowest do
            r.[l] <- v.[l + 1].MatMul(false, false, weights.[l])
            if l > lowest || defaultArg stateAtLowest true then v.[l] <- r.[l].Unary UnaryOp.Tanh
        r, v

    /// The visible logits R₀ after one forward and backward pass.
    member this.Logits(x: RawTensor) =
        let _, states = this.Forward x
        let r, _ = this.Backward(states.[weights.Length], 0, false)
        r.[0]

    /// sign(R₀): the network's recall of each code (0 stays 0, never a match).
    member this.Recall(x: RawTensor) = (this.Logits x).Unary UnaryOp.Sign

    /// ±1 codes from logits: x ≥ 0 → +1, x < 0 → −1 (as the reference's sign; never 0).
    static member Binarize(x: RawTensor) = x.Binarize()

    /// The energy of each ±1 code (rows of `codes`): E(c, h₁, …, h_L) with the states of one
    /// forward pass (for one hidden layer, n₀ ln 2 − Σ log cosh (W c)ᵢ).
    member this.CodeEnergy(codes: RawTensor) =
        let _, states = this.Forward codes
        (Rhn.energy (weights |> Array.map Tensor.Constant) (states |> Array.map Tensor.Constant)).Primal.ToFloat64Array()

    /// One retrieval pass on codes: Binarize(R₀(c)) and each result's energy.
    member this.SignPass(codes: RawTensor) =
        let recalled = RhnNetwork.Binarize(this.Logits codes)
        recalled, this.CodeEnergy recalled

    /// The retrieval dynamics: c ← Binarize(R₀(c)) on each row until it is a fixed point or
    /// `maxSteps` passes have run, refusing any pass that would raise a row's energy (the row then
    /// stays where it is), so a code's energy never rises; `onPass` sees each pass that moved a
    /// row (codes, energies, rows moved). Returns the settled codes, their energies and whether
    /// each row reached a fixed point.
    member this.Settle(codes: RawTensor, maxSteps: int, onPass: RawTensor -> float[] -> bool[] -> unit) =
        this.Settle(codes, maxSteps, onPass, Threading.CancellationToken.None)

    /// Settle, checking `cancel` before every pass.
    member this.Settle(codes: RawTensor, maxSteps: int, onPass: RawTensor -> float[] -> bool[] -> unit, cancel: Threading.CancellationToken) =
        let rows = codes.Shape.[0]
        let mutable current = codes
        let mutable energy = this.CodeEnergy codes
        let settled = Array.create rows false
        let mutable pass = 0
        while pass < maxSteps && Array.exists not settled do
            cancel.ThrowIfCancellationRequested()
            pass <- pass + 1
            let candidate, candidateEnergy = this.SignPass current
            let moved = CodeRows.differ candidate current
            let take = Array.init rows (fun i -> not settled.[i] && moved.[i] && candidateEnergy.[i] <= energy.[i])
            for i in 0 .. rows - 1 do
                if not take.[i] then settled.[i] <- true
            if Array.exists id take then
                current <- CodeRows.pick take candidate current
                energy <- Array.init rows (fun i -> if take.[i] then candidateEnergy.[i] else energy.[i])
                onPass current energy take
        let stillMoving = CodeRows.differ (fst (this.SignPass current)) current
        current, energy, Array.init rows (fun i -> settled.[i] || not stillMoving.[i])

    /// How many rows of x the network maps exactly onto themselves, and the MSE of sign(R₀) − x.
    /// Computed on the backend: only one number per row comes to the host.
    member this.FixedPoints(x: RawTensor) =
        let difference = (this.Recall x).Binary(BinaryOp.Sub, x)
        let rowErrors = difference.Unary(UnaryOp.Abs).SumToShape([| x.Shape.[0]; 1 |]).ToFloat64Array()
        let fixedRows = rowErrors |> Array.filter (fun e -> e = 0.0) |> Array.length
        fixedRows, difference.Unary(UnaryOp.Square).SumAll() / float x.Numel

    /// The states after one forward and one backward pass: V₀ = tanh(R₀) (Proposition 3's map F).
    member this.Pass(x: RawTensor) =
        let _, states = this.Forward x
        let _, v = this.Backward(states.[weights.Length], 0)
        v.[0]

    /// One block-coordinate update of every layer, bottom to top then top to bottom:
    /// h_l ← tanh(h_{l−1}W_{l−1}ᵀ + h_{l+1}W_l), each layer from both neighbours (h₀ from h₁ alone,
    /// h_L from h_{L−1} alone). Each update minimises the energy over its layer with the others
    /// fixed, so E(h₀ … h_L) never rises (P1-deep-local); with one hidden layer it is the
    /// alternating half-steps of P1. Returns the new states.
    member _.Relax(states: RawTensor[]) =
        if states.Length <> weights.Length + 1 then
            raise (ArgumentException(sprintf "rhn relax: %d weights need %d states, found %d." weights.Length (weights.Length + 1) states.Length, "states"))
        let hs = Array.copy states
        let update l =
            let below = if l > 0 then Some(hs.[l - 1].MatMul(false, true, weights.[l - 1])) else None
            let above = if l < weights.Length then Some(hs.[l + 1].MatMul(false, false, weights.[l])) else None
            let u =
                match below, above with
                | Some a, Some b -> a.Binary(BinaryOp.Add, b)
                | Some a, None -> a
                | None, Some b -> b
                | None, None -> hs.[l]
            hs.[l] <- u.Unary UnaryOp.Tanh
        for l in 1 .. weights.Length do update l
        for l in weights.Length - 1 .. -1 .. 0 do update l
        hs

    /// RSRA at layer l (0 ≤ l ≤ L−2): U = A_{l+1} (forward pre-activations), V = V_{l+1} (the
    /// backward path's post-activations, run down from H_L); Q = Procrustes(U → V); W_l ← Q·W_l,
    /// so that the new A_{l+1} is UQᵀ, the closest rotation of U to V.
    member this.RightRotation(x: RawTensor, l: int) =
        if l < 0 || l > weights.Length - 2 then
            raise (ArgumentOutOfRangeException("l", l, sprintf "rhn: RSRA rotates layers 0 … %d." (weights.Length - 2)))
        let pre, states = this.Forward x
        let _, v = this.Backward(states.[weights.Length], l + 1)
        weights.[l].CopyInPlace((Procrustes.rotation pre.[l] v.[l + 1]).ApplyLeft weights.[l])

    /// RSRA, for l = L−2 … 0 (RightRotation at each). An exact rotation keeps W_l's singular
    /// values; float32 rounding drifts them by about 1e-7 a round, which Reorthogonalise removes.
    member this.RightRotations(x: RawTensor) =
        for l in weights.Length - 2 .. -1 .. 0 do this.RightRotation(x, l)

    /// LSRA at layer l: F = the forward pre-activations at layer l (the codes for l = 0), B = the
    /// backward reconstruction at layer l (pre-activation R₀ for l = 0, V_l otherwise);
    /// R = Procrustes(B → F); W_l ← W_l·Rᵀ, so that at l = 0 the new R₀ (from the same V₁) is BRᵀ,
    /// the closest rotation of B to the codes.
    member this.LeftRotation(x: RawTensor, l: int) =
        if l < 0 || l > weights.Length - 1 then
            raise (ArgumentOutOfRangeException("l", l, sprintf "rhn: LSRA rotates layers 0 … %d." (weights.Length - 1)))
        let pre, states = this.Forward x
        let r, v = this.Backward(states.[weights.Length], l, l > 0)
        let b = if l = 0 then r.[0] else v.[l]
        let target = if l = 0 then targetFor x else Procrustes.prepare pre.[l - 1]
        weights.[l].CopyInPlace((Procrustes.rotationTo b target).ApplyRightTransposed weights.[l])

    /// LSRA, for l = L−1 … 0 (LeftRotation at each).
    member this.LeftRotations(x: RawTensor) =
        for l in weights.Length - 1 .. -1 .. 0 do this.LeftRotation(x, l)

    /// One Newton–Schulz step on every layer: removes the float32 drift of many rotations from
    /// the weights' singular values (‖WWᵀ − I‖ goes from ε to O(ε²)) and changes nothing else.
    member _.Reorthogonalise() =
        for w in weights do w.CopyInPlace(Spectral.newtonSchulzStep w)

    /// Trains on the stored codes (N×n₀, entries ±1) for at most `rounds` rounds of SRA, stopping
    /// as soon as every code is a fixed point; reports each round; re-orthogonalises every
    /// ReorthogonaliseEvery rounds and after the last. Returns whether all are fixed.
    member this.Train(codes: RawTensor, rounds: int, mode: SraMode, onRound: SraReport -> unit, cancel: Threading.CancellationToken) =
        this.Train(codes, 0, rounds, mode, onRound, cancel)

    /// Trains on the stored codes for at least `minRounds` (while fewer than every code is a
    /// fixed point: at most `rounds`) rounds of SRA. Rounds after every code is fixed keep aligning
    /// the reconstructions with the codes, which widens the margins of the stored codes' signs
    /// and so their basins. Reports each round; re-orthogonalises every ReorthogonaliseEvery
    /// rounds and after the last. Returns whether all are fixed.
    member this.Train(codes: RawTensor, minRounds: int, rounds: int, mode: SraMode, onRound: SraReport -> unit, cancel: Threading.CancellationToken) =
        if codes.Shape.Length <> 2 || codes.Shape.[1] <> sizes.[0] then
            raise (Shape.mismatch "rhn train" (sprintf "codes of shape [N, %d]" sizes.[0]) codes.Shape "codes")
        if codes.Shape.[0] = 0 then raise (ArgumentException("rhn train: there are no codes to store.", "codes"))
        if not (codes.ToFloat64Array() |> Array.forall (fun v -> v = 1.0 || v = -1.0)) then
            raise (ArgumentException("rhn train: codes must hold only −1 and +1.", "codes"))
        let n = codes.Shape.[0]
        let mutable fixedAll = fst (this.FixedPoints codes) = n
        let mutable round = 0
        while (not fixedAll || round < minRounds) && round < rounds do
            cancel.ThrowIfCancellationRequested()
            round <- round + 1
            if mode <> SraMode.LeftOnly then this.RightRotations codes
            if mode <> SraMode.RightOnly then this.LeftRotations codes
            if round % RhnNetwork.ReorthogonaliseEvery = 0 then this.Reorthogonalise()
            let fixedRows, mse = this.FixedPoints codes
            onRound { Round = round; FixedPoints = fixedRows; Codes = n; SignMse = mse }
            fixedAll <- fixedRows = n
        if round % RhnNetwork.ReorthogonaliseEvery <> 0 then
            this.Reorthogonalise()
            fixedAll <- fst (this.FixedPoints codes) = n
        fixedAll

    /// Rounds between two Newton–Schulz steps in Train (one more follows the last round).
    static member ReorthogonaliseEvery = 8
