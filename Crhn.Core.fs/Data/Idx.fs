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

    /// An idx file opened (gzipped or not) and its header read: the stream at the data, the
    /// dimensions and the number of values they declare (checked against Files.MaxBytes, and for
    /// an uncompressed file against its length, before any data is read).
    let private openIdx (path: string) =
        let fail msg = raise (DataFormatException(sprintf "%s: %s" path msg))
        let target = Files.regular path
        let file = new FileStream(target.FullName, FileMode.Open, FileAccess.Read, FileShare.Read)
        let gz = file.ReadByte() = 0x1F && file.ReadByte() = 0x8B
        // A gzip file ends with the inflated size mod 2³² (ISIZE): read it now, check it at the end.
        let isize =
            if gz && target.Length >= 18L then
                file.Position <- target.Length - 4L
                let b = Array.init 4 (fun _ -> byte (file.ReadByte()))
                Some(BitConverter.ToUInt32(b, 0))
            else None
        file.Position <- 0L
        let stream: Stream = if gz then new GZipStream(file, CompressionMode.Decompress) else file
        try
            let exactly (n: int) =
                let buffer = Array.zeroCreate<byte> n
                if stream.ReadAtLeast(Span buffer, n, false) < n then fail "the header is truncated."
                buffer
            let head = exactly 4
            if head.[0] <> 0uy || head.[1] <> 0uy then fail "not an idx file (it does not start with two zero bytes)."
            if head.[2] <> 0x08uy then fail (sprintf "element type 0x%02x is not unsigned byte (0x08)." head.[2])
            let rank = int head.[3]
            if rank < 1 then fail "the header is truncated."
            let d = exactly (4 * rank)
            let dims = Array.init rank (fun i -> (int d.[4 * i] <<< 24) ||| (int d.[4 * i + 1] <<< 16) ||| (int d.[4 * i + 2] <<< 8) ||| int d.[4 * i + 3])
            if Array.exists (fun v -> v < 0) dims then fail (sprintf "negative dimension in %A." dims)
            // In float64, so that no product of declared dimensions can overflow the check.
            let declared = dims |> Array.fold (fun acc v -> acc * float v) 1.0
            if declared > float Files.MaxBytes then
                fail (sprintf "the header declares %s = %.0f values, more than the %d a reader reads." (String.Join("×", dims)) declared Files.MaxBytes)
            let count = int64 declared
            let follow = target.Length - int64 (4 + 4 * rank)
            if not gz && count <> follow then
                fail (sprintf "the header declares %s = %d values but %d bytes follow it." (String.Join("×", dims)) count follow)
            stream, dims, count, isize |> Option.map (fun v -> v, uint32 ((int64 (4 + 4 * rank) + count) &&& 0xFFFFFFFFL))
        with
        | :? InvalidDataException as e ->
            stream.Dispose()
            fail (sprintf "the gzip stream is corrupt (%s)." e.Message)
        | _ ->
            stream.Dispose()
            reraise ()

    /// Reads `take` of the `declared` values from an opened idx stream, then inflates the rest (in
    /// small pieces) only to check that exactly `declared` values are there: inflation stops at
    /// the size the header implies.
    let private values (path: string) (stream: Stream) (declared: int64) (trailer: (uint32 * uint32) option) (take: int) =
        let fail msg = raise (DataFormatException(sprintf "%s: %s" path msg))
        try
            let data = Array.zeroCreate<byte> take
            let got = stream.ReadAtLeast(Span data, take, false)
            if got < take then fail (sprintf "the data is truncated: %d values are declared, %d are there." declared got)
            let scratch = Array.zeroCreate<byte> 65536
            let mutable left = declared - int64 take
            while left > 0L do
                let k = stream.Read(scratch, 0, int (min left 65536L))
                if k = 0 then fail (sprintf "the data is truncated: %d values are declared, %d are there." declared (declared - left))
                left <- left - int64 k
            if stream.Read(scratch, 0, 1) > 0 then fail (sprintf "more data follows the %d values the header declares." declared)
            match trailer with
            | Some(stored, inflated) when stored <> inflated ->
                fail (sprintf "the gzip trailer is missing or wrong: it records %d inflated bytes, the stream held %d." stored inflated)
            | _ -> ()
            data
        with :? InvalidDataException as e -> fail (sprintf "the gzip stream is corrupt (%s)." e.Message)

    /// The dimensions and unsigned-byte data of an idx file.
    let read (path: string) =
        let stream, dims, declared, trailer = openIdx path
        use _ = stream
        dims, values path stream declared trailer (int declared)

    /// The first `count` images of an idx image file as N×1×H×W float32 values in [0, 1].
    /// Only the `count` images' bytes are kept; the rest of the file is checked and dropped.
    let images (path: string) (count: int) =
        let stream, dims, declared, trailer = openIdx path
        use _ = stream
        if dims.Length <> 3 then raise (DataFormatException(sprintf "%s: expected an image file (rank 3), found rank %d." path dims.Length))
        let n, h, w = dims.[0], dims.[1], dims.[2]
        if h = 0 || w = 0 then raise (DataFormatException(sprintf "%s: its images are %d×%d; a side of 0 holds no image." path h w))
        if count < 0 || count > n then
            raise (ArgumentOutOfRangeException("count", count, sprintf "%s holds %d images; %d were asked for." path n count))
        let data = values path stream declared trailer (count * h * w)
        [| 1; h; w |], Array.init (count * h * w) (fun i -> float32 data.[i] / 255.0f)
