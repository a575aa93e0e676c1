namespace Crhn.Core

open System
open System.Collections.Concurrent
open Crhn
open System.Threading

/// The backend registry: which backend makes new tensors (Backends.Current), chosen by
/// CRHN_BACKEND, in code for the process (SetDefault) or for a block of work on this thread and
/// the async flow it starts (Use). The CPU backend is always there; other assemblies register theirs by name (Register),
/// and `Named` finds one by a name such as "cpu" or "torch:cuda".
[<RequireQualifiedAccess>]
module Backends =

    /// The CPU backend.
    let Cpu: Backend = CpuBackend()

    /// The backends of this project's other assemblies, by name: the type that registers each.
    let private shipped = dict [ "torch", "Crhn.Torch.TorchBackend, Crhn.Torch" ]

    let private factories = ConcurrentDictionary<string, string -> Backend>(StringComparer.OrdinalIgnoreCase)
    let mutable private fallback: Backend = null
    let private scoped = AsyncLocal<Backend>()

    /// Makes a backend known by name: `factory` receives what follows the name's first ':' ("" when
    /// nothing does), e.g. "cuda:1" for "torch:cuda:1".
    let Register (name: string) (factory: string -> Backend) =
        ArgumentException.ThrowIfNullOrWhiteSpace name
        factories.[name.Trim()] <- factory

    /// The backend a name gives: "cpu", or a registered name with its option ("torch", "torch:cuda").
    let Named (name: string) : Backend =
        ArgumentNullException.ThrowIfNull name
        let name = name.Trim()
        let key, option = match name.IndexOf ':' with -1 -> name, "" | i -> name.Substring(0, i), name.Substring(i + 1)
        if key.Equals("cpu", StringComparison.OrdinalIgnoreCase) && option = "" then Cpu
        else
            // The backends this project ships in assemblies of their own register themselves the
            // first time they are named, when the application references them.
            if not (factories.ContainsKey key) then
                match shipped.TryGetValue key with
                | true, typeName ->
                    match Type.GetType(typeName, false) with
                    | null -> ()
                    | t -> t.GetMethod("Register", Type.EmptyTypes).Invoke(null, [||]) |> ignore
                | _ -> ()
            match factories.TryGetValue key with
            | true, factory -> factory option
            | _ when shipped.ContainsKey key ->
                raise (ProviderUnavailableException(sprintf "The '%s' backend lives in the assembly %s, which this application does not reference: add that package." key (shipped.[key].Split(',').[1].Trim())))
            | _ ->
                let known = Seq.append [ "cpu" ] factories.Keys |> String.concat ", "
                raise (ArgumentException(sprintf "'%s' is not a backend: known backends are %s (another assembly may register more)." name known, "name"))

    /// The backend CRHN_BACKEND names: the CPU for auto, openblas, managed and cpu (those choose
    /// the CPU backend's provider), else the backend of that name ("torch", "torch:cuda").
    let private fromEnvironment =
        lazy
            (match Environment.GetEnvironmentVariable "CRHN_BACKEND" with
             | null -> Cpu
             | setting ->
                 match setting.Trim().ToLowerInvariant() with
                 | "" | "auto" | "openblas" | "managed" | "cpu" -> Cpu
                 | name -> Named name)

    /// The backend that makes new tensors on this thread (or async flow).
    let Current () : Backend =
        match scoped.Value with
        | null ->
            match Volatile.Read &fallback with
            | null -> fromEnvironment.Force()
            | b -> b
        | b -> b

    /// Makes `backend` the process's default (what Current gives outside any Use).
    let SetDefault (backend: Backend) =
        ArgumentNullException.ThrowIfNull backend
        Volatile.Write(&fallback, backend)

    /// Makes new tensors on `backend` until the returned handle is disposed, on this thread and
    /// the async flow it starts.
    let Use (backend: Backend) : IDisposable =
        ArgumentNullException.ThrowIfNull backend
        let previous = scoped.Value
        scoped.Value <- backend
        { new IDisposable with member _.Dispose() = scoped.Value <- previous }

/// The engine's memory scopes, whatever the backend: `using var scope = Memory.Scope()` around a
/// step (forward, backward, optimiser step) hands the large arrays made inside it back for reuse
/// when it ends, instead of waiting for the GC. Nothing made inside a scope may be used after it:
/// such a use raises ObjectDisposedException (read what you keep, the loss as a number, inside;
/// `RawTensor.Keep` takes one tensor out). Scopes nest; with CRHN_POOL=0 a scope does nothing.
[<RequireQualifiedAccess>]
module Memory =

    /// Opens a scope of the current backend on this thread and the async flow it starts.
    let Scope () : IDisposable = Backends.Current().Scope()

    /// The most bytes of large arrays the CPU backend keeps for reuse (default 1 GiB).
    let PoolLimitBytes () = Kernels.Storage.MaxPooledBytes ()

    /// Sets the most bytes of large arrays the CPU backend keeps for reuse (0 keeps none).
    let SetPoolLimitBytes (value: int64) = Kernels.Storage.SetMaxPooledBytes value
