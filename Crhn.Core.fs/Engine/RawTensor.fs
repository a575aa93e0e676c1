namespace Crhn.Core

open System

/// The element types tensors hold: float32 for models, float64 where a property needs it.
[<RequireQualifiedAccess>]
type Dtype =
    | Float32
    | Float64

/// Element-wise binary operations (NumPy broadcasting).
[<RequireQualifiedAccess>]
type BinaryOp =
    | Add
    | Sub
    | Mul
    | Div

/// Element-wise unary operations.
[<RequireQualifiedAccess>]
type UnaryOp =
    | Neg
    | Abs
    | Sign
    | Exp
    | Log
    | Sqrt
    | Square
    | Tanh
    | Sigmoid
    | Relu
    /// 1 where x > 0, else 0 (the derivative of ReLU).
    | Step

/// Stride and zero padding of a 2-D convolution, per axis.
type ConvGeometry =
    { StrideH: int
      StrideW: int
      PadH: int
      PadW: int }

/// A matrix op(M) (K×N) packed once for many products x·op(M) against it
/// (RawTensor.PackRight, RawTensor.MatMulPacked), laid out as the GEMM kernels read their
/// right-hand operand. A snapshot: later changes to M do not reach it.
[<AbstractClass>]
type PackedMatrix() =
    /// Rows of op(M), the inner dimension of the products.
    abstract K: int
    /// Columns of op(M) and of the products.
    abstract N: int
    /// The element type.
    abstract Dtype: Dtype

/// The kinds of device a backend's tensors live on.
[<RequireQualifiedAccess>]
type DeviceType =
    | Cpu
    | Cuda

/// Where a backend's tensors live: a device type and, for accelerators, its index.
[<Struct>]
type Device =
    { Type: DeviceType
      Index: int }

    /// The host's memory and cores.
    static member Cpu = { Type = DeviceType.Cpu; Index = 0 }

    /// The CUDA device with the given index.
    static member Cuda(index: int) = { Type = DeviceType.Cuda; Index = index }

    override d.ToString() =
        match d.Type with
        | DeviceType.Cpu -> "cpu"
        | DeviceType.Cuda -> sprintf "cuda:%d" d.Index

/// The backend boundary (after DiffSharp's RawTensor): a contiguous, row-major, immutable-by-
/// convention tensor and the primal kernels on it. Nothing here records gradients; the autodiff
/// layer (Tensor) calls these and never loops over storage itself. A backend (CPU today, a
/// TorchSharp one later) is one subclass. In-place members exist for optimisers only.
[<AbstractClass>]
type RawTensor() =
    /// The shape, row-major.
    abstract Shape: int[]
    /// float32 or float64.
    abstract Dtype: Dtype
    /// The name of the backend holding the data (Backend.Name).
    abstract Backend: string
    /// The device holding the data.
    abstract Device: Device
    /// A new tensor of the same dtype and backend, filled from float64 values.
    abstract CreateLike: shape: int[] * values: float[] -> RawTensor
    /// A zero tensor of the same dtype and backend.
    abstract ZerosLike: shape: int[] -> RawTensor
    /// A tensor of the same dtype and backend filled with one value.
    abstract FullLike: shape: int[] * value: float -> RawTensor
    /// The elements, converted to float32, row-major (a copy).
    abstract ToFloat32Array: unit -> float32[]
    /// The elements, converted to float64, row-major (a copy).
    abstract ToFloat64Array: unit -> float[]
    /// The same elements in another dtype.
    abstract Cast: Dtype -> RawTensor
    /// The same storage under another shape of equal element count.
    abstract View: shape: int[] -> RawTensor
    /// a ∘ b with NumPy broadcasting.
    abstract Binary: op: BinaryOp * other: RawTensor -> RawTensor
    /// x + c.
    abstract AddScalar: float -> RawTensor
    /// x · c.
    abstract MulScalar: float -> RawTensor
    /// f(x) element-wise.
    abstract Unary: UnaryOp -> RawTensor
    /// The reverse rule of an activation in one pass, this being the output's gradient g and `output`
    /// the activation's value y: g·(1 − y²) for Tanh, g·y·(1 − y) for Sigmoid (other ops: ArgumentException).
    abstract ActivationGrad: op: UnaryOp * output: RawTensor -> RawTensor
    /// min(max(x, lo), hi).
    abstract Clamp: lo: float * hi: float -> RawTensor
    /// 1 where lo ≤ x ≤ hi, else 0.
    abstract InRangeMask: lo: float * hi: float -> RawTensor
    /// Sums over the axes that `shape` broadcasts (the reverse of broadcasting to this shape).
    abstract SumToShape: shape: int[] -> RawTensor
    /// The sum of every element, accumulated in float64.
    abstract SumAll: unit -> float
    /// Softmax along the last axis, max-subtracted.
    abstract SoftmaxLast: unit -> RawTensor
    /// Log-softmax along the last axis (x − max − log Σ exp(x − max)).
    abstract LogSoftmaxLast: unit -> RawTensor
    /// Axis permutation: output axis i is input axis perm[i].
    abstract Permute: perm: int[] -> RawTensor
    /// The block starting at `starts` with `lengths` along each axis.
    abstract Slice: starts: int[] * lengths: int[] -> RawTensor
    /// A zero tensor of `fullShape` with this tensor written at `starts` (the adjoint of Slice).
    abstract Unslice: fullShape: int[] * starts: int[] -> RawTensor
    /// This tensor followed by `others` along `axis`.
    abstract Concat: others: RawTensor[] * axis: int -> RawTensor
    /// op(this)·op(other) for 2-D tensors, through the engine's GEMM provider.
    abstract MatMul: transA: bool * transB: bool * other: RawTensor -> RawTensor
    /// op(this) (a 2-D tensor, transposed when `transpose`) packed once for many products against
    /// it (MatMulPacked): loops that multiply by a fixed matrix save the packing each product
    /// would otherwise do. The products run on the managed GEMM kernels whatever the provider.
    abstract PackRight: transpose: bool -> PackedMatrix
    /// op(this)·M for a packed M (PackRight), the same values as MatMul against the matrix it was packed from.
    abstract MatMulPacked: transA: bool * right: PackedMatrix -> RawTensor
    /// into ← into + op(this)·op(other), in place (GEMM with β = 1; backward accumulation only).
    abstract MatMulAddInto: transA: bool * transB: bool * other: RawTensor * into: RawTensor -> unit
    /// 2-D cross-correlation of this N×C×H×W input with an O×C×kh×kw weight.
    abstract Conv2d: weight: RawTensor * geometry: ConvGeometry -> RawTensor
    /// Conv2d plus a bias of O values (one per output channel), added in the same pass over the output.
    abstract Conv2dBias: weight: RawTensor * bias: RawTensor * geometry: ConvGeometry -> RawTensor
    /// The adjoint of Conv2d in its input, applied to this N×O×Ho×Wo tensor (= conv_transpose2d).
    abstract Conv2dBackwardInput: weight: RawTensor * inputShape: int[] * geometry: ConvGeometry -> RawTensor
    /// The gradient of Conv2d in its weight: this is the input, `gradOutput` the output's gradient.
    abstract Conv2dBackwardWeight: gradOutput: RawTensor * weightShape: int[] * geometry: ConvGeometry -> RawTensor
    /// Conv2d of this input with `weight` and, in the same pass, the weight gradient against
    /// `gradOutput` (Conv2dBackwardWeight): (output, d weight). The reverse pass of a transposed
    /// convolution needs both, from the same input.
    abstract Conv2dAndWeightGrad: weight: RawTensor * gradOutput: RawTensor * geometry: ConvGeometry -> RawTensor * RawTensor
    /// Both gradients of Conv2d at once (this is the output's gradient): (d input, d weight), in
    /// one pass that shares the work of the two.
    abstract Conv2dBackward: input: RawTensor * weight: RawTensor * geometry: ConvGeometry -> RawTensor * RawTensor
    /// Thin SVD of a 2-D tensor: U (m×k), S (k), Vᵀ (k×n), k = min(m, n).
    abstract Svd: unit -> RawTensor * RawTensor * RawTensor
    /// Eigendecomposition of a symmetric 2-D tensor (computed in float64, returned in this dtype):
    /// (V, λ) with eigenvector j in column j of V and λ descending. Only one triangle is read.
    abstract SymmetricEigen: unit -> RawTensor * RawTensor
    /// True when no element is NaN or infinite.
    abstract IsFinite: unit -> bool
    /// this ← this + α·x (optimisers only).
    abstract AxpyInPlace: alpha: float * x: RawTensor -> unit
    /// this ← α·this (optimisers only).
    abstract ScaleInPlace: alpha: float -> unit
    /// One Adam step on this parameter from its gradient, updating the moments m and v in place
    /// (PyTorch's order of operations): step = lr/(1−β₁ᵗ), c₂ = √(1−β₂ᵗ).
    abstract AdamInPlace: grad: RawTensor * m: RawTensor * v: RawTensor * step: float * beta1: float * beta2: float * c2: float * eps: float -> unit
    /// this ← this + x, x broadcast to this shape (for a result nobody else holds yet, and optimisers).
    abstract AddInPlace: x: RawTensor -> unit
    /// this ← x, element for element (optimisers and in-place parameter updates only).
    abstract CopyInPlace: x: RawTensor -> unit
    /// Takes this tensor's storage out of the storage scope it was made in (Memory.Scope),
    /// so that it stays valid after the scope ends; returns this tensor.
    abstract Keep: unit -> RawTensor

    /// The number of elements.
    member t.Numel = Shape.numel t.Shape

    /// The same values on another backend (this tensor itself when it is already there): a
    /// copy through the host, in the same dtype.
    member t.MoveTo(target: Backend) : RawTensor =
        if t.Backend = target.Name then t
        else
            match t.Dtype with
            | Dtype.Float32 -> target.OfFloat32(t.Shape, t.ToFloat32Array())
            | Dtype.Float64 -> target.OfFloat64(t.Shape, t.ToFloat64Array())

/// A backend's factory (after DiffSharp's BackendTensorStatics): the one way tensors are made
/// from host data, so that models, loaders and the facade create on whichever backend is current
/// (Backends.Current) and never name one. Operations on tensors then stay on their backend
/// (CreateLike, ZerosLike); a backend refuses operands of another.
and [<AbstractClass; AllowNullLiteral>] Backend() =
    /// The name tensors carry in RawTensor.Backend ("cpu", "torch:cuda:0", ...).
    abstract Name: string
    /// The device its tensors live on.
    abstract Device: Device
    /// A float32 tensor over a copy of the values (row-major).
    abstract OfFloat32: shape: int[] * values: float32[] -> RawTensor
    /// A float64 tensor over a copy of the values (row-major).
    abstract OfFloat64: shape: int[] * values: float[] -> RawTensor
    /// A zero tensor.
    abstract Zeros: dtype: Dtype * shape: int[] -> RawTensor
    /// A tensor filled with one value.
    abstract Full: dtype: Dtype * shape: int[] * value: float -> RawTensor
    /// Opens this backend's memory scope (Memory.Scope): what is made inside goes back for reuse
    /// when it is disposed, and a tensor made inside and used after it raises ObjectDisposedException.
    abstract Scope: unit -> IDisposable
    /// One line naming the backend, its device and its libraries.
    abstract Describe: unit -> string
    /// A tensor of the given dtype over float64 values (rounded once for float32).
    member b.Create(dtype: Dtype, shape: int[], values: float[]) =
        match dtype with
        | Dtype.Float32 -> b.OfFloat32(shape, Array.map float32 values)
        | Dtype.Float64 -> b.OfFloat64(shape, values)
    override b.ToString() = b.Name
