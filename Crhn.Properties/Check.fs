namespace Crhn.Properties

open System
open FsCheck
open FsCheck.FSharp

/// One shared FsCheck configuration: throws on failure (so xunit reports it), quiet on success,
/// bounded test counts and sizes, and a replayable seed: set CRHN_FSCHECK_REPLAY="seed,gamma"
/// (printed with every failure) to rerun the exact failing sequence.
module Check =

    /// Cases per property unless a property asks for fewer (expensive ones) or CRHN_FSCHECK_RUNS overrides.
    let defaultRuns =
        match Int32.TryParse(Environment.GetEnvironmentVariable "CRHN_FSCHECK_RUNS") with
        | true, n when n > 0 -> n
        | _ -> 100

    let private replay =
        match Environment.GetEnvironmentVariable "CRHN_FSCHECK_REPLAY" with
        | null | "" -> None
        | s ->
            match s.Split(',') with
            | [| seed; gamma |] -> Some { Rnd = Rnd(UInt64.Parse(seed.Trim()), UInt64.Parse(gamma.Trim())); Size = None }
            | _ -> invalidArg "CRHN_FSCHECK_REPLAY" (sprintf "expected \"seed,gamma\", found %s" s)

    /// The configuration every property runs with.
    let config (runs: int) =
        Config.QuickThrowOnFailure
            .WithMaxTest(runs)
            .WithEndSize(20)
            .WithQuietOnSuccess(true)
            .WithReplay(replay)

    /// Checks a property with `runs` cases (scaled by CRHN_FSCHECK_RUNS / 100 when set); throws
    /// with the shrunk counterexample and the replay seed when it fails.
    let run (name: string) (runs: int) (property: 'P) =
        let scaled = max 1 (runs * defaultRuns / 100)
        Check.One(name, config scaled, property)

    /// How a property's run ended: every case held, a case made the statement false (computed
    /// without error), a case threw (a failure of the check itself, never a counterexample), or
    /// too many cases were discarded.
    [<RequireQualifiedAccess; NoComparison; NoEquality>]
    type Ending =
        | Held of cases: int
        | Falsified of cases: int * shrunk: obj list * labels: string list * seed: string
        | Threw of cases: int * error: exn * shrunk: obj list * seed: string
        | Exhausted of cases: int

    type private Capture() =
        member val Result: TestResult option = None with get, set
        interface IRunner with
            member _.OnStartFixture _ = ()
            member _.OnArguments(_, _, _) = ()
            member _.OnShrink(_, _) = ()
            member this.OnFinished(_, result) = this.Result <- Some result

    /// The exception FsCheck records for a case whose statement came out false (as opposed to one
    /// the property's own code threw): its type and message, read from a property that is false.
    let private falseOutcome =
        lazy (
            let capture = Capture()
            Check.One(Config.Quick.WithMaxTest(1).WithRunner(capture), Prop.ofTestable false)
            match capture.Result with
            | Some(TestResult.Failed(_, _, _, Outcome.Failed e, _, _, _)) -> e.GetType(), e.Message
            | other -> failwithf "FsCheck reported %A for a property that is false" other)

    /// Whether an outcome's exception is FsCheck's record of a false statement.
    let private isFalse (e: exn) =
        let kind, message = falseOutcome.Force()
        e.GetType() = kind && e.Message = message

    /// Runs a property with `config` and says how it ended.
    let ending (config: Config) (property: 'P) =
        let capture = Capture()
        Check.One(config.WithRunner(capture), property)
        match capture.Result with
        | Some(TestResult.Passed(data, _)) -> Ending.Held data.NumberOfTests
        | Some(TestResult.Failed(data, _, shrunk, outcome, original, _, _)) ->
            let struct (seed, gamma) = (original.Seed, original.Gamma)
            let replay = sprintf "%d,%d" seed gamma
            match outcome with
            | Outcome.Failed e when not (isFalse e) -> Ending.Threw(data.NumberOfTests, e, shrunk, replay)
            | _ -> Ending.Falsified(data.NumberOfTests, shrunk, List.ofSeq data.Labels, replay)
        | Some(TestResult.Exhausted data) -> Ending.Exhausted data.NumberOfTests
        | None -> failwith "FsCheck finished without a result"

    /// The most cases a property of `runs` cases may discard: one for every five it runs (at
    /// least 5/6 of the cases generated are kept); more ends it as exhausted.
    let maxDiscarded (runs: int) = max 1 (runs / 5)

    /// Checks a property that may discard cases (where an assumption cannot be met) with `runs`
    /// cases, keeping at least `keep` (a share in (0, 1]) of those generated; throws if fewer
    /// were kept, if a case is false, or if a case threw.
    let runKeeping (name: string) (runs: int) (keep: float) (property: 'P) =
        let scaled = max 1 (runs * defaultRuns / 100)
        let allowed = int (floor (float scaled * (1.0 - keep) / keep))
        match ending ((config scaled).WithMaxRejected(max 0 allowed)) property with
        | Ending.Held _ -> ()
        | Ending.Exhausted cases -> failwithf "%s: more than %d of its cases were discarded (%d kept): fewer than %.0f %% kept" name allowed cases (100.0 * keep)
        | Ending.Falsified(cases, shrunk, labels, replay) -> failwithf "%s: falsified after %d cases: %A (%s), replay %s" name cases shrunk (String.Join("; ", labels)) replay
        | Ending.Threw(cases, e, shrunk, replay) -> failwithf "%s: case %d threw %s: %s (arguments %A, replay %s)" name cases (e.GetType().Name) e.Message shrunk replay

    /// Checks that a property FAILS (a companion that drops an assumption must find a
    /// counterexample): throws if it holds on every case, and also if a case threw, since an
    /// exception is a failure of the check, not a counterexample.
    let fails (name: string) (runs: int) (property: 'P) =
        match ending ((config runs).WithQuietOnSuccess(true).WithReplay(None)) property with
        | Ending.Falsified _ -> ()
        | Ending.Held cases -> failwithf "%s: expected a counterexample, but the property held on all %d cases" name cases
        | Ending.Exhausted cases -> failwithf "%s: expected a counterexample, but too many cases were discarded (%d run)" name cases
        | Ending.Threw(cases, e, shrunk, replay) ->
            failwithf "%s: expected a counterexample, but case %d threw %s: %s (arguments %A, replay %s)" name cases (e.GetType().Name) e.Message shrunk replay
