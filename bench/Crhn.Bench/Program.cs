// Crhn's benchmarks for the workloads of ../shared/bench/WORKLOADS.md (same keys, same inputs,
// same timing rules), run once per provider; each provider's results go to a JSON file with the
// keys of PyTorch's results-torch.json. Usage:
//   dotnet run --project bench/Crhn.Bench -c Release -- [--out DIR] [--only KEYPREFIX] [--provider openblas|managed] [--backend torch]
using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using Crhn.Core;
using Crhn.Bench;
using Crhn.Core.Providers;

string outDir = "bench-results";
string? only = null;
string? provider = null;
string? backend = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--out" && i + 1 < args.Length) outDir = args[++i];
    else if (args[i] == "--only" && i + 1 < args.Length) only = args[++i];
    else if (args[i] == "--provider" && i + 1 < args.Length && args[i + 1] is "openblas" or "managed") provider = args[++i];
    else if (args[i] == "--backend" && i + 1 < args.Length) backend = args[++i];
    else { Console.Error.WriteLine($"unknown argument {args[i]}; usage: [--out DIR] [--only KEYPREFIX] [--provider openblas|managed] [--backend torch|torch:cuda]"); return 2; }
}
Directory.CreateDirectory(outDir);
Harness.Only = only;
Models.TrainingImagesFile = Path.Combine(outDir, "crhn-train-images.f32");

if (backend is not null)
{
    // Every workload as engine tensor ops on another backend (the torch one): results-torch.json.
    var chosen = Crhn.Core.Backends.Named(backend);
    Crhn.Core.Backends.SetDefault(chosen);
    Harness.Scoped = true;
    Console.Error.WriteLine($"== {chosen.Describe()}");
    var onBackend = new JsonArray();
    var workloads = Workloads.TensorKernels().Concat(Models.Rhn()).Concat(Models.AutoencoderEpochs()).Concat(Models.Retrieval()).Concat(Models.CrhnTraining())
        .Concat(Baselines.Hopfield()).Concat(Baselines.PredictiveCoding()).Concat(Baselines.Attacks()).Concat(Baselines.AutoencoderLayers()).Concat(Baselines.AutoencoderLayerGradients()).Concat(Iterative.Epochs());
    foreach (var r in workloads.OfType<JsonObject>())
        onBackend.Add(r);
    var file = Path.Combine(outDir, $"results-{chosen.Name.Replace(':', '-')}.json");
    File.WriteAllText(file, new JsonObject { ["env"] = new JsonObject { ["engine"] = chosen.Describe(), ["dotnet"] = Environment.Version.ToString() }, ["results"] = onBackend }
        .ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    Console.Error.WriteLine($"wrote {file}");
    return 0;
}

var providers = new List<ILinearAlgebraProvider> { Crhn.Core.LinearAlgebra.Managed() };
switch (Crhn.Core.LinearAlgebra.OpenBlas())
{
    case { IsOk: true } ok: providers.Insert(0, ok.ResultValue); break;
    case var err: Console.Error.WriteLine($"openblas dropped out: {err.ErrorValue}"); break;
}

foreach (var p in providers.Where(p => provider is null || p.Name == provider))
{
    using var scope = Crhn.Core.LinearAlgebra.Scoped(p);
    Console.Error.WriteLine($"== {p.Description}");
    var results = new JsonArray();
    var all = Workloads.Kernels(p, direct: p.Name == "openblas").Concat(Workloads.Svd(p)).Concat(Models.Rhn()).Concat(Models.AutoencoderEpochs()).Concat(Models.Retrieval()).Concat(Models.CrhnTraining())
        .Concat(Baselines.Hopfield()).Concat(Baselines.PredictiveCoding()).Concat(Baselines.Attacks()).Concat(Baselines.AutoencoderLayers()).Concat(Baselines.AutoencoderLayerGradients()).Concat(Iterative.Epochs());
    foreach (var r in all.OfType<JsonObject>())
        results.Add(r);
    if (p.Name == "openblas" && only is null)
        results.Add(InheritedCoretype());
    var doc = new JsonObject
    {
        ["env"] = new JsonObject
        {
            ["engine"] = p.Description,
            ["dotnet"] = Environment.Version.ToString(),
            ["cores"] = Environment.ProcessorCount,
            ["os"] = System.Runtime.InteropServices.RuntimeInformation.OSDescription,
            ["OPENBLAS_CORETYPE"] = Environment.GetEnvironmentVariable("OPENBLAS_CORETYPE") ?? "",
        },
        ["results"] = results,
    };
    var path = Path.Combine(outDir, $"results-{p.Name}.json");
    File.WriteAllText(path, doc.ToJsonString(new JsonSerializerOptions { WriteIndented = true }));
    Console.Error.WriteLine($"wrote {path}");
}
return 0;

// The sgemm again in a child process with OPENBLAS_CORETYPE=Haswell (OpenBLAS's AVX2 kernels), as
// the machines' environment sets it; the child's own JSON line is read back.
static JsonObject InheritedCoretype()
{
    var host = Environment.ProcessPath!;
    var psi = new ProcessStartInfo(host) { RedirectStandardOutput = true, RedirectStandardError = true };
    if (Path.GetFileNameWithoutExtension(host) == "dotnet") psi.ArgumentList.Add(typeof(Harness).Assembly.Location);
    psi.ArgumentList.Add("--only");
    psi.ArgumentList.Add("W7.sgemm[");
    psi.ArgumentList.Add("--out");
    var tmp = Path.Combine(Path.GetTempPath(), $"crhn-bench-{Environment.ProcessId}");
    psi.ArgumentList.Add(tmp);
    psi.Environment["OPENBLAS_CORETYPE"] = "Haswell";
    using var child = Process.Start(psi)!;
    child.StandardOutput.ReadToEnd();
    Console.Error.Write(child.StandardError.ReadToEnd());
    child.WaitForExit();
    var doc = JsonNode.Parse(File.ReadAllText(Path.Combine(tmp, "results-openblas.json")))!;
    var r = doc["results"]![0]!.DeepClone().AsObject();
    r["key"] = "W7.sgemm_inherited_coretype[m=1024,n=1024,k=1024,OPENBLAS_CORETYPE=Haswell]";
    r["engine"] = doc["env"]!["engine"]!.DeepClone();
    return r;
}
