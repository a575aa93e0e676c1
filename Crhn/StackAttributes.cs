namespace Crhn;

/// <summary>Declares a CRHN layer stack on a <c>partial</c> class or record. The layers follow as
/// <see cref="ConvAttribute"/>, <see cref="DenseAttribute"/> and <see cref="RhnAttribute"/> attributes
/// in declaration order (convolutions, then dense layers, then the RHN). The Crhn source generator
/// checks the shapes at compile time and adds to the type: a record per layer with its input and
/// output shapes, the derived sizes as constants, a static <c>Config</c> and a <c>Create(int seed)</c> factory.</summary>
/// <example><code>
/// [CrhnStack(3, 32, 32)]
/// [Conv(16)] [Conv(32)]
/// [Dense(256)]
/// [Rhn(128)]
/// public partial class SmallStack;
/// // SmallStack.LatentSize == 256; SmallStack.Create(seed: 1) is a CrhnModel.
/// </code></example>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class CrhnStackAttribute(int channels, int height, int width) : Attribute
{
    /// <summary>Image channels.</summary>
    public int Channels { get; } = channels;

    /// <summary>Image rows.</summary>
    public int Height { get; } = height;

    /// <summary>Image columns.</summary>
    public int Width { get; } = width;

    /// <summary>The value range the model works in (default <see cref="DataRange.MinusOneToOne"/>).</summary>
    public DataRange Range { get; set; } = DataRange.MinusOneToOne;
}

/// <summary>A convolution of the tied codec: <paramref name="outChannels"/> output channels; the
/// output side is (input + 2·Padding − Kernel) / Stride + 1, which must be a whole positive number.
/// Every conv layer of a stack shares one kernel, stride and padding (the codec's decoder is their transpose).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class ConvAttribute(int outChannels) : Attribute
{
    /// <summary>Output channels.</summary>
    public int OutChannels { get; } = outChannels;

    /// <summary>Square kernel side (default 4).</summary>
    public int Kernel { get; set; } = ConvGeometry.Kernel;

    /// <summary>Stride (default 2).</summary>
    public int Stride { get; set; } = ConvGeometry.Stride;

    /// <summary>Zero padding (default 1).</summary>
    public int Padding { get; set; } = ConvGeometry.Padding;
}

/// <summary>A dense layer of the codec after the convolutions; the last one's width is the binary code (the latent).</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class DenseAttribute(int units) : Attribute
{
    /// <summary>Output width.</summary>
    public int Units { get; } = units;
}

/// <summary>A hidden layer of the RHN that stores the codes. Its input is the layer before it (the
/// latent for the first); state <see cref="Input"/> to have the generator check that. A layer wider
/// than its input cannot filter noise by projection (Observation 4) and draws a warning.</summary>
[AttributeUsage(AttributeTargets.Class, AllowMultiple = true, Inherited = false)]
public sealed class RhnAttribute(int hidden) : Attribute
{
    /// <summary>Hidden width.</summary>
    public int Hidden { get; } = hidden;

    /// <summary>The input width this layer expects (0: not stated, take the layer before it).</summary>
    public int Input { get; set; }
}

/// <summary>The shapes of one conv layer of a generated stack (channels × rows × columns in and out).</summary>
public sealed record ConvLayerShape(int Index, int InChannels, int InHeight, int InWidth, int OutChannels, int OutHeight, int OutWidth, int Kernel, int Stride, int Padding)
{
    /// <summary>Input values per image.</summary>
    public int InputSize => InChannels * InHeight * InWidth;

    /// <summary>Output values per image.</summary>
    public int OutputSize => OutChannels * OutHeight * OutWidth;
}

/// <summary>The shapes of one dense layer of a generated stack.</summary>
public sealed record DenseLayerShape(int Index, int Inputs, int Units);

/// <summary>The shapes of one RHN hidden layer of a generated stack.</summary>
public sealed record RhnLayerShape(int Index, int Inputs, int Hidden);
