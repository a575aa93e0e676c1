namespace Crhn.Properties

open FsCheck
open FsCheck.FSharp
open Crhn.Core

/// Generated cases as recipes: records of small integers (sizes, seeds, choices) from which the
/// matrices and vectors are built. Shrinking moves each integer toward its least valid value, and
/// the builders construct what they need (orthogonal, semi-orthogonal, bounded spectral norm), so
/// a shrunk orthogonal matrix is still orthogonal: the invariant is in the construction, not in a
/// filter.
module Recipes =

    /// A field of a recipe: how to read it, how to replace it, and its least valid value.
    type Field<'R> = ('R -> int) * ('R -> int -> 'R) * int

    /// Shrinks one field at a time toward its least value (least, halfway, one less).
    let shrinkFields (fields: Field<'R> list) (r: 'R) =
        seq {
            for get, set, least in fields do
                let v = get r
                if v > least then
                    yield set r least
                    let half = least + (v - least) / 2
                    if half > least && half < v then yield set r half
                    if v - 1 > least && v - 1 <> half then yield set r (v - 1)
        }

    /// An Arbitrary from a generator and the recipe's fields.
    let arb (gen: Gen<'R>) (fields: Field<'R> list) = Arb.fromGenShrink (gen, shrinkFields fields)

    let seedGen = Gen.choose (0, 1_000_000)

    /// A float64 matrix U(lo, hi).
    let uniform (seed: int) (lo: float) (hi: float) (rows: int) (cols: int) =
        Init.uniform Dtype.Float64 (uint64 seed) lo hi [| rows; cols |]

    /// A rows×cols matrix with orthonormal rows (rows ≤ cols) or columns (rows ≥ cols).
    let semiOrthogonal (seed: int) (rows: int) (cols: int) = Init.orthogonal Dtype.Float64 (uint64 seed) 1.0 rows cols

    /// A rows×cols matrix U·diag(s)·Vᵀ with singular values s, largest first, as given.
    let withSingularValues (seed: int) (rows: int) (cols: int) (s: float[]) =
        let k = min rows cols
        let u = Init.orthogonal Dtype.Float64 (Rng.derive (uint64 seed) 1) 1.0 rows k
        let v = Init.orthogonal Dtype.Float64 (Rng.derive (uint64 seed) 2) 1.0 cols k
        let scaled = u.Binary(BinaryOp.Mul, u.CreateLike([| 1; k |], Array.init k (fun i -> if i < s.Length then s.[i] else 0.0)))
        scaled.MatMul(false, true, v)

    /// A float64 tensor over the values.
    let tensor (shape: int[]) (values: float[]) = Tensor.Constant(Cpu.ofFloat64 shape values)

    /// The activations the poster's properties range over.
    let activations =
        [| Activation.Tanh 1.0; Activation.Tanh 0.5; Activation.Tanh 2.0
           Activation.Sigmoid 1.0; Activation.Sigmoid 2.0; Activation.Sigmoid 4.0
           Activation.Relu |]

    /// Unit roundoff of float64.
    let u64 = pown 2.0 -53
