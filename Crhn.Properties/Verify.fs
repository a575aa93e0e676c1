namespace Crhn.Properties

open System
open FsCheck
open Crhn.Core

/// The result of checking one proposition.
type Verdict =
    { Id: string
      Statement: string
      Tolerance: string
      /// Cases generated (the failing one included).
      Cases: int
      /// holds / holds under … / counterexample.
      Verdict: string
      /// Whether the outcome is the one the proposition expects.
      AsExpected: bool
      /// The shrunk counterexample, where one was found.
      Counterexample: string option
      /// The labels of the failing case (which sub-claim broke, and by how much).
      Detail: string option
      /// "seed,gamma" to replay the run that found it.
      Replay: string option }

/// Runs propositions and reports verdicts instead of throwing, for `crhn verify` and the tests.
module Verify =

    type private Capture() =
        member val Result: TestResult option = None with get, set
        interface IRunner with
            member _.OnStartFixture _ = ()
            member _.OnArguments(_, _, _) = ()
            member _.OnShrink(_, _) = ()
            member this.OnFinished(_, result) = this.Result <- Some result

    /// Parses "seed" or "seed,gamma" into FsCheck's replay seed (gamma must be odd; a default is used).
    let parseSeed (text: string) =
        match text.Split(',') |> Array.map (fun s -> s.Trim()) with
        | [| seed |] -> Some { Rnd = Rnd(UInt64.Parse seed, 0x9E3779B97F4A7C15UL); Size = None }
        | [| seed; gamma |] -> Some { Rnd = Rnd(UInt64.Parse seed, UInt64.Parse gamma ||| 1UL); Size = None }
        | _ -> raise (FormatException(sprintf "expected a seed as \"N\" or \"N,G\", found \"%s\"" text))

    /// A counterexample on one line: { Visible = 1; Hidden = 2; … }.
    let private show (args: obj list) =
        args |> List.map (fun a -> Text.RegularExpressions.Regex.Replace(sprintf "%A" a, @"\r?\n\s*", "; ")) |> String.concat " "

    /// Checks one proposition on `runs` cases (replaying `seed` if given).
    let run (runs: int) (seed: string option) (p: Proposition) =
        let capture = Capture()
        let config =
            Config.Quick.WithMaxTest(runs).WithEndSize(20).WithRunner(capture).WithReplay(seed |> Option.bind parseSeed)
        Check.One(config, p.Property)
        let verdict, asExpected, cex, detail, replay, cases =
            match capture.Result with
            | Some(TestResult.Passed(data, _)) ->
                let v =
                    match p.Expect with
                    | HoldsUnder condition -> sprintf "holds under: %s" condition
                    | _ -> "holds"
                v, (p.Expect <> Counterexample), None, None, None, data.NumberOfTests
            | Some(TestResult.Failed(data, _, shrunk, outcome, original, _, _)) ->
                let labels = if data.Labels.IsEmpty then None else Some(String.Join("; ", data.Labels))
                let error = match outcome with Outcome.Failed e -> Some e.Message | _ -> None
                let struct (s, g) = (original.Seed, original.Gamma)
                "counterexample", (p.Expect = Counterexample), Some(show shrunk), (match labels with Some _ -> labels | None -> error),
                Some(sprintf "%d,%d" s g), data.NumberOfTests
            | Some(TestResult.Exhausted data) -> "exhausted (too many cases discarded)", false, None, None, None, data.NumberOfTests
            | None -> "not run", false, None, None, None, 0
        { Id = p.Id; Statement = p.Statement; Tolerance = p.Tolerance; Cases = cases; Verdict = verdict
          AsExpected = asExpected; Counterexample = cex; Detail = detail; Replay = replay }
