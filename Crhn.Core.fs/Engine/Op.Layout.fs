namespace Crhn.Core

open System

/// Differentiable changes of shape and layout.
[<AutoOpen>]
module OpLayout =

    type Tensor with
        /// The same elements under another shape (one axis may be −1, inferred); reverse reshapes back.
        member x.Reshape(shape: int[]) =
            let n = x.Primal.Numel
            let known = shape |> Array.filter (fun d -> d <> -1) |> Array.fold (*) 1
            let holes = shape |> Array.filter ((=) -1) |> Array.length
            let resolved =
                if holes = 1 && known > 0 && n % known = 0 then shape |> Array.map (fun d -> if d = -1 then n / known else d)
                else shape
            if holes > 1 || Array.exists (fun d -> d < 0) resolved || Shape.numel resolved <> n then
                raise (Shape.mismatch "reshape" (sprintf "a shape of %d elements like %s" n (Shape.format x.Shape)) shape "shape")
            Tensor.Record("reshape", x.Primal.View resolved, [| x |], fun g _ -> g.View x.Shape)

        /// Axis permutation: output axis i is input axis perm[i]; reverse applies the inverse.
        member x.Permute(perm: int[]) =
            let r = x.Shape.Length
            if perm.Length <> r || (Array.sort perm) <> [| 0 .. r - 1 |] then
                raise (ArgumentException(sprintf "permute: expected a permutation of 0..%d for shape %s, found %A." (r - 1) (Shape.format x.Shape) perm, "perm"))
            let inverse = Array.zeroCreate r
            perm |> Array.iteri (fun i p -> inverse.[p] <- i)
            Tensor.Record("permute", x.Primal.Permute perm, [| x |], fun g _ -> g.Permute inverse)

        /// Swaps two axes.
        member x.Transpose(axis0: int, axis1: int) =
            let r = x.Shape.Length
            let a, b = Shape.axis "transpose" r axis0, Shape.axis "transpose" r axis1
            x.Permute(Array.init r (fun i -> if i = a then b elif i = b then a else i))

        /// The block starting at `starts` with `lengths` along each axis; reverse writes g into zeros.
        member x.Slice(starts: int[], lengths: int[]) =
            let r = x.Shape.Length
            if starts.Length <> r || lengths.Length <> r then
                raise (Shape.mismatch "slice" (sprintf "%d starts and %d lengths for the tensor's axes (found %d and %d)" r r starts.Length lengths.Length) x.Shape "starts")
            for i in 0 .. r - 1 do
                if starts.[i] < 0 || lengths.[i] < 0 || starts.[i] + lengths.[i] > x.Shape.[i] then
                    raise (ArgumentOutOfRangeException("starts", sprintf "slice: axis %d of shape %s has size %d; the range [%d, %d) is outside it." i (Shape.format x.Shape) x.Shape.[i] starts.[i] (starts.[i] + lengths.[i])))
            Tensor.Record("slice", x.Primal.Slice(starts, lengths), [| x |], fun g _ -> g.Unslice(x.Shape, starts))

        /// Concatenation along `axis`; the shapes must agree on every other axis. Reverse slices g.
        static member Concat(tensors: Tensor[], axis: int) =
            if tensors.Length = 0 then raise (ArgumentException("concat: expected at least one tensor.", "tensors"))
            let first = tensors.[0]
            let r = first.Shape.Length
            let ax = Shape.axis "concat" r axis
            for t in tensors do
                if t.Shape.Length <> r || not (t.Shape |> Array.mapi (fun i d -> i = ax || d = first.Shape.[i]) |> Array.forall id) then
                    raise (Shape.mismatch "concat" (sprintf "the shape %s except along axis %d" (Shape.format first.Shape) ax) t.Shape "tensors")
            let offsets = tensors |> Array.scan (fun acc t -> acc + t.Shape.[ax]) 0
            let value = first.Primal.Concat(tensors.[1..] |> Array.map (fun t -> t.Primal), ax)
            Tensor.Record("concat", value, tensors, fun g i ->
                let starts = Array.init r (fun a -> if a = ax then offsets.[i] else 0)
                g.Slice(starts, tensors.[i].Shape))
