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
      /// holds / holds under … / counterexample / error (a case threw) / exhausted.
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

    /// Parses "seed" or "seed,gamma" into FsCheck's replay seed (gamma must be odd; a default is used).
    let parseSeed (text: string) =
        match text.Split(',') |> Array.map (fun s -> s.Trim()) with
        | [| seed |] -> Some { Rnd = Rnd(UInt64.Parse seed, 0x9E3779B97F4A7C15UL); Size = None }
        | [| seed; gamma |] -> Some { Rnd = Rnd(UInt64.Parse seed, UInt64.Parse gamma ||| 1UL); Size = None }
        | _ -> raise (FormatException(sprintf "expected a seed as \"N\" or \"N,G\", found \"%s\"" text))

    /// A counterexample on one line: { Visible = 1; Hidden = 2; … }.
    let private show (args: obj list) =
        args |> List.map (fun a -> Text.RegularExpressions.Regex.Replace(sprintf "%A" a, @"\r?\n\s*", "; ")) |> String.concat " "

    /// Checks one proposition on `runs` cases (replaying `seed` if given). A case whose check
    /// threw is the verdict "error", never the expected counterexample; a proposition that
    /// discards more than one case for every five it runs is "exhausted", never "holds".
    let run (runs: int) (seed: string option) (p: Proposition) =
        let config = Config.Quick.WithMaxTest(runs).WithMaxRejected(Check.maxDiscarded runs).WithEndSize(20).WithReplay(seed |> Option.bind parseSeed)
        let verdict, asExpected, cex, detail, replay, cases =
            match Check.ending config p.Property with
            | Check.Ending.Held cases ->
                let v =
                    match p.Expect with
                    | HoldsUnder condition -> sprintf "holds under: %s" condition
                    | _ -> "holds"
                v, (p.Expect <> Counterexample), None, None, None, cases
            | Check.Ending.Falsified(cases, shrunk, labels, replay) ->
                "counterexample", (p.Expect = Counterexample), Some(show shrunk), (if labels.IsEmpty then None else Some(String.Join("; ", labels))),
                Some replay, cases
            | Check.Ending.Threw(cases, e, shrunk, replay) ->
                "error", false, Some(show shrunk), Some(sprintf "the check threw %s: %s" (e.GetType().Name) e.Message), Some replay, cases
            | Check.Ending.Exhausted cases -> sprintf "exhausted (more than %d cases discarded)" (Check.maxDiscarded runs), false, None, None, None, cases
        { Id = p.Id; Statement = p.Statement; Tolerance = p.Tolerance; Cases = cases; Verdict = verdict
          AsExpected = asExpected; Counterexample = cex; Detail = detail; Replay = replay }
