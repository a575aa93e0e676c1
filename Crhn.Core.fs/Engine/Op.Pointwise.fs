namespace Crhn.Core

/// Element-wise differentiable ops: each states its primal kernel and its reverse rule together.
[<AutoOpen>]
module OpPointwise =

    let private unaryOp (name: string) (op: UnaryOp) (x: Tensor) (rule: RawTensor -> RawTensor -> RawTensor) =
        let y = x.Primal.Unary op
        Tensor.Record(name, y, [| x |], fun g _ -> rule g y)

    type RawTensor with
        /// ±1 by sign, with 0 → +1 (the code convention: a code is never 0 anywhere, as the
        /// reference's sign), where Unary Sign keeps 0.
        member x.Binarize() = (x.MulScalar -1.0).Unary(UnaryOp.Step).MulScalar(-2.0).AddScalar 1.0

    type Tensor with
        /// exp(x); reverse g·exp(x).
        member x.Exp() = unaryOp "exp" UnaryOp.Exp x (fun g y -> g.Binary(BinaryOp.Mul, y))
        /// log(x); reverse g/x.
        member x.Log() = unaryOp "log" UnaryOp.Log x (fun g _ -> g.Binary(BinaryOp.Div, x.Primal))
        /// √x; reverse g/(2√x).
        member x.Sqrt() = unaryOp "sqrt" UnaryOp.Sqrt x (fun g y -> g.Binary(BinaryOp.Div, y.MulScalar 2.0))
        /// x²; reverse 2x·g.
        member x.Square() = unaryOp "square" UnaryOp.Square x (fun g _ -> g.Binary(BinaryOp.Mul, x.Primal.MulScalar 2.0))
        /// |x|; reverse sign(x)·g.
        member x.Abs() = unaryOp "abs" UnaryOp.Abs x (fun g _ -> g.Binary(BinaryOp.Mul, x.Primal.Unary UnaryOp.Sign))
        /// tanh(x); reverse g·(1 − tanh²x).
        member x.Tanh() =
            unaryOp "tanh" UnaryOp.Tanh x (fun g y -> g.ActivationGrad(UnaryOp.Tanh, y))
        /// σ(x) = 1/(1 + e⁻ˣ); reverse g·σ(1 − σ).
        member x.Sigmoid() =
            unaryOp "sigmoid" UnaryOp.Sigmoid x (fun g y -> g.ActivationGrad(UnaryOp.Sigmoid, y))
        /// max(x, 0); reverse g·1[x > 0].
        member x.Relu() = unaryOp "relu" UnaryOp.Relu x (fun g _ -> g.Binary(BinaryOp.Mul, x.Primal.Unary UnaryOp.Step))
        /// sign(x) (sign 0 = 0) with the straight-through estimator: the reverse rule passes the
        /// gradient where |x| ≤ 1 and stops it elsewhere, i.e. it is the derivative of the
        /// surrogate hardtanh clamp(x, −1, 1).
        member x.Sign() = unaryOp "sign" UnaryOp.Sign x (fun g _ -> g.Binary(BinaryOp.Mul, x.Primal.InRangeMask(-1.0, 1.0)))
        /// ±1 by sign with 0 → +1 (RawTensor.Binarize), through the same straight-through estimator as Sign.
        member x.Binarize() =
            Tensor.Record("binarize", x.Primal.Binarize(), [| x |], fun g _ -> g.Binary(BinaryOp.Mul, x.Primal.InRangeMask(-1.0, 1.0)))
        /// min(max(x, lo), hi); reverse g·1[lo ≤ x ≤ hi].
        member x.Clamp(lo: float, hi: float) =
            if not (lo <= hi) then
                raise (System.ArgumentException(sprintf "clamp: expected lo ≤ hi, found lo = %g, hi = %g." lo hi, "lo"))
            Tensor.Record("clamp", x.Primal.Clamp(lo, hi), [| x |], fun g _ -> g.Binary(BinaryOp.Mul, x.Primal.InRangeMask(lo, hi)))
