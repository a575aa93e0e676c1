namespace Crhn.Properties

open System
open System.Threading
open Xunit
open Crhn.Core
open Crhn.Core.Models

/// The CRHN memory end to end on procedural images in [−1, 1] (16×16, small enough for the suite).
type CrhnTests() =

    static let count = 50

    static let images =
        Data.Procedural.images 11UL count 3 16 16 |> Array.map (fun v -> v * 2.0f - 1.0f)

    static let memory =
        lazy (
            let x = Tensor.Constant(Cpu.ofFloat32 [| count; 3; 16; 16 |] images)
            let codec =
                TiedCodec({ InputChannels = 3; Height = 16; Width = 16; Channels = [| 8; 16 |]; Kernel = 4; Stride = 2; Padding = 1
                            Dense = [| 128 |]; Latent = Latent.Binary; Output = OutputMap.Tanh; Biases = false }, 1UL)
            codec.Fit(x, 30, 10, 3e-3, ignore, CancellationToken.None) |> ignore
            let rhn = RhnNetwork([| 128; 96 |], 2UL)
            let mem = CrhnMemory(codec, Some rhn)
            let stored = rhn.Train(mem.Codes x, 100, SraMode.Both, ignore, CancellationToken.None)
            mem, x, stored)

    [<Fact>]
    member _.``every clean stored image is retrieved as exactly its own code`` () =
        let mem, x, stored = memory.Force()
        Assert.True(stored, "SRA did not make every code a fixed point")
        let codes = (mem.Codes x).ToFloat64Array()
        let retrieval = mem.Retrieve(x, 1e-3, 50)
        let first = retrieval.Steps.[0].Codes.ToFloat64Array()
        let errors = Array.fold2 (fun acc a b -> if a <> b then acc + 1 else acc) 0 first codes
        Assert.Equal(0, errors)

    [<Fact>]
    member _.``a retrieval returns its trajectory with finite energies and stops when the image stops changing`` () =
        let mem, x, _ = memory.Force()
        let r = mem.Retrieve(x, 1e-3, 50)
        Assert.True(r.Steps.Length >= 1 && r.Steps.Length <= 50)
        Assert.Equal(r.Converged, (Array.last r.Steps).Change < 1e-3)
        for s in r.Steps do
            Assert.True(s.Energy |> Array.forall Double.IsFinite, sprintf "step %d has a non-finite energy" s.Step)
            Assert.Equal<int[]>(x.Shape, s.Images.Shape)

    [<Fact>]
    member _.``the codec-only ablation has no energy but the same interface`` () =
        let mem, x, _ = memory.Force()
        let r = CrhnMemory(mem.Codec, None).Retrieve(x, 1e-3, 5)
        Assert.True(r.Steps |> Array.forall (fun s -> s.Energy |> Array.forall Double.IsNaN))

    [<Fact>]
    member _.``an RHN whose input does not match the latent is refused`` () =
        let mem, _, _ = memory.Force()
        let e = Assert.Throws<ArgumentException>(fun () -> CrhnMemory(mem.Codec, Some(RhnNetwork([| 100; 50 |], 1UL))) |> ignore)
        Assert.Contains("128", e.Message)
        Assert.Contains("100", e.Message)
