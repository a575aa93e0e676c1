namespace Crhn.Properties

open System
open FsCheck.FSharp
open Xunit
open Xunit.Abstractions

/// Every proposition of the papers, at 100 cases: those that must hold hold, and every companion
/// (and every claim found false) produces its counterexample.
type PropositionTests(output: ITestOutputHelper) =

    static member Ids: obj[] seq = Propositions.all |> Seq.map (fun p -> [| box p.Id |])

    [<Theory; MemberData(nameof PropositionTests.Ids)>]
    member _.``proposition comes out as stated`` (id: string) =
        let p = Propositions.all |> List.find (fun p -> p.Id = id)
        let v = Verify.run Check.defaultRuns None p
        output.WriteLine(sprintf "%s: %s after %d cases%s" v.Id v.Verdict v.Cases
                            (match v.Counterexample with Some c -> sprintf "; shrunk counterexample %s (%s), replay %s" c (defaultArg v.Detail "") (defaultArg v.Replay "") | None -> ""))
        Assert.True(v.AsExpected, sprintf "%s: expected %A, got %s %s %s" id p.Expect v.Verdict (defaultArg v.Counterexample "") (defaultArg v.Detail ""))

    [<Fact>]
    member _.``a shrunk semi-orthogonal recipe still builds a semi-orthogonal matrix`` () =
        let c = { Visible = 9; Hidden = 6; Seed = 123456; Scale = 7; Act = 3; Alpha = 5; Steps = 12 }
        for shrunk in Seq.append [ c ] (Recipes.shrinkFields [ (fun (c: MapCase) -> c.Visible), (fun c v -> { c with Visible = v }), 1
                                                               (fun c -> c.Hidden), (fun c v -> { c with Hidden = v }), 1
                                                               (fun c -> c.Seed), (fun c v -> { c with Seed = v }), 0 ] c) do
            let w = Recipes.semiOrthogonal shrunk.Seed (min shrunk.Hidden shrunk.Visible) shrunk.Visible
            Assert.True(Crhn.Core.Spectral.semiOrthogonalityError w < 1e-12, sprintf "%A" shrunk)

    /// A companion whose check only throws (here a shape error, as a mutant with a transpose
    /// dropped would raise) must not pass for the counterexample it expects.
    static member private throwing =
        { Id = "throws"
          Statement = "Companion whose code throws on every case"
          Tolerance = "none"
          Expect = Counterexample
          Property = Prop.forAll (Propositions.rhnArb 1) (fun c -> raise (ArgumentException(sprintf "shapes [%d] and [%d] do not match" c.Visible (c.Visible + 1))) : bool) }

    [<Fact>]
    member _.``a companion that only throws is reported as an error, not as its expected counterexample`` () =
        let v = Verify.run 20 None PropositionTests.throwing
        Assert.Equal("error", v.Verdict)
        Assert.False v.AsExpected
        Assert.Contains("ArgumentException", defaultArg v.Detail "")
        let e = Assert.ThrowsAny<exn>(fun () -> Check.fails "throws" 20 PropositionTests.throwing.Property)
        Assert.Contains("threw", e.Message)

    [<Fact>]
    member _.``companion: a companion whose statement is false without throwing is reported as its counterexample`` () =
        let v = Verify.run 20 None { PropositionTests.throwing with Property = Prop.forAll (Propositions.rhnArb 1) (fun c -> c.Visible > 100) }
        Assert.Equal("counterexample", v.Verdict)
        Assert.True v.AsExpected
