namespace Crhn.Core.Models

open System
open Crhn.Core

/// What the encoder hands the decoder.
[<RequireQualifiedAccess>]
type Latent =
    /// tanh of the last pre-activation (a plain autoencoder).
    | Continuous
    /// sign of the last pre-activation, ±1, trained through with the straight-through estimator
    /// (the CRHN codec: its codes are what the RHN stores).
    | Binary

/// How the decoder's last layer maps into the data range.
[<RequireQualifiedAccess>]
type OutputMap =
    /// sigmoid: data in [0, 1].
    | Sigmoid
    /// tanh: data in [−1, 1] (the paper scales STL-10 so).
    | Tanh
    /// none: the last transposed convolution's pre-activation.
    | Linear

/// The layer stack of a tied convolutional codec.
type CodecConfig =
    { InputChannels: int
      Height: int
      Width: int
      /// Output channels of each conv layer.
      Channels: int[]
      Kernel: int
      Stride: int
      Padding: int
      /// Widths of the dense layers after the convolutions (may be empty).
      Dense: int[]
      Latent: Latent
      Output: OutputMap
      /// Biases on every conv and transposed conv (W3's autoencoder has them; the CRHN reference does not).
      Biases: bool
      /// The decoder has kernels and dense weights of its own (initialised equal to the encoder's,
      /// trained apart) instead of the encoder's, as the public reference's decoder effectively does.
      Untied: bool }

/// One epoch's record while training.
type EpochReport = { Epoch: int; Loss: float }

/// How a codec trains: Adam on the mean squared reconstruction error, with a cosine learning-rate
/// schedule, the best weights kept, early stopping, and optionally damaged copies of each batch
/// trained to reconstruct the clean images (which widens the set of inputs that encode to each
/// stored code).
[<NoComparison; NoEquality>]
type CodecTraining =
    { Epochs: int
      BatchSize: int
      /// Adam's learning rate at the first epoch.
      LearningRate: float
      /// The learning rate at the last epoch as a fraction of the first (cosine decay; 1 keeps it constant).
      FinalLearningRate: float
      /// Stop after this many epochs without a better clean loss (0: run every epoch).
      Patience: int
      /// Keep the weights of the epoch with the lowest clean loss (measured after the epoch on
      /// every image) rather than the last epoch's.
      KeepBest: bool
      /// A damaged copy of a batch (values, then a seed); each step then also trains the damaged
      /// copy against the clean batch.
      Damage: (RawTensor -> uint64 -> RawTensor) option
      /// With Damage: the weight of a hinge that pulls the damaged copy's last pre-activation
      /// towards the clean image's code with a margin of 1, mean(max(0, 1 − s ⊙ p)) over the
      /// clean pre-activation and the damaged one (s the clean code, fixed); 0 leaves it out.
      CodeMargin: float
      /// With Damage: the weight of a term that spreads the codes of a batch apart, the mean
      /// squared overlap (1/n)·tanh(pᵢ)ᵀtanh(pⱼ) over its pairs of different images; 0 leaves it out.
      Spread: float }

    /// Plain training: constant learning rate, every epoch, the last weights, no damage.
    static member Plain(epochs: int, batchSize: int, learningRate: float) =
        { Epochs = epochs; BatchSize = batchSize; LearningRate = learningRate; FinalLearningRate = 1.0; Patience = 0; KeepBest = false; Damage = None; CodeMargin = 0.0; Spread = 0.0 }

/// A tied convolutional codec. Encoder: z₀ = x, z_k = tanh(conv(z_{k−1}, W_k) (+ b_k)), flatten,
/// then dense layers D_j (orthogonally initialised) with tanh between; the latent is the last
/// pre-activation's sign (Binary) or tanh (Continuous). Decoder with the SAME parameters: dense
/// layers by D_jᵀ with tanh after each, reshape, conv_transpose with the encoder's own kernels,
/// tanh between, the last layer mapped to the data range. Every tie is ONE parameter whose
/// gradient is the sum of its two uses. Loss: mean squared reconstruction error.
type TiedCodec private (config: CodecConfig, seed: uint64, frozen: Tensor[] option) =
    do
        if config.InputChannels <= 0 || config.Height <= 0 || config.Width <= 0 || config.Channels.Length = 0
           || Array.exists (fun c -> c <= 0) config.Channels || Array.exists (fun c -> c <= 0) config.Dense
           || config.Kernel <= 0 || config.Stride <= 0 || config.Padding < 0 then
            raise (ArgumentException("codec: expected positive input channels and size, at least one conv layer, and positive channels, widths, kernel and stride.", "config"))
        if config.Padding >= config.Kernel || config.Stride > max config.Height config.Width || config.Kernel > config.Height + 2 * config.Padding || config.Kernel > config.Width + 2 * config.Padding then
            raise (ArgumentException(sprintf "codec: kernel %d, stride %d and padding %d do not fit a %d×%d input: the padding must be smaller than the kernel, the stride at most the input's size, and the kernel within the padded input." config.Kernel config.Stride config.Padding config.Height config.Width, "config"))
    let inputs = Array.append [| config.InputChannels |] config.Channels.[.. config.Channels.Length - 2]
    let layerCount = config.Channels.Length
    /// Parameter `index` (in Parameters' order): a fresh one, or a constant view of a frozen codec's.
    let parameter (index: int) (fresh: unit -> RawTensor) =
        match frozen with
        | Some ps -> Tensor.Constant ps.[index].Primal
        | None -> Tensor.Parameter(fresh ())
    let kernels =
        Array.init layerCount (fun k ->
            let bound = 1.0 / Math.Sqrt(float (inputs.[k] * config.Kernel * config.Kernel))
            parameter k (fun () -> Init.uniform Dtype.Float32 (Rng.derive seed k) -bound bound [| config.Channels.[k]; inputs.[k]; config.Kernel; config.Kernel |]))
    let bias (first: int) (k: int) (channels: int) =
        if config.Biases then Some(parameter (first + k) (fun () -> Backends.Current().Zeros(Dtype.Float32, [| 1; channels; 1; 1 |]))) else None
    let encoderBias = config.Channels |> Array.mapi (bias (layerCount + config.Dense.Length))
    let decoderBias = inputs |> Array.mapi (bias (2 * layerCount + config.Dense.Length))
    /// The spatial size entering each conv layer; the last entry is the conv output's.
    let sizes =
        config.Channels |> Array.scan (fun (h, w) _ ->
            Shape.convOutput h config.Kernel config.Stride config.Padding, Shape.convOutput w config.Kernel config.Stride config.Padding) (config.Height, config.Width)
    do
        let h, w = Array.last sizes
        if h <= 0 || w <= 0 then
            raise (ArgumentException(sprintf "codec: a %d×%d input shrinks to %d×%d through %d layers of kernel %d, stride %d, padding %d." config.Height config.Width h w config.Channels.Length config.Kernel config.Stride config.Padding, "config"))
    let convShape = let h, w = Array.last sizes in [| Array.last config.Channels; h; w |]
    let flat = Shape.numel convShape
    let dense =
        config.Dense |> Array.mapi (fun j width ->
            let fanIn = if j = 0 then flat else config.Dense.[j - 1]
            parameter (layerCount + j) (fun () -> Init.orthogonal Dtype.Float32 (Rng.derive seed (1000 + j)) 1.0 width fanIn))
    /// The decoder's kernels and dense weights: the encoder's own (tied), or parameters of their own
    /// after the biases, initialised with the encoder's values (untied).
    let decoderKernels, decoderDense =
        if not config.Untied then kernels, dense
        else
            let first = layerCount + config.Dense.Length + (if config.Biases then 2 * layerCount else 0)
            Array.init layerCount (fun k -> parameter (first + k) (fun () -> kernels.[k].Primal.MulScalar 1.0)),
            Array.init dense.Length (fun j -> parameter (first + layerCount + j) (fun () -> dense.[j].Primal.MulScalar 1.0))
    /// The output padding that makes decoder layer k return exactly the size encoder layer k took
    /// in (one value serves both axes: a size whose axes need different ones is refused below).
    let outputPadding (k: int) =
        let h, _ = sizes.[k]
        let hOut, _ = sizes.[k + 1]
        h - Shape.convTransposeOutput hOut config.Kernel config.Stride config.Padding 0
    do
        for k in 0 .. layerCount - 1 do
            let _, w = sizes.[k]
            let _, wOut = sizes.[k + 1]
            if w - Shape.convTransposeOutput wOut config.Kernel config.Stride config.Padding 0 <> outputPadding k then
                raise (ArgumentException(sprintf "codec: a %d×%d input cannot be decoded back to its size: layer %d takes %A in, and its transposed convolution would need a different output padding along the two axes. Use a height and width that shrink alike (equal, or both multiples of the stride's powers)." config.Height config.Width k sizes.[k], "config"))

    /// A codec with this config and seed, its parameters freshly initialised.
    new(config: CodecConfig, seed: uint64) = TiedCodec(config, seed, None)

    /// The same codec with its parameters as constants (sharing their storage): differentiating
    /// through it computes gradients for its inputs only, as an attack on a fixed surrogate needs.
    member this.Frozen() = TiedCodec(config, seed, Some this.Parameters)

    /// Every trainable tensor: the (encoder's) kernels, the dense weights, the biases, then an
    /// untied decoder's kernels and dense weights.
    member _.Parameters =
        Array.concat [ kernels; dense; Array.choose id encoderBias; Array.choose id decoderBias
                       (if config.Untied then Array.append decoderKernels decoderDense else [||]) ]
    /// The configuration.
    member _.Config = config
    /// The tied conv kernels (live).
    member _.Kernels = kernels
    /// The tied dense weights (live).
    member _.DenseWeights = dense
    /// The decoder's kernels (live; the encoder's own unless untied).
    member _.DecoderKernels = decoderKernels
    /// The decoder's dense weights (live; the encoder's own unless untied).
    member _.DecoderDenseWeights = decoderDense
    /// The length of the latent code.
    member _.LatentSize = if dense.Length = 0 then flat else Array.last config.Dense

    /// Refuses a batch that is not N×C×H×W of this config or holds NaN or infinities.
    member _.CheckInput(x: Tensor) =
        Shape.checkRank "codec" "images" 4 x.Shape
        Shape.checkEqual "codec" "images" [| x.Shape.[0]; config.InputChannels; config.Height; config.Width |] x.Shape
        if not (x.Primal.IsFinite()) then
            raise (ArgumentException("codec: the images hold NaN or infinite values.", "images"))

    /// The last pre-activation of the encoder, N×LatentSize.
    member _.PreLatent(x: Tensor) =
        let mutable z = x
        let last = kernels.Length - 1
        for k in 0 .. last do
            let pre = match encoderBias.[k] with Some b -> z.Conv2d(kernels.[k], config.Stride, config.Padding, b) | None -> z.Conv2d(kernels.[k], config.Stride, config.Padding)
            z <- if k = last && dense.Length = 0 then pre else pre.Tanh()
        let mutable v = z.Reshape([| x.Shape.[0]; flat |])
        for j in 0 .. dense.Length - 1 do
            let pre = v.MatMul(dense.[j], false, true)
            v <- if j = dense.Length - 1 then pre else pre.Tanh()
        v

    /// The latent: sign (Binary: ±1, 0 → +1, straight-through) or tanh (Continuous) of the last pre-activation.
    member this.Encode(x: Tensor) = this.LatentOf(this.PreLatent x)

    /// The latent of a last pre-activation: its sign (Binary: ±1, 0 → +1, straight-through) or tanh (Continuous).
    member _.LatentOf(pre: Tensor) =
        match config.Latent with
        | Latent.Binary -> pre.Binarize()
        | Latent.Continuous -> pre.Tanh()

    /// The reconstruction from a latent (N×LatentSize).
    member _.Decode(s: Tensor) =
        let mutable v = s
        for j in decoderDense.Length - 1 .. -1 .. 0 do
            v <- v.MatMul(decoderDense.[j]).Tanh()
        let mutable g = v.Reshape(Array.append [| s.Shape.[0] |] convShape)
        for k in decoderKernels.Length - 1 .. -1 .. 0 do
            let pre =
                match decoderBias.[k] with
                | Some b -> g.ConvTranspose2d(decoderKernels.[k], config.Stride, config.Padding, outputPadding k, b)
                | None -> g.ConvTranspose2d(decoderKernels.[k], config.Stride, config.Padding, outputPadding k)
            g <-
                if k > 0 then pre.Tanh()
                else
                    match config.Output with
                    | OutputMap.Sigmoid -> pre.Sigmoid()
                    | OutputMap.Tanh -> pre.Tanh()
                    | OutputMap.Linear -> pre
        g

    /// The reconstruction of a batch through the latent.
    member this.Forward(x: Tensor) =
        this.CheckInput x
        this.Decode(this.Encode x)

    /// The mean squared reconstruction error of a batch.
    member this.Loss(x: Tensor) = Tensor.Mse(this.Forward x, x)

    /// Trains with Adam on N×C×H×W images, in fixed batch order, and reports each epoch's
    /// sample-weighted mean batch loss. Each epoch: for each batch, zero gradients, forward, loss,
    /// backward, one Adam step.
    member this.Fit(images: Tensor, epochs: int, batchSize: int, learningRate: float, onEpoch: EpochReport -> unit, cancel: Threading.CancellationToken) =
        this.Fit(images, CodecTraining.Plain(epochs, batchSize, learningRate), onEpoch, cancel)

    /// Trains as `training` says on N×C×H×W images, in fixed batch order. Reports each epoch's
    /// sample-weighted mean clean batch loss (with KeepBest: the clean loss of every image after
    /// the epoch); returns the reports of the epochs run (fewer than Epochs when it stopped early).
    member this.Fit(images: Tensor, training: CodecTraining, onEpoch: EpochReport -> unit, cancel: Threading.CancellationToken) =
        this.CheckInput images
        if training.Epochs <= 0 then raise (ArgumentOutOfRangeException("epochs", training.Epochs, "codec: epochs must be positive."))
        if training.BatchSize <= 0 then raise (ArgumentOutOfRangeException("batchSize", training.BatchSize, "codec: the batch size must be positive."))
        if not (training.FinalLearningRate > 0.0 && training.FinalLearningRate <= 1.0) then
            raise (ArgumentOutOfRangeException("training", training.FinalLearningRate, "codec: the final learning rate must be a fraction in (0, 1] of the first."))
        if training.Patience < 0 then raise (ArgumentOutOfRangeException("training", training.Patience, "codec: the patience must be non-negative."))
        let n = images.Shape.[0]
        if n = 0 then raise (ArgumentException("codec: there are no images to train on.", "images"))
        let adam = Adam(this.Parameters, training.LearningRate)
        let batches =
            [| for start in 0 .. training.BatchSize .. n - 1 ->
                let len = min training.BatchSize (n - start)
                len, images.Slice([| start; 0; 0; 0 |], [| len; config.InputChannels; config.Height; config.Width |]).Detach() |]
        let frozen = this.Frozen()
        let cleanLoss () =
            batches |> Array.sumBy (fun (len, batch) ->
                use _ = Memory.Scope()
                (Tensor.Mse(frozen.Decode(frozen.Encode batch), batch)).ToScalar() * float len) |> fun total -> total / float n
        let mutable best = Double.PositiveInfinity
        let mutable bestWeights: RawTensor[] = [||]
        let mutable sinceBest = 0
        let reports = ResizeArray<EpochReport>()
        let mutable epoch = 0
        while epoch < training.Epochs && (training.Patience = 0 || sinceBest < training.Patience) do
            epoch <- epoch + 1
            let progress = if training.Epochs = 1 then 0.0 else float (epoch - 1) / float (training.Epochs - 1)
            adam.LearningRate <- training.LearningRate * (training.FinalLearningRate + (1.0 - training.FinalLearningRate) * 0.5 * (1.0 + Math.Cos(Math.PI * progress)))
            let mutable total = 0.0
            for b, (len, batch) in Array.indexed batches do
                cancel.ThrowIfCancellationRequested()
                // One step's tensors go back for reuse when it ends; only the loss leaves it, as a number.
                use _ = Memory.Scope()
                adam.ZeroGrad()
                let objective, loss =
                    match training.Damage with
                    | None ->
                        let loss = this.Loss batch
                        loss, loss
                    | Some damage ->
                        let pre = this.PreLatent batch
                        let loss = Tensor.Mse(this.Decode(this.LatentOf pre), batch)
                        let damaged = this.PreLatent(Tensor.Constant(damage batch.Primal (Rng.derive (uint64 epoch) b)))
                        let objective = loss + Tensor.Mse(this.Decode(this.LatentOf damaged), batch)
                        let objective =
                            if training.CodeMargin = 0.0 then objective
                            else
                                let code = Tensor.Constant(pre.Primal.Binarize())
                                let hinge (p: Tensor) = ((p * code) * -1.0 + 1.0).Relu().MeanAll()
                                objective + (hinge pre + hinge damaged) * training.CodeMargin
                        if training.Spread = 0.0 || len < 2 then objective, loss
                        else
                            let t = pre.Tanh()
                            let width = float t.Shape.[1]
                            let gram = t.MatMul(t, false, true) * (1.0 / width)
                            let diagonal = (t * t).Sum([| 1 |]) * (1.0 / width)
                            let offDiagonal = (gram.Square().SumAll() - diagonal.Square().SumAll()) * (1.0 / float (len * (len - 1)))
                            objective + offDiagonal * training.Spread, loss
                objective.Backward()
                adam.Step()
                let value = loss.ToScalar()
                if not (Double.IsFinite value) then
                    raise (InvalidOperationException(
                        sprintf "codec: the loss became %g in epoch %d, batch %d: training diverged; try a smaller learning rate than %g." value epoch (b + 1) training.LearningRate))
                total <- total + value * float len
            let measured = if training.KeepBest then cleanLoss () else total / float n
            if measured < best then
                best <- measured
                sinceBest <- 0
                if training.KeepBest then bestWeights <- this.Parameters |> Array.map (fun p -> p.Primal.MulScalar 1.0)
            else sinceBest <- sinceBest + 1
            let report = { Epoch = epoch; Loss = measured }
            onEpoch report
            reports.Add report
        if training.KeepBest && bestWeights.Length > 0 then
            Array.iter2 (fun (p: Tensor) (w: RawTensor) -> p.Primal.CopyInPlace w) this.Parameters bestWeights
        reports.ToArray()

    /// The shapes of the tied kernels and dense weights a config needs, computed without
    /// allocating them (loaders check a file against these before building anything).
    static member ParameterShapes(config: CodecConfig) =
        let inputs = Array.append [| config.InputChannels |] config.Channels.[.. config.Channels.Length - 2]
        let kernels = Array.init config.Channels.Length (fun k -> [| config.Channels.[k]; inputs.[k]; config.Kernel; config.Kernel |])
        let h, w =
            config.Channels |> Array.fold (fun (h, w) _ ->
                Shape.convOutput h config.Kernel config.Stride config.Padding, Shape.convOutput w config.Kernel config.Stride config.Padding) (config.Height, config.Width)
        let flat = Array.last config.Channels * max 0 h * max 0 w
        let dense = config.Dense |> Array.mapi (fun j width -> [| width; (if j = 0 then flat else config.Dense.[j - 1]) |])
        kernels, dense

    /// The tied autoencoder of the benchmark workloads (W3) and the quickstart: conv layers with
    /// biases, a continuous latent, a sigmoid output for data in [0, 1].
    static member Autoencoder(channels: int, height: int, width: int, layers: int[], kernel: int, stride: int, padding: int, seed: uint64) =
        TiedCodec({ InputChannels = channels; Height = height; Width = width; Channels = layers; Kernel = kernel; Stride = stride
                    Padding = padding; Dense = [||]; Latent = Latent.Continuous; Output = OutputMap.Sigmoid; Biases = true; Untied = false }, seed)
