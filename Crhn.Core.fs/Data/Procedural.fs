namespace Crhn.Core.Data

open System
open Crhn.Core

/// Procedurally generated colour images for tests and the quickstart: each image is a smooth
/// two-colour gradient with a few discs and rectangles on it, every value in [0, 1], every image
/// a pure function of (seed, index) so batches can be regenerated or extended bit for bit.
[<RequireQualifiedAccess>]
module Procedural =

    /// `count` images of channels×height×width as one N×C×H×W float32 array, values in [0, 1].
    let images (seed: uint64) (count: int) (channels: int) (height: int) (width: int) =
        if count < 0 || channels <= 0 || height <= 0 || width <= 0 then
            raise (ArgumentException(sprintf "procedural: expected a positive image size and a non-negative count, found %d×%d×%d×%d." count channels height width, "count"))
        let plane = height * width
        let data = Array.zeroCreate<float32> (count * channels * plane)
        for n in 0 .. count - 1 do
            let s = Rng.derive seed n
            let mutable k = 0UL
            let next () =
                k <- k + 1UL
                Rng.unit s k
            let colour () = Array.init channels (fun _ -> next ())
            let c0, c1 = colour (), colour ()
            let angle = 2.0 * Math.PI * next ()
            let dx, dy = Math.Cos angle, Math.Sin angle
            let img = n * channels * plane
            for y in 0 .. height - 1 do
                for x in 0 .. width - 1 do
                    let t = 0.5 + 0.5 * (dx * (float x / float width - 0.5) + dy * (float y / float height - 0.5))
                    for c in 0 .. channels - 1 do
                        data.[img + c * plane + y * width + x] <- float32 (c0.[c] * (1.0 - t) + c1.[c] * t)
            let shapes = 1 + int (next () * 3.0)
            for _ in 1 .. shapes do
                let col = colour ()
                let cx, cy = next () * float width, next () * float height
                let r = (0.12 + 0.25 * next ()) * float (min width height)
                let disc = next () < 0.5
                for y in 0 .. height - 1 do
                    for x in 0 .. width - 1 do
                        let ox, oy = float x + 0.5 - cx, float y + 0.5 - cy
                        let inside = if disc then ox * ox + oy * oy <= r * r else abs ox <= r && abs oy <= 0.6 * r
                        if inside then
                            for c in 0 .. channels - 1 do
                                data.[img + c * plane + y * width + x] <- float32 col.[c]
        data
