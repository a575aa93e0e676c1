using System.Diagnostics;
using Xunit;

namespace Crhn.Tests;

/// <summary>The packages as a user gets them: Crhn and Crhn.Core packed into a local folder, and a
/// project outside the repository that references only the Crhn package restores, builds (the
/// generator comes along in the analyzers folder) and runs the quickstart.</summary>
public class PackageTests
{
    private static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "crhn.sln"))) dir = dir.Parent;
        return dir?.FullName ?? throw new InvalidOperationException("crhn.sln not found above the test assembly.");
    }

    private static (int Code, string Output) Dotnet(string workingDirectory, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) start.ArgumentList.Add(a);
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        process.WaitForExit();
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    private static void Succeeds((int Code, string Output) r, string what) =>
        Assert.True(r.Code == 0, $"{what} failed:\n{string.Join("\n", r.Output.Split('\n').TakeLast(30))}");

    [Fact]
    public void A_project_outside_the_repository_restores_the_packed_Crhn_and_runs_the_quickstart()
    {
        var root = Root();
        var dir = Directory.CreateTempSubdirectory("crhn-package-");
        try
        {
            var feed = Path.Combine(dir.FullName, "feed");
            string[] quiet = ["-c", "Release", "-nodeReuse:false", "-p:UseSharedCompilation=false"];
            foreach (var project in new[] { "Crhn.Core.fs/Crhn.Core.fsproj", "Crhn/Crhn.csproj" })
                Succeeds(Dotnet(root, ["pack", project, "-o", feed, .. quiet]), $"dotnet pack {project}");

            var app = Directory.CreateDirectory(Path.Combine(dir.FullName, "app")).FullName;
            File.WriteAllText(Path.Combine(app, "nuget.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <clear />
                    <add key="local" value="{feed}" />
                    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
                  </packageSources>
                  <packageSourceMapping>
                    <packageSource key="local"><package pattern="Crhn" /><package pattern="Crhn.*" /></packageSource>
                    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
                  </packageSourceMapping>
                </configuration>
                """);
            File.WriteAllText(Path.Combine(app, "App.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <Nullable>enable</Nullable>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="Crhn" Version="1.0.0" />
                  </ItemGroup>
                </Project>
                """);
            File.Copy(Path.Combine(root, "samples", "Quickstart", "Program.cs"), Path.Combine(app, "Program.cs"));

            // A packages folder of its own, so that no cache serves an older build of the packages.
            Succeeds(Dotnet(app, ["build", .. quiet, $"-p:RestorePackagesPath={Path.Combine(dir.FullName, "packages")}"]), "building the consumer");
            var run = Dotnet(app, ["bin/Release/net10.0/App.dll"]);
            Succeeds(run, "the quickstart from the packages");
            Assert.Contains("every one of the 100 images stored", run.Output);
            Assert.True(File.Exists(Path.Combine(app, "quickstart.png")));
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
