using System;
using System.Collections;
using System.Collections.Generic;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Text;

namespace System.Runtime.CompilerServices
{
    /// <summary>Lets netstandard2.0 compile records' init accessors.</summary>
    internal static class IsExternalInit;
}

namespace Crhn.Generators
{
    /// <summary>An immutable array compared by its elements, so that pipeline models are equatable.</summary>
    internal readonly struct EquatableArray<T>(T[] items) : IEquatable<EquatableArray<T>>, IEnumerable<T>
        where T : IEquatable<T>
    {
        private readonly T[]? items = items;

        public int Count => items?.Length ?? 0;

        public T this[int i] => items![i];

        public bool Equals(EquatableArray<T> other) => this.SequenceEqual(other);

        public override bool Equals(object? obj) => obj is EquatableArray<T> other && Equals(other);

        public override int GetHashCode() => this.Aggregate(17, (h, x) => unchecked(h * 31 + x.GetHashCode()));

        public IEnumerator<T> GetEnumerator() => ((IEnumerable<T>)(items ?? [])).GetEnumerator();

        IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();
    }

    /// <summary>A source location held as plain values (no syntax tree kept across pipeline steps).</summary>
    internal sealed record LocationInfo(string Path, TextSpan Span, LinePositionSpan Lines)
    {
        public Location ToLocation() => Location.Create(Path, Span, Lines);

        public static LocationInfo? From(SyntaxReference? reference)
        {
            if (reference is null) return null;
            var tree = reference.SyntaxTree;
            return new LocationInfo(tree.FilePath, reference.Span, tree.GetLineSpan(reference.Span).Span);
        }
    }

    /// <summary>A diagnostic to report: its descriptor's id, the message arguments and where.</summary>
    internal sealed record DiagnosticInfo(string Id, EquatableArray<string> Arguments, LocationInfo? Location);

    internal enum LayerKind { Conv, Dense, Rhn }

    /// <summary>One layer with its shapes computed: C×H×W in and out for a convolution, widths for
    /// dense and RHN layers (H = W = 1).</summary>
    internal sealed record Layer(LayerKind Kind, int Index, int InC, int InH, int InW, int OutC, int OutH, int OutW, int Kernel, int Stride, int Padding);

    /// <summary>Everything the generator emits for one stack, or the reasons it emits nothing.</summary>
    internal sealed record StackModel(
        string? Namespace, string TypeName, bool IsRecord, int Channels, int Height, int Width, int Range,
        EquatableArray<Layer> Layers, EquatableArray<DiagnosticInfo> Diagnostics, bool HasErrors);
}
