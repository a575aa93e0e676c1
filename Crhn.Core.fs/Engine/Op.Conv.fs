namespace Crhn.Core

open System

/// Differentiable 2-D convolution and its transpose (N×C×H×W layout, PyTorch's semantics).
[<AutoOpen>]
module OpConv =

    let private geometry (op: string) (stride: int) (padding: int) =
        if stride <= 0 then raise (ArgumentOutOfRangeException("stride", stride, sprintf "%s: stride must be positive." op))
        if padding < 0 then raise (ArgumentOutOfRangeException("padding", padding, sprintf "%s: padding must be non-negative." op))
        { StrideH = stride; StrideW = stride; PadH = padding; PadW = padding }

    let private checkOperands (op: string) (x: Tensor) (w: Tensor) (xChannels: int) =
        Shape.checkRank op "x" 4 x.Shape
        Shape.checkRank op "weight" 4 w.Shape
        if x.Shape.[1] <> xChannels then
            raise (Shape.mismatch op (sprintf "an input with %d channels to match the weight %s" xChannels (Shape.format w.Shape)) x.Shape "x")
        if x.Dtype <> w.Dtype then
            raise (ArgumentException(sprintf "%s: expected input and weight in one dtype, found %A and %A." op x.Dtype w.Dtype, "weight"))

    /// A bias for `channels` output channels, as given (O or 1×O×1×1), viewed as 1×O×1×1.
    let private biasShape (op: string) (channels: int) (b: Tensor) =
        let full = [| 1; channels; 1; 1 |]
        if b.Shape <> full && b.Shape <> [| channels |] then
            raise (Shape.mismatch op (sprintf "a bias of shape %s or %s" (Shape.format full) (Shape.format [| channels |])) b.Shape "bias")
        full

    /// The reverse rules of inputs 0 and 1 of an op whose two gradients share work: when the second
    /// is needed, the first call computes both in one fused pass and keeps the second for the call
    /// that follows with the same output gradient; otherwise each is computed on its own.
    let private pairedRule (secondNeeded: bool) (both: RawTensor -> RawTensor * RawTensor) (first: RawTensor -> RawTensor) (second: RawTensor -> RawTensor) =
        let mutable pending: (RawTensor * RawTensor) option = None
        fun (gy: RawTensor) (i: int) ->
            match pending with
            | Some(g0, kept) when i = 1 && obj.ReferenceEquals(g0, gy) ->
                pending <- None
                kept
            | _ when i = 0 && secondNeeded ->
                let a, b = both gy
                pending <- Some(gy, b)
                a
            | _ when i = 0 -> first gy
            | _ -> second gy

    type Tensor with
        /// Cross-correlation y[n,o,i,j] = b[o] + Σ_{c,p,q} w[o,c,p,q]·x[n,c,i·s+p−pad,j·s+q−pad] (zero
        /// outside), x N×C×H×W, w O×C×kh×kw, optional bias b of O (or 1×O×1×1). Reverse:
        /// dx = conv_transpose2d(g, w), dw = Σₙ g[n]·im2col(x[n])ᵀ, db = Σ_{n,i,j} g.
        member x.Conv2d(weight: Tensor, ?stride: int, ?padding: int, ?bias: Tensor) =
            let g = geometry "conv2d" (defaultArg stride 1) (defaultArg padding 0)
            checkOperands "conv2d" x weight weight.Shape.[1]
            let ho = Shape.convOutput x.Shape.[2] weight.Shape.[2] g.StrideH g.PadH
            let wo = Shape.convOutput x.Shape.[3] weight.Shape.[3] g.StrideW g.PadW
            if ho <= 0 || wo <= 0 || weight.Shape.[2] > x.Shape.[2] + 2 * g.PadH || weight.Shape.[3] > x.Shape.[3] + 2 * g.PadW then
                raise (Shape.mismatch "conv2d" (sprintf "an input at least as large as the %d×%d kernel after padding %d" weight.Shape.[2] weight.Shape.[3] g.PadH) x.Shape "x")
            let px, pw = x.Primal, weight.Primal
            let inputAndWeight =
                pairedRule weight.RequiresGrad (fun gy -> gy.Conv2dBackward(px, pw, g))
                    (fun gy -> gy.Conv2dBackwardInput(pw, x.Shape, g)) (fun gy -> px.Conv2dBackwardWeight(gy, weight.Shape, g))
            match bias with
            | None -> Tensor.Record("conv2d", px.Conv2d(pw, g), [| x; weight |], inputAndWeight)
            | Some b ->
                let channels = biasShape "conv2d" weight.Shape.[0] b
                // The bias is added as each output is written, with no second pass over y.
                let y = px.Conv2dBias(pw, b.Primal.View [| weight.Shape.[0] |], g)
                Tensor.Record("conv2d", y, [| x; weight; b |], fun gy i ->
                    if i < 2 then inputAndWeight gy i else gy.SumToShape(channels).View b.Shape)

        /// The transposed convolution (PyTorch's conv_transpose2d), the adjoint of Conv2d in its
        /// input: x N×Cin×H×W, w Cin×Cout×kh×kw (the same tensor a Conv2d from Cout to Cin channels
        /// uses), output N×Cout×((H−1)s − 2pad + kh + outputPadding)×(…), plus an optional bias of Cout. Reverse:
        /// dx = conv2d(g, w), dw = the conv2d weight gradient with g as input and x as output gradient.
        member x.ConvTranspose2d(weight: Tensor, ?stride: int, ?padding: int, ?outputPadding: int, ?bias: Tensor) =
            let g = geometry "convTranspose2d" (defaultArg stride 1) (defaultArg padding 0)
            let op = defaultArg outputPadding 0
            if op < 0 || op >= g.StrideH then
                raise (ArgumentOutOfRangeException("outputPadding", op, sprintf "convTranspose2d: outputPadding must be in [0, stride) = [0, %d)." g.StrideH))
            checkOperands "convTranspose2d" x weight weight.Shape.[0]
            let ho = Shape.convTransposeOutput x.Shape.[2] weight.Shape.[2] g.StrideH g.PadH op
            let wo = Shape.convTransposeOutput x.Shape.[3] weight.Shape.[3] g.StrideW g.PadW op
            if ho <= 0 || wo <= 0 then
                raise (Shape.mismatch "convTranspose2d" (sprintf "an input whose output ((H−1)·%d − 2·%d + %d) is positive" g.StrideH g.PadH weight.Shape.[2]) x.Shape "x")
            let outShape = [| x.Shape.[0]; weight.Shape.[1]; ho; wo |]
            let px, pw = x.Primal, weight.Primal
            let y = px.Conv2dBackwardInput(pw, outShape, g)
            let inputAndWeight =
                pairedRule weight.RequiresGrad (fun gy -> gy.Conv2dAndWeightGrad(pw, px, g))
                    (fun gy -> gy.Conv2d(pw, g)) (fun gy -> gy.Conv2dBackwardWeight(px, weight.Shape, g))
            match bias with
            | None -> Tensor.Record("convTranspose2d", y, [| x; weight |], inputAndWeight)
            | Some b ->
                let channels = biasShape "convTranspose2d" weight.Shape.[1] b
                y.AddInPlace(b.Primal.View channels)
                Tensor.Record("convTranspose2d", y, [| x; weight; b |], fun gy i ->
                    if i < 2 then inputAndWeight gy i else gy.SumToShape(channels).View b.Shape)
