namespace Crhn.Properties

open System
open FsCheck
open FsCheck.FSharp
open Crhn.Core

/// Reductions of float32 tensors against exact sums: the engine accumulates in float64, so a sum
/// of n terms is within a few float32 roundings of the exact one (the result's own rounding and
/// that of each 1024-term block), whatever n is. A single float32 accumulator's error grows with
/// n (about n·u/2 of the sum for terms of one sign).
module LawsReduce =

    /// float32's unit roundoff, 2⁻²⁴.
    let private u = Math.Pow(2.0, -24.0)

    /// Positive float32 values (one sign: the case where a running float32 sum loses most) in
    /// tensors of 1 to 2²⁰ elements, as [rows, columns] with 1 to 64 rows.
    let private tensors =
        gen {
            let! logSize = Gen.choose (0, 20)
            let! rows = Gen.choose (1, 64)
            let! seed = Gen.choose (0, Int32.MaxValue)
            let n = max rows (1 <<< logSize)
            let cols = max 1 (n / rows)
            return rows, cols, Rng.uniform32 (uint64 seed) 0.0 1.0 (rows * cols)
        }

    /// |sum − exact| ≤ 4u·Σ|x| (with u = 2⁻²⁴) for the whole sum and for every column sum.
    let private bounded (name: string) (sumAll: float32[] -> float) (rows: int) (cols: int) (values: float32[]) =
        let exact = values |> Array.sumBy float
        let whole = abs (sumAll values - exact) <= 4.0 * u * exact
        whole |> Prop.label (sprintf "%s of %d values: %.9g, exact %.9g (error %.3g of the sum, bound %.3g)" name values.Length (sumAll values) exact (abs (sumAll values - exact) / exact) (4.0 * u))

    /// The engine's SumAll and its sum over the rows (SumToShape to [1, cols]) are within the bound.
    let sumsAreAccurate =
        Prop.forAll (Arb.fromGen tensors) (fun (rows, cols, values) ->
            let t = Cpu.ofFloat32 [| rows; cols |] values
            let columns = t.SumToShape([| 1; cols |]).ToFloat64Array()
            let columnsHold =
                Seq.forall (fun j ->
                    let exact = Seq.sum (seq { for i in 0 .. rows - 1 -> float values.[i * cols + j] })
                    abs (columns.[j] - exact) <= 4.0 * u * exact + 1e-30) (seq { 0 .. cols - 1 })
            bounded "SumAll" (fun v -> (Cpu.ofFloat32 [| rows; cols |] v).SumAll()) rows cols values
            .&. (bounded "Tensor.SumAll" (fun v -> (Tensor.Constant(Cpu.ofFloat32 [| rows; cols |] v)).SumAll().ToScalar()) rows cols values)
            .&. (columnsHold |> Prop.label "column sums"))

    /// Companion: one float32 accumulator, as a plain loop, misses the bound on large tensors.
    let singleAccumulatorFails =
        Prop.forAll (Arb.fromGen tensors) (fun (rows, cols, values) ->
            bounded "one float32 accumulator" (fun v -> float (Array.fold (fun (acc: float32) x -> acc + x) 0.0f v)) rows cols values)
