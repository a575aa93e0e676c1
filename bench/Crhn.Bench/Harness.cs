using System.Diagnostics;
using System.Text.Json.Nodes;

namespace Crhn.Bench;

/// <summary>
/// The timing rules of ../shared/bench/WORKLOADS.md §0: `warmup` untimed calls, then timed calls
/// until at least `minReps` calls and `target` seconds (at most 200); the figure is the median.
/// </summary>
public static class Harness
{
    /// <summary>Only keys starting with one of these prefixes, separated by '|' are measured (null: all).</summary>
    public static string? Only { get; set; }

    /// <summary>Runs each timed call in a memory scope of the current backend, as a user of a backend
    /// whose tensors hold native memory (torch) must; the check then reads one more, unscoped call.</summary>
    public static bool Scoped { get; set; }

    /// <summary>Whether Only lets this key be measured.</summary>
    public static bool Selected(string key) => Only is null || Only.Split('|').Any(p => key.StartsWith(p, StringComparison.Ordinal));

    /// <summary>Times one workload, or returns null without running it when Only excludes its key.</summary>
    public static JsonObject? Measure(string key, int warmup, int minReps, double target, Action call,
        Func<double, JsonObject>? derived = null, Func<JsonObject>? check = null, int? exactReps = null)
    {
        if (!Selected(key)) return null;
        void Run()
        {
            using var scope = Scoped ? Crhn.Core.Memory.Scope() : null;
            call();
        }
        for (int i = 0; i < warmup; i++) Run();
        var times = new List<double>();
        long faults = Faults.Minor();
        var total = Stopwatch.StartNew();
        while (times.Count < 200 && (exactReps is int e ? times.Count < e : times.Count < minReps || total.Elapsed.TotalSeconds < target))
        {
            long start = Stopwatch.GetTimestamp();
            Run();
            times.Add(Stopwatch.GetElapsedTime(start).TotalSeconds);
        }
        faults = Faults.Minor() - faults;
        if (Scoped && check is not null) call();
        var sorted = times.Order().ToArray();
        double median = sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : 0.5 * (sorted[sorted.Length / 2 - 1] + sorted[sorted.Length / 2]);
        var result = new JsonObject
        {
            ["key"] = key,
            ["median_s"] = median,
            ["min_s"] = sorted[0],
            ["max_s"] = sorted[^1],
            ["mean_s"] = times.Average(),
            ["repeats"] = times.Count,
            ["warmup"] = warmup,
            ["times_s"] = new JsonArray([.. times.Select(t => (JsonNode)t)]),
            ["derived"] = derived?.Invoke(median) ?? new JsonObject(),
            ["minor_faults_per_call"] = faults < 0 ? null : (double)faults / times.Count,
            ["check"] = check?.Invoke() ?? new JsonObject(),
        };
        Console.Error.WriteLine($"  {key,-80} {median * 1e3,10:F3} ms  {result["derived"]!.ToJsonString()}");
        return result;
    }
}
