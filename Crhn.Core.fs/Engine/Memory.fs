namespace Crhn.Core

open System

/// The engine's memory scopes, whatever the backend: `using var scope = Memory.Scope()` around a
/// step (forward, backward, optimiser step) hands the large arrays made inside it back for reuse
/// when it ends, instead of waiting for the GC. Nothing made inside a scope may be used after it
/// (read what you keep, the loss as a number, inside; `RawTensor.Keep` takes one tensor out).
/// Scopes nest; with CRHN_POOL=0 a scope does nothing.
[<RequireQualifiedAccess>]
module Memory =

    /// Opens a scope on this thread and the async flow it starts.
    let Scope () : IDisposable = Kernels.Storage.scope ()

    /// The most bytes of large arrays kept for reuse (default 1 GiB).
    let PoolLimitBytes () = Kernels.Storage.MaxPooledBytes ()

    /// Sets the most bytes of large arrays kept for reuse (0 keeps none).
    let SetPoolLimitBytes (value: int64) = Kernels.Storage.SetMaxPooledBytes value
