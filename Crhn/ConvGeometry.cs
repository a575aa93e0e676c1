namespace Crhn;

/// <summary>The default geometry of every convolution: kernel 4, stride 2, padding 1 (each conv
/// halves the image side). One definition, compiled into Crhn and into its source generator.</summary>
internal static class ConvGeometry
{
    /// <summary>Square kernel side.</summary>
    public const int Kernel = 4;

    /// <summary>Stride.</summary>
    public const int Stride = 2;

    /// <summary>Zero padding.</summary>
    public const int Padding = 1;
}
