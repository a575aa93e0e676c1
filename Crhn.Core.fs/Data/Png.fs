namespace Crhn.Core.Data

open Crhn
open System
open System.IO
open System.IO.Compression

/// PNG writing with no image library: 8-bit grey or RGB, one IDAT chunk compressed with zlib
/// (System.IO.Compression), CRC-32 per chunk (ISO-HDLC polynomial 0xEDB88320). Reading takes
/// 8-bit non-interlaced grey, grey+alpha, RGB, RGBA and palette images (alpha is dropped).
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

    let private readBigEndian (b: byte[]) (at: int) =
        (uint32 b.[at] <<< 24) ||| (uint32 b.[at + 1] <<< 16) ||| (uint32 b.[at + 2] <<< 8) ||| uint32 b.[at + 3]

    let private paeth (a: int) (b: int) (c: int) =
        let p = a + b - c
        let pa, pb, pc = abs (p - a), abs (p - b), abs (p - c)
        if pa <= pb && pa <= pc then a elif pb <= pc then b else c

    /// Undoes the per-row filters: `raw` holds height rows of 1 filter byte + `stride` bytes.
    let private unfilter (raw: byte[]) (height: int) (stride: int) (bpp: int) =
        let out = Array.zeroCreate<byte> (height * stride)
        for y in 0 .. height - 1 do
            let filter = raw.[y * (stride + 1)]
            let src, row, prev = y * (stride + 1) + 1, y * stride, (y - 1) * stride
            for i in 0 .. stride - 1 do
                let a = if i >= bpp then int out.[row + i - bpp] else 0
                let b = if y > 0 then int out.[prev + i] else 0
                let c = if y > 0 && i >= bpp then int out.[prev + i - bpp] else 0
                let predictor =
                    match filter with
                    | 0uy -> 0
                    | 1uy -> a
                    | 2uy -> b
                    | 3uy -> (a + b) / 2
                    | 4uy -> paeth a b c
                    | f -> raise (DataFormatException(sprintf "png: row %d has filter type %d; expected 0 to 4." y f))
                out.[row + i] <- byte ((int raw.[src + i] + predictor) &&& 0xFF)
        out

    /// Decodes PNG bytes to (channels, height, width, values): C×H×W channel planes in [0, 1], with
    /// C = 1 for grey and grey+alpha and C = 3 for RGB, RGBA and palette images (alpha dropped).
    /// Takes 8-bit, non-interlaced images; checks every chunk's CRC.
    /// The most bytes of float32 values the decoder makes of one image (256 MiB: 8,192² RGB).
    [<Literal>]
    let MaxDecodedBytes = 268435456L

    let decode (bytes: byte[]) =
        let fail msg = raise (DataFormatException("png: " + msg))
        let signature = [| 0x89uy; 0x50uy; 0x4Euy; 0x47uy; 0x0Duy; 0x0Auy; 0x1Auy; 0x0Auy |]
        if bytes.Length < 8 || bytes.[.. 7] <> signature then fail "not a PNG file (the 8-byte signature is missing)."
        let mutable at = 8
        let mutable header = None
        let mutable palette = None
        use idat = new MemoryStream()
        let mutable ended = false
        while not ended do
            if at + 12 > bytes.Length then fail (sprintf "truncated at byte %d: expected a chunk header, found %d bytes (no IEND chunk)." at (bytes.Length - at))
            let length = readBigEndian bytes at
            if length > uint32 (bytes.Length - at - 12) then
                fail (sprintf "chunk at byte %d declares %d data bytes but only %d remain." at length (bytes.Length - at - 12))
            let n = int length
            let typed = bytes.[at + 4 .. at + 7 + n]
            let kind = Text.Encoding.ASCII.GetString(typed, 0, 4)
            let stored, computed = readBigEndian bytes (at + 8 + n), crc32 typed
            if stored <> computed then fail (sprintf "chunk %s at byte %d: CRC expected 0x%08x, found 0x%08x." kind at computed stored)
            let data = typed.[4 ..]
            if kind <> "IHDR" && header.IsNone then fail (sprintf "chunk %s at byte %d comes before IHDR, which must be first." kind at)
            match kind with
            | "IHDR" ->
                if at <> 8 then fail (sprintf "a second IHDR chunk at byte %d." at)
                if n <> 13 then fail (sprintf "IHDR holds %d bytes; expected 13." n)
                header <- Some data
            | "PLTE" ->
                if n % 3 <> 0 || n = 0 || n > 768 then fail (sprintf "PLTE holds %d bytes; expected a positive multiple of 3 up to 768." n)
                if idat.Length > 0L then fail "PLTE comes after IDAT."
                palette <- Some data
            | "IDAT" -> idat.Write(data, 0, n)
            | "IEND" -> ended <- true
            // Bit 5 of the first letter clear: a critical chunk, which a decoder must understand.
            | _ when typed.[0] &&& 0x20uy = 0uy -> fail (sprintf "unknown critical chunk %s at byte %d." kind at)
            | _ -> ()
            at <- at + 12 + n
        let h =
            match header with
            | Some h -> h
            | None -> fail "no IHDR chunk."
        let width, height = readBigEndian h 0, readBigEndian h 4
        let depth, colour, compression, filtering, interlace = h.[8], h.[9], h.[10], h.[11], h.[12]
        if width = 0u || height = 0u || width > 0x7FFFu || height > 0x7FFFu then fail (sprintf "image size %d×%d is outside 1 to 32767." width height)
        if depth <> 8uy then fail (sprintf "bit depth %d is not supported; expected 8." depth)
        if compression <> 0uy || filtering <> 0uy then fail (sprintf "compression method %d / filter method %d; expected 0 / 0." compression filtering)
        if interlace <> 0uy then fail (sprintf "interlace method %d (Adam7) is not supported; expected 0 (non-interlaced)." interlace)
        let samples =
            match colour with
            | 0uy -> 1
            | 2uy -> 3
            | 3uy -> 1
            | 4uy -> 2
            | 6uy -> 4
            | c -> fail (sprintf "colour type %d; expected 0, 2, 3, 4 or 6." c)
        let width, height = int width, int height
        let stride = width * samples
        // The pixels (and the float32 image made of them) must fit the reader's bound before
        // anything is inflated; inflation then stops at the size the header implies.
        let expected = int64 height * int64 (stride + 1)
        if expected * 4L > MaxDecodedBytes then
            fail (sprintf "a %d×%d image with %d bytes a pixel decodes to %d bytes of float32 values, more than the %d a reader makes of one image." width height samples (expected * 4L) MaxDecodedBytes)
        let raw =
            use z = new ZLibStream(new MemoryStream(idat.ToArray()), CompressionMode.Decompress)
            let out = Array.zeroCreate<byte> (int expected)
            let got =
                try
                    let got = z.ReadAtLeast(Span out, out.Length, false)
                    if got = out.Length && z.Read(Array.zeroCreate<byte> 1, 0, 1) > 0 then
                        fail (sprintf "the IDAT stream inflates to more than the %d bytes a %d×%d image needs." out.Length width height)
                    got
                with :? InvalidDataException as e -> fail (sprintf "the IDAT zlib stream is corrupt (%s)." e.Message)
            if got <> out.Length then
                fail (sprintf "a %d×%d image with %d bytes a pixel needs %d decompressed bytes, found %d." width height samples out.Length got)
            out
        let pixels = unfilter raw height stride samples
        let plane = height * width
        match colour with
        | 3uy ->
            let p =
                match palette with
                | Some p -> p
                | None -> fail "a palette image (colour type 3) has no PLTE chunk."
            let entries = p.Length / 3
            let values = Array.zeroCreate<float32> (3 * plane)
            for i in 0 .. plane - 1 do
                let index = int pixels.[i]
                if index >= entries then fail (sprintf "pixel %d uses palette entry %d; the palette has %d entries." i index entries)
                for c in 0 .. 2 do
                    values.[c * plane + i] <- float32 p.[3 * index + c] / 255.0f
            3, height, width, values
        | _ ->
            let channels = if samples >= 3 then 3 else 1
            channels, height, width, Array.init (channels * plane) (fun i -> float32 pixels.[(i % plane) * samples + i / plane] / 255.0f)
