namespace Crhn.Torch.Tests

open System
open System.IO
open System.Runtime.InteropServices
open System.Text
open Crhn
open Crhn.Core
open Xunit

/// LibTorchSharp's one GLIBCXX_3.4.32 requirement, as the build leaves it (Crhn.Torch.targets).
module Elf =

    /// The flags of every version requirement of an ELF64 library named `version` (.gnu.version_r).
    let requirementFlags (path: string) (version: string) =
        let b = File.ReadAllBytes path
        let u16 (at: int64) = int (BitConverter.ToUInt16(b, int at))
        let u32 (at: int64) = int64 (BitConverter.ToUInt32(b, int at))
        let u64 (at: int64) = int64 (BitConverter.ToUInt64(b, int at))
        let shoff, size, count = u64 0x28L, int64 (u16 0x3AL), u16 0x3CL
        [ for i in 0 .. count - 1 do
            let sh = shoff + int64 i * size
            if u32 (sh + 4L) = 0x6ffffffeL then
                let strings = u64 (shoff + u32 (sh + 0x28L) * size + 0x18L)
                let mutable need = u64 (sh + 0x18L)
                for _ in 1L .. u32 (sh + 0x2CL) do
                    let mutable aux = need + u32 (need + 8L)
                    for _ in 1 .. u16 (need + 2L) do
                        let name = strings + u32 (aux + 8L)
                        let finish = Array.IndexOf(b, 0uy, int name)
                        if Encoding.ASCII.GetString(b, int name, finish - int name) = version then yield u16 (aux + 4L)
                        aux <- aux + u32 (aux + 12L)
                    need <- need + u32 (need + 12L) ]

    /// Whether the host's libstdc++ defines the version.
    let hostHas (version: string) =
        [ "/usr/lib/x86_64-linux-gnu/libstdc++.so.6"; "/lib/x86_64-linux-gnu/libstdc++.so.6"; "/usr/lib64/libstdc++.so.6"; "/usr/lib/libstdc++.so.6" ]
        |> List.tryFind File.Exists
        |> Option.map (fun p -> File.ReadAllBytes(p).AsSpan().IndexOf(ReadOnlySpan(Encoding.ASCII.GetBytes(version + "\000"))) >= 0)

type LoadingTests() =

    static let version = "GLIBCXX_3.4.32"

    /// The copy of the library the test host loads (runtimes/linux-x64/native under the output).
    static let copied =
        lazy (Directory.GetFiles(AppContext.BaseDirectory, "libLibTorchSharp.so", SearchOption.AllDirectories) |> Array.exactlyOne)

    /// The package's own copy, in the NuGet cache.
    static let original =
        lazy
            (let cache =
                match Environment.GetEnvironmentVariable "NUGET_PACKAGES" with
                | null | "" -> Path.Combine(Environment.GetFolderPath Environment.SpecialFolder.UserProfile, ".nuget", "packages")
                | p -> p
             Path.Combine(cache, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so"))

    [<Fact>]
    member _.``the torch backend loads LibTorch here and names its version, device and threads`` () =
        Ops.torchBackend.Force() |> ignore
        use _ = Engine.UseBackend Ops.torchName
        Assert.Equal(Ops.torchName, Engine.BackendName)
        let device = if Ops.torchName = "torch" then "cpu" else Ops.torchName.Substring 6
        Assert.Matches(sprintf @"^torch: LibTorch 2\.10\.0[.0-9]* through TorchSharp [0-9.]+ on %s, [0-9]+ threads" device, Engine.Describe())

    [<Fact>]
    member _.``the built copy's GLIBCXX_3.4.32 requirement is weak exactly when the host lacks that version`` () =
        if not (RuntimeInformation.IsOSPlatform OSPlatform.Linux) then ()
        else
            let flags = Elf.requirementFlags copied.Value version
            Assert.NotEmpty flags
            match Elf.hostHas version with
            | Some true -> Assert.All(flags, fun f -> Assert.Equal(0, f &&& 2))
            | Some false -> Assert.All(flags, fun f -> Assert.Equal(2, f &&& 2))
            | None -> ()

    [<Fact>]
    member _.``companion: the package's own copy requires GLIBCXX_3.4.32 strictly and loads only where the host has it`` () =
        if RuntimeInformation.IsOSPlatform OSPlatform.Linux && File.Exists original.Value then
            Ops.torchBackend.Force() |> ignore
            Assert.All(Elf.requirementFlags original.Value version, fun f -> Assert.Equal(0, f &&& 2))
            let loads, _ = NativeLibrary.TryLoad original.Value
            Assert.Equal(Elf.hostHas version |> Option.defaultValue true, loads)

    [<Fact>]
    member _.``an unknown device and a missing CUDA are refused in one line`` () =
        Ops.torchBackend.Force() |> ignore
        let bad = Assert.Throws<ArgumentException>(fun () -> Engine.UseBackend "torch:tpu" |> ignore)
        Assert.Contains("expected cpu, cuda or cuda:N", bad.Message)
        if not (TorchSharp.torch.cuda.is_available ()) then
            let missing = Assert.Throws<ProviderUnavailableException>(fun () -> Engine.UseBackend "torch:cuda" |> ignore)
            Assert.DoesNotContain("\n", missing.Message)
            Assert.Contains("no CUDA device", missing.Message)
