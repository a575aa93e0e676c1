using System.CommandLine;
using Spectre.Console;

namespace Crhn.Cli;

/// <summary><c>crhn download stl10 DIR</c>: fetches the paper's dataset (resumable, md5-checked) and extracts it.</summary>
internal static class DownloadCommand
{
    public static Command Create()
    {
        var folder = new Argument<DirectoryInfo>("DIR") { Description = "Where to put stl10_binary/ (the archive is 2.6 GB; an interrupted download resumes)." };
        var stl10 = new Command("stl10", $"Download {Crhn.Core.Data.Stl10.ArchiveUrl}, check its md5 and extract it; then use --data stl10:DIR.") { folder };
        stl10.SetAction(parse =>
        {
            var dir = parse.GetValue(folder)!;
            try
            {
                string extracted = "";
                AnsiConsole.Progress().Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new DownloadedColumn(), new TransferSpeedColumn(), new RemainingTimeColumn())
                    .Start(ctx =>
                    {
                        var task = ctx.AddTask("stl10_binary.tar.gz");
                        extracted = Crhn.Core.Data.Stl10.download(Microsoft.FSharp.Core.FuncConvert.FromFunc<long, long, Microsoft.FSharp.Core.Unit>((done, total) =>
                        {
                            if (total > 0) task.MaxValue = total;
                            task.Value = done;
                            return null!;
                        }), dir.FullName);
                    });
                AnsiConsole.MarkupLine($"Extracted to {Markup.Escape(extracted)}; use [bold]--data stl10:{Markup.Escape(dir.FullName)}[/].");
                return 0;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or UnauthorizedAccessException or Crhn.DataFormatException or TaskCanceledException)
            {
                AnsiConsole.MarkupLine($"[red]error:[/] {Markup.Escape(e.Message)}");
                return 2;
            }
        });
        return new Command("download", "Fetch datasets the experiments read.") { stl10 };
    }
}
