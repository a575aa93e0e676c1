namespace Crhn.Tests;

/// <summary>Tests that write files: a fresh temporary folder for each test, deleted after it.</summary>
public abstract class TempFolderTests(string prefix) : IDisposable
{
    /// <summary>The test's folder.</summary>
    protected string Scratch { get; } = Directory.CreateTempSubdirectory(prefix).FullName;

    public void Dispose()
    {
        Directory.Delete(Scratch, recursive: true);
        GC.SuppressFinalize(this);
    }
}
