namespace Crhn.Core.Data

open Crhn
open System
open System.IO
open System.IO.Compression

/// MNIST / Fashion-MNIST idx files (gzipped or not): a big-endian header — two zero bytes, the
/// element type (0x08 = unsigned byte), the rank — then one big-endian int32 per dimension, then
/// the data. Every declared size is checked against the bytes that are there.
[<RequireQualifiedAccess>]
module Idx =

    /// Where Debian's dataset-fashion-mnist installs the files.
    let FashionMnistFolder = "/usr/share/datasets/fashion-mnist"

    let private bytesOf (path: string) =
        let raw = File.ReadAllBytes path
        if raw.Length >= 2 && raw.[0] = 0x1Fuy && raw.[1] = 0x8Buy then
            use gz = new GZipStream(new MemoryStream(raw), CompressionMode.Decompress)
            use out = new MemoryStream()
            try gz.CopyTo out
            with :? InvalidDataException as e -> raise (DataFormatException(sprintf "%s: the gzip stream is corrupt (%s)." path e.Message))
            out.ToArray()
        else raw

    /// The dimensions and unsigned-byte data of an idx file.
    let read (path: string) =
        let b = bytesOf path
        let fail msg = raise (DataFormatException(sprintf "%s: %s" path msg))
        if b.Length < 4 || b.[0] <> 0uy || b.[1] <> 0uy then fail "not an idx file (it does not start with two zero bytes)."
        if b.[2] <> 0x08uy then fail (sprintf "element type 0x%02x is not unsigned byte (0x08)." b.[2])
        let rank = int b.[3]
        if rank < 1 || b.Length < 4 + 4 * rank then fail "the header is truncated."
        let dims = Array.init rank (fun i -> (int b.[4 + 4 * i] <<< 24) ||| (int b.[5 + 4 * i] <<< 16) ||| (int b.[6 + 4 * i] <<< 8) ||| int b.[7 + 4 * i])
        if Array.exists (fun d -> d < 0) dims then fail (sprintf "negative dimension in %A." dims)
        let count = dims |> Array.fold (fun acc d -> acc * int64 d) 1L
        let offset = 4 + 4 * rank
        if count <> int64 (b.Length - offset) then
            fail (sprintf "the header declares %s = %d values but %d bytes follow it." (String.Join("×", dims)) count (b.Length - offset))
        dims, b.[offset ..]

    /// The first `count` images of an idx image file as N×1×H×W float32 values in [0, 1].
    let images (path: string) (count: int) =
        let dims, data = read path
        if dims.Length <> 3 then raise (DataFormatException(sprintf "%s: expected an image file (rank 3), found rank %d." path dims.Length))
        let n, h, w = dims.[0], dims.[1], dims.[2]
        if count < 0 || count > n then
            raise (ArgumentOutOfRangeException("count", count, sprintf "%s holds %d images; %d were asked for." path n count))
        [| 1; h; w |], Array.init (count * h * w) (fun i -> float32 data.[i] / 255.0f)
