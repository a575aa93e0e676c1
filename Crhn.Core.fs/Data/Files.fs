namespace Crhn.Core.Data

open Crhn
open System
open System.IO

/// How every reader opens a file: links are followed, and only a regular file of 1 to MaxBytes
/// bytes is read. A pipe, a device, an empty file or a dangling link is refused without being
/// opened (a pipe would block, a device would never end), so no file can make a reader hang or
/// hold more memory than the file's own size.
[<RequireQualifiedAccess>]
module Files =

    /// The most bytes a reader reads from one file (512 MiB), and the most an idx file may declare.
    [<Literal>]
    let MaxBytes = 536870912L

    /// The regular file a path names, links followed: FileNotFoundException when nothing is there,
    /// DataFormatException when it cannot be read as a regular file of 1 to `limit` bytes (a reader
    /// that reads only part of a file, as STL-10's does, passes a larger limit than MaxBytes).
    let regularUpTo (limit: int64) (path: string) : FileInfo =
        let info = FileInfo path
        let target =
            if isNull info.LinkTarget then info
            else
                match info.ResolveLinkTarget true with
                | :? FileInfo as t -> t
                | _ -> raise (DataFormatException(sprintf "%s is a link to a folder, not a file." path))
        if not target.Exists then
            if isNull info.LinkTarget then raise (FileNotFoundException(sprintf "No file at %s." path, path))
            else raise (DataFormatException(sprintf "%s is a link to %s, which does not exist." path target.FullName))
        if target.Length = 0L then
            raise (DataFormatException(sprintf "%s is empty or not a regular file (a pipe or a device): refused without reading it." path))
        if target.Length > limit then
            raise (DataFormatException(sprintf "%s holds %d bytes, more than the %d a reader reads from one file." path target.Length limit))
        target

    /// The regular file a path names (regularUpTo MaxBytes).
    let regular (path: string) = regularUpTo MaxBytes path

    /// Every byte of a regular file (`regular`).
    let read (path: string) =
        let target = regular path
        use file = new FileStream(target.FullName, FileMode.Open, FileAccess.Read, FileShare.Read)
        let bytes = Array.zeroCreate<byte> (int target.Length)
        try file.ReadExactly(bytes, 0, bytes.Length)
        with :? EndOfStreamException -> raise (DataFormatException(sprintf "%s shrank while it was read." path))
        bytes
