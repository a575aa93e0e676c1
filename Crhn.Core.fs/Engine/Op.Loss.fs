namespace Crhn.Core

open System

/// Losses, composed from differentiable ops (their gradients follow).
[<AutoOpen>]
module OpLoss =

    type Tensor with
        /// Mean squared error mean((a − b)²) over every element.
        static member Mse(a: Tensor, b: Tensor) =
            Shape.checkEqual "mse" "target" a.Shape b.Shape
            (a - b).Square().MeanAll()

        /// Cross-entropy of B×C logits against class labels: mean over rows of −log softmax(logits)[label].
        static member CrossEntropy(logits: Tensor, labels: int[]) =
            Shape.checkRank "crossEntropy" "logits" 2 logits.Shape
            let rows, classes = logits.Shape.[0], logits.Shape.[1]
            if labels.Length <> rows then
                raise (ArgumentException(sprintf "crossEntropy: expected %d labels for logits of shape %s, found %d." rows (Shape.format logits.Shape) labels.Length, "labels"))
            labels |> Array.iteri (fun i l ->
                if l < 0 || l >= classes then
                    raise (ArgumentOutOfRangeException("labels", sprintf "crossEntropy: label %d at row %d is outside [0, %d)." l i classes)))
            let oneHot = Array.zeroCreate (rows * classes)
            labels |> Array.iteri (fun i l -> oneHot.[i * classes + l] <- 1.0)
            let target = Tensor.Constant(logits.Primal.CreateLike(logits.Shape, oneHot))
            -((target * logits.LogSoftmax(1)).SumAll()) * (1.0 / float rows)
