namespace Crhn.Core.Data

open System

/// Image resizing and channel conversion for N×C×H×W float32 batches (channel planes, row-major).
/// Bilinear resizing follows PyTorch's `F.interpolate(mode='bilinear', align_corners=False)`:
/// the source coordinate of output index d is (d + 0.5)·(in / out) − 0.5, clamped below at 0,
/// and the two neighbours are the floor of that coordinate and the next index (the last index
/// repeats at the far edge).
[<RequireQualifiedAccess>]
module Resize =

    /// For each output index along one axis: the two source indices and their weights.
    let taps (input: int) (output: int) =
        let scale = float32 input / float32 output
        Array.init output (fun d ->
            let src = max 0.0f (scale * (float32 d + 0.5f) - 0.5f)
            let i0 = min (int src) (input - 1)
            let i1 = if i0 < input - 1 then i0 + 1 else i0
            let l1 = src - float32 i0
            struct (i0, i1, 1.0f - l1, l1))

    /// Bilinearly resizes `count` images of channels×height×width to channels×outHeight×outWidth.
    let bilinear (count: int) (channels: int) (height: int) (width: int) (outHeight: int) (outWidth: int) (values: float32[]) =
        if count < 0 || channels <= 0 || height <= 0 || width <= 0 then
            raise (ArgumentException(sprintf "resize: expected a non-negative count and a positive input size, found %d×%d×%d×%d." count channels height width, "count"))
        if outHeight <= 0 || outWidth <= 0 then
            raise (ArgumentException(sprintf "resize: expected a positive output size, found %d×%d." outHeight outWidth, "outHeight"))
        if values.Length <> count * channels * height * width then
            raise (ArgumentException(sprintf "resize: %d×%d×%d×%d images need %d values, found %d." count channels height width (count * channels * height * width) values.Length, "values"))
        let rows, cols = taps height outHeight, taps width outWidth
        let out = Array.zeroCreate<float32> (count * channels * outHeight * outWidth)
        for plane in 0 .. count * channels - 1 do
            let src, dst = plane * height * width, plane * outHeight * outWidth
            for y in 0 .. outHeight - 1 do
                let struct (y0, y1, wy0, wy1) = rows.[y]
                let r0, r1 = src + y0 * width, src + y1 * width
                for x in 0 .. outWidth - 1 do
                    let struct (x0, x1, wx0, wx1) = cols.[x]
                    out.[dst + y * outWidth + x] <-
                        wy0 * (wx0 * values.[r0 + x0] + wx1 * values.[r0 + x1])
                        + wy1 * (wx0 * values.[r1 + x0] + wx1 * values.[r1 + x1])
        out

    /// Resizes one C×H×W image, given as (channels, height, width, values), to height×width.
    let toSize (height: int) (width: int) (channels: int, inHeight: int, inWidth: int, values: float32[]) =
        bilinear 1 channels inHeight inWidth height width values

    /// Converts `count` images of `from` channels to `into` channels: grey to RGB repeats the
    /// plane, RGB to grey weighs the planes 0.299 / 0.587 / 0.114; equal counts copy.
    let toChannels (into: int) (count: int) (from: int) (plane: int) (values: float32[]) =
        if values.Length <> count * from * plane then
            raise (ArgumentException(sprintf "channels: %d images of %d×%d values need %d values, found %d." count from plane (count * from * plane) values.Length, "values"))
        match from, into with
        | a, b when a = b -> Array.copy values
        | 1, 3 ->
            Array.init (count * 3 * plane) (fun i ->
                let n, p = i / (3 * plane), i % plane
                values.[n * plane + p])
        | 3, 1 ->
            Array.init (count * plane) (fun i ->
                let n, p = i / plane, i % plane
                let b = n * 3 * plane + p
                0.299f * values.[b] + 0.587f * values.[b + plane] + 0.114f * values.[b + 2 * plane])
        | _ -> raise (ArgumentException(sprintf "channels: expected 1 or 3 channels on both sides, found %d to %d." from into, "into"))
