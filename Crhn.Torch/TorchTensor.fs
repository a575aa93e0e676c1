namespace Crhn.Torch

open System
open Crhn.Core
open TorchSharp

type internal TT = torch.Tensor

/// Conversions between the engine's shapes and types and LibTorch's.
module internal Convert =
    let dims (shape: int[]) = shape |> Array.map int64
    let scalarType (dtype: Dtype) =
        match dtype with
        | Dtype.Float32 -> torch.ScalarType.Float32
        | Dtype.Float64 -> torch.ScalarType.Float64
    let dtypeOf (t: TT) =
        match t.dtype with
        | torch.ScalarType.Float32 -> Dtype.Float32
        | torch.ScalarType.Float64 -> Dtype.Float64
        | other -> raise (NotSupportedException(sprintf "torch backend: tensors of %A are not engine tensors." other))
    let shapeOf (t: TT) = t.shape |> Array.map int
    /// The 2-D convolution's stride and padding as LibTorch takes them.
    let strides (g: ConvGeometry) = [| int64 g.StrideH; int64 g.StrideW |]
    let padding (g: ConvGeometry) = [| int64 g.PadH; int64 g.PadW |]

/// Whether LibTorch's float32 convolutions on the CPU compute what its float64 ones do. On some
/// machines they do not: on this project's 2-core AMD EPYC (Zen 5) VM, LibTorch 2.10's float32
/// conv_transpose2d of ones (2×3×2×2 by 3×3×3×3) returned rows such as 3 3 3 3 or 3 3 0 0 where
/// 3 6 6 3 is right, at every ISA oneDNN was limited to but SSE4.1, and the fault comes and goes
/// from call to call (12–13 of 25 small calls wrong); float64 (not oneDNN) was right. A probe at
/// the first float32 convolution on the CPU decides, once per process, from 20 calls; where any is
/// wrong, float32 convolutions run in float64 (cast in, cast back).
module internal ConvolutionProbe =
    /// Channels in and out, size, kernel, stride and padding of the probe's transposed convolutions.
    let private shapes = [ 3, 3, 2, 3, 1, 0; 1, 1, 2, 2, 3, 1; 4, 1, 2, 2, 2, 0; 3, 4, 8, 4, 1, 1; 2, 2, 3, 3, 2, 1 ]

    /// conv_transpose2d of ones (2×c×h×h by c×o×k×k), conv2d of its result back with the same
    /// kernel, and that conv2d's weight gradient (autograd), in the given type, as float64 values.
    let private run (scalar: torch.ScalarType) (c: int, o: int, h: int, k: int, s: int, p: int) =
        use _ = torch.enable_grad()
        use dy = torch.ones([| 2L; int64 c; int64 h; int64 h |], dtype = scalar)
        use w = torch.ones([| int64 c; int64 o; int64 k; int64 k |], dtype = scalar)
        let stride, padding = [| int64 s; int64 s |], [| int64 p; int64 p |]
        use x = torch.nn.functional.conv_transpose2d(dy, w, null, stride, padding)
        use wg = w.detach().requires_grad_(true)
        use y = torch.nn.functional.conv2d(x, wg, null, stride, padding)
        use dw = torch.autograd.grad([| y |], [| wg |], [| torch.ones_like(y) |]).[0]
        [| x; y; dw |] |> Array.collect (fun t -> use wide = t.detach().to_type(torch.ScalarType.Float64) in wide.data<float>().ToArray())

    /// True when any of 20 float32 results differs from its float64 one (small integers, exact in both).
    let float32Wrong =
        lazy (Seq.init 4 (fun _ -> shapes) |> Seq.concat |> Seq.exists (fun shape -> run torch.ScalarType.Float32 shape <> run torch.ScalarType.Float64 shape))

/// A matrix packed for products on the torch backend: op(M) copied once, contiguous.
type TorchPacked(matrix: torch.Tensor) =
    inherit PackedMatrix()
    /// op(M), K×N.
    member _.Matrix = matrix
    override _.K = int matrix.shape.[0]
    override _.N = int matrix.shape.[1]
    override _.Dtype = Convert.dtypeOf matrix

/// An engine tensor over a LibTorch tensor (contiguous, float32 or float64) on the backend named
/// `backend` (its device in `device`). Every op is one or a few LibTorch calls on the tensor's
/// device; nothing goes through the host but ToFloat32Array/ToFloat64Array, SumAll and IsFinite.
/// Inside a memory scope (a TorchSharp dispose scope) the tensor is disposed when the scope ends;
/// using it afterwards raises ObjectDisposedException.
type TorchTensor(tensor: torch.Tensor, backend: string, device: Device) =
    inherit RawTensor()

    let shape = Convert.shapeOf tensor
    let dtype = Convert.dtypeOf tensor

    let live () =
        if tensor.IsInvalid then
            raise (ObjectDisposedException(sprintf "tensor %s" (Shape.format shape), "This tensor was made inside a memory scope that has ended (Memory.Scope), and LibTorch has freed it. Read what you keep inside the scope, or call Keep() on it there."))
        tensor

    let wrap (t: TT) = TorchTensor(t, backend, device) :> RawTensor

    let other (raw: RawTensor) (op: string) : TT =
        match raw with
        | :? TorchTensor as o when o.Backend = backend && o.Dtype = dtype -> o.Torch
        | _ -> raise (ArgumentException(sprintf "%s: both operands must be %A tensors on the %s backend, found %A on %s." op dtype backend raw.Dtype raw.Backend, "other"))

    let scalarType = Convert.scalarType dtype

    let op (transpose: bool) (t: TT) = if transpose then t.t() else t

    /// run(operands) for a convolution, in float64 where LibTorch's float32 convolutions on the
    /// CPU are wrong (ConvolutionProbe): the operands cast up and the results cast back.
    static member private Convolve(operands: TT[], run: TT[] -> TT[]) : TT[] =
        if operands.[0].dtype = torch.ScalarType.Float32 && operands.[0].device_type = DeviceType.CPU && ConvolutionProbe.float32Wrong.Force() then
            let wide = operands |> Array.map (fun t -> t.to_type(torch.ScalarType.Float64))
            try run wide |> Array.map (fun r -> use r = r in r.to_type(torch.ScalarType.Float32))
            finally for t in wide do t.Dispose()
        else run operands

    /// The input and weight gradients of conv2d(x, w) against dy, through LibTorch's autograd
    /// (TorchSharp exposes no convolution_backward): one forward to record, one backward.
    /// Returns y, then the gradients asked for.
    static member private ConvGrads(x: TT, w: TT, dy: TT, g: ConvGeometry, wantInput: bool) =
        TorchTensor.Convolve([| x; w; dy |], fun ops ->
            use _ = torch.enable_grad()
            use xg = ops.[0].detach().requires_grad_(wantInput)
            use wg = ops.[1].detach().requires_grad_(true)
            use y = torch.nn.functional.conv2d(xg, wg, null, Convert.strides g, Convert.padding g)
            let grads = torch.autograd.grad([| y |], (if wantInput then [| xg; wg |] else [| wg |]), [| ops.[2] |])
            Array.append [| y.detach() |] (Seq.toArray grads))

    /// The LibTorch tensor (shared, not copied).
    member _.Torch = live ()

    override _.Shape = shape
    override _.Dtype = dtype
    override _.Backend = backend
    override _.Device = device
    override _.CreateLike(s, values) =
        if values.Length <> Shape.numel s then
            raise (ArgumentException(sprintf "create: shape %s needs %d values, found %d." (Shape.format s) (Shape.numel s) values.Length, "values"))
        wrap (torch.tensor(values, ReadOnlySpan<int64>(Convert.dims s), Nullable scalarType, (live ()).device))
    override _.ZerosLike s = wrap (torch.zeros(ReadOnlySpan<int64>(Convert.dims s), Nullable scalarType, (live ()).device))
    override _.FullLike(s, v) =
        use value = v.ToScalar()
        wrap (torch.full(ReadOnlySpan<int64>(Convert.dims s), value, Nullable scalarType, (live ()).device))
    override _.ToFloat32Array() =
        use host = (live ()).to_type(torch.ScalarType.Float32).cpu().contiguous()
        host.data<float32>().ToArray()
    override _.ToFloat64Array() =
        use host = (live ()).to_type(torch.ScalarType.Float64).cpu().contiguous()
        host.data<float>().ToArray()
    override _.Cast d = wrap ((live ()).to_type(Convert.scalarType d, true))
    override _.View s =
        if Shape.numel s <> Shape.numel shape then
            raise (Shape.mismatch "view" (sprintf "a shape of %d elements" (Shape.numel shape)) s "shape")
        wrap ((live ()).reshape(Convert.dims s))
    override _.Binary(kind, raw) =
        let b = other raw "binary"
        let name = match kind with BinaryOp.Add -> "add" | BinaryOp.Sub -> "sub" | BinaryOp.Mul -> "mul" | BinaryOp.Div -> "div"
        Shape.broadcast name shape raw.Shape |> ignore
        let a = live ()
        wrap (match kind with BinaryOp.Add -> a.add b | BinaryOp.Sub -> a.sub b | BinaryOp.Mul -> a.mul b | BinaryOp.Div -> a.div b)
    override _.AddScalar c =
        use s = c.ToScalar()
        wrap ((live ()).add s)
    override _.MulScalar c =
        use s = c.ToScalar()
        wrap ((live ()).mul s)
    override _.Unary kind =
        let a = live ()
        wrap (
            match kind with
            | UnaryOp.Neg -> a.neg ()
            | UnaryOp.Abs -> a.abs ()
            | UnaryOp.Sign -> a.sign ()
            | UnaryOp.Exp -> a.exp ()
            | UnaryOp.Log -> a.log ()
            | UnaryOp.Sqrt -> a.sqrt ()
            | UnaryOp.Square -> a.square ()
            | UnaryOp.Tanh -> a.tanh ()
            | UnaryOp.Sigmoid -> a.sigmoid ()
            | UnaryOp.Relu -> a.relu ()
            | UnaryOp.Step ->
                use zero = (0.0).ToScalar()
                use positive = a.gt zero
                positive.to_type scalarType)
    override _.ActivationGrad(kind, output) =
        Shape.checkEqual "activationGrad" "output" shape output.Shape
        let y = other output "activationGrad"
        let g = live ()
        use minusOne = (-1.0).ToScalar()
        // Two LibTorch passes each (g·y, then a fused multiply-add) where the textbook forms take four.
        match kind with
        | UnaryOp.Tanh ->
            // g·(1 − y²) = g − (g·y)·y
            use gy = g.mul y
            wrap (g.addcmul(gy, y, minusOne))
        | UnaryOp.Sigmoid ->
            // g·y·(1 − y) = g·y − (g·y)·y
            use gy = g.mul y
            wrap (gy.addcmul(gy, y, minusOne))
        | other -> raise (ArgumentException(sprintf "activationGrad: %A has no one-pass reverse rule from its output." other, "op"))
    override _.Clamp(lo, hi) =
        use l = lo.ToScalar()
        use h = hi.ToScalar()
        wrap ((live ()).clamp(l, h))
    override _.InRangeMask(lo, hi) =
        use l = lo.ToScalar()
        use h = hi.ToScalar()
        let a = live ()
        use above = a.ge l
        use below = a.le h
        use both = above.logical_and below
        wrap (both.to_type scalarType)
    override _.SumToShape target =
        if Shape.broadcast "sumToShape" shape target <> shape then
            raise (Shape.mismatch "sumToShape" (sprintf "a shape that broadcasts to %s" (Shape.format shape)) target "shape")
        let extra = shape.Length - target.Length
        let leading = if extra > 0 then (live ()).sum(Array.init extra int64, false) else live ()
        let ones = [| for i in 0 .. target.Length - 1 do if target.[i] = 1 && shape.[extra + i] <> 1 then int64 i |]
        let summed = if ones.Length > 0 then leading.sum(ones, true) else leading
        wrap (summed.reshape(Convert.dims target))
    override _.SumAll() =
        use total = (live ()).sum(Nullable torch.ScalarType.Float64)
        total.item<float>()
    override _.SoftmaxLast() = wrap ((live ()).softmax(-1L))
    override _.LogSoftmaxLast() = wrap ((live ()).log_softmax(-1L))
    override _.Permute perm = wrap ((live ()).permute(Convert.dims perm).contiguous())
    override _.Slice(starts, lengths) =
        let mutable view = live ()
        for axis in 0 .. shape.Length - 1 do
            if starts.[axis] <> 0 || lengths.[axis] <> shape.[axis] then
                view <- view.narrow(int64 axis, int64 starts.[axis], int64 lengths.[axis])
        wrap (view.contiguous())
    override _.Unslice(fullShape, starts) =
        let out = torch.zeros(ReadOnlySpan<int64>(Convert.dims fullShape), Nullable scalarType, (live ()).device)
        let mutable view = out
        for axis in 0 .. shape.Length - 1 do
            view <- view.narrow(int64 axis, int64 starts.[axis], int64 shape.[axis])
        view.copy_(live ()) |> ignore
        wrap out
    override _.Concat(others, axis) =
        let all = Array.append [| live () |] (others |> Array.map (fun o -> other o "concat"))
        wrap (torch.cat(all, int64 axis))
    override _.MatMul(transA, transB, raw) =
        let b = other raw "matmul"
        wrap (torch.mm(op transA (live ()), op transB b))
    override _.PackRight transpose =
        if shape.Length <> 2 then raise (Shape.mismatch "packRight" "a 2-D tensor" shape "this")
        TorchPacked((op transpose (live ())).clone().contiguous()) :> PackedMatrix
    override _.MatMulPacked(transA, right) =
        match right with
        | :? TorchPacked as p when p.Matrix.device.ToString() = (live ()).device.ToString() && p.Dtype = dtype ->
            wrap (torch.mm(op transA (live ()), p.Matrix))
        | _ -> raise (ArgumentException(sprintf "matmul packed: the packed matrix is not a %A matrix of the %s backend." dtype backend, "right"))
    override _.MatMulAddInto(transA, transB, raw, into) =
        let b = other raw "matmul accumulate"
        let c = other into "matmul accumulate"
        c.addmm_(op transA (live ()), op transB b) |> ignore
    override _.Conv2d(weight, g) =
        let y = TorchTensor.Convolve([| live (); other weight "conv2d" |], fun ops -> [| torch.nn.functional.conv2d(ops.[0], ops.[1], null, Convert.strides g, Convert.padding g) |])
        wrap y.[0]
    override _.Conv2dBias(weight, bias, g) =
        let y =
            TorchTensor.Convolve([| live (); other weight "conv2d"; other bias "conv2d" |], fun ops ->
                [| torch.nn.functional.conv2d(ops.[0], ops.[1], ops.[2], Convert.strides g, Convert.padding g) |])
        wrap y.[0]
    override _.Conv2dBackwardInput(weight, inputShape, g) =
        let w = other weight "conv2d backward"
        let h = (shape.[2] - 1) * g.StrideH - 2 * g.PadH + weight.Shape.[2]
        let wd = (shape.[3] - 1) * g.StrideW - 2 * g.PadW + weight.Shape.[3]
        let outputPadding = [| int64 (inputShape.[2] - h); int64 (inputShape.[3] - wd) |]
        let x = TorchTensor.Convolve([| live (); w |], fun ops -> [| torch.nn.functional.conv_transpose2d(ops.[0], ops.[1], null, Convert.strides g, Convert.padding g, outputPadding) |])
        wrap x.[0]
    override _.Conv2dBackwardWeight(gradOutput, weightShape, g) =
        let dy = other gradOutput "conv2d backward"
        use w = torch.zeros(ReadOnlySpan<int64>(Convert.dims weightShape), Nullable scalarType, (live ()).device)
        let results = TorchTensor.ConvGrads(live (), w, dy, g, false)
        results.[0].Dispose()
        wrap results.[1]
    override _.Conv2dAndWeightGrad(weight, gradOutput, g) =
        let results = TorchTensor.ConvGrads(live (), other weight "conv2d", other gradOutput "conv2d backward", g, false)
        wrap results.[0], wrap results.[1]
    override _.Conv2dBackward(input, weight, g) =
        let results = TorchTensor.ConvGrads(other input "conv2d backward", other weight "conv2d backward", live (), g, true)
        results.[0].Dispose()
        wrap results.[1], wrap results.[2]
    override _.Svd() =
        if shape.Length <> 2 then raise (Shape.mismatch "svd" "a 2-D tensor" shape "this")
        let struct (u, s, vt) = torch.linalg.svd(live (), false)
        wrap u, wrap s, wrap vt
    override _.SymmetricEigen() =
        if shape.Length <> 2 || shape.[0] <> shape.[1] then raise (Shape.mismatch "symmetric eigen" "a square matrix" shape "this")
        use wide = (live ()).to_type(torch.ScalarType.Float64)
        let struct (values, vectors) = torch.linalg.eigh(wide)
        use descendingVectors = vectors.flip(1L)
        use descendingValues = values.flip(0L)
        wrap (descendingVectors.to_type scalarType), wrap (descendingValues.to_type scalarType)
    override _.IsFinite() =
        use finite = torch.isfinite(live ())
        use all = finite.all()
        all.item<bool>()
    override _.AxpyInPlace(alpha, x) =
        Shape.checkEqual "axpy" "x" shape x.Shape
        use a = alpha.ToScalar()
        (live ()).add_(other x "axpy", a) |> ignore
    override _.ScaleInPlace alpha =
        use a = alpha.ToScalar()
        (live ()).mul_(a) |> ignore
    override _.AdamInPlace(grad, m, v, step, beta1, beta2, c2, eps) =
        for name, t in [ "grad", grad; "m", m; "v", v ] do Shape.checkEqual "adam" name shape t.Shape
        let g, m, v = other grad "adam", other m "adam", other v "adam"
        use b1 = beta1.ToScalar()
        use b2 = beta2.ToScalar()
        use oneMinusB1 = (1.0 - beta1).ToScalar()
        use oneMinusB2 = (1.0 - beta2).ToScalar()
        use c = c2.ToScalar()
        use e = eps.ToScalar()
        use minusStep = (-step).ToScalar()
        m.mul_(b1).add_(g, oneMinusB1) |> ignore
        v.mul_(b2).addcmul_(g, g, oneMinusB2) |> ignore
        use denominator = v.sqrt().div_(c).add_(e)
        (live ()).addcdiv_(m, denominator, minusStep) |> ignore
    override _.AddInPlace x =
        if Shape.broadcast "addInPlace" shape x.Shape <> shape then
            raise (Shape.mismatch "addInPlace" (sprintf "a shape that broadcasts to %s" (Shape.format shape)) x.Shape "x")
        (live ()).add_(other x "addInPlace") |> ignore
    override _.CopyInPlace x =
        Shape.checkEqual "copy" "x" shape x.Shape
        (live ()).copy_(other x "copy") |> ignore
    override t.Keep() =
        (live ()).DetachFromDisposeScope() |> ignore
        t
