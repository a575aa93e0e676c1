namespace Crhn.Core

open Crhn
open System
open Crhn.Core.Providers

/// The one place where the linear-algebra provider is chosen, from CRHN_BACKEND:
/// `auto` (the default: OpenBLAS when it loads, else managed), `openblas` (an error if it does
/// not load) or `managed`. The choice and its reason are visible through LinearAlgebra.Describe().
[<RequireQualifiedAccess>]
module LinearAlgebra =

    let private managed = lazy (ManagedProvider() :> ILinearAlgebraProvider)

    /// The always-present managed provider (the test oracle).
    let Managed () = managed.Force()

    /// OpenBLAS if it loads, with the reason it does not otherwise.
    let OpenBlas () : Result<ILinearAlgebraProvider, string> =
        OpenBlasProvider.TryCreate() |> Result.map (fun p -> p :> ILinearAlgebraProvider)

    /// Chooses a provider for a CRHN_BACKEND value, given how to load OpenBLAS; returns the
    /// provider and why it was chosen.
    let chooseWith (openBlas: unit -> Result<ILinearAlgebraProvider, string>) (setting: string) : ILinearAlgebraProvider * string =
        let auto () =
            match openBlas () with
            | Ok p -> p, "auto: OpenBLAS loaded"
            | Error why ->
                // The engine line is one line: the reason's first line (the paths tried follow it).
                let first = why.Split('\n').[0].TrimEnd(':', ' ', '.').Replace(" Tried", "")
                Managed (), "auto: fell back to managed because " + first
        match (if String.IsNullOrWhiteSpace setting then "auto" else setting.Trim().ToLowerInvariant()) with
        | "managed" -> Managed (), "CRHN_BACKEND=managed"
        | "openblas" ->
            match openBlas () with
            | Ok p -> p, "CRHN_BACKEND=openblas"
            | Error why -> raise (ProviderUnavailableException("CRHN_BACKEND=openblas, but " + why))
        | "auto" | "cpu" -> auto ()
        | other when other.StartsWith "torch" ->
            // The torch backend runs its own linear algebra; CPU tensors made beside it use auto's choice.
            let p, why = auto ()
            p, sprintf "CRHN_BACKEND=%s; CPU tensors: %s" other why
        | other ->
            raise (ArgumentException(sprintf "CRHN_BACKEND=%s is not a backend: expected auto, openblas, managed, cpu or torch[:cuda[:N]]." other, "CRHN_BACKEND"))

    /// Chooses a provider for a CRHN_BACKEND value; returns the provider and why it was chosen.
    let choose (setting: string) = chooseWith OpenBlas setting

    let private selected = lazy (choose (Environment.GetEnvironmentVariable "CRHN_BACKEND"))
    let private scoped = Threading.AsyncLocal<ILinearAlgebraProvider * string>()

    let private current () =
        match box scoped.Value with
        | null -> selected.Force()
        | _ -> scoped.Value

    /// The provider every tensor operation on this thread (or async flow) uses.
    let Provider () = fst (current ())

    /// Runs the engine on another provider until the returned scope is disposed, on this thread
    /// and the async flow it starts only (tests run one suite per provider side by side).
    let Scoped (provider: ILinearAlgebraProvider) : IDisposable =
        let previous = scoped.Value
        scoped.Value <- (provider, "scoped")
        { new IDisposable with member _.Dispose() = scoped.Value <- previous }

    /// Runs the engine on the provider a CRHN_BACKEND value names (auto, openblas, managed) until
    /// the returned scope is disposed, as `Scoped`; the reason names the code that chose it.
    let Use (setting: string) : IDisposable =
        let provider, why = choose setting
        let previous = scoped.Value
        scoped.Value <- (provider, why.Replace("CRHN_BACKEND=", "chosen in code: "))
        { new IDisposable with member _.Dispose() = scoped.Value <- previous }

    /// Which provider runs and why, in one line for people and logs.
    let Describe () =
        let p, why = current ()
        sprintf "%s [%s]; SIMD: Vector512 %b, Vector256 %b; %d cores" p.Description why
            Runtime.Intrinsics.Vector512.IsHardwareAccelerated Runtime.Intrinsics.Vector256.IsHardwareAccelerated
            Environment.ProcessorCount
