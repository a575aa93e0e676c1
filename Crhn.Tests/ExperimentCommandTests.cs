using System.Diagnostics;
using System.Text.Json;
using Xunit;

namespace Crhn.Tests;

/// <summary>The built <c>crhn</c> command line, run as a user runs it: tiny experiments end to end,
/// and every kind of bad input answered with one clear line and exit code 2, never a stack trace.</summary>
public class ExperimentCommandTests
{
    private static string Cli()
    {
        // This test assembly sits in Crhn.Tests/bin/CONFIG/net10.0; the CLI in samples/Crhn.Cli/bin/CONFIG/net10.0.
        var here = new DirectoryInfo(AppContext.BaseDirectory);
        var tfm = here.Name;
        var config = here.Parent!.Name;
        var root = here;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "crhn.sln"))) root = root.Parent;
        var path = Path.Combine(root?.FullName ?? throw new InvalidOperationException("crhn.sln not found"), "samples", "Crhn.Cli", "bin", config, tfm, "Crhn.Cli.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("The CLI is not built.", path);
    }

    private static (int Code, string Output) Run(params string[] args) => RunWith(null, args);

    /// <summary>Runs the CLI with CRHN_BACKEND set to `backend` (null: unset), both streams together.</summary>
    private static (int Code, string Output) RunWith(string? backend, params string[] args)
    {
        var (code, stdout, stderr) = RunSplit(backend, args);
        return (code, stdout + stderr);
    }

    /// <summary>Runs the CLI as a user does, with CRHN_BACKEND set to `backend` (null: unset), and
    /// keeps its two streams apart.</summary>
    private static (int Code, string Out, string Err) RunSplit(string? backend, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true };
        start.ArgumentList.Add(Cli());
        foreach (var a in args) start.ArgumentList.Add(a);
        start.Environment["COLUMNS"] = "200";
        start.Environment.Remove("CRHN_BACKEND");
        if (backend is not null) start.Environment["CRHN_BACKEND"] = backend;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result, stderr.Result);
    }

    private static readonly string[] Tiny = ["--size", "16", "--codec-epochs", "2", "--sra-rounds", "2", "--pcn-epochs", "1", "--surrogate-epochs", "1"];

    private static void AssertUserError((int Code, string Output) r, params string[] expected)
    {
        Assert.Equal(2, r.Code);
        Assert.Contains("error:", r.Output);
        foreach (var e in expected) Assert.Contains(e, r.Output);
        Assert.DoesNotContain("   at ", r.Output);
        Assert.DoesNotContain("Exception", r.Output);
    }

    [Fact]
    public void Table2_runs_on_the_torch_backend_chosen_by_option_or_environment()
    {
        var dir = Directory.CreateTempSubdirectory("crhn-table2-torch-");
        try
        {
            var byOption = Run(["experiment", "table2", "--memory", "3", "--seeds", "1", "--backend", "torch", "--out", Path.Combine(dir.FullName, "option"), .. Tiny]);
            Assert.True(byOption.Code == 0, byOption.Output);
            Assert.Contains("Engine: torch: LibTorch 2.10", File.ReadAllText(Path.Combine(dir.FullName, "option", "report.md")));
            var byEnvironment = RunWith("torch", ["experiment", "table2", "--memory", "3", "--seeds", "1", "--out", Path.Combine(dir.FullName, "environment"), .. Tiny]);
            Assert.True(byEnvironment.Code == 0, byEnvironment.Output);
            Assert.Contains("Engine: torch: LibTorch 2.10", File.ReadAllText(Path.Combine(dir.FullName, "environment", "report.md")));
        }
        finally { dir.Delete(true); }
    }

    public static TheoryData<string, string> BadCommandLines() => new()
    {
        { "--bogus", "Unrecognized command or argument '--bogus'" },
        { "experiment", "Required command was not provided" },
        { "verify --runs abc", "Cannot parse argument 'abc'" },
        { "verify --runs 99999999999", "Cannot parse argument '99999999999'" },
        { "verify --runs -1", "--runs must be positive" },
        { "verify --only Z9", "no proposition id starts with" },
        { "verify --model /nonexistent/model.crhn", "no model file at" },
        { "verify --model /etc/hostname", "not a Crhn model file" },
        { "experiment fig4 --columns -5", "--columns -5: each count must be from 1 to 95" },
        { "experiment table2 --columns 1000", "--columns 1000: each count must be from 1 to 95" },
        { "experiment table2 --sigma abc", "--sigma: abc is not a number" },
        { "experiment table2 --data nowhere:x", "nowhere" },
        { "experiment poster --steps 0", "each K must be in 1" },
        { "experiment table2 --backend gpu", "'gpu' is not a backend" },
        { "experiment fig4 --memory 100000 --size 8", "each memory size must be at most 10,000" },
        { "experiment table2 --shard 0/2", "--shard needs --out" },
        { "experiment merge /nonexistent/shard", "shard.json does not exist" },
    };

    [Theory]
    [MemberData(nameof(BadCommandLines))]
    public void A_bad_command_line_is_one_line_on_stderr_and_exit_code_2(string commandLine, string expected)
    {
        var (code, stdout, stderr) = RunSplit(null, commandLine.Split(' '));
        Assert.Equal(2, code);
        Assert.Equal("", stdout);
        var lines = stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.True(lines.Length == 1, $"expected one line on stderr, found {lines.Length}:\n{stderr}");
        Assert.StartsWith("error: ", lines[0]);
        Assert.Contains(expected, lines[0]);
        Assert.DoesNotContain("Exception", lines[0]);
    }

    [Fact]
    public void A_model_that_fails_its_check_exits_1_with_its_table_and_a_good_one_exits_0()
    {
        var dir = Directory.CreateTempSubdirectory("crhn-verify-model-");
        try
        {
            // 40 images in an RHN of two hidden units cannot all be fixed points: the check fails.
            var images = ImageBatch.Procedural(3, 40, 1, 8, 8);
            var weak = CrhnModel.Create(new CrhnConfig(Channels: 1, Height: 8, Width: 8, ConvLayers: [4], DenseLayers: [32], RhnHidden: [2]), 1);
            weak.Fit(images, new CrhnTrainingOptions(CodecEpochs: 2, SraRounds: 2, SraMinRounds: 0, Robust: false));
            var weakPath = Path.Combine(dir.FullName, "weak.crhn");
            weak.Save(weakPath);
            var failed = RunSplit(null, ["verify", "--model", weakPath]);
            Assert.Equal(1, failed.Code);
            Assert.Contains("fails", failed.Out);
            Assert.Equal("", failed.Err);

            var good = CrhnModel.Create(new CrhnConfig(Channels: 1, Height: 8, Width: 8, ConvLayers: [4], DenseLayers: [64], RhnHidden: [32]), 1);
            good.Fit(images.Take([0, 1, 2]), new CrhnTrainingOptions(CodecEpochs: 40));
            var goodPath = Path.Combine(dir.FullName, "good.crhn");
            good.Save(goodPath);
            var passed = RunSplit(null, ["verify", "--model", goodPath]);
            Assert.True(passed.Code == 0, passed.Out + passed.Err);
            Assert.DoesNotContain("fails", passed.Out);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Help_is_printed_when_asked_for_and_exits_0()
    {
        var (code, stdout, stderr) = RunSplit(null, "experiment", "--help");
        Assert.Equal(0, code);
        Assert.Contains("Usage:", stdout);
        Assert.Equal("", stderr);
    }

    [Fact]
    public void A_backend_that_cannot_be_had_is_one_line_and_exit_code_2()
    {
        AssertUserError(Run(["experiment", "table2", "--backend", "gpu", .. Tiny]), "'gpu' is not a backend");
        AssertUserError(Run(["experiment", "table2", "--backend", "torch:tpu", .. Tiny]), "expected cpu, cuda or cuda:N");
        if (!File.Exists("/dev/nvidia0"))
            AssertUserError(Run(["experiment", "table2", "--backend", "torch:cuda", .. Tiny]), "LibTorch sees no CUDA device");
    }

    [Fact]
    public void Table1_runs_end_to_end_and_writes_its_report_figures_and_command()
    {
        var dir = Directory.CreateTempSubdirectory("crhn-table1-");
        try
        {
            var r = Run(["experiment", "table1", "--memory", "4", "--seeds", "2", "--out", dir.FullName, .. Tiny]);
            Assert.True(r.Code == 0, r.Output);
            foreach (var f in new[] { "report.md", "table1.csv", "table1.json", "command.txt" })
                Assert.True(File.Exists(Path.Combine(dir.FullName, f)), $"{f} is missing");
            var json = JsonDocument.Parse(File.ReadAllText(Path.Combine(dir.FullName, "table1.json"))).RootElement;
            var rows = json.GetProperty("rows").EnumerateArray().ToArray();
            // 9 conditions (clean and eight attacks) × 4 columns (the cue, MHN, PCN, CRHN).
            Assert.Equal(36, rows.Length);
            Assert.All(rows, row => Assert.Equal(2, row.GetProperty("Values").GetArrayLength()));
            Assert.Contains(rows, row => row.GetProperty("Condition").GetString() == "DIFGSM" && row.GetProperty("Model").GetString() == "PCN"
                && row.GetProperty("p_welch_vs_reference").ValueKind == JsonValueKind.Number);
            Assert.Contains("experiment table1", File.ReadAllText(Path.Combine(dir.FullName, "command.txt")));
            var report = File.ReadAllText(Path.Combine(dir.FullName, "report.md"));
            Assert.Contains("| EOTPGD |", report);
            Assert.Contains("Engine:", report);
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void The_figures_and_the_ablation_write_their_pictures_and_tables()
    {
        var dir = Directory.CreateTempSubdirectory("crhn-figs-");
        try
        {
            var fig4 = Run(["experiment", "fig4", "--memory", "3", "--out", Path.Combine(dir.FullName, "fig4"), .. Tiny]);
            Assert.True(fig4.Code == 0, fig4.Output);
            var pngs = Directory.GetFiles(Path.Combine(dir.FullName, "fig4"), "*.png");
            Assert.Equal(6, pngs.Length);
            Assert.All(pngs, p => Assert.Equal(0x89, File.ReadAllBytes(p)[0]));

            var fig5 = Run(["experiment", "fig5", "--memory", "3", "--out", Path.Combine(dir.FullName, "fig5"), .. Tiny]);
            Assert.True(fig5.Code == 0, fig5.Output);
            Assert.Equal(6, Directory.GetFiles(Path.Combine(dir.FullName, "fig5"), "*.png").Length);

            var fig6 = Run(["experiment", "fig6", "--memory", "3", "--eps", "0,8", "--out", Path.Combine(dir.FullName, "fig6"), .. Tiny]);
            Assert.True(fig6.Code == 0, fig6.Output);
            var svgs = Directory.GetFiles(Path.Combine(dir.FullName, "fig6"), "*.svg");
            Assert.Equal(8, svgs.Length);
            Assert.All(svgs, s => Assert.StartsWith("<svg", File.ReadAllText(s)));

            var table2 = Run(["experiment", "table2", "--memory", "3,4", "--seeds", "2", "--out", Path.Combine(dir.FullName, "table2"), .. Tiny]);
            Assert.True(table2.Code == 0, table2.Output);
            var csv = File.ReadAllLines(Path.Combine(dir.FullName, "table2", "table2.csv"));
            // Header + 2 memory sizes × 4 conditions × 3 columns (the cue, codec only, CRHN).
            Assert.Equal(1 + 2 * 4 * 3, csv.Length);
            Assert.Contains(csv, l => l.Contains(",codec only,"));
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void An_unknown_data_spec_is_named_with_the_valid_ones() =>
        AssertUserError(Run(["experiment", "table1", "--data", "imagenet:/x", "--memory", "2", "--seeds", "1"]), "imagenet", "stl10:DIR", "procedural");

    [Fact]
    public void A_missing_folder_is_named() =>
        AssertUserError(Run(["experiment", "table1", "--data", "stl10:/no/such/folder", "--memory", "2", "--seeds", "1", .. Tiny]), "/no/such/folder");

    [Fact]
    public void A_missing_file_is_named() =>
        AssertUserError(Run(["experiment", "fig4", "--data", "mnist:/no/such/file.gz", "--memory", "2", .. Tiny]), "/no/such/file.gz");

    [Fact]
    public void A_dataset_too_small_for_the_memory_says_how_many_it_holds_and_needs()
    {
        var dir = Directory.CreateTempSubdirectory("crhn-small-");
        try
        {
            for (int i = 0; i < 3; i++)
                ImageBatch.SaveGrid(Path.Combine(dir.FullName, $"{i}.png"), ImageBatch.Procedural(i, 1, 3, 8, 8));
            AssertUserError(Run(["experiment", "table1", "--data", $"folder:{dir.FullName}", "--memory", "4", "--seeds", "2", .. Tiny]),
                "holds 3 images", "4 images × 2 seeds = 8");
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void A_corrupt_image_file_is_named()
    {
        var dir = Directory.CreateTempSubdirectory("crhn-corrupt-");
        try
        {
            File.WriteAllBytes(Path.Combine(dir.FullName, "0-broken.png"), [0x89, 0x50, 0x4E, 0x47, 1, 2, 3]);
            ImageBatch.SaveGrid(Path.Combine(dir.FullName, "1.png"), ImageBatch.Procedural(1, 1, 3, 8, 8));
            AssertUserError(Run(["experiment", "fig5", "--data", $"folder:{dir.FullName}", "--memory", "2", .. Tiny]), "0-broken.png");
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void Image_sizes_and_counts_out_of_range_are_refused()
    {
        AssertUserError(Run(["experiment", "table1", "--size", "4", "--memory", "2", "--seeds", "1"]), "--size 4");
        AssertUserError(Run(["experiment", "table1", "--channels", "2", "--memory", "2", "--seeds", "1"]), "--channels 2");
        AssertUserError(Run(["experiment", "table2", "--memory", "1"]), "--memory 1");
        AssertUserError(Run(["experiment", "fig6", "--eps", "x"]), "--eps", "x");
    }

    [Fact]
    public void The_poster_runs_end_to_end_on_npm_digits_and_writes_its_tables_and_energy_plots()
    {
        var dir = Directory.CreateTempSubdirectory("crhn-poster-");
        try
        {
            var digits = Directory.CreateDirectory(Path.Combine(dir.FullName, "digits"));
            IterativeClassifierTests.WriteDigits(digits.FullName, 3);
            var outDir = Path.Combine(dir.FullName, "out");
            var r = Run(["experiment", "poster", "--data", $"mnist:{digits.FullName}", "--train", "20", "--test", "10", "--steps", "1,2",
                "--activations", "tanh,relu", "--regularisers", "base,jacq,jacf,lip", "--seeds", "2", "--epochs", "1", "--hidden", "8", "--out", outDir]);
            Assert.True(r.Code == 0, r.Output);
            foreach (var f in new[] { "report.md", "poster.csv", "welch.csv", "poster.json", "command.txt", "energy-tanh.svg", "energy-relu.svg" })
                Assert.True(File.Exists(Path.Combine(outDir, f)), $"{f} is missing");
            var cells = JsonDocument.Parse(File.ReadAllText(Path.Combine(outDir, "poster.json"))).RootElement.GetProperty("cells").EnumerateArray().ToArray();
            // 2 activations × 4 regularisers × 2 values of K, each with 2 seeds.
            Assert.Equal(16, cells.Length);
            Assert.All(cells, c => Assert.Equal(2, c.GetProperty("clean").GetArrayLength()));
            var report = File.ReadAllText(Path.Combine(outDir, "report.md"));
            Assert.Contains("| activation | regulariser | K | clean | noise σ=0.3 |", report);
            Assert.Contains("| tanh | JacQ |", report);
            Assert.Contains("p JacQ vs Base", report);
            Assert.Contains("<polyline", File.ReadAllText(Path.Combine(outDir, "energy-relu.svg")));
            Assert.Contains("<polyline", File.ReadAllText(Path.Combine(outDir, "robustness-fgsm-relu-k1.svg")));
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void A_grid_run_as_four_shards_and_merged_gives_the_report_of_one_run()
    {
        var dir = Directory.CreateTempSubdirectory("crhn-shards-");
        try
        {
            var digits = Directory.CreateDirectory(Path.Combine(dir.FullName, "digits"));
            IterativeClassifierTests.WriteDigits(digits.FullName, 3);
            string[] poster = ["experiment", "poster", "--data", $"mnist:{digits.FullName}", "--train", "20", "--test", "10", "--steps", "1,2",
                "--activations", "relu", "--regularisers", "base,jacq,lip", "--seeds", "2", "--epochs", "1", "--hidden", "8", "--state", "8"];
            string[] table2 = ["experiment", "table2", "--memory", "3", "--seeds", "2", "--sigma", "0.1", "--columns", "25", .. Tiny];
            foreach (var (args, files) in new[] { (poster, new[] { "poster.csv", "welch.csv" }), (table2, new[] { "table2.csv", "table2-recall.csv" }) })
            {
                string name = args[1];
                var one = Run([.. args, "--out", Path.Combine(dir.FullName, name + "-one")]);
                Assert.True(one.Code == 0, one.Output);
                var shards = Enumerable.Range(0, 4).Select(i => Path.Combine(dir.FullName, $"{name}-shard{i}")).ToArray();
                for (int i = 0; i < 4; i++)
                {
                    var shard = Run([.. args, "--shard", $"{i}/4", "--out", shards[i]]);
                    Assert.True(shard.Code == 0, shard.Output);
                    Assert.True(File.Exists(Path.Combine(shards[i], "shard.json")));
                    Assert.False(File.Exists(Path.Combine(shards[i], "report.md")));
                }
                var merged = Run(["experiment", "merge", .. shards.Reverse(), "--out", Path.Combine(dir.FullName, name + "-merged")]);
                Assert.True(merged.Code == 0, merged.Output);
                foreach (var f in files)
                    Assert.Equal(File.ReadAllText(Path.Combine(dir.FullName, name + "-one", f)), File.ReadAllText(Path.Combine(dir.FullName, name + "-merged", f)));
                Assert.Contains("Merged from 4 shards", File.ReadAllText(Path.Combine(dir.FullName, name + "-merged", "report.md")));
                // A missing shard, or one of another grid, is one clear line.
                AssertUserError(Run(["experiment", "merge", .. shards.Skip(1), "--out", Path.Combine(dir.FullName, "partial")]), "lack");
            }
            AssertUserError(Run(["experiment", "merge", Path.Combine(dir.FullName, "poster-shard0"), Path.Combine(dir.FullName, "table2-shard1")]), "not of");
            AssertUserError(Run(["experiment", "table2", "--shard", "4/4", "--out", Path.Combine(dir.FullName, "x")]), "--shard 4/4");
        }
        finally { dir.Delete(true); }
    }

    [Fact]
    public void The_poster_refuses_bad_input_with_one_line()
    {
        var dir = Directory.CreateTempSubdirectory("crhn-poster-bad-");
        try
        {
            IterativeClassifierTests.WriteDigits(dir.FullName, 2);
            AssertUserError(Run(["experiment", "poster", "--data", $"mnist:{dir.FullName}", "--regularisers", "base,jacz"]), "--regularisers", "jacz", "jacq");
            AssertUserError(Run(["experiment", "poster", "--data", $"mnist:{dir.FullName}", "--activations", "gelu"]), "--activations", "gelu");
            AssertUserError(Run(["experiment", "poster", "--data", $"mnist:{dir.FullName}", "--train", "15", "--test", "10"]), "Lower --train + --test");
            AssertUserError(Run(["experiment", "poster", "--data", "procedural"]), "labels are available");
            AssertUserError(Run(["experiment", "poster", "--data", $"mnist:{dir.FullName}", "--steps", "0"]), "--steps 0");
        }
        finally { dir.Delete(true); }
    }
}
