namespace Crhn.Core.Models

open System
open Crhn.Core

/// One step of a retrieval: the codes after the memory, the decoded images, the RHN energy of
/// each image's state (NaN for the codec-only ablation) and the change from the previous iterate
/// (MSE over the whole batch).
[<NoComparison; NoEquality>]
type RetrievalStep = { Step: int; Codes: RawTensor; Images: RawTensor; Energy: float[]; Change: float }

/// A retrieval's trajectory (every iterate kept) and whether it reached a fixed point.
[<NoComparison; NoEquality>]
type Retrieval = { Steps: RetrievalStep[]; Converged: bool }

/// The Convolutional Restricted Hopfield Network: a tied codec whose binary codes are stored as
/// fixed points of an RHN. Retrieval iterates x → encode → sign → RHN (forward + backward) →
/// sign → decode until the image stops changing. Without an RHN it is the paper's ablation
/// "CRHN without RHN": the codec iterated alone, behind the same interface.
type CrhnMemory(codec: TiedCodec, rhn: RhnNetwork option) =
    do
        if codec.Config.Latent <> Latent.Binary then
            raise (ArgumentException("crhn: the codec must have a binary latent.", "codec"))
        match rhn with
        | Some r when r.Sizes.[0] <> codec.LatentSize ->
            raise (ArgumentException(sprintf "crhn: the RHN's input size %d does not match the codec's latent size %d." r.Sizes.[0] codec.LatentSize, "rhn"))
        | _ -> ()

    /// ±1 codes from pre-activations: x ≥ 0 → +1, x < 0 → −1 (as the reference's sign; never 0).
    static member Binarize(x: RawTensor) = (x.MulScalar -1.0).Unary(UnaryOp.Step).MulScalar(-2.0).AddScalar 1.0

    /// The codec.
    member _.Codec = codec
    /// The RHN, or None for the codec-only ablation.
    member _.Rhn = rhn

    /// The stored binary code of each image.
    member _.Codes(images: Tensor) =
        codec.CheckInput images
        CrhnMemory.Binarize (codec.PreLatent(images.Detach())).Primal

    /// One pass of the memory on codes: sign(RHN(codes)) and each state's RHN energy.
    member _.Recall(codes: RawTensor) =
        match rhn with
        | None -> codes, Array.create codes.Shape.[0] nan
        | Some r ->
            let recalled = CrhnMemory.Binarize(r.Logits codes)
            let _, states = r.Forward recalled
            let weights = r.Weights |> Array.map Tensor.Constant
            let energy = Rhn.energy weights (states |> Array.map Tensor.Constant)
            recalled, energy.Primal.ToFloat64Array()

    /// Iterates the whole loop from the cues until the change between iterates (MSE) falls below
    /// `tolerance` (reference: 1e-3) or `maxSteps` (reference: 50) have run; returns every iterate.
    member this.Retrieve(cues: Tensor, tolerance: float, maxSteps: int) =
        codec.CheckInput cues
        if maxSteps <= 0 then raise (ArgumentOutOfRangeException("maxSteps", maxSteps, "crhn: maxSteps must be positive."))
        let steps = ResizeArray<RetrievalStep>()
        let mutable previous = cues.Primal
        let mutable converged = false
        while not converged && steps.Count < maxSteps do
            let codes = CrhnMemory.Binarize (codec.PreLatent(Tensor.Constant previous)).Primal
            let recalled, energy = this.Recall codes
            let images = (codec.Decode(Tensor.Constant recalled)).Primal
            let diff = images.Binary(BinaryOp.Sub, previous)
            let change = (diff.Unary UnaryOp.Square).SumAll() / float diff.Numel
            steps.Add { Step = steps.Count + 1; Codes = recalled; Images = images; Energy = energy; Change = change }
            converged <- change < tolerance
            previous <- images
        { Steps = steps.ToArray(); Converged = converged }
