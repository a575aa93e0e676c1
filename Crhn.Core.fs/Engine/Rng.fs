namespace Crhn.Core

open System

/// Seeded, portable random numbers: SplitMix64 used as a counter-based generator, exactly as
/// ../shared/bench/WORKLOADS.md §1 defines it, so that the same seed gives the same bits on every
/// machine, thread count and backend. Element i (1-based) of stream `seed` is the i-th output of
/// the usual SplitMix64 generator whose state starts at `seed`.
[<RequireQualifiedAccess>]
module Rng =

    /// The raw 64-bit element i (1-based) of the stream `seed`.
    let element (seed: uint64) (i: uint64) =
        let mutable z = seed + i * 0x9E3779B97F4A7C15UL
        z <- (z ^^^ (z >>> 30)) * 0xBF58476D1CE4E5B9UL
        z <- (z ^^^ (z >>> 27)) * 0x94D049BB133111EBUL
        z ^^^ (z >>> 31)

    /// u_i = (z_i >> 40)·2⁻²⁴ ∈ [0, 1), exact in float32.
    let unit (seed: uint64) (i: uint64) = float (element seed i >>> 40) * (1.0 / 16777216.0)

    /// A seed for the k-th independent sub-stream of `seed` (a parameter, a batch order, ...).
    let derive (seed: uint64) (k: int) = element (seed ^^^ 0xD1B54A32D192ED03UL) (uint64 k + 1UL)

    /// A seed for the sub-streams of `seed` that serve one purpose, named (for instance "shuffle"
    /// or "jacf"): `derive (named seed "shuffle") epoch` never meets `derive (named seed "jacf")
    /// draw`, however many of each are drawn, as offsets of one counter (1000 + draw, 100000 +
    /// epoch) eventually do. The name is hashed with 64-bit FNV-1a.
    let named (seed: uint64) (name: string) =
        let mutable h = 0xCBF29CE484222325UL
        for c in name do
            h <- (h ^^^ uint64 c) * 0x100000001B3UL
        element (seed ^^^ 0x9FB21C651E98DF25UL) h

    /// Elements 1..n of stream `seed` as float32 U(lo, hi), evaluated in float64 then rounded.
    let uniform32 (seed: uint64) (lo: float) (hi: float) (n: int) =
        Array.init n (fun i -> float32 (lo + (hi - lo) * unit seed (uint64 i + 1UL)))

    /// Elements 1..n of stream `seed` as float64 U(lo, hi).
    let uniform64 (seed: uint64) (lo: float) (hi: float) (n: int) =
        Array.init n (fun i -> lo + (hi - lo) * unit seed (uint64 i + 1UL))

    /// n standard normal samples (Box–Muller on pairs of stream elements; u₁ is mapped into (0, 1]).
    let normal64 (seed: uint64) (n: int) =
        Array.init n (fun i ->
            let pair = uint64 (i / 2)
            let u1 = 1.0 - unit seed (2UL * pair + 1UL)
            let u2 = unit seed (2UL * pair + 2UL)
            let r = Math.Sqrt(-2.0 * Math.Log u1)
            if i % 2 = 0 then r * Math.Cos(2.0 * Math.PI * u2) else r * Math.Sin(2.0 * Math.PI * u2))
