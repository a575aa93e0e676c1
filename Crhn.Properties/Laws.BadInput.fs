namespace Crhn.Properties

open System
open FsCheck
open FsCheck.FSharp
open Crhn.Core
open Crhn.Core.Providers

/// Bad input is refused at the boundary with an ArgumentException that names what was expected
/// and what was found, and no provider call (native or managed) runs with arguments that could
/// address outside its arrays.
module LawsBadInput =

    let private throwsArgument (f: unit -> unit) (mentions: string list) =
        try
            f ()
            false |> Prop.label "no exception"
        with
        | :? ArgumentException as e ->
            mentions |> List.forall (fun m -> e.Message.Contains m) |> Prop.label (sprintf "message %A does not mention %A" e.Message mentions)
        | e -> false |> Prop.label (sprintf "%s instead of ArgumentException" (e.GetType().Name))

    /// Two shapes of equal rank that do not broadcast (one axis differs, neither side is 1).
    let private clash =
        gen {
            let! a = Generators.shape 4
            let! axis = Gen.choose (0, a.Length - 1)
            let! extra = Gen.choose (1, 3)
            let b = Array.copy a
            b.[axis] <- (if a.[axis] = 1 then 2 else a.[axis]) + extra
            let a' = Array.copy a
            if a'.[axis] = 1 then a'.[axis] <- 2
            return a', b
        }

    let binaryMismatchNamesBothShapes =
        Prop.forAll (Arb.fromGen clash) (fun (sa, sb) ->
            let a = Tensor.Constant(Cpu.zeros Dtype.Float32 sa)
            let b = Tensor.Constant(Cpu.zeros Dtype.Float32 sb)
            throwsArgument (fun () -> a + b |> ignore) [ Shape.format sa; Shape.format sb ])

    let matmulMismatchNamesBothShapes =
        Prop.forAll (Arb.fromGen (Gen.zip3 Generators.dim Generators.dim Generators.dim)) (fun (m, k, n) ->
            let a = Tensor.Constant(Cpu.zeros Dtype.Float32 [| m; k |])
            let b = Tensor.Constant(Cpu.zeros Dtype.Float32 [| k + 1; n |])
            throwsArgument (fun () -> a.MatMul b |> ignore) [ Shape.format [| m; k |]; Shape.format [| k + 1; n |] ])

    let convChannelMismatchNamesBothShapes =
        Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (1, 4)) (Gen.choose (1, 4)) (Gen.choose (3, 9)))) (fun (c, o, h) ->
            let x = Tensor.Constant(Cpu.zeros Dtype.Float32 [| 1; c + 1; h; h |])
            let w = Tensor.Constant(Cpu.zeros Dtype.Float32 [| o; c; 3; 3 |])
            throwsArgument (fun () -> x.Conv2d w |> ignore) [ Shape.format [| 1; c + 1; h; h |]; Shape.format [| o; c; 3; 3 |] ])

    /// A GEMM whose A, B or C array is one element short, or whose leading dimension is one too
    /// small, is refused by every provider before any kernel runs.
    let gemmOutOfBoundsIsRefused (provider: ILinearAlgebraProvider) =
        let cases = LawsProviders.gemmGen |> Gen.filter (fun g -> g.M > 0 && g.N > 0 && g.K > 0)
        Prop.forAll (Arb.fromGen (Gen.zip cases (Gen.choose (0, 3)))) (fun (g, which) ->
            let a, b, c = Array.map float32 g.A, Array.map float32 g.B, Array.map float32 g.C
            let aRows, aCols = if g.TransA then g.K, g.M else g.M, g.K
            let bRows, bCols = if g.TransB then g.N, g.K else g.K, g.N
            // One element short of the last one the call addresses (the padding after it is not needed).
            let short (x: float32[]) (off: int) (rows: int) (ld: int) (cols: int) = x.[.. off + (rows - 1) * ld + cols - 2]
            let call (a: float32[]) lda (b: float32[]) ldb (c: float32[]) () =
                provider.Sgemm(g.TransA, g.TransB, g.M, g.N, g.K, 1.0f, a, g.AOffset, lda, b, g.BOffset, ldb, 0.0f, c, g.COffset, g.Ldc)
            match which with
            | 0 -> throwsArgument (call (short a g.AOffset aRows g.Lda aCols) g.Lda b g.Ldb c) [ "A" ]
            | 1 -> throwsArgument (call a g.Lda (short b g.BOffset bRows g.Ldb bCols) g.Ldb c) [ "B" ]
            | 2 -> throwsArgument (call a g.Lda b g.Ldb (short c g.COffset g.M g.Ldc g.N)) [ "C" ]
            | _ -> throwsArgument (call a (aCols - 1) b g.Ldb c) [ "leading dimension" ])

    /// An SVD whose array does not hold m·n elements is refused by every provider.
    let svdWrongLengthIsRefused (provider: ILinearAlgebraProvider) =
        Prop.forAll (Arb.fromGen (Gen.zip3 (Gen.choose (1, 20)) (Gen.choose (1, 20)) (Gen.elements [ -1; 1 ]))) (fun (m, n, d) ->
            throwsArgument (fun () -> provider.Sgesdd(m, n, Array.zeroCreate (m * n + d)) |> ignore) [ sprintf "%d×%d" m n ])

    /// Companion: the same calls with the right lengths run (so the refusals are not blanket).
    let gemmInBoundsRuns (provider: ILinearAlgebraProvider) =
        Prop.forAll (Arb.fromGen LawsProviders.gemmGen) (fun g ->
            LawsProviders.gemmError provider true g |> ignore
            true)
