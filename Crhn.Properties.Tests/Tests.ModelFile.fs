namespace Crhn.Properties

open Crhn
open System
open System.Security.Cryptography
open Xunit
open FsCheck
open FsCheck.FSharp
open Crhn.Core

/// The model-file reader only ever throws ModelFormatException, whatever bytes it is given:
/// random bytes, a valid file flipped, cut or extended, and (to reach the parser behind the
/// checksum) mutated bodies re-signed with a valid checksum.
type ModelFileTests() =

    static let valid =
        ModelFile.toBytes [ "kind", "crhn"; "note", "ünïcode" ]
            [ "a", Cpu.ofFloat32 [| 2; 3 |] [| 1.0f; 2.0f; 3.0f; 4.0f; 5.0f; 6.0f |]
              "b", Cpu.ofFloat64 [| 4 |] [| 0.5; -1.0; 2.0; 1e-300 |] ]

    static let resign (body: byte[]) = Array.append body (SHA256.HashData body)

    static let onlyFormatErrors (bytes: byte[]) =
        try
            ModelFile.ofBytes bytes |> ignore
            true |> Prop.label "read"
        with
        | :? ModelFormatException -> true |> Prop.label "refused"
        | e -> false |> Prop.label (sprintf "%s: %s" (e.GetType().Name) e.Message)

    /// A mutation: (kind, position, value) applied to the valid file's body or bytes.
    static let mutation = Gen.zip3 (Gen.choose (0, 3)) (Gen.choose (0, Int32.MaxValue)) (Gen.choose (0, 255))

    static let mutate (bytes: byte[]) (kind: int, at: int, value: int) =
        let i = if bytes.Length = 0 then 0 else at % bytes.Length
        match kind with
        | _ when bytes.Length = 0 -> [| byte value |]
        | 0 -> let c = Array.copy bytes in c.[i] <- byte value; c
        | 1 -> bytes.[.. i - 1]
        | 2 -> Array.append bytes (Array.create (1 + value % 7) (byte value))
        | _ -> let c = Array.copy bytes in c.[i] <- c.[i] ^^^ 0xFFuy; c

    [<Fact>]
    member _.``a valid file reads back`` () =
        let entries, tensors = ModelFile.ofBytes valid
        Assert.Equal<(string * string) list>([ "kind", "crhn"; "note", "ünïcode" ], entries)
        Assert.Equal<float[]>([| 0.5; -1.0; 2.0; 1e-300 |], (snd tensors.[1]).ToFloat64Array())

    [<Fact>]
    member _.``random bytes only ever raise ModelFormatException`` () =
        Check.run "random bytes" 300 (Prop.forAll (Arb.fromGen (Gen.arrayOf (Gen.choose (0, 255) |> Gen.map byte))) onlyFormatErrors)

    [<Fact>]
    member _.``mutated files only ever raise ModelFormatException`` () =
        Check.run "mutated file" 300 (Prop.forAll (Arb.fromGen mutation) (fun m -> onlyFormatErrors (mutate valid m)))

    [<Fact>]
    member _.``mutated bodies with a valid checksum only ever raise ModelFormatException`` () =
        let body = valid.[.. valid.Length - 33]
        Check.run "re-signed mutation" 1000 (Prop.forAll (Arb.fromGen (Gen.listOfLength 3 mutation)) (fun ms ->
            let mutated = ms |> List.fold mutate body
            // Keep the signature and version so that the parser behind the checksum is what is tested.
            let header = Array.append valid.[.. 11] mutated.[min 12 mutated.Length ..]
            onlyFormatErrors (resign header)))

    [<Fact>]
    member _.``companion: without the checksum a flipped byte can go unnoticed`` () =
        // The value bytes of tensor "b" are plain data: flipping one and re-signing reads back fine,
        // so the checksum (not the parser) is what catches tampering.
        let body = valid.[.. valid.Length - 33]
        let flipped = Array.copy body
        flipped.[body.Length - 1] <- flipped.[body.Length - 1] ^^^ 1uy
        ModelFile.ofBytes (resign flipped) |> ignore
        Assert.Throws<ModelFormatException>(fun () -> ModelFile.ofBytes (Array.append flipped valid.[valid.Length - 32 ..]) |> ignore) |> ignore
