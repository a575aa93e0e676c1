namespace Crhn.Properties

open System
open FsCheck
open FsCheck.FSharp
open Crhn.Core
open Crhn.Core.Providers

/// A generated GEMM: transposes, sizes, scalars, offsets and padded leading dimensions.
type GemmCase =
    { TransA: bool; TransB: bool; M: int; N: int; K: int; Alpha: float; Beta: float
      AOffset: int; BOffset: int; COffset: int; Pad: int; A: float[]; B: float[]; C: float[] }
    member g.Lda = max 1 (if g.TransA then g.M else g.K) + g.Pad
    member g.Ldb = max 1 (if g.TransB then g.K else g.N) + g.Pad
    member g.Ldc = max 1 g.N + g.Pad
    override g.ToString() =
        sprintf "%s%s m=%d n=%d k=%d α=%g β=%g offsets %d/%d/%d pad %d" (if g.TransA then "T" else "N") (if g.TransB then "T" else "N")
            g.M g.N g.K g.Alpha g.Beta g.AOffset g.BOffset g.COffset g.Pad

/// The providers agree with a float64 reference. GEMM bound (Higham, Accuracy and Stability,
/// §3.5): |fl(AB) − AB| ≤ γ_k |A||B| with γ_k ≈ k·u, u the unit roundoff (2⁻²⁴ for float32,
/// 2⁻⁵³ for float64); the check allows 2(k + 2)·u·(|α||A||B| + |β||C|) elementwise, plus one ulp
/// of the scale. SVD bounds: a backward-stable SVD reconstructs A to p·u·‖A‖_F and its factors are
/// orthonormal to p·u, with p = 10·max(m, n).
module LawsProviders =

    /// The managed provider always; OpenBLAS where it loads (otherwise the reason it dropped out).
    let providers () : (ILinearAlgebraProvider * string) list =
        [ yield LinearAlgebra.Managed(), "managed"
          match LinearAlgebra.OpenBlas() with
          | Ok p -> yield p, "openblas"
          | Error _ -> () ]

    let private size = Gen.frequency [ 5, Gen.choose (1, 40); 2, Gen.elements [ 1; 17; 31; 33; 64; 65; 127; 129 ]; 1, Gen.choose (100, 300) ]

    /// GEMM cases of sizes m from `rows`, n and k from `size`, each operand `offsets` elements
    /// into its array.
    let private gemmGenWith (rows: Gen<int>) (offsets: Gen<int>) =
        gen {
            let! ta = Gen.elements [ false; true ]
            let! tb = Gen.elements [ false; true ]
            let! m = rows
            let! n = size
            let! k = Gen.frequency [ 4, size; 1, Gen.constant 0; 1, Gen.constant 1 ]
            let! alpha = Gen.elements [ 1.0; -0.5; 2.0 ]
            let! beta = Gen.elements [ 0.0; 1.0; 0.5 ]
            let! ao, bo, co = Gen.zip3 offsets offsets offsets
            let! pad = Gen.elements [ 0; 0; 3 ]
            let proto = { TransA = ta; TransB = tb; M = m; N = n; K = k; Alpha = alpha; Beta = beta; AOffset = ao; BOffset = bo; COffset = co; Pad = pad; A = [||]; B = [||]; C = [||] }
            let aRows = if ta then k else m
            let bRows = if tb then n else k
            let! a = Generators.values -1.0 1.0 [| ao + aRows * proto.Lda |]
            let! b = Generators.values -1.0 1.0 [| bo + bRows * proto.Ldb |]
            let! c = Generators.values -1.0 1.0 [| co + m * proto.Ldc |]
            return { proto with A = a; B = b; C = c }
        }

    let gemmGen = gemmGenWith size (Gen.choose (0, 3))

    /// GEMM cases deep inside large arrays: offsets of 600,000 elements and more, where the
    /// offset times the array's bytes passes 2³¹, and more than OpenBlasProvider.SkinnyRows rows,
    /// so that the OpenBLAS provider hands them to the library (its pointer arithmetic once
    /// wrapped there, and OpenBLAS read and wrote elsewhere in memory).
    let deepGemmGen = gemmGenWith (Gen.choose (17, 40)) (Gen.choose (600_000, 700_000))

    /// C_ref = α·op(A)op(B) + β·C in float64, and the elementwise error bound scale |α||A||B| + |β||C|.
    let reference (g: GemmCase) =
        let a i p = if g.TransA then g.A.[g.AOffset + p * g.Lda + i] else g.A.[g.AOffset + i * g.Lda + p]
        let b p j = if g.TransB then g.B.[g.BOffset + j * g.Ldb + p] else g.B.[g.BOffset + p * g.Ldb + j]
        Array.init (g.M * g.N) (fun ij ->
            let i, j = ij / g.N, ij % g.N
            let mutable acc, mag = 0.0, 0.0
            for p in 0 .. g.K - 1 do
                acc <- acc + a i p * b p j
                mag <- mag + abs (a i p * b p j)
            let c = g.C.[g.COffset + i * g.Ldc + j]
            g.Alpha * acc + g.Beta * c, abs g.Alpha * mag + abs g.Beta * abs c)

    /// The largest error relative to the bound (≤ 1 passes); untouched padding must stay as it was.
    let gemmError (provider: ILinearAlgebraProvider) (single: bool) (g: GemmCase) =
        let u = if single then (pown 2.0 -24) else (pown 2.0 -53)
        let result =
            if single then
                let c = Array.map float32 g.C
                provider.Sgemm(g.TransA, g.TransB, g.M, g.N, g.K, float32 g.Alpha, Array.map float32 g.A, g.AOffset, g.Lda,
                               Array.map float32 g.B, g.BOffset, g.Ldb, float32 g.Beta, c, g.COffset, g.Ldc)
                Array.map float c
            else
                let c = Array.copy g.C
                provider.Dgemm(g.TransA, g.TransB, g.M, g.N, g.K, g.Alpha, g.A, g.AOffset, g.Lda, g.B, g.BOffset, g.Ldb, g.Beta, c, g.COffset, g.Ldc)
                c
        // Inputs were rounded to float32 too: compare with the reference on the rounded inputs.
        let g' = if single then { g with A = Array.map (float32 >> float) g.A; B = Array.map (float32 >> float) g.B; C = Array.map (float32 >> float) g.C } else g
        let expected = reference g'
        let mutable worst = 0.0
        for i in 0 .. g.M - 1 do
            for j in 0 .. g.N - 1 do
                let e, scale = expected.[i * g.N + j]
                let bound = 2.0 * float (g.K + 2) * u * scale + u * abs e + Double.Epsilon
                worst <- max worst (abs (result.[g.COffset + i * g.Ldc + j] - e) / bound)
        let paddingKept =
            result |> Array.indexed |> Array.forall (fun (idx, v) ->
                let rel = idx - g.COffset
                let inside = rel >= 0 && rel / g.Ldc < g.M && rel % g.Ldc < g.N
                inside || v = g'.C.[idx])
        if paddingKept then worst else infinity

    let private agreesOn (cases: Gen<GemmCase>) (provider: ILinearAlgebraProvider) (single: bool) =
        Prop.forAll (Arb.fromGen cases) (fun g ->
            let e = gemmError provider single g
            e <= 1.0 |> Prop.label (sprintf "%s %s: error %.3g × the bound (∞: wrote outside C's block)" provider.Name (if single then "sgemm" else "dgemm") e))

    let gemmAgrees (provider: ILinearAlgebraProvider) (single: bool) = agreesOn gemmGen provider single

    /// The same bound for operands hundreds of thousands of elements into their arrays.
    let deepGemmAgrees (provider: ILinearAlgebraProvider) (single: bool) = agreesOn deepGemmGen provider single

    /// Companion: a result off by one unit in one element of C (a kernel that drops a term) is
    /// caught by the same bound.
    let perturbedGemmIsCaught =
        Prop.forAll (Arb.fromGen (gemmGen |> Gen.filter (fun g -> g.M > 0 && g.N > 0))) (fun g ->
            let broken =
                { new ILinearAlgebraProvider with
                    member _.Name = "broken"
                    member _.Description = "managed with one element off by 1"
                    member _.Sgemm(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc) =
                        LinearAlgebra.Managed().Sgemm(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc)
                        c.[co] <- c.[co] + 1.0f
                    member _.Dgemm(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc) =
                        LinearAlgebra.Managed().Dgemm(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc)
                        c.[co] <- c.[co] + 1.0
                    member _.Sgesdd(m, n, a) = LinearAlgebra.Managed().Sgesdd(m, n, a)
                    member _.Dgesdd(m, n, a) = LinearAlgebra.Managed().Dgesdd(m, n, a)
                    member _.Dsyevd(n, a) = LinearAlgebra.Managed().Dsyevd(n, a) }
            gemmError broken true g <= 1.0)

    let svdGen =
        gen {
            let! m = Gen.frequency [ 4, Gen.choose (1, 40); 1, Gen.elements [ 65; 100; 129 ] ]
            let! n = Gen.frequency [ 4, Gen.choose (1, 40); 1, Gen.elements [ 65; 100; 129 ] ]
            let! a = Generators.values -1.0 1.0 [| m; n |]
            return m, n, a
        }

    /// ‖A − UΣVᵀ‖_F/‖A‖_F, ‖UᵀU − I‖_max, ‖VᵀV − I‖_max (thin factors), and whether S descends.
    let svdErrors (provider: ILinearAlgebraProvider) (single: bool) (m: int, n: int, a: float[]) =
        let u, s, vt =
            if single then
                let r = provider.Sgesdd(m, n, Array.map float32 a)
                Array.map float r.U, Array.map float r.S, Array.map float r.Vt
            else
                let r = provider.Dgesdd(m, n, a)
                r.U, r.S, r.Vt
        let a = if single then Array.map (float32 >> float) a else a
        let k = min m n
        let mutable recon, norm = 0.0, 0.0
        for i in 0 .. m - 1 do
            for j in 0 .. n - 1 do
                let mutable acc = 0.0
                for p in 0 .. k - 1 do
                    acc <- acc + u.[i * k + p] * s.[p] * vt.[p * n + j]
                recon <- recon + (acc - a.[i * n + j]) ** 2.0
                norm <- norm + a.[i * n + j] ** 2.0
        let gram (get: int -> int -> float) (len: int) =
            seq { for p in 0 .. k - 1 do
                    for q in 0 .. k - 1 ->
                        let mutable acc = 0.0
                        for i in 0 .. len - 1 do
                            acc <- acc + get i p * get i q
                        abs (acc - (if p = q then 1.0 else 0.0)) } |> Seq.fold max 0.0
        let uErr = gram (fun i p -> u.[i * k + p]) m
        let vErr = gram (fun j p -> vt.[p * n + j]) n
        let descending = s |> Array.pairwise |> Array.forall (fun (x, y) -> x >= y) && s |> Array.forall (fun x -> x >= 0.0)
        sqrt recon / max (sqrt norm) Double.Epsilon, uErr, vErr, descending

    /// The SVD bounds (reconstruction, both factors orthonormal to 10·max(m, n)·u, S descending)
    /// for one matrix.
    let private svdBounds (provider: ILinearAlgebraProvider) (single: bool) (m: int, n: int, a: float[]) =
        let u = if single then (pown 2.0 -24) else (pown 2.0 -53)
        let tol = 10.0 * float (max m n) * u
        let recon, uErr, vErr, descending = svdErrors provider single (m, n, a)
        (recon <= tol |> Prop.label (sprintf "reconstruction %.3g > %.3g" recon tol))
        .&. (uErr <= tol |> Prop.label (sprintf "UᵀU − I: %.3g > %.3g" uErr tol))
        .&. (vErr <= tol |> Prop.label (sprintf "VVᵀ − I: %.3g > %.3g" vErr tol))
        .&. (descending |> Prop.label "singular values not non-negative and descending")

    let svdHolds (provider: ILinearAlgebraProvider) (single: bool) =
        Prop.forAll (Arb.fromGen svdGen) (svdBounds provider single)

    /// A provider whose only working calls are the SVDs `ssvd` and `dsvd`.
    let private svdOnly (name: string) (ssvd: int -> int -> float32[] -> SvdResult<float32>) (dsvd: int -> int -> float[] -> SvdResult<float>) =
        { new ILinearAlgebraProvider with
            member _.Name = name
            member _.Description = name
            member _.Sgemm(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc) = ()
            member _.Dgemm(ta, tb, m, n, k, alpha, a, ao, lda, b, bo, ldb, beta, c, co, ldc) = ()
            member _.Sgesdd(m, n, a) = ssvd m n a
            member _.Dgesdd(m, n, a) = dsvd m n a
            member _.Dsyevd(_, _) = invalidOp "unused" }

    /// A provider whose only working call is a float64 SVD, `svd` (a companion's broken one).
    let private dgesddOnly (name: string) (svd: int -> int -> float[] -> SvdResult<float>) =
        svdOnly name (fun _ _ _ -> invalidOp "unused") svd

    /// A matrix of the shapes whose SVD overlaps its steps (m ≤ n < 11m/6, m ≥ 2), some with more
    /// than OpenBlasNative.overlapFrom rows.
    let overlappedSvdGen =
        gen {
            let! m = Gen.frequency [ 4, Gen.choose (2, 40); 1, Gen.choose (129, 160) ]
            let! n = Gen.choose (m, max m (m * 11 / 6 - 1))
            let! a = Generators.values -1.0 1.0 [| m; n |]
            return m, n, a
        }

    /// An SVD whose steps run on two cores at once (sSvd/dSvd m n a, overwriting a: bdsdc beside
    /// orgbr, then Q·U_B and V_Bᵀ·Pᵀ by GEMM) keeps the bounds of svdHolds, in float32 and float64.
    let overlappedSvdHolds (sSvd: int -> int -> float32[] -> SvdResult<float32>) (dSvd: int -> int -> float[] -> SvdResult<float>) =
        Prop.forAll (Arb.fromGen overlappedSvdGen) (fun (m, n, a) ->
            let overlapped = svdOnly "overlapped SVD" (fun m n a -> sSvd m n (Array.copy a)) (fun m n a -> dSvd m n (Array.copy a))
            svdBounds overlapped true (m, n, a) .&. svdBounds overlapped false (m, n, a))

    /// Companion: factors scaled by (1 + 100·tol) break orthonormality under the same tolerance.
    let scaledFactorsAreCaught =
        Prop.forAll (Arb.fromGen svdGen) (fun (m, n, a) ->
            let tol = 10.0 * float (max m n) * (pown 2.0 -53)
            let r = LinearAlgebra.Managed().Dgesdd(m, n, a)
            let scaled = { r with U = Array.map (fun x -> x * (1.0 + 100.0 * tol)) r.U }
            let _, uErr, _, _ = svdErrors (dgesddOnly "scaled U" (fun _ _ _ -> scaled)) false (m, n, a)
            uErr <= tol)

    /// A tall matrix (m ≥ 2n, n ≥ 2, some with the 64 columns and more that the A·V·S⁻¹ route
    /// needs) with condition number about 10^decades: uniform entries, column j scaled by
    /// 10^(−decades·j/(n − 1)).
    let illConditionedTallGen (decades: int list) =
        gen {
            let! n = Gen.frequency [ 3, Gen.choose (2, 40); 1, Gen.choose (64, 80) ]
            let! m = Gen.choose (2 * n, 2 * n + 90)
            let! d = Gen.elements decades
            let! a = Generators.values -1.0 1.0 [| m; n |]
            return m, n, Array.init (m * n) (fun i -> a.[i] * 10.0 ** (-float d * float (i % n) / float (n - 1)))
        }

    /// Tall SVDs form U as A·V·S⁻¹ only with 64 columns or more and σ₁ ≤ 16·σₙ, since that U's
    /// orthonormality error grows with σ₁/σₙ and √n: over condition numbers 1 to 10⁴ (float32) or
    /// 10⁸ (float64), where most cases take the orgqr route instead, the bounds of svdHolds hold.
    let tallSvdHoldsAtAnyCondition (provider: ILinearAlgebraProvider) (single: bool) =
        Prop.forAll (Arb.fromGen (illConditionedTallGen (if single then [ 0; 1; 2; 4 ] else [ 0; 1; 4; 8 ]))) (svdBounds provider single)

    /// Companion: without the gate (`tallSvd` = dgesddTallWith 0 ∞, U = A·V·S⁻¹ always),
    /// float64 matrices of condition 10⁸ lose U's orthonormality far beyond the bound.
    let ungatedTallSvdIsCaught (tallSvd: int -> int -> float[] -> SvdResult<float>) =
        Prop.forAll (Arb.fromGen (illConditionedTallGen [ 8 ])) (fun (m, n, a) ->
            let _, uErr, _, _ = svdErrors (dgesddOnly "tall SVD with U = A·V·S⁻¹ at any condition" tallSvd) false (m, n, a)
            uErr <= 10.0 * float m * pown 2.0 -53)

    /// A symmetric matrix Bᵀ + B with B uniform in [−1, 1], or (nonSymmetric) B itself.
    let eigenGen (nonSymmetric: bool) =
        gen {
            let! n = Gen.frequency [ 4, Gen.choose (1, 40); 1, Gen.elements [ 65; 100; 129 ] ]
            let! b = Generators.values -1.0 1.0 [| n; n |]
            return n, (if nonSymmetric then b else Array.init (n * n) (fun i -> b.[i] + b.[(i % n) * n + i / n]))
        }

    /// ‖AV − VΛ‖_F/‖A‖_F, ‖VᵀV − I‖_max, and whether the eigenvalues descend.
    let eigenErrors (provider: ILinearAlgebraProvider) (n: int, a: float[]) =
        let r = provider.Dsyevd(n, a)
        let v, lambda = r.Vectors, r.Values
        let mutable resid, norm, orth = 0.0, 0.0, 0.0
        for i in 0 .. n - 1 do
            for j in 0 .. n - 1 do
                let mutable av, vv = 0.0, 0.0
                for p in 0 .. n - 1 do
                    av <- av + a.[i * n + p] * v.[p * n + j]
                    vv <- vv + v.[p * n + i] * v.[p * n + j]
                resid <- resid + (av - v.[i * n + j] * lambda.[j]) ** 2.0
                norm <- norm + a.[i * n + j] ** 2.0
                orth <- max orth (abs (vv - (if i = j then 1.0 else 0.0)))
        sqrt resid / max (sqrt norm) Double.Epsilon, orth, lambda |> Array.pairwise |> Array.forall (fun (x, y) -> x >= y)

    /// A symmetric A = VΛVᵀ with V orthogonal: ‖AV − VΛ‖ and ‖VᵀV − I‖ within 10·n·u, Λ descending.
    let eigenHolds (provider: ILinearAlgebraProvider) =
        Prop.forAll (Arb.fromGen (eigenGen false)) (fun (n, a) ->
            let tol = 10.0 * float n * (pown 2.0 -53)
            let resid, orth, descending = eigenErrors provider (n, a)
            (resid <= tol |> Prop.label (sprintf "‖AV − VΛ‖ %.3g > %.3g" resid tol))
            .&. (orth <= tol |> Prop.label (sprintf "VᵀV − I: %.3g > %.3g" orth tol))
            .&. (descending |> Prop.label "eigenvalues not descending"))

    /// Companion: without symmetry (one triangle read as the whole matrix) AV = VΛ fails.
    let nonSymmetricIsCaught =
        Prop.forAll (Arb.fromGen (eigenGen true |> Gen.filter (fun (n, _) -> n > 1))) (fun (n, a) ->
            let resid, _, _ = eigenErrors (LinearAlgebra.Managed()) (n, a)
            resid <= 10.0 * float n * (pown 2.0 -53))

/// Products against a packed matrix (RawTensor.PackRight, MatMulPacked) agree with a float64
/// reference within the GEMM bound of LawsProviders, across the packing's block edges (k past
/// KC = 384, n past NC = 512 and past the panel width) and both ways of splitting the work over
/// the cores (by columns when there are many, by rows when there are few).
module LawsPacked =

    type PackedCase =
        { TransA: bool; TransB: bool; M: int; N: int; K: int; A: float[]; B: float[] }
        override c.ToString() = sprintf "%s%s m=%d n=%d k=%d" (if c.TransA then "T" else "N") (if c.TransB then "T" else "N") c.M c.N c.K

    let packedGen =
        gen {
            let! ta = Gen.elements [ false; true ]
            let! tb = Gen.elements [ false; true ]
            let! m, n, k =
                Gen.frequency
                    [ 5, Gen.zip3 (Gen.choose (1, 40)) (Gen.choose (1, 40)) (Gen.choose (1, 40))
                      1, Gen.zip3 (Gen.choose (1, 8)) (Gen.elements [ 17; 513; 530 ]) (Gen.elements [ 385; 770 ])
                      1, Gen.zip3 (Gen.choose (30, 60)) (Gen.choose (1, 16)) (Gen.choose (300, 420)) ]
            let! a = Generators.values -1.0 1.0 [| m * k |]
            let! b = Generators.values -1.0 1.0 [| k * n |]
            return { TransA = ta; TransB = tb; M = m; N = n; K = k; A = a; B = b }
        }

    /// The stored shapes of A and B for op(A) m×k and op(B) k×n.
    let private shapes (c: PackedCase) =
        (if c.TransA then [| c.K; c.M |] else [| c.M; c.K |]), (if c.TransB then [| c.N; c.K |] else [| c.K; c.N |])

    /// The largest error of the packed product over its bound 2(k + 2)·u·|A||B| (+ one ulp), the
    /// reference taken with B's values after `later` (B's values as packed: c.B) were written
    /// into it, after packing.
    let packedError (single: bool) (c: PackedCase) (later: float[]) =
        let sa, sb = shapes c
        let make shape (v: float[]) = if single then Cpu.ofFloat32 shape (Array.map float32 v) else Cpu.ofFloat64 shape v
        let at = make sa c.A
        let bt = make sb c.B
        let packed = bt.PackRight c.TransB
        bt.CopyInPlace(make sb later)
        let product = at.MatMulPacked(c.TransA, packed).ToFloat64Array()
        // Rounded to the element type, so that the reference multiplies the same numbers.
        let a, b = at.ToFloat64Array(), bt.ToFloat64Array()
        let opA i p = if c.TransA then a.[p * c.M + i] else a.[i * c.K + p]
        let opB p j = if c.TransB then b.[j * c.K + p] else b.[p * c.N + j]
        let u = if single then 5.96e-8 else 1.11e-16
        let mutable worst = 0.0
        for i in 0 .. c.M - 1 do
            for j in 0 .. c.N - 1 do
                let mutable exact = 0.0
                let mutable scale = 0.0
                for p in 0 .. c.K - 1 do
                    exact <- exact + opA i p * opB p j
                    scale <- scale + abs (opA i p * opB p j)
                let bound = 2.0 * float (c.K + 2) * u * scale + u * abs exact + 1e-300
                worst <- max worst (abs (product.[i * c.N + j] - exact) / bound)
        worst

    /// x·M through a packed M equals the product, in float32 and float64.
    let packedAgrees (single: bool) =
        Prop.forAll (Arb.fromGen packedGen) (fun c ->
            let e = packedError single c c.B
            e <= 1.0 |> Prop.label (sprintf "error %.3g × the bound" e))

    /// Companion: a packed matrix is a snapshot. When its source changes after packing (one element
    /// by 1, written in place), products through the old packing miss the source's new product.
    let packedIsASnapshot =
        Prop.forAll (Arb.fromGen packedGen) (fun c ->
            let changed = Array.copy c.B
            changed.[0] <- changed.[0] + 1.0
            packedError true c changed <= 1.0)
