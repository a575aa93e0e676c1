namespace Crhn.Torch.Tests

open System
open System.IO
open Crhn
open Xunit
open Xunit.Abstractions

/// Whole models on the torch backend against the CPU backend, same seeds and data, through the
/// C# facade. Float32 training runs two different GEMM and convolution libraries, so results agree
/// within tolerances stated per check, not bit for bit; the orderings users rely on must be equal.
type ModelTests(output: ITestOutputHelper) =

    static do Ops.torchBackend.Force() |> ignore

    static let images = lazy (ImageBatch.Procedural(seed = 5, count = 12, channels = 3, height = 16, width = 16))

    static let relative (a: float) (b: float) = abs (a - b) / max 1e-30 (max (abs a) (abs b))

    static let meanAbs (a: float32[]) (b: float32[]) = Array.fold2 (fun acc (x: float32) y -> acc + abs (float x - float y)) 0.0 a b / float a.Length

    /// Runs `work` with new tensors on the named backend.
    static let on (backend: string) (work: unit -> 'T) =
        use _ = Engine.UseBackend backend
        work ()

    static member private Crhn(seed: int) () =
        let model = CrhnModel.Create(CrhnConfig(Height = 16, Width = 16, ConvLayers = [| 8; 16 |], DenseLayers = [| 96 |], RhnHidden = [| 64 |]), seed)
        let report = model.Fit(images.Force(), CrhnTrainingOptions(CodecEpochs = 6, BatchSize = 6, SraRounds = 20))
        let cues = Degrade.GaussianNoise(images.Force(), 0.2, 1)
        let retrieved = model.Retrieve(cues)
        use file = new MemoryStream()
        model.Save file
        file.Position <- 0L
        let reloaded = CrhnModel.Load(file).Retrieve(cues).Images.ToArray()
        report, model.Encode(images.Force()), retrieved, reloaded

    [<Fact>]
    member _.``CRHN training, retrieval and a saved model agree with the CPU backend`` () =
        let reportCpu, codesCpu, retrievedCpu, _ = on "cpu" (ModelTests.Crhn 2)
        let report, codes, retrieved, reloaded = on Ops.torchName (ModelTests.Crhn 2)
        let lossGap = Seq.map2 relative report.CodecLosses reportCpu.CodecLosses |> Seq.max
        let bits = Array.concat codes
        let sameBits = float (Array.fold2 (fun n (a: sbyte) b -> if a = b then n + 1 else n) 0 bits (Array.concat codesCpu)) / float bits.Length
        let pixelGap = meanAbs (retrieved.Images.ToArray()) (retrievedCpu.Images.ToArray())
        output.WriteLine(sprintf "codec loss gap %.3g (relative), code bits equal %.4f, retrieved pixels mean |Δ| %.3g, recall %.3f vs %.3f, stored %d vs %d"
                            lossGap sameBits pixelGap (retrieved.RecallAccuracy()) (retrievedCpu.RecallAccuracy()) report.Stored reportCpu.Stored)
        // Measured here: loss gap 1.4e-7, every code bit equal, pixels 1.4e-8 apart; the bounds leave ~100×.
        Assert.True(lossGap <= 1e-5, sprintf "codec losses differ by %.3g (relative)" lossGap)
        Assert.True(sameBits >= 0.995, sprintf "only %.4f of the code bits agree" sameBits)
        Assert.Equal(reportCpu.Stored, report.Stored)
        Assert.True(abs (retrieved.RecallAccuracy() - retrievedCpu.RecallAccuracy()) <= 0.1, "recall differs by more than one cue in ten")
        Assert.True(pixelGap <= 1e-6, sprintf "retrieved images differ by %.3g per pixel" pixelGap)
        // A model saved and loaded on the same backend retrieves bit for bit what it did.
        Assert.Equal<float32[]>(retrieved.Images.ToArray(), reloaded)

    [<Fact>]
    member _.``companion: another seed on the torch backend is outside the codec-loss tolerance`` () =
        let reportCpu, _, _, _ = on "cpu" (ModelTests.Crhn 2)
        let report, _, _, _ = on Ops.torchName (ModelTests.Crhn 3)
        let lossGap = Seq.map2 relative report.CodecLosses reportCpu.CodecLosses |> Seq.max
        Assert.True(lossGap > 1e-5, sprintf "seeds 2 and 3 gave codec losses within %.3g" lossGap)

    static member private Baselines() =
        let cues = Degrade.GaussianNoise(images.Force(), 0.2, 1)
        let pcn = PredictiveCodingMemory.Create(3, 16, 16, PredictiveCodingOptions(Hidden = [| 32 |], Epochs = 3), seed = 3)
        pcn.Fit(images.Force())
        let surrogate = TiedAutoencoder.Create(AutoencoderConfig(3, 16, 16), 4)
        let losses = surrogate.Fit(images.Force(), AutoencoderTrainingOptions(Epochs = 3))
        let attacked = [ for a in Enum.GetValues<Attack>() -> Adversary.Run(surrogate, images.Force(), a, AttackOptions(Eps = 0.05, Steps = 3, Seed = 1)).ToArray() ]
        pcn.Recall(cues).ToArray(), ModernHopfieldMemory.Store(images.Force()).Recall(cues).ToArray(), losses, attacked

    [<Fact>]
    member _.``PCN, Modern Hopfield, the surrogate and the attacks agree with the CPU backend`` () =
        let pcnCpu, mhnCpu, lossesCpu, attackedCpu = on "cpu" ModelTests.Baselines
        let pcn, mhn, losses, attacked = on Ops.torchName ModelTests.Baselines
        let lossGap = Seq.map2 relative losses lossesCpu |> Seq.max
        let attackGaps = List.map2 meanAbs attacked attackedCpu
        output.WriteLine(sprintf "PCN mean |Δ| %.3g, MHN %.3g, surrogate loss gap %.3g, attacks mean |Δ| %s"
                            (meanAbs pcn pcnCpu) (meanAbs mhn mhnCpu) lossGap (attackGaps |> List.map (sprintf "%.3g") |> String.concat ", "))
        // Measured here: PCN 3.8e-9, MHN 2.8e-8, surrogate losses 1.7e-7 apart, attacks identical.
        Assert.True(meanAbs pcn pcnCpu <= 1e-6)
        Assert.True(meanAbs mhn mhnCpu <= 1e-6)
        Assert.True(lossGap <= 1e-5)
        // A sign attack moves a pixel by a whole step where the gradient's sign flips between
        // backends (entries within rounding of zero): a few pixels in a thousand at most.
        Assert.All(attackGaps, fun g -> Assert.True(g <= 0.05 * 0.01, sprintf "an attack differs by %.3g per pixel" g))

    static member private Classifier() =
        let labels = Array.init 12 (fun i -> i % 3)
        let classifier = IterativeClassifier.Create(3, 16, 16, 3, IterativeClassifierOptions(Steps = 2, Hidden = 16, Regulariser = RegulariserOptions(RegulariserKind.JacQ)), seed = 3)
        let epochs = classifier.Fit(LabelledImages(images.Force(), labels), IterativeTrainingOptions(Epochs = 4, BatchSize = 6))
        epochs |> Seq.map (fun e -> e.Loss) |> Seq.toArray, classifier.Predict(images.Force())

    [<Fact>]
    member _.``the iterative classifier trains and predicts as on the CPU backend`` () =
        let lossesCpu, predictedCpu = on "cpu" ModelTests.Classifier
        let losses, predicted = on Ops.torchName ModelTests.Classifier
        let gap = Array.map2 relative losses lossesCpu |> Array.max
        output.WriteLine(sprintf "classifier loss gap %.3g" gap)
        // Measured here: 5.5e-8.
        Assert.True(gap <= 1e-5, sprintf "losses differ by %.3g (relative)" gap)
        Assert.Equal<int[]>(predictedCpu, predicted)
