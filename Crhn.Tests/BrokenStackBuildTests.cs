using System.Diagnostics;
using Xunit;

namespace Crhn.Tests;

/// <summary>A real build of the quickstart sample with a deliberately broken stack fails with the generator's diagnostic.</summary>
public class BrokenStackBuildTests
{
    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "crhn.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("crhn.sln not found above " + AppContext.BaseDirectory);
    }

    [Fact]
    public async Task Building_the_quickstart_with_a_broken_stack_fails_with_CRHN002()
    {
        var root = RepositoryRoot();
        var work = Directory.CreateTempSubdirectory("crhn-broken-stack-");
        try
        {
            // The quickstart as it is, its second conv layer given a kernel that leaves 16.5 rows.
            var sample = Path.Combine(root, "samples", "Quickstart");
            var program = File.ReadAllText(Path.Combine(sample, "Program.cs"));
            Assert.Contains("[Conv(32)]", program);
            File.WriteAllText(Path.Combine(work.FullName, "Program.cs"), program.Replace("[Conv(32)]", "[Conv(32, Kernel = 3)]"));
            var project = File.ReadAllText(Path.Combine(sample, "Quickstart.csproj")).Replace("../../", root + "/");
            File.WriteAllText(Path.Combine(work.FullName, "Quickstart.csproj"), project);
            File.Copy(Path.Combine(root, "Directory.Build.props"), Path.Combine(work.FullName, "Directory.Build.props"));
            File.Copy(Path.Combine(root, "Directory.Packages.props"), Path.Combine(work.FullName, "Directory.Packages.props"));

            // The references are built by the test run already; build only the broken sample.
            var start = new ProcessStartInfo("dotnet", ["build", "-c", "Release", "-p:BuildProjectReferences=false", "-nologo", "-v:q"])
            {
                WorkingDirectory = work.FullName,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using var build = Process.Start(start)!;
            var output = build.StandardOutput.ReadToEndAsync();
            var errors = build.StandardError.ReadToEndAsync();
            await build.WaitForExitAsync();
            var log = await output + await errors;
            Assert.NotEqual(0, build.ExitCode);
            Assert.Contains("error CRHN002: Conv layer 2: the output height is (16 + 2·1 − 3) / 2 + 1 = 8.5", log);
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }
}
