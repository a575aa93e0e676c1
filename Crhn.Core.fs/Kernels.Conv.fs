namespace Crhn.Core.Kernels

open System
open System.Numerics
open System.Threading.Tasks
open Crhn.Core

/// A serial GEMM C ← op(A)·op(B) + β·C (α = 1) on flat arrays with offsets and leading
/// dimensions; the convolution kernels call it from inside their own parallel loop.
type SerialGemm<'T> = bool -> bool -> int -> int -> int -> 'T[] -> int -> int -> 'T[] -> int -> int -> 'T -> 'T[] -> int -> int -> unit

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

    /// col[(c·KH + p)·KW + q, oy·Wo + ox] = x[n, c, oy·sh + p − ph, ox·sw + q − pw] (0 outside).
    let private im2col<'T when 'T :> IFloatingPointIeee754<'T>> (d: Dims) (x: 'T[]) (xOff: int) (col: 'T[]) =
        for c in 0 .. d.C - 1 do
            for p in 0 .. d.KH - 1 do
                let yLo, yHi = validRange d.H d.Ho p d.G.StrideH d.G.PadH
                for q in 0 .. d.KW - 1 do
                    let xLo, xHi = validRange d.W d.Wo q d.G.StrideW d.G.PadW
                    let rowBase = ((c * d.KH + p) * d.KW + q) * d.HoWo
                    Array.Fill(col, 'T.Zero, rowBase, d.HoWo)
                    for oy in yLo .. yHi do
                        let src = xOff + (c * d.H + oy * d.G.StrideH + p - d.G.PadH) * d.W + q - d.G.PadW
                        let dst = rowBase + oy * d.Wo
                        if d.G.StrideW = 1 then
                            if xHi >= xLo then Array.blit x (src + xLo) col (dst + xLo) (xHi - xLo + 1)
                        else
                            for ox in xLo .. xHi do
                                col.[dst + ox] <- x.[src + ox * d.G.StrideW]

    /// The adjoint of im2col: x[n, c, iy, ix] += every column entry that reads it.
    let private col2im<'T when 'T :> IFloatingPointIeee754<'T>> (d: Dims) (col: 'T[]) (x: 'T[]) (xOff: int) =
        for c in 0 .. d.C - 1 do
            for p in 0 .. d.KH - 1 do
                let yLo, yHi = validRange d.H d.Ho p d.G.StrideH d.G.PadH
                for q in 0 .. d.KW - 1 do
                    let xLo, xHi = validRange d.W d.Wo q d.G.StrideW d.G.PadW
                    let rowBase = ((c * d.KH + p) * d.KW + q) * d.HoWo
                    for oy in yLo .. yHi do
                        let dstBase = xOff + (c * d.H + oy * d.G.StrideH + p - d.G.PadH) * d.W + q - d.G.PadW
                        let src = rowBase + oy * d.Wo
                        for ox in xLo .. xHi do
                            let i = dstBase + ox * d.G.StrideW
                            x.[i] <- x.[i] + col.[src + ox]

    /// Runs body(first, last, worker) over contiguous chunks of the images, one chunk per core.
    let private overImages (n: int) (body: int -> int -> int -> unit) =
        let workers = max 1 (min Environment.ProcessorCount n)
        if workers = 1 then body 0 n 0
        else
            Parallel.For(0, workers, fun w -> body (w * n / workers) ((w + 1) * n / workers) w) |> ignore
        workers

    /// y = conv2d(x, w): x N×C×H×W, w O×C×KH×KW, y N×O×Ho×Wo.
    let forward<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (x: 'T[]) (wShape: int[]) (w: 'T[]) (g: ConvGeometry) =
        let d = dims xShape wShape g
        let y = Array.zeroCreate<'T> (d.N * d.O * d.HoWo)
        overImages d.N (fun first last _ ->
            let col = Array.zeroCreate<'T> (d.Ckk * d.HoWo)
            for n in first .. last - 1 do
                im2col d x (n * d.C * d.H * d.W) col
                gemm false false d.O d.HoWo d.Ckk w 0 d.Ckk col 0 d.HoWo 'T.Zero y (n * d.O * d.HoWo) d.HoWo)
        |> ignore
        [| d.N; d.O; d.Ho; d.Wo |], y

    /// dx = conv2dᵀ(dy, w), the input adjoint (conv_transpose2d of dy), for an input of xShape.
    let backwardInput<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (dy: 'T[]) (wShape: int[]) (w: 'T[]) (g: ConvGeometry) =
        let d = dims xShape wShape g
        let dx = Array.zeroCreate<'T> (Shape.numel xShape)
        overImages d.N (fun first last _ ->
            let col = Array.zeroCreate<'T> (d.Ckk * d.HoWo)
            for n in first .. last - 1 do
                gemm true false d.Ckk d.HoWo d.O w 0 d.Ckk dy (n * d.O * d.HoWo) d.HoWo 'T.Zero col 0 d.HoWo
                col2im d col dx (n * d.C * d.H * d.W))
        |> ignore
        dx

    /// dw = Σₙ dy[n]·im2col(x[n])ᵀ, the weight gradient of conv2d.
    let backwardWeight<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (x: 'T[]) (dy: 'T[]) (wShape: int[]) (g: ConvGeometry) =
        let d = dims xShape wShape g
        let workers = max 1 (min Environment.ProcessorCount d.N)
        let partial = Array.init workers (fun _ -> Array.zeroCreate<'T> (d.O * d.Ckk))
        overImages d.N (fun first last worker ->
            let col = Array.zeroCreate<'T> (d.Ckk * d.HoWo)
            for n in first .. last - 1 do
                im2col d x (n * d.C * d.H * d.W) col
                gemm false true d.O d.Ckk d.HoWo dy (n * d.O * d.HoWo) d.HoWo col 0 d.HoWo 'T.One partial.[worker] 0 d.Ckk)
        |> ignore
        let dw = partial.[0]
        for p in 1 .. workers - 1 do
            Numerics.Tensors.TensorPrimitives.Add(ReadOnlySpan dw, ReadOnlySpan partial.[p], Span dw)
        dw
