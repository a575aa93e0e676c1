namespace Crhn;

/// <summary>The numerical engine behind every model: which GEMM/SVD provider runs and why.</summary>
/// <remarks>The provider is chosen once per process from the environment variable
/// <c>CRHN_BACKEND</c>: <c>auto</c> (default: OpenBLAS when <c>libopenblas.so.0</c> loads, else
/// managed), <c>openblas</c> (an error if it does not load) or <c>managed</c>.</remarks>
public static class Engine
{
    /// <summary>One line naming the provider, its library and kernels, and why it was chosen.</summary>
    public static string Describe() => Core.LinearAlgebra.Describe();

    /// <summary>The short name of the provider in use: <c>managed</c> or <c>openblas</c>.</summary>
    public static string ProviderName => Core.LinearAlgebra.Provider().Name;
}
