namespace Crhn.Core

/// Differentiable reductions and the normalisations along an axis.
[<AutoOpen>]
module OpReduce =

    let private keptShape (shape: int[]) (axes: int[]) =
        shape |> Array.mapi (fun i d -> if Array.contains i axes then 1 else d)

    let private normalise (op: string) (x: Tensor) (axes: int[]) =
        axes |> Array.map (Shape.axis op x.Shape.Length) |> Array.distinct |> Array.sort

    /// Applies a last-axis kernel along any axis by moving that axis last and back; `rule g y
    /// kept` maps the output gradient to the input's, both in the moved layout, where `kept` is
    /// the moved shape with the last axis reduced to 1.
    let private alongAxis (name: string) (x: Tensor) (axis: int) (kernel: RawTensor -> RawTensor)
                          (rule: RawTensor -> RawTensor -> int[] -> RawTensor) =
        let r = x.Shape.Length
        let ax = Shape.axis name r axis
        let toLast = Array.concat [ [| 0 .. ax - 1 |]; [| ax + 1 .. r - 1 |]; [| ax |] ]
        let back = Array.init r (fun i -> Array.findIndex ((=) i) toLast)
        let move (t: RawTensor) (perm: int[]) = if ax = r - 1 then t else t.Permute perm
        let ym = kernel (move x.Primal toLast)
        let kept = Array.append ym.Shape.[.. r - 2] [| 1 |]
        Tensor.Record(name, move ym back, [| x |], fun g _ -> move (rule (move g toLast) ym kept) back)

    type Tensor with
        /// Σ over the given axes (keepDim keeps them as size 1); reverse broadcasts g back.
        member x.Sum(axes: int[], ?keepDim: bool) =
            let axes = normalise "sum" x axes
            let kept = keptShape x.Shape axes
            let outShape = if defaultArg keepDim false then kept else x.Shape |> Array.indexed |> Array.filter (fun (i, _) -> not (Array.contains i axes)) |> Array.map snd
            let y = x.Primal.SumToShape(kept).View outShape
            Tensor.Record("sum", y, [| x |], fun g _ -> x.Primal.ZerosLike(x.Shape).Binary(BinaryOp.Add, g.View kept))

        /// The mean over the given axes.
        member x.Mean(axes: int[], ?keepDim: bool) =
            let axes = normalise "mean" x axes
            let count = axes |> Array.fold (fun acc a -> acc * x.Shape.[a]) 1
            x.Sum(axes, defaultArg keepDim false) * (1.0 / float count)

        /// Σ of every element, a one-element tensor of shape [].
        member x.SumAll() = x.Sum([| 0 .. x.Shape.Length - 1 |])

        /// The mean of every element.
        member x.MeanAll() = x.SumAll() * (1.0 / float x.Primal.Numel)

        /// softmax along `axis` (default last); reverse y ⊙ (g − Σ g ⊙ y).
        member x.Softmax(?axis: int) =
            alongAxis "softmax" x (defaultArg axis -1) (fun m -> m.SoftmaxLast()) (fun g y kept ->
                y.Binary(BinaryOp.Mul, g.Binary(BinaryOp.Sub, g.Binary(BinaryOp.Mul, y).SumToShape kept)))

        /// log-softmax along `axis` (default last); reverse g − softmax(x) ⊙ Σ g.
        member x.LogSoftmax(?axis: int) =
            alongAxis "logSoftmax" x (defaultArg axis -1) (fun m -> m.LogSoftmaxLast()) (fun g y kept ->
                g.Binary(BinaryOp.Sub, (y.Unary UnaryOp.Exp).Binary(BinaryOp.Mul, g.SumToShape kept)))
