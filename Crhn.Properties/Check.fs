namespace Crhn.Properties

open System
open FsCheck

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

    /// Checks that a property FAILS (a companion that drops an assumption must find a
    /// counterexample); throws if it holds on every case.
    let fails (name: string) (runs: int) (property: 'P) =
        let failed =
            try
                Check.One(name, (config runs).WithQuietOnSuccess(true).WithReplay(None), property)
                false
            with _ -> true
        if not failed then
            failwithf "%s: expected a counterexample, but the property held on all %d cases" name runs
