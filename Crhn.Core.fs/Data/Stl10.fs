namespace Crhn.Core.Data

open Crhn
open System
open System.IO
open System.IO.Compression
open System.Formats.Tar
open System.Net
open System.Net.Http
open System.Security.Cryptography

/// STL-10 binary files (train_X.bin, test_X.bin, unlabeled_X.bin; labels in train_y.bin and
/// test_y.bin as bytes 1 to 10): 96×96 RGB images of 27648 bytes each, three channel planes per
/// image, each plane stored column-major (byte of image n, channel c, row y, column x at
/// n·27648 + c·9216 + x·96 + y). Also a resumable, checksum-verified downloader of the archive.
[<RequireQualifiedAccess>]
module Stl10 =

    /// Image side in pixels.
    let Side = 96

    /// Bytes per image: 3 channels of 96×96.
    let ImageBytes = 3 * 96 * 96

    /// Where the archive is published.
    let ArchiveUrl = "http://ai.stanford.edu/~acoates/stl10/stl10_binary.tar.gz"

    /// The published md5 of stl10_binary.tar.gz (the archive at ArchiveUrl).
    let ArchiveMd5 = "91f7769df0f17e558f3565bffb0c7dfb"

    /// The number of images in an STL-10 image file (its length must be a multiple of 27648).
    let imageCount (path: string) =
        if not (File.Exists path) then raise (ArgumentException(sprintf "stl10: %s does not exist." path, "path"))
        // Measured through links: a linked file has its target's length. Only the images asked for
        // are read, so the file may be larger than Files.MaxBytes (unlabeled_X.bin is 2.7 GB).
        let length = (Files.regularUpTo Int64.MaxValue path).Length
        if length % int64 ImageBytes <> 0L then
            raise (DataFormatException(sprintf "%s: length %d is not a multiple of %d (one 3×96×96 image); %d bytes are left over." path length ImageBytes (length % int64 ImageBytes)))
        int (length / int64 ImageBytes)

    /// Images `start` to start + count − 1 of an STL-10 image file as N×3×96×96 float32 values in
    /// [0, 1] (channel planes, row-major); only those images are read.
    let imagesFrom (path: string) (start: int) (count: int) =
        let n = imageCount path
        if start < 0 || count < 0 || int64 start + int64 count > int64 n then
            raise (ArgumentOutOfRangeException("count", count, sprintf "%s holds %d images; %d were asked for%s." path n count (if start = 0 then "" else sprintf " from image %d" start)))
        let bytes = Array.zeroCreate<byte> (count * ImageBytes)
        do
            use f = File.OpenRead path
            f.Position <- int64 start * int64 ImageBytes
            f.ReadExactly(bytes, 0, bytes.Length)
        let plane = Side * Side
        let values = Array.zeroCreate<float32> bytes.Length
        for image in 0 .. count - 1 do
            for c in 0 .. 2 do
                let b = image * ImageBytes + c * plane
                for y in 0 .. Side - 1 do
                    for x in 0 .. Side - 1 do
                        values.[b + y * Side + x] <- float32 bytes.[b + x * Side + y] / 255.0f
        values

    /// The first `count` images of an STL-10 image file (imagesFrom 0).
    let images (path: string) (count: int) = imagesFrom path 0 count

    /// The first `count` labels of an STL-10 label file as class indices 0 to 9 (the stored byte
    /// minus one).
    let labels (path: string) (count: int) =
        if not (File.Exists path) then raise (ArgumentException(sprintf "stl10: %s does not exist." path, "path"))
        let bytes = Files.read path
        if count < 0 || count > bytes.Length then
            raise (ArgumentOutOfRangeException("count", count, sprintf "%s holds %d labels; %d were asked for." path bytes.Length count))
        Array.init count (fun i ->
            let b = bytes.[i]
            if b < 1uy || b > 10uy then raise (DataFormatException(sprintf "%s: label %d is %d; expected 1 to 10." path i b))
            int b - 1)

    let private md5Of (path: string) =
        use f = File.OpenRead path
        Convert.ToHexStringLower(MD5.HashData f)

    /// Downloads `url` into `destination` through `handler`, resuming a partial download
    /// (destination/stl10_binary.tar.gz.part) with an HTTP Range request and starting over when
    /// the server answers with the whole file; checks the md5 (lower-case hex) of the complete
    /// archive, refusing a mismatch with DataFormatException (and deleting the .part file) before
    /// anything is extracted; then extracts the tar.gz into `destination` and deletes the archive.
    /// `progress` receives (bytes done, total bytes or -1 when the server does not say). Blocks
    /// until done and returns destination/stl10_binary.
    let downloadWith (handler: HttpMessageHandler) (url: string) (md5: string) (progress: int64 -> int64 -> unit) (destination: string) =
        Directory.CreateDirectory destination |> ignore
        let part = Path.Combine(destination, "stl10_binary.tar.gz.part")
        use client = new HttpClient(handler, false)
        let have = if File.Exists part then FileInfo(part).Length else 0L
        use request = new HttpRequestMessage(HttpMethod.Get, url)
        if have > 0L then request.Headers.Range <- Headers.RangeHeaderValue(Nullable have, Nullable())
        use response = client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult()
        let complete = response.StatusCode = HttpStatusCode.RequestedRangeNotSatisfiable && have > 0L
        if not complete then
            if not response.IsSuccessStatusCode then
                raise (HttpRequestException(sprintf "stl10: GET %s answered %d %s." url (int response.StatusCode) response.ReasonPhrase))
            let resumed = response.StatusCode = HttpStatusCode.PartialContent
            if resumed then
                let range = response.Content.Headers.ContentRange
                if isNull range || not range.From.HasValue || range.From.Value <> have then
                    raise (HttpRequestException(sprintf "stl10: asked %s for bytes from %d, it sent the range %O." url have range))
            let start = if resumed then have else 0L
            let total =
                if resumed && not (isNull response.Content.Headers.ContentRange) && response.Content.Headers.ContentRange.Length.HasValue then
                    response.Content.Headers.ContentRange.Length.Value
                elif response.Content.Headers.ContentLength.HasValue then start + response.Content.Headers.ContentLength.Value
                else -1L
            use body = response.Content.ReadAsStream()
            use file = new FileStream(part, (if resumed then FileMode.Append else FileMode.Create), FileAccess.Write)
            let buffer = Array.zeroCreate<byte> 65536
            let mutable done' = start
            progress done' total
            let mutable read = body.Read(buffer, 0, buffer.Length)
            while read > 0 do
                file.Write(buffer, 0, read)
                done' <- done' + int64 read
                progress done' total
                read <- body.Read(buffer, 0, buffer.Length)
        let found = md5Of part
        if not (String.Equals(found, md5, StringComparison.OrdinalIgnoreCase)) then
            File.Delete part
            raise (DataFormatException(sprintf "%s: md5 expected %s, found %s; the download was deleted and nothing was extracted." url (md5.ToLowerInvariant()) found))
        do
            use archive = File.OpenRead part
            use gz = new GZipStream(archive, CompressionMode.Decompress)
            TarFile.ExtractToDirectory(gz, destination, true)
        File.Delete part
        Path.Combine(destination, "stl10_binary")

    /// Downloads the STL-10 archive (ArchiveUrl, verified against ArchiveMd5) into `destination`
    /// and extracts it there, resuming an interrupted download; see downloadWith.
    let download (progress: int64 -> int64 -> unit) (destination: string) =
        use handler = new HttpClientHandler()
        downloadWith handler ArchiveUrl ArchiveMd5 progress destination
