using System.Reflection;
using Xunit;

namespace Crhn.Tests;

public class PublicApiTests
{
    private static bool FromAssembly(Type t, string assembly) =>
        t.Assembly.GetName().Name == assembly
        || (t.IsGenericType && t.GetGenericArguments().Any(a => FromAssembly(a, assembly)))
        || (t.HasElementType && FromAssembly(t.GetElementType()!, assembly));

    /// <summary>Every type a public member of Crhn takes or returns, with the member's name.</summary>
    private static IEnumerable<(string Member, Type Type)> PublicSignatures()
    {
        foreach (var type in typeof(CrhnModel).Assembly.GetExportedTypes())
        {
            if (type.BaseType is { } b) yield return ($"{type.Name} : base", b);
            foreach (var i in type.GetInterfaces()) yield return ($"{type.Name} : interface", i);
            foreach (var m in type.GetMembers(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            {
                IEnumerable<Type> types = m switch
                {
                    MethodInfo mi => mi.GetParameters().Select(p => p.ParameterType).Append(mi.ReturnType),
                    ConstructorInfo ci => ci.GetParameters().Select(p => p.ParameterType),
                    PropertyInfo pi => [pi.PropertyType],
                    FieldInfo fi => [fi.FieldType],
                    EventInfo ei => [ei.EventHandlerType!],
                    _ => [],
                };
                foreach (var t in types) yield return ($"{type.Name}.{m.Name}", t);
            }
        }
    }

    [Fact]
    public void No_public_signature_of_Crhn_takes_or_returns_an_FSharp_Core_or_engine_type()
    {
        var leaks = PublicSignatures().Where(s => FromAssembly(s.Type, "FSharp.Core") || FromAssembly(s.Type, "Crhn.Core"))
            .Select(s => $"{s.Member}: {s.Type}").Distinct().ToList();
        Assert.True(leaks.Count == 0, string.Join("; ", leaks));
    }

    [Fact]
    public void Companion_the_scan_sees_an_engine_type_where_one_is_exposed()
    {
        // The same scan over the engine's own assembly finds its types everywhere: it is not blind.
        var engine = typeof(ModelFormatException).Assembly.GetExportedTypes()
            .SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Static | BindingFlags.Instance | BindingFlags.DeclaredOnly))
            .Count(m => FromAssembly(m.ReturnType, "Crhn.Core"));
        Assert.True(engine > 0);
    }

    [Fact]
    public void Everything_a_user_catches_is_in_the_Crhn_namespace()
    {
        Assert.All(new[] { typeof(DataFormatException), typeof(ModelFormatException), typeof(ProviderUnavailableException) },
            t => Assert.Equal("Crhn", t.Namespace));
    }
}
