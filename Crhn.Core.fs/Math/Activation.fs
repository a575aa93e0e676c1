namespace Crhn.Core

open System

/// An activation σ = ∇Φ with its potential Φ, the diagonal of its Hessian H_Φ = σ′ and its
/// Lipschitz constant L_Φ = sup σ′ (the poster's table):
/// tanh(βu): Φ = (1/β) log cosh(βu), H = β(1 − tanh²(βu)), L = β;
/// sigmoid(βu): Φ = (1/β) log(1 + e^{βu}), H = β s(1 − s), L = β/4;
/// ReLU: Φ = ½ ReLU(u)², H = 1[u > 0], L = 1.
[<RequireQualifiedAccess>]
type Activation =
    /// tanh(βu).
    | Tanh of beta: float
    /// sigmoid(βu).
    | Sigmoid of beta: float
    /// max(u, 0).
    | Relu

    /// σ(u), element-wise.
    member a.Apply(u: Tensor) =
        match a with
        | Tanh beta -> (Activation.Scale beta u).Tanh()
        | Sigmoid beta -> (Activation.Scale beta u).Sigmoid()
        | Relu -> u.Relu()

    /// βu, with no pass over u when β = 1 (the common case; the product would be u itself).
    static member private Scale (beta: float) (u: Tensor) : Tensor = if beta = 1.0 then u else u * beta

    /// Φ(u), element-wise (sum it for the potential of a vector). Computed stably:
    /// log cosh x = |x| + log(1 + e^{−2|x|}) − log 2 and log(1 + eˣ) = ReLU(x) + log(1 + e^{−|x|}).
    member a.Potential(u: Tensor) =
        match a with
        | Tanh beta ->
            let x = (u * beta).Abs()
            (x + ((x * -2.0).Exp() + 1.0).Log() + -Math.Log 2.0) * (1.0 / beta)
        | Sigmoid beta ->
            let x = u * beta
            (x.Relu() + ((x.Abs() * -1.0).Exp() + 1.0).Log()) * (1.0 / beta)
        | Relu -> u.Relu().Square() * 0.5

    /// The diagonal of H_Φ(u) = σ′(u), element-wise (differentiable except ReLU's step).
    member a.Hessian(u: Tensor) =
        match a with
        | Tanh beta -> Activation.Scale beta ((Activation.Scale beta u).Tanh().Square() * -1.0 + 1.0)
        | Sigmoid beta ->
            let s = (Activation.Scale beta u).Sigmoid()
            Activation.Scale beta (s * (s * -1.0 + 1.0))
        | Relu -> Tensor.Constant(u.Primal.Unary UnaryOp.Step)

    /// L_Φ = sup σ′.
    member a.Lipschitz =
        match a with
        | Tanh beta -> beta
        | Sigmoid beta -> beta / 4.0
        | Relu -> 1.0

    /// A short name: tanh(2u), sigmoid(u), relu.
    member a.Name =
        match a with
        | Tanh 1.0 -> "tanh"
        | Tanh beta -> sprintf "tanh(%gu)" beta
        | Sigmoid 1.0 -> "sigmoid"
        | Sigmoid beta -> sprintf "sigmoid(%gu)" beta
        | Relu -> "relu"

    override a.ToString() = a.Name
