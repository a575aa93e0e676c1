namespace Crhn.Core

/// Matrix product through the GEMM provider.
[<AutoOpen>]
module OpMatMul =

    type Tensor with
        /// op(a)·op(b) for 2-D tensors, op = transpose where asked (BLAS gemm's transA/transB).
        /// Reverse, for C = op(A)op(B) and output gradient G:
        /// NN: dA = G Bᵀ, dB = Aᵀ G; NT: dA = G B, dB = Gᵀ A; TN: dA = B Gᵀ, dB = A G; TT: dA = Bᵀ Gᵀ, dB = Gᵀ Aᵀ.
        member a.MatMul(b: Tensor, ?transA: bool, ?transB: bool) =
            let ta, tb = defaultArg transA false, defaultArg transB false
            Shape.checkRank "matmul" "a" 2 a.Shape
            Shape.checkRank "matmul" "b" 2 b.Shape
            let k = if ta then a.Shape.[0] else a.Shape.[1]
            let kb = if tb then b.Shape.[1] else b.Shape.[0]
            if k <> kb then
                raise (Shape.mismatch "matmul" (sprintf "%s with %d %s to match op(a) = %s%s (a is %s)"
                                                    (if tb then "b transposed" else "b") k (if tb then "columns" else "rows")
                                                    (if ta then "aᵀ of " else "") (Shape.format a.Shape) (Shape.format a.Shape)) b.Shape "b")
            if a.Dtype <> b.Dtype then
                raise (System.ArgumentException(sprintf "matmul: expected both operands in %A, found %A and %A." a.Dtype a.Dtype b.Dtype, "b"))
            let pa, pb = a.Primal, b.Primal
            // The gradient for input i is op(l)·op(r): one product, returned fresh or added into an accumulator.
            let factors (g: RawTensor) (i: int) =
                match ta, tb, i with
                | false, false, 0 -> g, false, true, pb
                | false, false, _ -> pa, true, false, g
                | false, true, 0 -> g, false, false, pb
                | false, true, _ -> g, true, false, pa
                | true, false, 0 -> pb, false, true, g
                | true, false, _ -> pa, false, false, g
                | true, true, 0 -> pb, true, true, g
                | true, true, _ -> g, true, true, pa
            Tensor.RecordAccumulating("matmul", pa.MatMul(ta, tb, pb), [| a; b |],
                (fun g i -> let l, tl, tr, r = factors g i in l.MatMul(tl, tr, r)),
                (fun g i acc -> let l, tl, tr, r = factors g i in l.MatMulAddInto(tl, tr, r, acc)))
