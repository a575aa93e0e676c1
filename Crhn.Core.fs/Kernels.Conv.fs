namespace Crhn.Core.Kernels

open System
open System.Numerics
open System.Runtime.Intrinsics
open System.Threading.Tasks
open Crhn.Core

/// A serial GEMM C ← op(A)·op(B) + β·C (α = 1) on flat arrays with offsets and leading
/// dimensions; the convolution kernels call it from inside their own parallel loop.
type SerialGemm<'T> = bool -> bool -> int -> int -> int -> 'T[] -> int -> int -> 'T[] -> int -> int -> 'T -> 'T[] -> int -> int -> unit

/// Splitting a row into its two stride phases (evens, then odds) and merging it back, with one
/// vector shuffle per 16 (or 8) floats: the hot loop of stride-2 im2col/col2im in float32.
module internal StridePhases =

    let private split512 = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15)
    let private merge512 = Vector512.Create(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15)
    let private split256 = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7)
    let private merge256 = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)

    /// dst[dstOff + j] = x[src + 2j] for j < ⌈width/2⌉, then dst[dstOff + ⌈width/2⌉ + j] = x[src + 2j + 1].
    let split (x: float32[]) (src: int) (dst: float32[]) (dstOff: int) (width: int) =
        let half = (width + 1) / 2
        let mutable j = 0
        if Vector512.IsHardwareAccelerated then
            while 2 * j + 16 <= width do
                let v = Vector512.Shuffle(Vector512.Create<float32>(ReadOnlySpan<float32>(x, src + 2 * j, 16)), split512)
                v.GetLower().CopyTo(Span(dst, dstOff + j, 8))
                v.GetUpper().CopyTo(Span(dst, dstOff + half + j, 8))
                j <- j + 8
        elif Vector256.IsHardwareAccelerated then
            while 2 * j + 8 <= width do
                let v = Vector256.Shuffle(Vector256.Create<float32>(ReadOnlySpan<float32>(x, src + 2 * j, 8)), split256)
                v.GetLower().CopyTo(Span(dst, dstOff + j, 4))
                v.GetUpper().CopyTo(Span(dst, dstOff + half + j, 4))
                j <- j + 4
        while 2 * j < width do
            dst.[dstOff + j] <- x.[src + 2 * j]
            if 2 * j + 1 < width then dst.[dstOff + half + j] <- x.[src + 2 * j + 1]
            j <- j + 1

    /// The inverse of split: x[dst + 2j] = p[pOff + j], x[dst + 2j + 1] = p[pOff + ⌈width/2⌉ + j].
    let merge (p: float32[]) (pOff: int) (x: float32[]) (dst: int) (width: int) =
        let half = (width + 1) / 2
        let mutable j = 0
        if Vector512.IsHardwareAccelerated then
            while 2 * j + 16 <= width do
                let v = Vector512.Create(Vector256.Create<float32>(ReadOnlySpan<float32>(p, pOff + j, 8)), Vector256.Create<float32>(ReadOnlySpan<float32>(p, pOff + half + j, 8)))
                Vector512.Shuffle(v, merge512).CopyTo(Span(x, dst + 2 * j, 16))
                j <- j + 8
        elif Vector256.IsHardwareAccelerated then
            while 2 * j + 8 <= width do
                let v = Vector256.Create(Vector128.Create<float32>(ReadOnlySpan<float32>(p, pOff + j, 4)), Vector128.Create<float32>(ReadOnlySpan<float32>(p, pOff + half + j, 4)))
                Vector256.Shuffle(v, merge256).CopyTo(Span(x, dst + 2 * j, 8))
                j <- j + 4
        while 2 * j < width do
            x.[dst + 2 * j] <- p.[pOff + j]
            if 2 * j + 1 < width then x.[dst + 2 * j + 1] <- p.[pOff + half + j]
            j <- j + 1

/// 2-D convolution (cross-correlation, as PyTorch's conv2d) by im2col + GEMM, one image per task,
/// the images split over the cores; its input adjoint (conv_transpose2d) by GEMM + col2im, and its
/// weight gradient by GEMM against the same columns, accumulated per core and summed.
module Conv =

    let private floorDiv (a: int) (b: int) = if a >= 0 then a / b else -((-a + b - 1) / b)

    /// The range [lo, hi] of output positions o whose input position o·stride + k − pad is inside [0, size).
    let private validRange (size: int) (outSize: int) (k: int) (stride: int) (pad: int) =
        let lo = max 0 (-(floorDiv (k - pad) stride))
        let hi = min (outSize - 1) (floorDiv (size - 1 - k + pad) stride)
        lo, hi

    type private Dims =
        { N: int; C: int; H: int; W: int; O: int; KH: int; KW: int; Ho: int; Wo: int; G: ConvGeometry }
        member d.Ckk = d.C * d.KH * d.KW
        member d.HoWo = d.Ho * d.Wo

    let private dims (xShape: int[]) (wShape: int[]) (g: ConvGeometry) =
        { N = xShape.[0]; C = xShape.[1]; H = xShape.[2]; W = xShape.[3]
          O = wShape.[0]; KH = wShape.[2]; KW = wShape.[3]
          Ho = Shape.convOutput xShape.[2] wShape.[2] g.StrideH g.PadH
          Wo = Shape.convOutput xShape.[3] wShape.[3] g.StrideW g.PadW
          G = g }

    /// Where each input row's stride phases start: phase φ holds the row's elements φ, φ + sw, φ + 2sw, …
    let private phaseStarts (d: Dims) =
        Array.init (d.G.StrideW + 1) (fun ph -> Seq.sum (seq { for r in 0 .. ph - 1 -> (d.W - r + d.G.StrideW - 1) / d.G.StrideW }))

    /// For kernel column q: the phase its reads fall in and the shift j − ox of the phase index.
    let private phaseOf (d: Dims) (q: int) =
        let s = d.G.StrideW
        let ph = ((q - d.G.PadW) % s + s) % s
        ph, (q - d.G.PadW - ph) / s

    /// col[(c·KH + p)·KW + q, oy·Wo + ox] = x[n, c, oy·sh + p − ph, ox·sw + q − pw] (0 outside).
    /// Each input row is first split into its sw stride phases (`phases`, H·W scratch), so every
    /// run of a column row is one contiguous copy whatever the stride.
    let private im2col<'T when 'T :> IFloatingPointIeee754<'T>> (d: Dims) (x: 'T[]) (xOff: int) (col: 'T[]) (phases: 'T[]) =
        let s = d.G.StrideW
        let starts = phaseStarts d
        for c in 0 .. d.C - 1 do
            let plane = xOff + c * d.H * d.W
            for iy in 0 .. d.H - 1 do
                let row = iy * d.W
                if s = 1 then ReadOnlySpan(x, plane + row, d.W).CopyTo(Span(phases, row, d.W))
                elif s = 2 && typeof<'T> = typeof<float32> then
                    StridePhases.split (box x :?> float32[]) (plane + row) (box phases :?> float32[]) row d.W
                else
                    for ph in 0 .. s - 1 do
                        let mutable j = starts.[ph]
                        let mutable ix = ph
                        while ix < d.W do
                            phases.[row + j] <- x.[plane + row + ix]
                            j <- j + 1
                            ix <- ix + s
            for p in 0 .. d.KH - 1 do
                let yLo, yHi = validRange d.H d.Ho p d.G.StrideH d.G.PadH
                for q in 0 .. d.KW - 1 do
                    let xLo, xHi = validRange d.W d.Wo q s d.G.PadW
                    let ph, shift = phaseOf d q
                    let rowBase = ((c * d.KH + p) * d.KW + q) * d.HoWo
                    let len = xHi - xLo + 1
                    if yLo > 0 || yHi < d.Ho - 1 || xLo > 0 || xHi < d.Wo - 1 then Span(col, rowBase, d.HoWo).Clear()
                    if len > 0 then
                        let src = starts.[ph] + xLo + shift
                        for oy in yLo .. yHi do
                            ReadOnlySpan(phases, (oy * d.G.StrideH + p - d.G.PadH) * d.W + src, len).CopyTo(Span(col, rowBase + oy * d.Wo + xLo, len))

    /// The adjoint of im2col: x[n, c, iy, ix] = the sum of every column entry that reads it
    /// (accumulated in stride-phase order, then interleaved into x, whose old values are ignored).
    let private col2im<'T when 'T :> IFloatingPointIeee754<'T>> (d: Dims) (col: 'T[]) (x: 'T[]) (xOff: int) (phases: 'T[]) =
        let s = d.G.StrideW
        let starts = phaseStarts d
        for c in 0 .. d.C - 1 do
            Array.Fill(phases, 'T.Zero, 0, d.H * d.W)
            for p in 0 .. d.KH - 1 do
                let yLo, yHi = validRange d.H d.Ho p d.G.StrideH d.G.PadH
                for q in 0 .. d.KW - 1 do
                    let xLo, xHi = validRange d.W d.Wo q s d.G.PadW
                    let ph, shift = phaseOf d q
                    let rowBase = ((c * d.KH + p) * d.KW + q) * d.HoWo
                    if xHi >= xLo then
                        let len = xHi - xLo + 1
                        for oy in yLo .. yHi do
                            let iy = oy * d.G.StrideH + p - d.G.PadH
                            let dst = Span(phases, iy * d.W + starts.[ph] + xLo + shift, len)
                            Numerics.Tensors.TensorPrimitives.Add(Span<'T>.op_Implicit dst, ReadOnlySpan(col, rowBase + oy * d.Wo + xLo, len), dst)
            let plane = xOff + c * d.H * d.W
            for iy in 0 .. d.H - 1 do
                let row = iy * d.W
                if s = 2 && typeof<'T> = typeof<float32> then
                    StridePhases.merge (box phases :?> float32[]) row (box x :?> float32[]) (plane + row) d.W
                else
                    for ph in 0 .. s - 1 do
                        let mutable j = starts.[ph]
                        let mutable ix = ph
                        while ix < d.W do
                            x.[plane + row + ix] <- phases.[row + j]
                            j <- j + 1
                            ix <- ix + s

    /// Runs body(state, n) for every image n, the images split into one contiguous chunk per core;
    /// each chunk gets its own state from init (scratch buffers, partial sums), and finish sees the
    /// states in chunk order once all are done, so reductions add up in the same order on every
    /// run (same seed, same bits).
    let private overImages (n: int) (init: unit -> 'S) (body: 'S -> int -> unit) (finish: 'S -> unit) =
        let workers = max 1 (min Environment.ProcessorCount n)
        let states = Array.zeroCreate<'S> workers
        let chunk (w: int) =
            let state = init ()
            for i in w * n / workers .. (w + 1) * n / workers - 1 do
                body state i
            states.[w] <- state
        if workers = 1 then chunk 0
        else Parallel.For(0, workers, Action<int>(chunk)) |> ignore
        Array.iter finish states

    /// One worker's buffers: the columns of one image (every element written by im2col or by a
    /// GEMM with β = 0) and the stride phases of one channel (every element written before it is read).
    let private scratchFor<'T> (d: Dims) () = Storage.uninit<'T> (d.Ckk * d.HoWo), Storage.uninit<'T> (d.H * d.W)

    let private releaseScratch<'T> (col: 'T[], phases: 'T[]) =
        Storage.release col
        Storage.release phases

    /// y = conv2d(x, w): x N×C×H×W, w O×C×KH×KW, y N×O×Ho×Wo.
    let forward<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (x: 'T[]) (wShape: int[]) (w: 'T[]) (g: ConvGeometry) =
        let d = dims xShape wShape g
        let scratch = scratchFor<'T> d
        // Every element is written by the GEMMs (β = 0): no zeroing pass before the parallel loop.
        let y = Storage.uninit<'T>(d.N * d.O * d.HoWo)
        overImages d.N
            scratch
            (fun (col, phases) n ->
                im2col d x (n * d.C * d.H * d.W) col phases
                gemm false false d.O d.HoWo d.Ckk w 0 d.Ckk col 0 d.HoWo 'T.Zero y (n * d.O * d.HoWo) d.HoWo)
            releaseScratch
        [| d.N; d.O; d.Ho; d.Wo |], y

    /// dx = conv2dᵀ(dy, w), the input adjoint (conv_transpose2d of dy), for an input of xShape.
    let backwardInput<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (dy: 'T[]) (wShape: int[]) (w: 'T[]) (g: ConvGeometry) =
        let d = dims xShape wShape g
        let scratch = scratchFor<'T> d
        // col2im writes every element of its image.
        let dx = Storage.uninit<'T>(Shape.numel xShape)
        overImages d.N
            scratch
            (fun (col, phases) n ->
                gemm true false d.Ckk d.HoWo d.O w 0 d.Ckk dy (n * d.O * d.HoWo) d.HoWo 'T.Zero col 0 d.HoWo
                col2im d col dx (n * d.C * d.H * d.W) phases)
            releaseScratch
        dx

    /// dw = Σₙ dy[n]·im2col(x[n])ᵀ, the weight gradient of conv2d, with `alsoPerImage col phases n`
    /// run on each image's columns right after its share of dw (for work that needs the same
    /// columns or dy[n] while hot). Each worker accumulates dwᵀ = Σₙ im2col(x[n])·dy[n]ᵀ (Ckk×O: the
    /// long side first fills the GEMM's register tiles better), and the partial sums are added
    /// and transposed once at the end.
    let private weightSweep<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (d: Dims) (x: 'T[]) (dy: 'T[]) (alsoPerImage: 'T[] -> 'T[] -> int -> unit) =
        let scratch = scratchFor<'T> d
        let total = Storage.zeros<'T> (d.Ckk * d.O)
        overImages d.N
            (fun () ->
                let col, phases = scratch ()
                col, phases, Storage.zeros<'T> (d.Ckk * d.O))
            (fun (col, phases, acc) n ->
                im2col d x (n * d.C * d.H * d.W) col phases
                gemm false true d.Ckk d.O d.HoWo col 0 d.HoWo dy (n * d.O * d.HoWo) d.HoWo 'T.One acc 0 d.O
                alsoPerImage col phases n)
            (fun (col, phases, acc) ->
                Numerics.Tensors.TensorPrimitives.Add(ReadOnlySpan total, ReadOnlySpan acc, Span total)
                releaseScratch (col, phases)
                Storage.release acc)
        let dw = Layout.permute [| d.Ckk; d.O |] total [| 1; 0 |]
        Storage.release total
        dw

    /// dw = Σₙ dy[n]·im2col(x[n])ᵀ, the weight gradient of conv2d.
    let backwardWeight<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (x: 'T[]) (dy: 'T[]) (wShape: int[]) (g: ConvGeometry) =
        weightSweep gemm (dims xShape wShape g) x dy (fun _ _ _ -> ())

    /// conv2d(x, w) and the weight gradient Σₙ dy[n]·im2col(x[n])ᵀ in one sweep, each image's
    /// columns built once for both GEMMs: the reverse pass of conv_transpose2d (x its output's
    /// gradient, dy its input). Returns (output shape, y, dw).
    let forwardAndWeight<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (x: 'T[]) (wShape: int[]) (w: 'T[]) (dy: 'T[]) (g: ConvGeometry) =
        let d = dims xShape wShape g
        let y = Storage.uninit<'T>(d.N * d.O * d.HoWo)
        let dw = weightSweep gemm d x dy (fun col _ n -> gemm false false d.O d.HoWo d.Ckk w 0 d.Ckk col 0 d.HoWo 'T.Zero y (n * d.O * d.HoWo) d.HoWo)
        [| d.N; d.O; d.Ho; d.Wo |], y, dw

    /// Both gradients of conv2d in one sweep over the images: for each image, dwᵀ += im2col(x[n])·dy[n]ᵀ,
    /// then dx[n] by GEMM + col2im into the same column buffer, so dy[n] is read while it is hot.
    /// Returns (dx, dw).
    let backward<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (x: 'T[]) (dy: 'T[]) (wShape: int[]) (w: 'T[]) (g: ConvGeometry) =
        let d = dims xShape wShape g
        let dx = Storage.uninit<'T>(Shape.numel xShape)
        let dw =
            weightSweep gemm d x dy (fun col phases n ->
                gemm true false d.Ckk d.HoWo d.O w 0 d.Ckk dy (n * d.O * d.HoWo) d.HoWo 'T.Zero col 0 d.HoWo
                col2im d col dx (n * d.C * d.H * d.W) phases)
        dx, dw
