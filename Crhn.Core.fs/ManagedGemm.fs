namespace Crhn.Core.Providers

open System
open System.Numerics.Tensors

/// TEMPORARY stand-in until the packed kernel lands (row-wise axpy GEMM).
module ManagedGemm =
    let kernelName = "axpy"
    let inline private gemmImpl (transA: bool) (transB: bool) (m: int) (n: int) (k: int) (alpha: ^T) (a: ^T[]) (aOff: int) (lda: int) (b: ^T[]) (bOff: int) (ldb: int) (beta: ^T) (c: ^T[]) (cOff: int) (ldc: int) =
        let row = Array.zeroCreate< ^T> n
        for i in 0 .. m - 1 do
            Array.Fill(row, LanguagePrimitives.GenericZero)
            for p in 0 .. k - 1 do
                let av = alpha * (if transA then a.[aOff + p * lda + i] else a.[aOff + i * lda + p])
                if transB then
                    for j in 0 .. n - 1 do row.[j] <- row.[j] + av * b.[bOff + j * ldb + p]
                else
                    TensorPrimitives.MultiplyAdd(ReadOnlySpan(b, bOff + p * ldb, n), av, ReadOnlySpan row, Span row)
            for j in 0 .. n - 1 do
                let ci = cOff + i * ldc + j
                c.[ci] <- (if beta = LanguagePrimitives.GenericZero then row.[j] else row.[j] + beta * c.[ci])
    let sgemm transA transB m n k (alpha: float32) a aOff lda b bOff ldb (beta: float32) c cOff ldc = gemmImpl transA transB m n k alpha a aOff lda b bOff ldb beta c cOff ldc
    let dgemm transA transB m n k (alpha: float) a aOff lda b bOff ldb (beta: float) c cOff ldc = gemmImpl transA transB m n k alpha a aOff lda b bOff ldb beta c cOff ldc
    let sgemmSerial = sgemm
    let dgemmSerial = dgemm
