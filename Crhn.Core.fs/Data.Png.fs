namespace Crhn.Core.Data

open System
open System.IO
open System.IO.Compression

/// PNG writing with no image library: 8-bit grey or RGB, one IDAT chunk compressed with zlib
/// (System.IO.Compression), CRC-32 per chunk (ISO-HDLC polynomial 0xEDB88320).
[<RequireQualifiedAccess>]
module Png =

    let private crcTable =
        Array.init 256 (fun n ->
            let mutable c = uint32 n
            for _ in 1 .. 8 do
                c <- if c &&& 1u <> 0u then 0xEDB88320u ^^^ (c >>> 1) else c >>> 1
            c)

    /// CRC-32 of the bytes (the PNG chunk checksum).
    let crc32 (bytes: byte[]) =
        let mutable c = 0xFFFFFFFFu
        for b in bytes do
            c <- crcTable.[int ((c ^^^ uint32 b) &&& 0xFFu)] ^^^ (c >>> 8)
        c ^^^ 0xFFFFFFFFu

    let private bigEndian (v: uint32) = [| byte (v >>> 24); byte (v >>> 16); byte (v >>> 8); byte v |]

    let private chunk (kind: string) (data: byte[]) =
        let typed = Array.append (Text.Encoding.ASCII.GetBytes kind) data
        Array.concat [ bigEndian (uint32 data.Length); typed; bigEndian (crc32 typed) ]

    /// Encodes a C×H×W image (C = 1 grey or 3 RGB, channel planes, values in [0, 1]) as PNG bytes.
    let encode (channels: int) (height: int) (width: int) (values: float32[]) =
        if channels <> 1 && channels <> 3 then raise (ArgumentException(sprintf "png: expected 1 or 3 channels, found %d." channels, "channels"))
        if height <= 0 || width <= 0 || values.Length <> channels * height * width then
            raise (ArgumentException(sprintf "png: a %d×%d×%d image needs %d values, found %d." channels height width (channels * height * width) values.Length, "values"))
        let stride = 1 + channels * width
        let raw = Array.zeroCreate<byte> (height * stride)
        for y in 0 .. height - 1 do
            for x in 0 .. width - 1 do
                for c in 0 .. channels - 1 do
                    let v = values.[(c * height + y) * width + x]
                    raw.[y * stride + 1 + x * channels + c] <- byte (Math.Round(float (min 1.0f (max 0.0f v)) * 255.0))
        use compressed = new MemoryStream()
        do
            use z = new ZLibStream(compressed, CompressionLevel.Optimal, true)
            z.Write(raw, 0, raw.Length)
        let header = Array.concat [ bigEndian (uint32 width); bigEndian (uint32 height); [| 8uy; (if channels = 1 then 0uy else 2uy); 0uy; 0uy; 0uy |] ]
        Array.concat [ [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 0x0Duy; 0x0Auy; 0x1Auy; 0x0Auy |]
                       chunk "IHDR" header; chunk "IDAT" (compressed.ToArray()); chunk "IEND" [||] ]

    /// A grid of images (rows × columns, each C×H×W in [0, 1]) with a 2-pixel white gutter.
    let grid (channels: int) (height: int) (width: int) (cells: float32[][][]) =
        let rows = cells.Length
        let cols = if rows = 0 then 0 else cells |> Array.map Array.length |> Array.max
        let gh, gw = rows * (height + 2) + 2, cols * (width + 2) + 2
        let out = Array.create (channels * gh * gw) 1.0f
        cells |> Array.iteri (fun r row ->
            row |> Array.iteri (fun k img ->
                for c in 0 .. channels - 1 do
                    for y in 0 .. height - 1 do
                        for x in 0 .. width - 1 do
                            out.[(c * gh + 2 + r * (height + 2) + y) * gw + 2 + k * (width + 2) + x] <- img.[(c * height + y) * width + x]))
        gh, gw, out
