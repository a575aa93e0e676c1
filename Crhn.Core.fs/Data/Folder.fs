namespace Crhn.Core.Data

open Crhn
open System
open System.IO

/// A folder of images (.png, binary .ppm P6 and .pgm P5 with maxval 255, and .jpg/.jpeg/.webp
/// through SkiaSharp), read in ordinal order of file name, each converted to the requested channel
/// count and resized (bilinear) to the requested size.
[<RequireQualifiedAccess>]
module Folder =

    /// Decodes binary PGM (P5) or PPM (P6) bytes with maxval 255 to (channels, height, width,
    /// values): C×H×W channel planes in [0, 1].
    let decodePnm (bytes: byte[]) =
        let fail msg = raise (DataFormatException("pnm: " + msg))
        let mutable at = 0
        let isSpace (b: byte) = b = 32uy || (b >= 9uy && b <= 13uy)
        let token () =
            let mutable skipping = true
            while skipping && at < bytes.Length do
                if isSpace bytes.[at] then at <- at + 1
                elif bytes.[at] = byte '#' then
                    while at < bytes.Length && bytes.[at] <> 10uy && bytes.[at] <> 13uy do
                        at <- at + 1
                else skipping <- false
            let start = at
            while at < bytes.Length && not (isSpace bytes.[at]) do
                at <- at + 1
            Text.Encoding.ASCII.GetString(bytes, start, at - start)
        let number (what: string) =
            match Int32.TryParse(token ()) with
            | true, v when v > 0 -> v
            | _ -> fail (sprintf "the header's %s is not a positive integer." what)
        let channels =
            match token () with
            | "P5" -> 1
            | "P6" -> 3
            | m -> fail (sprintf "magic number %A; expected P5 (binary grey) or P6 (binary RGB)." m)
        let width = number "width"
        let height = number "height"
        let maxval = number "maxval"
        if maxval <> 255 then fail (sprintf "maxval %d is not supported; expected 255." maxval)
        if at >= bytes.Length || not (isSpace bytes.[at]) then fail "the header does not end with a whitespace byte."
        let start = at + 1
        let plane = int64 width * int64 height
        let needed = int64 channels * plane
        if int64 (bytes.Length - start) <> needed then
            fail (sprintf "a %d×%d image with %d channels needs %d bytes of pixels, found %d (after the one whitespace byte that ends the header)." width height channels needed (bytes.Length - start))
        let plane = int plane
        channels, height, width, Array.init (channels * plane) (fun i -> float32 bytes.[start + (i % plane) * channels + i / plane] / 255.0f)

    /// The most pixels a compressed image may declare (32 megapixels, a 6912×4608 photograph): a
    /// header that asks for more is refused before anything is allocated, so decoding one holds
    /// at most 4 bytes a pixel for the decoder and 12 for the float planes (512 MB).
    let MaxPixels = 32_000_000L

    /// Decodes JPEG or WebP bytes (any format SkiaSharp's codecs read) to (3, height, width,
    /// values): RGB planes in [0, 1]. The declared size is checked against MaxPixels first.
    let decodeCompressed (bytes: byte[]) =
        let fail msg = raise (DataFormatException("image: " + msg))
        use data = SkiaSharp.SKData.CreateCopy bytes
        use codec = SkiaSharp.SKCodec.Create data
        if isNull codec then fail "not a JPEG or WebP image SkiaSharp can read."
        let width, height = codec.Info.Width, codec.Info.Height
        if width <= 0 || height <= 0 then fail (sprintf "the header declares a %d×%d image." width height)
        if int64 width * int64 height > MaxPixels then
            fail (sprintf "the header declares %d×%d pixels, more than the %d this reader accepts." width height MaxPixels)
        let info = SkiaSharp.SKImageInfo(width, height, SkiaSharp.SKColorType.Rgba8888, SkiaSharp.SKAlphaType.Unpremul)
        let pixels = Array.zeroCreate<byte> (width * height * 4)
        let handle = Runtime.InteropServices.GCHandle.Alloc(pixels, Runtime.InteropServices.GCHandleType.Pinned)
        let result =
            try codec.GetPixels(info, handle.AddrOfPinnedObject())
            finally handle.Free()
        if result <> SkiaSharp.SKCodecResult.Success && result <> SkiaSharp.SKCodecResult.IncompleteInput then
            fail (sprintf "SkiaSharp could not decode the pixels (%O)." result)
        if result = SkiaSharp.SKCodecResult.IncompleteInput then fail "the file is truncated."
        let plane = width * height
        3, height, width, Array.init (3 * plane) (fun i -> float32 pixels.[(i % plane) * 4 + i / plane] / 255.0f)

    /// The file extensions readImage reads (lower case).
    let Extensions = [ ".png"; ".ppm"; ".pgm"; ".jpg"; ".jpeg"; ".webp" ]

    /// Decodes one .png, .ppm, .pgm, .jpg, .jpeg or .webp file to (channels, height, width,
    /// values); errors name the file.
    let readImage (path: string) =
        let bytes = Files.read path
        try
            match Path.GetExtension(path).ToLowerInvariant() with
            | ".png" -> Png.decode bytes
            | ".ppm" | ".pgm" -> decodePnm bytes
            | ".jpg" | ".jpeg" | ".webp" -> decodeCompressed bytes
            | e -> raise (ArgumentException(sprintf "%s: extension %s; expected one of %s." path e (String.Join(", ", Extensions)), "path"))
        with :? DataFormatException as e -> raise (DataFormatException(sprintf "%s: %s" path e.Message))

    /// The image files of `folder` (the Extensions, any case) in ordinal order of file name.
    let files (folder: string) =
        if not (Directory.Exists folder) then raise (ArgumentException(sprintf "folder: the folder %s does not exist." folder, "folder"))
        Directory.GetFiles folder
        |> Array.filter (fun f -> Extensions |> List.contains (Path.GetExtension(f).ToLowerInvariant()))
        |> Array.sortWith (fun a b -> String.CompareOrdinal(Path.GetFileName a, Path.GetFileName b))

    /// The first `count` images of `folder` as one N×C×H×W float32 array in [0, 1], each converted
    /// to `channels` (1 or 3) and resized to height×width.
    /// `cancel` is checked before each file it reads.
    let imagesUntil (cancel: Threading.CancellationToken) (folder: string) (count: int) (channels: int) (height: int) (width: int) =
        if channels <> 1 && channels <> 3 then raise (ArgumentException(sprintf "folder: expected 1 or 3 channels, found %d." channels, "channels"))
        let all = files folder
        if count < 0 || count > all.Length then
            raise (ArgumentOutOfRangeException("count", count, sprintf "%s holds %d images; %d were asked for." folder all.Length count))
        all.[.. count - 1]
        |> Array.collect (fun path ->
            cancel.ThrowIfCancellationRequested()
            let c, h, w, values = readImage path
            Resize.toSize height width (channels, h, w, Resize.toChannels channels 1 c (h * w) values))

    /// `imagesUntil` without a cancellation token.
    let images (folder: string) (count: int) (channels: int) (height: int) (width: int) =
        imagesUntil Threading.CancellationToken.None folder count channels height width

    /// Photographs cut into patches: every image of a folder is cut into non-overlapping
    /// side×side squares on a grid from its top-left corner; squares with little texture (standard
    /// deviation of their values below MinStd: flat sky, blur) are left out, since dozens of them
    /// are indistinguishable and nothing can recall one rather than another, and so are
    /// near-duplicates of a square taken before (MinDistance); each photo's squares are shuffled
    /// (a fixed seed per photo) and the photos are taken round robin, one square each in turn,
    /// while any has squares left. So the first N patches mix every photo and many places in it.
    [<RequireQualifiedAccess>]
    module Patches =

        /// Debian's `mate-backgrounds` natural colour photographs.
        let DefaultFolder = "/usr/share/backgrounds/mate/nature"

        /// The side of a patch (STL-10's 96×96).
        let Side = 96

        /// The least standard deviation of a patch's values (on [0, 1]) for it to be taken.
        let MinStd = 0.12

        /// The least mean squared difference (on [0, 1]) between a patch's 16×16 thumbnail and that
        /// of every patch taken before it: closer ones are near-duplicates (a repeated texture) that
        /// no memory can tell apart once resized, and are left out.
        let MinDistance = 0.002

        /// The first `count` patches of the photos of `folder` as N×3×Side×Side float32 values in [0, 1].
        /// `cancel` is checked before each photograph it reads.
        let imagesUntil (cancel: Threading.CancellationToken) (folder: string) (count: int) =
            let photos = files folder
            if photos.Length = 0 then raise (ArgumentException(sprintf "patches: %s holds no images." folder, "folder"))
            let grids =
                photos |> Array.mapi (fun p path ->
                    cancel.ThrowIfCancellationRequested()
                    let c, h, w, values = readImage path
                    let rgb = Resize.toChannels 3 1 c (h * w) values
                    let textured cell =
                        let top, left = (cell / (w / Side)) * Side, (cell % (w / Side)) * Side
                        let mutable sum, squares = 0.0, 0.0
                        for ch in 0 .. 2 do
                            for y in top .. top + Side - 1 do
                                for x in left .. left + Side - 1 do
                                    let v = float rgb.[ch * h * w + y * w + x]
                                    sum <- sum + v
                                    squares <- squares + v * v
                        let count = float (3 * Side * Side)
                        Math.Sqrt(max 0.0 (squares / count - (sum / count) ** 2.0)) >= MinStd
                    let cells = Array.init ((h / Side) * (w / Side)) id |> Array.filter textured
                    for i in cells.Length - 1 .. -1 .. 1 do
                        let j = int (Crhn.Core.Rng.element (Crhn.Core.Rng.derive 0x9A7C4E5UL p) (uint64 i) % uint64 (i + 1))
                        let t = cells.[i]
                        cells.[i] <- cells.[j]
                        cells.[j] <- t
                    h, w, rgb, cells)
            // Round robin over the photos, each patch as a 16×16 thumbnail (6×6 means) for the
            // near-duplicate check against every patch taken before it.
            let thumbSide = 16
            let pool = Side / thumbSide
            let thumbnail (h: int) (w: int) (rgb: float32[]) (top: int) (left: int) =
                Array.init (3 * thumbSide * thumbSide) (fun k ->
                    let ch, ty, tx = k / (thumbSide * thumbSide), k / thumbSide % thumbSide, k % thumbSide
                    let mutable sum = 0.0f
                    for y in top + ty * pool .. top + ty * pool + pool - 1 do
                        for x in left + tx * pool .. left + tx * pool + pool - 1 do
                            sum <- sum + rgb.[ch * h * w + y * w + x]
                    sum / float32 (pool * pool))
            let distinct (thumbs: ResizeArray<float32[]>) (t: float32[]) =
                thumbs |> Seq.forall (fun o ->
                    let mutable d = 0.0f
                    for k in 0 .. t.Length - 1 do
                        d <- d + (t.[k] - o.[k]) * (t.[k] - o.[k])
                    float d / float t.Length >= MinDistance)
            let thumbs = ResizeArray<float32[]>()
            let chosen = ResizeArray<int * int * int * float32[]>()
            let rounds = grids |> Array.map (fun (_, _, _, cells) -> cells.Length) |> Array.max
            let mutable round = 0
            while chosen.Count < count && round < rounds do
                for h, w, rgb, cells in grids do
                    if chosen.Count < count && round < cells.Length then
                        let cell = cells.[round]
                        let top, left = (cell / (w / Side)) * Side, (cell % (w / Side)) * Side
                        let t = thumbnail h w rgb top left
                        if distinct thumbs t then
                            thumbs.Add t
                            chosen.Add((h * w, top * w + left, w, rgb))
                round <- round + 1
            if count < 0 || count > chosen.Count then
                raise (ArgumentOutOfRangeException("count", count, sprintf "%s holds %d distinct textured patches of %d×%d in %d photos; %d were asked for." folder chosen.Count Side Side photos.Length count))
            let result = Array.zeroCreate<float32> (count * 3 * Side * Side)
            chosen |> Seq.iteri (fun i (plane, origin, w, rgb) ->
                for ch in 0 .. 2 do
                    for y in 0 .. Side - 1 do
                        Array.blit rgb (ch * plane + origin + y * w) result (((i * 3 + ch) * Side + y) * Side) Side)
            result

        /// `imagesUntil` without a cancellation token.
        let images (folder: string) (count: int) = imagesUntil Threading.CancellationToken.None folder count
