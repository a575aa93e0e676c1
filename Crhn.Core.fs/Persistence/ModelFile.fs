namespace Crhn.Core

open Crhn
open System
open System.IO
open System.Security.Cryptography
open System.Text

/// The saved-model format, version 1 (little-endian):
///   magic "CRHNMDL\0" · u32 version · u32 entry count · entries (u32 key length, UTF-8 key,
///   u32 value length, UTF-8 value) · u32 tensor count · tensors (u32 name length, UTF-8 name,
///   u8 dtype (0 float32, 1 float64), u32 rank, u32 dims…, raw values) · SHA-256 of all the bytes
///   before it.
/// Writing is atomic (a temporary file in the same folder, flushed to disk, then renamed over the
/// target). Reading checks the checksum before it parses anything, and every declared length
/// against the bytes left before it allocates, so no header can make it allocate more than the
/// file holds.
[<RequireQualifiedAccess>]
module ModelFile =

    let private magic = "CRHNMDL\000"B

    /// The version this library writes and reads.
    let Version = 1u

    /// Serialises text entries and named tensors.
    let toBytes (entries: (string * string) list) (tensors: (string * RawTensor) list) =
        use ms = new MemoryStream()
        use w = new BinaryWriter(ms, UTF8Encoding(false), true)
        let text (s: string) =
            let b = Encoding.UTF8.GetBytes s
            w.Write(uint32 b.Length)
            w.Write b
        w.Write magic
        w.Write Version
        w.Write(uint32 entries.Length)
        for k, v in entries do
            text k
            text v
        w.Write(uint32 tensors.Length)
        for name, t in tensors do
            text name
            w.Write(match t.Dtype with Dtype.Float32 -> 0uy | Dtype.Float64 -> 1uy)
            w.Write(uint32 t.Shape.Length)
            for d in t.Shape do w.Write(uint32 d)
            match t.Dtype with
            | Dtype.Float32 -> for v in t.ToFloat32Array() do w.Write v
            | Dtype.Float64 -> for v in t.ToFloat64Array() do w.Write v
        w.Flush()
        let body = ms.ToArray()
        Array.append body (SHA256.HashData body)

    /// Parses bytes written by toBytes; throws ModelFormatException for anything else.
    let ofBytes (bytes: byte[]) =
        let fail msg = raise (ModelFormatException msg)
        if bytes.Length < magic.Length || bytes.[.. magic.Length - 1] <> magic then
            fail "This is not a Crhn model file (its first bytes are not the CRHNMDL signature)."
        if bytes.Length < magic.Length + 4 + 32 then fail (sprintf "The model file is truncated: %d bytes is too short to hold a header and a checksum." bytes.Length)
        let version = BitConverter.ToUInt32(bytes, magic.Length)
        if version <> Version then
            fail (sprintf "The model file is format version %d; this library reads version %d%s." version Version (if version > Version then " (it was written by a newer Crhn)" else ""))
        let body = bytes.[.. bytes.Length - 33]
        if SHA256.HashData body <> bytes.[bytes.Length - 32 ..] then
            fail "The model file's checksum does not match: it is truncated, corrupted or was modified."
        let mutable pos = magic.Length + 4
        let need (n: int64) (what: string) =
            if n < 0L || int64 pos + n > int64 body.Length then
                fail (sprintf "The model file is malformed: %s needs %d bytes but only %d remain." what n (body.Length - pos))
        let u32 (what: string) =
            need 4L what
            let v = BitConverter.ToUInt32(body, pos)
            pos <- pos + 4
            v
        let text (what: string) =
            let n = int64 (u32 what)
            need n what
            let s = Encoding.UTF8.GetString(body, pos, int n)
            pos <- pos + int n
            s
        let entryCount = u32 "the entry count"
        // Each entry takes at least 8 bytes: a count beyond what is left is malformed.
        need (int64 entryCount * 8L) "the entries"
        let entries = [ for _ in 1u .. entryCount -> let k = text "an entry key" in k, text "an entry value" ]
        let twice (what: string) (names: string list) =
            match names |> List.countBy id |> List.tryFind (fun (_, n) -> n > 1) with
            | Some(name, _) -> fail (sprintf "The model file is malformed: %s \"%s\" appears more than once." what name)
            | None -> ()
        twice "the entry" (List.map fst entries)
        let tensorCount = u32 "the tensor count"
        need (int64 tensorCount * 9L) "the tensors"
        let tensors =
            [ for _ in 1u .. tensorCount ->
                let name = text "a tensor name"
                need 1L "a dtype"
                let dtype = body.[pos]
                pos <- pos + 1
                if dtype > 1uy then fail (sprintf "The model file is malformed: tensor %s has unknown element type %d." name dtype)
                let rank = u32 "a rank"
                need (int64 rank * 4L) "the dimensions"
                let shape = Array.init (int rank) (fun _ -> u32 "a dimension")
                let size = if dtype = 0uy then 4L else 8L
                // In float64 first, so that no product of declared dimensions can overflow the check.
                let declared = shape |> Array.fold (fun acc d -> acc * float d) (float size)
                if Array.exists (fun d -> d > uint32 Int32.MaxValue) shape || declared > float (body.Length - pos) then
                    fail (sprintf "The model file is malformed: tensor %s declares %s, more than the %d bytes left." name (String.Join("×", shape)) (body.Length - pos))
                let count = shape |> Array.fold (fun acc d -> acc * int64 d) 1L
                need (count * size) (sprintf "tensor %s" name)
                let dims = shape |> Array.map int
                let t =
                    if dtype = 0uy then
                        let values = Array.init (int count) (fun i -> BitConverter.ToSingle(body, pos + 4 * i))
                        if not (Array.forall Single.IsFinite values) then fail (sprintf "The model file's tensor %s holds NaN or infinite values." name)
                        Backends.Current().OfFloat32(dims, values)
                    else
                        let values = Array.init (int count) (fun i -> BitConverter.ToDouble(body, pos + 8 * i))
                        if not (Array.forall Double.IsFinite values) then fail (sprintf "The model file's tensor %s holds NaN or infinite values." name)
                        Backends.Current().OfFloat64(dims, values)
                pos <- pos + int (count * size)
                name, t ]
        if pos <> body.Length then fail (sprintf "The model file is malformed: %d unexpected bytes follow the last tensor." (body.Length - pos))
        twice "the tensor" (List.map fst tensors)
        entries, tensors

    /// How long a temporary file of an interrupted save is left alone (a save in progress in
    /// another process may still own it); older ones are removed by the next save of the target.
    let StaleAfter = TimeSpan.FromMinutes 10.0

    /// Writes atomically: a temporary file beside the target, flushed to disk, renamed over it;
    /// the temporary file is removed if the write fails, and temporary files of the same target
    /// that earlier saves left behind (killed processes) are removed once older than StaleAfter.
    let save (path: string) (entries: (string * string) list) (tensors: (string * RawTensor) list) =
        let full = Path.GetFullPath path
        let dir = Path.GetDirectoryName full
        if not (Directory.Exists dir) then raise (DirectoryNotFoundException(sprintf "The folder %s does not exist." dir))
        for stale in Directory.EnumerateFiles(dir, sprintf ".%s.*.tmp" (Path.GetFileName full)) do
            try
                if DateTime.UtcNow - File.GetLastWriteTimeUtc stale > StaleAfter then File.Delete stale
            with :? IOException | :? UnauthorizedAccessException -> ()
        let tmp = Path.Combine(dir, sprintf ".%s.%s.tmp" (Path.GetFileName full) (Guid.NewGuid().ToString("N")))
        try
            do
                use fs = new FileStream(tmp, FileMode.CreateNew, FileAccess.Write, FileShare.None)
                fs.Write(toBytes entries tensors)
                fs.Flush(true)
            File.Move(tmp, full, true)
        finally
            if File.Exists tmp then File.Delete tmp

    /// Reads a model file (throws ModelFormatException when it is not a readable model, and the
    /// usual IO exceptions when it cannot be opened).
    /// Only a regular file is read (links followed): a pipe, a device or an empty file is refused
    /// without being opened (Data.Files).
    let load (path: string) =
        let bytes =
            try Data.Files.read path
            with :? DataFormatException as e -> raise (ModelFormatException e.Message)
        ofBytes bytes
