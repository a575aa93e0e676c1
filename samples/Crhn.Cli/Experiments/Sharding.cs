using System.Text.Json;
using System.Text.Json.Nodes;
using Spectre.Console;

namespace Crhn.Cli.Experiments;

/// <summary>One shard of a grid: <c>--shard i/n</c> runs the units whose index modulo n is i
/// (0 ≤ i &lt; n), so n shards cover every unit once whatever the grid's size.</summary>
internal sealed record ShardSpec(int Index, int Count)
{
    public static ShardSpec Parse(string text)
    {
        var parts = text.Split('/');
        if (parts.Length != 2 || !int.TryParse(parts[0], out int i) || !int.TryParse(parts[1], out int n) || n < 1 || i < 0 || i >= n)
            throw new UsageException($"--shard {text}: expected i/n with 0 ≤ i < n, e.g. 0/4 (a Slurm array task id over the array's size).");
        return new ShardSpec(i, n);
    }

    public bool Takes(int unit) => unit % Count == Index;

    public override string ToString() => $"{Index}/{Count}";
}

/// <summary>What one shard wrote: its units' results with the command line that made them, so
/// that <c>crhn experiment merge</c> can rebuild the report a single run writes.</summary>
internal sealed record ShardFile(string Experiment, string[] Arguments, Dictionary<string, string> Settings, int Shard, int Shards, int Units,
    string Engine, double Seconds, Dictionary<string, double> Timings, JsonArray Results);

/// <summary>Runs an experiment's grid of units (trials or cells × seeds) whole, as one shard, or
/// from merged shards; every path builds the report from the same ordered list of unit results.</summary>
internal static class Sharding
{
    /// <summary>The file a shard writes into its --out folder.</summary>
    public const string ShardFileName = "shard.json";

    private static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    /// <summary>The shards being merged, while <c>merge</c> replays their command line.</summary>
    private static IReadOnlyList<(ShardFile File, DirectoryInfo Folder)>? _merging;

    /// <summary>The command line after <c>crhn</c>, without --shard and --out (what every shard of one grid shares).</summary>
    public static string[] Arguments(string[] args)
    {
        var kept = new List<string>();
        for (int i = 0; i < args.Length; i++)
        {
            if (args[i] is "--shard" or "--out") { i++; continue; }
            if (new[] { "--shard=", "--shard:", "--out=", "--out:" }.Any(p => args[i].StartsWith(p, StringComparison.Ordinal))) continue;
            kept.Add(args[i]);
        }
        return [.. kept];
    }

    /// <summary>The engine a report names: this process's, or when merging the shards' (all the same).</summary>
    public static string Engine() => _merging is { } shards ? shards[0].File.Engine : Crhn.Engine.Describe();

    /// <summary>The command line a report names: the run's own, or when merging the shards' shared one.</summary>
    public static string CommandLine(Func<string, string> quote) => _merging is { } shards
        ? "crhn " + string.Join(" ", shards[0].File.Arguments.Select(quote))
        : "crhn " + string.Join(" ", Environment.GetCommandLineArgs().Skip(1).Select(quote));

    /// <summary>Runs the grid: every unit (no shard), the shard's units (writing shard.json and
    /// returning null), or none when merging (the merged shards' results). Returns the results of
    /// every unit in unit order, for the report.</summary>
    public static IReadOnlyList<T>? Run<T>(string experiment, int units, ShardSpec? shard, DirectoryInfo folder, RunInfo run, Func<int, T> unit)
    {
        if (_merging is { } shards)
        {
            var results = new T[units];
            var seen = new bool[units];
            foreach (var (file, from) in shards)
            {
                if (file.Units != units)
                    throw new UsageException($"the shards describe a grid of {file.Units} units; their command line now makes {units}.");
                // The same command line can mean other settings under another build (its defaults).
                var changed = run.Settings.Where(kv => !file.Settings.TryGetValue(kv.Key, out var v) || v != kv.Value).Select(kv => kv.Key).ToArray();
                if (changed.Length > 0 || file.Settings.Count != run.Settings.Count)
                    throw new UsageException($"merge: {from.FullName} ran with other settings ({string.Join(", ", changed.DefaultIfEmpty("their keys"))}) than this build gives its command line; merge with the build that ran the shards.");
                foreach (var node in file.Results)
                {
                    var entry = node!.AsObject();
                    int index = entry["unit"]!.GetValue<int>();
                    if (index < 0 || index >= units || seen[index])
                        throw new UsageException($"unit {index} appears twice, or is outside the grid of {units}.");
                    seen[index] = true;
                    results[index] = entry["result"].Deserialize<T>(Json)!;
                }
                run.AddShard(file.Shard, file.Seconds, file.Timings);
            }
            var missing = Enumerable.Range(0, units).Where(i => !seen[i]).ToArray();
            if (missing.Length > 0)
                throw new UsageException($"the shards lack {missing.Length} of the grid's {units} units (first: {missing[0]}); merge every shard of the grid.");
            return results;
        }
        var chosen = Enumerable.Range(0, units).Where(i => shard is null || shard.Takes(i)).ToArray();
        var done = chosen.Select(i => (Index: i, Result: unit(i))).ToList();
        if (shard is null) return [.. done.Select(d => d.Result)];
        folder.Create();
        var array = new JsonArray([.. done.Select(d => (JsonNode)new JsonObject { ["unit"] = d.Index, ["result"] = JsonSerializer.SerializeToNode(d.Result, Json) })]);
        var written = new ShardFile(experiment, Arguments(Environment.GetCommandLineArgs().Skip(1).ToArray()), new(run.Settings), shard.Index, shard.Count, units,
            run.Engine, run.Seconds, run.Timings, array);
        File.WriteAllText(Path.Combine(folder.FullName, ShardFileName), JsonSerializer.Serialize(written, Json));
        AnsiConsole.MarkupLine($"Shard {shard}: {chosen.Length} of {units} units in {run.Seconds:F0} s → {Markup.Escape(Path.Combine(folder.FullName, ShardFileName))}; merge with [bold]crhn experiment merge[/] and every shard's folder.");
        return null;
    }

    /// <summary>Merges shard folders: checks they belong to one grid, then replays its command line
    /// (through <paramref name="replay"/>) with their results in place of running the units, into
    /// <paramref name="output"/>; pictures the shards drew are copied there.</summary>
    public static int Merge(DirectoryInfo[] folders, DirectoryInfo output, Func<string[], int> replay)
    {
        if (folders.Length == 0) throw new UsageException("merge: name the folders of the shards to merge.");
        var shards = folders.Select(f =>
        {
            var path = Path.Combine(f.FullName, ShardFileName);
            if (!File.Exists(path)) throw new UsageException($"merge: {path} does not exist (run the experiment with --shard i/n --out {f.FullName}).");
            try
            {
                var file = JsonSerializer.Deserialize<ShardFile>(File.ReadAllText(path), Json);
                if (file is null || file.Experiment is null || file.Arguments is null || file.Settings is null || file.Engine is null || file.Timings is null
                    || file.Results is null || file.Results.Any(r => r is not JsonObject o || o["unit"] is null || o["result"] is null))
                    throw new UsageException($"merge: {path} is not a complete shard file.");
                return (File: file, Folder: f);
            }
            catch (JsonException e)
            {
                throw new UsageException($"merge: {path} is not a shard file ({e.Message.Split('.')[0]}).");
            }
        }).ToList();
        var first = shards[0].File;
        foreach (var (file, folder) in shards)
        {
            if (file.Experiment != first.Experiment || !file.Arguments.SequenceEqual(first.Arguments) || file.Shards != first.Shards)
                throw new UsageException($"merge: {folder.FullName} is shard {file.Shard}/{file.Shards} of `{string.Join(" ", file.Arguments)}`, not of `{string.Join(" ", first.Arguments)}` with {first.Shards} shards.");
            // Thread counts and kernels change the last bits of every sum: one grid, one engine.
            if (file.Engine != first.Engine)
                throw new UsageException($"merge: {folder.FullName} ran on \"{file.Engine}\", another shard on \"{first.Engine}\"; a grid's figures are reproducible to the last digit only on one engine and core count.");
        }
        var duplicate = shards.GroupBy(s => s.File.Shard).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new UsageException($"merge: shard {duplicate.Key}/{first.Shards} is given twice.");
        output.Create();
        foreach (var (_, folder) in shards)
            foreach (var picture in folder.EnumerateFiles("*.png"))
                picture.CopyTo(Path.Combine(output.FullName, picture.Name), overwrite: true);
        _merging = shards;
        try
        {
            return replay([.. first.Arguments, "--out", output.FullName]);
        }
        finally
        {
            _merging = null;
        }
    }
}
