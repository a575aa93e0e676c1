namespace Crhn.Properties

open FsCheck
open FsCheck.FSharp
open Crhn.Core

/// One generated convolution: geometry, input x, weight w, a bias (empty where unused) and an
/// output-sized y (empty where unused), in float64.
type ConvCase =
    { N: int; C: int; O: int; K: int; Stride: int; Padding: int; H: int; W: int
      X: float[]; Weight: float[]; Bias: float[]; Y: float[] }
    member c.Ho = Shape.convOutput c.H c.K c.Stride c.Padding
    member c.Wo = Shape.convOutput c.W c.K c.Stride c.Padding
    override c.ToString() =
        sprintf "x %d×%d×%d×%d, w %d×%d×%d×%d, stride %d, padding %d" c.N c.C c.H c.W c.O c.C c.K c.K c.Stride c.Padding

/// Convolution laws: conv2d is the cross-correlation of its definition, and conv_transpose2d is
/// its adjoint. Tolerance: float64 sums of at most a few hundred products of values in [−1, 1]
/// carry rounding error below 1e-13; the bound 1e-10·(1 + |⟨·,·⟩|) leaves room and still fails on
/// any wrong index (errors of order 1).
module LawsConv =

    /// Cases of at most the given batch, channels, kernel and image size. Both axes need the same
    /// output padding in the transpose: W's remainder is kept equal to H's.
    let private casesUpTo (maxBatch: int) (maxChannels: int) (maxKernel: int) (maxSize: int) =
        gen {
            let! n, c, o, k, s, p, h, w =
                Generators.convGeometry maxBatch maxChannels maxKernel maxSize |> Gen.filter (fun (_, _, _, k, s, p, h, w) -> (w + 2 * p - k) % s = (h + 2 * p - k) % s)
            let ho, wo = Shape.convOutput h k s p, Shape.convOutput w k s p
            let! x = Generators.values -1.0 1.0 [| n; c; h; w |]
            let! wt = Generators.values -1.0 1.0 [| o; c; k; k |]
            let! y = Generators.values -1.0 1.0 [| n; o; ho; wo |]
            return { N = n; C = c; O = o; K = k; Stride = s; Padding = p; H = h; W = w; X = x; Weight = wt; Bias = [||]; Y = y }
        }

    let caseGen = casesUpTo 3 4 4 9

    let private tensors (c: ConvCase) =
        Tensor.Constant(Cpu.ofFloat64 [| c.N; c.C; c.H; c.W |] c.X),
        Tensor.Constant(Cpu.ofFloat64 [| c.O; c.C; c.K; c.K |] c.Weight),
        Tensor.Constant(Cpu.ofFloat64 [| c.N; c.O; c.Ho; c.Wo |] c.Y)

    let private dot (a: Tensor) (b: Tensor) = (a * b).SumAll().ToScalar()

    let private close (a: float) (b: float) = abs (a - b) <= 1e-10 * (1.0 + abs a)

    /// conv2d(x, w)[n,o,i,j] = Σ_{c,p,q} w[o,c,p,q]·x[n,c,i·s+p−pad,j·s+q−pad], zero outside x.
    let forwardMatchesDefinition =
        Prop.forAll (Arb.fromGen caseGen) (fun c ->
            let x, w, _ = tensors c
            let y = x.Conv2d(w, c.Stride, c.Padding).Primal.ToFloat64Array()
            let direct n o i j =
                let mutable acc = 0.0
                for ch in 0 .. c.C - 1 do
                    for p in 0 .. c.K - 1 do
                        for q in 0 .. c.K - 1 do
                            let iy, ix = i * c.Stride + p - c.Padding, j * c.Stride + q - c.Padding
                            if iy >= 0 && iy < c.H && ix >= 0 && ix < c.W then
                                acc <- acc + c.Weight.[((o * c.C + ch) * c.K + p) * c.K + q] * c.X.[((n * c.C + ch) * c.H + iy) * c.W + ix]
                acc
            let worst =
                seq { for n in 0 .. c.N - 1 do
                        for o in 0 .. c.O - 1 do
                            for i in 0 .. c.Ho - 1 do
                                for j in 0 .. c.Wo - 1 ->
                                    abs (y.[((n * c.O + o) * c.Ho + i) * c.Wo + j] - direct n o i j) }
                |> Seq.fold max 0.0
            worst <= 1e-12 |> Prop.label (sprintf "largest difference from the definition: %g" worst))

    /// ⟨conv2d(x, w), y⟩ = ⟨x, conv_transpose2d(y, w)⟩.
    let transposeIsAdjoint =
        Prop.forAll (Arb.fromGen caseGen) (fun c ->
            let x, w, y = tensors c
            let op = c.H - Shape.convTransposeOutput c.Ho c.K c.Stride c.Padding 0
            let lhs = dot (x.Conv2d(w, c.Stride, c.Padding)) y
            let rhs = dot x (y.ConvTranspose2d(w, c.Stride, c.Padding, op))
            close lhs rhs |> Prop.label (sprintf "⟨conv x, y⟩ = %.17g, ⟨x, convᵀ y⟩ = %.17g" lhs rhs))

    /// Companion: with the kernel turned by 180° in the transpose (a plausible indexing slip) the
    /// identity fails for some case, so the law is not vacuous.
    let flippedKernelIsNotAdjoint =
        Prop.forAll (Arb.fromGen caseGen) (fun c ->
            let x, w, y = tensors c
            let flipped = Tensor.Constant(Cpu.ofFloat64 [| c.O; c.C; c.K; c.K |] (Array.init c.Weight.Length (fun i ->
                let q = i % c.K
                let p = (i / c.K) % c.K
                let rest = i / (c.K * c.K)
                c.Weight.[(rest * c.K + (c.K - 1 - p)) * c.K + (c.K - 1 - q)])))
            let op = c.H - Shape.convTransposeOutput c.Ho c.K c.Stride c.Padding 0
            close (dot (x.Conv2d(w, c.Stride, c.Padding)) y) (dot x (y.ConvTranspose2d(flipped, c.Stride, c.Padding, op))))

    /// Wider images than caseGen's (up to 40 columns), so that float32's vector paths (stride
    /// phases split and merged 8 or 16 at a time, runs added 8 at a time) and their tails are all taken.
    let wideCaseGen = casesUpTo 2 3 4 40

    /// conv2d, conv_transpose2d and the gradients of ⟨conv2d(x, w), y⟩ (in x and w, one fused
    /// pass) and of ⟨conv_transpose2d(y, w), x⟩ (in y and w, the other fused pass), in the given
    /// dtype, as float64 arrays.
    let private convOutputs (dtype: Dtype) (c: ConvCase) =
        let make shape (v: float[]) = Tensor.Parameter((Cpu.ofFloat64 shape v).Cast dtype)
        let x, w, y = make [| c.N; c.C; c.H; c.W |] c.X, make [| c.O; c.C; c.K; c.K |] c.Weight, make [| c.N; c.O; c.Ho; c.Wo |] c.Y
        let op = c.H - Shape.convTransposeOutput c.Ho c.K c.Stride c.Padding 0
        let forward = x.Conv2d(w, c.Stride, c.Padding)
        (forward * Tensor.Constant y.Primal).SumAll().Backward()
        let dx, dw = x.Grad.Value, w.Grad.Value
        x.ZeroGrad()
        w.ZeroGrad()
        let transposed = y.ConvTranspose2d(w, c.Stride, c.Padding, op)
        (transposed * Tensor.Constant x.Primal).SumAll().Backward()
        [ forward.Primal; dx; dw; transposed.Primal; y.Grad.Value; w.Grad.Value ] |> List.map (fun t -> t.ToFloat64Array())

    /// The largest difference between the float32 and float64 results of convOutputs.
    let private float32Error (c: ConvCase) =
        List.map2 (Array.map2 (fun (a: float) b -> abs (a - b))) (convOutputs Dtype.Float32 c) (convOutputs Dtype.Float64 c)
        |> Seq.concat |> Seq.fold max 0.0

    /// The float32 kernels (their own code paths: stride phases and runs moved in vector steps)
    /// compute what the float64 ones do, up to float32 rounding: every output and gradient within
    /// 1e-3 of float64's. Each is a sum of at most 2·40·40 products of values in [−1, 1], whose
    /// float32 rounding stays far below that; a wrong index or a dropped tail is off by O(1).
    let float32AgreesWithFloat64 =
        Prop.forAll (Arb.fromGen wideCaseGen) (fun c ->
            let worst = float32Error c
            worst <= 1e-3 |> Prop.label (sprintf "largest float32 − float64 difference: %g" worst))

    /// Companion: float32 does round. Held to float64's own tolerance (1e-10), the agreement fails
    /// for some case, so the comparison does run the float32 kernels.
    let float32IsNotFloat64 =
        Prop.forAll (Arb.fromGen wideCaseGen) (fun c -> float32Error c <= 1e-10)

    /// float32 cases the direct kernels serve, at every stride, padding and kernel size: the
    /// pixel-vector kernel's (8 or 16 output channels, output rows of 16 or 32, an even number of
    /// 16-wide vectors per image) and the channel-vector kernel's (64 or 128 output channels, any
    /// output size; up to 384 taps, so that its passes of 128 taps carry partial sums).
    let private directCases =
        gen {
            let! n = Gen.choose (1, 3)
            let! o = Gen.elements [ 8; 16; 64; 128 ]
            let! c = if o >= 64 then Gen.choose (1, 24) else Gen.choose (1, 6)
            let! k = Gen.choose (1, 4)
            let! s = Gen.choose (1, 2)
            let! p = Gen.choose (0, (k - 1) / 2)
            let! wo = if o >= 64 then Gen.choose (1, 9) else Gen.elements [ 16; 32 ]
            let! ho = if o >= 64 then Gen.choose (1, 4) elif wo = 16 then Gen.elements [ 2; 4 ] else Gen.choose (1, 3)
            let w = (wo - 1) * s + k - 2 * p
            let h = (ho - 1) * s + k - 2 * p
            let! x = Generators.values -1.0 1.0 [| n; c; h; w |]
            let! wt = Generators.values -1.0 1.0 [| o; c; k; k |]
            let! bias = Generators.values -1.0 1.0 [| o |]
            return { N = n; C = c; O = o; K = k; Stride = s; Padding = p; H = h; W = w; X = x; Weight = wt; Bias = bias; Y = [||] }
        }

    /// In float32, conv2d with a bias is its definition within the rounding bound of its sum: for
    /// each output, |y − exact| ≤ (C·K² + 3)·u·(|b| + Σ|w·x|) (u = 2⁻²⁴), on the shapes the direct
    /// kernel serves.
    let float32ForwardWithinRounding =
        Prop.forAll (Arb.fromGen directCases) (fun c ->
            let x = Cpu.ofFloat32 [| c.N; c.C; c.H; c.W |] (Array.map float32 c.X)
            let w = Cpu.ofFloat32 [| c.O; c.C; c.K; c.K |] (Array.map float32 c.Weight)
            let b = Cpu.ofFloat32 [| c.O |] (Array.map float32 c.Bias)
            let y = x.Conv2dBias(w, b, { StrideH = c.Stride; StrideW = c.Stride; PadH = c.Padding; PadW = c.Padding }).ToFloat64Array()
            let u = System.Math.Pow(2.0, -24.0)
            let terms = float (c.C * c.K * c.K + 3)
            let bad =
                seq { for n in 0 .. c.N - 1 do
                        for o in 0 .. c.O - 1 do
                            for i in 0 .. c.Ho - 1 do
                                for j in 0 .. c.Wo - 1 ->
                                    let bias = float (float32 c.Bias.[o])
                                    let mutable exact, magnitude = bias, abs bias
                                    for ch in 0 .. c.C - 1 do
                                        for p in 0 .. c.K - 1 do
                                            for q in 0 .. c.K - 1 do
                                                let iy, ix = i * c.Stride + p - c.Padding, j * c.Stride + q - c.Padding
                                                if iy >= 0 && iy < c.H && ix >= 0 && ix < c.W then
                                                    let term = float (float32 c.Weight.[((o * c.C + ch) * c.K + p) * c.K + q]) * float (float32 c.X.[((n * c.C + ch) * c.H + iy) * c.W + ix])
                                                    exact <- exact + term
                                                    magnitude <- magnitude + abs term
                                    let got = y.[((n * c.O + o) * c.Ho + i) * c.Wo + j]
                                    if abs (got - exact) > terms * u * magnitude + 1e-30 then Some(n, o, i, j, got, exact) else None }
                |> Seq.tryPick id
            match bad with
            | None -> true |> Prop.label "within rounding"
            | Some(n, o, i, j, got, exact) -> false |> Prop.label (sprintf "y[%d,%d,%d,%d] = %.9g, definition %.9g" n o i j got exact))

    /// float32 cases the transposed kernels serve: the channel-vector one (conv_transpose2d into 64
    /// or 128 channels, kernels of one or two strides; up to 24 input channels, so that with 2×2
    /// taps per phase its passes of 128 taps carry partial sums) and the pixel-vector one (into 8,
    /// 16 or 32 channels at stride 2 with even kernels, outputs 32 or 64 wide, whose phases are
    /// rows of whole 16-lane vectors). y is the transpose's input (N×O×Ho×Wo).
    let private transposedCases =
        let channelVector =
            gen {
                let! c = Gen.elements [ 64; 128 ]
                let! s = Gen.choose (1, 2)
                let! k = Gen.elements [ s; 2 * s ]
                let! p = Gen.choose (0, (k - 1) / 2)
                let! ho = Gen.choose (1, 5)
                let! wo = Gen.choose (1, 7)
                let! op = Gen.choose (0, s - 1)
                return c, s, k, p, ho, wo, op
            }
        let pixelVector =
            gen {
                let! c = Gen.elements [ 8; 16; 32 ]
                let! k = Gen.elements [ 2; 4 ]
                let! ho = Gen.elements [ 2; 4 ]
                let! wo = Gen.elements [ 16; 32 ]
                return c, 2, k, (k - 2) / 2, ho, wo, 0
            }
        gen {
            let! c, s, k, p, ho, wo, op = Gen.oneof [ channelVector; pixelVector ]
            let! n = Gen.choose (1, 2)
            let! o = Gen.choose (1, 24)
            let h = Shape.convTransposeOutput ho k s p op
            let w = Shape.convTransposeOutput wo k s p op
            let! wt = Generators.values -1.0 1.0 [| o; c; k; k |]
            let! y = Generators.values -1.0 1.0 [| n; o; ho; wo |]
            return { N = n; C = c; O = o; K = k; Stride = s; Padding = p; H = h; W = w; X = [||]; Weight = wt; Bias = [||]; Y = y }
        }

    /// conv_transpose2d(y, w)[n,c,iy,ix] (and conv2d's input gradient against y) − Σ over (o, i, j, ky, kx) with i·s − pad + ky = iy and
    /// j·s − pad + kx = ix of w[o,c,ky,kx]·y[n,o,i,j], against (O·K² + 2)·u·Σ|terms| (u = 2⁻²⁴):
    /// the worst output, as (bound − |error|, label); `weight` is the kernel the definition uses.
    let private transposeMargin (c: ConvCase) (weight: float[]) =
        let ho, wo = Shape.convOutput c.H c.K c.Stride c.Padding, Shape.convOutput c.W c.K c.Stride c.Padding
        let yt = Cpu.ofFloat32 [| c.N; c.O; ho; wo |] (Array.map float32 c.Y)
        let w = Cpu.ofFloat32 [| c.O; c.C; c.K; c.K |] (Array.map float32 c.Weight)
        let op = c.H - Shape.convTransposeOutput ho c.K c.Stride c.Padding 0
        let x = (Tensor.Constant yt).ConvTranspose2d(Tensor.Constant w, c.Stride, c.Padding, op).Primal.ToFloat64Array()
        // The same values as conv2d's input gradient, where the kernel's gradient comes in the same pass.
        let input = Tensor.Parameter(Cpu.ofFloat32 [| c.N; c.C; c.H; c.W |] (Array.zeroCreate (c.N * c.C * c.H * c.W)))
        let kernel = Tensor.Parameter w
        (input.Conv2d(kernel, c.Stride, c.Padding) * Tensor.Constant yt).SumAll().Backward()
        let gradient = input.Grad.Value.ToFloat64Array()
        let u = System.Math.Pow(2.0, -24.0)
        let terms = float (c.O * c.K * c.K + 2)
        seq { for n in 0 .. c.N - 1 do
                for ch in 0 .. c.C - 1 do
                    for iy in 0 .. c.H - 1 do
                        for ix in 0 .. c.W - 1 ->
                            let mutable exact, magnitude = 0.0, 0.0
                            for o in 0 .. c.O - 1 do
                                for ky in 0 .. c.K - 1 do
                                    for kx in 0 .. c.K - 1 do
                                        let ti, tj = iy + c.Padding - ky, ix + c.Padding - kx
                                        if ti >= 0 && tj >= 0 && ti % c.Stride = 0 && tj % c.Stride = 0 && ti / c.Stride < ho && tj / c.Stride < wo then
                                            let term = float (float32 weight.[((o * c.C + ch) * c.K + ky) * c.K + kx]) * float (float32 c.Y.[((n * c.O + o) * ho + ti / c.Stride) * wo + tj / c.Stride])
                                            exact <- exact + term
                                            magnitude <- magnitude + abs term
                            let at = ((n * c.C + ch) * c.H + iy) * c.W + ix
                            let got = if abs (x.[at] - exact) >= abs (gradient.[at] - exact) then x.[at] else gradient.[at]
                            terms * u * magnitude + 1e-30 - abs (got - exact), sprintf "x[%d,%d,%d,%d] = %.9g (transpose) and %.9g (conv2d's input gradient), definition %.9g" n ch iy ix x.[at] gradient.[at] exact }
        |> Seq.minBy fst

    /// In float32, conv_transpose2d and conv2d's input gradient are their definition within the
    /// rounding bound of its sum, on the shapes the transposed kernel serves (each output phase a
    /// correlation with its own slice of the kernel).
    let float32TransposeWithinRounding =
        Prop.forAll (Arb.fromGen transposedCases) (fun c ->
            let margin, label = transposeMargin c c.Weight
            margin >= 0.0 |> Prop.label label)

    /// Companion: against the definition with the kernel turned by 180° (a slice taken from the
    /// wrong phase looks like this) the bound fails, so it does tell phases apart.
    let float32TransposeFlippedFails =
        Prop.forAll (Arb.fromGen transposedCases) (fun c ->
            let flipped = Array.init c.Weight.Length (fun i ->
                let q = i % c.K
                let p = (i / c.K) % c.K
                c.Weight.[((i / (c.K * c.K)) * c.K + (c.K - 1 - p)) * c.K + (c.K - 1 - q)])
            fst (transposeMargin c flipped) >= 0.0)

    /// float32 cases the weight-gradient kernels serve: the channel-vector one over the whole batch
    /// (64 or 128 output channels; up to 3 input channels, strides 1–2, images up to 14 wide, so
    /// that a batch's N·Ho·Wo output pixels often pass its 128 taps a pass and partial sums carry
    /// between passes), the same one image at a time (64 output channels, 16–18 × 16–17 outputs,
    /// at least 256 pixels an image, 9–10 images), and the pixel-vector one (4 to 32 output
    /// channels in blocks of 4, outputs 16 or 32 wide, up to 13 columns, so that the last block of
    /// 6 is often partial).
    let private weightCases =
        let channelVector =
            gen {
                let! o = Gen.elements [ 64; 128 ]
                let! s = Gen.choose (1, 2)
                let! k = Gen.choose (1, 4)
                let! p = Gen.choose (0, (k - 1) / 2)
                let! h = Gen.choose (k, 12)
                let! more = Gen.choose (0, 1)
                let! n = Gen.choose (1, 3)
                let! c = Gen.choose (1, 3)
                return o, s, k, p, h, h + s * more, n, c
            }
        let byImage =
            gen {
                let! s = Gen.choose (1, 2)
                let! k = Gen.choose (1, 4)
                let! p = Gen.choose (0, (k - 1) / 2)
                let! ho = Gen.choose (16, 18)
                let! wo = Gen.choose (16, 17)
                // More images than the kernel has chunks (8 on two cores), so that a chunk adds several.
                let! n = Gen.choose (9, 10)
                return 64, s, k, p, (ho - 1) * s + k - 2 * p, (wo - 1) * s + k - 2 * p, n, 1
            }
        let pixelVector =
            gen {
                let! o = Gen.elements [ 4; 8; 12; 16; 32 ]
                let! s = Gen.choose (1, 2)
                let! k = Gen.choose (1, 4)
                let! p = Gen.choose (0, (k - 1) / 2)
                let! wo = Gen.elements [ 16; 32 ]
                let! ho = Gen.choose (1, 3)
                let! n = Gen.choose (1, 3)
                let! c = Gen.choose (1, 3)
                return o, s, k, p, (ho - 1) * s + k - 2 * p, (wo - 1) * s + k - 2 * p, n, c
            }
        gen {
            let! o, s, k, p, h, w, n, c = Gen.oneof [ channelVector; byImage; pixelVector ]
            let ho, wo = Shape.convOutput h k s p, Shape.convOutput w k s p
            let! x = Generators.values -1.0 1.0 [| n; c; h; w |]
            let! wt = Generators.values -1.0 1.0 [| o; c; k; k |]
            let! y = Generators.values -1.0 1.0 [| n; o; ho; wo |]
            return { N = n; C = c; O = o; K = k; Stride = s; Padding = p; H = h; W = w; X = x; Weight = wt; Bias = [||]; Y = y }
        }

    /// The gradient of ⟨conv2d(x, w), y⟩ in w (with x's in the same pass) and of
    /// ⟨conv_transpose2d(y, w), x⟩ in w (with conv2d of x in the same pass) against their
    /// definition dw[o,c,p,q] = Σ_{n,i,j} y[n,o,i,j]·x[n,c,i·s+p−pad,j·s+q−pad] (zero outside x),
    /// held to (N·Ho·Wo + 2)·u·Σ|terms| (u = 2⁻²⁴): the worst entry of either, as (bound − |error|,
    /// label). With `turned`, the definition reads tap (K−1−p, K−1−q) for (p, q).
    let private weightMargin (c: ConvCase) (turned: bool) =
        let ho, wo = Shape.convOutput c.H c.K c.Stride c.Padding, Shape.convOutput c.W c.K c.Stride c.Padding
        let x = Cpu.ofFloat32 [| c.N; c.C; c.H; c.W |] (Array.map float32 c.X)
        let w = Cpu.ofFloat32 [| c.O; c.C; c.K; c.K |] (Array.map float32 c.Weight)
        let y = Cpu.ofFloat32 [| c.N; c.O; ho; wo |] (Array.map float32 c.Y)
        let op = c.H - Shape.convTransposeOutput ho c.K c.Stride c.Padding 0
        let input, kernel = Tensor.Parameter x, Tensor.Parameter w
        (input.Conv2d(kernel, c.Stride, c.Padding) * Tensor.Constant y).SumAll().Backward()
        let output, tied = Tensor.Parameter y, Tensor.Parameter w
        (output.ConvTranspose2d(tied, c.Stride, c.Padding, op) * Tensor.Constant x).SumAll().Backward()
        let forward, transposed = kernel.Grad.Value.ToFloat64Array(), tied.Grad.Value.ToFloat64Array()
        let u = System.Math.Pow(2.0, -24.0)
        let terms = float (c.N * ho * wo + 2)
        seq { for o in 0 .. c.O - 1 do
                for ch in 0 .. c.C - 1 do
                    for p in 0 .. c.K - 1 do
                        for q in 0 .. c.K - 1 ->
                            let tp, tq = (if turned then c.K - 1 - p, c.K - 1 - q else p, q)
                            let mutable exact, magnitude = 0.0, 0.0
                            for n in 0 .. c.N - 1 do
                                for i in 0 .. ho - 1 do
                                    for j in 0 .. wo - 1 do
                                        let iy, ix = i * c.Stride + tp - c.Padding, j * c.Stride + tq - c.Padding
                                        if iy >= 0 && iy < c.H && ix >= 0 && ix < c.W then
                                            let term = float (float32 c.Y.[((n * c.O + o) * ho + i) * wo + j]) * float (float32 c.X.[((n * c.C + ch) * c.H + iy) * c.W + ix])
                                            exact <- exact + term
                                            magnitude <- magnitude + abs term
                            let at = ((o * c.C + ch) * c.K + p) * c.K + q
                            let got = if abs (forward.[at] - exact) >= abs (transposed.[at] - exact) then forward.[at] else transposed.[at]
                            terms * u * magnitude + 1e-30 - abs (got - exact), sprintf "dw[%d,%d,%d,%d] = %.9g (conv2d) and %.9g (conv_transpose2d), definition %.9g" o ch p q forward.[at] transposed.[at] exact }
        |> Seq.minBy fst

    /// In float32, the weight gradients of conv2d and conv_transpose2d are their definition within
    /// the rounding bound of its sum, on the shapes the weight-gradient kernel serves.
    let float32WeightGradientWithinRounding =
        Prop.forAll (Arb.fromGen weightCases) (fun c ->
            let margin, label = weightMargin c false
            margin >= 0.0 |> Prop.label label)

    /// Companion: against the definition with the taps turned by 180° the bound fails (for kernels
    /// wider than one tap), so it does tell taps apart.
    let float32WeightGradientTurnedFails =
        Prop.forAll (Arb.fromGen (weightCases |> Gen.filter (fun c -> c.K > 1))) (fun c -> fst (weightMargin c true) >= 0.0)
