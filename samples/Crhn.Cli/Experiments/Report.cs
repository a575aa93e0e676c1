using System.Globalization;
using System.Text;
using System.Text.Json;
using Crhn.Core;
using Spectre.Console;

namespace Crhn.Cli.Experiments;

/// <summary>One measured cell: a model's MSE under one condition at one memory size, one value per seed.</summary>
internal sealed record Measurement(int Memory, string Condition, string Model, double[] Values)
{
    public double Mean => Statistics.mean(Values);

    public double Std => Statistics.std(Values);
}

/// <summary>Everything a run writes into its output folder: report.md (tables, settings, timings,
/// pictures), NAME.csv and NAME.json (every value per seed), command.txt (how to rerun it).</summary>
internal sealed class Report(DirectoryInfo folder, string experiment, string title)
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;
    private readonly List<Measurement> _rows = [];
    private readonly List<Measurement> _recall = [];
    private readonly List<string> _notes = [];
    private readonly List<(string Caption, string File)> _pictures = [];

    /// <summary>The model the p-values compare every other model with.</summary>
    public string Reference { get; init; } = "CRHN";

    /// <summary>Models shown as context only (no p-value), e.g. the damaged cue itself.</summary>
    public IReadOnlySet<string> Context { get; init; } = new HashSet<string> { "cue" };

    public DirectoryInfo Folder => folder;

    public IReadOnlyList<Measurement> Rows => _rows;

    public void Add(int memory, string condition, string model, IEnumerable<double> values) =>
        _rows.Add(new Measurement(memory, condition, model, [.. values]));

    /// <summary>Adds a recall cell: per seed, the share of cues whose returned image is nearer its own
    /// stored image than any other (for "cue": the damaged cue itself, a nearest-neighbour search).</summary>
    public void AddRecall(int memory, string condition, string model, IEnumerable<double> values) =>
        _recall.Add(new Measurement(memory, condition, model, [.. values]));

    /// <summary>The recall cells.</summary>
    public IReadOnlyList<Measurement> Recall => _recall;

    public void Note(string markdown) => _notes.Add(markdown);

    public void Picture(string caption, string file) => _pictures.Add((caption, file));

    private string[] Models => [.. _rows.Select(r => r.Model).Distinct()];

    private string[] Compared => [.. Models.Where(m => m != Reference && !Context.Contains(m))];

    private static string F(double v) => double.IsNaN(v) ? "–" : v.ToString("0.0000", Inv);

    private static string P(double p) => double.IsNaN(p) ? "–" : p < 1e-4 ? p.ToString("0.0e+0", Inv) : p.ToString("0.0000", Inv);

    private double PValue(int memory, string condition, string model, List<Measurement>? rows = null)
    {
        var a = (rows ?? _rows).FirstOrDefault(r => r.Memory == memory && r.Condition == condition && r.Model == Reference);
        var b = (rows ?? _rows).FirstOrDefault(r => r.Memory == memory && r.Condition == condition && r.Model == model);
        return a is null || b is null || a.Values.Length < 2 || b.Values.Length < 2 ? double.NaN : Statistics.welch(a.Values, b.Values).P;
    }

    private string Cell(int memory, string condition, string model, List<Measurement>? rows = null)
    {
        var r = (rows ?? _rows).FirstOrDefault(x => x.Memory == memory && x.Condition == condition && x.Model == model);
        if (r is null) return "";
        if (rows == _recall) return r.Values.Length > 1 ? $"{100 * r.Mean:0.0} ± {100 * r.Std:0.0} %" : $"{100 * r.Mean:0.0} %";
        return r.Values.Length > 1 ? $"{F(r.Mean)} ± {F(r.Std)}" : F(r.Mean);
    }

    /// <summary>The recall tables, one per memory size, in Markdown (empty without recall cells).</summary>
    private string RecallTables() => Tables(_recall, memory =>
        $"**Recall, memory size {memory}** (share of cues whose returned image is nearer its own stored image than any other stored image; the cue column is that nearest-neighbour search on the damaged cue itself; mean ± std over seeds; p: Welch's t-test)");

    /// <summary>The results as Markdown tables, one per memory size.</summary>
    public string MarkdownTables() => Tables(_rows, memory =>
        $"**Memory size {memory}** (MSE against the clean image on the [0, 1] scale; mean ± std over seeds; p: Welch's t-test, {Reference} against each baseline)");

    /// <summary>One Markdown table per memory size of the given cells, each under its caption.</summary>
    private string Tables(List<Measurement> rows, Func<int, string> caption)
    {
        var sb = new StringBuilder();
        var models = rows.Select(r => r.Model).Distinct().ToArray();
        var compared = models.Where(m => m != Reference && !Context.Contains(m)).ToArray();
        foreach (var memory in rows.Select(r => r.Memory).Distinct())
        {
            sb.AppendLine(caption(memory));
            sb.AppendLine();
            var header = new List<string> { "condition" };
            header.AddRange(models);
            header.AddRange(compared.Select(m => $"p ({Reference} vs {m})"));
            sb.AppendLine("| " + string.Join(" | ", header) + " |");
            sb.AppendLine("|" + string.Concat(header.Select((_, i) => i == 0 ? "---|" : "---:|")));
            foreach (var condition in rows.Where(r => r.Memory == memory).Select(r => r.Condition).Distinct())
                sb.AppendLine("| " + string.Join(" | ", new[] { condition }.Concat(models.Select(m => Cell(memory, condition, m, rows)))
                    .Concat(compared.Select(m => P(PValue(memory, condition, m, rows))))) + " |");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    /// <summary>The results on the console, one table per memory size.</summary>
    public void Print()
    {
        foreach (var memory in _rows.Select(r => r.Memory).Distinct())
        {
            var table = new Table().Border(TableBorder.Rounded).Title($"{Markup.Escape(title)} — memory {memory}");
            table.AddColumn("condition");
            foreach (var m in Models) table.AddColumn(new TableColumn(Markup.Escape(m)).RightAligned());
            foreach (var m in Compared) table.AddColumn(new TableColumn(Markup.Escape($"p vs {m}")).RightAligned());
            foreach (var condition in _rows.Where(r => r.Memory == memory).Select(r => r.Condition).Distinct())
            {
                var cells = new List<string> { Markup.Escape(condition) };
                cells.AddRange(Models.Select(m => Markup.Escape(Cell(memory, condition, m))));
                cells.AddRange(Compared.Select(m => P(PValue(memory, condition, m))));
                table.AddRow([.. cells]);
            }
            AnsiConsole.Write(table);
        }
        foreach (var memory in _recall.Select(r => r.Memory).Distinct())
        {
            var table = new Table().Border(TableBorder.Rounded).Title($"Recall (nearest stored image is its own) — memory {memory}");
            table.AddColumn("condition");
            var models = _recall.Select(r => r.Model).Distinct().ToArray();
            foreach (var m in models) table.AddColumn(new TableColumn(Markup.Escape(m)).RightAligned());
            foreach (var condition in _recall.Where(r => r.Memory == memory).Select(r => r.Condition).Distinct())
                table.AddRow([Markup.Escape(condition), .. models.Select(m => Markup.Escape(Cell(memory, condition, m, _recall)))]);
            AnsiConsole.Write(table);
        }
    }

    /// <summary>Writes report.md, the CSV, the JSON and command.txt.</summary>
    public void Write(RunInfo run)
    {
        folder.Create();
        var csv = new StringBuilder("memory,condition,model,mean,std,seeds,p_welch_vs_" + Reference.ToLowerInvariant() + ",values\n");
        foreach (var r in _rows)
        {
            double p = r.Model == Reference || Context.Contains(r.Model) ? double.NaN : PValue(r.Memory, r.Condition, r.Model);
            csv.AppendLine(string.Join(",", r.Memory.ToString(Inv), Quote(r.Condition), Quote(r.Model), r.Mean.ToString("R", Inv), r.Std.ToString("R", Inv),
                r.Values.Length.ToString(Inv), double.IsNaN(p) ? "" : p.ToString("R", Inv), Quote(string.Join(" ", r.Values.Select(v => v.ToString("R", Inv))))));
        }
        File.WriteAllText(Path.Combine(folder.FullName, experiment + ".csv"), csv.ToString());
        if (_recall.Count > 0)
        {
            var recallCsv = new StringBuilder("memory,condition,model,mean,std,seeds,values\n");
            foreach (var r in _recall)
                recallCsv.AppendLine(string.Join(",", r.Memory.ToString(Inv), Quote(r.Condition), Quote(r.Model), r.Mean.ToString("R", Inv), r.Std.ToString("R", Inv),
                    r.Values.Length.ToString(Inv), Quote(string.Join(" ", r.Values.Select(v => v.ToString("R", Inv))))));
            File.WriteAllText(Path.Combine(folder.FullName, experiment + "-recall.csv"), recallCsv.ToString());
        }
        var json = new
        {
            experiment,
            title,
            command = run.Command,
            engine = run.Engine,
            settings = run.Settings,
            started = run.Started.ToString("o", Inv),
            seconds = run.Seconds,
            timings = run.Timings,
            reference = Reference,
            rows = _rows.Select(r => new
            {
                r.Memory, r.Condition, r.Model, r.Values, mean = r.Mean, std = r.Std,
                p_welch_vs_reference = r.Model == Reference || Context.Contains(r.Model) ? (double?)null : NullIfNaN(PValue(r.Memory, r.Condition, r.Model)),
            }),
            recall = _recall.Select(r => new { r.Memory, r.Condition, r.Model, r.Values, mean = r.Mean, std = r.Std }),
        };
        File.WriteAllText(Path.Combine(folder.FullName, experiment + ".json"),
            JsonSerializer.Serialize(json, new JsonSerializerOptions { WriteIndented = true, NumberHandling = System.Text.Json.Serialization.JsonNumberHandling.AllowNamedFloatingPointLiterals }));
        File.WriteAllText(Path.Combine(folder.FullName, "command.txt"), run.Command + "\n");

        var md = new StringBuilder();
        md.AppendLine(CultureInfo.InvariantCulture, $"# {title}");
        md.AppendLine();
        md.AppendLine("```");
        md.AppendLine(run.Command);
        md.AppendLine("```");
        md.AppendLine();
        md.AppendLine(CultureInfo.InvariantCulture, $"- Engine: {run.Engine}");
        md.AppendLine(CultureInfo.InvariantCulture, $"- {run.TimeLine}");
        foreach (var (key, value) in run.Settings) md.AppendLine(CultureInfo.InvariantCulture, $"- {key}: {value}");
        md.AppendLine();
        if (_rows.Count > 0) md.Append(MarkdownTables());
        if (_recall.Count > 0) md.Append(RecallTables());
        foreach (var note in _notes)
        {
            md.AppendLine(note);
            md.AppendLine();
        }
        foreach (var (caption, file) in _pictures)
        {
            md.AppendLine(CultureInfo.InvariantCulture, $"![{caption}]({file})");
            md.AppendLine();
        }
        if (run.Timings.Count > 0)
        {
            md.AppendLine("| stage | seconds |");
            md.AppendLine("|---|---:|");
            foreach (var (stage, seconds) in run.Timings) md.AppendLine(CultureInfo.InvariantCulture, $"| {stage} | {seconds:F1} |");
        }
        File.WriteAllText(Path.Combine(folder.FullName, "report.md"), md.ToString());
    }

    private static double? NullIfNaN(double v) => double.IsNaN(v) ? null : v;

    private static string Quote(string s) => s.Contains(',') || s.Contains('"') ? "\"" + s.Replace("\"", "\"\"") + "\"" : s;
}

/// <summary>What a run records about itself: the command, the engine, its settings and its timings.</summary>
internal sealed class RunInfo(string command, IReadOnlyDictionary<string, string> settings)
{
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public string Command => command;

    public string Engine => Sharding.Engine();

    public IReadOnlyDictionary<string, string> Settings => settings;

    public DateTime Started { get; } = DateTime.UtcNow;

    /// <summary>Seconds the run took: since it started, or for merged shards the sum of theirs.</summary>
    public double Seconds => _shards.Count > 0 ? _shards.Sum(s => s.Seconds) : _clock.Elapsed.TotalSeconds;

    /// <summary>Total seconds per stage (summed over trials, and over shards when merged).</summary>
    public Dictionary<string, double> Timings { get; } = [];

    private readonly List<(int Shard, double Seconds)> _shards = [];

    /// <summary>The merged shards' wall times, by shard index (empty for a run of its own).</summary>
    public IReadOnlyList<(int Shard, double Seconds)> Shards => [.. _shards.OrderBy(s => s.Shard)];

    /// <summary>Counts a merged shard's wall time and stage timings into this run's.</summary>
    public void AddShard(int shard, double seconds, IReadOnlyDictionary<string, double> timings)
    {
        _shards.Add((shard, seconds));
        foreach (var (stage, t) in timings) Timings[stage] = Timings.GetValueOrDefault(stage) + t;
    }

    /// <summary>One line on where the time went: the run's own, or each merged shard's.</summary>
    public string TimeLine => _shards.Count > 0
        ? string.Create(CultureInfo.InvariantCulture, $"Merged from {_shards.Count} shards that took {string.Join(", ", Shards.Select(s => $"{s.Seconds:F0} s (shard {s.Shard})"))}: {Seconds:F0} s of work in all, each on the engine above.")
        : string.Create(CultureInfo.InvariantCulture, $"Started {Started:yyyy-MM-dd HH:mm} UTC, took {Seconds:F0} s on {Environment.ProcessorCount} cores.");

    /// <summary>Runs a stage and adds its time to the stage's total.</summary>
    public T Time<T>(string stage, Func<T> work)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        var result = work();
        Timings[stage] = Timings.GetValueOrDefault(stage) + clock.Elapsed.TotalSeconds;
        return result;
    }
}
