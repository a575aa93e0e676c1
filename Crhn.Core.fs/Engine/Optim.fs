namespace Crhn.Core

open System

/// An optimiser updates parameters in place from their accumulated gradients.
[<AbstractClass>]
type Optimizer(parameters: Tensor[]) =
    do
        for p in parameters do
            if not p.RequiresGrad || p.Parents.Length > 0 then
                raise (ArgumentException(sprintf "optimiser: %O is not a parameter (a leaf that requires a gradient)." p, "parameters"))

    /// The parameters, in the order given.
    member _.Parameters = parameters

    /// Forgets every parameter's gradient.
    member _.ZeroGrad() = for p in parameters do p.ZeroGrad()

    /// One update from the current gradients (parameters without a gradient are left alone).
    abstract Step: unit -> unit

/// Stochastic gradient descent with optional momentum (PyTorch's SGD: v ← μv + g, p ← p − lr·v).
type Sgd(parameters: Tensor[], lr: float, ?momentum: float) =
    inherit Optimizer(parameters)
    let mu = defaultArg momentum 0.0
    let velocity: RawTensor option[] = Array.create parameters.Length None

    override _.Step() =
        parameters |> Array.iteri (fun i p ->
            match p.Grad with
            | None -> ()
            | Some g ->
                let step =
                    if mu = 0.0 then g
                    else
                        match velocity.[i] with
                        | None ->
                            let v = (g.MulScalar 1.0).Keep()
                            velocity.[i] <- Some v
                            v
                        | Some v ->
                            v.ScaleInPlace mu
                            v.AxpyInPlace(1.0, g)
                            v
                p.Primal.AxpyInPlace(-lr, step))

/// Adam exactly as PyTorch 1.13's torch.optim.Adam without weight decay or amsgrad:
/// m ← β₁m + (1−β₁)g, v ← β₂v + (1−β₂)g², p ← p − (lr/(1−β₁ᵗ))·m/(√v/√(1−β₂ᵗ) + ε).
type Adam(parameters: Tensor[], ?lr: float, ?beta1: float, ?beta2: float, ?eps: float) =
    inherit Optimizer(parameters)
    let mutable lr = defaultArg lr 1e-3
    let b1 = defaultArg beta1 0.9
    let b2 = defaultArg beta2 0.999
    let eps = defaultArg eps 1e-8
    let m = parameters |> Array.map (fun p -> p.Primal.ZerosLike p.Shape)
    let v = parameters |> Array.map (fun p -> p.Primal.ZerosLike p.Shape)
    let mutable t = 0

    /// The number of steps taken.
    member _.Steps = t

    /// The learning rate of the next steps (a schedule sets it between steps).
    member _.LearningRate
        with get () = lr
        and set (value: float) =
            if not (value > 0.0) || Double.IsInfinity value then
                raise (ArgumentOutOfRangeException("value", value, "adam: the learning rate must be positive and finite."))
            lr <- value

    override _.Step() =
        t <- t + 1
        let step = lr / (1.0 - Math.Pow(b1, float t))
        let c2 = Math.Sqrt(1.0 - Math.Pow(b2, float t))
        parameters |> Array.iteri (fun i p ->
            match p.Grad with
            | None -> ()
            | Some g -> p.Primal.AdamInPlace(g, m.[i], v.[i], step, b1, b2, c2, eps))
