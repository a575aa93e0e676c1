namespace Crhn.Core

open System
open System.Collections.Concurrent
open System.Threading

/// The backend registry: which backend makes new tensors (Backends.Current), chosen in code for
/// the process (SetDefault) or for a block of work on this thread and the async flow it starts
/// (Use). The CPU backend is always there; other assemblies register theirs by name (Register),
/// and `Named` finds one by a name such as "cpu" or "torch:cuda".
[<RequireQualifiedAccess>]
module Backends =

    /// The CPU backend.
    let Cpu: Backend = CpuBackend()

    let private factories = ConcurrentDictionary<string, string -> Backend>(StringComparer.OrdinalIgnoreCase)
    let mutable private fallback = Cpu
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
            match factories.TryGetValue key with
            | true, factory -> factory option
            | _ ->
                let known = Seq.append [ "cpu" ] factories.Keys |> String.concat ", "
                raise (ArgumentException(sprintf "'%s' is not a backend: known backends are %s (another assembly may register more)." name known, "name"))

    /// The backend that makes new tensors on this thread (or async flow).
    let Current () : Backend =
        match scoped.Value with
        | null -> Volatile.Read &fallback
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
