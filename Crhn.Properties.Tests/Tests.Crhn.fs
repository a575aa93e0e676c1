namespace Crhn.Properties

open System
open System.Threading
open Xunit
open Crhn.Core
open Crhn.Core.Models

/// The CRHN memory end to end on procedural images in [−1, 1] (16×16, small enough for the suite).
type CrhnTests() =

    static let count = 50

    static let images =
        Data.Procedural.images 11UL count 3 16 16 |> Array.map (fun v -> v * 2.0f - 1.0f)

    static let memory =
        lazy (
            let x = Tensor.Constant(Cpu.ofFloat32 [| count; 3; 16; 16 |] images)
            let codec =
                TiedCodec({ InputChannels = 3; Height = 16; Width = 16; Channels = [| 8; 16 |]; Kernel = 4; Stride = 2; Padding = 1
                            Dense = [| 128 |]; Latent = Latent.Binary; Output = OutputMap.Tanh; Biases = false; Untied = false }, 1UL)
            let damage (batch: RawTensor) seed = Degradations.training batch 0.5 -1.0 1.0 seed
            let training = { CodecTraining.Plain(60, 10, 3e-3) with FinalLearningRate = 0.05; KeepBest = true; Damage = Some damage; CodeMargin = 0.1; Spread = 1.0 }
            codec.Fit(x, training, ignore, CancellationToken.None) |> ignore
            let rhn = RhnNetwork([| 128; 64 |], 2UL)
            let mem = CrhnMemory(codec, Some rhn)
            let stored = rhn.Train(mem.Codes x, 100, 100, SraMode.Both, ignore, CancellationToken.None)
            mem, x, stored)

    /// The same RHN with the columns of its first weight matrix reversed: still semi-orthogonal,
    /// still non-expansive, but its fixed points are no longer the stored codes.
    static let corrupted (rhn: RhnNetwork) =
        let broken = RhnNetwork(rhn.Sizes, 2UL)
        for l in 0 .. rhn.Layers - 1 do
            let w = rhn.Weights.[l]
            let rows, cols = w.Shape.[0], w.Shape.[1]
            let v = w.ToFloat64Array()
            let permuted = if l = 0 then Array.init v.Length (fun i -> v.[(i / cols) * cols + (cols - 1 - i % cols)]) else v
            broken.Weights.[l].CopyInPlace(w.CreateLike([| rows; cols |], permuted))
        broken

    static let recallRate (r: Retrieval) =
        let o = r.Outcome.Value
        float (o.Recalled |> Array.indexed |> Array.filter (fun (i, k) -> i = k) |> Array.length) / float o.Recalled.Length

    static let noisy (sigma: float) =
        Tensor.Constant(Cpu.ofFloat32 [| count; 3; 16; 16 |] (Degradations.gaussianNoise images sigma 5UL -1.0f 1.0f))

    [<Fact>]
    member _.``the memory trains itself exactly as its codec then its RHN trained apart`` () =
        let x = Tensor.Constant(Cpu.ofFloat32 [| count; 3; 16; 16 |] images)
        let config = { InputChannels = 3; Height = 16; Width = 16; Channels = [| 8; 16 |]; Kernel = 4; Stride = 2; Padding = 1
                       Dense = [| 128 |]; Latent = Latent.Binary; Output = OutputMap.Tanh; Biases = false; Untied = false }
        let training = { CodecTraining.Plain(5, 10, 3e-3) with FinalLearningRate = 0.05; KeepBest = true }
        let apartCodec, apartRhn = TiedCodec(config, 1UL), RhnNetwork([| 128; 64 |], 2UL)
        apartCodec.Fit(x, training, ignore, CancellationToken.None) |> ignore
        let apartCodes = CrhnMemory(apartCodec, Some apartRhn).Codes x
        apartRhn.Train(apartCodes, 10, 20, SraMode.Both, ignore, CancellationToken.None) |> ignore
        let codec, rhn = TiedCodec(config, 1UL), RhnNetwork([| 128; 64 |], 2UL)
        let rounds = ResizeArray<int>()
        let trained = CrhnMemory(codec, Some rhn).Fit(x, training, 10, 20, SraMode.Both, ignore, (fun r -> rounds.Add r.Round), CancellationToken.None)
        Assert.Equal<float32[]>(apartCodes.ToFloat32Array(), trained.Codes.ToFloat32Array())
        Assert.Equal<float32[]>(apartRhn.Weights.[0].ToFloat32Array(), rhn.Weights.[0].ToFloat32Array())
        Assert.Equal(5, trained.CodecEpochs.Length)
        Assert.Equal(rounds.Count, trained.SraRounds)
        Assert.Equal(fst (rhn.FixedPoints trained.Codes), trained.FixedPoints)

    [<Fact>]
    member _.``fitting the codec-only ablation, which has no RHN, is a clear error`` () =
        let mem, x, _ = memory.Force()
        Assert.Throws<InvalidOperationException>(fun () ->
            CrhnMemory(mem.Codec, None).Fit(x, CodecTraining.Plain(1, 10, 1e-3), 0, 1, SraMode.Both, ignore, ignore, CancellationToken.None) |> ignore) |> ignore

    [<Fact>]
    member _.``every clean stored image is recalled as its own pattern, and its output is the one-pass decode`` () =
        let mem, x, stored = memory.Force()
        Assert.True(stored, "SRA did not make every code a fixed point")
        let codes = mem.Codes x
        let r = mem.Retrieve(x, None, Some codes, 50)
        Assert.Equal<int[]>(Array.init count id, r.Outcome.Value.Recalled)
        Assert.True(r.CueConverged |> Array.forall id)
        Assert.Equal<float32[]>((mem.Codec.Decode(Tensor.Constant codes)).Primal.ToFloat32Array(), r.Images.ToFloat32Array())

    [<Fact>]
    member _.``companion: with its weight columns reversed the RHN recalls few clean stored images`` () =
        let mem, x, _ = memory.Force()
        let broken = CrhnMemory(mem.Codec, Some(corrupted mem.Rhn.Value))
        let r = broken.Retrieve(x, None, Some(mem.Codes x), 50)
        Assert.True(recallRate r < 0.5, sprintf "the corrupted RHN still recalled %.0f %%" (100.0 * recallRate r))

    [<Fact>]
    member _.``a cue that settles on no stored pattern returns its own one-pass decode, and one that settles on a stored pattern its decode`` () =
        let mem, x, _ = memory.Force()
        let codes = mem.Codes x
        let cues = noisy 0.2
        let r = CrhnMemory(mem.Codec, Some(corrupted mem.Rhn.Value)).Retrieve(cues, None, Some codes, 50)
        let flat = 3 * 16 * 16
        let row (t: RawTensor) i = t.ToFloat32Array().[i * flat .. (i + 1) * flat - 1]
        let spurious = r.Outcome.Value.Recalled |> Array.indexed |> Array.filter (fun (_, k) -> k < 0) |> Array.map fst
        Assert.NotEmpty spurious
        for i in spurious do
            Assert.Equal(0, r.Returned.[i])
            Assert.Equal<float32[]>(row r.Steps.[0].Images i, row r.Images i)
        let last = r.Steps.[r.Steps.Length - 1].Images
        for i in 0 .. count - 1 do
            if r.Outcome.Value.Recalled.[i] >= 0 then Assert.Equal<float32[]>(row last i, row r.Images i)

    [<Fact>]
    member _.``companion: without the stored codes the same cues return the decode of wherever they settled`` () =
        let mem, _, _ = memory.Force()
        let r = CrhnMemory(mem.Codec, Some(corrupted mem.Rhn.Value)).Retrieve(noisy 0.2, None, None, 50)
        Assert.Equal<float32[]>(r.Steps.[r.Steps.Length - 1].Images.ToFloat32Array(), r.Images.ToFloat32Array())
        Assert.NotEqual<float32[]>(r.Steps.[0].Images.ToFloat32Array(), r.Images.ToFloat32Array())

    [<Fact>]
    member _.``noisy cues are recalled, and more of them than the codec alone and a corrupted RHN recall`` () =
        let mem, x, _ = memory.Force()
        let codes = mem.Codes x
        let cues = noisy 0.2
        let crhn = recallRate (mem.Retrieve(cues, None, Some codes, 50))
        let codec = recallRate (CrhnMemory(mem.Codec, None).Retrieve(cues, None, Some codes, 50))
        let broken = recallRate (CrhnMemory(mem.Codec, Some(corrupted mem.Rhn.Value)).Retrieve(cues, None, Some codes, 50))
        Assert.True(crhn >= 0.8 && crhn > codec && crhn > broken, sprintf "recall: CRHN %.2f, codec alone %.2f, corrupted RHN %.2f" crhn codec broken)

    [<Fact>]
    member _.``a retrieval starts from the cue's own code, never raises a code's energy, and ends on a fixed point when it says so`` () =
        let mem, _, _ = memory.Force()
        let cues = noisy 0.3
        let r = mem.Retrieve(cues, None, None, 50)
        Assert.True(r.Steps.Length >= 1 && r.Steps.Length <= 51)
        Assert.Equal<float32[]>((mem.Codes cues).ToFloat32Array(), r.Steps.[0].Codes.ToFloat32Array())
        for i in 0 .. count - 1 do
            for k in 1 .. r.Steps.Length - 1 do
                Assert.True(r.Steps.[k].Energy.[i] <= r.Steps.[k - 1].Energy.[i], sprintf "cue %d: energy rose at step %d" i k)
        let again, _ = mem.Recall r.Codes
        let lastCodes, recalled = r.Codes.ToFloat32Array(), again.ToFloat32Array()
        for i in 0 .. count - 1 do
            if r.CueConverged.[i] then Assert.Equal<float32[]>(lastCodes.[i * 128 .. i * 128 + 127], recalled.[i * 128 .. i * 128 + 127])

    [<Fact>]
    member _.``with a known mask the visible pixels come back unchanged`` () =
        let mem, x, _ = memory.Force()
        let known = Cpu.ofFloat32 [| 1; 3 * 16 * 16 |] (Array.init (3 * 16 * 16) (fun i -> if i % 16 < 8 then 1.0f else 0.0f))
        let cues = Cpu.ofFloat32 [| count; 3; 16; 16 |] (Degradations.maskColumns [| count; 3; 16; 16 |] images 8 -1.0f)
        let r = mem.Retrieve(Tensor.Constant cues, Some known, Some(mem.Codes x), 20)
        let got, cue = r.Images.ToFloat32Array(), cues.ToFloat32Array()
        for i in 0 .. got.Length - 1 do
            if i % 16 < 8 then Assert.Equal(cue.[i], got.[i])

    [<Fact>]
    member _.``the codec-only ablation is one pass with no energy behind the same interface`` () =
        let mem, x, _ = memory.Force()
        let r = CrhnMemory(mem.Codec, None).Retrieve(x, None, None, 5)
        Assert.Equal(1, r.Steps.Length)
        Assert.True(r.Steps |> Array.forall (fun s -> s.Energy |> Array.forall Double.IsNaN))

    [<Fact>]
    member _.``an RHN whose input does not match the latent is refused`` () =
        let mem, _, _ = memory.Force()
        let e = Assert.Throws<ArgumentException>(fun () -> CrhnMemory(mem.Codec, Some(RhnNetwork([| 100; 50 |], 1UL))) |> ignore)
        Assert.Contains("128", e.Message)
        Assert.Contains("100", e.Message)

/// The untied decoder: it starts as the tied one and trains apart from the encoder.
type UntiedCodecTests() =

    [<Fact>]
    member _.``an untied decoder starts equal to the tied one and its weights move apart from the encoder's in training`` () =
        let config =
            { InputChannels = 3; Height = 16; Width = 16; Channels = [| 4; 8 |]; Kernel = 4; Stride = 2; Padding = 1
              Dense = [| 32 |]; Latent = Latent.Binary; Output = OutputMap.Tanh; Biases = false; Untied = true }
        let x = Tensor.Constant(Cpu.ofFloat32 [| 8; 3; 16; 16 |] (Data.Procedural.images 3UL 8 3 16 16 |> Array.map (fun v -> v * 2.0f - 1.0f)))
        let untied = TiedCodec(config, 5UL)
        let tied = TiedCodec({ config with Untied = false }, 5UL)
        Assert.Equal<float32[]>(tied.Forward(x).Primal.ToFloat32Array(), untied.Forward(x).Primal.ToFloat32Array())
        Assert.Equal(tied.Parameters.Length + 3, untied.Parameters.Length)
        untied.Fit(x, 3, 4, 1e-2, ignore, CancellationToken.None) |> ignore
        let differs (a: Tensor) (b: Tensor) = a.Primal.ToFloat32Array() <> b.Primal.ToFloat32Array()
        Assert.True(Array.forall2 differs untied.Kernels untied.DecoderKernels)
        Assert.True(Array.forall2 differs untied.DenseWeights untied.DecoderDenseWeights)
