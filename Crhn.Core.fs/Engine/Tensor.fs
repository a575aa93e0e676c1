namespace Crhn.Core

open System
open System.Collections.Generic

/// A reverse rule: given the gradient of an op's output and the index of one of its inputs,
/// the gradient with respect to that input. It is called only for inputs that need a gradient.
type ReverseRule = RawTensor -> int -> RawTensor

/// For ops whose reverse rule always returns a fresh array (a matrix product): adds the gradient
/// for input i into an accumulator in place (acc ← acc + rule g i), which a GEMM does for free.
type AccumulateRule = RawTensor -> int -> RawTensor -> unit

/// A differentiable tensor: a primal value (RawTensor) and, when any input needs a gradient, the
/// op that made it, its inputs and its reverse rule. Parameters are leaves that collect gradients
/// in Grad; constants record nothing. Immutable by convention; optimisers update parameters'
/// primals in place.
[<Sealed>]
type Tensor private (primal: RawTensor, op: string, parents: Tensor[], reverse: ReverseRule option, accumulate: AccumulateRule option, requiresGrad: bool) =
    static let mutable counter = 0L
    let id = Threading.Interlocked.Increment(&counter)
    let mutable grad: RawTensor option = None

    /// The value.
    member _.Primal = primal
    /// The op that made this tensor ("const" and "param" for leaves).
    member _.Op = op
    /// The tensors this one was computed from (empty for leaves and for constants).
    member _.Parents = parents
    /// True for parameters and for anything computed from one.
    member _.RequiresGrad = requiresGrad
    /// Creation order: every tensor's Id exceeds its parents', which orders the tape.
    member _.Id = id
    /// The shape of the value.
    member _.Shape = primal.Shape
    /// The element type.
    member _.Dtype = primal.Dtype
    /// The gradient a parameter has accumulated since its last ZeroGrad.
    member _.Grad = grad
    member internal _.SetGrad g = grad <- g
    member internal _.Reverse: ReverseRule option = reverse
    member internal _.Accumulate: AccumulateRule option = accumulate
    /// Forgets the accumulated gradient.
    member _.ZeroGrad() = grad <- None

    /// A tensor that records no gradient.
    static member Constant(value: RawTensor) = Tensor(value, "const", [||], None, None, false)

    /// A leaf that accumulates its gradient in Grad.
    static member Parameter(value: RawTensor) = Tensor(value, "param", [||], None, None, true)

    /// The result of an op: records its inputs and reverse rule when one of them needs a gradient.
    static member Record(op: string, value: RawTensor, inputs: Tensor[], rule: ReverseRule) =
        if inputs |> Array.exists (fun t -> t.RequiresGrad) then Tensor(value, op, inputs, Some rule, None, true)
        else Tensor(value, op, [||], None, None, false)

    /// Record for an op whose reverse rule returns a fresh array for every input, with the rule
    /// that adds the same gradient into an accumulator in place (tied weights then sum their
    /// gradients inside the GEMMs).
    static member RecordAccumulating(op: string, value: RawTensor, inputs: Tensor[], rule: ReverseRule, accumulate: AccumulateRule) =
        if inputs |> Array.exists (fun t -> t.RequiresGrad) then Tensor(value, op, inputs, Some rule, Some accumulate, true)
        else Tensor(value, op, [||], None, None, false)

    /// The same value, cut from the graph.
    member _.Detach() = Tensor(primal, "const", [||], None, None, false)

    /// The single value of a one-element tensor.
    member _.ToScalar() =
        if primal.Numel <> 1 then
            raise (Shape.mismatch "toScalar" "a tensor of one element" primal.Shape "this")
        primal.ToFloat64Array().[0]

    /// Reverse-mode differentiation from this tensor with the given output gradient (ones if
    /// omitted): walks the tape from the newest op to the oldest, each op's reverse rule turning
    /// its output gradient into its inputs' gradients, which add up where an input is used twice
    /// (a tied weight); leaves add their gradient into Grad.
    member this.Backward(?seed: RawTensor) =
        let seed = defaultArg seed (primal.FullLike(primal.Shape, 1.0))
        Shape.checkEqual "backward" "seed" primal.Shape seed.Shape
        if requiresGrad then
            let nodes = List<Tensor>()
            let seen = HashSet<int64>()
            let stack = Stack<Tensor>()
            stack.Push this
            seen.Add id |> ignore
            while stack.Count > 0 do
                let t = stack.Pop()
                nodes.Add t
                for p in t.Parents do
                    if p.RequiresGrad && seen.Add p.Id then stack.Push p
            nodes.Sort(fun a b -> compare b.Id a.Id)
            let grads = Dictionary<int64, RawTensor>()
            // Accumulators that only `grads` refers to (fresh sums and fresh GEMM results): later
            // contributions are added into them in place. A rule may hand its output gradient on
            // unchanged, so any other entry may share its array and is never written.
            let owned = HashSet<int64>()
            grads.[id] <- seed
            for t in nodes do
                match grads.TryGetValue t.Id with
                | true, g ->
                    grads.Remove t.Id |> ignore
                    match t.Reverse with
                    | None -> t.SetGrad(Some(match t.Grad with Some old -> old.Binary(BinaryOp.Add, g) | None -> g))
                    | Some rule ->
                        // The message is formatted only on a mismatch: this runs for every gradient.
                        let checkShape (p: Tensor) (gp: RawTensor) =
                            if p.Shape <> gp.Shape then Shape.checkEqual (sprintf "backward of %s" t.Op) "gradient" p.Shape gp.Shape
                        t.Parents |> Array.iteri (fun i p ->
                            if p.RequiresGrad then
                                let gradient () =
                                    let gp = rule g i
                                    checkShape p gp
                                    gp
                                match grads.TryGetValue p.Id, t.Accumulate with
                                | (true, acc), Some accumulate when owned.Contains p.Id -> accumulate g i acc
                                | (true, acc), _ when owned.Contains p.Id -> acc.AddInPlace(gradient ())
                                | (true, acc), _ ->
                                    grads.[p.Id] <- acc.Binary(BinaryOp.Add, gradient ())
                                    owned.Add p.Id |> ignore
                                | _, accumulate ->
                                    grads.[p.Id] <- gradient ()
                                    if accumulate.IsSome then owned.Add p.Id |> ignore)
                | _ -> ()

    override _.ToString() = sprintf "Tensor(%s, %A, %s)" (Shape.format primal.Shape) primal.Dtype op

    /// Element-wise a + b with broadcasting.
    static member (+)(a: Tensor, b: Tensor) =
        Tensor.Record("add", a.Primal.Binary(BinaryOp.Add, b.Primal), [| a; b |], fun g i ->
            g.SumToShape(if i = 0 then a.Shape else b.Shape))

    /// Element-wise a − b with broadcasting.
    static member (-)(a: Tensor, b: Tensor) =
        Tensor.Record("sub", a.Primal.Binary(BinaryOp.Sub, b.Primal), [| a; b |], fun g i ->
            if i = 0 then g.SumToShape a.Shape else (g.MulScalar -1.0).SumToShape b.Shape)

    /// Element-wise a · b with broadcasting.
    static member (*)(a: Tensor, b: Tensor) =
        Tensor.Record("mul", a.Primal.Binary(BinaryOp.Mul, b.Primal), [| a; b |], fun g i ->
            if i = 0 then g.Binary(BinaryOp.Mul, b.Primal).SumToShape a.Shape
            else g.Binary(BinaryOp.Mul, a.Primal).SumToShape b.Shape)

    /// Element-wise a / b with broadcasting.
    static member (/)(a: Tensor, b: Tensor) =
        Tensor.Record("div", a.Primal.Binary(BinaryOp.Div, b.Primal), [| a; b |], fun g i ->
            if i = 0 then g.Binary(BinaryOp.Div, b.Primal).SumToShape a.Shape
            else
                // ∂(a/b)/∂b = −a/b²
                let q = a.Primal.Binary(BinaryOp.Div, b.Primal.Unary UnaryOp.Square)
                g.Binary(BinaryOp.Mul, q).MulScalar(-1.0).SumToShape b.Shape)

    /// −x.
    static member (~-)(x: Tensor) =
        Tensor.Record("neg", x.Primal.Unary UnaryOp.Neg, [| x |], fun g _ -> g.Unary UnaryOp.Neg)

    /// x + c.
    static member (+)(x: Tensor, c: float) =
        Tensor.Record("addScalar", x.Primal.AddScalar c, [| x |], fun g _ -> g)

    /// x · c.
    static member (*)(x: Tensor, c: float) =
        Tensor.Record("mulScalar", x.Primal.MulScalar c, [| x |], fun g _ -> g.MulScalar c)
