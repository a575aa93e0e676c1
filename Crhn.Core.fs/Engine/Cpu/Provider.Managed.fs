namespace Crhn.Core.Providers

open MathNet.Numerics.LinearAlgebra
open MathNet.Numerics.LinearAlgebra.Factorization

/// The provider that is always there: Crhn's own packed FMA GEMM (ManagedGemm) and
/// MathNet.Numerics' managed SVD, made thin by a QR step (A = QR, SVD of the small R).
type ManagedProvider() =

    static let thinSvd (m: int) (n: int) (a: 'T[])
                       (gemm: int -> int -> int -> 'T[] -> 'T[] -> 'T[])
                       (build: int -> int -> 'T[] -> Matrix<'T>) : SvdResult<'T> =
        let transpose (rows: int) (cols: int) (x: 'T[]) = Array.init (rows * cols) (fun i -> x.[(i % rows) * cols + i / rows])
        // Work on a matrix with at least as many rows as columns: if m < n, factor Aᵀ = U'SV'ᵀ, so that U = V', Vᵀ = U'ᵀ.
        let tall = m >= n
        let rows, cols, data = if tall then m, n, a else n, m, transpose m n a
        let mat = build rows cols data
        let uTall, s, vt =
            if rows = cols then
                let svd = mat.Svd(true)
                svd.U.ToRowMajorArray(), svd.S.ToArray(), svd.VT.ToRowMajorArray()
            else
                let qr = mat.QR(QRMethod.Thin)
                let svd = qr.R.Svd(true)
                gemm rows cols cols (qr.Q.ToRowMajorArray()) (svd.U.ToRowMajorArray()), svd.S.ToArray(), svd.VT.ToRowMajorArray()
        let k = cols
        if tall then { U = uTall; S = s; Vt = vt; M = m; N = n }
        else { U = transpose k k vt; S = s; Vt = transpose rows k uTall; M = m; N = n }

    interface ILinearAlgebraProvider with
        member _.Name = "managed"
        member _.Description =
            sprintf "managed: Crhn packed GEMM (%s micro-kernel, %d threads), MathNet.Numerics %s managed SVD"
                ManagedGemm.kernelName (System.Environment.ProcessorCount)
                (typeof<Matrix<float>>.Assembly.GetName().Version.ToString())
        member _.Sgemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc) =
            ProviderChecks.gemm "sgemm" transA transB m n k a.Length aOffset lda b.Length bOffset ldb c.Length cOffset ldc
            ManagedGemm.sgemm transA transB m n k alpha a aOffset lda b bOffset ldb beta c cOffset ldc
        member _.Dgemm(transA, transB, m, n, k, alpha, a, aOffset, lda, b, bOffset, ldb, beta, c, cOffset, ldc) =
            ProviderChecks.gemm "dgemm" transA transB m n k a.Length aOffset lda b.Length bOffset ldb c.Length cOffset ldc
            ManagedGemm.dgemm transA transB m n k alpha a aOffset lda b bOffset ldb beta c cOffset ldc
        member _.Sgesdd(m, n, a) =
            ProviderChecks.svd "sgesdd" m n a.Length
            let gemm r c k (x: float32[]) (y: float32[]) =
                let out = Array.zeroCreate (r * c)
                ManagedGemm.sgemm false false r c k 1.0f x 0 k y 0 c 0.0f out 0 c
                out
            thinSvd m n a gemm (fun r c d -> Matrix<float32>.Build.DenseOfRowMajor(r, c, d))
        member _.Dgesdd(m, n, a) =
            ProviderChecks.svd "dgesdd" m n a.Length
            let gemm r c k (x: float[]) (y: float[]) =
                let out = Array.zeroCreate (r * c)
                ManagedGemm.dgemm false false r c k 1.0 x 0 k y 0 c 0.0 out 0 c
                out
            thinSvd m n a gemm (fun r c d -> Matrix<float>.Build.DenseOfRowMajor(r, c, d))
        member _.Dsyevd(n, a) =
            ProviderChecks.symmetric "dsyevd" n a.Length
            let lower = Array.init (n * n) (fun i -> let r, c = i / n, i % n in if r >= c then a.[i] else a.[c * n + r])
            let evd = Matrix<float>.Build.DenseOfRowMajor(n, n, lower).Evd(Symmetricity.Symmetric)
            let values = evd.EigenValues.ToArray() |> Array.map (fun z -> z.Real)
            let vectors = evd.EigenVectors.ToRowMajorArray()
            { Values = Array.init n (fun j -> values.[n - 1 - j])
              Vectors = Array.init (n * n) (fun i -> vectors.[(i / n) * n + n - 1 - i % n])
              N = n }
