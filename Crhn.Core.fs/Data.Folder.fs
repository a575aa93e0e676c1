namespace Crhn.Core.Data

open System
open System.IO

/// A folder of images (.png, binary .ppm P6 and .pgm P5 with maxval 255), read in ordinal order
/// of file name, each converted to the requested channel count and resized (bilinear) to the
/// requested size.
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
        if int64 (bytes.Length - start) < needed then
            fail (sprintf "a %d×%d image with %d channels needs %d bytes of pixels, found %d." width height channels needed (bytes.Length - start))
        let plane = int plane
        channels, height, width, Array.init (channels * plane) (fun i -> float32 bytes.[start + (i % plane) * channels + i / plane] / 255.0f)

    /// Decodes one .png, .ppm or .pgm file to (channels, height, width, values); errors name the file.
    let readImage (path: string) =
        let bytes = File.ReadAllBytes path
        try
            match Path.GetExtension(path).ToLowerInvariant() with
            | ".png" -> Png.decode bytes
            | ".ppm" | ".pgm" -> decodePnm bytes
            | e -> raise (ArgumentException(sprintf "%s: extension %s; expected .png, .ppm or .pgm." path e, "path"))
        with :? DataFormatException as e -> raise (DataFormatException(sprintf "%s: %s" path e.Message))

    /// The image files of `folder` (.png, .ppm, .pgm, any case) in ordinal order of file name.
    let files (folder: string) =
        if not (Directory.Exists folder) then raise (ArgumentException(sprintf "folder: the folder %s does not exist." folder, "folder"))
        Directory.GetFiles folder
        |> Array.filter (fun f -> [ ".png"; ".ppm"; ".pgm" ] |> List.contains (Path.GetExtension(f).ToLowerInvariant()))
        |> Array.sortWith (fun a b -> String.CompareOrdinal(Path.GetFileName a, Path.GetFileName b))

    /// The first `count` images of `folder` as one N×C×H×W float32 array in [0, 1], each converted
    /// to `channels` (1 or 3) and resized to height×width.
    let images (folder: string) (count: int) (channels: int) (height: int) (width: int) =
        if channels <> 1 && channels <> 3 then raise (ArgumentException(sprintf "folder: expected 1 or 3 channels, found %d." channels, "channels"))
        let all = files folder
        if count < 0 || count > all.Length then
            raise (ArgumentOutOfRangeException("count", count, sprintf "%s holds %d images; %d were asked for." folder all.Length count))
        all.[.. count - 1]
        |> Array.collect (fun path ->
            let c, h, w, values = readImage path
            Resize.toSize height width (channels, h, w, Resize.toChannels channels 1 c (h * w) values))
