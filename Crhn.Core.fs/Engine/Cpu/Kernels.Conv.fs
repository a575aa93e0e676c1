namespace Crhn.Core.Kernels

open System
open System.Numerics
open System.Runtime.CompilerServices
open System.Runtime.InteropServices
open System.Runtime.Intrinsics
open System.Threading.Tasks
open Crhn.Core

/// A serial GEMM C ← op(A)·op(B) + β·C (α = 1) on flat arrays with offsets and leading
/// dimensions; the convolution kernels call it from inside their own parallel loop.
type SerialGemm<'T> = bool -> bool -> int -> int -> int -> 'T[] -> int -> int -> 'T[] -> int -> int -> 'T -> 'T[] -> int -> int -> unit

/// Splitting a row into its two stride phases (evens, odds) and merging it back, with one vector
/// shuffle per 16 (or 8) floats: the hot loop of stride-2 im2col/col2im in float32.
module internal StridePhases =

    let private split512 = Vector512.Create(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15)
    let private merge512 = Vector512.Create(0, 8, 1, 9, 2, 10, 3, 11, 4, 12, 5, 13, 6, 14, 7, 15)
    let private split256 = Vector256.Create(0, 2, 4, 6, 1, 3, 5, 7)
    let private merge256 = Vector256.Create(0, 4, 1, 5, 2, 6, 3, 7)

    /// Rows r < height of `width` from x[src + r·width] split into dst's rows `rowLen` apart from
    /// `at`: dst[at + r·rowLen + evens + j] = x[src + r·width + 2j] and dst[at + r·rowLen + odds + j]
    /// = x[src + r·width + 2j + 1], in vector steps after one range check for the whole plane (a
    /// row of W3's or W4's layers is 1–4 steps, where a check per row or per step costs as much as
    /// the shuffle).
    let splitRows (x: float32[]) (src: int) (width: int) (height: int) (dst: float32[]) (at: int) (rowLen: int) (evens: int) (odds: int) =
        let reach = max (evens + (width + 1) / 2) (odds + width / 2)
        if width < 0 || height < 0 || src < 0 || at < 0 || evens < 0 || odds < 0
           || (width > 0 && height > 0
               && (int64 src + int64 height * int64 width > int64 x.Length
                   || int64 at + int64 (height - 1) * int64 rowLen + int64 reach > int64 dst.Length)) then
            raise (ArgumentOutOfRangeException("width", width, "splitRows: the plane does not fit its arrays."))
        let rx = &MemoryMarshal.GetArrayDataReference x
        let rd = &MemoryMarshal.GetArrayDataReference dst
        for r in 0 .. height - 1 do
            let s = src + r * width
            let e, o = at + r * rowLen + evens, at + r * rowLen + odds
            let mutable j = 0
            if Vector512.IsHardwareAccelerated then
                while 2 * j + 16 <= width do
                    let v = Vector512.Shuffle(Vector512.LoadUnsafe(&rx, unativeint (s + 2 * j)), split512)
                    v.GetLower().StoreUnsafe(&rd, unativeint (e + j))
                    v.GetUpper().StoreUnsafe(&rd, unativeint (o + j))
                    j <- j + 8
            elif Vector256.IsHardwareAccelerated then
                while 2 * j + 8 <= width do
                    let v = Vector256.Shuffle(Vector256.LoadUnsafe(&rx, unativeint (s + 2 * j)), split256)
                    v.GetLower().StoreUnsafe(&rd, unativeint (e + j))
                    v.GetUpper().StoreUnsafe(&rd, unativeint (o + j))
                    j <- j + 4
            while 2 * j < width do
                Unsafe.Add(&rd, e + j) <- Unsafe.Add(&rx, s + 2 * j)
                if 2 * j + 1 < width then Unsafe.Add(&rd, o + j) <- Unsafe.Add(&rx, s + 2 * j + 1)
                j <- j + 1

    /// dst[d + j] ← dst[d + j] + src[s + j] for j < len, in Vector256 steps after one range check:
    /// col2im adds runs of 8–32 floats, where a library call's checks and dispatch cost more than
    /// the additions.
    let addRun (src: float32[]) (s: int) (dst: float32[]) (d: int) (len: int) =
        if s < 0 || d < 0 || len < 0 || s > src.Length - len || d > dst.Length - len then
            raise (ArgumentOutOfRangeException("len", len, "addRun: the run does not fit its arrays."))
        let rs = &MemoryMarshal.GetArrayDataReference src
        let rd = &MemoryMarshal.GetArrayDataReference dst
        let mutable j = 0
        while j + 8 <= len do
            (Vector256.LoadUnsafe(&rs, unativeint (s + j)) + Vector256.LoadUnsafe(&rd, unativeint (d + j))).StoreUnsafe(&rd, unativeint (d + j))
            j <- j + 8
        while j < len do
            dst.[d + j] <- dst.[d + j] + src.[s + j]
            j <- j + 1

    /// The inverse of split: x[dst + 2j] = p[evens + j], x[dst + 2j + 1] = p[odds + j].
    let merge (p: float32[]) (evens: int) (odds: int) (x: float32[]) (dst: int) (width: int) =
        let mutable j = 0
        if Vector512.IsHardwareAccelerated then
            while 2 * j + 16 <= width do
                let v = Vector512.Create(Vector256.Create<float32>(ReadOnlySpan<float32>(p, evens + j, 8)), Vector256.Create<float32>(ReadOnlySpan<float32>(p, odds + j, 8)))
                Vector512.Shuffle(v, merge512).CopyTo(Span(x, dst + 2 * j, 16))
                j <- j + 8
        elif Vector256.IsHardwareAccelerated then
            while 2 * j + 8 <= width do
                let v = Vector256.Create(Vector128.Create<float32>(ReadOnlySpan<float32>(p, evens + j, 4)), Vector128.Create<float32>(ReadOnlySpan<float32>(p, odds + j, 4)))
                Vector256.Shuffle(v, merge256).CopyTo(Span(x, dst + 2 * j, 8))
                j <- j + 4
        while 2 * j < width do
            x.[dst + 2 * j] <- p.[evens + j]
            if 2 * j + 1 < width then x.[dst + 2 * j + 1] <- p.[odds + j]
            j <- j + 1

/// Transposes of float32 blocks, 16×16 tiles at a time by AVX-512 shuffles (4 rounds of 16), the
/// edges element by element: the convolution kernels turn channel-major planes into pixel-major
/// operands and their pixel-major sums back with them (element by element, W3's second layer's
/// weight gradient spent 0.45 of its 4 ms turning dy around).
module internal Tiles =
    open System.Runtime.Intrinsics.X86

    /// d[j·ld + i] = s[i·ls + j] for i, j < 16.
    let private tile16 (s: byref<float32>) (ls: nativeint) (d: byref<float32>) (ld: nativeint) =
        let r0 = Vector512.LoadUnsafe(&s)
        let r1 = Vector512.LoadUnsafe(&s, unativeint (1n * ls))
        let r2 = Vector512.LoadUnsafe(&s, unativeint (2n * ls))
        let r3 = Vector512.LoadUnsafe(&s, unativeint (3n * ls))
        let r4 = Vector512.LoadUnsafe(&s, unativeint (4n * ls))
        let r5 = Vector512.LoadUnsafe(&s, unativeint (5n * ls))
        let r6 = Vector512.LoadUnsafe(&s, unativeint (6n * ls))
        let r7 = Vector512.LoadUnsafe(&s, unativeint (7n * ls))
        let r8 = Vector512.LoadUnsafe(&s, unativeint (8n * ls))
        let r9 = Vector512.LoadUnsafe(&s, unativeint (9n * ls))
        let r10 = Vector512.LoadUnsafe(&s, unativeint (10n * ls))
        let r11 = Vector512.LoadUnsafe(&s, unativeint (11n * ls))
        let r12 = Vector512.LoadUnsafe(&s, unativeint (12n * ls))
        let r13 = Vector512.LoadUnsafe(&s, unativeint (13n * ls))
        let r14 = Vector512.LoadUnsafe(&s, unativeint (14n * ls))
        let r15 = Vector512.LoadUnsafe(&s, unativeint (15n * ls))
        let t0, t1 = Avx512F.UnpackLow(r0, r1), Avx512F.UnpackHigh(r0, r1)
        let t2, t3 = Avx512F.UnpackLow(r2, r3), Avx512F.UnpackHigh(r2, r3)
        let t4, t5 = Avx512F.UnpackLow(r4, r5), Avx512F.UnpackHigh(r4, r5)
        let t6, t7 = Avx512F.UnpackLow(r6, r7), Avx512F.UnpackHigh(r6, r7)
        let t8, t9 = Avx512F.UnpackLow(r8, r9), Avx512F.UnpackHigh(r8, r9)
        let t10, t11 = Avx512F.UnpackLow(r10, r11), Avx512F.UnpackHigh(r10, r11)
        let t12, t13 = Avx512F.UnpackLow(r12, r13), Avx512F.UnpackHigh(r12, r13)
        let t14, t15 = Avx512F.UnpackLow(r14, r15), Avx512F.UnpackHigh(r14, r15)
        let u0, u1 = Avx512F.Shuffle(t0, t2, 0x44uy), Avx512F.Shuffle(t0, t2, 0xEEuy)
        let u2, u3 = Avx512F.Shuffle(t1, t3, 0x44uy), Avx512F.Shuffle(t1, t3, 0xEEuy)
        let u4, u5 = Avx512F.Shuffle(t4, t6, 0x44uy), Avx512F.Shuffle(t4, t6, 0xEEuy)
        let u6, u7 = Avx512F.Shuffle(t5, t7, 0x44uy), Avx512F.Shuffle(t5, t7, 0xEEuy)
        let u8, u9 = Avx512F.Shuffle(t8, t10, 0x44uy), Avx512F.Shuffle(t8, t10, 0xEEuy)
        let u10, u11 = Avx512F.Shuffle(t9, t11, 0x44uy), Avx512F.Shuffle(t9, t11, 0xEEuy)
        let u12, u13 = Avx512F.Shuffle(t12, t14, 0x44uy), Avx512F.Shuffle(t12, t14, 0xEEuy)
        let u14, u15 = Avx512F.Shuffle(t13, t15, 0x44uy), Avx512F.Shuffle(t13, t15, 0xEEuy)
        let v0, v4 = Avx512F.Shuffle4x128(u0, u4, 0x88uy), Avx512F.Shuffle4x128(u0, u4, 0xDDuy)
        let v1, v5 = Avx512F.Shuffle4x128(u1, u5, 0x88uy), Avx512F.Shuffle4x128(u1, u5, 0xDDuy)
        let v2, v6 = Avx512F.Shuffle4x128(u2, u6, 0x88uy), Avx512F.Shuffle4x128(u2, u6, 0xDDuy)
        let v3, v7 = Avx512F.Shuffle4x128(u3, u7, 0x88uy), Avx512F.Shuffle4x128(u3, u7, 0xDDuy)
        let v8, v12 = Avx512F.Shuffle4x128(u8, u12, 0x88uy), Avx512F.Shuffle4x128(u8, u12, 0xDDuy)
        let v9, v13 = Avx512F.Shuffle4x128(u9, u13, 0x88uy), Avx512F.Shuffle4x128(u9, u13, 0xDDuy)
        let v10, v14 = Avx512F.Shuffle4x128(u10, u14, 0x88uy), Avx512F.Shuffle4x128(u10, u14, 0xDDuy)
        let v11, v15 = Avx512F.Shuffle4x128(u11, u15, 0x88uy), Avx512F.Shuffle4x128(u11, u15, 0xDDuy)
        Avx512F.Shuffle4x128(v0, v8, 0x88uy).StoreUnsafe(&d, unativeint (0n * ld))
        Avx512F.Shuffle4x128(v1, v9, 0x88uy).StoreUnsafe(&d, unativeint (1n * ld))
        Avx512F.Shuffle4x128(v2, v10, 0x88uy).StoreUnsafe(&d, unativeint (2n * ld))
        Avx512F.Shuffle4x128(v3, v11, 0x88uy).StoreUnsafe(&d, unativeint (3n * ld))
        Avx512F.Shuffle4x128(v4, v12, 0x88uy).StoreUnsafe(&d, unativeint (4n * ld))
        Avx512F.Shuffle4x128(v5, v13, 0x88uy).StoreUnsafe(&d, unativeint (5n * ld))
        Avx512F.Shuffle4x128(v6, v14, 0x88uy).StoreUnsafe(&d, unativeint (6n * ld))
        Avx512F.Shuffle4x128(v7, v15, 0x88uy).StoreUnsafe(&d, unativeint (7n * ld))
        Avx512F.Shuffle4x128(v0, v8, 0xDDuy).StoreUnsafe(&d, unativeint (8n * ld))
        Avx512F.Shuffle4x128(v1, v9, 0xDDuy).StoreUnsafe(&d, unativeint (9n * ld))
        Avx512F.Shuffle4x128(v2, v10, 0xDDuy).StoreUnsafe(&d, unativeint (10n * ld))
        Avx512F.Shuffle4x128(v3, v11, 0xDDuy).StoreUnsafe(&d, unativeint (11n * ld))
        Avx512F.Shuffle4x128(v4, v12, 0xDDuy).StoreUnsafe(&d, unativeint (12n * ld))
        Avx512F.Shuffle4x128(v5, v13, 0xDDuy).StoreUnsafe(&d, unativeint (13n * ld))
        Avx512F.Shuffle4x128(v6, v14, 0xDDuy).StoreUnsafe(&d, unativeint (14n * ld))
        Avx512F.Shuffle4x128(v7, v15, 0xDDuy).StoreUnsafe(&d, unativeint (15n * ld))

    /// dst[dOff + j·ld + i] = src[sOff + i·ls + j] for i < rows, j < cols.
    let transposeInto (rows: int) (cols: int) (src: float32[]) (sOff: int) (ls: int) (dst: float32[]) (dOff: int) (ld: int) =
        let fits =
            rows = 0 || cols = 0
            || (ls >= cols && ld >= rows && sOff >= 0 && dOff >= 0
                && int64 sOff + int64 (rows - 1) * int64 ls + int64 cols <= int64 src.Length
                && int64 dOff + int64 (cols - 1) * int64 ld + int64 rows <= int64 dst.Length)
        if rows < 0 || cols < 0 || not fits then
            raise (ArgumentOutOfRangeException("rows", rows, "transposeInto: the block does not fit its arrays."))
        if rows > 0 && cols > 0 then
            let rs = &MemoryMarshal.GetArrayDataReference src
            let rd = &MemoryMarshal.GetArrayDataReference dst
            let tiled = if Avx512F.IsSupported then 16 else 0
            let rows16 = if tiled = 0 then 0 else rows / 16 * 16
            let cols16 = if tiled = 0 then 0 else cols / 16 * 16
            let mutable i = 0
            while i < rows16 do
                let mutable j = 0
                while j < cols16 do
                    tile16 &(Unsafe.Add(&rs, sOff + i * ls + j)) (nativeint ls) &(Unsafe.Add(&rd, dOff + j * ld + i)) (nativeint ld)
                    j <- j + 16
                i <- i + 16
            // The edges: rows past rows16 (all columns), then columns past cols16 (the tiled rows).
            for i in rows16 .. rows - 1 do
                for j in 0 .. cols - 1 do
                    Unsafe.Add(&rd, dOff + j * ld + i) <- Unsafe.Add(&rs, sOff + i * ls + j)
            for i in 0 .. rows16 - 1 do
                for j in cols16 .. cols - 1 do
                    Unsafe.Add(&rd, dOff + j * ld + i) <- Unsafe.Add(&rs, sOff + i * ls + j)

/// 2-D convolution (cross-correlation, as PyTorch's conv2d) by direct float32 kernels where they
/// serve and im2col + GEMM elsewhere, one image per task, the images split over the cores; its
/// input adjoint (conv_transpose2d) by a direct kernel per output phase or GEMM + col2im, and its
/// weight gradient by GEMM against the same columns, accumulated per chunk of images and summed in
/// chunk order.
module internal Conv =

    /// The geometry of one call. Each input plane is read through a zero-padded copy of it,
    /// (H + 2·padH) rows of RowLen, whose rows are split into their sw stride phases: phase φ of a
    /// row holds the padded columns φ, φ + sw, φ + 2sw, … (padded column X = input column + padW).
    /// Kernel tap (p, q) then reads, for output row oy, the Wo contiguous values at padded row
    /// oy·sh + p, phase q mod sw, from index q / sw: every column row of im2col is Ho whole runs,
    /// with no range checks and no zeros to write.
    type private Dims =
        { N: int; C: int; H: int; W: int; O: int; KH: int; KW: int; Ho: int; Wo: int; G: ConvGeometry
          /// Where each phase starts in a padded row, and the row's length.
          PhaseStart: int[]
          RowLen: int }
        member d.Ckk = d.C * d.KH * d.KW
        member d.HoWo = d.Ho * d.Wo
        member d.PaddedLen = (d.H + 2 * d.G.PadH) * d.RowLen
        /// Where padded column X (= input column + padW) lies in its row.
        member d.Column(x: int) = d.PhaseStart.[x % d.G.StrideW] + x / d.G.StrideW
        /// Where input row iy starts in the padded rows.
        member d.Row(iy: int) = (iy + d.G.PadH) * d.RowLen

    let private dims (xShape: int[]) (wShape: int[]) (g: ConvGeometry) =
        let s = g.StrideW
        let wp = xShape.[3] + 2 * g.PadW
        let starts = Array.zeroCreate (s + 1)
        for ph in 0 .. s - 1 do starts.[ph + 1] <- starts.[ph] + (wp - ph + s - 1) / s
        { N = xShape.[0]; C = xShape.[1]; H = xShape.[2]; W = xShape.[3]
          O = wShape.[0]; KH = wShape.[2]; KW = wShape.[3]
          Ho = Shape.convOutput xShape.[2] wShape.[2] g.StrideH g.PadH
          Wo = Shape.convOutput xShape.[3] wShape.[3] g.StrideW g.PadW
          G = g; PhaseStart = starts; RowLen = starts.[s] }

    /// Input plane src of x (H rows of W) into the padded rows of the phase buffer that starts at
    /// `at` of `phases` (its padding untouched), float32 at stride 2 by vector shuffles. The type
    /// test is made once per call and the returned function does a whole plane: a closure call
    /// per row costs more than the row.
    let private planeSplitter<'T when 'T :> IFloatingPointIeee754<'T>> (d: Dims) (x: 'T[]) (phases: 'T[]) : int -> int -> unit =
        let pw = d.G.PadW
        match box x, box phases with
        | _ when d.G.StrideW = 1 ->
            fun src at -> for iy in 0 .. d.H - 1 do ReadOnlySpan(x, src + iy * d.W, d.W).CopyTo(Span(phases, at + d.Row iy + pw, d.W))
        | (:? (float32[]) as x32), (:? (float32[]) as p32) when d.G.StrideW = 2 ->
            let evens, odds = d.Column pw, d.Column(pw + 1)
            fun src at -> StridePhases.splitRows x32 src d.W d.H p32 (at + d.Row 0) d.RowLen evens odds
        | _ ->
            fun src at ->
                for iy in 0 .. d.H - 1 do
                    for ix in 0 .. d.W - 1 do phases.[at + d.Row iy + d.Column(ix + pw)] <- x.[src + iy * d.W + ix]

    /// The inverse of planeSplitter: the padded rows' interior back into input plane dst of x.
    let private planeMerger<'T when 'T :> IFloatingPointIeee754<'T>> (d: Dims) (phases: 'T[]) (x: 'T[]) : int -> unit =
        let pw = d.G.PadW
        match box phases, box x with
        | _ when d.G.StrideW = 1 ->
            fun dst -> for iy in 0 .. d.H - 1 do ReadOnlySpan(phases, d.Row iy + pw, d.W).CopyTo(Span(x, dst + iy * d.W, d.W))
        | (:? (float32[]) as p32), (:? (float32[]) as x32) when d.G.StrideW = 2 ->
            let evens, odds = d.Column pw, d.Column(pw + 1)
            fun dst ->
                for iy in 0 .. d.H - 1 do
                    let row = d.Row iy
                    StridePhases.merge p32 (row + evens) (row + odds) x32 (dst + iy * d.W) d.W
        | _ ->
            fun dst ->
                for iy in 0 .. d.H - 1 do
                    for ix in 0 .. d.W - 1 do x.[dst + iy * d.W + ix] <- phases.[d.Row iy + d.Column(ix + pw)]

    /// One tap's Ho runs of Wo added from the column buffer into the phase buffer: run oy from
    /// col[colBase + oy·Wo] onto phases[start + oy·sh·RowLen]; float32 by StridePhases.addRun, the
    /// type test made once per call.
    let private tapAdder<'T when 'T :> IFloatingPointIeee754<'T>> (d: Dims) (col: 'T[]) (phases: 'T[]) : int -> int -> unit =
        let rowStep = d.G.StrideH * d.RowLen
        match box col, box phases with
        | (:? (float32[]) as c32), (:? (float32[]) as p32) ->
            fun colBase start ->
                for oy in 0 .. d.Ho - 1 do StridePhases.addRun c32 (colBase + oy * d.Wo) p32 (start + oy * rowStep) d.Wo
        | _ ->
            fun colBase start ->
                for oy in 0 .. d.Ho - 1 do
                    let dst = Span(phases, start + oy * rowStep, d.Wo)
                    Numerics.Tensors.TensorPrimitives.Add(Span<'T>.op_Implicit dst, ReadOnlySpan(col, colBase + oy * d.Wo, d.Wo), dst)

    /// For each tap t = p·KW + q, where its run for output row 0 starts in the phase buffer
    /// (later rows: + oy·sh·RowLen).
    let private tapStarts (d: Dims) =
        Array.init (d.KH * d.KW) (fun t -> (t / d.KW) * d.RowLen + d.Column(t % d.KW))

    /// Where columns j0 … j1 − 1 of im2col (c, tap) start in an image's phase buffer, padded to a
    /// multiple of 6 by repeating the last: the weight kernels' column tiles.
    let private columnStarts (d: Dims) (taps: int[]) (j0: int) (j1: int) =
        Array.init (((j1 - j0 + 5) / 6) * 6) (fun t -> let j = min (j0 + t) (j1 - 1) in nativeint ((j / taps.Length) * d.PaddedLen + taps.[j % taps.Length]))

    /// col[(c·KH + p)·KW + q, colOff + oy·Wo + ox] = x[n, c, oy·sh + p − ph, ox·sw + q − pw] (0
    /// outside), col's rows `ld` apart. `phases` is the padded phase buffer (PaddedLen): cleared
    /// once, its padding stays zero while each channel's rows are split into it.
    let private im2colAt<'T when 'T :> IFloatingPointIeee754<'T>> (d: Dims) (x: 'T[]) (xOff: int) (col: 'T[]) (colOff: int) (ld: int) (phases: 'T[]) =
        let split = planeSplitter d x phases
        let taps = tapStarts d
        let rowStep = d.G.StrideH * d.RowLen
        Array.Fill(phases, 'T.Zero, 0, d.PaddedLen)
        for c in 0 .. d.C - 1 do
            split (xOff + c * d.H * d.W) 0
            for t in 0 .. taps.Length - 1 do
                let rowBase = (c * taps.Length + t) * ld + colOff
                for oy in 0 .. d.Ho - 1 do
                    ReadOnlySpan(phases, taps.[t] + oy * rowStep, d.Wo).CopyTo(Span(col, rowBase + oy * d.Wo, d.Wo))

    /// One image's columns on their own (rows HoWo long).
    let private im2col<'T when 'T :> IFloatingPointIeee754<'T>> (d: Dims) (x: 'T[]) (xOff: int) (col: 'T[]) (phases: 'T[]) =
        im2colAt d x xOff col 0 d.HoWo phases

    /// The adjoint of im2col: x[n, c, iy, ix] = the sum of every column entry that reads it
    /// (accumulated in the padded phase buffer, then its interior written into x, whose old
    /// values are ignored).
    let private col2im<'T when 'T :> IFloatingPointIeee754<'T>> (d: Dims) (col: 'T[]) (x: 'T[]) (xOff: int) (phases: 'T[]) =
        let merge = planeMerger d phases x
        let add = tapAdder d col phases
        let taps = tapStarts d
        for c in 0 .. d.C - 1 do
            Array.Fill(phases, 'T.Zero, 0, d.PaddedLen)
            for t in 0 .. taps.Length - 1 do
                add ((c * taps.Length + t) * d.HoWo) taps.[t]
            merge (xOff + c * d.H * d.W)

    /// Chunks per core in overImages: with one chunk per core, a core slowed by anything else
    /// running holds the whole call back; with several, the other core takes over the chunks left.
    let private chunksPerCore = 4

    /// Runs body(state, n) for every image n, the images split into contiguous chunks, a few per
    /// core, that the cores take in turn; each chunk gets its own state from init (scratch
    /// buffers, partial sums), and finish sees the states in chunk order once all are done, so
    /// reductions add up in the same order on every run (same seed, same bits).
    let private overImages (n: int) (init: unit -> 'S) (body: 'S -> int -> unit) (finish: 'S -> unit) =
        let workers = max 1 (min Environment.ProcessorCount n)
        let chunks = if workers = 1 then 1 else min n (chunksPerCore * workers)
        let states = Array.zeroCreate<'S> chunks
        let chunk (w: int) =
            let state = init ()
            for i in w * n / chunks .. (w + 1) * n / chunks - 1 do
                body state i
            states.[w] <- state
        if chunks = 1 then chunk 0
        else Parallel.For(0, chunks, ParallelOptions(MaxDegreeOfParallelism = workers), Action<int>(chunk)) |> ignore
        Array.iter finish states

    /// One worker's buffers: the columns of one image (every element written by im2col or by a
    /// GEMM with β = 0) and the padded phase buffer of one channel (cleared by im2col and col2im).
    let private scratchFor<'T> (d: Dims) () = Storage.scratch<'T> (d.Ckk * d.HoWo), Storage.scratch<'T> d.PaddedLen

    let private releaseScratch<'T> (col: 'T[], phases: 'T[]) =
        Storage.release col
        Storage.release phases

    /// The most taps (C·KH·KW) the pixel-vector kernel takes: W4's second layer (512 taps) runs
    /// 5.4–5.5 ms on it against 6.4–7.2 ms through im2col and GEMM (and 6.6–9.2 ms on the
    /// channel-vector kernel).
    let private directMaxTaps = 1024

    /// Whether the direct float32 kernel serves a shape: 512-bit vectors, output channels in
    /// blocks of 8, output rows in whole 16-lane vectors and an even number of them per image,
    /// and at most directMaxTaps taps. CRHN_CONV=im2col turns it off (for comparisons).
    let private directServes (d: Dims) =
        Vector512.IsHardwareAccelerated && d.O > 0 && d.Ckk > 0 && d.O % 8 = 0 && d.Wo % 16 = 0 && (d.HoWo / 16) % 2 = 0 && d.Ckk <= directMaxTaps
        && Environment.GetEnvironmentVariable "CRHN_CONV" <> "im2col"

    /// Splits every channel of image n into its padded stride phases, channel c at at + c·PaddedLen
    /// of `phases`: the padding (the rows above and below, and the padded columns beside each
    /// row) cleared, the interior written in place by planeSplitter.
    let private splitImageAt (d: Dims) (x: float32[]) (n: int) (phases: float32[]) (at: int) =
        let xOff = n * d.C * d.H * d.W
        let split = planeSplitter d x phases
        let padRows = d.G.PadH * d.RowLen
        let wp = d.W + 2 * d.G.PadW
        let beside = [| for col in 0 .. wp - 1 do if col < d.G.PadW || col >= d.W + d.G.PadW then d.Column col |]
        for c in 0 .. d.C - 1 do
            let start = at + c * d.PaddedLen
            Array.Fill(phases, 0.0f, start, padRows)
            Array.Fill(phases, 0.0f, start + d.Row d.H, padRows)
            for iy in 0 .. d.H - 1 do
                let row = start + d.Row iy
                for col in beside do phases.[row + col] <- 0.0f
            split (xOff + c * d.H * d.W) start

    /// Image n's phases on their own, channel c at c·PaddedLen.
    let private splitImage (d: Dims) (x: float32[]) (n: int) (phases: float32[]) =
        splitImageAt d x n phases 0

    /// Taps per pass of the channel-vector kernel: a pass's weights (128 taps × 64 channels, 32 KB)
    /// stay in L1 while every pixel block of the image runs over them (256 measured the same on
    /// W4's third layer).
    let private tapChunk = 128

    /// Whether the channel-vector kernel serves a shape: 512-bit vectors and output channels in
    /// blocks of 64. It takes the shapes the pixel-vector kernel does not, such as W4's third
    /// layer (8×8 outputs: 3.5–3.9 ms against 5.9–6.9 ms through im2col and GEMM).
    /// CRHN_CONV=im2col turns it off (for comparisons).
    let private channelsServe (d: Dims) =
        Vector512.IsHardwareAccelerated && d.O > 0 && d.O % 64 = 0 && d.Ckk > 0 && d.HoWo > 0
        && Environment.GetEnvironmentVariable "CRHN_CONV" <> "im2col"

    /// The channel-vector kernel's core: sums[p·channels + o] = start + Σₖ wr[((o/64)·ckk + k)·64
    /// + o mod 64] · input[bases[p] + offsets[k]] for every pixel p of `bases` (a multiple of 6)
    /// and channel o (channels a multiple of 64), ckk = offsets.Length, where start is bias[o]
    /// (ValueSome bias) or what sums held (ValueNone: the call adds to it). 64 channels (4
    /// vectors) × 6 pixels accumulate in 24 registers over the taps, each tap loading the block's
    /// 4 weight vectors and broadcasting 6 inputs; the taps run in passes of tapChunk, the partial
    /// sums kept pixel-major in `sums` (in L1) between passes.
    let private channelSums (input: float32[]) (bases: nativeint[]) (offsets: nativeint[]) (wr: float32[]) (bias: float32[] voption) (channels: int) (sums: float32[]) =
        let ckk = offsets.Length
        let blocks = channels / 64
        let pixelBlocks = bases.Length / 6
        let ph = &input.[0]
        let wv = &wr.[0]
        let og = &offsets.[0]
        let acc = &sums.[0]
        for k0 in 0 .. tapChunk .. ckk - 1 do
            let k1 = nativeint (min ckk (k0 + tapChunk))
            for ob in 0 .. blocks - 1 do
                let wBlock = nativeint (ob * ckk * 64)
                for pb in 0 .. pixelBlocks - 1 do
                    let r0 = &Unsafe.Add(&ph, bases.[pb * 6])
                    let r1 = &Unsafe.Add(&ph, bases.[pb * 6 + 1])
                    let r2 = &Unsafe.Add(&ph, bases.[pb * 6 + 2])
                    let r3 = &Unsafe.Add(&ph, bases.[pb * 6 + 3])
                    let r4 = &Unsafe.Add(&ph, bases.[pb * 6 + 4])
                    let r5 = &Unsafe.Add(&ph, bases.[pb * 6 + 5])
                    // sums[(p·O + ob·64 + 16·v)]: pixel p's partial sums for vector v.
                    let first = (pb * 6) * channels + ob * 64
                    // The first pass starts from the bias (the same for every pixel) where there is one, the
                    // others (and every pass without a bias) from the partial sums.
                    let src, at, step =
                        match bias with
                        | ValueSome b when k0 = 0 -> b, ob * 64, 0
                        | _ -> sums, first, channels
                    let inline start (p: int) (v: int) = Vector512.Create<float32>(ReadOnlySpan(src, at + p * step + 16 * v, 16))
                    let mutable a00, a01, a02, a03 = start 0 0, start 0 1, start 0 2, start 0 3
                    let mutable a10, a11, a12, a13 = start 1 0, start 1 1, start 1 2, start 1 3
                    let mutable a20, a21, a22, a23 = start 2 0, start 2 1, start 2 2, start 2 3
                    let mutable a30, a31, a32, a33 = start 3 0, start 3 1, start 3 2, start 3 3
                    let mutable a40, a41, a42, a43 = start 4 0, start 4 1, start 4 2, start 4 3
                    let mutable a50, a51, a52, a53 = start 5 0, start 5 1, start 5 2, start 5 3
                    let s0 = unativeint first
                    let o = unativeint channels
                    let mutable k = nativeint k0
                    let mutable wk = wBlock + nativeint k0 * 64n
                    while k < k1 do
                        let off = Unsafe.Add(&og, k)
                        let w0 = Vector512.LoadUnsafe(&wv, unativeint wk)
                        let w1 = Vector512.LoadUnsafe(&wv, unativeint (wk + 16n))
                        let w2 = Vector512.LoadUnsafe(&wv, unativeint (wk + 32n))
                        let w3 = Vector512.LoadUnsafe(&wv, unativeint (wk + 48n))
                        let x0 = Vector512.Create<float32>(Unsafe.Add(&r0, off))
                        a00 <- Vector512.FusedMultiplyAdd(w0, x0, a00)
                        a01 <- Vector512.FusedMultiplyAdd(w1, x0, a01)
                        a02 <- Vector512.FusedMultiplyAdd(w2, x0, a02)
                        a03 <- Vector512.FusedMultiplyAdd(w3, x0, a03)
                        let x1 = Vector512.Create<float32>(Unsafe.Add(&r1, off))
                        a10 <- Vector512.FusedMultiplyAdd(w0, x1, a10)
                        a11 <- Vector512.FusedMultiplyAdd(w1, x1, a11)
                        a12 <- Vector512.FusedMultiplyAdd(w2, x1, a12)
                        a13 <- Vector512.FusedMultiplyAdd(w3, x1, a13)
                        let x2 = Vector512.Create<float32>(Unsafe.Add(&r2, off))
                        a20 <- Vector512.FusedMultiplyAdd(w0, x2, a20)
                        a21 <- Vector512.FusedMultiplyAdd(w1, x2, a21)
                        a22 <- Vector512.FusedMultiplyAdd(w2, x2, a22)
                        a23 <- Vector512.FusedMultiplyAdd(w3, x2, a23)
                        let x3 = Vector512.Create<float32>(Unsafe.Add(&r3, off))
                        a30 <- Vector512.FusedMultiplyAdd(w0, x3, a30)
                        a31 <- Vector512.FusedMultiplyAdd(w1, x3, a31)
                        a32 <- Vector512.FusedMultiplyAdd(w2, x3, a32)
                        a33 <- Vector512.FusedMultiplyAdd(w3, x3, a33)
                        let x4 = Vector512.Create<float32>(Unsafe.Add(&r4, off))
                        a40 <- Vector512.FusedMultiplyAdd(w0, x4, a40)
                        a41 <- Vector512.FusedMultiplyAdd(w1, x4, a41)
                        a42 <- Vector512.FusedMultiplyAdd(w2, x4, a42)
                        a43 <- Vector512.FusedMultiplyAdd(w3, x4, a43)
                        let x5 = Vector512.Create<float32>(Unsafe.Add(&r5, off))
                        a50 <- Vector512.FusedMultiplyAdd(w0, x5, a50)
                        a51 <- Vector512.FusedMultiplyAdd(w1, x5, a51)
                        a52 <- Vector512.FusedMultiplyAdd(w2, x5, a52)
                        a53 <- Vector512.FusedMultiplyAdd(w3, x5, a53)
                        k <- k + 1n
                        wk <- wk + 64n
                    Vector512.StoreUnsafe(a00, &acc, s0 + 0un * o)
                    Vector512.StoreUnsafe(a01, &acc, s0 + 0un * o + 16un)
                    Vector512.StoreUnsafe(a02, &acc, s0 + 0un * o + 32un)
                    Vector512.StoreUnsafe(a03, &acc, s0 + 0un * o + 48un)
                    Vector512.StoreUnsafe(a10, &acc, s0 + 1un * o)
                    Vector512.StoreUnsafe(a11, &acc, s0 + 1un * o + 16un)
                    Vector512.StoreUnsafe(a12, &acc, s0 + 1un * o + 32un)
                    Vector512.StoreUnsafe(a13, &acc, s0 + 1un * o + 48un)
                    Vector512.StoreUnsafe(a20, &acc, s0 + 2un * o)
                    Vector512.StoreUnsafe(a21, &acc, s0 + 2un * o + 16un)
                    Vector512.StoreUnsafe(a22, &acc, s0 + 2un * o + 32un)
                    Vector512.StoreUnsafe(a23, &acc, s0 + 2un * o + 48un)
                    Vector512.StoreUnsafe(a30, &acc, s0 + 3un * o)
                    Vector512.StoreUnsafe(a31, &acc, s0 + 3un * o + 16un)
                    Vector512.StoreUnsafe(a32, &acc, s0 + 3un * o + 32un)
                    Vector512.StoreUnsafe(a33, &acc, s0 + 3un * o + 48un)
                    Vector512.StoreUnsafe(a40, &acc, s0 + 4un * o)
                    Vector512.StoreUnsafe(a41, &acc, s0 + 4un * o + 16un)
                    Vector512.StoreUnsafe(a42, &acc, s0 + 4un * o + 32un)
                    Vector512.StoreUnsafe(a43, &acc, s0 + 4un * o + 48un)
                    Vector512.StoreUnsafe(a50, &acc, s0 + 5un * o)
                    Vector512.StoreUnsafe(a51, &acc, s0 + 5un * o + 16un)
                    Vector512.StoreUnsafe(a52, &acc, s0 + 5un * o + 32un)
                    Vector512.StoreUnsafe(a53, &acc, s0 + 5un * o + 48un)

    /// y = conv2d(x, w) in float32 with the output channels in the vector lanes (for layers of 64
    /// or more channels, where the outputs per image are few): the image is split into its stride
    /// phases once, and 64 channels (4 vectors) × 6 output pixels accumulate in 24 registers over
    /// the taps, each tap loading the block's 4 weight vectors and broadcasting 6 inputs. Pixels
    /// run in flat order, so a block may span rows (each broadcast has its own address) and the
    /// last block repeats the last pixel where HoWo is not a multiple of 6. The taps run in passes
    /// of tapChunk, the partial sums kept pixel-major (HoWo × O, in L1) between passes; the last
    /// pass's sums are transposed into y. The weights are repacked as [block][tap][64 channels].
    let private directChannels (d: Dims) (x: float32[]) (w: float32[]) (bias: float32[] option) (y: float32[]) =
        let taps = tapStarts d
        let kk = taps.Length
        let ckk = d.Ckk
        let rowStep = d.G.StrideH * d.RowLen
        let offsets = Array.init ckk (fun k -> nativeint ((k / kk) * d.PaddedLen + taps.[k % kk]))
        let wr = Storage.scratch<float32> (d.O * ckk)
        for ob in 0 .. d.O / 64 - 1 do
            Tiles.transposeInto 64 ckk w (ob * 64 * ckk) ckk wr (ob * ckk * 64) 64
        let b = match bias with Some b -> b | None -> Array.zeroCreate d.O
        let pixelBlocks = (d.HoWo + 5) / 6
        // Where pixel p's inputs start in a phase buffer (a pixel past the end repeats the last).
        let bases = Array.init (pixelBlocks * 6) (fun p -> let p = min p (d.HoWo - 1) in nativeint ((p / d.Wo) * rowStep + p % d.Wo))
        overImages d.N
            (fun () -> Storage.scratch<float32> (d.C * d.PaddedLen), Storage.scratch<float32> (pixelBlocks * 6 * d.O))
            (fun (phases, sums) n ->
                splitImage d x n phases
                channelSums phases bases offsets wr (ValueSome b) d.O sums
                // y[n, o, p] = sums[p, o].
                Tiles.transposeInto d.HoWo d.O sums 0 d.O y (n * d.O * d.HoWo) d.HoWo)
            (fun (phases, sums) ->
                Storage.release phases
                Storage.release sums)
        Storage.release wr

    /// dw = Σₙ dy[n]·im2col(x[n])ᵀ in float32 on the channel-vector kernel with its roles turned,
    /// for images of few output pixels: dw's columns (c, tap) stand where output pixels stood, and
    /// every output pixel of every image stands where a tap stood, so 64 output channels × 6
    /// columns accumulate in 24 registers over all N·Ho·Wo pixels, each pixel loading the 4 vectors
    /// of dy's channels there and broadcasting 6 inputs. No column buffer: the images are split
    /// into their stride phases once (all of them, N·C·PaddedLen), where column (c, tap) reads
    /// pixel (n, oy, ox) at n·C·PaddedLen + c·PaddedLen + taps[tap] + oy·sh·RowLen + ox; dy is
    /// transposed pixel-major, and the columns are split over the cores, each summing its own in
    /// the same order on every run.
    let private weightChannelsBatched (d: Dims) (x: float32[]) (dy: float32[]) (dw: float32[]) =
        let taps = tapStarts d
        let rowStep = d.G.StrideH * d.RowLen
        let imageLen = d.C * d.PaddedLen
        let pixels = d.N * d.HoWo
        let phases = Storage.scratch<float32> (d.N * imageLen)
        // dyT[((o/64)·pixels + n·HoWo + q)·64 + o mod 64] = dy[n, o, q]: the kernel's weight layout.
        let dyT = Storage.scratch<float32> (d.O * pixels)
        overImages d.N
            ignore
            (fun () n ->
                splitImageAt d x n phases (n * imageLen)
                for ob in 0 .. d.O / 64 - 1 do
                    Tiles.transposeInto 64 d.HoWo dy ((n * d.O + ob * 64) * d.HoWo) d.HoWo dyT ((ob * pixels + n * d.HoWo) * 64) 64)
            ignore
        let offsets = Storage.scratch<nativeint> pixels
        for p in 0 .. pixels - 1 do
            let n, q = p / d.HoWo, p % d.HoWo
            offsets.[p] <- nativeint (n * imageLen + (q / d.Wo) * rowStep + q % d.Wo)
        let zero = Array.zeroCreate<float32> d.O
        let tiles = (d.Ckk + 5) / 6
        let parts = max 1 (min Environment.ProcessorCount tiles)
        let run i =
            let j0, j1 = 6 * (tiles * i / parts), min d.Ckk (6 * (tiles * (i + 1) / parts))
            if j1 > j0 then
                let count = j1 - j0
                let bases = columnStarts d taps j0 j1
                let sums = Storage.scratch<float32> (bases.Length * d.O)
                channelSums phases bases offsets dyT (ValueSome zero) d.O sums
                // dw[o, j0 + t] = sums[t, o].
                Tiles.transposeInto count d.O sums 0 d.O dw j0 d.Ckk
                Storage.release sums
        if parts = 1 then run 0 else Parallel.For(0, parts, Action<int>(run)) |> ignore
        Storage.release offsets
        Storage.release phases
        Storage.release dyT

    /// The same for images of many output pixels, one image at a time: the image's pixels stand
    /// where taps stood, its phases and its dy transposed pixel-major stay in L2 while the kernel
    /// adds it into its chunk's sums (columns × O), and the chunks' sums are added in chunk order
    /// (the same bits on every run). weightChannelsBatched's buffer of every image's phases
    /// (7.4 MB at W3's second layer) cost a fifth of the call there in writes that missed the cache.
    let private weightChannelsByImage (d: Dims) (x: float32[]) (dy: float32[]) (dw: float32[]) =
        let taps = tapStarts d
        let rowStep = d.G.StrideH * d.RowLen
        let bases = columnStarts d taps 0 d.Ckk
        let columns = bases.Length
        // Pixel q of an image in its phase buffer.
        let offsets = Array.init d.HoWo (fun q -> nativeint ((q / d.Wo) * rowStep + q % d.Wo))
        let total = Storage.scratchZeros<float32> (columns * d.O)
        overImages d.N
            (fun () -> Storage.scratch<float32> (d.C * d.PaddedLen), Storage.scratch<float32> (d.O * d.HoWo), Storage.scratchZeros<float32> (columns * d.O))
            (fun (phases, dyT, sums) n ->
                splitImage d x n phases
                // dyT[((o/64)·HoWo + q)·64 + o mod 64] = dy[n, o, q]: the kernel's weight layout.
                for ob in 0 .. d.O / 64 - 1 do
                    Tiles.transposeInto 64 d.HoWo dy ((n * d.O + ob * 64) * d.HoWo) d.HoWo dyT (ob * d.HoWo * 64) 64
                channelSums phases bases offsets dyT ValueNone d.O sums)
            (fun (phases, dyT, sums) ->
                Numerics.Tensors.TensorPrimitives.Add(ReadOnlySpan total, ReadOnlySpan sums, Span total)
                Storage.release phases
                Storage.release dyT
                Storage.release sums)
        // dw[o, j] = total[j, o].
        Tiles.transposeInto d.Ckk d.O total 0 d.O dw 0 d.Ckk
        Storage.release total

    /// Output pixels an image from which weightChannels takes the images one at a time. At W3's
    /// batch, 256 pixels (its second layer's weight gradient, 512 columns): 3.6 → 3.1 ms; 64
    /// pixels (its third layer's): 1.6 ms batched against 1.8 one at a time, and 1.7–2.0 in groups
    /// of 4–16 images.
    [<Literal>]
    let private WeightImagePixels = 256

    /// dw = Σₙ dy[n]·im2col(x[n])ᵀ in float32 on the turned channel-vector kernel.
    let private weightChannels (d: Dims) (x: float32[]) (dy: float32[]) (dw: float32[]) =
        if d.HoWo >= WeightImagePixels then weightChannelsByImage d x dy dw else weightChannelsBatched d x dy dw

    /// Whether the transposed channel-vector kernel serves the input adjoint of d (conv_transpose2d
    /// into d's input): 512-bit vectors, the result's channels in blocks of 64, and kernels a whole
    /// number of strides tall and wide. CRHN_CONV=im2col turns it off (for comparisons).
    let private transposedServes (d: Dims) =
        Vector512.IsHardwareAccelerated && d.C > 0 && d.C % 64 = 0 && d.O > 0 && d.HoWo > 0
        && d.KH % d.G.StrideH = 0 && d.KW % d.G.StrideW = 0
        && Environment.GetEnvironmentVariable "CRHN_CONV" <> "im2col"

    /// Whether the pixel-vector weight kernel (weightPixels) serves d: 512-bit vectors, output
    /// rows of whole 16-lane vectors and output channels in blocks of 4. CRHN_CONV=im2col turns it
    /// off (for comparisons).
    let private weightPixelsServe (d: Dims) =
        Vector512.IsHardwareAccelerated && d.O > 0 && d.O % 4 = 0 && d.Ckk > 0 && d.Wo > 0 && d.Wo % 16 = 0
        && Environment.GetEnvironmentVariable "CRHN_CONV" <> "im2col"

    /// dw = Σₙ dy[n]·im2col(x[n])ᵀ in float32 with the output pixels in the vector lanes, for
    /// layers of few channels (a first layer's 27 or 48 columns, where a GEMM over them is too
    /// narrow): column k = (c, tap) of image n reads its 16 inputs for 16 output pixels of a row
    /// as one contiguous run of the image's stride phases, and dy's 16 as one run of dy itself,
    /// so 4 output channels × 6 columns accumulate in 24 vector registers over an image's pixel
    /// vectors, each loading 4 dy vectors and 6 input vectors. The images are split over the
    /// cores, each chunk's lane sums kept in its own buffer (O·Ckk vectors) and added in chunk
    /// order, then summed across the lanes.
    let private weightPixels (d: Dims) (x: float32[]) (dy: float32[]) (dw: float32[]) =
        let taps = tapStarts d
        let rowStep = d.G.StrideH * d.RowLen
        let perRow = d.Wo / 16
        let vectors = d.HoWo / 16
        // Column k reads the phase buffer from colOff[k].
        let kTiles = (d.Ckk + 5) / 6
        let colOff = columnStarts d taps 0 d.Ckk
        // Vector v of an image starts its inputs at (v / perRow)·rowStep + (v mod perRow)·16 in
        // the phases: from a row's last vector to the next row's first is nextRow.
        let nextRow = nativeint (rowStep - (perRow - 1) * 16)
        let lanes = d.O * kTiles * 6 * 16
        let total = Storage.scratchZeros<float32> lanes
        overImages d.N
            (fun () -> Storage.scratch<float32> (d.C * d.PaddedLen), Storage.scratchZeros<float32> lanes)
            (fun (phases, acc) n ->
                splitImage d x n phases
                let ph = &phases.[0]
                let dv = &dy.[n * d.O * d.HoWo]
                let planeLen = nativeint d.HoWo
                for ot in 0 .. d.O / 4 - 1 do
                    let y0 = nativeint (ot * 4) * planeLen
                    for kt in 0 .. kTiles - 1 do
                        // acc[((o·kTiles·6 + k)·16 + lane]: column k's lane sums for channel o.
                        let at (i: int) (j: int) = (((ot * 4 + i) * kTiles * 6) + kt * 6 + j) * 16
                        let load (i: int) (j: int) = Vector512.Create<float32>(ReadOnlySpan(acc, at i j, 16))
                        let mutable a00, a01, a02, a03, a04, a05 = load 0 0, load 0 1, load 0 2, load 0 3, load 0 4, load 0 5
                        let mutable a10, a11, a12, a13, a14, a15 = load 1 0, load 1 1, load 1 2, load 1 3, load 1 4, load 1 5
                        let mutable a20, a21, a22, a23, a24, a25 = load 2 0, load 2 1, load 2 2, load 2 3, load 2 4, load 2 5
                        let mutable a30, a31, a32, a33, a34, a35 = load 3 0, load 3 1, load 3 2, load 3 3, load 3 4, load 3 5
                        // Column j's inputs from q_j, dy's four planes from g: vector v at xb and yb.
                        let q0 = &Unsafe.Add(&ph, colOff.[kt * 6 + 0])
                        let q1 = &Unsafe.Add(&ph, colOff.[kt * 6 + 1])
                        let q2 = &Unsafe.Add(&ph, colOff.[kt * 6 + 2])
                        let q3 = &Unsafe.Add(&ph, colOff.[kt * 6 + 3])
                        let q4 = &Unsafe.Add(&ph, colOff.[kt * 6 + 4])
                        let q5 = &Unsafe.Add(&ph, colOff.[kt * 6 + 5])
                        let g = &Unsafe.Add(&dv, y0)
                        let mutable xb, yb, inRow = 0n, 0n, 0
                        for _ in 0 .. vectors - 1 do
                            let g0 = Vector512.LoadUnsafe(&g, unativeint yb)
                            let g1 = Vector512.LoadUnsafe(&g, unativeint (yb + planeLen))
                            let g2 = Vector512.LoadUnsafe(&g, unativeint (yb + 2n * planeLen))
                            let g3 = Vector512.LoadUnsafe(&g, unativeint (yb + 3n * planeLen))
                            let x0 = Vector512.LoadUnsafe(&q0, unativeint xb)
                            a00 <- Vector512.FusedMultiplyAdd(g0, x0, a00)
                            a10 <- Vector512.FusedMultiplyAdd(g1, x0, a10)
                            a20 <- Vector512.FusedMultiplyAdd(g2, x0, a20)
                            a30 <- Vector512.FusedMultiplyAdd(g3, x0, a30)
                            let x1 = Vector512.LoadUnsafe(&q1, unativeint xb)
                            a01 <- Vector512.FusedMultiplyAdd(g0, x1, a01)
                            a11 <- Vector512.FusedMultiplyAdd(g1, x1, a11)
                            a21 <- Vector512.FusedMultiplyAdd(g2, x1, a21)
                            a31 <- Vector512.FusedMultiplyAdd(g3, x1, a31)
                            let x2 = Vector512.LoadUnsafe(&q2, unativeint xb)
                            a02 <- Vector512.FusedMultiplyAdd(g0, x2, a02)
                            a12 <- Vector512.FusedMultiplyAdd(g1, x2, a12)
                            a22 <- Vector512.FusedMultiplyAdd(g2, x2, a22)
                            a32 <- Vector512.FusedMultiplyAdd(g3, x2, a32)
                            let x3 = Vector512.LoadUnsafe(&q3, unativeint xb)
                            a03 <- Vector512.FusedMultiplyAdd(g0, x3, a03)
                            a13 <- Vector512.FusedMultiplyAdd(g1, x3, a13)
                            a23 <- Vector512.FusedMultiplyAdd(g2, x3, a23)
                            a33 <- Vector512.FusedMultiplyAdd(g3, x3, a33)
                            let x4 = Vector512.LoadUnsafe(&q4, unativeint xb)
                            a04 <- Vector512.FusedMultiplyAdd(g0, x4, a04)
                            a14 <- Vector512.FusedMultiplyAdd(g1, x4, a14)
                            a24 <- Vector512.FusedMultiplyAdd(g2, x4, a24)
                            a34 <- Vector512.FusedMultiplyAdd(g3, x4, a34)
                            let x5 = Vector512.LoadUnsafe(&q5, unativeint xb)
                            a05 <- Vector512.FusedMultiplyAdd(g0, x5, a05)
                            a15 <- Vector512.FusedMultiplyAdd(g1, x5, a15)
                            a25 <- Vector512.FusedMultiplyAdd(g2, x5, a25)
                            a35 <- Vector512.FusedMultiplyAdd(g3, x5, a35)
                            yb <- yb + 16n
                            inRow <- inRow + 1
                            if inRow = perRow then
                                inRow <- 0
                                xb <- xb + nextRow
                            else xb <- xb + 16n
                        let store (i: int) (j: int) (a: Vector512<float32>) = a.CopyTo(Span(acc, at i j, 16))
                        store 0 0 a00; store 0 1 a01; store 0 2 a02; store 0 3 a03; store 0 4 a04; store 0 5 a05
                        store 1 0 a10; store 1 1 a11; store 1 2 a12; store 1 3 a13; store 1 4 a14; store 1 5 a15
                        store 2 0 a20; store 2 1 a21; store 2 2 a22; store 2 3 a23; store 2 4 a24; store 2 5 a25
                        store 3 0 a30; store 3 1 a31; store 3 2 a32; store 3 3 a33; store 3 4 a34; store 3 5 a35)
            (fun (phases, acc) ->
                Numerics.Tensors.TensorPrimitives.Add(ReadOnlySpan total, ReadOnlySpan acc, Span total)
                Storage.release phases
                Storage.release acc)
        for o in 0 .. d.O - 1 do
            for k in 0 .. d.Ckk - 1 do
                dw.[o * d.Ckk + k] <- Numerics.Tensors.TensorPrimitives.Sum(ReadOnlySpan(total, ((o * kTiles * 6) + k) * 16, 16))
        Storage.release total

    /// One output phase of conv2dᵀ into d's input: its first row and column (Py, Px) and how many
    /// of each, and for tap k = o·taps + j (o a channel of dy, j < (KH/s)·(KW/s)) where it reads
    /// the padded dy (Offsets) and which element of w weighs it for result channel c
    /// (Weights[k] + c·KH·KW).
    [<NoComparison; NoEquality>]
    type private TransposedPhase = { Py: int; Px: int; Rows: int; Cols: int; Offsets: nativeint[]; Weights: int[] }

    /// conv2dᵀ(dy, w) by output phases. Output row oy = s·a + φ takes, from kernel row ky = s·j + r,
    /// dy's row a + q − j, where φ + pad = s·q + r and j < KH/s: each of the s² output phases is a
    /// stride-1 correlation of dy (zero-padded by KH/s − 1 rows and KW/s − 1 columns, planes of
    /// Plane = hp·Wp) with its own (KH/s)×(KW/s) slice of the kernel, so no tap multiplies the
    /// zeros col2im would add (a quarter of GEMM + col2im's work at stride 2). Returns (Plane, Wp,
    /// where dy's row i of channel o goes in the padded planes, the phases with outputs).
    let private transposedPlan (d: Dims) =
        let sh, sw = d.G.StrideH, d.G.StrideW
        let jh, jw = d.KH / sh, d.KW / sw
        // Phase φ along an axis of `size` outputs: its outputs, and q and r of φ + pad = s·q + r.
        let along (s: int) (pad: int) (size: int) (phi: int) = (size - phi + s - 1) / s, (phi + pad) / s, (phi + pad) % s
        let padTop, padLeft = jh - 1, jw - 1
        let last (s: int) (pad: int) (size: int) =
            Seq.init s (fun phi -> let count, q, _ = along s pad size phi in count - 1 + q) |> Seq.max
        let hp = padTop + max d.Ho (last sh d.G.PadH d.H + 1)
        let wp = padLeft + max d.Wo (last sw d.G.PadW d.W + 1)
        let plane = hp * wp
        let taps = jh * jw
        let phases =
            [| for py in 0 .. sh - 1 do
                 for px in 0 .. sw - 1 do
                     let rows, qy, ry = along sh d.G.PadH d.H py
                     let cols, qx, rx = along sw d.G.PadW d.W px
                     if rows * cols > 0 then
                         // Tap k = o·taps + j reads dy channel o at (a + qy − j/jw, b + qx − j mod jw).
                         let offsets = Array.init (d.O * taps) (fun k ->
                             let o, j = k / taps, k % taps
                             nativeint (o * plane + (qy - j / jw + padTop) * wp + qx - j % jw + padLeft))
                         let weights = Array.init (d.O * taps) (fun k ->
                             let o, j = k / taps, k % taps
                             (o * d.C * d.KH + (j / jw) * sh + ry) * d.KW + (j % jw) * sw + rx)
                         yield { Py = py; Px = px; Rows = rows; Cols = cols; Offsets = offsets; Weights = weights } |]
        let row o i = o * plane + (i + padTop) * wp + padLeft
        plane, wp, row, phases

    /// w (O×C×KH×KW) with the kernel position outermost: byPosition[t·O·C + o·C + c] = w[o, c, t],
    /// so that the C weights of one tap lie side by side.
    let private weightsByPosition (d: Dims) (w: float32[]) =
        let kk = d.KH * d.KW
        let byPosition = Storage.scratch<float32> (d.O * d.C * kk)
        Tiles.transposeInto (d.O * d.C) kk w 0 kk byPosition 0 (d.O * d.C)
        byPosition

    /// A phase's weights for the transposed kernels, in blocks of `block` result channels:
    /// wr[((c / block)·ckk + k)·block + c mod block] = w[Weights[k] + c·KH·KW] (tap k of the
    /// phase, ckk of them), each block's run copied from byPosition (weightsByPosition).
    let private phaseWeights (d: Dims) (byPosition: float32[]) (ph: TransposedPhase) (block: int) =
        let ckk = ph.Offsets.Length
        let perOutput = d.C * d.KH * d.KW
        let wr = Storage.scratch<float32> (d.C * ckk)
        for k in 0 .. ckk - 1 do
            // Weights[k] = o·C·KH·KW + t: the run of tap t, channel o in byPosition.
            let at = (ph.Weights.[k] % perOutput) * d.O * d.C + (ph.Weights.[k] / perOutput) * d.C
            for cb in 0 .. d.C / block - 1 do
                Array.Copy(byPosition, at + cb * block, wr, (cb * ckk + k) * block, block)
        wr

    /// Image n of dy into its zero-padded planes (transposedPlan's).
    let private padImage (d: Dims) (dy: float32[]) (n: int) (row: int -> int -> int) (padded: float32[]) =
        Array.Fill(padded, 0.0f)
        let src = n * d.O * d.HoWo
        for o in 0 .. d.O - 1 do
            for i in 0 .. d.Ho - 1 do
                ReadOnlySpan(dy, src + o * d.HoWo + i * d.Wo, d.Wo).CopyTo(Span(padded, row o i, d.Wo))

    /// dx = conv2dᵀ(dy, w) in float32 on the channel-vector kernel, phase by phase
    /// (transposedPlan); each phase's sums are scattered into its pixels of dx, which together
    /// are all of them.
    let private transposedChannels (d: Dims) (dy: float32[]) (w: float32[]) (dx: float32[]) =
        let plane, wp, row, plan = transposedPlan d
        let byPosition = weightsByPosition d w
        let phases =
            plan |> Array.map (fun ph ->
                let count = ph.Rows * ph.Cols
                let wr = phaseWeights d byPosition ph 64
                // A pixel past the end repeats the last.
                let bases = Array.init (((count + 5) / 6) * 6) (fun p -> let p = min p (count - 1) in nativeint ((p / ph.Cols) * wp + p % ph.Cols))
                let sh, sw = d.G.StrideH, d.G.StrideW
                let targets = Array.init count (fun p -> (ph.Py + sh * (p / ph.Cols)) * d.W + ph.Px + sw * (p % ph.Cols))
                ph.Offsets, wr, bases, targets)
        Storage.release byPosition
        let widest = phases |> Array.map (fun (_, _, bases, _) -> bases.Length) |> Array.max
        let zero = Array.zeroCreate<float32> d.C
        overImages d.N
            (fun () -> Storage.scratch<float32> (d.O * plane), Storage.scratch<float32> (widest * d.C))
            (fun (padded, sums) n ->
                padImage d dy n row padded
                let dst = n * d.C * d.H * d.W
                for offsets, wr, bases, targets in phases do
                    channelSums padded bases offsets wr (ValueSome zero) d.C sums
                    let count = nativeint targets.Length
                    let channels = nativeint d.C
                    let t0 = &targets.[0]
                    for c in 0 .. d.C - 1 do
                        let plane = &dx.[dst + c * d.H * d.W]
                        let column = &sums.[c]
                        let mutable p = 0n
                        while p < count do
                            Unsafe.Add(&plane, Unsafe.Add(&t0, p)) <- Unsafe.Add(&column, p * channels)
                            p <- p + 1n)
            (fun (padded, sums) ->
                Storage.release padded
                Storage.release sums)
        for _, wr, _, _ in phases do Storage.release wr

    /// Whether the transposed pixel-vector kernel serves the input adjoint of d: 512-bit vectors,
    /// the result's channels in blocks of 8, stride 2 with even kernels, and an input of even
    /// height and width whose phases (H/2 × W/2) are rows of whole 16-lane vectors, an even
    /// number of them. CRHN_CONV=im2col turns it off (for comparisons).
    let private transposedPixelsServe (d: Dims) =
        Vector512.IsHardwareAccelerated && d.C > 0 && d.C % 8 = 0 && d.O > 0 && d.HoWo > 0
        && d.G.StrideH = 2 && d.G.StrideW = 2 && d.KH % 2 = 0 && d.KW % 2 = 0 && d.H % 2 = 0 && d.W % 2 = 0
        && (d.W / 2) % 16 = 0 && ((d.H / 2) * (d.W / 2) / 16) % 2 = 0
        && Environment.GetEnvironmentVariable "CRHN_CONV" <> "im2col"

    /// The pixel-vector kernel's core: out[outOff + o·outStride + 16v + l] = b[o] + Σₖ wr[((o/8)·ckk
    /// + k)·8 + o mod 8] · input[bases[v] + offsets[k] + l] for every channel o (channels a multiple
    /// of 8), vector v of `bases` (an even number of them) and lane l < 16, ckk = offsets.Length:
    /// 8 channels × 2 vectors of 16 pixels accumulate in 16 registers over the taps (each input
    /// vector loaded once per tap and used by 8 channels, each weight broadcast once and used by
    /// 32 pixels), then are stored.
    let private pixelSums (input: float32[]) (bases: nativeint[]) (offsets: nativeint[]) (wr: float32[]) (b: float32[]) (channels: int) (out: float32[]) (outOff: int) (outStride: int) =
        let ckk = offsets.Length
        let ph = &input.[0]
        let wv = &wr.[0]
        let og = &offsets.[0]
        let nckk = nativeint ckk
        for ob in 0 .. channels / 8 - 1 do
            let wBase = ob * ckk * 8
            let b0 = Vector512.Create<float32>(b.[ob * 8 + 0])
            let b1 = Vector512.Create<float32>(b.[ob * 8 + 1])
            let b2 = Vector512.Create<float32>(b.[ob * 8 + 2])
            let b3 = Vector512.Create<float32>(b.[ob * 8 + 3])
            let b4 = Vector512.Create<float32>(b.[ob * 8 + 4])
            let b5 = Vector512.Create<float32>(b.[ob * 8 + 5])
            let b6 = Vector512.Create<float32>(b.[ob * 8 + 6])
            let b7 = Vector512.Create<float32>(b.[ob * 8 + 7])
            let mutable v = 0
            while v < bases.Length do
                let mutable a00 = b0
                let mutable a01 = b0
                let mutable a10 = b1
                let mutable a11 = b1
                let mutable a20 = b2
                let mutable a21 = b2
                let mutable a30 = b3
                let mutable a31 = b3
                let mutable a40 = b4
                let mutable a41 = b4
                let mutable a50 = b5
                let mutable a51 = b5
                let mutable a60 = b6
                let mutable a61 = b6
                let mutable a70 = b7
                let mutable a71 = b7
                // Element offsets as native ints, so that each load's address is one
                // register plus a constant, with no bounds check or sign extension.
                let mutable k = 0n
                let mutable wk = nativeint wBase
                let q0, q1 = bases.[v], bases.[v + 1]
                while k < nckk do
                    let off = Unsafe.Add(&og, k)
                    let x0 = Vector512.LoadUnsafe(&ph, unativeint (off + q0))
                    let x1 = Vector512.LoadUnsafe(&ph, unativeint (off + q1))
                    let w0 = Vector512.Create<float32>(Unsafe.Add(&wv, wk + 0n))
                    a00 <- Vector512.FusedMultiplyAdd(w0, x0, a00)
                    a01 <- Vector512.FusedMultiplyAdd(w0, x1, a01)
                    let w1 = Vector512.Create<float32>(Unsafe.Add(&wv, wk + 1n))
                    a10 <- Vector512.FusedMultiplyAdd(w1, x0, a10)
                    a11 <- Vector512.FusedMultiplyAdd(w1, x1, a11)
                    let w2 = Vector512.Create<float32>(Unsafe.Add(&wv, wk + 2n))
                    a20 <- Vector512.FusedMultiplyAdd(w2, x0, a20)
                    a21 <- Vector512.FusedMultiplyAdd(w2, x1, a21)
                    let w3 = Vector512.Create<float32>(Unsafe.Add(&wv, wk + 3n))
                    a30 <- Vector512.FusedMultiplyAdd(w3, x0, a30)
                    a31 <- Vector512.FusedMultiplyAdd(w3, x1, a31)
                    let w4 = Vector512.Create<float32>(Unsafe.Add(&wv, wk + 4n))
                    a40 <- Vector512.FusedMultiplyAdd(w4, x0, a40)
                    a41 <- Vector512.FusedMultiplyAdd(w4, x1, a41)
                    let w5 = Vector512.Create<float32>(Unsafe.Add(&wv, wk + 5n))
                    a50 <- Vector512.FusedMultiplyAdd(w5, x0, a50)
                    a51 <- Vector512.FusedMultiplyAdd(w5, x1, a51)
                    let w6 = Vector512.Create<float32>(Unsafe.Add(&wv, wk + 6n))
                    a60 <- Vector512.FusedMultiplyAdd(w6, x0, a60)
                    a61 <- Vector512.FusedMultiplyAdd(w6, x1, a61)
                    let w7 = Vector512.Create<float32>(Unsafe.Add(&wv, wk + 7n))
                    a70 <- Vector512.FusedMultiplyAdd(w7, x0, a70)
                    a71 <- Vector512.FusedMultiplyAdd(w7, x1, a71)
                    k <- k + 1n
                    wk <- wk + 8n
                let out0 = outOff + ob * 8 * outStride + v * 16
                let store (acc0: Vector512<float32>) (acc1: Vector512<float32>) (o: int) =
                    acc0.CopyTo(Span(out, out0 + o * outStride, 16))
                    acc1.CopyTo(Span(out, out0 + o * outStride + 16, 16))
                store a00 a01 0
                store a10 a11 1
                store a20 a21 2
                store a30 a31 3
                store a40 a41 4
                store a50 a51 5
                store a60 a61 6
                store a70 a71 7
                v <- v + 2

    /// y = conv2d(x, w) in float32 without im2col: every channel of an image is split once into
    /// its padded stride phases, where each tap reads an output row's inputs as contiguous runs,
    /// and the pixel-vector kernel (pixelSums) runs over them. The weights are repacked tap-major.
    let private direct (d: Dims) (x: float32[]) (w: float32[]) (bias: float32[] option) (y: float32[]) =
        let taps = tapStarts d
        let kk = taps.Length
        let ckk = d.Ckk
        let rowStep = d.G.StrideH * d.RowLen
        // Tap k = c·KH·KW + t reads phase buffer c at taps[t].
        let offsets = Array.init ckk (fun k -> nativeint ((k / kk) * d.PaddedLen + taps.[k % kk]))
        // wr[(ob·Ckk + k)·8 + o] = w[ob·8 + o, k]: one block's 8 weights per tap side by side.
        let wr = Storage.scratch<float32> (d.O * ckk)
        for ob in 0 .. d.O / 8 - 1 do
            Tiles.transposeInto 8 ckk w (ob * 8 * ckk) ckk wr (ob * ckk * 8) 8
        let b = match bias with Some b -> b | None -> Array.zeroCreate d.O
        let perRow = d.Wo / 16
        // Vector v of 16 output pixels: where its inputs start in the phase buffer.
        let bases = Array.init (d.HoWo / 16) (fun v -> nativeint ((v / perRow) * rowStep + (v % perRow) * 16))
        overImages d.N
            (fun () -> Storage.scratch<float32> (d.C * d.PaddedLen))
            (fun phases n ->
                splitImage d x n phases
                pixelSums phases bases offsets wr b d.O y (n * d.O * d.HoWo) d.HoWo)
            Storage.release
        Storage.release wr

    /// dx = conv2dᵀ(dy, w) in float32 on the pixel-vector kernel, phase by phase (transposedPlan):
    /// each phase's outputs (H/2 × W/2 per channel) go to a buffer, and each output row is merged
    /// from its two column phases by vector shuffles (StridePhases.merge).
    let private transposedPixels (d: Dims) (dy: float32[]) (w: float32[]) (dx: float32[]) =
        let plane, wp, row, plan = transposedPlan d
        let rows, cols = d.H / 2, d.W / 2
        let count = rows * cols
        let bases = Array.init (count / 16) (fun v -> nativeint ((v * 16 / cols) * wp + (v * 16) % cols))
        let byPosition = weightsByPosition d w
        let weights = plan |> Array.map (fun ph -> phaseWeights d byPosition ph 8)
        Storage.release byPosition
        let zero = Array.zeroCreate<float32> d.C
        overImages d.N
            (fun () -> Storage.scratch<float32> (d.O * plane), Storage.scratch<float32> (4 * d.C * count))
            (fun (padded, sums) n ->
                padImage d dy n row padded
                // Phase (py, px)'s channel c at ((py·2 + px)·C + c)·count.
                for i in 0 .. plan.Length - 1 do
                    let ph = plan.[i]
                    pixelSums padded bases ph.Offsets weights.[i] zero d.C sums ((ph.Py * 2 + ph.Px) * d.C * count) count
                let dst = n * d.C * d.H * d.W
                for c in 0 .. d.C - 1 do
                    for oy in 0 .. d.H - 1 do
                        let evens = ((oy % 2) * 2 * d.C + c) * count + (oy / 2) * cols
                        StridePhases.merge sums evens (evens + d.C * count) dx (dst + (c * d.H + oy) * d.W) d.W)
            (fun (padded, sums) ->
                Storage.release padded
                Storage.release sums)
        Array.iter Storage.release weights

    /// y = conv2d(x, w): x N×C×H×W, w O×C×KH×KW, y N×O×Ho×Wo.
    let forward<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (x: 'T[]) (wShape: int[]) (w: 'T[]) (bias: 'T[] option) (g: ConvGeometry) =
        let d = dims xShape wShape g
        match box x, box w with
        | (:? (float32[]) as x32), (:? (float32[]) as w32) when channelsServe d || directServes d ->
            let y = Storage.uninit<float32> (d.N * d.O * d.HoWo)
            let kernel = if directServes d then direct else directChannels
            kernel d x32 w32 (bias |> Option.map (fun b -> box b :?> float32[])) y
            [| d.N; d.O; d.Ho; d.Wo |], (box y :?> 'T[])
        | _ ->
            let scratch = scratchFor<'T> d
            // Every element is written by the GEMMs (β = 0): no zeroing pass before the parallel loop.
            let y = Storage.uninit<'T>(d.N * d.O * d.HoWo)
            overImages d.N
                scratch
                (fun (col, phases) n ->
                    im2col d x (n * d.C * d.H * d.W) col phases
                    gemm false false d.O d.HoWo d.Ckk w 0 d.Ckk col 0 d.HoWo 'T.Zero y (n * d.O * d.HoWo) d.HoWo
                    match bias with
                    | Some b ->
                        for o in 0 .. d.O - 1 do
                            let start = (n * d.O + o) * d.HoWo
                            Numerics.Tensors.TensorPrimitives.Add(ReadOnlySpan(y, start, d.HoWo), b.[o], Span(y, start, d.HoWo))
                    | None -> ())
                releaseScratch
            [| d.N; d.O; d.Ho; d.Wo |], y

    /// dx = conv2dᵀ(dy, w), the input adjoint (conv_transpose2d of dy), for an input of xShape.
    let backwardInput<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (dy: 'T[]) (wShape: int[]) (w: 'T[]) (g: ConvGeometry) =
        let d = dims xShape wShape g
        // Both write every element of dx.
        let dx = Storage.uninit<'T>(Shape.numel xShape)
        match box dy, box w, box dx with
        | (:? (float32[]) as dy32), (:? (float32[]) as w32), (:? (float32[]) as dx32) when transposedServes d -> transposedChannels d dy32 w32 dx32
        | (:? (float32[]) as dy32), (:? (float32[]) as w32), (:? (float32[]) as dx32) when transposedPixelsServe d -> transposedPixels d dy32 w32 dx32
        | _ ->
            overImages d.N
                (scratchFor<'T> d)
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
        let total = Storage.scratchZeros<'T> (d.Ckk * d.O)
        overImages d.N
            (fun () ->
                let col, phases = scratch ()
                col, phases, Storage.scratchZeros<'T> (d.Ckk * d.O))
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

    /// Output pixels per image up to which the weight gradient runs as one GEMM over all images
    /// (weightBatched): W3's 8×8 and 16×16 layers. Their GEMMs per image are 64 or 256 deep, too
    /// short for the micro-kernel.
    let private batchedMaxPixels = 256

    /// dw = DY·COLᵀ in one GEMM as deep as all the images' pixels: DY (O × N·HoWo) holds dy's
    /// images side by side, COL (Ckk × N·HoWo) every image's columns side by side. dw's Ckk columns
    /// are split over the cores where there are 32 of them a core; otherwise (a first layer's 27 or
    /// 48 taps) the depth is, each core summing its share of the pixels, the shares added in order.
    let private weightBatched<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (d: Dims) (x: 'T[]) (dy: 'T[]) =
        let depth = d.N * d.HoWo
        let cols = Storage.scratch<'T> (d.Ckk * depth)
        overImages d.N
            (fun () -> Storage.scratch<'T> d.PaddedLen)
            (fun phases n -> im2colAt d x (n * d.C * d.H * d.W) cols (n * d.HoWo) depth phases)
            Storage.release
        let dys = Layout.permute [| d.N; d.O; d.HoWo |] dy [| 1; 0; 2 |]
        let dw = Storage.uninit<'T> (d.O * d.Ckk)
        let cores = Environment.ProcessorCount
        if d.Ckk >= 32 * cores || depth < 1024 * cores then
            let parts = min cores ((d.Ckk + 31) / 32)
            let part i = (d.Ckk * i / parts) / 32 * 32
            let run i =
                let j0, j1 = part i, (if i = parts - 1 then d.Ckk else part (i + 1))
                if j1 > j0 then gemm false true d.O (j1 - j0) depth dys 0 depth cols (j0 * depth) depth 'T.Zero dw j0 d.Ckk
            if parts = 1 then run 0 else Parallel.For(0, parts, Action<int>(run)) |> ignore
        else
            let partials = Array.init cores (fun i -> if i = 0 then dw else Storage.scratch<'T> (d.O * d.Ckk))
            Parallel.For(0, cores, Action<int>(fun i ->
                let k0, k1 = depth * i / cores, depth * (i + 1) / cores
                gemm false true d.O d.Ckk (k1 - k0) dys k0 depth cols k0 depth 'T.Zero partials.[i] 0 d.Ckk)) |> ignore
            for i in 1 .. cores - 1 do
                Numerics.Tensors.TensorPrimitives.Add(ReadOnlySpan dw, ReadOnlySpan partials.[i], Span dw)
                Storage.release partials.[i]
        Storage.release cols
        Storage.release dys
        dw

    /// dw = Σₙ dy[n]·im2col(x[n])ᵀ: on the turned channel-vector kernel (64·k output channels) or
    /// the pixel-vector one (rows of whole vectors) where one serves, else by GEMM.
    let private weightGrad<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (d: Dims) (x: 'T[]) (dy: 'T[]) =
        match box x, box dy with
        | (:? (float32[]) as x32), (:? (float32[]) as dy32) when channelsServe d ->
            let dw = Storage.uninit<float32> (d.O * d.Ckk)
            weightChannels d x32 dy32 dw
            box dw :?> 'T[]
        | (:? (float32[]) as x32), (:? (float32[]) as dy32) when weightPixelsServe d ->
            let dw = Storage.uninit<float32> (d.O * d.Ckk)
            weightPixels d x32 dy32 dw
            box dw :?> 'T[]
        | _ when d.HoWo <= batchedMaxPixels -> weightBatched gemm d x dy
        | _ -> weightSweep gemm d x dy (fun _ _ _ -> ())

    /// dw = Σₙ dy[n]·im2col(x[n])ᵀ, the weight gradient of conv2d.
    let backwardWeight<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (x: 'T[]) (dy: 'T[]) (wShape: int[]) (g: ConvGeometry) =
        weightGrad gemm (dims xShape wShape g) x dy

    /// conv2d(x, w) and the weight gradient Σₙ dy[n]·im2col(x[n])ᵀ in one sweep, each image's
    /// columns built once for both GEMMs: the reverse pass of conv_transpose2d (x its output's
    /// gradient, dy its input). Returns (output shape, y, dw).
    let forwardAndWeight<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (x: 'T[]) (wShape: int[]) (w: 'T[]) (dy: 'T[]) (g: ConvGeometry) =
        let d = dims xShape wShape g
        match box x with
        | :? (float32[]) when channelsServe d || directServes d || weightPixelsServe d ->
            let shape, y = forward gemm xShape x wShape w None g
            shape, y, weightGrad gemm d x dy
        | _ ->
            let y = Storage.uninit<'T>(d.N * d.O * d.HoWo)
            let dw = weightSweep gemm d x dy (fun col _ n -> gemm false false d.O d.HoWo d.Ckk w 0 d.Ckk col 0 d.HoWo 'T.Zero y (n * d.O * d.HoWo) d.HoWo)
            [| d.N; d.O; d.Ho; d.Wo |], y, dw

    /// Both gradients of conv2d. Where a direct transposed kernel serves the input's, or the
    /// channel-vector kernel the weight's, each gradient runs on its own (backwardInput,
    /// weightGrad). Otherwise one sweep over the images: for each image, dwᵀ += im2col(x[n])·dy[n]ᵀ,
    /// then dx[n] by GEMM + col2im into the same column buffer, so dy[n] is read while it is hot.
    /// Returns (dx, dw).
    let backward<'T when 'T :> IFloatingPointIeee754<'T>> (gemm: SerialGemm<'T>) (xShape: int[]) (x: 'T[]) (dy: 'T[]) (wShape: int[]) (w: 'T[]) (g: ConvGeometry) =
        let d = dims xShape wShape g
        match box dy with
        | :? (float32[]) when transposedServes d || transposedPixelsServe d || channelsServe d ->
            backwardInput gemm xShape dy wShape w g, weightGrad gemm d x dy
        | _ ->
            let dx = Storage.uninit<'T>(Shape.numel xShape)
            let dw =
                weightSweep gemm d x dy (fun col phases n ->
                    gemm true false d.Ckk d.HoWo d.O w 0 d.Ckk dy (n * d.O * d.HoWo) d.HoWo 'T.Zero col 0 d.HoWo
                    col2im d col dx (n * d.C * d.H * d.W) phases)
            dx, dw
