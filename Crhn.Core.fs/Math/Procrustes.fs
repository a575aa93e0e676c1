namespace Crhn.Core

open System

/// An orthogonal n×n matrix R as SRA applies it. `Dense` holds it whole; `LowRank` holds
/// R = I + P (K − I) Pᵀ with P (n×p) orthonormal columns and K (p×p) orthogonal, so R is the
/// identity off P's span and applying it costs O(n·p) per column instead of O(n²).
[<RequireQualifiedAccess; NoComparison; ReferenceEquality>]
type Rotation =
    /// R held whole, n×n.
    | Dense of RawTensor
    /// R = I + P (K − I) Pᵀ: P (n×p) orthonormal columns, K (p×p) orthogonal.
    | LowRank of basis: RawTensor * core: RawTensor

    /// The dimension n.
    member r.Dim =
        match r with
        | Dense q -> q.Shape.[0]
        | LowRank(p, _) -> p.Shape.[0]

    /// R as an n×n matrix (for checks; SRA never forms it in the low-rank case).
    member r.ToDense() =
        match r with
        | Dense q -> q
        | LowRank(p, k) ->
            let kMinusI = k.Binary(BinaryOp.Sub, Init.identity k k.Shape.[0])
            (Init.identity p p.Shape.[0]).Binary(BinaryOp.Add, p.MatMul(false, false, kMinusI).MatMul(false, true, p))

    /// R·w for w of shape n×m.
    member r.ApplyLeft(w: RawTensor) =
        match r with
        | Dense q -> q.MatMul(false, false, w)
        | LowRank(p, _) when p.Shape.[1] = 0 -> w
        | LowRank(p, k) ->
            let pw = p.MatMul(true, false, w)
            let update = p.MatMul(false, false, k.MatMul(false, false, pw).Binary(BinaryOp.Sub, pw))
            update.AddInPlace w
            update

    /// w·Rᵀ for w of shape m×n.
    member r.ApplyRightTransposed(w: RawTensor) =
        match r with
        | Dense q -> w.MatMul(false, true, q)
        | LowRank(p, _) when p.Shape.[1] = 0 -> w
        | LowRank(p, k) ->
            let wp = w.MatMul(false, false, p)
            let update = wp.MatMul(false, true, k).Binary(BinaryOp.Sub, wp).MatMul(false, true, p)
            update.AddInPlace w
            update

/// Samples (N×n, one per row) prepared as the target side of a thin Procrustes solve: a float64
/// copy and the eigenpairs (E, λ) of their N×N Gram matrix, computed once on first use. SRA
/// prepares its stored codes once and reuses them every round.
[<NoComparison; ReferenceEquality>]
type ProcrustesTarget =
    { Rows: RawTensor
      Factor: Lazy<RawTensor * RawTensor * float[]> }

/// The orthogonal Procrustes problem (Proposition 2): argmin over orthogonal R of ‖R A − B‖_F is
/// R* = U Vᵀ where U Σ Vᵀ = svd(B Aᵀ) (Schönemann 1966). A and B are n×N (one column per sample).
[<RequireQualifiedAccess>]
module Procrustes =

    /// R* = U Vᵀ from the SVD of B Aᵀ (n×n).
    let solve (a: RawTensor) (b: RawTensor) =
        if a.Shape.Length <> 2 then raise (Shape.mismatch "procrustes" "a matrix" a.Shape "a")
        Shape.checkEqual "procrustes" "b" a.Shape b.Shape
        let u, _, vt = b.MatMul(false, true, a).Svd()
        u.MatMul(false, false, vt)

    /// ‖R A − B‖_F.
    let residual (r: RawTensor) (a: RawTensor) (b: RawTensor) =
        sqrt ((r.MatMul(false, false, a).Binary(BinaryOp.Sub, b).Unary UnaryOp.Square).SumAll())

    /// Eigenvalues below this fraction of the largest are treated as zero (in float64, a Gram
    /// matrix's eigenvalues are good to about 1e-16 of the largest).
    let private gramTolerance = 1e-12

    /// A plane turned by less than this is left alone (its two vectors are equal to rounding):
    /// float64 products resolve 1e-7, float32 ones 1e-5.
    let private angleTolerance dtype = if dtype = Dtype.Float64 then 1e-7 else 1e-5

    /// Principal cosines below this take the SVD path (Φ = TΨ/c is orthonormal to 1e-16/c²).
    let private cosineFloor = 1e-3

    /// Columns of x scaled by s (x: m×k, s: k values).
    let private scaleColumns (x: RawTensor) (s: float[]) = x.Binary(BinaryOp.Mul, x.CreateLike([| 1; s.Length |], s))

    /// The eigenpairs of a symmetric positive semi-definite matrix above the tolerance: (E, λ).
    let private eigenPsd (g: RawTensor) =
        let e, l = g.SymmetricEigen()
        let lambda = l.ToFloat64Array()
        let top = if lambda.Length = 0 then 0.0 else lambda.[0]
        let keep = lambda |> Array.takeWhile (fun v -> v > top * gramTolerance && v > 0.0) |> Array.length
        e.Slice([| 0; 0 |], [| e.Shape.[0]; keep |]), lambda.[.. keep - 1]

    /// Prepares y (N×n, samples as rows) as a Procrustes target.
    let prepare (y: RawTensor) =
        if y.Shape.Length <> 2 then raise (Shape.mismatch "procrustes" "a matrix" y.Shape "y")
        { Rows = y
          // Computed on first use, which may be inside a memory scope: the factors outlive it (Keep).
          Factor = lazy (let b = y.Cast Dtype.Float64 in let e, lambda = eigenPsd (b.MatMul(false, true, b)) in b.Keep(), e.Keep(), lambda) }

    /// The rank-N solution for samples as rows: x (N×n) and the target y (N×n) give A = xᵀ,
    /// B = yᵀ, and the result minimises ‖R xᵀ − yᵀ‖_F. Float64 throughout, and only N×N Gram
    /// matrices are factorised: with BᵀB = EΛEᵀ, Qb = BEΛ^-½ is orthonormal and A Bᵀ = Z Qbᵀ for
    /// Z = AEΛ^½; ZᵀZ = WΣ²Wᵀ gives A Bᵀ = (ZWΣ⁻¹) Σ (QbW)ᵀ, so B Aᵀ = UΣVᵀ with U = QbW and
    /// V = ZWΣ⁻¹ (k = rank columns). The principal angles of Vᵀ U = Φ cos Θ Ψᵀ pair a_j = VΦ_j
    /// with b_j = UΨ_j = c_j a_j + s_j q_j; R turns each plane (a_j, q_j) by θ_j (R₁: V Φ ↦ U Ψ)
    /// and then turns U Ψ Φᵀ into U inside span U (R₂), so R V = U, and R is the identity off
    /// P = [a | q]: R = I + P (K − I) Pᵀ.
    let private lowRank (x: RawTensor) (target: ProcrustesTarget) =
        let dim = x.Shape.[1]
        let unchanged () = Rotation.LowRank(x.ZerosLike [| dim; 0 |], x.ZerosLike [| 0; 0 |])
        let y = target.Rows
        let b, e, lambda = target.Factor.Force()
        if lambda.Length = 0 then unchanged () else
        let a = x.Cast Dtype.Float64
        let eHalf = scaleColumns e (lambda |> Array.map sqrt)
        let w, sigma2 = eigenPsd (eHalf.MatMul(true, false, a.MatMul(false, true, a).MatMul(false, false, eHalf)))
        if sigma2.Length = 0 then unchanged () else
        let k = sigma2.Length
        let fb = scaleColumns e (lambda |> Array.map (fun l -> 1.0 / sqrt l)) |> fun f -> f.MatMul(false, false, w)
        let fa = scaleColumns (eHalf.MatMul(false, false, w)) (sigma2 |> Array.map (fun s -> 1.0 / sqrt s))
        let t = fa.MatMul(true, false, a.MatMul(false, true, b).MatMul(false, false, fb))
        // The SVD T = Φ C Ψᵀ from TᵀT = Ψ C² Ψᵀ (Φ = TΨC⁻¹) when every cosine is well above zero,
        // else from the SVD itself.
        let psi, c2 = t.MatMul(true, false, t).SymmetricEigen()
        let c = c2.ToFloat64Array() |> Array.map (fun v -> sqrt (max v 0.0) |> min 1.0)
        let phi, c, psiT =
            if Array.forall (fun v -> v > cosineFloor) c then scaleColumns (t.MatMul(false, false, psi)) (Array.map (fun v -> 1.0 / v) c), c, psi.Permute [| 1; 0 |]
            else
                let phi, cosT, psiT = t.Svd()
                phi, cosT.ToFloat64Array() |> Array.map (min 1.0), psiT
        let av = (fa.MatMul(false, false, phi).Cast x.Dtype) |> fun g -> x.MatMul(true, false, g)
        let bu = (fb.MatMul(false, true, psiT).Cast x.Dtype) |> fun g -> y.MatMul(true, false, g)
        // q_j = (b_j − c_j a_j)/s_j, s_j = ‖b_j − c_j a_j‖; planes turned by less than the
        // tolerance keep c = 1, s = 0 and a zero q column (K − I is zero in its row and column).
        let avs, bus = av.ToFloat64Array(), bu.ToFloat64Array()
        let s = Array.zeroCreate k
        for i in 0 .. dim - 1 do
            for j in 0 .. k - 1 do
                let r = bus.[i * k + j] - c.[j] * avs.[i * k + j]
                s.[j] <- s.[j] + r * r
        let tolerance = angleTolerance x.Dtype
        let turned = s |> Array.map (fun v -> sqrt v > tolerance)
        let s = Array.map2 (fun t v -> if t then sqrt v else 0.0) turned s
        let c = Array.map2 (fun t v -> if t then v else 1.0) turned c
        let inverse = Array.map2 (fun t v -> if t then 1.0 / v else 0.0) turned s
        let p = 2 * k
        let basis = GC.AllocateUninitializedArray<float>(dim * p)
        for i in 0 .. dim - 1 do
            for j in 0 .. k - 1 do
                let av = avs.[i * k + j]
                basis.[i * p + j] <- av
                basis.[i * p + k + j] <- (bus.[i * k + j] - c.[j] * av) * inverse.[j]
        // K = K₂ K₁ in the basis [a | q]: K₂ = I + G (ΨᵀΦ − I) Gᵀ with G = [C; S] (G = Pᵀ U Ψ), and
        // K₁ turns column pair (j, k + j) by (c_j, s_j).
        let z = psiT.MatMul(false, false, phi).ToFloat64Array()
        let g = Array.append c s
        let core = Array.zeroCreate (p * p)
        for i in 0 .. p - 1 do
            let zi = (i % k) * k
            for j in 0 .. k - 1 do
                let zij = z.[zi + j] - (if i % k = j then 1.0 else 0.0)
                let left = g.[i] * zij * c.[j] + (if i = j then 1.0 else 0.0)
                let right = g.[i] * zij * s.[j] + (if i = k + j then 1.0 else 0.0)
                core.[i * p + j] <- c.[j] * left + s.[j] * right
                core.[i * p + k + j] <- c.[j] * right - s.[j] * left
        Rotation.LowRank(x.CreateLike([| dim; p |], basis), x.CreateLike([| p; p |], core))

    /// The Procrustes rotation for samples as rows: x and the target's rows are N×n, and R
    /// minimises ‖R xᵀ − yᵀ‖_F. When 2N < n, B Aᵀ has rank at most N and the rotation is built
    /// from thin factorisations (it is then the identity off the span of the samples); otherwise
    /// from the full n×n SVD.
    let rotationTo (x: RawTensor) (target: ProcrustesTarget) =
        if x.Shape.Length <> 2 then raise (Shape.mismatch "procrustes" "a matrix" x.Shape "x")
        Shape.checkEqual "procrustes" "y" x.Shape target.Rows.Shape
        if x.Shape.[0] = 0 then raise (ArgumentException("procrustes: there are no samples.", "x"))
        if 2 * x.Shape.[0] < x.Shape.[1] then lowRank x target
        else Rotation.Dense(solve (x.Permute [| 1; 0 |]) (target.Rows.Permute [| 1; 0 |]))

    /// rotationTo x (prepare y).
    let rotation (x: RawTensor) (y: RawTensor) = rotationTo x (prepare y)
