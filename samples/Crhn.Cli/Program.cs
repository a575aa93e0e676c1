// crhn: the command line of Crhn. `crhn verify` checks the papers' propositions as properties.
using System.CommandLine;
using Crhn.Cli;

var root = new RootCommand("crhn: robust auto-associative memory — verify the papers' propositions, reproduce the experiments.")
{
    VerifyCommand.Create(),
    ExperimentCommand.Create(),
    DownloadCommand.Create(),
};
return root.Parse(args).Invoke();
