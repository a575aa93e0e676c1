// crhn: the command line of Crhn. `crhn verify` checks the papers' propositions as properties.
using System.CommandLine;
using Crhn.Cli;

var root = new RootCommand("crhn: robust auto-associative memory — verify the papers' propositions, reproduce the experiments.")
{
    VerifyCommand.Create(),
    ExperimentCommand.Create(),
    DownloadCommand.Create(),
};
var backend = new Option<string?>("--backend")
{
    Description = "The backend every model runs on: cpu (the default), torch (LibTorch on the CPU), torch:cuda or torch:cuda:N; CRHN_BACKEND takes the same names.",
    Recursive = true,
};
root.Options.Add(backend);
var parsed = root.Parse(args);
// One error contract for every subcommand: a bad command line is one line on stderr and exit 2
// (help only when asked for).
if (parsed.Errors.Count > 0)
{
    Console.Error.WriteLine($"error: {string.Join("; ", parsed.Errors.Select(e => e.Message.TrimEnd('.')))}.");
    return 2;
}
IDisposable? chosen = null;
if (parsed.GetValue(backend) is { } name)
{
    try
    {
        chosen = Crhn.Engine.UseBackend(name);
    }
    catch (Exception e) when (e is ArgumentException or Crhn.ProviderUnavailableException)
    {
        Console.Error.WriteLine($"error: {e.Message.Split(" (Parameter '")[0].Trim()}");
        return 2;
    }
}
using (chosen)
{
    // Anything that is not a user error (those are exit 2, handled by each command) is a failed
    // run: one line and exit 1, not a stack trace.
    try
    {
        return parsed.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
    }
    catch (Exception e) when (e is not OperationCanceledException)
    {
        Console.Error.WriteLine($"error: the run failed: {e.GetType().Name}: {e.Message.Split('\n')[0].Trim()}");
        return 1;
    }
}
