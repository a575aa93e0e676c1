namespace Crhn.Core.Providers

open Crhn
open System
open Crhn.Core.Native

/// GEMM and SVD through Debian's libopenblas.so.0 (CBLAS ?gemm, LAPACK ?gesdd). Loading is lazy
/// and probed: TryCreate returns the trace of every path it tried when the library is absent.
/// Products of at most SkinnyRows rows go to the managed kernels: OpenBLAS packs the whole
/// right-hand matrix for them, and the predictive-coding network's 12-row batches against a
/// 12288×256 weight ran 1.6–1.8× slower through it (BENCHMARKS.md, issue 6).
type OpenBlasProvider private (path: string) =
    static let skinny = ManagedProvider() :> ILinearAlgebraProvider

    /// Row counts (of the row-major product) at or below which GEMM runs on the managed kernels.
    static member SkinnyRows = 16

    static member private Install (path: string) =
        let threads = Environment.ProcessorCount
        OpenBlasNative.openblas_set_num_threads threads
        // A probe that must come out exact: [1 2; 3 4]·[5 6; 7 8] = [19 22; 43 50].
        let c = Array.zeroCreate<float32> 4
        OpenBlasNative.sgemm (false, false, 2, 2, 2, 1.0f, [| 1.0f; 2.0f; 3.0f; 4.0f |], 0, 2, [| 5.0f; 6.0f; 7.0f; 8.0f |], 0, 2, 0.0f, c, 0, 2)
        if c <> [| 19.0f; 22.0f; 43.0f; 50.0f |] then
            raise (ProviderUnavailableException(sprintf "OpenBLAS at %s loaded but its sgemm probe returned %A instead of [19; 22; 43; 50]" path c))
        OpenBlasProvider(path)

    /// Loads and verifies OpenBLAS, or explains why it could not: Ok provider, or Error trace.
    static member TryCreate() : Result<OpenBlasProvider, string> =
        match OpenBlasNative.loadResult.Force() with
        | OpenBlasNative.Loaded(_, path) ->
            try Ok(OpenBlasProvider.Install path)
            with e -> Error e.Message
        | OpenBlasNative.NotLoaded trace ->
            Error("OpenBLAS could not be loaded (install Debian's libopenblas0-pthread, or set CRHN_OPENBLAS_PATH). Tried:\n  " + String.Join("\n  ", trace))

    /// The kernels OpenBLAS runs on this CPU, as it names them (OPENBLAS_CORETYPE overrides it).
    member _.CoreName = OpenBlasNative.coreName ()

    interface ILinearAlgebraProvider with
        member _.Name = "openblas"
        member this.Description =
            let forced =
                match Environment.GetEnvironmentVariable "OPENBLAS_CORETYPE" with
                | null | "" -> "chosen by OpenBLAS for this CPU"
                | v -> sprintf "forced by OPENBLAS_CORETYPE=%s" v
            sprintf "openblas: %s (%s), %s kernels (%s), %d threads"
                path (OpenBlasNative.config ()) this.CoreName forced (OpenBlasNative.openblas_get_num_threads ())
        member _.Sgemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc) =
            ProviderChecks.gemm "sgemm" transA transB m n k a.Length aOffset lda b.Length bOffset ldb c.Length cOffset ldc
            if m > 0 && n > 0 then
                if m <= OpenBlasProvider.SkinnyRows then skinny.Sgemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc)
                else OpenBlasNative.sgemm (transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc)
        member _.Dgemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc) =
            ProviderChecks.gemm "dgemm" transA transB m n k a.Length aOffset lda b.Length bOffset ldb c.Length cOffset ldc
            if m > 0 && n > 0 then
                if m <= OpenBlasProvider.SkinnyRows then skinny.Dgemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc)
                else OpenBlasNative.dgemm (transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc)
        member _.Sgesdd(m, n, a) =
            ProviderChecks.svd "sgesdd" m n a.Length
            if m > n then OpenBlasNative.sgesddTallWith OpenBlasNative.fewestColumns OpenBlasNative.wellConditioned m n a else OpenBlasNative.sgesddOf m n a
        member _.Dgesdd(m, n, a) =
            ProviderChecks.svd "dgesdd" m n a.Length
            if m > n then OpenBlasNative.dgesddTallWith OpenBlasNative.fewestColumns OpenBlasNative.wellConditioned m n a else OpenBlasNative.dgesddOf m n a
        member _.Dsyevd(n, a) =
            ProviderChecks.symmetric "dsyevd" n a.Length
            OpenBlasNative.dsyevd n a
