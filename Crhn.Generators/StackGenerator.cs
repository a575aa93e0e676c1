using System.Collections.Generic;
using System.Linq;
using System.Text;
using System.Threading;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.CSharp.Syntax;

namespace Crhn.Generators;

/// <summary>Turns <c>[CrhnStack]</c> types with their <c>[Conv]</c>, <c>[Dense]</c> and <c>[Rhn]</c>
/// attributes into typed configs: per-layer shape records, size constants, a static Config and a
/// Create(int seed) factory, with the shapes checked at compile time.</summary>
[Generator(LanguageNames.CSharp)]
public sealed class StackGenerator : IIncrementalGenerator
{
    /// <summary>The tracking name of the step that turns each stack into its model (tests assert on its reasons).</summary>
    public const string ModelStep = "CrhnStackModel";

    private const string StackAttribute = "Crhn.CrhnStackAttribute";

    /// <inheritdoc/>
    public void Initialize(IncrementalGeneratorInitializationContext context)
    {
        var stacks = context.SyntaxProvider.ForAttributeWithMetadataName(
                StackAttribute,
                static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax,
                static (ctx, ct) => Analyse(ctx, ct))
            .WithTrackingName(ModelStep);
        context.RegisterSourceOutput(stacks, static (spc, model) => Emit(spc, model));

        // Layer attributes on a type without [CrhnStack] declare nothing: say so once per type,
        // from the pipeline of the first kind of layer attribute the type has.
        foreach (var (attribute, earlier) in new[]
                 {
                     ("Crhn.ConvAttribute", new string[0]),
                     ("Crhn.DenseAttribute", new[] { "ConvAttribute" }),
                     ("Crhn.RhnAttribute", new[] { "ConvAttribute", "DenseAttribute" }),
                 })
        {
            var orphans = context.SyntaxProvider.ForAttributeWithMetadataName(
                attribute,
                static (node, _) => node is ClassDeclarationSyntax or RecordDeclarationSyntax,
                (ctx, _) => Orphan(ctx, earlier));
            context.RegisterSourceOutput(orphans, static (spc, d) =>
            {
                if (d is not null)
                    spc.ReportDiagnostic(Diagnostic.Create(StackDiagnostics.NoStack, d.Location?.ToLocation(), d.Arguments.Cast<object>().ToArray()));
            });
        }
    }

    /// <summary>CRHN014 for a type with layer attributes and no [CrhnStack], unless an attribute of
    /// an earlier kind reports it; null otherwise.</summary>
    private static DiagnosticInfo? Orphan(GeneratorAttributeSyntaxContext ctx, string[] earlier)
    {
        var type = (INamedTypeSymbol)ctx.TargetSymbol;
        var names = type.GetAttributes().Select(a => a.AttributeClass).Where(c => c?.ContainingNamespace?.ToDisplayString() == "Crhn").Select(c => c!.Name).ToList();
        if (names.Contains("CrhnStackAttribute") || names.Any(earlier.Contains)) return null;
        return new DiagnosticInfo(StackDiagnostics.NoStack.Id, new EquatableArray<string>([type.Name]), LocationInfo.From(ctx.Attributes[0].ApplicationSyntaxReference));
    }


    private static StackModel Analyse(GeneratorAttributeSyntaxContext ctx, CancellationToken ct)
    {
        var type = (INamedTypeSymbol)ctx.TargetSymbol;
        var stack = ctx.Attributes[0];
        var stackLocation = LocationInfo.From(stack.ApplicationSyntaxReference);
        var diagnostics = new List<DiagnosticInfo>();
        void Report(DiagnosticDescriptor d, LocationInfo? at, params object[] args) =>
            diagnostics.Add(new DiagnosticInfo(d.Id, new EquatableArray<string>(args.Select(a => a.ToString()!).ToArray()), at));

        var partial = ctx.TargetNode is TypeDeclarationSyntax decl && decl.Modifiers.Any(SyntaxKind.PartialKeyword);
        if (!partial) Report(StackDiagnostics.NotPartial, stackLocation, type.Name);
        if (type.ContainingType is not null) Report(StackDiagnostics.Unsupported, stackLocation, type.Name, "nested in " + type.ContainingType.Name);
        if (type.TypeParameters.Length > 0) Report(StackDiagnostics.Unsupported, stackLocation, type.Name, "generic");

        int Arg(AttributeData a, int i) => a.ConstructorArguments.Length > i && a.ConstructorArguments[i].Value is int v ? v : 0;
        int Named(AttributeData a, string name, int fallback) =>
            a.NamedArguments.FirstOrDefault(kv => kv.Key == name).Value.Value is int v ? v : fallback;

        int c = Arg(stack, 0), h = Arg(stack, 1), w = Arg(stack, 2);
        var range = Named(stack, "Range", 1);
        var sizesOk = true;
        foreach (var (name, value) in new[] { ("channels", c), ("height", h), ("width", w) })
            if (value <= 0) { Report(StackDiagnostics.BadNumber, stackLocation, "CrhnStack", name, value, "positive"); sizesOk = false; }
        if (range is not (0 or 1))
            Report(StackDiagnostics.BadNumber, stackLocation, "CrhnStack", "Range", range, "DataRange.ZeroToOne (0) or DataRange.MinusOneToOne (1)");
        // Sizes in 64 bits: a product beyond int is an error, never a wrapped constant.
        if (sizesOk && (long)c * h * w > int.MaxValue)
        {
            Report(StackDiagnostics.TooLarge, stackLocation, "CrhnStack", "the input (channels × height × width)", ((long)c * h * w).ToString(System.Globalization.CultureInfo.InvariantCulture));
            sizesOk = false;
        }

        // Layer attributes in declaration order (file, then position), across partial declarations.
        var layers = type.GetAttributes()
            .Where(a => a.AttributeClass?.ContainingNamespace?.ToDisplayString() == "Crhn" && a.ApplicationSyntaxReference is not null)
            .Select(a => (Data: a, Kind: a.AttributeClass!.Name switch
            {
                "ConvAttribute" => (LayerKind?)LayerKind.Conv,
                "DenseAttribute" => LayerKind.Dense,
                "RhnAttribute" => LayerKind.Rhn,
                _ => null,
            }))
            .Where(x => x.Kind is not null)
            .OrderBy(x => x.Data.ApplicationSyntaxReference!.SyntaxTree.FilePath, System.StringComparer.Ordinal)
            .ThenBy(x => x.Data.ApplicationSyntaxReference!.Span.Start)
            .ToList();

        var result = new List<Layer>();
        var counts = new Dictionary<LayerKind, int> { [LayerKind.Conv] = 0, [LayerKind.Dense] = 0, [LayerKind.Rhn] = 0 };
        Layer? firstConv = null;
        string? latest = null;
        // The width feeding the next layer; −1 once an earlier layer's shape could not be computed
        // (later layers then get no shape diagnostics of their own: the first error is the one to fix).
        int width = sizesOk ? 0 : -1;
        long Size(long v, LocationInfo? at, string label, string what)
        {
            if (v <= int.MaxValue) return v;
            Report(StackDiagnostics.TooLarge, at, label, what, v.ToString(System.Globalization.CultureInfo.InvariantCulture));
            return -1;
        }
        foreach (var (data, kind) in layers)
        {
            ct.ThrowIfCancellationRequested();
            var at = LocationInfo.From(data.ApplicationSyntaxReference);
            var index = ++counts[kind!.Value];
            var label = $"{(kind == LayerKind.Rhn ? "RHN" : kind.ToString())} layer {index}";
            if (kind == LayerKind.Conv && (counts[LayerKind.Dense] > 0 || counts[LayerKind.Rhn] > 0))
                Report(StackDiagnostics.OutOfOrder, at, label, latest!);
            if (kind == LayerKind.Dense && counts[LayerKind.Rhn] > 0)
                Report(StackDiagnostics.OutOfOrder, at, label, latest!);
            latest = label;
            switch (kind)
            {
                case LayerKind.Conv:
                {
                    int o = Arg(data, 0), k = Named(data, "Kernel", 4), s = Named(data, "Stride", 2), p = Named(data, "Padding", 1);
                    var ok = true;
                    foreach (var (name, value) in new[] { ("outChannels", o), ("Kernel", k), ("Stride", s) })
                        if (value <= 0) { Report(StackDiagnostics.BadNumber, at, label, name, value, "positive"); ok = false; }
                    if (p < 0) { Report(StackDiagnostics.BadNumber, at, label, "Padding", p, "non-negative"); ok = false; }
                    if (firstConv is { } f && (f.Kernel != k || f.Stride != s || f.Padding != p))
                        Report(StackDiagnostics.MixedGeometry, at, index, k, s, p, f.Kernel, f.Stride, f.Padding);
                    int oh = 0, ow = 0;
                    if (ok && width >= 0)
                    {
                        oh = Output(h, k, s, p, "height", index, at, Report);
                        ow = Output(w, k, s, p, "width", index, at, Report);
                    }
                    var layer = new Layer(LayerKind.Conv, index, c, h, w, o, oh, ow, k, s, p);
                    firstConv ??= layer;
                    result.Add(layer);
                    (c, h, w) = (o, oh, ow);
                    width = width < 0 || oh <= 0 || ow <= 0 ? -1 : (int)Size((long)c * h * w, at, label, "its output (channels × height × width)");
                    break;
                }
                case LayerKind.Dense:
                {
                    var units = Arg(data, 0);
                    if (units <= 0) Report(StackDiagnostics.BadNumber, at, label, "units", units, "positive");
                    result.Add(new Layer(LayerKind.Dense, index, width, 1, 1, units, 1, 1, 0, 0, 0));
                    width = width < 0 || units <= 0 || Size((long)width * units, at, label, "its weight matrix (inputs × units)") < 0 ? -1 : units;
                    break;
                }
                default:
                {
                    int hidden = Arg(data, 0), stated = Named(data, "Input", 0);
                    if (hidden <= 0) Report(StackDiagnostics.BadNumber, at, label, "hidden", hidden, "positive");
                    var before = index == 1 ? "the latent (the last dense layer)" : $"RHN layer {index - 1}";
                    if (width >= 0 && stated != 0 && stated != width) Report(StackDiagnostics.RhnInput, at, index, stated, before, width);
                    if (hidden > width && width > 0) Report(StackDiagnostics.RhnWider, at, index, hidden, width);
                    result.Add(new Layer(LayerKind.Rhn, index, width, 1, 1, hidden, 1, 1, 0, 0, 0));
                    width = width < 0 || hidden <= 0 || Size((long)width * hidden, at, label, "its weight matrix (inputs × hidden)") < 0 ? -1 : hidden;
                    break;
                }
            }
        }
        if (counts[LayerKind.Conv] == 0) Report(StackDiagnostics.NoConv, stackLocation, type.Name);
        if (counts[LayerKind.Dense] == 0) Report(StackDiagnostics.NoDense, stackLocation, type.Name);
        if (counts[LayerKind.Rhn] == 0) Report(StackDiagnostics.NoRhn, stackLocation, type.Name);

        var taken = new HashSet<string>(type.GetMembers().Where(m => !m.IsImplicitlyDeclared).Select(m => m.Name));
        foreach (var name in StackSource.MemberNames(result).Where(taken.Contains))
            Report(StackDiagnostics.NameTaken, stackLocation, type.Name, name);

        var ns = type.ContainingNamespace.IsGlobalNamespace ? null : type.ContainingNamespace.ToDisplayString();
        var hasErrors = diagnostics.Any(d => StackDiagnostics.ById[d.Id].DefaultSeverity == DiagnosticSeverity.Error);
        return new StackModel(ns, type.Name, ctx.TargetNode is RecordDeclarationSyntax, Arg(stack, 0), Arg(stack, 1), Arg(stack, 2), range,
            new EquatableArray<Layer>(result.ToArray()), new EquatableArray<DiagnosticInfo>(diagnostics.ToArray()), hasErrors);
    }

    /// <summary>(size + 2p − k) / s + 1 when that is a whole positive number; otherwise reports CRHN002 and returns 0.</summary>
    private static int Output(int size, int k, int s, int p, string axis, int index, LocationInfo? at, System.Action<DiagnosticDescriptor, LocationInfo?, object[]> report)
    {
        var span = size + 2 * p - k;
        if (span >= 0 && span % s == 0) return span / s + 1;
        var value = (double)span / s + 1;
        report(StackDiagnostics.ConvOutput, at, [index, axis, size, p, k, s, value.ToString("0.###", System.Globalization.CultureInfo.InvariantCulture)]);
        return 0;
    }

    private static void Emit(SourceProductionContext spc, StackModel model)
    {
        foreach (var d in model.Diagnostics)
            spc.ReportDiagnostic(Diagnostic.Create(StackDiagnostics.ById[d.Id], d.Location?.ToLocation(), d.Arguments.Cast<object>().ToArray()));
        if (model.HasErrors) return;
        spc.AddSource($"{(model.Namespace is null ? "" : model.Namespace + ".")}{model.TypeName}.CrhnStack.g.cs", StackSource.Write(model));
    }
}
