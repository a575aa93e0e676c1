namespace Crhn.Properties

open System
open Xunit
open Xunit.Abstractions
open Crhn.Core
open Crhn.Core.Providers

/// Runs the engine's laws under xunit.
type EngineTests(output: ITestOutputHelper) =

    static member OpNames: obj[] seq = LawsGradients.cases |> Seq.map (fun (name, _) -> [| box name |])

    static member ProviderNames: obj[] seq = seq { yield [| box "managed" |]; yield [| box "openblas" |] }

    /// The provider by name, or None (reported) where OpenBLAS does not load. CI sets
    /// CRHN_REQUIRE_OPENBLAS=1, which turns its absence into a failure.
    member private _.Provider(name: string) =
        match name with
        | "managed" -> Some(Engine.Managed())
        | _ ->
            match Engine.OpenBlas() with
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

    [<Theory; MemberData(nameof EngineTests.ProviderNames)>]
    member this.``sgemm agrees with a float64 reference`` (provider: string) =
        this.Provider provider |> Option.iter (fun p -> Check.run (provider + " sgemm") 100 (LawsProviders.gemmAgrees p true))

    [<Theory; MemberData(nameof EngineTests.ProviderNames)>]
    member this.``dgemm agrees with a float64 reference`` (provider: string) =
        this.Provider provider |> Option.iter (fun p -> Check.run (provider + " dgemm") 100 (LawsProviders.gemmAgrees p false))

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
        let e = Assert.Throws<ArgumentException>(fun () -> Engine.choose "cuda" |> ignore)
        Assert.Contains("auto, openblas or managed", e.Message)

    [<Fact>]
    member _.``CRHN_BACKEND=managed selects the managed provider`` () =
        let p, why = Engine.choose "managed"
        Assert.Equal("managed", p.Name)
        Assert.Contains("managed", why)
