namespace Crhn.Core.Providers

#nowarn "9" // NativePtr: all pointers below point into pinned arrays or pinned pack buffers, within bounds.

open System
open System.Buffers
open System.Runtime.CompilerServices
open System.Runtime.Intrinsics
open System.Runtime.Intrinsics.X86
open System.Threading.Tasks
open Microsoft.FSharp.NativeInterop

/// <summary>
/// Packed, register-blocked general matrix multiply (GEMM) in managed code, mirroring BLAS <c>?gemm</c>
/// for row-major storage: <c>C &lt;- alpha * op(A) * op(B) + beta * C</c>.
/// </summary>
/// <remarks>
/// Goto/BLIS-style algorithm: op(A) and op(B) are copied ("packed") block by block into contiguous, 64-byte
/// aligned per-thread buffers laid out in the exact order the micro-kernel streams them; a register-blocked
/// micro-kernel (Vector512 with AVX-512, Vector256 with AVX2+FMA, scalar otherwise) computes MR x NR tiles of C
/// with all accumulators held in registers. Ragged edges are zero-padded during packing so the micro-kernel
/// always runs full tiles; only the valid part of an edge tile is written back to C. Large problems are split
/// across at most <c>Environment.ProcessorCount</c> threads (2-D grid over C, or over k with a final reduction
/// when C is tiny and k is long). Semantics follow reference BLAS: beta = 0 overwrites C without reading it
/// (NaN/Inf in C are ignored); alpha = 0 or k = 0 gives C &lt;- beta * C without reading A or B.
/// Arguments are validated by the caller; for valid arguments no element outside the logical matrices is read
/// or written.
/// </remarks>
module ManagedGemm =

    // ------------------------------------------------------------------------------------------------
    // Micro-kernel abstraction.
    //
    // Packed layouts (element type 'T):
    //   A panel: MR rows of op(A) x kc; element (r, p) at pa[p * MR + r]           (column of MR per k step)
    //   B panel: kc x NR columns of op(B); element (p, j) at pb[p * NR + j]        (row of NR per k step)
    // Tile computes, for the full MR x NR block of C at c (row stride ldc):
    //   mode 0: C <- alpha * A*B            (C not read; beta = 0)
    //   mode 1: C <- alpha * A*B + C        (beta = 1)
    //   mode 2: C <- alpha * A*B + beta * C
    // ------------------------------------------------------------------------------------------------

    [<AbstractClass>]
    type internal MicroKernel<'T when 'T : unmanaged>(mr: int, nr: int) =
        /// Rows of C per register tile.
        member _.MR = mr
        /// Columns of C per register tile.
        member _.NR = nr
        /// Full MR x NR tile (see layout comment above).
        abstract Tile :
            kc: int * pa: nativeptr<'T> * pb: nativeptr<'T> * c: nativeptr<'T> * ldc: int * alpha: 'T * beta: 'T * mode: int -> unit
        /// C[0..mv)[0..nv) <- T + (0 | 1 | beta) * C according to mode; T has row stride ldt.
        abstract Merge :
            t: nativeptr<'T> * ldt: int * c: nativeptr<'T> * ldc: int * mv: int * nv: int * beta: 'T * mode: int -> unit
        /// C[0..m)[0..n) <- beta * C (mode 0: zero, mode 1: unchanged).
        abstract Scale : m: int * n: int * c: nativeptr<'T> * ldc: int * beta: 'T * mode: int -> unit

    let inline private mergeImpl (t: nativeptr< ^T>) (ldt: int) (c: nativeptr< ^T>) (ldc: int) (mv: int) (nv: int) (beta: ^T) (mode: int) =
        for i in 0 .. mv - 1 do
            let tr = NativePtr.add t (i * ldt)
            let cr = NativePtr.add c (i * ldc)
            if mode = 0 then
                for j in 0 .. nv - 1 do NativePtr.set cr j (NativePtr.get tr j)
            elif mode = 1 then
                for j in 0 .. nv - 1 do NativePtr.set cr j (NativePtr.get tr j + NativePtr.get cr j)
            else
                for j in 0 .. nv - 1 do NativePtr.set cr j (NativePtr.get tr j + beta * NativePtr.get cr j)

    let inline private scaleImpl (m: int) (n: int) (c: nativeptr< ^T>) (ldc: int) (beta: ^T) (mode: int) =
        if mode <> 1 then
            for i in 0 .. m - 1 do
                let cr = NativePtr.add c (i * ldc)
                if mode = 0 then
                    for j in 0 .. n - 1 do NativePtr.set cr j LanguagePrimitives.GenericZero< ^T>
                else
                    for j in 0 .. n - 1 do NativePtr.set cr j (beta * NativePtr.get cr j)

    /// float32 kernels share the scalar edge/scale code.
    [<AbstractClass>]
    type internal KernelS(mr, nr) =
        inherit MicroKernel<float32>(mr, nr)
        override _.Merge(t, ldt, c, ldc, mv, nv, beta, mode) = mergeImpl t ldt c ldc mv nv beta mode
        override _.Scale(m, n, c, ldc, beta, mode) = scaleImpl m n c ldc beta mode

    /// float64 kernels share the scalar edge/scale code.
    [<AbstractClass>]
    type internal KernelD(mr, nr) =
        inherit MicroKernel<float>(mr, nr)
        override _.Merge(t, ldt, c, ldc, mv, nv, beta, mode) = mergeImpl t ldt c ldc mv nv beta mode
        override _.Scale(m, n, c, ldc, beta, mode) = scaleImpl m n c ldc beta mode

    // Write-back of one accumulator vector according to mode (see above).
    let inline private store512S (acc: Vector512<float32>) (va: Vector512<float32>) (vb: Vector512<float32>) (mode: int) (dst: nativeptr<float32>) =
        if mode = 0 then Vector512.Store(acc * va, dst)
        elif mode = 1 then Vector512.Store(Vector512.FusedMultiplyAdd(acc, va, Vector512.Load dst), dst)
        else Vector512.Store(Vector512.FusedMultiplyAdd(acc, va, vb * Vector512.Load dst), dst)

    let inline private store512D (acc: Vector512<float>) (va: Vector512<float>) (vb: Vector512<float>) (mode: int) (dst: nativeptr<float>) =
        if mode = 0 then Vector512.Store(acc * va, dst)
        elif mode = 1 then Vector512.Store(Vector512.FusedMultiplyAdd(acc, va, Vector512.Load dst), dst)
        else Vector512.Store(Vector512.FusedMultiplyAdd(acc, va, vb * Vector512.Load dst), dst)

    let inline private store256S (acc: Vector256<float32>) (va: Vector256<float32>) (vb: Vector256<float32>) (mode: int) (dst: nativeptr<float32>) =
        if mode = 0 then Vector256.Store(acc * va, dst)
        elif mode = 1 then Vector256.Store(Fma.MultiplyAdd(acc, va, Vector256.Load dst), dst)
        else Vector256.Store(Fma.MultiplyAdd(acc, va, vb * Vector256.Load dst), dst)

    let inline private store256D (acc: Vector256<float>) (va: Vector256<float>) (vb: Vector256<float>) (mode: int) (dst: nativeptr<float>) =
        if mode = 0 then Vector256.Store(acc * va, dst)
        elif mode = 1 then Vector256.Store(Fma.MultiplyAdd(acc, va, Vector256.Load dst), dst)
        else Vector256.Store(Fma.MultiplyAdd(acc, va, vb * Vector256.Load dst), dst)

    let inline private storeScalar (acc: ^T) (alpha: ^T) (beta: ^T) (mode: int) (dst: nativeptr< ^T>) =
        if mode = 0 then NativePtr.write dst (alpha * acc)
        elif mode = 1 then NativePtr.write dst (alpha * acc + NativePtr.read dst)
        else NativePtr.write dst (alpha * acc + beta * NativePtr.read dst)

    /// 12 x 32 register tile on Vector512<float32>: 24 accumulators, 2 B vectors and one broadcast per k step.
    [<Sealed>]
    type internal KernelS512() =
        inherit KernelS(12, 32)
        override _.Tile(kc, pa, pb, c, ldc, alpha, beta, mode) =
            let mutable c0_0 = Vector512<float32>.Zero
            let mutable c0_1 = Vector512<float32>.Zero
            let mutable c1_0 = Vector512<float32>.Zero
            let mutable c1_1 = Vector512<float32>.Zero
            let mutable c2_0 = Vector512<float32>.Zero
            let mutable c2_1 = Vector512<float32>.Zero
            let mutable c3_0 = Vector512<float32>.Zero
            let mutable c3_1 = Vector512<float32>.Zero
            let mutable c4_0 = Vector512<float32>.Zero
            let mutable c4_1 = Vector512<float32>.Zero
            let mutable c5_0 = Vector512<float32>.Zero
            let mutable c5_1 = Vector512<float32>.Zero
            let mutable c6_0 = Vector512<float32>.Zero
            let mutable c6_1 = Vector512<float32>.Zero
            let mutable c7_0 = Vector512<float32>.Zero
            let mutable c7_1 = Vector512<float32>.Zero
            let mutable c8_0 = Vector512<float32>.Zero
            let mutable c8_1 = Vector512<float32>.Zero
            let mutable c9_0 = Vector512<float32>.Zero
            let mutable c9_1 = Vector512<float32>.Zero
            let mutable c10_0 = Vector512<float32>.Zero
            let mutable c10_1 = Vector512<float32>.Zero
            let mutable c11_0 = Vector512<float32>.Zero
            let mutable c11_1 = Vector512<float32>.Zero
            let mutable a = pa
            let mutable b = pb
            let mutable p = kc
            while p > 0 do
                let b0 = Vector512.Load(NativePtr.add b 0)
                let b1 = Vector512.Load(NativePtr.add b 16)
                let a0 = Vector512.Create(NativePtr.get a 0)
                c0_0 <- Vector512.FusedMultiplyAdd(a0, b0, c0_0); c0_1 <- Vector512.FusedMultiplyAdd(a0, b1, c0_1)
                let a1 = Vector512.Create(NativePtr.get a 1)
                c1_0 <- Vector512.FusedMultiplyAdd(a1, b0, c1_0); c1_1 <- Vector512.FusedMultiplyAdd(a1, b1, c1_1)
                let a2 = Vector512.Create(NativePtr.get a 2)
                c2_0 <- Vector512.FusedMultiplyAdd(a2, b0, c2_0); c2_1 <- Vector512.FusedMultiplyAdd(a2, b1, c2_1)
                let a3 = Vector512.Create(NativePtr.get a 3)
                c3_0 <- Vector512.FusedMultiplyAdd(a3, b0, c3_0); c3_1 <- Vector512.FusedMultiplyAdd(a3, b1, c3_1)
                let a4 = Vector512.Create(NativePtr.get a 4)
                c4_0 <- Vector512.FusedMultiplyAdd(a4, b0, c4_0); c4_1 <- Vector512.FusedMultiplyAdd(a4, b1, c4_1)
                let a5 = Vector512.Create(NativePtr.get a 5)
                c5_0 <- Vector512.FusedMultiplyAdd(a5, b0, c5_0); c5_1 <- Vector512.FusedMultiplyAdd(a5, b1, c5_1)
                let a6 = Vector512.Create(NativePtr.get a 6)
                c6_0 <- Vector512.FusedMultiplyAdd(a6, b0, c6_0); c6_1 <- Vector512.FusedMultiplyAdd(a6, b1, c6_1)
                let a7 = Vector512.Create(NativePtr.get a 7)
                c7_0 <- Vector512.FusedMultiplyAdd(a7, b0, c7_0); c7_1 <- Vector512.FusedMultiplyAdd(a7, b1, c7_1)
                let a8 = Vector512.Create(NativePtr.get a 8)
                c8_0 <- Vector512.FusedMultiplyAdd(a8, b0, c8_0); c8_1 <- Vector512.FusedMultiplyAdd(a8, b1, c8_1)
                let a9 = Vector512.Create(NativePtr.get a 9)
                c9_0 <- Vector512.FusedMultiplyAdd(a9, b0, c9_0); c9_1 <- Vector512.FusedMultiplyAdd(a9, b1, c9_1)
                let a10 = Vector512.Create(NativePtr.get a 10)
                c10_0 <- Vector512.FusedMultiplyAdd(a10, b0, c10_0); c10_1 <- Vector512.FusedMultiplyAdd(a10, b1, c10_1)
                let a11 = Vector512.Create(NativePtr.get a 11)
                c11_0 <- Vector512.FusedMultiplyAdd(a11, b0, c11_0); c11_1 <- Vector512.FusedMultiplyAdd(a11, b1, c11_1)
                a <- NativePtr.add a 12
                b <- NativePtr.add b 32
                p <- p - 1
            let va = Vector512.Create(alpha)
            let vb = Vector512.Create(beta)
            let mutable cr = c
            store512S c0_0 va vb mode (NativePtr.add cr 0); store512S c0_1 va vb mode (NativePtr.add cr 16)
            cr <- NativePtr.add cr ldc
            store512S c1_0 va vb mode (NativePtr.add cr 0); store512S c1_1 va vb mode (NativePtr.add cr 16)
            cr <- NativePtr.add cr ldc
            store512S c2_0 va vb mode (NativePtr.add cr 0); store512S c2_1 va vb mode (NativePtr.add cr 16)
            cr <- NativePtr.add cr ldc
            store512S c3_0 va vb mode (NativePtr.add cr 0); store512S c3_1 va vb mode (NativePtr.add cr 16)
            cr <- NativePtr.add cr ldc
            store512S c4_0 va vb mode (NativePtr.add cr 0); store512S c4_1 va vb mode (NativePtr.add cr 16)
            cr <- NativePtr.add cr ldc
            store512S c5_0 va vb mode (NativePtr.add cr 0); store512S c5_1 va vb mode (NativePtr.add cr 16)
            cr <- NativePtr.add cr ldc
            store512S c6_0 va vb mode (NativePtr.add cr 0); store512S c6_1 va vb mode (NativePtr.add cr 16)
            cr <- NativePtr.add cr ldc
            store512S c7_0 va vb mode (NativePtr.add cr 0); store512S c7_1 va vb mode (NativePtr.add cr 16)
            cr <- NativePtr.add cr ldc
            store512S c8_0 va vb mode (NativePtr.add cr 0); store512S c8_1 va vb mode (NativePtr.add cr 16)
            cr <- NativePtr.add cr ldc
            store512S c9_0 va vb mode (NativePtr.add cr 0); store512S c9_1 va vb mode (NativePtr.add cr 16)
            cr <- NativePtr.add cr ldc
            store512S c10_0 va vb mode (NativePtr.add cr 0); store512S c10_1 va vb mode (NativePtr.add cr 16)
            cr <- NativePtr.add cr ldc
            store512S c11_0 va vb mode (NativePtr.add cr 0); store512S c11_1 va vb mode (NativePtr.add cr 16)

    /// 12 x 16 register tile on Vector512<float>: 24 accumulators, 2 B vectors and one broadcast per k step.
    [<Sealed>]
    type internal KernelD512() =
        inherit KernelD(12, 16)
        override _.Tile(kc, pa, pb, c, ldc, alpha, beta, mode) =
            let mutable c0_0 = Vector512<float>.Zero
            let mutable c0_1 = Vector512<float>.Zero
            let mutable c1_0 = Vector512<float>.Zero
            let mutable c1_1 = Vector512<float>.Zero
            let mutable c2_0 = Vector512<float>.Zero
            let mutable c2_1 = Vector512<float>.Zero
            let mutable c3_0 = Vector512<float>.Zero
            let mutable c3_1 = Vector512<float>.Zero
            let mutable c4_0 = Vector512<float>.Zero
            let mutable c4_1 = Vector512<float>.Zero
            let mutable c5_0 = Vector512<float>.Zero
            let mutable c5_1 = Vector512<float>.Zero
            let mutable c6_0 = Vector512<float>.Zero
            let mutable c6_1 = Vector512<float>.Zero
            let mutable c7_0 = Vector512<float>.Zero
            let mutable c7_1 = Vector512<float>.Zero
            let mutable c8_0 = Vector512<float>.Zero
            let mutable c8_1 = Vector512<float>.Zero
            let mutable c9_0 = Vector512<float>.Zero
            let mutable c9_1 = Vector512<float>.Zero
            let mutable c10_0 = Vector512<float>.Zero
            let mutable c10_1 = Vector512<float>.Zero
            let mutable c11_0 = Vector512<float>.Zero
            let mutable c11_1 = Vector512<float>.Zero
            let mutable a = pa
            let mutable b = pb
            let mutable p = kc
            while p > 0 do
                let b0 = Vector512.Load(NativePtr.add b 0)
                let b1 = Vector512.Load(NativePtr.add b 8)
                let a0 = Vector512.Create(NativePtr.get a 0)
                c0_0 <- Vector512.FusedMultiplyAdd(a0, b0, c0_0); c0_1 <- Vector512.FusedMultiplyAdd(a0, b1, c0_1)
                let a1 = Vector512.Create(NativePtr.get a 1)
                c1_0 <- Vector512.FusedMultiplyAdd(a1, b0, c1_0); c1_1 <- Vector512.FusedMultiplyAdd(a1, b1, c1_1)
                let a2 = Vector512.Create(NativePtr.get a 2)
                c2_0 <- Vector512.FusedMultiplyAdd(a2, b0, c2_0); c2_1 <- Vector512.FusedMultiplyAdd(a2, b1, c2_1)
                let a3 = Vector512.Create(NativePtr.get a 3)
                c3_0 <- Vector512.FusedMultiplyAdd(a3, b0, c3_0); c3_1 <- Vector512.FusedMultiplyAdd(a3, b1, c3_1)
                let a4 = Vector512.Create(NativePtr.get a 4)
                c4_0 <- Vector512.FusedMultiplyAdd(a4, b0, c4_0); c4_1 <- Vector512.FusedMultiplyAdd(a4, b1, c4_1)
                let a5 = Vector512.Create(NativePtr.get a 5)
                c5_0 <- Vector512.FusedMultiplyAdd(a5, b0, c5_0); c5_1 <- Vector512.FusedMultiplyAdd(a5, b1, c5_1)
                let a6 = Vector512.Create(NativePtr.get a 6)
                c6_0 <- Vector512.FusedMultiplyAdd(a6, b0, c6_0); c6_1 <- Vector512.FusedMultiplyAdd(a6, b1, c6_1)
                let a7 = Vector512.Create(NativePtr.get a 7)
                c7_0 <- Vector512.FusedMultiplyAdd(a7, b0, c7_0); c7_1 <- Vector512.FusedMultiplyAdd(a7, b1, c7_1)
                let a8 = Vector512.Create(NativePtr.get a 8)
                c8_0 <- Vector512.FusedMultiplyAdd(a8, b0, c8_0); c8_1 <- Vector512.FusedMultiplyAdd(a8, b1, c8_1)
                let a9 = Vector512.Create(NativePtr.get a 9)
                c9_0 <- Vector512.FusedMultiplyAdd(a9, b0, c9_0); c9_1 <- Vector512.FusedMultiplyAdd(a9, b1, c9_1)
                let a10 = Vector512.Create(NativePtr.get a 10)
                c10_0 <- Vector512.FusedMultiplyAdd(a10, b0, c10_0); c10_1 <- Vector512.FusedMultiplyAdd(a10, b1, c10_1)
                let a11 = Vector512.Create(NativePtr.get a 11)
                c11_0 <- Vector512.FusedMultiplyAdd(a11, b0, c11_0); c11_1 <- Vector512.FusedMultiplyAdd(a11, b1, c11_1)
                a <- NativePtr.add a 12
                b <- NativePtr.add b 16
                p <- p - 1
            let va = Vector512.Create(alpha)
            let vb = Vector512.Create(beta)
            let mutable cr = c
            store512D c0_0 va vb mode (NativePtr.add cr 0); store512D c0_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store512D c1_0 va vb mode (NativePtr.add cr 0); store512D c1_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store512D c2_0 va vb mode (NativePtr.add cr 0); store512D c2_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store512D c3_0 va vb mode (NativePtr.add cr 0); store512D c3_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store512D c4_0 va vb mode (NativePtr.add cr 0); store512D c4_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store512D c5_0 va vb mode (NativePtr.add cr 0); store512D c5_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store512D c6_0 va vb mode (NativePtr.add cr 0); store512D c6_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store512D c7_0 va vb mode (NativePtr.add cr 0); store512D c7_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store512D c8_0 va vb mode (NativePtr.add cr 0); store512D c8_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store512D c9_0 va vb mode (NativePtr.add cr 0); store512D c9_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store512D c10_0 va vb mode (NativePtr.add cr 0); store512D c10_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store512D c11_0 va vb mode (NativePtr.add cr 0); store512D c11_1 va vb mode (NativePtr.add cr 8)

    /// 6 x 16 register tile on Vector256<float32>: 12 accumulators, 2 B vectors and one broadcast per k step.
    [<Sealed>]
    type internal KernelS256() =
        inherit KernelS(6, 16)
        override _.Tile(kc, pa, pb, c, ldc, alpha, beta, mode) =
            let mutable c0_0 = Vector256<float32>.Zero
            let mutable c0_1 = Vector256<float32>.Zero
            let mutable c1_0 = Vector256<float32>.Zero
            let mutable c1_1 = Vector256<float32>.Zero
            let mutable c2_0 = Vector256<float32>.Zero
            let mutable c2_1 = Vector256<float32>.Zero
            let mutable c3_0 = Vector256<float32>.Zero
            let mutable c3_1 = Vector256<float32>.Zero
            let mutable c4_0 = Vector256<float32>.Zero
            let mutable c4_1 = Vector256<float32>.Zero
            let mutable c5_0 = Vector256<float32>.Zero
            let mutable c5_1 = Vector256<float32>.Zero
            let mutable a = pa
            let mutable b = pb
            let mutable p = kc
            while p > 0 do
                let b0 = Vector256.Load(NativePtr.add b 0)
                let b1 = Vector256.Load(NativePtr.add b 8)
                let a0 = Vector256.Create(NativePtr.get a 0)
                c0_0 <- Fma.MultiplyAdd(a0, b0, c0_0); c0_1 <- Fma.MultiplyAdd(a0, b1, c0_1)
                let a1 = Vector256.Create(NativePtr.get a 1)
                c1_0 <- Fma.MultiplyAdd(a1, b0, c1_0); c1_1 <- Fma.MultiplyAdd(a1, b1, c1_1)
                let a2 = Vector256.Create(NativePtr.get a 2)
                c2_0 <- Fma.MultiplyAdd(a2, b0, c2_0); c2_1 <- Fma.MultiplyAdd(a2, b1, c2_1)
                let a3 = Vector256.Create(NativePtr.get a 3)
                c3_0 <- Fma.MultiplyAdd(a3, b0, c3_0); c3_1 <- Fma.MultiplyAdd(a3, b1, c3_1)
                let a4 = Vector256.Create(NativePtr.get a 4)
                c4_0 <- Fma.MultiplyAdd(a4, b0, c4_0); c4_1 <- Fma.MultiplyAdd(a4, b1, c4_1)
                let a5 = Vector256.Create(NativePtr.get a 5)
                c5_0 <- Fma.MultiplyAdd(a5, b0, c5_0); c5_1 <- Fma.MultiplyAdd(a5, b1, c5_1)
                a <- NativePtr.add a 6
                b <- NativePtr.add b 16
                p <- p - 1
            let va = Vector256.Create(alpha)
            let vb = Vector256.Create(beta)
            let mutable cr = c
            store256S c0_0 va vb mode (NativePtr.add cr 0); store256S c0_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store256S c1_0 va vb mode (NativePtr.add cr 0); store256S c1_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store256S c2_0 va vb mode (NativePtr.add cr 0); store256S c2_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store256S c3_0 va vb mode (NativePtr.add cr 0); store256S c3_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store256S c4_0 va vb mode (NativePtr.add cr 0); store256S c4_1 va vb mode (NativePtr.add cr 8)
            cr <- NativePtr.add cr ldc
            store256S c5_0 va vb mode (NativePtr.add cr 0); store256S c5_1 va vb mode (NativePtr.add cr 8)

    /// 6 x 8 register tile on Vector256<float>: 12 accumulators, 2 B vectors and one broadcast per k step.
    [<Sealed>]
    type internal KernelD256() =
        inherit KernelD(6, 8)
        override _.Tile(kc, pa, pb, c, ldc, alpha, beta, mode) =
            let mutable c0_0 = Vector256<float>.Zero
            let mutable c0_1 = Vector256<float>.Zero
            let mutable c1_0 = Vector256<float>.Zero
            let mutable c1_1 = Vector256<float>.Zero
            let mutable c2_0 = Vector256<float>.Zero
            let mutable c2_1 = Vector256<float>.Zero
            let mutable c3_0 = Vector256<float>.Zero
            let mutable c3_1 = Vector256<float>.Zero
            let mutable c4_0 = Vector256<float>.Zero
            let mutable c4_1 = Vector256<float>.Zero
            let mutable c5_0 = Vector256<float>.Zero
            let mutable c5_1 = Vector256<float>.Zero
            let mutable a = pa
            let mutable b = pb
            let mutable p = kc
            while p > 0 do
                let b0 = Vector256.Load(NativePtr.add b 0)
                let b1 = Vector256.Load(NativePtr.add b 4)
                let a0 = Vector256.Create(NativePtr.get a 0)
                c0_0 <- Fma.MultiplyAdd(a0, b0, c0_0); c0_1 <- Fma.MultiplyAdd(a0, b1, c0_1)
                let a1 = Vector256.Create(NativePtr.get a 1)
                c1_0 <- Fma.MultiplyAdd(a1, b0, c1_0); c1_1 <- Fma.MultiplyAdd(a1, b1, c1_1)
                let a2 = Vector256.Create(NativePtr.get a 2)
                c2_0 <- Fma.MultiplyAdd(a2, b0, c2_0); c2_1 <- Fma.MultiplyAdd(a2, b1, c2_1)
                let a3 = Vector256.Create(NativePtr.get a 3)
                c3_0 <- Fma.MultiplyAdd(a3, b0, c3_0); c3_1 <- Fma.MultiplyAdd(a3, b1, c3_1)
                let a4 = Vector256.Create(NativePtr.get a 4)
                c4_0 <- Fma.MultiplyAdd(a4, b0, c4_0); c4_1 <- Fma.MultiplyAdd(a4, b1, c4_1)
                let a5 = Vector256.Create(NativePtr.get a 5)
                c5_0 <- Fma.MultiplyAdd(a5, b0, c5_0); c5_1 <- Fma.MultiplyAdd(a5, b1, c5_1)
                a <- NativePtr.add a 6
                b <- NativePtr.add b 8
                p <- p - 1
            let va = Vector256.Create(alpha)
            let vb = Vector256.Create(beta)
            let mutable cr = c
            store256D c0_0 va vb mode (NativePtr.add cr 0); store256D c0_1 va vb mode (NativePtr.add cr 4)
            cr <- NativePtr.add cr ldc
            store256D c1_0 va vb mode (NativePtr.add cr 0); store256D c1_1 va vb mode (NativePtr.add cr 4)
            cr <- NativePtr.add cr ldc
            store256D c2_0 va vb mode (NativePtr.add cr 0); store256D c2_1 va vb mode (NativePtr.add cr 4)
            cr <- NativePtr.add cr ldc
            store256D c3_0 va vb mode (NativePtr.add cr 0); store256D c3_1 va vb mode (NativePtr.add cr 4)
            cr <- NativePtr.add cr ldc
            store256D c4_0 va vb mode (NativePtr.add cr 0); store256D c4_1 va vb mode (NativePtr.add cr 4)
            cr <- NativePtr.add cr ldc
            store256D c5_0 va vb mode (NativePtr.add cr 0); store256D c5_1 va vb mode (NativePtr.add cr 4)

    /// 4 x 4 scalar register tile (portable fallback).
    [<Sealed>]
    type internal KernelSScalar() =
        inherit KernelS(4, 4)
        override _.Tile(kc, pa, pb, c, ldc, alpha, beta, mode) =
            let mutable c0_0 = 0.0f
            let mutable c0_1 = 0.0f
            let mutable c0_2 = 0.0f
            let mutable c0_3 = 0.0f
            let mutable c1_0 = 0.0f
            let mutable c1_1 = 0.0f
            let mutable c1_2 = 0.0f
            let mutable c1_3 = 0.0f
            let mutable c2_0 = 0.0f
            let mutable c2_1 = 0.0f
            let mutable c2_2 = 0.0f
            let mutable c2_3 = 0.0f
            let mutable c3_0 = 0.0f
            let mutable c3_1 = 0.0f
            let mutable c3_2 = 0.0f
            let mutable c3_3 = 0.0f
            let mutable a = pa
            let mutable b = pb
            let mutable p = kc
            while p > 0 do
                let b0 = NativePtr.get b 0
                let b1 = NativePtr.get b 1
                let b2 = NativePtr.get b 2
                let b3 = NativePtr.get b 3
                let a0 = NativePtr.get a 0
                c0_0 <- c0_0 + a0 * b0; c0_1 <- c0_1 + a0 * b1; c0_2 <- c0_2 + a0 * b2; c0_3 <- c0_3 + a0 * b3
                let a1 = NativePtr.get a 1
                c1_0 <- c1_0 + a1 * b0; c1_1 <- c1_1 + a1 * b1; c1_2 <- c1_2 + a1 * b2; c1_3 <- c1_3 + a1 * b3
                let a2 = NativePtr.get a 2
                c2_0 <- c2_0 + a2 * b0; c2_1 <- c2_1 + a2 * b1; c2_2 <- c2_2 + a2 * b2; c2_3 <- c2_3 + a2 * b3
                let a3 = NativePtr.get a 3
                c3_0 <- c3_0 + a3 * b0; c3_1 <- c3_1 + a3 * b1; c3_2 <- c3_2 + a3 * b2; c3_3 <- c3_3 + a3 * b3
                a <- NativePtr.add a 4
                b <- NativePtr.add b 4
                p <- p - 1
            let mutable cr = c
            storeScalar c0_0 alpha beta mode (NativePtr.add cr 0)
            storeScalar c0_1 alpha beta mode (NativePtr.add cr 1)
            storeScalar c0_2 alpha beta mode (NativePtr.add cr 2)
            storeScalar c0_3 alpha beta mode (NativePtr.add cr 3)
            cr <- NativePtr.add cr ldc
            storeScalar c1_0 alpha beta mode (NativePtr.add cr 0)
            storeScalar c1_1 alpha beta mode (NativePtr.add cr 1)
            storeScalar c1_2 alpha beta mode (NativePtr.add cr 2)
            storeScalar c1_3 alpha beta mode (NativePtr.add cr 3)
            cr <- NativePtr.add cr ldc
            storeScalar c2_0 alpha beta mode (NativePtr.add cr 0)
            storeScalar c2_1 alpha beta mode (NativePtr.add cr 1)
            storeScalar c2_2 alpha beta mode (NativePtr.add cr 2)
            storeScalar c2_3 alpha beta mode (NativePtr.add cr 3)
            cr <- NativePtr.add cr ldc
            storeScalar c3_0 alpha beta mode (NativePtr.add cr 0)
            storeScalar c3_1 alpha beta mode (NativePtr.add cr 1)
            storeScalar c3_2 alpha beta mode (NativePtr.add cr 2)
            storeScalar c3_3 alpha beta mode (NativePtr.add cr 3)

    /// 4 x 4 scalar register tile (portable fallback).
    [<Sealed>]
    type internal KernelDScalar() =
        inherit KernelD(4, 4)
        override _.Tile(kc, pa, pb, c, ldc, alpha, beta, mode) =
            let mutable c0_0 = 0.0
            let mutable c0_1 = 0.0
            let mutable c0_2 = 0.0
            let mutable c0_3 = 0.0
            let mutable c1_0 = 0.0
            let mutable c1_1 = 0.0
            let mutable c1_2 = 0.0
            let mutable c1_3 = 0.0
            let mutable c2_0 = 0.0
            let mutable c2_1 = 0.0
            let mutable c2_2 = 0.0
            let mutable c2_3 = 0.0
            let mutable c3_0 = 0.0
            let mutable c3_1 = 0.0
            let mutable c3_2 = 0.0
            let mutable c3_3 = 0.0
            let mutable a = pa
            let mutable b = pb
            let mutable p = kc
            while p > 0 do
                let b0 = NativePtr.get b 0
                let b1 = NativePtr.get b 1
                let b2 = NativePtr.get b 2
                let b3 = NativePtr.get b 3
                let a0 = NativePtr.get a 0
                c0_0 <- c0_0 + a0 * b0; c0_1 <- c0_1 + a0 * b1; c0_2 <- c0_2 + a0 * b2; c0_3 <- c0_3 + a0 * b3
                let a1 = NativePtr.get a 1
                c1_0 <- c1_0 + a1 * b0; c1_1 <- c1_1 + a1 * b1; c1_2 <- c1_2 + a1 * b2; c1_3 <- c1_3 + a1 * b3
                let a2 = NativePtr.get a 2
                c2_0 <- c2_0 + a2 * b0; c2_1 <- c2_1 + a2 * b1; c2_2 <- c2_2 + a2 * b2; c2_3 <- c2_3 + a2 * b3
                let a3 = NativePtr.get a 3
                c3_0 <- c3_0 + a3 * b0; c3_1 <- c3_1 + a3 * b1; c3_2 <- c3_2 + a3 * b2; c3_3 <- c3_3 + a3 * b3
                a <- NativePtr.add a 4
                b <- NativePtr.add b 4
                p <- p - 1
            let mutable cr = c
            storeScalar c0_0 alpha beta mode (NativePtr.add cr 0)
            storeScalar c0_1 alpha beta mode (NativePtr.add cr 1)
            storeScalar c0_2 alpha beta mode (NativePtr.add cr 2)
            storeScalar c0_3 alpha beta mode (NativePtr.add cr 3)
            cr <- NativePtr.add cr ldc
            storeScalar c1_0 alpha beta mode (NativePtr.add cr 0)
            storeScalar c1_1 alpha beta mode (NativePtr.add cr 1)
            storeScalar c1_2 alpha beta mode (NativePtr.add cr 2)
            storeScalar c1_3 alpha beta mode (NativePtr.add cr 3)
            cr <- NativePtr.add cr ldc
            storeScalar c2_0 alpha beta mode (NativePtr.add cr 0)
            storeScalar c2_1 alpha beta mode (NativePtr.add cr 1)
            storeScalar c2_2 alpha beta mode (NativePtr.add cr 2)
            storeScalar c2_3 alpha beta mode (NativePtr.add cr 3)
            cr <- NativePtr.add cr ldc
            storeScalar c3_0 alpha beta mode (NativePtr.add cr 0)
            storeScalar c3_1 alpha beta mode (NativePtr.add cr 1)
            storeScalar c3_2 alpha beta mode (NativePtr.add cr 2)
            storeScalar c3_3 alpha beta mode (NativePtr.add cr 3)

    // ------------------------------------------------------------------------------------------------
    // Blocking and per-thread pack buffers.
    // ------------------------------------------------------------------------------------------------

    /// Cache-block sizes (upper bounds; actual blocks are balanced so there is no tiny remainder block).
    [<Struct>]
    type internal Blocking = { MC: int; KC: int; NC: int }

    /// Per-thread pinned pack buffer, reused across calls (grown on demand, never shrunk).
    [<AbstractClass; Sealed>]
    type internal WorkBuffer<'T when 'T : unmanaged> =
        [<ThreadStatic; DefaultValue>]
        static val mutable private buffer : 'T[]
        static member Get(length: int) : 'T[] =
            let cur = WorkBuffer<'T>.buffer
            if not (obj.ReferenceEquals(cur, null)) && cur.Length >= length then cur
            else
                // Pinned object heap: the address never changes, so packed panels stay 64-byte aligned.
                let fresh = GC.AllocateUninitializedArray<'T>(length, true)
                WorkBuffer<'T>.buffer <- fresh
                fresh

    let inline private ceilDiv (a: int) (b: int) = (a + b - 1) / b
    let inline private roundUp (a: int) (b: int) = ceilDiv a b * b

    let inline private align64 (p: nativeptr<'T>) : nativeptr<'T> =
        let addr = NativePtr.toNativeInt p
        let mis = int (addr &&& 63n)
        if mis = 0 then p else NativePtr.ofNativeInt<'T> (addr + nativeint (64 - mis))

    // ------------------------------------------------------------------------------------------------
    // Packing.
    // ------------------------------------------------------------------------------------------------

    /// dst[0..cnt) <- src[0..cnt); dst[cnt..total) <- 0.
    let private copyPad (src: nativeptr<'T>) (dst: nativeptr<'T>) (cnt: int) (total: int) =
        let mutable i = 0
        if Vector512.IsHardwareAccelerated then
            while i <= cnt - Vector512<'T>.Count do
                Vector512.Store(Vector512.Load(NativePtr.add src i), NativePtr.add dst i)
                i <- i + Vector512<'T>.Count
        if Vector256.IsHardwareAccelerated then
            while i <= cnt - Vector256<'T>.Count do
                Vector256.Store(Vector256.Load(NativePtr.add src i), NativePtr.add dst i)
                i <- i + Vector256<'T>.Count
        if Vector128.IsHardwareAccelerated then
            while i <= cnt - Vector128<'T>.Count do
                Vector128.Store(Vector128.Load(NativePtr.add src i), NativePtr.add dst i)
                i <- i + Vector128<'T>.Count
        while i < cnt do
            NativePtr.set dst i (NativePtr.get src i)
            i <- i + 1
        while i < total do
            NativePtr.set dst i Unchecked.defaultof<'T>
            i <- i + 1

    /// Scalar part of a transposing copy: dst[p * width + q] <- src[q * ss + p] for q0 <= q < q1, p0 <= p < p1.
    let inline private transposeScalar (src: nativeptr<'T>) (ss: int) (q0: int) (q1: int) (width: int) (p0: int) (p1: int) (dst: nativeptr<'T>) =
        for q in q0 .. q1 - 1 do
            let s = NativePtr.add src (q * ss)
            let mutable d = NativePtr.add dst (p0 * width + q)
            for p in p0 .. p1 - 1 do
                NativePtr.write d (NativePtr.get s p)
                d <- NativePtr.add d width

    /// float32 transposing copy (AVX): 4 source rows x 8 k values are transposed in registers
    /// (unpack + shuffle within 128-bit lanes) and written as eight 4-wide pieces of destination rows.
    let private transposeS (src: nativeptr<float32>) (ss: int) (cols: int) (width: int) (kc: int) (dst: nativeptr<float32>) =
        let cols4 = cols &&& ~~~3
        let kc8 = kc &&& ~~~7
        let mutable p = 0
        while p < kc8 do
            let mutable q = 0
            while q < cols4 do
                let s0 = NativePtr.add src (q * ss + p)
                let r0 = Avx.LoadVector256 s0
                let r1 = Avx.LoadVector256(NativePtr.add s0 ss)
                let r2 = Avx.LoadVector256(NativePtr.add s0 (2 * ss))
                let r3 = Avx.LoadVector256(NativePtr.add s0 (3 * ss))
                let t0 = Avx.UnpackLow(r0, r1)   // a0 b0 a1 b1 | a4 b4 a5 b5
                let t1 = Avx.UnpackLow(r2, r3)   // c0 d0 c1 d1 | c4 d4 c5 d5
                let t2 = Avx.UnpackHigh(r0, r1)  // a2 b2 a3 b3 | a6 b6 a7 b7
                let t3 = Avx.UnpackHigh(r2, r3)  // c2 d2 c3 d3 | c6 d6 c7 d7
                let o0 = Avx.Shuffle(t0, t1, 0x44uy) // a0 b0 c0 d0 | a4 b4 c4 d4
                let o1 = Avx.Shuffle(t0, t1, 0xEEuy) // a1 b1 c1 d1 | a5 b5 c5 d5
                let o2 = Avx.Shuffle(t2, t3, 0x44uy) // a2 b2 c2 d2 | a6 b6 c6 d6
                let o3 = Avx.Shuffle(t2, t3, 0xEEuy) // a3 b3 c3 d3 | a7 b7 c7 d7
                let d = NativePtr.add dst (p * width + q)
                Vector128.Store(o0.GetLower(), d)
                Vector128.Store(o1.GetLower(), NativePtr.add d width)
                Vector128.Store(o2.GetLower(), NativePtr.add d (2 * width))
                Vector128.Store(o3.GetLower(), NativePtr.add d (3 * width))
                Vector128.Store(o0.GetUpper(), NativePtr.add d (4 * width))
                Vector128.Store(o1.GetUpper(), NativePtr.add d (5 * width))
                Vector128.Store(o2.GetUpper(), NativePtr.add d (6 * width))
                Vector128.Store(o3.GetUpper(), NativePtr.add d (7 * width))
                q <- q + 4
            p <- p + 8
        transposeScalar src ss 0 cols4 width kc8 kc dst
        transposeScalar src ss cols4 cols width 0 kc dst

    /// float64 transposing copy (AVX): 4 source rows x 4 k values transposed in registers.
    let private transposeD (src: nativeptr<float>) (ss: int) (cols: int) (width: int) (kc: int) (dst: nativeptr<float>) =
        let cols4 = cols &&& ~~~3
        let kc4 = kc &&& ~~~3
        let mutable p = 0
        while p < kc4 do
            let mutable q = 0
            while q < cols4 do
                let s0 = NativePtr.add src (q * ss + p)
                let r0 = Avx.LoadVector256 s0
                let r1 = Avx.LoadVector256(NativePtr.add s0 ss)
                let r2 = Avx.LoadVector256(NativePtr.add s0 (2 * ss))
                let r3 = Avx.LoadVector256(NativePtr.add s0 (3 * ss))
                let t0 = Avx.UnpackLow(r0, r1)   // a0 b0 | a2 b2
                let t1 = Avx.UnpackHigh(r0, r1)  // a1 b1 | a3 b3
                let t2 = Avx.UnpackLow(r2, r3)   // c0 d0 | c2 d2
                let t3 = Avx.UnpackHigh(r2, r3)  // c1 d1 | c3 d3
                let d = NativePtr.add dst (p * width + q)
                Avx.Store(d, Avx.Permute2x128(t0, t2, 0x20uy))                          // a0 b0 c0 d0
                Avx.Store(NativePtr.add d width, Avx.Permute2x128(t1, t3, 0x20uy))        // a1 b1 c1 d1
                Avx.Store(NativePtr.add d (2 * width), Avx.Permute2x128(t0, t2, 0x31uy))  // a2 b2 c2 d2
                Avx.Store(NativePtr.add d (3 * width), Avx.Permute2x128(t1, t3, 0x31uy))  // a3 b3 c3 d3
                q <- q + 4
            p <- p + 4
        transposeScalar src ss 0 cols4 width kc4 kc dst
        transposeScalar src ss cols4 cols width 0 kc dst

    /// Transposing copy: dst[p * width + q] <- src[q * ss + p] for q < cols, p < kc; zero for cols <= q < width.
    let private packTransposed (src: nativeptr<'T>) (ss: int) (cols: int) (width: int) (kc: int) (dst: nativeptr<'T>) =
        if Avx.IsSupported && Type.op_Equality(typeof<'T>, typeof<float32>) then
            transposeS (NativePtr.ofNativeInt (NativePtr.toNativeInt src)) ss cols width kc (NativePtr.ofNativeInt (NativePtr.toNativeInt dst))
        elif Avx.IsSupported && Type.op_Equality(typeof<'T>, typeof<float>) then
            transposeD (NativePtr.ofNativeInt (NativePtr.toNativeInt src)) ss cols width kc (NativePtr.ofNativeInt (NativePtr.toNativeInt dst))
        else
            // k in short chunks so the source rows and destination lines stay in L1.
            let mutable p0 = 0
            while p0 < kc do
                let pe = min kc (p0 + 16)
                transposeScalar src ss 0 cols width p0 pe dst
                p0 <- pe
        if cols < width then
            for p in 0 .. kc - 1 do
                let d = NativePtr.add dst (p * width)
                for q in cols .. width - 1 do NativePtr.set d q Unchecked.defaultof<'T>

    /// Packs op(A)[0..mc)[0..kc) (a = address of op(A)(0,0)) into MR-row panels: panel i/MR at dst + i*kc,
    /// element (r, p) at p*MR + r; rows past mc are zero.
    let private packA (mr: int) (transA: bool) (a: nativeptr<'T>) (lda: int) (mc: int) (kc: int) (dst: nativeptr<'T>) =
        if transA then
            // A stored k x m: op(A)(i, p) = a[p * lda + i]. Each stored row is read once, sequentially,
            // and scattered in MR-wide pieces into the panels.
            for p in 0 .. kc - 1 do
                let src = NativePtr.add a (p * lda)
                let mutable i = 0
                while i < mc do
                    copyPad (NativePtr.add src i) (NativePtr.add dst (i * kc + p * mr)) (min mr (mc - i)) mr
                    i <- i + mr
        else
            // A stored m x k: op(A)(i + r, p) = a[(i + r) * lda + p], contiguous in p: transpose.
            let mutable i = 0
            while i < mc do
                packTransposed (NativePtr.add a (i * lda)) lda (min mr (mc - i)) mr kc (NativePtr.add dst (i * kc))
                i <- i + mr

    /// Packs op(B)[0..kc)[0..nc) (b = address of op(B)(0,0)) into NR-column panels: panel j/NR at dst + j*kc,
    /// element (p, q) at p*NR + q; columns past nc are zero.
    let private packB (nr: int) (transB: bool) (b: nativeptr<'T>) (ldb: int) (kc: int) (nc: int) (dst: nativeptr<'T>) =
        if not transB then
            // B stored k x n: op(B)(p, j) = b[p * ldb + j]. Each stored row is read once, sequentially,
            // and scattered in NR-wide pieces into the panels.
            for p in 0 .. kc - 1 do
                let src = NativePtr.add b (p * ldb)
                let mutable j = 0
                while j < nc do
                    copyPad (NativePtr.add src j) (NativePtr.add dst (j * kc + p * nr)) (min nr (nc - j)) nr
                    j <- j + nr
        else
            // B stored n x k: op(B)(p, j + q) = b[(j + q) * ldb + p], contiguous in p: transpose.
            let mutable j = 0
            while j < nc do
                packTransposed (NativePtr.add b (j * ldb)) ldb (min nr (nc - j)) nr kc (NativePtr.add dst (j * kc))
                j <- j + nr

    // ------------------------------------------------------------------------------------------------
    // Single-threaded blocked driver (one thread's share of the work).
    // ------------------------------------------------------------------------------------------------

    /// Balanced block sizes for an m x n x k problem: struct (mcB, kcB, ncB).
    let private blockSizes (kern: MicroKernel<'T>) (bl: Blocking) (m: int) (n: int) (k: int) =
        let kcB = ceilDiv k (ceilDiv k bl.KC)
        let mcB = roundUp (ceilDiv m (ceilDiv m bl.MC)) kern.MR
        let ncB = roundUp (ceilDiv n (ceilDiv n bl.NC)) kern.NR
        struct (mcB, kcB, ncB)

    /// The tile at A micro-panel row ir and B micro-panel column jr of a block product (see
    /// macroKernel): an edge tile is computed in full into `tile` and only its valid part merged into C.
    let inline private tileAt (kern: MicroKernel<'T>) (mc: int) (nc: int) (kc: int) (ap: nativeptr<'T>) (bp: nativeptr<'T>)
                              (alpha: 'T) (beta: 'T) (mode: int) (c: nativeptr<'T>) (ldc: int) (tile: nativeptr<'T>) (ir: int) (jr: int) =
        let mv = min kern.MR (mc - ir)
        let nv = min kern.NR (nc - jr)
        let a = NativePtr.add ap (ir * kc)
        let b = NativePtr.add bp (jr * kc)
        let cTile = NativePtr.add c (ir * ldc + jr)
        if mv = kern.MR && nv = kern.NR then
            kern.Tile(kc, a, b, cTile, ldc, alpha, beta, mode)
        else
            kern.Tile(kc, a, b, tile, kern.NR, alpha, Unchecked.defaultof<'T>, 0)
            kern.Merge(tile, kern.NR, cTile, ldc, mv, nv, beta, mode)

    /// Runs the MR x NR tiles of one (mc x kc) x (kc x nc) block product. ap: packed A block (panels of MR rows,
    /// panel stride MR*kc); bp: packed B block (panels of NR columns, panel stride NR*kc); c: C(0,0) of the block.
    let inline private macroKernel (kern: MicroKernel<'T>) (mc: int) (nc: int) (kc: int)
                                   (ap: nativeptr<'T>) (bp: nativeptr<'T>)
                                   (alpha: 'T) (beta: 'T) (mode: int) (c: nativeptr<'T>) (ldc: int) (tile: nativeptr<'T>) =
        let mutable ir = 0
        while ir < mc do
            let mutable jr = 0
            while jr < nc do
                tileAt kern mc nc kc ap bp alpha beta mode c ldc tile ir jr
                jr <- jr + kern.NR
            ir <- ir + kern.MR

    /// macroKernel with the loops swapped: each kc x NR B micro-panel is brought into L1 once and
    /// used against every A micro-panel of the block (which stays in L2). For a packed B whose
    /// block does not fit in L2 and an A block of a few panels, this reads B from memory once
    /// instead of once per A micro-panel.
    let inline private macroKernelByColumns (kern: MicroKernel<'T>) (mc: int) (nc: int) (kc: int)
                                            (ap: nativeptr<'T>) (bp: nativeptr<'T>)
                                            (alpha: 'T) (beta: 'T) (mode: int) (c: nativeptr<'T>) (ldc: int) (tile: nativeptr<'T>) =
        let mutable jr = 0
        while jr < nc do
            let mutable ir = 0
            while ir < mc do
                tileAt kern mc nc kc ap bp alpha beta mode c ldc tile ir jr
                ir <- ir + kern.MR
            jr <- jr + kern.NR

    /// One thread's blocked GEMM on an m x n x k sub-problem (a, b, c point at op(A)(0,0), op(B)(0,0), C(0,0)).
    /// Loop nest (Goto/BLIS, arranged for row-major C where the vector direction is n):
    ///   ic (mcB rows: packed A block, L3) -> pc (kcB) -> pack A -> jc (ncB: packed B block, L2) -> pack B
    ///   -> ir (MR x kc A micro-panel, L1) -> jr (kc x NR B micro-panels streamed from L2) -> micro-kernel.
    /// The first k block applies the caller's beta; later k blocks accumulate (beta = 1).
    let private gemmSerial (kern: MicroKernel<'T>) (bl: Blocking) (transA: bool) (transB: bool)
                           (m: int) (n: int) (k: int) (alpha: 'T)
                           (a: nativeptr<'T>) (lda: int) (b: nativeptr<'T>) (ldb: int)
                           (beta: 'T) (mode: int) (c: nativeptr<'T>) (ldc: int) =
        let mr = kern.MR
        let nr = kern.NR
        let struct (mcB, kcB, ncB) = blockSizes kern bl m n k
        let aLen = roundUp (mcB * kcB) 16
        let bLen = roundUp (kcB * ncB) 16
        let tLen = roundUp (mr * nr) 16
        let buf = WorkBuffer<'T>.Get(aLen + bLen + tLen + 16)
        use pw = fixed buf
        let aBuf = align64 pw
        let bBuf = NativePtr.add aBuf aLen
        let tile = NativePtr.add bBuf bLen
        let mutable ic = 0
        while ic < m do
            let mcur = min mcB (m - ic)
            let mutable pc = 0
            while pc < k do
                let kcur = min kcB (k - pc)
                let aSrc = if transA then NativePtr.add a (pc * lda + ic) else NativePtr.add a (ic * lda + pc)
                packA mr transA aSrc lda mcur kcur aBuf
                let md = if pc = 0 then mode else 1
                let cBlk = NativePtr.add c (ic * ldc)
                let mutable jc = 0
                while jc < n do
                    let ncur = min ncB (n - jc)
                    let bSrc = if transB then NativePtr.add b (jc * ldb + pc) else NativePtr.add b (pc * ldb + jc)
                    packB nr transB bSrc ldb kcur ncur bBuf
                    macroKernel kern mcur ncur kcur aBuf bBuf alpha beta md (NativePtr.add cBlk jc) ldc tile
                    jc <- jc + ncB
                pc <- pc + kcB
            ic <- ic + mcB

    // ------------------------------------------------------------------------------------------------
    // Parallel decomposition.
    // ------------------------------------------------------------------------------------------------

    /// Below this many multiply-adds (64^3) the call runs on the calling thread only.
    let private parallelThreshold = 64.0 * 64.0 * 64.0

    /// Relative cost of packing one element, in multiply-add units (used to compare partitions).
    let private packCost = 16.0

    /// Fixed cost of a parallel dispatch (Parallel.For start/join, ~4 us here), in multiply-add units.
    let private parallelOverhead = 300000.0

    /// Largest total size (elements) of the per-thread partial C buffers for a split over k.
    let private maxPartialElements = 1L <<< 22

    /// Chooses how to split the work over at most `threads` workers: struct (pm, pn, pk) = parts along m, n, k.
    /// Splitting m or n duplicates packing of the other operand; splitting k needs a reduction of C partials.
    let private choosePlan (mr: int) (nr: int) (m: int) (n: int) (k: int) (threads: int) =
        let fm = float m
        let fn = float n
        let fk = float k
        let serial = float (roundUp m mr) * float (roundUp n nr) * fk + packCost * (fm * fk + fk * fn)
        let mutable best = serial
        let mutable plan = struct (1, 1, 1)
        if threads > 1 && fm * fn * fk >= parallelThreshold then
            for pm in 1 .. threads do
                let pn = threads / pm
                let cm = roundUp (ceilDiv m pm) mr
                let cn = roundUp (ceilDiv n pn) nr
                let parts = ceilDiv m cm * ceilDiv n cn
                if parts > 1 then
                    let cost =
                        float cm * float cn * fk + packCost * (float (min cm m) * fk + fk * float (min cn n)) + parallelOverhead
                    if cost < best then
                        best <- cost
                        plan <- struct (ceilDiv m cm, ceilDiv n cn, 1)
            let ck = ceilDiv k threads
            let pk = ceilDiv k ck
            if pk > 1 && int64 (pk - 1) * int64 m * int64 n <= maxPartialElements then
                let cost =
                    float (roundUp m mr) * float (roundUp n nr) * float ck
                    + packCost * (fm * float ck + float ck * fn + fm * fn * float pk) + parallelOverhead
                if cost < best then
                    best <- cost
                    plan <- struct (1, 1, pk)
        plan

    /// Full driver: picks a partition over at most `threads` workers, runs the per-thread blocked GEMM on each part.
    let private runGemm (threads: int) (kern: MicroKernel<'T>) (bl: Blocking) (transA: bool) (transB: bool)
                        (m: int) (n: int) (k: int) (alpha: 'T)
                        (a: nativeptr<'T>) (lda: int) (b: nativeptr<'T>) (ldb: int)
                        (beta: 'T) (mode: int) (c: nativeptr<'T>) (ldc: int) =
        let struct (pm, pn, pk) = choosePlan kern.MR kern.NR m n k threads
        if pm * pn * pk = 1 then
            gemmSerial kern bl transA transB m n k alpha a lda b ldb beta mode c ldc
        elif pk = 1 then
            let cm = ceilDiv m pm
            let cm = if pm > 1 then roundUp cm kern.MR else cm
            let cn = ceilDiv n pn
            let cn = if pn > 1 then roundUp cn kern.NR else cn
            let partsN = ceilDiv n cn
            let parts = ceilDiv m cm * partsN
            // Pointers are plain addresses of pinned data; the callers keep the arrays pinned until Parallel.For returns.
            let aAddr = NativePtr.toNativeInt a
            let bAddr = NativePtr.toNativeInt b
            let cAddr = NativePtr.toNativeInt c
            let body (t: int) =
                let i0 = (t / partsN) * cm
                let j0 = (t % partsN) * cn
                let mi = min cm (m - i0)
                let nj = min cn (n - j0)
                let a0 : nativeptr<'T> = NativePtr.ofNativeInt aAddr
                let b0 : nativeptr<'T> = NativePtr.ofNativeInt bAddr
                let c0 : nativeptr<'T> = NativePtr.ofNativeInt cAddr
                let ai = if transA then NativePtr.add a0 i0 else NativePtr.add a0 (i0 * lda)
                let bj = if transB then NativePtr.add b0 (j0 * ldb) else NativePtr.add b0 j0
                gemmSerial kern bl transA transB mi nj k alpha ai lda bj ldb beta mode (NativePtr.add c0 (i0 * ldc + j0)) ldc
            Parallel.For(0, parts, ParallelOptions(MaxDegreeOfParallelism = threads), Action<int>(body)) |> ignore
        else
            let ck = ceilDiv k pk
            let mn = m * n
            let partial = ArrayPool<'T>.Shared.Rent((pk - 1) * mn)
            try
                use pt = fixed partial
                let aAddr = NativePtr.toNativeInt a
                let bAddr = NativePtr.toNativeInt b
                let cAddr = NativePtr.toNativeInt c
                let tAddr = NativePtr.toNativeInt pt
                let body (t: int) =
                    let p0 = t * ck
                    let kk = min ck (k - p0)
                    let a0 : nativeptr<'T> = NativePtr.ofNativeInt aAddr
                    let b0 : nativeptr<'T> = NativePtr.ofNativeInt bAddr
                    let ap = if transA then NativePtr.add a0 (p0 * lda) else NativePtr.add a0 p0
                    let bp = if transB then NativePtr.add b0 p0 else NativePtr.add b0 (p0 * ldb)
                    if t = 0 then
                        gemmSerial kern bl transA transB m n kk alpha ap lda bp ldb beta mode (NativePtr.ofNativeInt cAddr) ldc
                    else
                        let tp : nativeptr<'T> = NativePtr.add (NativePtr.ofNativeInt tAddr) ((t - 1) * mn)
                        gemmSerial kern bl transA transB m n kk alpha ap lda bp ldb Unchecked.defaultof<'T> 0 tp n
                Parallel.For(0, pk, ParallelOptions(MaxDegreeOfParallelism = threads), Action<int>(body)) |> ignore
                for t in 1 .. pk - 1 do
                    kern.Merge(NativePtr.add pt ((t - 1) * mn), n, c, ldc, m, n, Unchecked.defaultof<'T>, 1)
            finally
                ArrayPool<'T>.Shared.Return(partial)

    // ------------------------------------------------------------------------------------------------
    // Right-hand operands packed once for many products.
    // ------------------------------------------------------------------------------------------------

    /// op(B) (k × n) in the micro-kernels' panel layout, packed once for many products op(A)·op(B)
    /// against it: k in blocks of at most KC rows (the block at row p0 starts at element p0·NPad),
    /// each block's columns in zero-padded panels of NR (columns j..j+NR−1 of a kc-row block at
    /// j·kc within it). A snapshot: later changes to the source do not reach it. Its storage is on
    /// the pinned heap, 64-byte aligned at Offset. With few rows in op(A), packing B is most of a
    /// product's cost (a 50-row product against a 1024×3072 weight spends about half its time
    /// there), so loops against a fixed matrix pack it once.
    type PackedRight<'T when 'T : unmanaged> internal (k: int, n: int, kcB: int, nPad: int, data: 'T[], offset: int) =
        /// Rows of op(B) (the inner dimension of the products).
        member _.K = k
        /// Columns of op(B) (and of the products).
        member _.N = n
        member internal _.KcB = kcB
        member internal _.NPad = nPad
        member internal _.Data = data
        member internal _.Offset = offset

    let private packRightWith (kern: MicroKernel<'T>) (bl: Blocking) (transB: bool) (k: int) (n: int) (b: nativeptr<'T>) (ldb: int) =
        let kcB = if k = 0 then 1 else ceilDiv k (ceilDiv k bl.KC)
        let nPad = roundUp n kern.NR
        let data = GC.AllocateUninitializedArray<'T>(k * nPad + 64 / sizeof<'T>, true)
        use pd = fixed data
        let offset = int ((NativePtr.toNativeInt (align64 pd) - NativePtr.toNativeInt pd) / nativeint sizeof<'T>)
        let dst = NativePtr.add pd offset
        let mutable pc = 0
        while pc < k do
            let kcur = min kcB (k - pc)
            let src = if transB then NativePtr.add b pc else NativePtr.add b (pc * ldb)
            packB kern.NR transB src ldb kcur n (NativePtr.add dst (pc * nPad))
            pc <- pc + kcB
        PackedRight<'T>(k, n, kcB, nPad, data, offset)

    /// At most this many rows in an A block, the packed driver runs each B micro-panel against all
    /// of them in turn (macroKernelByColumns): 128 rows of kc = 384 floats are 192 KB, within L2.
    let private byColumnsRows = 128

    /// gemmSerial against a packed B, for the columns j0 .. j0 + nj − 1 of C (j0 a multiple of NR):
    /// only A is packed here.
    let private gemmPackedSerial (kern: MicroKernel<'T>) (bl: Blocking) (transA: bool) (m: int) (j0: int) (nj: int) (alpha: 'T)
                                 (a: nativeptr<'T>) (lda: int) (pk: PackedRight<'T>) (bp0: nativeptr<'T>)
                                 (beta: 'T) (mode: int) (c: nativeptr<'T>) (ldc: int) =
        let mr = kern.MR
        let kcB = pk.KcB
        let mcB = roundUp (ceilDiv m (ceilDiv m bl.MC)) mr
        let ncB = roundUp (ceilDiv nj (ceilDiv nj bl.NC)) kern.NR
        let aLen = roundUp (mcB * kcB) 16
        let buf = WorkBuffer<'T>.Get(aLen + roundUp (mr * kern.NR) 16 + 16)
        use pw = fixed buf
        let aBuf = align64 pw
        let tile = NativePtr.add aBuf aLen
        let mutable ic = 0
        while ic < m do
            let mcur = min mcB (m - ic)
            let mutable pc = 0
            while pc < pk.K do
                let kcur = min kcB (pk.K - pc)
                packA mr transA (if transA then NativePtr.add a (pc * lda + ic) else NativePtr.add a (ic * lda + pc)) lda mcur kcur aBuf
                let md = if pc = 0 then mode else 1
                let mutable jc = 0
                while jc < nj do
                    let bp = NativePtr.add bp0 (pc * pk.NPad + (j0 + jc) * kcur)
                    let cBlk = NativePtr.add c (ic * ldc + j0 + jc)
                    if mcur <= byColumnsRows then macroKernelByColumns kern mcur (min ncB (nj - jc)) kcur aBuf bp alpha beta md cBlk ldc tile
                    else macroKernel kern mcur (min ncB (nj - jc)) kcur aBuf bp alpha beta md cBlk ldc tile
                    jc <- jc + ncB
                pc <- pc + kcB
            ic <- ic + mcB

    /// A product against a packed B on at most `threads` workers: C's columns split in multiples of
    /// NR when there are enough of them, else its rows in multiples of MR.
    let private runPacked (threads: int) (kern: MicroKernel<'T>) (bl: Blocking) (transA: bool) (m: int) (alpha: 'T)
                          (a: nativeptr<'T>) (lda: int) (pk: PackedRight<'T>) (beta: 'T) (mode: int) (c: nativeptr<'T>) (ldc: int) =
        use pd = fixed pk.Data
        let bp0 = NativePtr.add pd pk.Offset
        let n = pk.N
        let worthSplitting = threads > 1 && float m * float n * float pk.K >= parallelThreshold
        let byColumns = ceilDiv n kern.NR >= threads
        let size = if byColumns then roundUp (ceilDiv n threads) kern.NR else roundUp (ceilDiv m threads) kern.MR
        let parts = if not worthSplitting then 1 elif byColumns then ceilDiv n size else ceilDiv m size
        if parts <= 1 then gemmPackedSerial kern bl transA m 0 n alpha a lda pk bp0 beta mode c ldc
        else
            // Plain addresses of pinned data: a, c pinned by the caller and B on the pinned heap, until Parallel.For returns.
            let aAddr, bAddr, cAddr = NativePtr.toNativeInt a, NativePtr.toNativeInt bp0, NativePtr.toNativeInt c
            let body (t: int) =
                let a0 : nativeptr<'T> = NativePtr.ofNativeInt aAddr
                let b0 : nativeptr<'T> = NativePtr.ofNativeInt bAddr
                let c0 : nativeptr<'T> = NativePtr.ofNativeInt cAddr
                let lo = t * size
                if byColumns then
                    gemmPackedSerial kern bl transA m lo (min size (n - lo)) alpha a0 lda pk b0 beta mode c0 ldc
                else
                    let ai = if transA then NativePtr.add a0 lo else NativePtr.add a0 (lo * lda)
                    gemmPackedSerial kern bl transA (min size (m - lo)) 0 n alpha ai lda pk b0 beta mode (NativePtr.add c0 (lo * ldc)) ldc
            Parallel.For(0, parts, ParallelOptions(MaxDegreeOfParallelism = threads), Action<int>(body)) |> ignore

    // ------------------------------------------------------------------------------------------------
    // Kernel selection and blocking parameters.
    // ------------------------------------------------------------------------------------------------

    let private kernelS : MicroKernel<float32> =
        if Vector512.IsHardwareAccelerated then KernelS512() :> _
        elif Vector256.IsHardwareAccelerated && Fma.IsSupported then KernelS256() :> _
        else KernelSScalar() :> _

    let private kernelD : MicroKernel<float> =
        if Vector512.IsHardwareAccelerated then KernelD512() :> _
        elif Vector256.IsHardwareAccelerated && Fma.IsSupported then KernelD256() :> _
        else KernelDScalar() :> _

    // Blocking (upper bounds; blockSizes balances them). Cache sizes of the target (Sapphire Rapids class):
    // L1d 48 KB, L2 2 MB per core, large shared L3.
    //   float32, 12 x 32 kernel: KC = 384 -> one A micro-panel 12*384*4 = 18 KB stays in L1 while the B
    //     micro-panels (384*32*4 = 48 KB each) stream from L2; NC = 512 -> packed B block 384*512*4 = 768 KB
    //     (L2, leaves room for A panels and C); MC = 1536 -> packed A block 1536*384*4 = 2.25 MB (L3).
    //     Measured on 1024^3 and 2000^3: KC in 256..512 and NC in 512..1024 are within noise of each other.
    //   float64, 12 x 16 kernel: KC = 256 -> A micro-panel 12*256*8 = 24 KB; NC = 512 -> B block 1 MB;
    //     MC = 1024 -> A block 2 MB.
    // The AVX2 and scalar kernels reuse the same blocks (all are multiples of their MR and NR).
    let private blockingS = { MC = 1536; KC = 384; NC = 512 }
    let private blockingD = { MC = 1024; KC = 256; NC = 512 }

    // ------------------------------------------------------------------------------------------------
    // Public API.
    // ------------------------------------------------------------------------------------------------

    /// <summary>
    /// Single-precision GEMM, mirroring BLAS <c>sgemm</c> for row-major storage:
    /// <c>C &lt;- alpha * op(A) * op(B) + beta * C</c>, where op(A) is m x k, op(B) is k x n and C is m x n,
    /// i.e. <c>C[i,j] &lt;- alpha * sum_{p&lt;k} op(A)[i,p] * op(B)[p,j] + beta * C[i,j]</c>.
    /// </summary>
    /// <param name="threads">Most workers the call may use (1: the calling thread only).</param>
    /// <param name="transA">false: A is m x k, element (i,p) at a[aOffset + i*lda + p] (lda &gt;= k);
    /// true: A is stored k x m, op(A) = A^T, element (i,p) at a[aOffset + p*lda + i] (lda &gt;= m).</param>
    /// <param name="transB">false: B is k x n, element (p,j) at b[bOffset + p*ldb + j] (ldb &gt;= n);
    /// true: B is stored n x k, op(B) = B^T, element (p,j) at b[bOffset + j*ldb + p] (ldb &gt;= k).</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A) = rows of op(B). k = 0 gives C &lt;- beta * C.</param>
    /// <param name="alpha">Scale of the product; alpha = 0 gives C &lt;- beta * C without reading A or B.</param>
    /// <param name="a">Storage of A.</param>
    /// <param name="aOffset">Index of A's first element in a.</param>
    /// <param name="lda">Row stride (leading dimension) of the stored A.</param>
    /// <param name="b">Storage of B.</param>
    /// <param name="bOffset">Index of B's first element in b.</param>
    /// <param name="ldb">Row stride (leading dimension) of the stored B.</param>
    /// <param name="beta">Scale of the old C; beta = 0 overwrites C without reading it (NaN in C is ignored), as in BLAS.</param>
    /// <param name="c">Storage of C (m x n), element (i,j) at c[cOffset + i*ldc + j].</param>
    /// <param name="cOffset">Index of C's first element in c.</param>
    /// <param name="ldc">Row stride of C (ldc &gt;= n).</param>
    /// <remarks>Arguments are not validated here (the caller does it). Uses up to Environment.ProcessorCount threads
    /// for large products. The summation order differs from a naive loop (blocked, fused multiply-add).</remarks>
    let private sgemmOn (threads: int) (transA: bool) (transB: bool) (m: int) (n: int) (k: int) (alpha: float32)
              (a: float32[]) (aOffset: int) (lda: int) (b: float32[]) (bOffset: int) (ldb: int)
              (beta: float32) (c: float32[]) (cOffset: int) (ldc: int) : unit =
        if m > 0 && n > 0 then
            let mode = if beta = 0.0f then 0 elif beta = 1.0f then 1 else 2
            use pc = fixed c
            let cp = NativePtr.add pc cOffset
            if k = 0 || alpha = 0.0f then
                kernelS.Scale(m, n, cp, ldc, beta, mode)
            else
                use pa = fixed a
                use pb = fixed b
                runGemm threads kernelS blockingS transA transB m n k alpha (NativePtr.add pa aOffset) lda (NativePtr.add pb bOffset) ldb beta mode cp ldc

    /// <summary>
    /// Double-precision GEMM, mirroring BLAS <c>dgemm</c> for row-major storage:
    /// <c>C &lt;- alpha * op(A) * op(B) + beta * C</c>, where op(A) is m x k, op(B) is k x n and C is m x n,
    /// i.e. <c>C[i,j] &lt;- alpha * sum_{p&lt;k} op(A)[i,p] * op(B)[p,j] + beta * C[i,j]</c>.
    /// Same algorithm, argument conventions and edge-case semantics as the single-precision one.
    /// </summary>
    /// <param name="threads">Most workers the call may use (1: the calling thread only).</param>
    /// <param name="transA">false: A is m x k (lda &gt;= k); true: A is stored k x m and op(A) = A^T (lda &gt;= m).</param>
    /// <param name="transB">false: B is k x n (ldb &gt;= n); true: B is stored n x k and op(B) = B^T (ldb &gt;= k).</param>
    /// <param name="m">Rows of op(A) and C.</param>
    /// <param name="n">Columns of op(B) and C.</param>
    /// <param name="k">Columns of op(A) = rows of op(B). k = 0 gives C &lt;- beta * C.</param>
    /// <param name="alpha">Scale of the product; alpha = 0 gives C &lt;- beta * C without reading A or B.</param>
    /// <param name="a">Storage of A.</param>
    /// <param name="aOffset">Index of A's first element in a.</param>
    /// <param name="lda">Row stride of the stored A.</param>
    /// <param name="b">Storage of B.</param>
    /// <param name="bOffset">Index of B's first element in b.</param>
    /// <param name="ldb">Row stride of the stored B.</param>
    /// <param name="beta">Scale of the old C; beta = 0 overwrites C without reading it, as in BLAS.</param>
    /// <param name="c">Storage of C (m x n), element (i,j) at c[cOffset + i*ldc + j].</param>
    /// <param name="cOffset">Index of C's first element in c.</param>
    /// <param name="ldc">Row stride of C (ldc &gt;= n).</param>
    let private dgemmOn (threads: int) (transA: bool) (transB: bool) (m: int) (n: int) (k: int) (alpha: float)
              (a: float[]) (aOffset: int) (lda: int) (b: float[]) (bOffset: int) (ldb: int)
              (beta: float) (c: float[]) (cOffset: int) (ldc: int) : unit =
        if m > 0 && n > 0 then
            let mode = if beta = 0.0 then 0 elif beta = 1.0 then 1 else 2
            use pc = fixed c
            let cp = NativePtr.add pc cOffset
            if k = 0 || alpha = 0.0 then
                kernelD.Scale(m, n, cp, ldc, beta, mode)
            else
                use pa = fixed a
                use pb = fixed b
                runGemm threads kernelD blockingD transA transB m n k alpha (NativePtr.add pa aOffset) lda (NativePtr.add pb bOffset) ldb beta mode cp ldc

    /// The micro-kernel this CPU runs, for LinearAlgebra.Describe().
    let kernelName =
        if Vector512.IsHardwareAccelerated then "Vector512 12×32"
        elif Vector256.IsHardwareAccelerated && Fma.IsSupported then "Vector256 6×16"
        else "scalar 4×4"

    /// sgemm on every core (BLAS sgemm semantics, row-major; see sgemmOn).
    let sgemm transA transB m n k alpha a aOffset lda b bOffset ldb beta c cOffset ldc =
        sgemmOn Environment.ProcessorCount transA transB m n k alpha a aOffset lda b bOffset ldb beta c cOffset ldc

    /// dgemm on every core (BLAS dgemm semantics, row-major; see dgemmOn).
    let dgemm transA transB m n k alpha a aOffset lda b bOffset ldb beta c cOffset ldc =
        dgemmOn Environment.ProcessorCount transA transB m n k alpha a aOffset lda b bOffset ldb beta c cOffset ldc

    /// sgemm on the calling thread only, for callers that run their own parallel loop.
    let sgemmSerial transA transB m n k alpha a aOffset lda b bOffset ldb beta c cOffset ldc =
        sgemmOn 1 transA transB m n k alpha a aOffset lda b bOffset ldb beta c cOffset ldc

    /// dgemm on the calling thread only, for callers that run their own parallel loop.
    let dgemmSerial transA transB m n k alpha a aOffset lda b bOffset ldb beta c cOffset ldc =
        dgemmOn 1 transA transB m n k alpha a aOffset lda b bOffset ldb beta c cOffset ldc

    /// Packs op(B) (k × n; transB, b, bOffset, ldb as in sgemm) once, for sgemmPacked.
    let packRightS (transB: bool) (k: int) (n: int) (b: float32[]) (bOffset: int) (ldb: int) : PackedRight<float32> =
        use pb = fixed b
        packRightWith kernelS blockingS transB k n (NativePtr.add pb bOffset) ldb

    /// Packs op(B) (k × n; transB, b, bOffset, ldb as in dgemm) once, for dgemmPacked.
    let packRightD (transB: bool) (k: int) (n: int) (b: float[]) (bOffset: int) (ldb: int) : PackedRight<float> =
        use pb = fixed b
        packRightWith kernelD blockingD transB k n (NativePtr.add pb bOffset) ldb

    /// C ← alpha·op(A)·B + beta·C against a packed B on every core (the body of sgemmPacked and dgemmPacked).
    let inline private gemmPacked (kern: MicroKernel< ^T>) (bl: Blocking) (transA: bool) (m: int) (alpha: ^T) (a: ^T[]) (aOffset: int) (lda: int)
                                  (b: PackedRight< ^T>) (beta: ^T) (c: ^T[]) (cOffset: int) (ldc: int) =
        if m > 0 && b.N > 0 then
            let mode = if beta = LanguagePrimitives.GenericZero then 0 elif beta = LanguagePrimitives.GenericOne then 1 else 2
            use pc = fixed c
            let cp = NativePtr.add pc cOffset
            if b.K = 0 || alpha = LanguagePrimitives.GenericZero then kern.Scale(m, b.N, cp, ldc, beta, mode)
            else
                use pa = fixed a
                runPacked Environment.ProcessorCount kern bl transA m alpha (NativePtr.add pa aOffset) lda b beta mode cp ldc

    /// sgemm with a packed right-hand operand: C ← alpha·op(A)·B + beta·C, op(A) m × b.K, C m × b.N,
    /// on every core; the other arguments as in sgemm.
    let sgemmPacked (transA: bool) (m: int) (alpha: float32) (a: float32[]) (aOffset: int) (lda: int) (b: PackedRight<float32>)
                    (beta: float32) (c: float32[]) (cOffset: int) (ldc: int) =
        gemmPacked kernelS blockingS transA m alpha a aOffset lda b beta c cOffset ldc

    /// dgemm with a packed right-hand operand (see sgemmPacked).
    let dgemmPacked (transA: bool) (m: int) (alpha: float) (a: float[]) (aOffset: int) (lda: int) (b: PackedRight<float>)
                    (beta: float) (c: float[]) (cOffset: int) (ldc: int) =
        gemmPacked kernelD blockingD transA m alpha a aOffset lda b beta c cOffset ldc
