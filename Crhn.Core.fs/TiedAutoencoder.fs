namespace Crhn.Core.Models

open System
open Crhn.Core

/// The shape of a tied convolutional autoencoder: the input's channels and size, the channels of
/// each conv layer, and one kernel/stride/padding for all of them.
type TiedAutoencoderConfig =
    { InputChannels: int
      Height: int
      Width: int
      Channels: int[]
      Kernel: int
      Stride: int
      Padding: int }

/// One epoch's record while training.
type EpochReport = { Epoch: int; Loss: float }

/// A tied-weight convolutional autoencoder (W3 of the benchmark workloads):
/// encoder z_k = tanh(conv(z_{k−1}, W_k) + b_k); decoder g_{k−1} = tanh(conv_transpose(g_k, W_k) + c_k)
/// with the very same W_k (ONE parameter per tie, its gradient the sum of both uses), the last
/// layer sigmoid so outputs lie in [0, 1]. Loss: mean squared reconstruction error.
type TiedAutoencoder(config: TiedAutoencoderConfig, seed: uint64) =
    do
        if config.InputChannels <= 0 || config.Height <= 0 || config.Width <= 0 || config.Channels.Length = 0 || Array.exists (fun c -> c <= 0) config.Channels then
            raise (ArgumentException("autoencoder: expected positive input channels, size and at least one layer of positive channels.", "config"))
    let inputs = Array.append [| config.InputChannels |] config.Channels.[.. config.Channels.Length - 2]
    let weights =
        Array.init config.Channels.Length (fun k ->
            let fanIn = inputs.[k] * config.Kernel * config.Kernel
            let bound = 1.0 / Math.Sqrt(float fanIn)
            Tensor.Parameter(Init.uniform Dtype.Float32 (Rng.derive seed k) -bound bound [| config.Channels.[k]; inputs.[k]; config.Kernel; config.Kernel |]))
    let encoderBias = config.Channels |> Array.map (fun c -> Tensor.Parameter(Cpu.zeros Dtype.Float32 [| 1; c; 1; 1 |]))
    let decoderBias = inputs |> Array.map (fun c -> Tensor.Parameter(Cpu.zeros Dtype.Float32 [| 1; c; 1; 1 |]))
    /// The spatial size entering each layer; the last entry is the latent's.
    let sizes =
        config.Channels |> Array.scan (fun (h, w) _ ->
            Shape.convOutput h config.Kernel config.Stride config.Padding, Shape.convOutput w config.Kernel config.Stride config.Padding) (config.Height, config.Width)
    do
        let h, w = Array.last sizes
        if h <= 0 || w <= 0 then
            raise (ArgumentException(sprintf "autoencoder: a %d×%d input shrinks to %d×%d through %d layers of kernel %d, stride %d, padding %d." config.Height config.Width h w config.Channels.Length config.Kernel config.Stride config.Padding, "config"))
    /// The output padding that makes decoder layer k return exactly the size encoder layer k took in.
    let outputPadding (k: int) =
        let h, _ = sizes.[k]
        let hOut, _ = sizes.[k + 1]
        h - Shape.convTransposeOutput hOut config.Kernel config.Stride config.Padding 0

    /// Every trainable tensor: the tied kernels, then encoder and decoder biases.
    member _.Parameters = Array.concat [ weights; encoderBias; decoderBias ]
    /// The configuration.
    member _.Config = config
    /// The latent's C×H×W.
    member _.LatentShape = let h, w = Array.last sizes in [| Array.last config.Channels; h; w |]

    /// Refuses a batch that is not N×C×H×W of this config or holds NaN or infinities.
    member _.CheckInput(x: Tensor) =
        Shape.checkRank "autoencoder" "images" 4 x.Shape
        let expected = [| x.Shape.[0]; config.InputChannels; config.Height; config.Width |]
        Shape.checkEqual "autoencoder" "images" expected x.Shape
        if not (x.Primal.IsFinite()) then
            raise (ArgumentException("autoencoder: the images hold NaN or infinite values.", "images"))

    /// The continuous latent tanh(conv(…)).
    member _.Encode(x: Tensor) =
        Array.fold2 (fun (z: Tensor) (w: Tensor) (b: Tensor) -> z.Conv2d(w, config.Stride, config.Padding, b).Tanh()) x weights encoderBias

    /// The reconstruction from a latent, through the transposed tied kernels.
    member _.Decode(z: Tensor) =
        let mutable g = z
        for k in weights.Length - 1 .. -1 .. 0 do
            let pre = g.ConvTranspose2d(weights.[k], config.Stride, config.Padding, outputPadding k, decoderBias.[k])
            g <- if k = 0 then pre.Sigmoid() else pre.Tanh()
        g

    /// The reconstruction of a batch.
    member this.Forward(x: Tensor) =
        this.CheckInput x
        this.Decode(this.Encode x)

    /// The mean squared reconstruction error of a batch.
    member this.Loss(x: Tensor) = Tensor.Mse(this.Forward x, x)

    /// Trains with Adam on N×C×H×W images in [0, 1], in fixed batch order, and reports each
    /// epoch's sample-weighted mean batch loss. Each epoch: for each batch, zero gradients,
    /// forward, loss, backward, one Adam step.
    member this.Fit(images: Tensor, epochs: int, batchSize: int, learningRate: float, onEpoch: EpochReport -> unit, cancel: Threading.CancellationToken) =
        this.CheckInput images
        if epochs <= 0 then raise (ArgumentOutOfRangeException("epochs", epochs, "autoencoder: epochs must be positive."))
        if batchSize <= 0 then raise (ArgumentOutOfRangeException("batchSize", batchSize, "autoencoder: the batch size must be positive."))
        let n = images.Shape.[0]
        if n = 0 then raise (ArgumentException("autoencoder: there are no images to train on.", "images"))
        let adam = Adam(this.Parameters, learningRate)
        let batches =
            [| for start in 0 .. batchSize .. n - 1 ->
                let len = min batchSize (n - start)
                len, images.Slice([| start; 0; 0; 0 |], [| len; config.InputChannels; config.Height; config.Width |]).Detach() |]
        [| for epoch in 1 .. epochs ->
            let mutable total = 0.0
            for len, batch in batches do
                cancel.ThrowIfCancellationRequested()
                adam.ZeroGrad()
                let loss = this.Loss batch
                loss.Backward()
                adam.Step()
                total <- total + loss.ToScalar() * float len
            let report = { Epoch = epoch; Loss = total / float n }
            onEpoch report
            report |]
