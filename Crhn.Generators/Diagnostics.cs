using Microsoft.CodeAnalysis;

namespace Crhn.Generators;

/// <summary>The generator's diagnostics, CRHN001–CRHN014. Each names the layer and its numbers and
/// points at the offending attribute.</summary>
public static class StackDiagnostics
{
    private const string Category = "Crhn.Stack";

    private static DiagnosticDescriptor Error(string id, string title, string message) =>
        new(id, title, message, Category, DiagnosticSeverity.Error, isEnabledByDefault: true);

    /// <summary>CRHN001: the stack's type is not partial.</summary>
    public static readonly DiagnosticDescriptor NotPartial = Error("CRHN001", "Layer stack on a type that is not partial",
        "'{0}' declares a layer stack but is not partial: add the partial modifier so the generator can add its Config and Create members");

    /// <summary>CRHN002: a convolution whose output side is not a whole positive number.</summary>
    public static readonly DiagnosticDescriptor ConvOutput = Error("CRHN002", "Convolution output is not a whole positive number",
        "Conv layer {0}: the output {1} is ({2} + 2·{3} − {4}) / {5} + 1 = {6}, which is not a whole positive number");

    /// <summary>CRHN003: a non-positive size, kernel, stride or width, or a negative padding.</summary>
    public static readonly DiagnosticDescriptor BadNumber = Error("CRHN003", "Layer parameter out of range",
        "{0}: {1} is {2}, but it must be {3}");

    /// <summary>CRHN004: no conv layer.</summary>
    public static readonly DiagnosticDescriptor NoConv = Error("CRHN004", "Layer stack without a conv layer",
        "'{0}' declares no [Conv] layer: a CRHN's codec starts with at least one convolution");

    /// <summary>CRHN005: no RHN layer.</summary>
    public static readonly DiagnosticDescriptor NoRhn = Error("CRHN005", "Layer stack without an RHN layer",
        "'{0}' declares no [Rhn] layer: the codes are stored in an RHN with at least one hidden layer");

    /// <summary>CRHN006: layers out of order.</summary>
    public static readonly DiagnosticDescriptor OutOfOrder = Error("CRHN006", "Layers out of order",
        "{0} comes after {1}: declare the conv layers first, then the dense layers, then the RHN layers");

    /// <summary>CRHN007: an RHN layer's stated input does not match the width before it.</summary>
    public static readonly DiagnosticDescriptor RhnInput = Error("CRHN007", "RHN input does not match",
        "RHN layer {0} states an input of {1}, but {2} is {3} wide");

    /// <summary>CRHN008 (warning): an RHN layer wider than its input.</summary>
    public static readonly DiagnosticDescriptor RhnWider = new("CRHN008", "RHN layer wider than its input",
        "RHN layer {0} has {1} hidden units for an input of {2}: a layer wider than its input cannot filter noise by projection (Observation 4)",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    /// <summary>CRHN009: a stack on a nested or generic type.</summary>
    public static readonly DiagnosticDescriptor Unsupported = Error("CRHN009", "Layer stack on a nested or generic type",
        "'{0}' is {1}: declare layer stacks on a top-level, non-generic type");

    /// <summary>CRHN010: no dense layer (the last one is the code).</summary>
    public static readonly DiagnosticDescriptor NoDense = Error("CRHN010", "Layer stack without a dense layer",
        "'{0}' declares no [Dense] layer: the last dense layer's width is the binary code the RHN stores");

    /// <summary>CRHN011: conv layers with different kernels, strides or paddings.</summary>
    public static readonly DiagnosticDescriptor MixedGeometry = Error("CRHN011", "Conv layers with different geometry",
        "Conv layer {0} has kernel {1}, stride {2}, padding {3}, but conv layer 1 has kernel {4}, stride {5}, padding {6}: the tied codec uses one geometry for every convolution");

    /// <summary>CRHN012: a size beyond what one array can hold.</summary>
    public static readonly DiagnosticDescriptor TooLarge = Error("CRHN012", "Layer size too large",
        "{0}: {1} is {2} values, more than the 2,147,483,647 one array can hold");

    /// <summary>CRHN013: a member of the stack's type has a name the generator adds.</summary>
    public static readonly DiagnosticDescriptor NameTaken = Error("CRHN013", "Member name taken by the generated stack",
        "'{0}' already has a member named '{1}', which the generated stack adds: rename it");

    /// <summary>CRHN014 (warning): layer attributes on a type without [CrhnStack].</summary>
    public static readonly DiagnosticDescriptor NoStack = new("CRHN014", "Layer attributes without [CrhnStack]",
        "'{0}' has layer attributes but no [CrhnStack]: they declare nothing until the type also has [CrhnStack(channels, height, width)]",
        Category, DiagnosticSeverity.Warning, isEnabledByDefault: true);

    /// <summary>Every descriptor, by id.</summary>
    public static readonly System.Collections.Generic.IReadOnlyDictionary<string, DiagnosticDescriptor> ById =
        new System.Collections.Generic.Dictionary<string, DiagnosticDescriptor>
        {
            [NotPartial.Id] = NotPartial, [ConvOutput.Id] = ConvOutput, [BadNumber.Id] = BadNumber, [NoConv.Id] = NoConv,
            [NoRhn.Id] = NoRhn, [OutOfOrder.Id] = OutOfOrder, [RhnInput.Id] = RhnInput, [RhnWider.Id] = RhnWider,
            [Unsupported.Id] = Unsupported, [NoDense.Id] = NoDense, [MixedGeometry.Id] = MixedGeometry,
            [TooLarge.Id] = TooLarge, [NameTaken.Id] = NameTaken, [NoStack.Id] = NoStack,
        };
}
