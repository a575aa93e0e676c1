namespace Crhn.Core.Providers

open System

/// A thin singular value decomposition A = U·diag(S)·Vᵀ of an m×n row-major matrix with
/// k = min(m, n): U is m×k, S has k values in descending order, Vt is k×n, all row-major.
type SvdResult<'T> = { U: 'T[]; S: 'T[]; Vt: 'T[]; M: int; N: int }

/// The eigendecomposition A = V·diag(Values)·Vᵀ of a symmetric n×n matrix: Values in descending
/// order, Vectors row-major n×n with eigenvector j in column j.
type EigResult = { Values: float[]; Vectors: float[]; N: int }

/// Matrix transposes for the providers' layout changes.
module internal Transpose =

    /// The transpose of a row-major rows×cols matrix into d: 32×32 tiles, so that
    /// reads and writes both stay within a few cache lines per row of a tile; the tile rows are
    /// shared among the cores when the matrix is large.
    let tiledInto (rows: int) (cols: int) (x: 'T[]) (d: 'T[]) =
        let tile = 32
        let band (b: int) =
            let i0 = b * tile
            for j0 in 0 .. tile .. cols - 1 do
                for i in i0 .. min rows (i0 + tile) - 1 do
                    let row = i * cols
                    for j in j0 .. min cols (j0 + tile) - 1 do
                        d.[j * rows + i] <- x.[row + j]
        let bands = (rows + tile - 1) / tile
        if rows * cols >= (1 <<< 18) then Threading.Tasks.Parallel.For(0, bands, Action<int>(band)) |> ignore
        else for b in 0 .. bands - 1 do band b

    /// The transpose in a new array.
    let tiled (rows: int) (cols: int) (x: 'T[]) : 'T[] =
        let d = GC.AllocateUninitializedArray<'T>(rows * cols)
        tiledInto rows cols x d
        d

/// The narrow boundary between the engine and a dense linear-algebra library, over flat
/// row-major arrays plus dimensions (after MathNet.Numerics' ILinearAlgebraProvider). The managed
/// provider is always present and is the test oracle; a native provider overrides what it speeds up.
type ILinearAlgebraProvider =
    /// A short name: "managed" or "openblas".
    abstract Name: string
    /// What runs, for people: library, version, kernels, threads.
    abstract Description: string
    /// C ← α·op(A)·op(B) + β·C in float32, row-major (BLAS sgemm). op(A) is m×k, op(B) is k×n.
    /// transA: A is stored k×m. transB: B is stored n×k. β = 0 overwrites C, NaNs included.
    abstract Sgemm:
        transA: bool * transB: bool * m: int * n: int * k: int * alpha: float32 * a: float32[] * aOffset: int * lda: int *
        b: float32[] * bOffset: int * ldb: int * beta: float32 * c: float32[] * cOffset: int * ldc: int -> unit
    /// The float64 twin of Sgemm (BLAS dgemm).
    abstract Dgemm:
        transA: bool * transB: bool * m: int * n: int * k: int * alpha: float * a: float[] * aOffset: int * lda: int *
        b: float[] * bOffset: int * ldb: int * beta: float * c: float[] * cOffset: int * ldc: int -> unit
    /// Thin SVD of an m×n row-major float32 matrix (LAPACK sgesdd, jobz = 'S'). The input is not modified.
    abstract Sgesdd: m: int * n: int * a: float32[] -> SvdResult<float32>
    /// Thin SVD in float64 (LAPACK dgesdd, jobz = 'S').
    abstract Dgesdd: m: int * n: int * a: float[] -> SvdResult<float>
    /// Eigendecomposition of a symmetric n×n float64 matrix (LAPACK dsyevd, jobz = 'V'). Only one
    /// triangle is read; the input is not modified.
    abstract Dsyevd: n: int * a: float[] -> EigResult

/// Argument checks shared by every provider, made before any kernel or native call, so that no
/// call can read or write outside its arrays.
module ProviderChecks =

    let private fail (routine: string) (msg: string) (param: string) =
        raise (ArgumentException(sprintf "%s: %s" routine msg, param))

    /// Validates a GEMM call: non-negative sizes, leading dimensions at least the stored row
    /// length, offsets inside the arrays, and every addressed element inside its array.
    let gemm (routine: string) (transA: bool) (transB: bool) (m: int) (n: int) (k: int)
             (aLength: int) (aOffset: int) (lda: int) (bLength: int) (bOffset: int) (ldb: int)
             (cLength: int) (cOffset: int) (ldc: int) =
        if m < 0 || n < 0 || k < 0 then fail routine (sprintf "sizes must be non-negative, found m=%d n=%d k=%d" m n k) "m"
        let check (name: string) (rows: int) (cols: int) (len: int) (off: int) (ld: int) =
            if ld < max 1 cols then
                fail routine (sprintf "%s is stored %d×%d: expected a leading dimension of at least %d, found %d" name rows cols (max 1 cols) ld) ("ld" + name.ToLowerInvariant())
            if off < 0 then fail routine (sprintf "offset of %s must be non-negative, found %d" name off) (name.ToLowerInvariant() + "Offset")
            if rows > 0 && cols > 0 then
                let last = int64 off + int64 (rows - 1) * int64 ld + int64 cols
                if last > int64 len then
                    fail routine (sprintf "%s is stored %d×%d with leading dimension %d at offset %d: expected an array of at least %d elements, found %d" name rows cols ld off last len) (name.ToLowerInvariant())
        let aRows, aCols = if transA then k, m else m, k
        let bRows, bCols = if transB then n, k else k, n
        check "A" aRows aCols aLength aOffset lda
        check "B" bRows bCols bLength bOffset ldb
        check "C" m n cLength cOffset ldc

    /// Validates a symmetric eigendecomposition call: a positive size and exactly n² elements.
    let symmetric (routine: string) (n: int) (aLength: int) =
        if n <= 0 then fail routine (sprintf "expected a square matrix with a positive size, found %d×%d" n n) "n"
        if int64 n * int64 n <> int64 aLength then
            fail routine (sprintf "a %d×%d matrix needs %d elements, found %d" n n (int64 n * int64 n) aLength) "a"

    /// Validates an SVD call: positive sizes and an array of exactly m·n elements.
    let svd (routine: string) (m: int) (n: int) (aLength: int) =
        if m <= 0 || n <= 0 then fail routine (sprintf "expected a matrix with positive sizes, found %d×%d" m n) "m"
        if int64 m * int64 n <> int64 aLength then
            fail routine (sprintf "a %d×%d matrix needs %d elements, found %d" m n (int64 m * int64 n) aLength) "a"
