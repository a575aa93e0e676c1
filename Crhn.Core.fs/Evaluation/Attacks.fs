namespace Crhn.Core.Models

open System
open Crhn.Core

/// The eight gradient attacks of torchattacks (Harry24k/adversarial-attacks-pytorch) that the
/// paper measures against.
[<RequireQualifiedAccess>]
type AttackKind =
    | Fgsm
    | Ffgsm
    | Bim
    | Pgd
    | Mifgsm
    | Nifgsm
    | Difgsm
    | Eotpgd

    /// The name torchattacks gives the attack.
    member k.Name =
        match k with
        | Fgsm -> "FGSM" | Ffgsm -> "FFGSM" | Bim -> "BIM" | Pgd -> "PGD"
        | Mifgsm -> "MIFGSM" | Nifgsm -> "NIFGSM" | Difgsm -> "DIFGSM" | Eotpgd -> "EOTPGD"

    /// All eight, in the paper's order.
    static member All = [| Fgsm; Ffgsm; Bim; Pgd; Mifgsm; Nifgsm; Difgsm; Eotpgd |]

    /// The attack of a (case-insensitive) name.
    static member Parse(name: string) =
        match AttackKind.All |> Array.tryFind (fun k -> String.Equals(k.Name, name, StringComparison.OrdinalIgnoreCase)) with
        | Some k -> k
        | None -> raise (ArgumentException(sprintf "unknown attack %s; expected one of %s." name (String.Join(", ", AttackKind.All |> Array.map (fun k -> k.Name))), "name"))

/// An attack's parameters. Defaults (AttackSettings.Defaults) are torchattacks' for each attack;
/// Lo/Hi replace its hard-coded [0, 1] clamp, Seed drives its random starts and input diversity.
type AttackSettings =
    { Eps: float
      Alpha: float
      Steps: int
      /// Momentum decay (MIFGSM, NIFGSM, DIFGSM).
      Decay: float
      RandomStart: bool
      /// DIFGSM's resize rate and the probability of applying input diversity.
      ResizeRate: float
      DiversityProb: float
      /// EOTPGD's gradient samples per step.
      EotIter: int
      Lo: float
      Hi: float
      Seed: uint64 }

    /// torchattacks' defaults for an attack, clamped to [0, 1].
    static member Defaults(kind: AttackKind) =
        let basic = { Eps = 8.0 / 255.0; Alpha = 2.0 / 255.0; Steps = 10; Decay = 0.0; RandomStart = false
                      ResizeRate = 0.9; DiversityProb = 0.5; EotIter = 2; Lo = 0.0; Hi = 1.0; Seed = 0UL }
        match kind with
        | AttackKind.Fgsm -> { basic with Steps = 1 }
        | AttackKind.Ffgsm -> { basic with Alpha = 10.0 / 255.0; Steps = 1; RandomStart = true }
        | AttackKind.Bim -> basic
        | AttackKind.Pgd | AttackKind.Eotpgd -> { basic with RandomStart = true }
        | AttackKind.Mifgsm | AttackKind.Nifgsm -> { basic with Decay = 1.0 }
        | AttackKind.Difgsm -> basic

/// Attacks that maximise a loss of the input (the gradient is taken through `loss`, whose value is
/// a scalar tensor), with torchattacks' update rules. Every result lies in the ε-ball (L∞) around
/// the images and in [Lo, Hi].
[<RequireQualifiedAccess>]
module Attacks =

    /// ∇ₓ loss(x).
    let gradient (loss: Tensor -> Tensor) (x: RawTensor) =
        let p = Tensor.Parameter x
        let value = loss p
        if value.Primal.Numel <> 1 then raise (ArgumentException(sprintf "attack: the loss must be a scalar, found shape %s." (Shape.format value.Shape), "loss"))
        value.Backward()
        match p.Grad with
        | Some g -> g
        | None -> x.ZerosLike x.Shape

    /// The reconstruction loss the paper attacks with: mean((model(x') − clean)²).
    let reconstructionLoss (model: Tensor -> Tensor) (clean: RawTensor) : Tensor -> Tensor =
        let target = Tensor.Constant clean
        fun x -> Tensor.Mse(model x, target)

    let private project (s: AttackSettings) (images: RawTensor) (adv: RawTensor) =
        let delta = adv.Binary(BinaryOp.Sub, images).Clamp(-s.Eps, s.Eps)
        images.Binary(BinaryOp.Add, delta).Clamp(s.Lo, s.Hi)

    let private ascend (s: AttackSettings) (adv: RawTensor) (g: RawTensor) = adv.Binary(BinaryOp.Add, (g.Unary UnaryOp.Sign).MulScalar s.Alpha)

    /// clamp(x + δ, lo, hi) with δ ~ U(−ε, ε) from stream Seed (W4's PGD start is stream 401).
    let private randomStart (s: AttackSettings) (images: RawTensor) =
        let u = Rng.uniform32 s.Seed -s.Eps s.Eps images.Numel
        images.Binary(BinaryOp.Add, images.CreateLike(images.Shape, u |> Array.map float)).Clamp(s.Lo, s.Hi)

    /// g / mean(|g|) per image (over C, H, W), as MIFGSM, NIFGSM and DIFGSM normalise (an image whose
    /// gradient is zero keeps it, where torchattacks would divide 0 by 0).
    let private normalise (g: RawTensor) =
        let n = g.Shape.[0]
        let per = int g.Numel / n
        let a = (g.Unary UnaryOp.Abs).ToFloat64Array()
        let means = Array.init n (fun i -> match Seq.sum a.[i * per .. (i + 1) * per - 1] / float per with 0.0 -> 1.0 | m -> m)
        let shape = Array.append [| n |] (Array.create (g.Shape.Length - 1) 1)
        g.Binary(BinaryOp.Div, g.CreateLike(shape, means))

    /// Bilinear interpolation (PyTorch's align_corners = False) from `size` samples to `outSize`,
    /// written at rows offset … offset + outSize − 1 of a `total`×`size` matrix (the rest zero):
    /// applying it along an axis resizes and zero-pads in one linear map.
    let resizeMatrix (size: int) (outSize: int) (offset: int) (total: int) =
        let m = Array.zeroCreate<float> (total * size)
        Data.Resize.taps size outSize |> Array.iteri (fun i (struct (i0, i1, w0, w1)) ->
            m.[(offset + i) * size + i0] <- m.[(offset + i) * size + i0] + float w0
            m.[(offset + i) * size + i1] <- m.[(offset + i) * size + i1] + float w1)
        m

    /// DIFGSM's input diversity: with probability DiversityProb, resize the N×C×H×W batch to a
    /// random rnd×rnd (rnd uniform in [⌊H·rate⌋, H), rate ≤ 1) and zero-pad it back to H×H at a
    /// random offset; otherwise the batch itself. Differentiable (two matrix products).
    let inputDiversity (s: AttackSettings) (step: int) (x: Tensor) =
        let h, w = x.Shape.[2], x.Shape.[3]
        if h <> w then raise (ArgumentException(sprintf "difgsm: input diversity needs square images, found %d×%d." h w, "x"))
        let r = Rng.derive (Rng.derive s.Seed 7) step
        let draw (k: uint64) = Rng.unit r k
        let small = int (float w * s.ResizeRate)
        let rnd = small + int (draw 1UL * float (w - small))
        let rem = w - rnd
        let top, left = int (draw 2UL * float rem), int (draw 3UL * float rem)
        if draw 4UL >= s.DiversityProb || rnd = w then x
        else
            let n, c = x.Shape.[0], x.Shape.[1]
            let rows = Tensor.Constant(x.Primal.CreateLike([| h; h |], resizeMatrix h rnd top h))
            let cols = Tensor.Constant(x.Primal.CreateLike([| w; w |], resizeMatrix w rnd left w))
            let alongW = x.Reshape([| n * c * h; w |]).MatMul(cols, false, true).Reshape([| n; c; h; w |])
            let alongH = alongW.Permute([| 0; 1; 3; 2 |]).Reshape([| n * c * w; h |]).MatMul(rows, false, true)
            alongH.Reshape([| n; c; w; h |]).Permute([| 0; 1; 3; 2 |])

    /// Runs an attack on a batch of images (N×C×H×W in [Lo, Hi]) against `loss`, which it maximises.
    let run (kind: AttackKind) (s: AttackSettings) (loss: Tensor -> Tensor) (images: RawTensor) =
        if images.Shape.Length <> 4 then raise (Shape.mismatch "attack" "N×C×H×W images" images.Shape "images")
        if not (s.Eps >= 0.0) || not (s.Alpha >= 0.0) || s.Steps < 0 || s.EotIter < 1 || not (s.Lo < s.Hi)
           || not (s.ResizeRate > 0.0 && s.ResizeRate <= 1.0) || not (s.DiversityProb >= 0.0 && s.DiversityProb <= 1.0) then
            raise (ArgumentException(sprintf "attack: expected ε ≥ 0, α ≥ 0, steps ≥ 0, EOT samples ≥ 1, lo < hi, resize rate in (0, 1] and a probability in [0, 1]; found ε = %g, α = %g, steps = %d, EOT = %d, [%g, %g], rate %g, probability %g." s.Eps s.Alpha s.Steps s.EotIter s.Lo s.Hi s.ResizeRate s.DiversityProb, "settings"))
        if not (images.IsFinite()) then raise (ArgumentException("attack: the images hold NaN or infinite values.", "images"))
        let grad = gradient loss
        // Each step's graph and gradients go back to the engine's pool when the step ends; only
        // the step's result is kept.
        let scoped (step: unit -> RawTensor) =
            use _ = Memory.Scope()
            (step ()).Keep()
        // An iterative attack's state lives in buffers of its own that each step's result is
        // copied into before the step's scope ends: a result kept out of its scope would go back
        // to the pool only through the GC, so every step would take fresh memory and fault its
        // pages in (PGD-10 on 100 images: 7,000 page faults a call). The buffers outlive any scope
        // the caller has open, as a kept result does.
        let buffer () = (images.ZerosLike images.Shape).Keep()
        let into (target: RawTensor) (step: unit -> RawTensor) =
            use _ = Memory.Scope()
            target.CopyInPlace(step ())
        match kind with
        | AttackKind.Fgsm ->
            scoped (fun () -> images.Binary(BinaryOp.Add, ((grad images).Unary UnaryOp.Sign).MulScalar s.Eps).Clamp(s.Lo, s.Hi))
        | AttackKind.Ffgsm ->
            let start = randomStart s images
            scoped (fun () -> project s images (ascend s start (grad start)))
        | AttackKind.Bim ->
            let adv = buffer ()
            adv.CopyInPlace images
            for _ in 1 .. s.Steps do
                into adv (fun () ->
                    let stepped = ascend s adv (grad adv)
                    let floor = images.AddScalar(-s.Eps).Clamp(s.Lo, Double.PositiveInfinity)
                    let ceiling = images.AddScalar s.Eps
                    let b = stepped.Binary(BinaryOp.Sub, floor).Clamp(0.0, Double.PositiveInfinity).Binary(BinaryOp.Add, floor)
                    let c = ceiling.Binary(BinaryOp.Sub, b).Clamp(0.0, Double.PositiveInfinity).MulScalar(-1.0).Binary(BinaryOp.Add, ceiling)
                    c.Clamp(Double.NegativeInfinity, s.Hi))
            adv
        | AttackKind.Pgd | AttackKind.Eotpgd ->
            let adv = buffer ()
            into adv (fun () -> if s.RandomStart then randomStart s images else images)
            let samples = if kind = AttackKind.Pgd then 1 else s.EotIter
            for _ in 1 .. s.Steps do
                into adv (fun () ->
                    let mutable g = grad adv
                    for _ in 2 .. samples do
                        g <- g.Binary(BinaryOp.Add, grad adv)
                    project s images (ascend s adv g))
            adv
        | AttackKind.Mifgsm | AttackKind.Nifgsm | AttackKind.Difgsm ->
            let adv = buffer ()
            into adv (fun () -> if kind = AttackKind.Difgsm && s.RandomStart then randomStart s images else images)
            let momentum = buffer ()
            for step in 1 .. s.Steps do
                use _ = Memory.Scope()
                let g =
                    match kind with
                    | AttackKind.Nifgsm ->
                        let ahead = adv.Binary(BinaryOp.Add, momentum.MulScalar(s.Decay * s.Alpha))
                        momentum.MulScalar(s.Decay).Binary(BinaryOp.Add, normalise (grad ahead))
                    | AttackKind.Difgsm ->
                        let g = gradient (fun x -> loss (inputDiversity s step x)) adv
                        (normalise g).Binary(BinaryOp.Add, momentum.MulScalar s.Decay)
                    | _ -> (normalise (grad adv)).Binary(BinaryOp.Add, momentum.MulScalar s.Decay)
                let stepped = project s images (ascend s adv g)
                momentum.CopyInPlace g
                adv.CopyInPlace stepped
            adv
