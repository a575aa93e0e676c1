using System.Collections.Immutable;
using Crhn.Generators;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;
using Xunit;

namespace Crhn.Tests;

/// <summary>The layer-stack generator driven on in-memory compilations (references from
/// Basic.Reference.Assemblies plus Crhn and Crhn.Core).</summary>
public class GeneratorTests
{
    private static readonly CSharpParseOptions Parse = new(LanguageVersion.Latest);

    private static readonly ImmutableArray<MetadataReference> References =
    [
        .. Basic.Reference.Assemblies.Net100.References.All,
        MetadataReference.CreateFromFile(typeof(CrhnModel).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(Crhn.Core.Tensor).Assembly.Location),
        MetadataReference.CreateFromFile(typeof(Microsoft.FSharp.Core.Unit).Assembly.Location),
    ];

    private static CSharpCompilation Compile(params string[] sources) =>
        CSharpCompilation.Create("Stacks", sources.Select((s, i) => CSharpSyntaxTree.ParseText(s, Parse, path: $"File{i}.cs")), References,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));

    private static (Compilation Output, ImmutableArray<Diagnostic> Generator, GeneratorDriver Driver) Run(CSharpCompilation input)
    {
        GeneratorDriver driver = CSharpGeneratorDriver.Create([new StackGenerator().AsSourceGenerator()], parseOptions: Parse,
            driverOptions: new GeneratorDriverOptions(IncrementalGeneratorOutputKind.None, trackIncrementalGeneratorSteps: true));
        driver = driver.RunGeneratorsAndUpdateCompilation(input, out var output, out var diagnostics);
        return (output, diagnostics, driver);
    }

    private static int Constant(Compilation c, string type, string name) =>
        (int)c.GetTypeByMetadataName(type)!.GetMembers(name).OfType<IFieldSymbol>().Single().ConstantValue!;

    private const string Small = """
        using Crhn;
        namespace App;
        [CrhnStack(3, 32, 32)]
        [Conv(16)] [Conv(32)]
        [Dense(256)]
        [Rhn(128)]
        public partial class Small;
        """;

    public static TheoryData<string, int, int, int> Stacks => new()
    {
        // attributes, InputSize, ConvOutputSize, LatentSize
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Conv(32)] [Dense(256)] [Rhn(128)]", 3072, 32 * 8 * 8, 256 },
        { "[CrhnStack(1, 28, 28)] [Conv(8)] [Conv(16)] [Dense(200)] [Dense(100)] [Rhn(64)] [Rhn(32)]", 784, 16 * 7 * 7, 100 },
        { "[CrhnStack(3, 64, 64)] [Conv(32)] [Conv(64)] [Conv(64)] [Dense(512)] [Rhn(384)]", 12288, 64 * 8 * 8, 512 },
        { "[CrhnStack(1, 9, 9)] [Conv(4, Kernel = 3, Stride = 1, Padding = 0)] [Conv(2, Kernel = 3, Stride = 1, Padding = 0)] [Dense(10)] [Rhn(5)]", 81, 2 * 5 * 5, 10 },
        { "[CrhnStack(2, 96, 96, Range = DataRange.ZeroToOne)] [Conv(8, Kernel = 5, Stride = 3, Padding = 1)] [Dense(64)] [Rhn(32, Input = 64)]", 2 * 96 * 96, 8 * 32 * 32, 64 },
    };

    [Theory]
    [MemberData(nameof(Stacks))]
    public void Generated_source_compiles_cleanly_with_the_right_sizes(string attributes, int input, int convOutput, int latent)
    {
        var (output, generator, _) = Run(Compile($"using Crhn; namespace App; {attributes} public partial record Stack;"));
        Assert.Empty(generator);
        Assert.Empty(output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning));
        Assert.Equal(input, Constant(output, "App.Stack", "InputSize"));
        Assert.Equal(convOutput, Constant(output, "App.Stack", "ConvOutputSize"));
        Assert.Equal(latent, Constant(output, "App.Stack", "LatentSize"));
    }

    [Fact]
    public void The_generated_config_builds_the_model_the_attributes_declare()
    {
        var (output, _, _) = Run(Compile(Small));
        using var stream = new MemoryStream();
        Assert.True(output.Emit(stream).Success);
        var assembly = System.Reflection.Assembly.Load(stream.ToArray());
        var type = assembly.GetType("App.Small")!;
        var config = (CrhnConfig)type.GetProperty("Config")!.GetValue(null)!;
        Assert.Equal([16, 32], config.ConvChannels);
        Assert.Equal([256], config.DenseWidths);
        Assert.Equal([128], config.RhnWidths);
        var conv2 = (ConvLayerShape)type.GetProperty("Conv2")!.GetValue(null)!;
        Assert.Equal(new ConvLayerShape(2, 16, 16, 16, 32, 8, 8, 4, 2, 1), conv2);
        var model = (CrhnModel)type.GetMethod("Create")!.Invoke(null, [1])!;
        Assert.Equal(256, model.Config.CodeLength);
    }

    /// <summary>Each bad stack, the diagnostic it must raise, and the attribute text it must point at.</summary>
    public static TheoryData<string, string, string> BadStacks => new()
    {
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Dense(8)] [Rhn(4)] public class S;", "CRHN001", "CrhnStack(3, 32, 32)" },
        { "[CrhnStack(3, 33, 32)] [Conv(16)] [Dense(8)] [Rhn(4)] public partial class S;", "CRHN002", "Conv(16)" },
        { "[CrhnStack(3, 32, 32)] [Conv(8, Kernel = 40, Stride = 2, Padding = 1)] [Dense(8)] [Rhn(4)] public partial class S;", "CRHN002", "Conv(8, Kernel = 40, Stride = 2, Padding = 1)" },
        { "[CrhnStack(3, 32, 32)] [Conv(0)] [Dense(8)] [Rhn(4)] public partial class S;", "CRHN003", "Conv(0)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16, Stride = 0)] [Dense(8)] [Rhn(4)] public partial class S;", "CRHN003", "Conv(16, Stride = 0)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16, Padding = -1)] [Dense(8)] [Rhn(4)] public partial class S;", "CRHN003", "Conv(16, Padding = -1)" },
        { "[CrhnStack(-3, 32, 32)] [Conv(16)] [Dense(8)] [Rhn(4)] public partial class S;", "CRHN003", "CrhnStack(-3, 32, 32)" },
        { "[CrhnStack(3, 32, 32)] [Dense(8)] [Rhn(4)] public partial class S;", "CRHN004", "CrhnStack(3, 32, 32)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Dense(8)] public partial class S;", "CRHN005", "CrhnStack(3, 32, 32)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Dense(8)] [Conv(4)] [Rhn(4)] public partial class S;", "CRHN006", "Conv(4)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Rhn(4)] [Dense(8)] public partial class S;", "CRHN006", "Dense(8)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Dense(8)] [Rhn(4, Input = 9)] public partial class S;", "CRHN007", "Rhn(4, Input = 9)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Dense(8)] [Rhn(16)] public partial class S;", "CRHN008", "Rhn(16)" },
        { "public static partial class Outer { [CrhnStack(3, 32, 32)] [Conv(16)] [Dense(8)] [Rhn(4)] public partial class S; }", "CRHN009", "CrhnStack(3, 32, 32)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Dense(8)] [Rhn(4)] public partial class S<T>;", "CRHN009", "CrhnStack(3, 32, 32)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Rhn(4)] public partial class S;", "CRHN010", "CrhnStack(3, 32, 32)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Conv(8, Kernel = 2, Stride = 2, Padding = 0)] [Dense(8)] [Rhn(4)] public partial class S;", "CRHN011", "Conv(8, Kernel = 2, Stride = 2, Padding = 0)" },
        { "[CrhnStack(64, 8192, 8192)] [Conv(16)] [Dense(8)] [Rhn(4)] public partial class S;", "CRHN012", "CrhnStack(64, 8192, 8192)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Dense(65536)] [Dense(65536)] [Rhn(4)] public partial class S;", "CRHN012", "Dense(65536)" },
        { "[CrhnStack(3, 32, 32, Range = (DataRange)7)] [Conv(16)] [Dense(8)] [Rhn(4)] public partial class S;", "CRHN003", "CrhnStack(3, 32, 32, Range = (DataRange)7)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Dense(8)] [Rhn(4)] public partial class S { public static int Channels => 1; }", "CRHN013", "CrhnStack(3, 32, 32)" },
        { "[CrhnStack(3, 32, 32)] [Conv(16)] [Dense(8)] [Rhn(4)] public partial class S { public void Conv1() { } }", "CRHN013", "CrhnStack(3, 32, 32)" },
        { "[Conv(16)] [Dense(8)] [Rhn(4)] public partial class S;", "CRHN014", "Conv(16)" },
        { "[Rhn(4)] public partial class S;", "CRHN014", "Rhn(4)" },
    };

    [Theory]
    [MemberData(nameof(BadStacks))]
    public void Each_diagnostic_fires_on_its_bad_stack_at_the_offending_attribute(string source, string id, string attribute)
    {
        var text = "using Crhn; namespace App; " + source;
        var (_, generator, _) = Run(Compile(text));
        var hits = generator.Where(d => d.Id == id).ToList();
        Assert.NotEmpty(hits);
        Assert.All(hits, hit =>
        {
            Assert.Equal(attribute, text.Substring(hit.Location.SourceSpan.Start, hit.Location.SourceSpan.Length));
            Assert.NotEmpty(hit.GetMessage());
            Assert.Equal(id is "CRHN008" or "CRHN014" ? DiagnosticSeverity.Warning : DiagnosticSeverity.Error, hit.Severity);
        });
    }

    [Fact]
    public void Messages_name_the_layer_and_the_numbers()
    {
        var (_, generator, _) = Run(Compile("using Crhn; [CrhnStack(3, 33, 32)] [Conv(16)] [Dense(8)] [Rhn(4)] public partial class S;"));
        Assert.Equal("Conv layer 1: the output height is (33 + 2·1 − 4) / 2 + 1 = 16.5, which is not a whole positive number",
            Assert.Single(generator).GetMessage(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void A_conv_layer_that_cannot_be_built_is_reported_once_not_again_by_the_layers_after_it()
    {
        var (_, generator, _) = Run(Compile("using Crhn; [CrhnStack(3, 33, 32)] [Conv(16)] [Conv(32)] [Conv(64)] [Dense(8)] [Rhn(4, Input = 5)] public partial class S;"));
        Assert.Equal("CRHN002", Assert.Single(generator).Id);
    }

    [Fact]
    public void Companion_a_second_conv_layer_that_fails_on_its_own_is_reported_at_its_own_attribute()
    {
        // 6 → 3 → (3 + 2 − 4) / 2 + 1 = 1.5: the second layer fails, in height and in width.
        var text = "using Crhn; [CrhnStack(3, 6, 6)] [Conv(16)] [Conv(32)] [Dense(8)] [Rhn(4)] public partial class S;";
        var (_, generator, _) = Run(Compile(text));
        Assert.Equal(2, generator.Length);
        Assert.All(generator, hit =>
        {
            Assert.Equal("CRHN002", hit.Id);
            Assert.Equal("Conv(32)", text.Substring(hit.Location.SourceSpan.Start, hit.Location.SourceSpan.Length));
        });
    }

    [Fact]
    public void Every_generated_member_is_marked_as_generated_code_and_the_config_cannot_be_changed_through_a_cast()
    {
        var (output, _, _) = Run(Compile(Small));
        var type = output.GetTypeByMetadataName("App.Small")!;
        var generated = type.GetMembers().Where(m => !m.IsImplicitlyDeclared && m.Locations.Any(l => l.SourceTree?.FilePath.EndsWith(".g.cs") == true)).ToList();
        Assert.NotEmpty(generated);
        Assert.All(generated.Where(m => m is not IMethodSymbol { AssociatedSymbol: not null }),
            m => Assert.Contains(m.GetAttributes(), a => a.AttributeClass?.ToDisplayString() == "System.CodeDom.Compiler.GeneratedCodeAttribute"));
        using var stream = new MemoryStream();
        Assert.True(output.Emit(stream).Success);
        var config = (CrhnConfig)System.Reflection.Assembly.Load(stream.ToArray()).GetType("App.Small")!.GetProperty("Config")!.GetValue(null)!;
        Assert.Null(config.ConvLayers as int[]);
    }

    [Fact]
    public void The_pipeline_models_hold_no_symbols_syntax_or_compilations()
    {
        var roslyn = new[] { typeof(ISymbol), typeof(SyntaxNode), typeof(SyntaxTree), typeof(Compilation), typeof(Location), typeof(SemanticModel) };
        var seen = new HashSet<Type>();
        void Check(Type t)
        {
            if (!seen.Add(t) || t.IsPrimitive || t == typeof(string) || t.IsEnum) return;
            Assert.False(roslyn.Any(r => r.IsAssignableFrom(t)), $"{t} is or holds Roslyn state");
            if (t.IsArray) Check(t.GetElementType()!);
            foreach (var g in t.IsGenericType ? t.GetGenericArguments() : []) Check(g);
            foreach (var f in t.GetFields(System.Reflection.BindingFlags.Instance | System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic))
                Check(f.FieldType);
        }
        Check(typeof(StackGenerator).Assembly.GetType("Crhn.Generators.StackModel", throwOnError: true)!);
        Assert.Contains(seen, t => t.Name == "LocationInfo");
    }

    [Fact]
    public void Running_again_on_a_clone_of_the_compilation_leaves_the_outputs_cached()
    {
        var input = Compile(Small);
        var (_, _, driver) = Run(input);
        driver = driver.RunGenerators(input.Clone());
        var run = driver.GetRunResult().Results.Single();
        Assert.All(run.TrackedSteps[StackGenerator.ModelStep].SelectMany(s => s.Outputs),
            o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"reason {o.Reason}"));
    }

    [Fact]
    public void An_edit_to_an_unrelated_file_leaves_the_outputs_cached()
    {
        var input = Compile(Small, "namespace App; public static class Other { public static int X => 1; }");
        var (_, _, driver) = Run(input);
        var other = input.SyntaxTrees.Single(t => t.FilePath == "File1.cs");
        var edited = input.ReplaceSyntaxTree(other, CSharpSyntaxTree.ParseText("namespace App; public static class Other { public static int X => 2; }", Parse, path: "File1.cs"));
        driver = driver.RunGenerators(edited);
        var run = driver.GetRunResult().Results.Single();
        var steps = run.TrackedSteps[StackGenerator.ModelStep];
        Assert.NotEmpty(steps);
        Assert.All(steps.SelectMany(s => s.Outputs), o => Assert.True(o.Reason is IncrementalStepRunReason.Cached or IncrementalStepRunReason.Unchanged, $"reason {o.Reason}"));
        Assert.All(run.TrackedOutputSteps.SelectMany(kv => kv.Value).SelectMany(s => s.Outputs), o => Assert.Equal(IncrementalStepRunReason.Cached, o.Reason));
    }

    [Fact]
    public void Companion_an_edit_to_the_stack_reruns_the_generator()
    {
        var input = Compile(Small);
        var (_, _, driver) = Run(input);
        var edited = input.ReplaceSyntaxTree(input.SyntaxTrees.Single(), CSharpSyntaxTree.ParseText(Small.Replace("Dense(256)", "Dense(200)"), Parse, path: "File0.cs"));
        driver = driver.RunGenerators(edited);
        var steps = driver.GetRunResult().Results.Single().TrackedSteps[StackGenerator.ModelStep];
        Assert.Contains(steps.SelectMany(s => s.Outputs), o => o.Reason == IncrementalStepRunReason.Modified);
    }

    /// <summary>The generator's shape arithmetic agrees with the engine's: over random valid stacks
    /// (no diagnostics), ConvOutputSize and LatentSize equal what Crhn.Core computes for the same config.</summary>
    [Fact]
    public void The_generator_and_the_engine_agree_on_the_sizes()
    {
        var random = new Random(20261128);
        var checkedStacks = 0;
        for (var trial = 0; trial < 200 && checkedStacks < 40; trial++)
        {
            int c = random.Next(1, 4), h = random.Next(4, 70), w = random.Next(4, 70);
            int k = random.Next(1, 6), s = random.Next(1, 4), p = random.Next(0, 3);
            var convs = Enumerable.Range(0, random.Next(1, 4)).Select(_ => random.Next(1, 17)).ToArray();
            var dense = Enumerable.Range(0, random.Next(1, 3)).Select(_ => random.Next(2, 300)).ToArray();
            var attributes = $"[CrhnStack({c}, {h}, {w})] " + string.Concat(convs.Select(o => $"[Conv({o}, Kernel = {k}, Stride = {s}, Padding = {p})] "))
                + string.Concat(dense.Select(u => $"[Dense({u})] ")) + $"[Rhn({Math.Max(1, dense[^1] / 2)})]";
            var (output, generator, _) = Run(Compile($"using Crhn; namespace App; {attributes} public partial class Stack;"));
            if (generator.Length > 0) continue;
            var codec = new Crhn.Core.Models.CodecConfig(c, h, w, convs, k, s, p, dense, Crhn.Core.Models.Latent.Binary, Crhn.Core.Models.OutputMap.Tanh, true, false);
            var (_, denseShapes) = Crhn.Core.Models.TiedCodec.ParameterShapes(codec);
            Assert.True(denseShapes[0][1] == Constant(output, "App.Stack", "ConvOutputSize"), attributes);
            Assert.True(denseShapes[^1][0] == Constant(output, "App.Stack", "LatentSize"), attributes);
            checkedStacks++;
        }
        Assert.True(checkedStacks >= 20, $"only {checkedStacks} valid stacks drawn");
    }
}
