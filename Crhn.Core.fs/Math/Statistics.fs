namespace Crhn.Core

open System

/// A Welch's t-test: the statistic, the Welch–Satterthwaite degrees of freedom and the two-sided p-value.
type WelchTest = { T: float; DegreesOfFreedom: float; P: float }

/// Summaries the experiments report: mean ± sample standard deviation over seeds, Welch's t-test.
[<RequireQualifiedAccess>]
module Statistics =

    /// The mean of the values (NaN when there are none).
    let mean (xs: float[]) = if xs.Length = 0 then nan else Array.average xs

    /// The sample standard deviation (n − 1 in the denominator; 0 for a single value, NaN for none).
    let std (xs: float[]) =
        match xs.Length with
        | 0 -> nan
        | 1 -> 0.0
        | n ->
            let m = mean xs
            Math.Sqrt((xs |> Array.sumBy (fun x -> (x - m) * (x - m))) / float (n - 1))

    /// Welch's unequal-variances t-test of mean(a) = mean(b), two-sided. Needs at least two values
    /// in each sample; two samples without any spread give p = 1 when equal and 0 otherwise.
    let welch (a: float[]) (b: float[]) =
        if a.Length < 2 || b.Length < 2 then
            raise (ArgumentException(sprintf "welch: each sample needs at least two values, found %d and %d." a.Length b.Length))
        let va, vb = (std a) ** 2.0 / float a.Length, (std b) ** 2.0 / float b.Length
        let diff = mean a - mean b
        if va + vb = 0.0 then
            { T = (if diff = 0.0 then 0.0 else float (sign diff) * infinity); DegreesOfFreedom = float (a.Length + b.Length - 2); P = (if diff = 0.0 then 1.0 else 0.0) }
        else
            let t = diff / Math.Sqrt(va + vb)
            let df = (va + vb) ** 2.0 / (va * va / float (a.Length - 1) + vb * vb / float (b.Length - 1))
            // Two-sided p = I_{df/(df+t²)}(df/2, 1/2), the regularised incomplete beta function.
            let p = MathNet.Numerics.SpecialFunctions.BetaRegularized(df / 2.0, 0.5, df / (df + t * t))
            { T = t; DegreesOfFreedom = df; P = p }
