namespace Crhn.Properties

open System
open Xunit
open Xunit.Abstractions
open Crhn.Core
open Crhn.Core.Providers
open FsCheck
open FsCheck.FSharp

/// Runs the engine's laws under xunit.
type EngineTests(output: ITestOutputHelper) =

    static member OpNames: obj[] seq = LawsGradients.cases |> Seq.map (fun (name, _) -> [| box name |])

    static member ProviderNames: obj[] seq = seq { yield [| box "managed" |]; yield [| box "openblas" |] }

    /// The provider by name, or None (reported) where OpenBLAS does not load. CI sets
    /// CRHN_REQUIRE_OPENBLAS=1, which turns its absence into a failure.
    member private _.Provider(name: string) =
        match name with
        | "managed" -> Some(LinearAlgebra.Managed())
        | _ ->
            match LinearAlgebra.OpenBlas() with
            | Ok p -> Some p
            | Error why ->
                if Environment.GetEnvironmentVariable "CRHN_REQUIRE_OPENBLAS" = "1" then failwith why
                output.WriteLine(sprintf "openblas dropped out of this run: %s" why)
                None

    [<Theory; MemberData(nameof EngineTests.OpNames)>]
    member _.``reverse rule agrees with central finite differences in float64`` (op: string) =
        Check.run op 100 (LawsGradients.gradientAgrees op)

    [<Fact>]
    member _.``sign's straight-through gradient is hardtanh's derivative`` () =
        Check.run "sign STE" 100 LawsGradients.signStraightThrough

    [<Fact>]
    member _.``a binary code is ±1 everywhere: sign with 0 → +1, straight through`` () =
        Check.run "binarize" 100 LawsGradients.binarizeIsACode

    [<Fact>]
    member _.``companion: plain sign leaves a zero pre-activation at 0, which is no code`` () =
        Check.fails "sign as a code" 100 LawsGradients.signIsNotACode

    [<Fact>]
    member _.``float32 conv2d is its definition within the rounding bound, on the direct kernel's shapes`` () =
        Check.run "conv2d float32 direct" 100 LawsConv.float32ForwardWithinRounding

    [<Fact>]
    member _.``float32 conv_transpose2d and conv2d's input gradient are their definition within the rounding bound, on the transposed kernels' shapes`` () =
        Check.run "conv_transpose2d float32 direct" 100 LawsConv.float32TransposeWithinRounding

    [<Fact>]
    member _.``companion: the transposed kernel's result is not the definition with the kernel turned`` () =
        Check.fails "conv_transpose2d flipped" 100 LawsConv.float32TransposeFlippedFails

    [<Fact>]
    member _.``float32 weight gradients of conv2d and conv_transpose2d are their definition within the rounding bound, on the weight kernels' shapes`` () =
        Check.run "conv2d weight gradient float32" 100 LawsConv.float32WeightGradientWithinRounding

    [<Fact>]
    member _.``companion: the weight kernels' gradient is not the definition with the taps turned`` () =
        Check.fails "conv2d weight gradient turned" 100 LawsConv.float32WeightGradientTurnedFails

    [<Fact>]
    member _.``float32 sums are within 4 roundings of the exact sum, whatever their length`` () =
        Check.run "sums" 100 LawsReduce.sumsAreAccurate

    [<Fact>]
    member _.``companion: one float32 accumulator misses that bound on large tensors`` () =
        Check.fails "one float32 accumulator" 100 LawsReduce.singleAccumulatorFails

    [<Fact>]
    member _.``float64 tanh is within 2 ulp of Math.Tanh, near 0 too`` () =
        Check.run "tanh float64" 100 LawsActivations.tanh64Accurate

    [<Fact>]
    member _.``companion: TensorPrimitives' float64 tanh cancels near 0`` () =
        Check.fails "TensorPrimitives tanh float64" 100 LawsActivations.tensorPrimitivesTanh64Fails

    [<Fact>]
    member _.``companion: sign's straight-through gradient is not sign's own derivative`` () =
        Check.fails "sign STE vs sign" 100 LawsGradients.signIsNotItsOwnDerivative

    [<Fact>]
    member _.``companion: a wrong reverse rule is caught`` () =
        Check.fails "wrong tanh rule" 100 LawsGradients.wrongRuleIsCaught

    [<Fact>]
    member _.``float32 tanh is within 2 ulp of float64 tanh`` () =
        Check.run "tanh float32" 100 LawsActivations.tanhAccurate

    [<Fact>]
    member _.``float32 sigmoid is within 4 ulp of float64 sigmoid`` () =
        Check.run "sigmoid float32" 100 LawsActivations.sigmoidAccurate

    [<Fact>]
    member _.``companion: tanh without its small-argument polynomial misses the bound`` () =
        Check.fails "naive tanh" 100 LawsActivations.tanhWithoutSmallBranchFails

    [<Fact>]
    member _.``conv2d matches its definition`` () =
        Check.run "conv2d definition" 100 LawsConv.forwardMatchesDefinition

    [<Fact>]
    member _.``conv_transpose2d is the adjoint of conv2d`` () =
        Check.run "conv adjoint" 100 LawsConv.transposeIsAdjoint

    [<Fact>]
    member _.``companion: a flipped kernel is not the adjoint`` () =
        Check.fails "flipped adjoint" 100 LawsConv.flippedKernelIsNotAdjoint

    [<Fact>]
    member _.``products against a packed matrix agree with float32 and float64 references`` () =
        Check.run "packed float32" 100 (LawsPacked.packedAgrees true)
        Check.run "packed float64" 100 (LawsPacked.packedAgrees false)

    [<Fact>]
    member _.``a packed product refuses a mismatched inner dimension or element type`` () =
        let packed = (Cpu.zeros Dtype.Float32 [| 3; 4 |]).PackRight false
        let e = Assert.ThrowsAny<ArgumentException>(fun () -> (Cpu.zeros Dtype.Float32 [| 2; 5 |]).MatMulPacked(false, packed) |> ignore)
        Assert.Contains("3×4", e.Message)
        let d = Assert.Throws<ArgumentException>(fun () -> (Cpu.zeros Dtype.Float64 [| 2; 3 |]).MatMulPacked(false, packed) |> ignore)
        Assert.Contains("Float32", d.Message)

    [<Fact>]
    member _.``companion: a packed matrix does not follow later changes to its source`` () =
        Check.fails "packed snapshot" 100 LawsPacked.packedIsASnapshot

    [<Fact>]
    member _.``float32 convolutions and their gradients agree with float64`` () =
        Check.run "conv float32" 100 LawsConv.float32AgreesWithFloat64

    [<Fact>]
    member _.``companion: float32 convolutions miss float64's tolerance`` () =
        Check.fails "conv float32 at 1e-10" 100 LawsConv.float32IsNotFloat64

    [<Theory; MemberData(nameof EngineTests.ProviderNames)>]
    member this.``sgemm agrees with a float64 reference`` (provider: string) =
        this.Provider provider |> Option.iter (fun p -> Check.run (provider + " sgemm") 100 (LawsProviders.gemmAgrees p true))

    [<Theory; MemberData(nameof EngineTests.ProviderNames)>]
    member this.``dgemm agrees with a float64 reference`` (provider: string) =
        this.Provider provider |> Option.iter (fun p -> Check.run (provider + " dgemm") 100 (LawsProviders.gemmAgrees p false))

    [<Theory; MemberData(nameof EngineTests.ProviderNames)>]
    member this.``GEMM deep inside large arrays agrees with a float64 reference`` (provider: string) =
        this.Provider provider |> Option.iter (fun p ->
            Check.run (provider + " deep sgemm") 15 (LawsProviders.deepGemmAgrees p true)
            Check.run (provider + " deep dgemm") 15 (LawsProviders.deepGemmAgrees p false))

    [<Fact>]
    member _.``companion: a GEMM off by one unit is caught`` () =
        Check.fails "perturbed gemm" 50 LawsProviders.perturbedGemmIsCaught

    [<Theory; MemberData(nameof EngineTests.ProviderNames)>]
    member this.``float32 SVD reconstructs with orthonormal factors`` (provider: string) =
        this.Provider provider |> Option.iter (fun p -> Check.run (provider + " sgesdd") 50 (LawsProviders.svdHolds p true))

    [<Theory; MemberData(nameof EngineTests.ProviderNames)>]
    member this.``float64 SVD reconstructs with orthonormal factors`` (provider: string) =
        this.Provider provider |> Option.iter (fun p -> Check.run (provider + " dgesdd") 50 (LawsProviders.svdHolds p false))

    [<Fact>]
    member _.``companion: non-orthonormal SVD factors are caught`` () =
        Check.fails "scaled svd" 50 LawsProviders.scaledFactorsAreCaught

    [<Theory; MemberData(nameof EngineTests.ProviderNames)>]
    member this.``tall SVD keeps orthonormal factors at any condition number`` (provider: string) =
        this.Provider provider |> Option.iter (fun p ->
            Check.run (provider + " tall sgesdd") 40 (LawsProviders.tallSvdHoldsAtAnyCondition p true)
            Check.run (provider + " tall dgesdd") 40 (LawsProviders.tallSvdHoldsAtAnyCondition p false))

    [<Fact>]
    member this.``an SVD with its steps overlapped on two cores keeps the bounds`` () =
        this.Provider "openblas" |> Option.iter (fun _ ->
            Check.run "overlapped gesdd" 40 (LawsProviders.overlappedSvdHolds Native.OpenBlasNative.sgesddOverlapped Native.OpenBlasNative.dgesddOverlapped))

    [<Fact>]
    member this.``companion: a tall SVD forming U as A·V·S⁻¹ at any condition is caught`` () =
        this.Provider "openblas" |> Option.iter (fun _ ->
            Check.fails "ungated tall svd" 30 (LawsProviders.ungatedTallSvdIsCaught (Native.OpenBlasNative.dgesddTallWith 0 infinity)))

    [<Theory; MemberData(nameof EngineTests.ProviderNames)>]
    member this.``symmetric eigendecomposition has orthonormal vectors and descending values`` (provider: string) =
        this.Provider provider |> Option.iter (fun p -> Check.run (provider + " dsyevd") 50 (LawsProviders.eigenHolds p))

    [<Fact>]
    member _.``companion: a non-symmetric matrix is not diagonalised by the symmetric solver`` () =
        Check.fails "non-symmetric eigen" 50 LawsProviders.nonSymmetricIsCaught

    [<Fact>]
    member _.``a broadcast mismatch names both shapes`` () =
        Check.run "binary mismatch" 100 LawsBadInput.binaryMismatchNamesBothShapes

    [<Fact>]
    member _.``a matmul mismatch names both shapes`` () =
        Check.run "matmul mismatch" 100 LawsBadInput.matmulMismatchNamesBothShapes

    [<Fact>]
    member _.``a conv channel mismatch names both shapes`` () =
        Check.run "conv mismatch" 100 LawsBadInput.convChannelMismatchNamesBothShapes

    [<Theory; MemberData(nameof EngineTests.ProviderNames)>]
    member this.``out-of-bounds GEMM arguments are refused before any kernel runs`` (provider: string) =
        this.Provider provider |> Option.iter (fun p ->
            Check.run (provider + " gemm bounds") 100 (LawsBadInput.gemmOutOfBoundsIsRefused p)
            Check.run (provider + " gemm in bounds") 50 (LawsBadInput.gemmInBoundsRuns p))

    [<Theory; MemberData(nameof EngineTests.ProviderNames)>]
    member this.``an SVD of the wrong length is refused`` (provider: string) =
        this.Provider provider |> Option.iter (fun p -> Check.run (provider + " svd length") 100 (LawsBadInput.svdWrongLengthIsRefused p))

    [<Fact>]
    member _.``CRHN_BACKEND names an unknown backend: a clear error`` () =
        let e = Assert.Throws<ArgumentException>(fun () -> LinearAlgebra.choose "cuda" |> ignore)
        Assert.Contains("expected auto, openblas, managed, cpu or torch[:cuda[:N]]", e.Message)

    [<Fact>]
    member _.``CRHN_BACKEND=managed selects the managed provider`` () =
        let p, why = LinearAlgebra.choose "managed"
        Assert.Equal("managed", p.Name)
        Assert.Contains("managed", why)

    /// A float32 tensor's storage (the engine's own array, shared: read-only here).
    static member private Storage(t: RawTensor) = (t :?> CpuTensor<float32>).Data

    /// Tanh of x, then its sum of squares, through fresh tensors: the shape of a training step.
    static member private Step(x: RawTensor) = x.Unary(UnaryOp.Tanh).Binary(BinaryOp.Mul, x).MulScalar 0.5

    [<Fact>]
    member _.``a pooled array is handed out again only once nothing refers to it`` () =
        // A length no other test uses, so that a test running alongside cannot take it first.
        let length = Kernels.Storage.Threshold + 29
        let held = Cpu.ofFloat32 [| length |] (Array.create length 1.0f)
        let storage = EngineTests.Storage held
        GC.Collect()
        GC.WaitForPendingFinalizers()
        let other = Kernels.Storage.uninit<float32> length
        Assert.False(obj.ReferenceEquals(storage, other), "a live tensor's storage came out of the pool")
        Assert.Equal(1.0f, (EngineTests.Storage held).[length - 1])
        GC.KeepAlive held
        Kernels.Storage.release other

    [<Fact>]
    member _.``a released scratch buffer from ScratchMinimum elements is handed out again, cleared where zeros are asked for; a shorter one is not kept`` () =
        // Lengths and an element type no other test uses.
        let length = Kernels.Storage.ScratchMinimum + 37
        let first = Kernels.Storage.scratch<uint16> length
        Array.fill first 0 length 7us
        Kernels.Storage.release first
        let again = Kernels.Storage.scratchZeros<uint16> length
        Assert.True(obj.ReferenceEquals(first, again), "a released scratch buffer was not handed out again")
        Assert.All(again, fun v -> Assert.Equal(0us, v))
        Kernels.Storage.release again
        let short = Kernels.Storage.scratch<uint16> (Kernels.Storage.ScratchMinimum - 1)
        Kernels.Storage.release short
        Assert.False(obj.ReferenceEquals(short, Kernels.Storage.scratch<uint16> (Kernels.Storage.ScratchMinimum - 1)), "a buffer below ScratchMinimum was pooled")

    /// Prop: Tiles.transposeInto writes dst[dOff + j·ld + i] = src[sOff + i·ls + j] for i < rows,
    /// j < cols and leaves every other element of dst as it was, for blocks of 1–40 rows and
    /// columns (whole 16×16 tiles and the edges beside them) with row strides and offsets to spare.
    /// Its assumption is that source and destination are apart; the companion transposes in place
    /// (dst = src, same offset, ld = ls = the larger side), where tiles overwrite each other's rows.
    static member private TransposeIsItsDefinition (inPlace: bool) =
        let cases =
            gen {
                let! rows = Gen.choose (1, 40)
                let! cols = Gen.choose (1, 40)
                let! spareS = Gen.choose (0, 5)
                let! spareD = Gen.choose (0, 5)
                let! sOff = Gen.choose (0, 7)
                let! dOff = Gen.choose (0, 7)
                return rows, cols, spareS, spareD, sOff, dOff
            }
        Prop.forAll (Arb.fromGen cases) (fun (rows, cols, spareS, spareD, sOff, dOff) ->
            let ls, ld = (if inPlace then max rows cols else cols + spareS), (if inPlace then max rows cols else rows + spareD)
            let dOff = if inPlace then sOff else dOff
            // In place, one square of the larger side holds both the block and its transpose.
            let src = Array.init (if inPlace then sOff + ls * ls else sOff + rows * ls) (fun i -> float32 i)
            let dst = if inPlace then src else Array.init (dOff + cols * ld) (fun i -> -float32 i - 1.0f)
            let before = Array.copy dst
            Kernels.Tiles.transposeInto rows cols src sOff ls dst dOff ld
            let expected = Array.copy before
            for i in 0 .. rows - 1 do
                for j in 0 .. cols - 1 do
                    expected.[dOff + j * ld + i] <- float32 (sOff + i * ls + j)
            let wrong = Seq.init dst.Length id |> Seq.tryFind (fun k -> dst.[k] <> expected.[k])
            wrong.IsNone |> Prop.label (sprintf "%d×%d: first wrong element %A" rows cols wrong))

    [<Fact>]
    member _.``a transposed block is its definition, in whole tiles and at the edges, and nothing else changes`` () =
        Check.run "transposeInto" 200 (EngineTests.TransposeIsItsDefinition false)

    [<Fact>]
    member _.``companion: transposed in place, the block's tiles overwrite each other`` () =
        Check.fails "transposeInto in place" 200 (EngineTests.TransposeIsItsDefinition true)

    /// Prop: with a collection before every step, recycling never changes a tensor that is still
    /// alive: a result kept from a first step stays bit for bit what it was while later steps on
    /// another input (each equal to that input's own result) take their storage from the pool.
    static member private RecyclingKeepsLiveTensors (releaseLive: bool) =
        // The companion's lengths differ from the property's: the array it hands back twice stays
        // among its own.
        let columns = Kernels.Storage.Threshold + (if releaseLive then 1 else 0)
        Prop.forAll (Gen.choose (1, 5) |> Arb.fromGen) (fun rows ->
            let length = rows * columns
            let x = Cpu.ofFloat32 [| rows; columns |] (Rng.uniform32 (uint64 rows) -2.0 2.0 length)
            let other = x.MulScalar 0.5
            let first = EngineTests.Step x
            let expected = first.ToFloat32Array()
            let expectedOther = (EngineTests.Step other).ToFloat32Array()
            let agree =
                Seq.init 4 (fun i ->
                    GC.Collect()
                    GC.WaitForPendingFinalizers()
                    // The broken assumption: a buffer handed back while a tensor still uses it
                    // (after the collection, so that it is the next one handed out).
                    if releaseLive && i = 0 then Kernels.Storage.release (EngineTests.Storage first)
                    (EngineTests.Step other).ToFloat32Array() = expectedOther && first.ToFloat32Array() = expected)
                |> Seq.forall id
            GC.KeepAlive first
            agree |> Prop.label (sprintf "rows %d" rows))

    [<Fact>]
    member _.``recycled storage never changes a live tensor`` () =
        Check.run "recycling" 20 (EngineTests.RecyclingKeepsLiveTensors false)

    [<Fact>]
    member _.``companion: an array handed back while still in use is overwritten by the next step`` () =
        Check.fails "release a live array" 20 (EngineTests.RecyclingKeepsLiveTensors true)

    /// Prop: a storage scope hands back only what was made inside it. Tensors made before a scope
    /// (an input, a result kept from an unscoped step) stay bit for bit what they were while four
    /// scoped steps recycle each other's arrays, every scoped step computes what an unscoped one
    /// does, and a result taken out of its scope with Keep() reads after the scope what it read
    /// inside. The companion drops the Keep(): the result is then refused after its scope (a
    /// refusal counts as "not what it read inside"; the next test pins the exception).
    static member private ScopedSteps (keep: bool) =
        // Lengths of their own, so that no other test takes these arrays.
        let columns = Kernels.Storage.Threshold + (if keep then 2 else 3)
        Prop.forAll (Gen.choose (1, 5) |> Arb.fromGen) (fun rows ->
            let length = rows * columns
            let x = Cpu.ofFloat32 [| rows; columns |] (Rng.uniform32 (uint64 rows) -2.0 2.0 length)
            let xValues = x.ToFloat32Array()
            let other = x.MulScalar 0.5
            let kept = EngineTests.Step x
            let keptValues = kept.ToFloat32Array()
            let expectedOther = (EngineTests.Step other).ToFloat32Array()
            let first, firstValues =
                use _ = Memory.Scope()
                let y = EngineTests.Step x
                (if keep then y.Keep() else y), y.ToFloat32Array()
            let stepsAgree =
                Seq.init 3 (fun _ ->
                    use _ = Memory.Scope()
                    (EngineTests.Step other).ToFloat32Array() = expectedOther)
                |> Seq.forall id
            let outsideKept = x.ToFloat32Array() = xValues && kept.ToFloat32Array() = keptValues && firstValues = keptValues
            let insideKept =
                try first.ToFloat32Array() = firstValues
                with :? ObjectDisposedException -> false
            (stepsAgree && outsideKept && insideKept) |> Prop.label (sprintf "rows %d" rows))

    [<Fact>]
    member _.``a storage scope recycles only what was made inside it and what Keep takes out stays`` () =
        Check.run "storage scope" 20 (EngineTests.ScopedSteps true)

    [<Fact>]
    member _.``companion: without Keep a result made inside a scope cannot be read after it`` () =
        Check.fails "tensor used after its scope" 20 (EngineTests.ScopedSteps false)

    [<Fact>]
    member _.``a tensor used after its scope ended raises ObjectDisposedException, and so do its views`` () =
        let length = Kernels.Storage.Threshold + 5
        let x = Cpu.ofFloat32 [| 1; length |] (Rng.uniform32 9UL -1.0 1.0 length)
        let inside, view =
            use _ = Memory.Scope()
            let y = EngineTests.Step x
            y, y.View [| length |]
        let error = Assert.Throws<ObjectDisposedException>(fun () -> inside.ToFloat32Array() |> ignore)
        Assert.Contains("Keep()", error.Message)
        Assert.Throws<ObjectDisposedException>(fun () -> view.AddScalar 1.0 |> ignore) |> ignore
        Assert.Throws<ObjectDisposedException>(fun () -> x.Binary(BinaryOp.Add, inside) |> ignore) |> ignore

    [<Fact>]
    member _.``the next scope reuses the arrays the last one handed back`` () =
        let length = Kernels.Storage.Threshold + 31
        let x = Cpu.ofFloat32 [| 1; length |] (Rng.uniform32 5UL -1.0 1.0 length)
        let storageIn () =
            use _ = Memory.Scope()
            EngineTests.Storage(EngineTests.Step x)
        let first = storageIn ()
        let second = storageIn ()
        Assert.True(obj.ReferenceEquals(first, second) || [ 1 .. 2 ] |> List.exists (fun _ -> obj.ReferenceEquals(first, storageIn ())),
                    "a scope's arrays did not come back for the next one")

    /// Prop: a weight used several times gets the sum of the gradients of its uses. W (d×d) enters
    /// H = tanh(X·op(W)), then 2–5 products op(W)·op(H) or op(H)·op(W) with random transposes (H is
    /// itself used by each) and an element-wise W ⊙ W; the tied gradient equals the sum of the
    /// gradients of untied copies, one per use, to 1e-10 in float64 (the backward pass adds later
    /// products into the first inside the GEMM). The companion keeps only the first copy's gradient.
    static member TiedGradientsAdd (allUses: bool) =
        let gen = Gen.zip3 Generators.seed (Gen.choose (2, 5)) (Gen.choose (1, 6))
        Prop.forAll (Arb.fromGen gen) (fun (seed, uses, d) ->
            let flags = Rng.uniform64 (Rng.derive seed 1) 0.0 1.0 (3 * uses + 1) |> Array.map (fun u -> u < 0.5)
            let make (stream: int) = Cpu.ofFloat64 [| d; d |] (Rng.uniform64 (Rng.derive seed stream) -1.0 1.0 (d * d))
            let x = Tensor.Constant(make 2)
            let loss (ws: Tensor[]) =
                let h = x.MatMul(ws.[0], false, flags.[0]).Tanh()
                let products =
                    Array.init uses (fun j ->
                        let w = ws.[j + 1]
                        let ta, tb = flags.[3 * j + 1], flags.[3 * j + 2]
                        let product = if flags.[3 * j + 3] then w.MatMul(h, ta, tb) else h.MatMul(w, ta, tb)
                        (product * Tensor.Constant(make (10 + j))).SumAll())
                Array.reduce (+) products + (ws.[uses + 1] * ws.[uses + 2]).SumAll() * 0.1
            let w = make 3
            let tied = Tensor.Parameter w
            (loss (Array.create (uses + 3) tied)).Backward()
            let copies = Array.init (uses + 3) (fun _ -> Tensor.Parameter(w.MulScalar 1.0))
            (loss copies).Backward()
            let grads = copies |> Array.map (fun c -> c.Grad.Value.ToFloat64Array())
            let expected = if allUses then Array.reduce (Array.map2 (+)) grads else grads.[0]
            let got = tied.Grad.Value.ToFloat64Array()
            let worst = Array.fold2 (fun acc (a: float) e -> max acc (abs (a - e) / (1.0 + abs e))) 0.0 got expected
            worst <= 1e-10 |> Prop.label (sprintf "%d uses, d = %d: largest relative difference %g" uses d worst))

    [<Fact>]
    member _.``a weight used several times gets the sum of its uses' gradients`` () =
        Check.run "tied gradients" 100 (EngineTests.TiedGradientsAdd true)

    [<Fact>]
    member _.``companion: the gradient of one use alone is not the tied gradient`` () =
        Check.fails "one use of a tied weight" 100 (EngineTests.TiedGradientsAdd false)

/// The storage pool's limit is process-wide: these tests set it, so no other test runs meanwhile.
[<CollectionDefinition("storage pool limit", DisableParallelization = true)>]
type StoragePoolCollection() = class end

/// How a full storage pool makes room.
[<Collection("storage pool limit")>]
type StoragePoolTests() =

    /// A pool filled to its limit with one workload's arrays (1 MB each, 256 MB), then a new length
    /// (64 MB) asked for and handed back: whether the next request for it gets the same array.
    /// With `oldAskedSince`, an old-length array is asked for (and handed back) after the new one
    /// was. int16 arrays, so that no other test's arrays share these pools; what the test leaves in
    /// the pool is taken out again and the limit restored. The limit is set 256 MB above what
    /// the pools hold already, and no other test runs meanwhile (this class's collection).
    static member private ReusedAfterAFullPool (oldAskedSince: bool) =
        let before = Kernels.Storage.MaxPooledBytes()
        let oldLength, newLength = (1 <<< 19) + 37, (1 <<< 25) + 41
        Kernels.Storage.SetMaxPooledBytes(Kernels.Storage.PooledBytes() + (256L <<< 20))
        try
            let old = Array.init 256 (fun _ -> Kernels.Storage.uninit<int16> oldLength)
            Array.iter Kernels.Storage.release old
            let fresh = Kernels.Storage.uninit<int16> newLength
            if oldAskedSince then Kernels.Storage.release (Kernels.Storage.uninit<int16> oldLength)
            Kernels.Storage.release fresh
            let reused = obj.ReferenceEquals(fresh, Kernels.Storage.uninit<int16> newLength)
            let mine = Collections.Generic.HashSet<int16[]>(HashIdentity.Reference)
            Array.iter (mine.Add >> ignore) old
            while mine.Contains(Kernels.Storage.uninit<int16> oldLength) do ()
            reused
        finally Kernels.Storage.SetMaxPooledBytes before

    [<Fact>]
    member _.``a full pool makes room for the length asked for now by dropping those of a finished workload`` () =
        Assert.True(StoragePoolTests.ReusedAfterAFullPool false, "the new length's array did not come back from a pool full of old ones")

    [<Fact>]
    member _.``companion: while the old length is still asked for, a full pool keeps it and turns the new one away`` () =
        Assert.False(StoragePoolTests.ReusedAfterAFullPool true, "the pool dropped arrays of a length still in use")
