namespace Crhn;

/// <summary>The numerical engine behind every model: which backend makes and runs tensors, and
/// on the CPU backend which GEMM/SVD provider runs and why.</summary>
/// <remarks>The CPU backend's provider is chosen once per process from the environment variable
/// <c>CRHN_BACKEND</c>: <c>auto</c> (default: OpenBLAS when <c>libopenblas.so.0</c> loads, else
/// managed), <c>openblas</c> (an error if it does not load) or <c>managed</c>. Models create their
/// tensors on the backend current when they are created, loaded or trained (<see cref="UseBackend"/>).</remarks>
public static class Engine
{
    /// <summary>One line naming the backend in use, its device and libraries (on the CPU backend:
    /// the provider, its kernels, and why it was chosen).</summary>
    public static string Describe() => Core.Backends.Current().Describe();

    /// <summary>The name of the backend that makes new tensors: <c>cpu</c> unless code chose another.</summary>
    public static string BackendName => Core.Backends.Current().Name;

    /// <summary>Makes new tensors (models created, loaded or trained, images handed to them) on the
    /// named backend until the returned scope is disposed, on this thread and the async flow it
    /// starts: <c>cpu</c>, or a name another assembly registered.</summary>
    /// <exception cref="ArgumentException">No backend has that name.</exception>
    public static IDisposable UseBackend(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Core.Backends.Use(Core.Backends.Named(name));
    }

    /// <summary>The short name of the provider in use: <c>managed</c> or <c>openblas</c>.</summary>
    public static string ProviderName => Core.LinearAlgebra.Provider().Name;

    /// <summary>Runs the engine on the named provider (<c>auto</c>, <c>openblas</c> or <c>managed</c>, as
    /// <c>CRHN_BACKEND</c> takes them) until the returned scope is disposed, on this thread and the
    /// async flow it starts.</summary>
    /// <exception cref="ArgumentException">The name is not a provider.</exception>
    /// <exception cref="ProviderUnavailableException"><c>openblas</c> was named and does not load.</exception>
    public static IDisposable UseProvider(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        return Core.LinearAlgebra.Use(name);
    }

    /// <summary>Opens a memory scope: the large arrays made inside it go back for reuse when it is
    /// disposed, instead of waiting for the GC. Wrap one step (a retrieval, a training batch) and
    /// read what you keep inside it: nothing made inside may be used after it ends.</summary>
    public static IDisposable Scope() => Core.Memory.Scope();

    /// <summary>The most bytes of large arrays the engine keeps for reuse (default 1 GiB; 0 keeps
    /// none, as <c>CRHN_POOL=0</c> does for the recycling as a whole).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is negative.</exception>
    public static long PoolLimitBytes
    {
        get => Core.Memory.PoolLimitBytes();
        set => Core.Memory.SetPoolLimitBytes(value);
    }
}
