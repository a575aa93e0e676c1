namespace Crhn.Properties

open System
open System.Threading
open Crhn.Core

/// A packed matrix of the stand-in backend: the CPU one inside, refused by any other backend.
type StandInPacked(inner: PackedMatrix) =
    inherit PackedMatrix()
    member _.Inner = inner
    override _.K = inner.K
    override _.N = inner.N
    override _.Dtype = inner.Dtype

/// A strict stand-in backend (after DiffSharp's reference backend): every op runs the CPU kernels
/// on the tensor it wraps, and every operand must be a stand-in tensor too. A creation site that
/// bypasses the factory (Backends.Current) hands it a CPU tensor, and the op that meets it raises
/// ArgumentException naming the op and the foreign backend. Results are bit for bit the CPU's, so
/// a model run on both shows whether everything went through the seam.
type StandInTensor(inner: RawTensor) =
    inherit RawTensor()

    static let created = ref 0L

    do Interlocked.Increment &created.contents |> ignore

    /// How many stand-in tensors have been made in this process.
    static member Created = Interlocked.Read &created.contents

    /// The CPU tensor inside.
    member _.Inner = inner

    /// The CPU tensor inside another stand-in tensor; anything else is refused.
    static member Of(raw: RawTensor, op: string) =
        match raw with
        | :? StandInTensor as s -> s.Inner
        | _ -> raise (ArgumentException(sprintf "%s: the stand-in backend refuses an operand from backend '%s'." op raw.Backend, "other"))

    static member private Wrap(raw: RawTensor) = StandInTensor raw :> RawTensor

    override _.Shape = inner.Shape
    override _.Dtype = inner.Dtype
    override _.Backend = "standin"
    override _.Device = Device.Cpu
    override _.CreateLike(shape, values) = StandInTensor.Wrap(inner.CreateLike(shape, values))
    override _.ZerosLike shape = StandInTensor.Wrap(inner.ZerosLike shape)
    override _.FullLike(shape, value) = StandInTensor.Wrap(inner.FullLike(shape, value))
    override _.ToFloat32Array() = inner.ToFloat32Array()
    override _.ToFloat64Array() = inner.ToFloat64Array()
    override _.Cast d = StandInTensor.Wrap(inner.Cast d)
    override _.View shape = StandInTensor.Wrap(inner.View shape)
    override _.Binary(op, other) = StandInTensor.Wrap(inner.Binary(op, StandInTensor.Of(other, "binary")))
    override _.AddScalar c = StandInTensor.Wrap(inner.AddScalar c)
    override _.MulScalar c = StandInTensor.Wrap(inner.MulScalar c)
    override _.Unary op = StandInTensor.Wrap(inner.Unary op)
    override _.ActivationGrad(op, output) = StandInTensor.Wrap(inner.ActivationGrad(op, StandInTensor.Of(output, "activationGrad")))
    override _.Clamp(lo, hi) = StandInTensor.Wrap(inner.Clamp(lo, hi))
    override _.InRangeMask(lo, hi) = StandInTensor.Wrap(inner.InRangeMask(lo, hi))
    override _.SumToShape shape = StandInTensor.Wrap(inner.SumToShape shape)
    override _.SumAll() = inner.SumAll()
    override _.SoftmaxLast() = StandInTensor.Wrap(inner.SoftmaxLast())
    override _.LogSoftmaxLast() = StandInTensor.Wrap(inner.LogSoftmaxLast())
    override _.Permute perm = StandInTensor.Wrap(inner.Permute perm)
    override _.Slice(starts, lengths) = StandInTensor.Wrap(inner.Slice(starts, lengths))
    override _.Unslice(fullShape, starts) = StandInTensor.Wrap(inner.Unslice(fullShape, starts))
    override _.Concat(others, axis) = StandInTensor.Wrap(inner.Concat(others |> Array.map (fun o -> StandInTensor.Of(o, "concat")), axis))
    override _.MatMul(transA, transB, other) = StandInTensor.Wrap(inner.MatMul(transA, transB, StandInTensor.Of(other, "matmul")))
    override _.PackRight transpose = StandInPacked(inner.PackRight transpose) :> PackedMatrix
    override _.MatMulPacked(transA, right) =
        match right with
        | :? StandInPacked as p -> StandInTensor.Wrap(inner.MatMulPacked(transA, p.Inner))
        | _ -> raise (ArgumentException("matmul packed: the stand-in backend refuses a matrix packed by another backend.", "right"))
    override _.MatMulAddInto(transA, transB, other, into) =
        inner.MatMulAddInto(transA, transB, StandInTensor.Of(other, "matmul accumulate"), StandInTensor.Of(into, "matmul accumulate"))
    override _.Conv2d(weight, g) = StandInTensor.Wrap(inner.Conv2d(StandInTensor.Of(weight, "conv2d"), g))
    override _.Conv2dBias(weight, bias, g) =
        StandInTensor.Wrap(inner.Conv2dBias(StandInTensor.Of(weight, "conv2d"), StandInTensor.Of(bias, "conv2d"), g))
    override _.Conv2dBackwardInput(weight, inputShape, g) =
        StandInTensor.Wrap(inner.Conv2dBackwardInput(StandInTensor.Of(weight, "conv2d backward"), inputShape, g))
    override _.Conv2dBackwardWeight(gradOutput, weightShape, g) =
        StandInTensor.Wrap(inner.Conv2dBackwardWeight(StandInTensor.Of(gradOutput, "conv2d backward"), weightShape, g))
    override _.Conv2dAndWeightGrad(weight, gradOutput, g) =
        let y, dw = inner.Conv2dAndWeightGrad(StandInTensor.Of(weight, "conv2d"), StandInTensor.Of(gradOutput, "conv2d backward"), g)
        StandInTensor.Wrap y, StandInTensor.Wrap dw
    override _.Conv2dBackward(input, weight, g) =
        let dx, dw = inner.Conv2dBackward(StandInTensor.Of(input, "conv2d backward"), StandInTensor.Of(weight, "conv2d backward"), g)
        StandInTensor.Wrap dx, StandInTensor.Wrap dw
    override _.Svd() =
        let u, s, vt = inner.Svd()
        StandInTensor.Wrap u, StandInTensor.Wrap s, StandInTensor.Wrap vt
    override _.SymmetricEigen() =
        let v, l = inner.SymmetricEigen()
        StandInTensor.Wrap v, StandInTensor.Wrap l
    override _.IsFinite() = inner.IsFinite()
    override _.AxpyInPlace(alpha, x) = inner.AxpyInPlace(alpha, StandInTensor.Of(x, "axpy"))
    override _.ScaleInPlace alpha = inner.ScaleInPlace alpha
    override _.AdamInPlace(grad, m, v, step, beta1, beta2, c2, eps) =
        inner.AdamInPlace(StandInTensor.Of(grad, "adam"), StandInTensor.Of(m, "adam"), StandInTensor.Of(v, "adam"), step, beta1, beta2, c2, eps)
    override _.AddInPlace x = inner.AddInPlace(StandInTensor.Of(x, "addInPlace"))
    override _.CopyInPlace x = inner.CopyInPlace(StandInTensor.Of(x, "copy"))
    override t.Keep() =
        inner.Keep() |> ignore
        t

/// The stand-in backend's factory, registered under the name "standin" (StandIn.Register).
[<Sealed>]
type StandInBackend() =
    inherit Backend()
    override _.Name = "standin"
    override _.Device = Device.Cpu
    override _.OfFloat32(shape, values) = StandInTensor(Backends.Cpu.OfFloat32(shape, values)) :> RawTensor
    override _.OfFloat64(shape, values) = StandInTensor(Backends.Cpu.OfFloat64(shape, values)) :> RawTensor
    override _.Zeros(dtype, shape) = StandInTensor(Backends.Cpu.Zeros(dtype, shape)) :> RawTensor
    override _.Full(dtype, shape, value) = StandInTensor(Backends.Cpu.Full(dtype, shape, value)) :> RawTensor
    override _.Scope() = Backends.Cpu.Scope()
    override _.Describe() = "standin: the CPU kernels behind a backend that refuses foreign operands"

/// The stand-in backend for tests that check a model never bypasses the backend factory.
[<RequireQualifiedAccess>]
module StandIn =

    /// The one instance.
    let Backend = StandInBackend()

    /// Registers the stand-in under the name "standin" (Backends.Named, Engine.UseBackend).
    let Register () = Backends.Register "standin" (fun _ -> Backend :> Crhn.Core.Backend)
