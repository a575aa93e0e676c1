namespace Crhn.Properties

open System
open System.Threading
open FsCheck
open FsCheck.FSharp
open Xunit
open Crhn.Core
open Crhn.Core.Models

/// The evaluation suite's parts: attacks on a surrogate autoencoder, degradations, and the two
/// baselines. Each proposition comes with a companion that drops one of its assumptions.
module Evaluation =

    /// A small surrogate (1×8×8 images, one conv layer of 4 channels), trained briefly so that its
    /// reconstruction loss has a non-trivial gradient, frozen for the attacks.
    let surrogate =
        lazy (
            let codec = TiedCodec.Autoencoder(1, 8, 8, [| 4 |], 4, 2, 1, 5UL)
            let x = Tensor.Constant(Cpu.ofFloat32 [| 16; 1; 8; 8 |] (Data.Procedural.images 3UL 16 1 8 8))
            codec.Fit(x, 5, 8, 1e-2, ignore, CancellationToken.None) |> ignore
            codec.Frozen())

    /// Images in [0, 1] from a seed.
    let images (seed: int) (count: int) = Cpu.ofFloat32 [| count; 1; 8; 8 |] (Data.Procedural.images (uint64 seed) count 1 8 8)

    let lossOn (clean: RawTensor) = Attacks.reconstructionLoss (fun x -> surrogate.Force().Forward x) clean

    let attack (kind: AttackKind) (settings: AttackSettings) (clean: RawTensor) = Attacks.run kind settings (lossOn clean) clean

    let seeds = Gen.choose (0, 100000) |> Arb.fromGen
    let epsilons = Gen.elements [ 1.0 / 255.0; 4.0 / 255.0; 8.0 / 255.0; 16.0 / 255.0; 0.1 ] |> Arb.fromGen
    let kinds = Gen.elements (List.ofArray AttackKind.All) |> Arb.fromGen
    let epsilonRanges = Gen.zip (Gen.elements [ 1.0 / 255.0; 8.0 / 255.0; 0.1 ]) (Gen.elements [ (0.0, 1.0); (-1.0, 1.0) ]) |> Arb.fromGen

    /// Prop: FGSM moves every pixel with a non-zero gradient by exactly ±ε, or to the [0, 1] bound it would cross.
    let fgsmMovesByEpsilon =
        Prop.forAll seeds (fun seed ->
            Prop.forAll epsilons (fun eps ->
                let clean = images seed 4
                let s = { AttackSettings.Defaults AttackKind.Fgsm with Eps = eps }
                let adv = (attack AttackKind.Fgsm s clean).ToFloat64Array()
                let x = clean.ToFloat64Array()
                let g = (Attacks.gradient (lossOn clean) clean).ToFloat64Array()
                Array.forall id (Array.init x.Length (fun i ->
                    if g.[i] = 0.0 then adv.[i] = x.[i]
                    else
                        let target = x.[i] + float (sign g.[i]) * eps
                        abs (adv.[i] - min 1.0 (max 0.0 target)) <= 1e-6))))

    /// Prop: every attack's result lies in the ε-ball around the clean images and in [lo, hi].
    let attacksStayInBall (clampToRange: bool) =
        Prop.forAll seeds (fun seed ->
            Prop.forAll kinds (fun kind ->
                Prop.forAll epsilonRanges (fun (eps, (lo, hi)) ->
                    let clean = (images seed 3).MulScalar(hi - lo).AddScalar lo
                    let s = { AttackSettings.Defaults kind with Eps = eps; Alpha = eps / 2.0; Steps = 3; Seed = uint64 seed; Lo = lo; Hi = hi }
                    let adv =
                        if clampToRange then (Attacks.run kind s (lossOn clean) clean).ToFloat64Array()
                        else
                            // The same ascent with no projection at all: the unclamped iterate of BIM.
                            let mutable x = clean
                            for _ in 1 .. s.Steps do
                                x <- x.Binary(BinaryOp.Add, ((Attacks.gradient (lossOn clean) x).Unary UnaryOp.Sign).MulScalar(eps))
                            x.ToFloat64Array()
                    let x = clean.ToFloat64Array()
                    Array.forall2 (fun a c -> abs (a - c) <= eps + 1e-6 && a >= lo - 1e-7 && a <= hi + 1e-7) adv x
                    |> Prop.label (sprintf "%s ε=%g [%g, %g]" kind.Name eps lo hi))))

    /// Prop: with ε = 0 every attack returns its input.
    let epsilonZeroIsIdentity (eps: float) =
        Prop.forAll seeds (fun seed ->
            Prop.forAll kinds (fun kind ->
                let clean = images seed 2
                let s = { AttackSettings.Defaults kind with Eps = eps; Steps = 2; Seed = uint64 seed }
                (attack kind s clean).ToFloat64Array() = clean.ToFloat64Array() |> Prop.label kind.Name))

    /// The surrogate's loss after an attack at ε = 8/255.
    let lossAfter (kind: AttackKind) (steps: int) (seed: int) =
        let clean = images seed 8
        let s = { AttackSettings.Defaults kind with Steps = steps; Seed = uint64 seed }
        let adv = Attacks.run kind s (lossOn clean) clean
        (lossOn clean (Tensor.Constant adv)).ToScalar()

    /// Prop: averaged over a batch of seeds, PGD-`steps` reaches at least FGSM's loss at the same ε,
    /// up to float32 rounding: where the surrogate is nearly linear in the ε-ball both attacks end at
    /// the same corner, and their losses then differ in the seventh digit (seen: 0.0499505 against
    /// 0.0499506), so the comparison allows a relative 1e-5.
    let pgdBeatsFgsm (steps: int) =
        Prop.forAll (Gen.listOfLength 5 (Gen.choose (0, 100000)) |> Arb.fromGen) (fun seedList ->
            let mean kind = seedList |> List.averageBy (lossAfter kind steps)
            let pgd, fgsm = mean AttackKind.Pgd, mean AttackKind.Fgsm
            pgd >= fgsm * (1.0 - 1e-5) |> Prop.label (sprintf "PGD-%d %.6g < FGSM %.6g" steps pgd fgsm))

    let imageShapes = Gen.zip3 (Gen.choose (1, 3)) (Gen.choose (1, 3)) (Gen.choose (2, 9)) |> Arb.fromGen

    let randomImages (seed: int) (n: int, c: int, side: int) =
        [| n; c; side; side |], Rng.uniform32 (uint64 seed) 0.0 1.0 (n * c * side * side)

    /// Prop: masking k columns sets exactly the last k columns of every row and channel to the fill 0
    /// (and nothing else changes), when no original value equals the fill (values in [0.5, 1); the
    /// companion's binary images hold zeros).
    let maskTouchesColumns (binary: bool) =
        Prop.forAll seeds (fun seed ->
            Prop.forAll imageShapes (fun dims ->
                let shape, u = randomImages seed dims
                let x = u |> Array.map (fun v -> if binary then MathF.Round v else 0.5f + 0.5f * v)
                let fill = 0.0f
                let w = shape.[3]
                let k = seed % (w + 1)
                let masked = Degradations.maskColumns shape x k fill
                let changed = Array.init x.Length (fun i -> masked.[i] <> x.[i])
                let inColumns = Array.init x.Length (fun i -> i % w >= w - k)
                changed = inColumns && Array.forall2 (fun m inside -> not inside || m = fill) masked inColumns))

    /// Prop: brightness is min(hi, max(lo, x + β)) element for element.
    let brightnessFormula (clip: bool) =
        Prop.forAll seeds (fun seed ->
            Prop.forAll (Gen.choose (-50, 50) |> Arb.fromGen) (fun b ->
                let _, x = randomImages seed (2, 3, 5)
                let beta = float b / 100.0
                let lo, hi = (if clip then 0.0f, 1.0f else -infinityf, infinityf)
                let y = Degradations.brightness x beta lo hi
                Array.forall2 (fun (v: float32) (r: float32) -> r >= 0.0f && r <= 1.0f && r = min 1.0f (max 0.0f (v + float32 beta))) x y
                |> Prop.label (sprintf "β = %g" beta)))

    /// Prop: contrast is (x − μ)α + μ, μ each image's mean, clipped; without clipping the mean is kept.
    let contrastFormula (alphaMax: int) =
        Prop.forAll seeds (fun seed ->
            Prop.forAll (Gen.choose (0, alphaMax) |> Arb.fromGen) (fun a ->
                let shape, x = randomImages seed (2, 3, 5)
                let alpha = float a / 10.0
                let y = Degradations.contrast shape x alpha 0.0f 1.0f
                let per = 75
                Array.forall id (Array.init 2 (fun n ->
                    let mu = Seq.averageBy float x.[n * per .. (n + 1) * per - 1]
                    let muY = Seq.averageBy float y.[n * per .. (n + 1) * per - 1]
                    let formula = Array.forall id (Array.init per (fun i ->
                        let expected = min 1.0 (max 0.0 ((float x.[n * per + i] - mu) * alpha + mu))
                        abs (float y.[n * per + i] - expected) <= 1e-6))
                    formula && abs (muY - mu) <= 1e-5))
                |> Prop.label (sprintf "α = %g" alpha)))

    /// Prop: Gaussian noise of σ has sample standard deviation σ (within 3 %) on 40,000 values far
    /// from the clip range.
    let noiseHasSigma (centre: float32) =
        Prop.forAll seeds (fun seed ->
            Prop.forAll (Gen.elements [ 0.05; 0.1; 0.2 ] |> Arb.fromGen) (fun sigma ->
                let x = Array.create 40000 centre
                let y = Degradations.gaussianNoise x sigma (uint64 seed) 0.0f 1.0f
                let d = Array.map2 (fun (a: float32) (b: float32) -> float (a - b)) y x
                let mean = Array.average d
                let sd = Math.Sqrt(d |> Array.averageBy (fun v -> (v - mean) * (v - mean)))
                abs (sd - sigma) <= 0.03 * sigma |> Prop.label (sprintf "σ = %g, sample sd %g" sigma sd)))

    /// Patterns in rows: random ±1 vectors (every norm equal), or with row i scaled by 1 + i.
    let patterns (seed: int) (n: int) (d: int) (equalNorms: bool) =
        let u = Rng.uniform64 (uint64 seed) 0.0 1.0 (n * d)
        let v = Array.init (n * d) (fun i -> (if u.[i] < 0.5 then 1.0 else -1.0) * (if equalNorms then 1.0 else 1.0 + float (i / d) * 3.0))
        Cpu.ofFloat64 [| n; d |] v

    /// Prop (Ramsauer et al. 2020, Thm. 4): one Modern Hopfield update lands within
    /// 2(N − 1)·e^(−βΔ)·M of the stored pattern nearest to the cue, where M is the largest pattern
    /// norm and Δ the nearest pattern's overlap lead over the runner-up. With equal norms the
    /// overlap lead is half the lead in squared distance, which is the Δ used here; at β = 10⁴ the
    /// update is the nearest pattern itself unless two patterns are all but tied.
    let mhnNearest (equalNorms: bool) =
        Prop.forAll seeds (fun seed ->
            let n, d, beta = 6, 32, 1e4
            let x = patterns seed n d equalNorms
            let mhn = ModernHopfield x
            let cueValues = Rng.uniform64 (uint64 seed + 7UL) -1.0 1.0 d
            let cue = Cpu.ofFloat64 [| 1; d |] cueValues
            let xs = x.ToFloat64Array()
            let row i = Array.sub xs (i * d) d
            let distance2 i = Array.fold2 (fun acc a b -> acc + (a - b) * (a - b)) 0.0 (row i) cueValues
            let order = Array.init n id |> Array.sortBy distance2
            let lead = (distance2 order.[1] - distance2 order.[0]) / 2.0
            let largestNorm = Array.init n (fun i -> sqrt (Array.sumBy (fun v -> v * v) (row i))) |> Array.max
            let bound = 2.0 * float (n - 1) * exp (-beta * lead) * largestNorm
            let got = (mhn.Retrieve(cue, beta, 1, 1e-4)).States.ToFloat64Array()
            let error = sqrt (Array.fold2 (fun acc a b -> acc + (a - b) * (a - b)) 0.0 got (row order.[0]))
            error <= bound + 1e-9 |> Prop.label (sprintf "distance to the nearest %g, bound %g" error bound))

    let pcnSettings epochs = { PcnSettings.Reference with Hidden = [| 32 |]; Epochs = epochs; BatchesPerEpoch = 1; LearningRate = 0.02; InferenceSteps = 20; InferenceRate = 0.1 }

    /// The error left after recalling 5 stored 8×8 images from their masked versions (the right
    /// half unknown, freed), over the unknown pixels.
    let pcnRecallError (epochs: int) =
        let x = Cpu.ofFloat32 [| 5; 64 |] (Data.Procedural.images 21UL 5 1 8 8)
        let pcn = PredictiveCodingNetwork(64, pcnSettings epochs, 3UL)
        pcn.Fit(x, ignore, CancellationToken.None)
        let mask = Cpu.ofFloat32 [| 1; 64 |] (Array.init 64 (fun i -> if i % 8 >= 4 then 1.0f else 0.0f))
        let cue = x.Binary(BinaryOp.Mul, mask.MulScalar(-1.0).AddScalar 1.0)
        let recalled = pcn.Recall(cue, mask, 400)
        let diff = recalled.Binary(BinaryOp.Sub, x).Binary(BinaryOp.Mul, mask)
        (diff.Unary UnaryOp.Square).SumAll() / (5.0 * 32.0)

type EvaluationTests() =

    [<Fact>]
    member _.``FGSM moves every pixel by exactly ±ε or to the bound`` () = Check.run "fgsm ±ε" 20 Evaluation.fgsmMovesByEpsilon

    [<Fact>]
    member _.``every attack stays in the ε-ball and in [lo, hi]`` () = Check.run "attacks in the ball" 30 (Evaluation.attacksStayInBall true)

    [<Fact>]
    member _.``companion: the ascent without projection leaves the ε-ball`` () = Check.fails "unprojected ascent" 30 (Evaluation.attacksStayInBall false)

    [<Fact>]
    member _.``with ε = 0 every attack returns its input`` () = Check.run "ε = 0" 20 (Evaluation.epsilonZeroIsIdentity 0.0)

    [<Fact>]
    member _.``companion: with ε > 0 the attacks move the input`` () = Check.fails "ε > 0" 20 (Evaluation.epsilonZeroIsIdentity (8.0 / 255.0))

    [<Fact>]
    member _.``on the surrogate PGD-10's loss is at least FGSM's at the same ε on average`` () = Check.run "pgd ≥ fgsm" 5 (Evaluation.pgdBeatsFgsm 10)

    [<Fact>]
    member _.``companion: PGD with no steps (its random start alone) falls short of FGSM`` () = Check.fails "pgd-0 ≥ fgsm" 5 (Evaluation.pgdBeatsFgsm 0)

    [<Fact>]
    member _.``attack names parse case-insensitively and an unknown one is refused with the list`` () =
        Assert.Equal(AttackKind.Difgsm, AttackKind.Parse "difgsm")
        let e = Assert.Throws<ArgumentException>(fun () -> AttackKind.Parse "cw" |> ignore)
        Assert.Contains("EOTPGD", e.Message)

    [<Fact>]
    member _.``input diversity at probability 1 resizes and pads; at probability 0 it is the identity`` () =
        let x = Evaluation.images 4 2
        let s = { AttackSettings.Defaults AttackKind.Difgsm with DiversityProb = 1.0; Seed = 9UL }
        let moved = (Attacks.inputDiversity s 1 (Tensor.Constant x)).Primal
        Assert.Equal<int[]>(x.Shape, moved.Shape)
        Assert.NotEqual<float[]>(x.ToFloat64Array(), moved.ToFloat64Array())
        let kept = (Attacks.inputDiversity { s with DiversityProb = 0.0 } 1 (Tensor.Constant x)).Primal
        Assert.Equal<float[]>(x.ToFloat64Array(), kept.ToFloat64Array())

    [<Fact>]
    member _.``masking touches exactly the stated columns`` () = Check.run "mask columns" 100 (Evaluation.maskTouchesColumns false)

    [<Fact>]
    member _.``companion: on binary images the fill already occurs and hides some masked columns`` () = Check.fails "mask with fill in the image" 100 (Evaluation.maskTouchesColumns true)

    [<Fact>]
    member _.``brightness matches its formula and stays in the range`` () = Check.run "brightness" 100 (Evaluation.brightnessFormula true)

    [<Fact>]
    member _.``companion: without the clip brightness leaves [0, 1]`` () = Check.fails "brightness unclipped" 100 (Evaluation.brightnessFormula false)

    [<Fact>]
    member _.``contrast matches its formula and keeps each image's mean when α ≤ 1`` () = Check.run "contrast" 100 (Evaluation.contrastFormula 10)

    [<Fact>]
    member _.``companion: at α up to 5 the clip moves the mean`` () = Check.fails "contrast α ≤ 5" 100 (Evaluation.contrastFormula 50)

    [<Fact>]
    member _.``noise has the stated standard deviation away from the clip`` () = Check.run "noise σ" 20 (Evaluation.noiseHasSigma 0.5f)

    [<Fact>]
    member _.``companion: noise at the edge of the range is clipped below σ`` () = Check.fails "noise σ at the edge" 20 (Evaluation.noiseHasSigma 0.98f)

    [<Fact>]
    member _.``Modern Hopfield at large β retrieves the nearest stored pattern`` () = Check.run "mhn nearest" 100 (Evaluation.mhnNearest true)

    [<Fact>]
    member _.``companion: with unequal pattern norms the largest overlap is not the nearest`` () = Check.fails "mhn nearest, unequal norms" 100 (Evaluation.mhnNearest false)

    [<Fact>]
    member _.``Modern Hopfield runs one update by default and its energy does not rise over updates`` () =
        let x = Evaluation.patterns 3 10 64 true
        let mhn = ModernHopfield x
        let cue = Cpu.ofFloat64 [| 4; 64 |] (Rng.uniform64 5UL -1.0 1.0 256)
        Assert.Equal(1, (mhn.Retrieve cue).Updates)
        let beta = 0.3
        let mutable state = cue
        for _ in 1 .. 5 do
            let next = mhn.Retrieve(state, beta, 1, 1e-4).States
            Array.iter2 (fun before after -> Assert.True(after <= before + 1e-9, sprintf "energy rose from %g to %g" before after)) (mhn.Energy(state, beta)) (mhn.Energy(next, beta))
            state <- next

    [<Fact>]
    member _.``a predictive-coding network memorises five images: their masked halves come back`` () =
        let trained = Evaluation.pcnRecallError 300
        let untrained = Evaluation.pcnRecallError 0
        Assert.True(trained < 0.01, sprintf "after training the unknown half's MSE is %g" trained)
        Assert.True(untrained > 10.0 * trained, sprintf "untrained %g is not far above trained %g" untrained trained)

    [<Fact>]
    member _.``the baselines refuse empty or mis-shaped input with the shapes in the message`` () =
        let e = Assert.Throws<ArgumentException>(fun () -> ModernHopfield(Cpu.zeros Dtype.Float32 [| 0; 4 |]) |> ignore)
        Assert.Contains("N×d", e.Message)
        let mhn = ModernHopfield(Evaluation.patterns 1 3 8 true)
        let e2 = Assert.Throws<ArgumentException>(fun () -> mhn.Retrieve(Cpu.zeros Dtype.Float64 [| 2; 5 |]) |> ignore)
        Assert.Contains("M×8", e2.Message)
        let pcn = PredictiveCodingNetwork(16, Evaluation.pcnSettings 1, 1UL)
        let e3 = Assert.Throws<ArgumentException>(fun () -> pcn.LearnBatch(Cpu.zeros Dtype.Float32 [| 2; 15 |]) |> ignore)
        Assert.Contains("N×16", e3.Message)

type StatisticsTests() =

    [<Fact>]
    member _.``Welch's t-test matches a worked example`` () =
        // a = 1..5, b = 2, 4, 6, 8, 10: t = −1.897366596, df = 5.882352941, p = 0.107531 (numerical integration of the t density)
        let r = Statistics.welch [| 1.0; 2.0; 3.0; 4.0; 5.0 |] [| 2.0; 4.0; 6.0; 8.0; 10.0 |]
        Assert.Equal(-1.897366596, r.T, 6)
        Assert.Equal(5.882352941, r.DegreesOfFreedom, 6)
        Assert.InRange(r.P, 0.10753, 0.10754)

    [<Fact>]
    member _.``Welch's p-value is 1 for identical samples and tiny for far-apart ones`` () =
        Assert.Equal(1.0, (Statistics.welch [| 1.0; 2.0; 3.0 |] [| 1.0; 2.0; 3.0 |]).P, 12)
        Assert.True((Statistics.welch [| 1.0; 1.1; 0.9 |] [| 10.0; 10.1; 9.9 |]).P < 1e-5)
        Assert.Throws<ArgumentException>(fun () -> Statistics.welch [| 1.0 |] [| 2.0; 3.0 |] |> ignore) |> ignore
