namespace Crhn.Core.Data

open Crhn
open System
open System.IO

/// CIFAR-10 binary batches (data_batch_1.bin … data_batch_5.bin, then test_batch.bin): records
/// of one label byte (0 to 9) and 3072 pixel bytes, three 32×32 channel planes, row-major.
[<RequireQualifiedAccess>]
module Cifar =

    /// Image side in pixels.
    let Side = 32

    /// Bytes per record: the label byte and 3×32×32 pixel bytes.
    let RecordBytes = 1 + 3 * 32 * 32

    /// The batch files in reading order.
    let Batches = [ for i in 1 .. 5 -> sprintf "data_batch_%d.bin" i ] @ [ "test_batch.bin" ]

    /// The folder that holds the batches: `folder` itself or its cifar-10-batches-bin subfolder.
    let root (folder: string) =
        let nested = Path.Combine(folder, "cifar-10-batches-bin")
        if File.Exists(Path.Combine(folder, Batches.Head)) then folder
        elif File.Exists(Path.Combine(nested, Batches.Head)) then nested
        elif Directory.Exists folder then
            raise (ArgumentException(sprintf "cifar10: neither %s nor %s exists." (Path.Combine(folder, Batches.Head)) (Path.Combine(nested, Batches.Head)), "folder"))
        else raise (ArgumentException(sprintf "cifar10: the folder %s does not exist." folder, "folder"))

    /// The number of records in a batch file (its length must be a multiple of RecordBytes).
    let records (path: string) =
        let length = (Files.regular path).Length
        if length % int64 RecordBytes <> 0L then
            raise (DataFormatException(sprintf "%s: length %d is not a multiple of %d (one label byte and a 3×32×32 image)." path length RecordBytes))
        int (length / int64 RecordBytes)

    /// The batch files present in `folder` (in reading order, up to the first missing one).
    let present (folder: string) =
        let dir = root folder
        dir, Batches |> List.map (fun b -> Path.Combine(dir, b)) |> List.takeWhile File.Exists

    /// Records `start` to start + count − 1 of a batch file as N×3×32×32 float32 values in [0, 1]
    /// and class indices 0 to 9; only those records are read.
    let recordsFrom (path: string) (start: int) (count: int) =
        let n = records path
        if start < 0 || count < 0 || int64 start + int64 count > int64 n then
            raise (ArgumentOutOfRangeException("count", count, sprintf "%s holds %d records; %d were asked for from record %d." path n count start))
        let plane = 3 * Side * Side
        let bytes = Array.zeroCreate<byte> (count * RecordBytes)
        do
            use f = File.OpenRead path
            f.Position <- int64 start * int64 RecordBytes
            f.ReadExactly(bytes, 0, bytes.Length)
        let values = Array.zeroCreate<float32> (count * plane)
        let labels = Array.zeroCreate<int> count
        for r in 0 .. count - 1 do
            let label = bytes.[r * RecordBytes]
            if label > 9uy then raise (DataFormatException(sprintf "%s: record %d has label %d; expected 0 to 9." path (start + r) label))
            labels.[r] <- int label
            for i in 0 .. plane - 1 do
                values.[r * plane + i] <- float32 bytes.[r * RecordBytes + 1 + i] / 255.0f
        values, labels

    /// The first `count` images and labels of the batches in `folder` (concatenated in order) as
    /// N×3×32×32 float32 values in [0, 1] and class indices 0 to 9.
    let read (folder: string) (count: int) =
        if count < 0 then raise (ArgumentOutOfRangeException("count", count, "cifar10: expected a non-negative count."))
        let dir, present = present folder
        let available = present |> List.sumBy records
        if count > available then
            raise (ArgumentOutOfRangeException("count", count, sprintf "%s holds %d images (%s); %d were asked for." dir available (String.Join(", ", present |> List.map Path.GetFileName)) count))
        let plane = 3 * Side * Side
        if int64 count * int64 plane > int64 Array.MaxLength then
            raise (ArgumentOutOfRangeException("count", count, sprintf "cifar10: %d images of 3×32×32 are more values than one array holds; ask for fewer." count))
        let values = Array.zeroCreate<float32> (count * plane)
        let labels = Array.zeroCreate<int> count
        let mutable n = 0
        for path in present do
            let take = min (count - n) (records path)
            if take > 0 then
                let v, l = recordsFrom path 0 take
                Array.blit v 0 values (n * plane) v.Length
                Array.blit l 0 labels n take
                n <- n + take
        values, labels

    /// The first `count` images of the batches in `folder` as N×3×32×32 float32 values in [0, 1].
    let images (folder: string) (count: int) = fst (read folder count)
