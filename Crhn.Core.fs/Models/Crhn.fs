namespace Crhn.Core.Models

open System
open Crhn.Core

/// One step of a retrieval: the codes after it, the decoded images (visible pixels of a known
/// mask restored), the RHN energy of each code (NaN for the codec-only ablation), how many codes
/// changed in it, and the change of the images from the previous step (MSE over the batch).
[<NoComparison; NoEquality>]
type RetrievalStep = { Step: int; Codes: RawTensor; Images: RawTensor; Energy: float[]; Changed: int; Change: float }

/// Where each cue ended: the index of the stored code its final code equals (−1: none), the
/// Hamming distance of its final code to the nearest stored code, and that code's index.
type RecallOutcome = { Recalled: int[]; Hamming: int[]; Nearest: int[] }

/// A retrieval's trajectory (every step kept; step 0 is the cue's own code), per cue whether its
/// code reached a fixed point and the step whose code it returns, and where it ended among the
/// stored codes (when they were given).
[<NoComparison; NoEquality>]
type Retrieval =
    { Steps: RetrievalStep[]
      /// Whether every cue's code reached a fixed point.
      Converged: bool
      /// Per cue: whether its code reached a fixed point of the dynamics.
      CueConverged: bool[]
      /// Per cue: the step whose code is returned: its last change, or 0 (the cue's own code) when
      /// the stored codes were given and it settled on none of them.
      Returned: int[]
      /// The returned codes: each cue's code at its returned step.
      Codes: RawTensor
      /// The returned images: the one-pass decode of the returned codes, visible pixels restored.
      Images: RawTensor
      /// Where each cue's dynamics ended among the stored codes, when they were given.
      Outcome: RecallOutcome option }

/// What a CRHN's training did: each codec epoch's report, the SRA rounds run, the stored codes
/// (one ±1 row per image) and how many of them are fixed points of the RHN.
[<NoComparison; NoEquality>]
type CrhnTraining = { CodecEpochs: EpochReport[]; SraRounds: int; Codes: RawTensor; FixedPoints: int }

/// The Convolutional Restricted Hopfield Network: a tied codec whose binary codes are stored as
/// fixed points of an RHN. Retrieval encodes the cue once, runs the RHN in code space,
/// c ← sign(RHN(c)), until the code is a fixed point, and decodes once; a step that would raise
/// a code's RHN energy is refused, so the returned code is the lowest-energy one of its
/// trajectory. With a known mask the visible pixels are kept: the decoded image fills the unknown
/// ones, is encoded again and settled again, until the code stops changing. Without an RHN it is
/// the paper's ablation "CRHN without RHN": the codec in one pass (with a mask too), behind the
/// same interface. Given the stored codes, a cue whose code settles on none of them (a spurious
/// attractor) returns its own one-pass decode instead.
type CrhnMemory(codec: TiedCodec, rhn: RhnNetwork option) =
    do
        if codec.Config.Latent <> Latent.Binary then
            raise (ArgumentException("crhn: the codec must have a binary latent.", "codec"))
        match rhn with
        | Some r when r.Sizes.[0] <> codec.LatentSize ->
            raise (ArgumentException(sprintf "crhn: the RHN's input size %d does not match the codec's latent size %d." r.Sizes.[0] codec.LatentSize, "rhn"))
        | _ -> ()

    /// ±1 codes from pre-activations: x ≥ 0 → +1, x < 0 → −1 (as the reference's sign; never 0).
    static member Binarize(x: RawTensor) = RhnNetwork.Binarize x

    /// Where each ±1 code (rows of `codes`) ended among the stored ±1 codes (rows of `stored`).
    static member Locate(codes: RawTensor, stored: RawTensor) =
        if codes.Shape.Length <> 2 || stored.Shape.Length <> 2 || codes.Shape.[1] <> stored.Shape.[1] then
            raise (ArgumentException(sprintf "crhn: codes %A and stored codes %A must be N×n and M×n." codes.Shape stored.Shape, "stored"))
        let n = codes.Shape.[1]
        let overlaps = (codes.MatMul(false, true, stored)).ToFloat64Array()
        let m = stored.Shape.[0]
        let nearest = Array.init codes.Shape.[0] (fun i -> seq { 0 .. m - 1 } |> Seq.maxBy (fun j -> overlaps.[i * m + j]))
        let hamming = nearest |> Array.mapi (fun i j -> int (Math.Round((float n - overlaps.[i * m + j]) / 2.0)))
        { Recalled = Array.init nearest.Length (fun i -> if hamming.[i] = 0 then nearest.[i] else -1); Hamming = hamming; Nearest = nearest }

    /// The codec.
    member _.Codec = codec
    /// The RHN, or None for the codec-only ablation.
    member _.Rhn = rhn

    /// Memorises the images (N×C×H×W): trains the codec as `training` says, encodes the images,
    /// and stores their codes in the RHN by SRA (at least `sraMinRounds`, at most `sraRounds`
    /// rounds of `mode`). Reports each codec epoch and each SRA round; checks `cancel` in both.
    member this.Fit(images: Tensor, training: CodecTraining, sraMinRounds: int, sraRounds: int, mode: SraMode,
                    onEpoch: EpochReport -> unit, onRound: SraReport -> unit, cancel: Threading.CancellationToken) =
        match rhn with
        | None -> raise (InvalidOperationException("crhn: the codec-only ablation has no RHN to store codes in; fit the full memory."))
        | Some r ->
            let epochs = codec.Fit(images, training, onEpoch, cancel)
            // codec.Fit has checked the images once; their codes need no second pass over them.
            let codes = CrhnMemory.Binarize (codec.PreLatent(images.Detach())).Primal
            let mutable rounds = 0
            r.Train(codes, min sraMinRounds sraRounds, sraRounds, mode, (fun report -> rounds <- report.Round; onRound report), cancel) |> ignore
            { CodecEpochs = epochs; SraRounds = rounds; Codes = codes; FixedPoints = fst (r.FixedPoints codes) }

    /// The stored binary code of each image.
    member _.Codes(images: Tensor) =
        codec.CheckInput images
        CrhnMemory.Binarize (codec.PreLatent(images.Detach())).Primal

    /// The RHN energy of each ±1 code (RhnNetwork.CodeEnergy); NaN without an RHN.
    member _.Energy(codes: RawTensor) =
        match rhn with
        | None -> Array.create codes.Shape.[0] nan
        | Some r -> r.CodeEnergy codes

    /// One pass of the memory on codes: sign(RHN(codes)) and each result's RHN energy.
    member _.Recall(codes: RawTensor) =
        match rhn with
        | None -> codes, Array.create codes.Shape.[0] nan
        | Some r -> r.SignPass codes

    /// The RHN's retrieval dynamics on the codes (RhnNetwork.Settle, checking `cancel` before
    /// every pass); without an RHN the codes stay as they are.
    member _.Settle(codes: RawTensor, maxSteps: int, onPass: RawTensor -> float[] -> bool[] -> unit, cancel: Threading.CancellationToken) =
        match rhn with
        | None -> codes, Array.create codes.Shape.[0] nan, Array.create codes.Shape.[0] true
        | Some r -> r.Settle(codes, maxSteps, onPass, cancel)

    /// Retrieves from the cues. `known` (1×D or N×D, 1 where a pixel is known, 0 where not) keeps
    /// the known pixels of the cues; None reads the whole cue. Without a mask: encode once, settle
    /// the code in the RHN (step 1 onwards: one RHN pass each), decode once. With a mask: each
    /// step fills the unknown pixels with the current decode, encodes, settles, until no code
    /// changes. `stored` (the memory's codes) adds where each cue ended among them.
    member this.Retrieve(cues: Tensor, known: RawTensor option, stored: RawTensor option, maxSteps: int) =
        this.Retrieve(cues, known, stored, maxSteps, Threading.CancellationToken.None)

    /// Retrieve, checking `cancel` before every pass and round.
    member this.Retrieve(cues: Tensor, known: RawTensor option, stored: RawTensor option, maxSteps: int, cancel: Threading.CancellationToken) =
        codec.CheckInput cues
        if maxSteps <= 0 then raise (ArgumentOutOfRangeException("maxSteps", maxSteps, "crhn: maxSteps must be positive."))
        let x = cues.Primal
        let rows = x.Shape.[0]
        let flat = x.Numel / rows
        let known =
            known |> Option.map (fun k ->
                if k.Numel <> flat && k.Numel <> x.Numel then
                    raise (ArgumentException(sprintf "crhn: a mask of %d values does not fit cues of %d pixels each." k.Numel flat, "known"))
                k.View(if k.Numel = flat then [| 1; flat |] else [| rows; flat |]))
        /// The decoded images with the known pixels of the cue restored.
        let decode (codes: RawTensor) =
            let images = (codec.Decode(Tensor.Constant codes)).Primal
            match known with
            | None -> images
            | Some k ->
                // c ⊙ k + f ⊙ (1 − k): exactly the cue's value where k = 1.
                let f, c = images.View [| rows; flat |], x.View [| rows; flat |]
                (c.Binary(BinaryOp.Mul, k).Binary(BinaryOp.Add, f.Binary(BinaryOp.Mul, k.MulScalar(-1.0).AddScalar 1.0))).View x.Shape
        let encode (images: RawTensor) = CrhnMemory.Binarize (codec.PreLatent(Tensor.Constant images)).Primal
        let steps = ResizeArray<RetrievalStep>()
        let returned = Array.zeroCreate rows
        let record (codes: RawTensor) (energy: float[]) (moved: bool[]) =
            let images = decode codes
            let change =
                if steps.Count = 0 then nan
                else
                    let diff = images.Binary(BinaryOp.Sub, steps.[steps.Count - 1].Images)
                    (diff.Unary UnaryOp.Square).SumAll() / float diff.Numel
            for i in 0 .. rows - 1 do
                if moved.[i] then returned.[i] <- steps.Count
            steps.Add { Step = steps.Count; Codes = codes; Images = images; Energy = energy; Changed = moved |> Array.filter id |> Array.length; Change = change }
        let start = encode x
        record start (this.Energy start) (Array.create rows false)
        let mutable current = start
        let mutable converged = Array.create rows true
        match known, rhn with
        | None, _
        | Some _, None ->
            // Without a mask, or without an RHN (the ablation: the same codec in one pass, the
            // known pixels restored), the code settles once.
            let _, _, fixedRows = this.Settle(start, maxSteps, record, cancel)
            converged <- fixedRows
        | Some _, Some _ ->
            // The cue's own code settles first; then each round settles the code of the last
            // filled image (the cue's known pixels, the decode elsewhere) until no code changes.
            let first, energy, fixedRows = this.Settle(start, maxSteps, (fun _ _ _ -> ()), cancel)
            let moved = CodeRows.differ first start
            converged <- fixedRows
            if Array.exists id moved then
                current <- first
                record current energy moved
            let mutable changing = true
            while changing && steps.Count <= maxSteps do
                let next, energy, fixedRows = this.Settle(encode steps.[steps.Count - 1].Images, maxSteps, (fun _ _ _ -> ()), cancel)
                let moved = CodeRows.differ next current
                changing <- Array.exists id moved
                converged <- fixedRows
                if changing then
                    current <- next
                    record current energy moved
            converged <- Array.init rows (fun i -> converged.[i] && not changing)
        let last = steps.[steps.Count - 1]
        let outcome = stored |> Option.map (fun s -> CrhnMemory.Locate(last.Codes, s))
        // A code that settled on no stored pattern is a spurious attractor, not a memory: such a
        // cue returns its own one-pass decode (step 0) rather than the decode of a mixture.
        let spurious =
            match outcome, rhn with
            | Some o, Some _ -> o.Recalled |> Array.map (fun r -> r < 0)
            | _ -> Array.create rows false
        for i in 0 .. rows - 1 do
            if spurious.[i] then returned.[i] <- 0
        let anySpurious = Array.exists id spurious
        { Steps = steps.ToArray()
          Converged = Array.forall id converged
          CueConverged = converged
          Returned = returned
          Codes = if anySpurious then CodeRows.pick spurious start last.Codes else last.Codes
          Images = if anySpurious then CodeRows.pick spurious steps.[0].Images last.Images else last.Images
          Outcome = outcome }
