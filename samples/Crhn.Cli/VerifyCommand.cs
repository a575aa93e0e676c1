using System.CommandLine;
using System.Text.Json;
using Crhn.Properties;
using Spectre.Console;

namespace Crhn.Cli;

/// <summary><c>crhn verify</c>: runs every proposition and prints a table of verdicts.</summary>
internal static class VerifyCommand
{
    public static Command Create()
    {
        var runs = new Option<int>("--runs") { Description = "Cases per proposition (100; 10000 for a deep check).", DefaultValueFactory = _ => 100 };
        var seed = new Option<string?>("--seed") { Description = "Replay a run: \"N\" or \"N,G\" as printed with a counterexample." };
        var json = new Option<bool>("--json") { Description = "Print the verdicts as JSON (for machines) instead of a table." };
        var only = new Option<string?>("--only") { Description = "Only propositions whose id starts with this (e.g. P1, Poster)." };
        var model = new Option<FileInfo?>("--model") { Description = "Check a saved model instead: semi-orthogonality, non-expansiveness, fixed points, retrieval of its stored patterns, energy descent and recall of lightly damaged codes." };
        var command = new Command("verify", "Check the propositions of the CRHN paper (P1–P3, O4) and of the finite-step Hopfield poster, each with a companion that must fail.")
        {
            runs, seed, json, only, model,
        };
        command.SetAction(parse => parse.GetValue(model) is { } file
            ? CheckModel(file, parse.GetValue(runs), parse.GetValue(json))
            : Run(parse.GetValue(runs), parse.GetValue(seed), parse.GetValue(json), parse.GetValue(only)));
        return command;
    }

    private static int CheckModel(FileInfo file, int trials, bool json)
    {
        if (trials <= 0)
        {
            Console.Error.WriteLine($"error: --runs must be positive, found {trials}.");
            return 2;
        }
        if (!file.Exists)
        {
            Console.Error.WriteLine($"error: no model file at {file.FullName}.");
            return 2;
        }
        CrhnModel model;
        try { model = CrhnModel.Load(file.FullName); }
        catch (Exception e) when (e is Crhn.ModelFormatException or IOException or UnauthorizedAccessException)
        {
            Console.Error.WriteLine($"error: {file.Name}: {e.Message}");
            return 2;
        }
        if (model.StoredCount == 0)
        {
            Console.Error.WriteLine($"error: {file.Name} holds no stored patterns (it was saved before Fit): there is nothing to check.");
            return 2;
        }
        var check = model.Check(trials: trials);
        if (json)
        {
            Console.WriteLine(JsonSerializer.Serialize(new
            {
                model = file.FullName, stored = model.StoredCount, passes = check.Passes,
                checks = check.Rows.Select(r => new { check = r.Check, measured = r.Measured, bound = r.Bound, holds = r.Holds }),
            }, new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        }
        else
        {
            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
            var table = new Table().Border(TableBorder.Rounded).AddColumns("check", "measured", "bound", "verdict");
            foreach (var row in check.Rows)
                table.AddRow(Markup.Escape(row.Check), Markup.Escape(row.Measured), Markup.Escape(row.Bound), row.Holds ? "[green]holds[/]" : "[red]fails[/]");
            AnsiConsole.MarkupLine($"[bold]crhn verify --model[/] {Markup.Escape(file.Name)}: {model.StoredCount} stored patterns, RHN {Markup.Escape(string.Join(" → ", new[] { model.Config.CodeLength }.Concat(model.Config.RhnWidths)))}");
            AnsiConsole.Write(table);
        }
        return check.Passes ? 0 : 1;
    }

    private static int Run(int runs, string? seed, bool json, string? only)
    {
        if (runs <= 0)
        {
            Console.Error.WriteLine($"error: --runs must be positive, found {runs}.");
            return 2;
        }
        if (seed is not null)
        {
            try { Verify.parseSeed(seed); }
            catch (FormatException e)
            {
                Console.Error.WriteLine($"error: --seed: {e.Message}.");
                return 2;
            }
        }
        var selected = Propositions.all.Where(p => only is null || p.Id.StartsWith(only, StringComparison.OrdinalIgnoreCase)).ToList();
        if (selected.Count == 0)
        {
            Console.Error.WriteLine($"error: no proposition id starts with \"{only}\". Ids: {string.Join(", ", Propositions.all.Select(p => p.Id))}.");
            return 2;
        }
        var seedOption = seed is null ? null : Microsoft.FSharp.Core.FSharpOption<string>.Some(seed);
        var verdicts = new List<Verdict>();
        if (json)
        {
            foreach (var p in selected) verdicts.Add(Verify.run(runs, seedOption, p));
            Console.WriteLine(JsonSerializer.Serialize(verdicts.Select(v => new
            {
                id = v.Id, statement = v.Statement, tolerance = v.Tolerance, cases = v.Cases, verdict = v.Verdict,
                asExpected = v.AsExpected, counterexample = v.Counterexample?.Value, detail = v.Detail?.Value, replay = v.Replay?.Value,
            }), new JsonSerializerOptions { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping }));
        }
        else
        {
            // Redirected output (logs, files) has no terminal width: keep the table readable.
            if (Console.IsOutputRedirected) AnsiConsole.Profile.Width = 160;
            AnsiConsole.MarkupLine($"[bold]crhn verify[/]: {selected.Count} propositions, {runs} cases each{(seed is null ? "" : $", replaying {Markup.Escape(seed)}")}; engine: {Markup.Escape(Crhn.Engine.Describe())}");
            if (Console.IsOutputRedirected)
                verdicts.AddRange(selected.Select(p => Verify.run(runs, seedOption, p)));
            else
                AnsiConsole.Progress().AutoClear(true).Start(ctx =>
                {
                    var task = ctx.AddTask("checking", maxValue: selected.Count);
                    foreach (var p in selected)
                    {
                        task.Description = Markup.Escape(p.Id);
                        verdicts.Add(Verify.run(runs, seedOption, p));
                        task.Increment(1);
                    }
                });
            var table = new Table().Border(TableBorder.Rounded).AddColumns("proposition", "statement checked", "cases", "verdict");
            foreach (var v in verdicts)
            {
                var colour = !v.AsExpected ? "red" : v.Verdict == "counterexample" ? "yellow" : "green";
                var verdict = $"[{colour}]{Markup.Escape(v.Verdict)}[/]" + (v.AsExpected ? "" : " [red](unexpected)[/]");
                table.AddRow(Markup.Escape(v.Id), Markup.Escape(v.Statement), v.Cases.ToString(), verdict);
            }
            AnsiConsole.Write(table);
            foreach (var v in verdicts.Where(v => v.Counterexample is not null))
                AnsiConsole.MarkupLine($"[yellow]{Markup.Escape(v.Id)}[/] shrunk counterexample: {Markup.Escape(v.Counterexample!.Value)}"
                    + (v.Detail is null ? "" : $" — {Markup.Escape(v.Detail.Value)}") + $" (replay: --only {Markup.Escape(v.Id)} --seed {v.Replay?.Value})");
            var unexpected = verdicts.Count(v => !v.AsExpected);
            AnsiConsole.MarkupLine(unexpected == 0
                ? "[green]Every proposition came out as stated[/]: the claims that hold held, and every companion (and every claim that is false) produced its counterexample."
                : $"[red]{unexpected} proposition(s) did not come out as stated.[/]");
        }
        return verdicts.All(v => v.AsExpected) ? 0 : 1;
    }
}
