namespace Crhn.Core

open System
open System.Numerics
open Crhn.Core.Kernels
open Crhn.Core.Providers

/// A CPU tensor's matrix packed for products (RawTensor.PackRight).
type CpuPacked<'T when 'T : unmanaged>(packed: ManagedGemm.PackedRight<'T>) =
    inherit PackedMatrix()
    member _.Packed = packed
    override _.K = packed.K
    override _.N = packed.N
    override _.Dtype = if typeof<'T> = typeof<float32> then Dtype.Float32 else Dtype.Float64

/// The CPU backend: managed arrays, TensorPrimitives for element-wise work, the engine's provider
/// for GEMM and SVD. One generic class serves float32 and float64 (the JIT specialises each).
type CpuTensor<'T when 'T :> IFloatingPointIeee754<'T>>(shape: int[], storage: 'T[]) =
    inherit RawTensor()

    // The storage goes back to the engine's pool once nothing refers to it (Kernels.Storage), or
    // when the memory scope it was taken in ends; then the ticket says so.
    do Storage.track storage
    let ticket = Storage.ticket storage

    /// The storage, refused once its scope has handed it back.
    let live () =
        if not (isNull ticket || ticket.Live) then
            raise (ObjectDisposedException(sprintf "tensor %s" (Shape.format shape), "This tensor was made inside a memory scope that has ended (Memory.Scope), and its storage has gone back for reuse. Read what you keep inside the scope, or call Keep() on it there."))
        storage

    static let dtype = if typeof<'T> = typeof<float32> then Dtype.Float32 else Dtype.Float64
    static let ofFloat (v: float) = 'T.CreateChecked v
    static let serialGemm : SerialGemm<'T> =
        if typeof<'T> = typeof<float32> then
            unbox (box (fun ta tb m n k (a: float32[]) ao lda b bo ldb (beta: float32) c co ldc ->
                ManagedGemm.sgemmSerial ta tb m n k 1.0f a ao lda b bo ldb beta c co ldc))
        else
            unbox (box (fun ta tb m n k (a: float[]) ao lda b bo ldb (beta: float) c co ldc ->
                ManagedGemm.dgemmSerial ta tb m n k 1.0 a ao lda b bo ldb beta c co ldc))

    /// The storage (shared, not copied: treat as read-only).
    member _.Data = live ()

    static member private Of(raw: RawTensor, op: string) : 'T[] =
        match raw with
        | :? CpuTensor<'T> as c -> c.Data
        | _ ->
            raise (ArgumentException(sprintf "%s: both operands must be %A tensors on the CPU backend, found %A on %s." op dtype raw.Dtype raw.Backend, "other"))

    static member private Make(shape: int[], values: 'T[]) = CpuTensor<'T>(shape, values) :> RawTensor

    override _.Shape = shape
    override _.Dtype = dtype
    override _.Backend = "cpu"
    override _.Device = Device.Cpu
    override _.CreateLike(s, values) =
        if values.Length <> Shape.numel s then
            raise (ArgumentException(sprintf "create: shape %s needs %d values, found %d." (Shape.format s) (Shape.numel s) values.Length, "values"))
        let out = Storage.uninit<'T> values.Length
        Numerics.Tensors.TensorPrimitives.ConvertChecked<float, 'T>(ReadOnlySpan values, Span out)
        CpuTensor<'T>.Make(s, out)
    override _.ZerosLike s = CpuTensor<'T>.Make(s, Storage.zeros (Shape.numel s))
    override _.FullLike(s, v) =
        let out = Storage.uninit<'T> (Shape.numel s)
        Array.Fill(out, ofFloat v)
        CpuTensor<'T>.Make(s, out)
    override _.ToFloat32Array() =
        let out = GC.AllocateUninitializedArray<float32> storage.Length
        Numerics.Tensors.TensorPrimitives.ConvertChecked<'T, float32>(ReadOnlySpan (live ()), Span out)
        out
    override _.ToFloat64Array() =
        let out = GC.AllocateUninitializedArray<float> storage.Length
        Numerics.Tensors.TensorPrimitives.ConvertChecked<'T, float>(ReadOnlySpan (live ()), Span out)
        out
    override t.Cast d =
        match d with
        | Dtype.Float32 -> CpuTensor<float32>(shape, t.ToFloat32Array()) :> RawTensor
        | Dtype.Float64 -> CpuTensor<float>(shape, t.ToFloat64Array()) :> RawTensor
    override _.View s =
        if Shape.numel s <> storage.Length then
            raise (Shape.mismatch "view" (sprintf "a shape of %d elements" storage.Length) s "shape")
        CpuTensor<'T>.Make(s, (live ()))
    override _.Binary(op, other) =
        let b = CpuTensor<'T>.Of(other, "binary")
        let name = match op with BinaryOp.Add -> "add" | BinaryOp.Sub -> "sub" | BinaryOp.Mul -> "mul" | BinaryOp.Div -> "div"
        let outShape = Shape.broadcast name shape other.Shape
        CpuTensor<'T>.Make(outShape, Elementwise.binary op shape (live ()) other.Shape b outShape)
    override _.AddScalar c = CpuTensor<'T>.Make(shape, Elementwise.addScalar (ofFloat c) (live ()))
    override _.MulScalar c = CpuTensor<'T>.Make(shape, Elementwise.mulScalar (ofFloat c) (live ()))
    override _.Unary op = CpuTensor<'T>.Make(shape, Elementwise.unary op (live ()))
    override _.ActivationGrad(op, output) =
        Shape.checkEqual "activationGrad" "output" shape output.Shape
        CpuTensor<'T>.Make(shape, Elementwise.activationGrad op (CpuTensor<'T>.Of(output, "activationGrad")) (live ()))
    override _.Clamp(lo, hi) = CpuTensor<'T>.Make(shape, Elementwise.clamp (ofFloat lo) (ofFloat hi) (live ()))
    override _.InRangeMask(lo, hi) = CpuTensor<'T>.Make(shape, Elementwise.inRange (ofFloat lo) (ofFloat hi) (live ()))
    override _.SumToShape target =
        if Shape.broadcast "sumToShape" shape target <> shape then
            raise (Shape.mismatch "sumToShape" (sprintf "a shape that broadcasts to %s" (Shape.format shape)) target "shape")
        CpuTensor<'T>.Make(target, Reduce.sumToShape shape (live ()) target)
    override _.SumAll() = Reduce.sumAll (live ())
    override _.SoftmaxLast() = CpuTensor<'T>.Make(shape, Reduce.softmaxLast (Array.last shape) (live ()))
    override _.LogSoftmaxLast() = CpuTensor<'T>.Make(shape, Reduce.logSoftmaxLast (Array.last shape) (live ()))
    override _.Permute perm = CpuTensor<'T>.Make(Array.map (fun p -> shape.[p]) perm, Layout.permute shape (live ()) perm)
    override _.Slice(starts, lengths) = CpuTensor<'T>.Make(lengths, Layout.slice shape (live ()) starts lengths)
    override _.Unslice(fullShape, starts) = CpuTensor<'T>.Make(fullShape, Layout.unslice fullShape (live ()) shape starts)
    override this.Concat(others, axis) =
        let all = Array.append [| this :> RawTensor |] others
        let arrays = all |> Array.map (fun t -> CpuTensor<'T>.Of(t, "concat"))
        let outShape = Array.copy shape
        outShape.[axis] <- all |> Array.sumBy (fun t -> t.Shape.[axis])
        CpuTensor<'T>.Make(outShape, Layout.concat (all |> Array.map (fun t -> t.Shape)) arrays axis)
    /// The shape of op(this)·op(other).
    member private _.ProductShape(transA: bool, transB: bool, other: RawTensor) =
        [| (if transA then shape.[1] else shape.[0]); (if transB then other.Shape.[0] else other.Shape.[1]) |]
    /// C (row-major, offset 0) ← op(this)·op(other) + β·C through the GEMM provider.
    member private _.Gemm(transA: bool, transB: bool, other: RawTensor, beta: float, c: 'T[]) =
        let b = CpuTensor<'T>.Of(other, "matmul")
        let m, k = if transA then shape.[1], shape.[0] else shape.[0], shape.[1]
        let n = if transB then other.Shape.[0] else other.Shape.[1]
        let p = LinearAlgebra.Provider()
        match box (live ()), box b, box c with
        | (:? (float32[]) as a32), (:? (float32[]) as b32), (:? (float32[]) as c32) ->
            p.Sgemm(transA, transB, m, n, k, 1.0f, a32, 0, shape.[1], b32, 0, other.Shape.[1], float32 beta, c32, 0, n)
        | (:? (float[]) as a64), (:? (float[]) as b64), (:? (float[]) as c64) ->
            p.Dgemm(transA, transB, m, n, k, 1.0, a64, 0, shape.[1], b64, 0, other.Shape.[1], beta, c64, 0, n)
        | _ -> invalidOp "matmul: unsupported element type"
    override t.MatMul(transA, transB, other) =
        let outShape = t.ProductShape(transA, transB, other)
        // Both providers overwrite C when beta = 0 without reading it (reference BLAS semantics).
        let c = Storage.uninit<'T> (Shape.numel outShape)
        t.Gemm(transA, transB, other, 0.0, c)
        CpuTensor<'T>.Make(outShape, c)
    override t.MatMulAddInto(transA, transB, other, into) =
        Shape.checkEqual "matmul accumulate" "into" (t.ProductShape(transA, transB, other)) into.Shape
        t.Gemm(transA, transB, other, 1.0, CpuTensor<'T>.Of(into, "matmul accumulate"))
    override _.PackRight(transpose) =
        if shape.Length <> 2 then raise (Shape.mismatch "packRight" "a 2-D tensor" shape "this")
        let k, n = if transpose then shape.[1], shape.[0] else shape.[0], shape.[1]
        match box (live ()) with
        | :? (float32[]) as a -> CpuPacked(ManagedGemm.packRightS transpose k n a 0 shape.[1]) :> PackedMatrix
        | :? (float[]) as a -> CpuPacked(ManagedGemm.packRightD transpose k n a 0 shape.[1]) :> PackedMatrix
        | _ -> invalidOp "packRight: unsupported element type"
    override _.MatMulPacked(transA, right) =
        if shape.Length <> 2 then raise (Shape.mismatch "matmul packed" "a 2-D tensor" shape "this")
        let m, k = if transA then shape.[1], shape.[0] else shape.[0], shape.[1]
        if right.Dtype <> dtype then
            raise (ArgumentException(sprintf "matmul packed: expected a %A packed matrix, found %A." dtype right.Dtype, "right"))
        if right.K <> k then
            raise (Shape.mismatch "matmul packed" (sprintf "an operand whose %s has %d columns to match the packed %d×%d matrix" (if transA then "transpose" else "rows") right.K right.K right.N) shape "this")
        let c = Storage.uninit<'T> (m * right.N)
        match box (live ()), box right, box c with
        | (:? (float32[]) as a), (:? CpuPacked<float32> as p), (:? (float32[]) as c32) -> ManagedGemm.sgemmPacked transA m 1.0f a 0 shape.[1] p.Packed 0.0f c32 0 right.N
        | (:? (float[]) as a), (:? CpuPacked<float> as p), (:? (float[]) as c64) -> ManagedGemm.dgemmPacked transA m 1.0 a 0 shape.[1] p.Packed 0.0 c64 0 right.N
        | _ -> raise (ArgumentException("matmul packed: the packed matrix is not from the CPU backend.", "right"))
        CpuTensor<'T>.Make([| m; right.N |], c)
    override _.Conv2d(weight, g) =
        let w = CpuTensor<'T>.Of(weight, "conv2d")
        let outShape, y = Conv.forward serialGemm shape (live ()) weight.Shape w None g
        CpuTensor<'T>.Make(outShape, y)
    override _.Conv2dBias(weight, bias, g) =
        let w = CpuTensor<'T>.Of(weight, "conv2d")
        if bias.Shape <> [| weight.Shape.[0] |] then
            raise (Shape.mismatch "conv2d" (sprintf "a bias of %d values, one per output channel" weight.Shape.[0]) bias.Shape "bias")
        let b = CpuTensor<'T>.Of(bias, "conv2d")
        let outShape, y = Conv.forward serialGemm shape (live ()) weight.Shape w (Some b) g
        CpuTensor<'T>.Make(outShape, y)
    override _.Conv2dBackwardInput(weight, inputShape, g) =
        let w = CpuTensor<'T>.Of(weight, "conv2d backward")
        CpuTensor<'T>.Make(inputShape, Conv.backwardInput serialGemm inputShape (live ()) weight.Shape w g)
    override _.Conv2dBackwardWeight(gradOutput, weightShape, g) =
        let dy = CpuTensor<'T>.Of(gradOutput, "conv2d backward")
        CpuTensor<'T>.Make(weightShape, Conv.backwardWeight serialGemm shape (live ()) dy weightShape g)
    override _.Conv2dAndWeightGrad(weight, gradOutput, g) =
        let w = CpuTensor<'T>.Of(weight, "conv2d")
        let dy = CpuTensor<'T>.Of(gradOutput, "conv2d backward")
        let expected =
            [| shape.[0]; weight.Shape.[0]; Shape.convOutput shape.[2] weight.Shape.[2] g.StrideH g.PadH; Shape.convOutput shape.[3] weight.Shape.[3] g.StrideW g.PadW |]
        Shape.checkEqual "conv2d backward" "gradOutput" expected gradOutput.Shape
        let outShape, y, dw = Conv.forwardAndWeight serialGemm shape (live ()) weight.Shape w dy g
        CpuTensor<'T>.Make(outShape, y), CpuTensor<'T>.Make(weight.Shape, dw)
    override _.Conv2dBackward(input, weight, g) =
        let x = CpuTensor<'T>.Of(input, "conv2d backward")
        let w = CpuTensor<'T>.Of(weight, "conv2d backward")
        let dx, dw = Conv.backward serialGemm input.Shape x (live ()) weight.Shape w g
        CpuTensor<'T>.Make(input.Shape, dx), CpuTensor<'T>.Make(weight.Shape, dw)
    override _.Svd() =
        let m, n = shape.[0], shape.[1]
        let k = min m n
        let p = LinearAlgebra.Provider()
        let u, s, vt =
            match box (live ()) with
            | :? (float32[]) as a ->
                let r = p.Sgesdd(m, n, a)
                box r.U, box r.S, box r.Vt
            | :? (float[]) as a ->
                let r = p.Dgesdd(m, n, a)
                box r.U, box r.S, box r.Vt
            | _ -> invalidOp "svd: unsupported element type"
        CpuTensor<'T>.Make([| m; k |], unbox u), CpuTensor<'T>.Make([| k |], unbox s), CpuTensor<'T>.Make([| k; n |], unbox vt)
    override t.SymmetricEigen() =
        if shape.Length <> 2 || shape.[0] <> shape.[1] then raise (Shape.mismatch "symmetric eigen" "a square matrix" shape "this")
        let r = LinearAlgebra.Provider().Dsyevd(shape.[0], t.ToFloat64Array())
        CpuTensor<'T>.Make(shape, Array.map ofFloat r.Vectors), CpuTensor<'T>.Make([| shape.[0] |], Array.map ofFloat r.Values)
    override _.IsFinite() = Elementwise.isFinite (live ())
    override _.AxpyInPlace(alpha, x) =
        let xs = CpuTensor<'T>.Of(x, "axpy")
        Shape.checkEqual "axpy" "x" shape x.Shape
        Numerics.Tensors.TensorPrimitives.MultiplyAdd(ReadOnlySpan xs, ofFloat alpha, ReadOnlySpan (live ()), Span (live ()))
    override _.AddInPlace x =
        if Shape.broadcast "addInPlace" shape x.Shape <> shape then
            raise (Shape.mismatch "addInPlace" (sprintf "a shape that broadcasts to %s" (Shape.format shape)) x.Shape "x")
        Elementwise.binaryInto BinaryOp.Add shape (live ()) x.Shape (CpuTensor<'T>.Of(x, "addInPlace")) shape (live ())
    override _.ScaleInPlace alpha =
        Numerics.Tensors.TensorPrimitives.Multiply(ReadOnlySpan (live ()), ofFloat alpha, Span (live ()))
    override _.AdamInPlace(grad, m, v, step, beta1, beta2, c2, eps) =
        for name, t in [ "grad", grad; "m", m; "v", v ] do Shape.checkEqual "adam" name shape t.Shape
        Elementwise.adamInto (live ()) (CpuTensor<'T>.Of(grad, "adam")) (CpuTensor<'T>.Of(m, "adam")) (CpuTensor<'T>.Of(v, "adam")) step beta1 beta2 c2 eps
    override t.Keep() =
        Storage.keep (live ())
        t
    override _.CopyInPlace x =
        Shape.checkEqual "copy" "x" shape x.Shape
        let src, dst = CpuTensor<'T>.Of(x, "copy"), live ()
        // Large copies on every core: one core's loads and stores reach about half the memory
        // bandwidth. Copies larger than the caches stream their stores.
        let bytes = int64 storage.Length * int64 (Runtime.CompilerServices.Unsafe.SizeOf<'T>())
        let part = if bytes >= Streaming.threshold then Streaming.copy else (fun (s: 'T[]) d off len -> Array.blit s off d off len)
        FastActivation.chunked storage.Length (fun off len -> part src dst off len)

/// Creation of CPU tensors.
[<RequireQualifiedAccess>]
module Cpu =
    /// A float32 tensor over a copy of the values.
    let ofFloat32 (shape: int[]) (values: float32[]) =
        if values.Length <> Shape.numel shape then
            raise (ArgumentException(sprintf "create: shape %s needs %d values, found %d." (Shape.format shape) (Shape.numel shape) values.Length, "values"))
        CpuTensor<float32>(Array.copy shape, Array.copy values) :> RawTensor

    /// A float64 tensor over a copy of the values.
    let ofFloat64 (shape: int[]) (values: float[]) =
        if values.Length <> Shape.numel shape then
            raise (ArgumentException(sprintf "create: shape %s needs %d values, found %d." (Shape.format shape) (Shape.numel shape) values.Length, "values"))
        CpuTensor<float>(Array.copy shape, Array.copy values) :> RawTensor

    /// A zero tensor.
    let zeros (dtype: Dtype) (shape: int[]) =
        match dtype with
        | Dtype.Float32 -> CpuTensor<float32>(shape, Storage.zeros (Shape.numel shape)) :> RawTensor
        | Dtype.Float64 -> CpuTensor<float>(shape, Storage.zeros (Shape.numel shape)) :> RawTensor

    /// A tensor filled with one value.
    let full (dtype: Dtype) (shape: int[]) (value: float) =
        match dtype with
        | Dtype.Float32 -> CpuTensor<float32>(Array.copy shape, Array.create (Shape.numel shape) (float32 value)) :> RawTensor
        | Dtype.Float64 -> CpuTensor<float>(Array.copy shape, Array.create (Shape.numel shape) value) :> RawTensor

/// The CPU backend's factory: managed arrays recycled through the storage pool, GEMM and SVD on
/// the linear-algebra provider (LinearAlgebra).
[<Sealed>]
type CpuBackend() =
    inherit Backend()
    override _.Name = "cpu"
    override _.Device = Device.Cpu
    override _.OfFloat32(shape, values) = Cpu.ofFloat32 shape values
    override _.OfFloat64(shape, values) = Cpu.ofFloat64 shape values
    override _.Zeros(dtype, shape) = Cpu.zeros dtype (Array.copy shape)
    override _.Full(dtype, shape, value) = Cpu.full dtype shape value
    override _.Scope() = Storage.scope ()
    override _.Describe() = LinearAlgebra.Describe()
