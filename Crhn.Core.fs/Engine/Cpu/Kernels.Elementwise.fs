namespace Crhn.Core.Kernels

open System
open System.Numerics
open System.Numerics.Tensors
open Crhn.Core

/// Element-wise primal kernels over flat row-major arrays, vectorised through
/// System.Numerics.Tensors.TensorPrimitives, generic over float32 and float64.
module internal Broadcast =

    /// Rewrites a broadcast (out, a, b) into the fewest axes with the same row-major meaning:
    /// axes of size 1 are dropped, and neighbouring axes merge where both operands are either
    /// full or broadcast along both (so [50, 32, 32, 32] + [1, 32, 1, 1] becomes [1600, 1024] +
    /// [1600 → 32 repeating, 1], i.e. rows of 1024 with one scalar each).
    let coalesce (outShape: int[]) (aShape: int[]) (bShape: int[]) =
        let r = outShape.Length
        let pad (s: int[]) = Array.append (Array.create (r - s.Length) 1) s
        let sa, sb = pad aShape, pad bShape
        let axes =
            [ for i in 0 .. r - 1 do
                if outShape.[i] <> 1 then yield outShape.[i], sa.[i] <> 1, sb.[i] <> 1 ]
        let merged =
            axes |> List.fold (fun acc (size, fa, fb) ->
                match acc with
                | (s, pa, pb) :: rest when pa = fa && pb = fb -> (s * size, fa, fb) :: rest
                | _ -> (size, fa, fb) :: acc) [] |> List.rev
        match merged with
        | [] -> [| 1 |], [| 1 |], [| 1 |]
        | _ ->
            let out = merged |> List.map (fun (s, _, _) -> s) |> Array.ofList
            let a = merged |> List.map (fun (s, fa, _) -> if fa then s else 1) |> Array.ofList
            let b = merged |> List.map (fun (s, _, fb) -> if fb then s else 1) |> Array.ofList
            out, a, b

/// float32 tanh and the logistic sigmoid, vectorised with Vector256 and split over the cores for
/// long arrays. TensorPrimitives evaluates these through a float64 exp, which costs ~4 ns an element
/// on a core without AVX-512; here exp is float32 (Cody–Waite reduction, Cephes' expf polynomial,
/// max error ≈ 2 ulp), tanh uses Cephes' odd polynomial below |x| = 0.625 (where 1 − 2/(e²ˣ + 1)
/// would cancel) and saturates to ±1 beyond |x| = 9, where float32 tanh is 1. NaN stays NaN.
module internal FastActivation =

    open System.Runtime.Intrinsics
    open System.Threading.Tasks

    let private log2e = Vector256.Create 1.44269504088896341f
    let private ln2Hi = Vector256.Create 0.693359375f
    let private ln2Lo = Vector256.Create -2.12194440e-4f
    let private one = Vector256.Create 1.0f
    let private two = Vector256.Create 2.0f
    let private half = Vector256.Create 0.5f
    let private signBit = Vector256.Create -0.0f
    let private bias = Vector256.Create 127

    let inline private fma (a: Vector256<float32>) (b: Vector256<float32>) (c: Vector256<float32>) = Vector256.MultiplyAddEstimate(a, b, c)

    /// eˣ for x in [−87, 87] (the callers clamp): x = n·ln 2 + r, |r| ≤ ln 2 / 2, eʳ ≈ 1 + r + r²·P(r), times 2ⁿ.
    let inline private exp (x: Vector256<float32>) =
        let n = Vector256.Round(x * log2e)
        let r = fma n (-ln2Lo) (fma n (-ln2Hi) x)
        let p =
            fma (fma (fma (fma (fma (Vector256.Create 1.9875691500e-4f) r (Vector256.Create 1.3981999507e-3f)) r
                                (Vector256.Create 8.3334519073e-3f)) r (Vector256.Create 4.1665795894e-2f)) r
                      (Vector256.Create 1.6666665459e-1f)) r half
        let er = fma (p * r) r (r + one)
        er * Vector256.ShiftLeft(Vector256.ConvertToInt32 n + bias, 23).AsSingle()

    let private maxTanh = Vector256.Create 9.0f
    let private smallTanh = Vector256.Create 0.625f
    let private maxExp = Vector256.Create 87.0f

    let inline private tanh (x: Vector256<float32>) =
        let ax = Vector256.Abs x
        let s = x * x
        let poly =
            fma (fma (fma (fma (Vector256.Create -5.70498872745e-3f) s (Vector256.Create 2.06390887954e-2f)) s
                          (Vector256.Create -5.37397155531e-2f)) s (Vector256.Create 1.33314422036e-1f)) s
                (Vector256.Create -3.33332819422e-1f)
        let small = fma (poly * s) x x
        let e = exp (two * Vector256.Min(ax, maxTanh))
        let large = (one - two / (e + one)) ||| (x &&& signBit)
        let y = Vector256.ConditionalSelect(Vector256.LessThan(ax, smallTanh), small, large)
        Vector256.ConditionalSelect(Vector256.Equals(x, x), y, x)

    /// 1 / (1 + e⁻ˣ); 0 below x = −87, where the true value (< 1.7e−38) is at most a denormal.
    let inline private sigmoid (x: Vector256<float32>) =
        let e = exp (Vector256.Min(Vector256.Max(-x, -maxExp), maxExp))
        let y = Vector256.ConditionalSelect(Vector256.LessThan(x, -maxExp), Vector256<float32>.Zero, one / (one + e))
        Vector256.ConditionalSelect(Vector256.Equals(x, x), y, x)

    let inline private map ([<InlineIfLambda>] f: Vector256<float32> -> Vector256<float32>) (x: float32[]) (d: float32[]) (off: int) (len: int) =
        let mutable i = off
        let stop = off + len
        while i + 8 <= stop do
            (f (Vector256.Create<float32>(ReadOnlySpan<float32>(x, i, 8)))).CopyTo(Span<float32>(d, i, 8))
            i <- i + 8
        if i < stop then
            let tail = Array.zeroCreate<float32> 8
            Array.blit x i tail 0 (stop - i)
            let v = f (Vector256.Create<float32>(ReadOnlySpan<float32>(tail)))
            v.CopyTo(Span<float32>(tail))
            Array.blit tail 0 d i (stop - i)

    /// Below this many elements one core does the whole array (a task costs more than it saves).
    let private parallelMin = 1 <<< 16

    /// The same for tanh and the sigmoid, ~4 ns an element on one core without AVX-512: a 50×1024
    /// batch takes 0.19 ms on one core, where a parallel loop costs a few microseconds.
    let private parallelMinActivation = 1 <<< 13

    /// body(offset, length) over [0, n), in one chunk per core (a multiple of 16 elements each) once n reaches `least`.
    let private chunkedFrom (least: int) (n: int) (body: int -> int -> unit) =
        let workers = if n < least then 1 else Environment.ProcessorCount
        if workers <= 1 then body 0 n
        else
            let step = ((n + workers - 1) / workers + 15) / 16 * 16
            Parallel.For(0, workers, Action<int>(fun w ->
                let lo = min n (w * step)
                let hi = min n (lo + step)
                if hi > lo then body lo (hi - lo))) |> ignore

    /// body(offset, length) over [0, n), in one chunk per core (a multiple of 16 elements each) when n is large.
    let chunked (n: int) (body: int -> int -> unit) = chunkedFrom parallelMin n body

    /// d ← tanh x.
    let tanhInto (x: float32[]) (d: float32[]) = chunkedFrom parallelMinActivation x.Length (map tanh x d)

    /// d ← 1 / (1 + e⁻ˣ).
    let sigmoidInto (x: float32[]) (d: float32[]) = chunkedFrom parallelMinActivation x.Length (map sigmoid x d)

/// Copies of memory too large to stay in cache.
module internal Streaming =

    open System.Runtime.InteropServices
    open System.Runtime.Intrinsics
    open System.Runtime.Intrinsics.X86
    open Microsoft.FSharp.NativeInterop

    #nowarn "9"

    /// Bytes from which a copy streams: beyond the caches, a destination line written with an
    /// ordinary store is first read in (read for ownership), a third of the traffic for nothing.
    let threshold = 32L <<< 20

    /// dst[off .. off + len) ← src[off .. off + len), the aligned body with non-temporal stores
    /// (64-byte lines straight to memory, no read for ownership), the unaligned ends by Buffer.MemoryCopy.
    let copy (src: 'T[]) (dst: 'T[]) (off: int) (len: int) =
        let size = int64 (Runtime.CompilerServices.Unsafe.SizeOf<'T>())
        let bytes = int64 len * size
        if not Avx512F.IsSupported || bytes < 256L then Array.blit src off dst off len
        else
            let hs = GCHandle.Alloc(src, GCHandleType.Pinned)
            let hd = GCHandle.Alloc(dst, GCHandleType.Pinned)
            try
                let s = hs.AddrOfPinnedObject() + nativeint (int64 off * size)
                let d = hd.AddrOfPinnedObject() + nativeint (int64 off * size)
                let head = (64L - (int64 d &&& 63L)) &&& 63L
                let body = (bytes - head) / 256L * 256L
                Buffer.MemoryCopy(NativePtr.ofNativeInt<byte> s |> NativePtr.toVoidPtr, NativePtr.ofNativeInt<byte> d |> NativePtr.toVoidPtr, head, head)
                let mutable i = head
                while i < head + body do
                    for j in 0L .. 64L .. 192L do
                        let v = Avx512F.LoadVector512(NativePtr.ofNativeInt<float32> (s + nativeint (i + j)))
                        Avx512F.StoreAlignedNonTemporal(NativePtr.ofNativeInt<float32> (d + nativeint (i + j)), v)
                    i <- i + 256L
                let rest = bytes - head - body
                Buffer.MemoryCopy(NativePtr.ofNativeInt<byte> (s + nativeint i) |> NativePtr.toVoidPtr, NativePtr.ofNativeInt<byte> (d + nativeint i) |> NativePtr.toVoidPtr, rest, rest)
                Sse.StoreFence()
            finally
                hs.Free()
                hd.Free()

module internal Elementwise =

    let private binarySpan<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (a: ReadOnlySpan<'T>) (b: ReadOnlySpan<'T>) (d: Span<'T>) =
        match op with
        | BinaryOp.Add -> TensorPrimitives.Add(a, b, d)
        | BinaryOp.Sub -> TensorPrimitives.Subtract(a, b, d)
        | BinaryOp.Mul -> TensorPrimitives.Multiply(a, b, d)
        | BinaryOp.Div -> TensorPrimitives.Divide(a, b, d)

    let private binarySpanScalar<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (a: ReadOnlySpan<'T>) (b: 'T) (d: Span<'T>) =
        match op with
        | BinaryOp.Add -> TensorPrimitives.Add(a, b, d)
        | BinaryOp.Sub -> TensorPrimitives.Subtract(a, b, d)
        | BinaryOp.Mul -> TensorPrimitives.Multiply(a, b, d)
        | BinaryOp.Div -> TensorPrimitives.Divide(a, b, d)

    let private binaryScalarSpan<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (a: 'T) (b: ReadOnlySpan<'T>) (d: Span<'T>) =
        match op with
        | BinaryOp.Add -> TensorPrimitives.Add(b, a, d)
        | BinaryOp.Sub -> TensorPrimitives.Subtract(a, b, d)
        | BinaryOp.Mul -> TensorPrimitives.Multiply(b, a, d)
        | BinaryOp.Div -> TensorPrimitives.Divide(a, b, d)

    let private scalar<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (a: 'T) (b: 'T) =
        match op with
        | BinaryOp.Add -> a + b
        | BinaryOp.Sub -> a - b
        | BinaryOp.Mul -> a * b
        | BinaryOp.Div -> a / b

    /// d ← a ∘ b with NumPy broadcasting; `outShape` is the broadcast shape and d may be a itself
    /// (each element is read before it is written). Same shapes and scalar
    /// operands take one vectorised pass; otherwise rows of the last axis are vectorised and an
    /// odometer walks the outer axes with stride 0 on broadcast ones.
    let binaryInto<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (aShape: int[]) (a: 'T[]) (bShape: int[]) (b: 'T[]) (outShape: int[]) (d: 'T[]) =
        let n = d.Length
        if aShape = bShape then binarySpan op (ReadOnlySpan a) (ReadOnlySpan b) (Span d)
        elif b.Length = 1 && a.Length = n then binarySpanScalar op (ReadOnlySpan a) b.[0] (Span d)
        elif a.Length = 1 && b.Length = n then binaryScalarSpan op a.[0] (ReadOnlySpan b) (Span d)
        elif n > 0 then
            let outShape, aShape, bShape = Broadcast.coalesce outShape aShape bShape
            let r = outShape.Length
            let strideOf (s: int[]) = Array.mapi (fun i st -> if s.[i] = 1 then 0 else st) (Shape.strides s)
            let ta, tb = strideOf aShape, strideOf bShape
            let len = outShape.[r - 1]
            let ia, ib = ta.[r - 1], tb.[r - 1]
            Rows.walk outShape [| 0; 0 |] [| ta; tb |] (fun row off ->
                let offA, offB = off.[0], off.[1]
                let dst = Span(d, row * len, len)
                if ia = 1 && ib = 1 then binarySpan op (ReadOnlySpan(a, offA, len)) (ReadOnlySpan(b, offB, len)) dst
                elif ia = 1 then binarySpanScalar op (ReadOnlySpan(a, offA, len)) b.[offB] dst
                elif ib = 1 then binaryScalarSpan op a.[offA] (ReadOnlySpan(b, offB, len)) dst
                else dst.Fill(scalar op a.[offA] b.[offB]))

    /// a ∘ b with NumPy broadcasting into a new array of the broadcast shape `outShape`.
    let binary<'T when 'T :> IFloatingPointIeee754<'T>> (op: BinaryOp) (aShape: int[]) (a: 'T[]) (bShape: int[]) (b: 'T[]) (outShape: int[]) : 'T[] =
        let d = Storage.uninit<'T> (Shape.numel outShape)
        binaryInto op aShape a bShape b outShape d
        d

    /// f(x) element-wise, into d (which may be x); long arrays split over the cores.
    let unaryInto<'T when 'T :> IFloatingPointIeee754<'T>> (op: UnaryOp) (x: 'T[]) (d: 'T[]) =
        match op with
        | UnaryOp.Tanh when typeof<'T> = typeof<float32> -> FastActivation.tanhInto (box x :?> float32[]) (box d :?> float32[])
        | UnaryOp.Sigmoid when typeof<'T> = typeof<float32> -> FastActivation.sigmoidInto (box x :?> float32[]) (box d :?> float32[])
        | UnaryOp.Tanh when typeof<'T> = typeof<float> ->
            // Math.Tanh, correctly rounded to an ulp or so everywhere: TensorPrimitives' float64 tanh
            // forms (e²ˣ − 1)/(e²ˣ + 1), which loses digits near 0 (thousands of ulps at |x| ≈ 1e-5).
            let xs, ds = box x :?> float[], box d :?> float[]
            FastActivation.chunked x.Length (fun off len ->
                for i in off .. off + len - 1 do
                    ds.[i] <- Math.Tanh xs.[i])
        | _ ->
            FastActivation.chunked x.Length (fun off len ->
                let s = ReadOnlySpan(x, off, len)
                let t = Span(d, off, len)
                match op with
                | UnaryOp.Neg -> TensorPrimitives.Negate(s, t)
                | UnaryOp.Abs -> TensorPrimitives.Abs(s, t)
                | UnaryOp.Exp -> TensorPrimitives.Exp(s, t)
                | UnaryOp.Log -> TensorPrimitives.Log(s, t)
                | UnaryOp.Sqrt -> TensorPrimitives.Sqrt(s, t)
                | UnaryOp.Square -> TensorPrimitives.Multiply(s, s, t)
                | UnaryOp.Tanh -> TensorPrimitives.Tanh(s, t)
                | UnaryOp.Sigmoid -> TensorPrimitives.Sigmoid(s, t)
                | UnaryOp.Relu -> TensorPrimitives.Max(s, 'T.Zero, t)
                | UnaryOp.Sign ->
                    for i in off .. off + len - 1 do
                        let v = x.[i]
                        d.[i] <- if 'T.IsZero v || 'T.IsNaN v then v elif 'T.IsNegative v then -'T.One else 'T.One
                | UnaryOp.Step ->
                    for i in off .. off + len - 1 do
                        let v = x.[i]
                        d.[i] <- if 'T.IsPositive v && not ('T.IsZero v) && not ('T.IsNaN v) then 'T.One else 'T.Zero)

    /// f(x) element-wise, into a new array.
    let unary<'T when 'T :> IFloatingPointIeee754<'T>> (op: UnaryOp) (x: 'T[]) : 'T[] =
        let d = Storage.uninit<'T> x.Length
        unaryInto op x d
        d

    /// g·f′(x) for an activation f, from its output y = f(x): g·(1 − y²) for tanh, g·y·(1 − y) for
    /// the sigmoid, in one pass (the reverse rules' product of four element-wise ops).
    let activationGrad<'T when 'T :> IFloatingPointIeee754<'T>> (op: UnaryOp) (y: 'T[]) (g: 'T[]) : 'T[] =
        if op <> UnaryOp.Tanh && op <> UnaryOp.Sigmoid then
            invalidArg "op" (sprintf "activationGrad: %A is neither tanh nor the sigmoid." op)
        let d = Storage.uninit<'T> y.Length
        FastActivation.chunked y.Length (fun off len ->
            // Blocks of 2048 elements: the three passes of a block stay in L1.
            for b in off .. 2048 .. off + len - 1 do
                let n = min 2048 (off + len - b)
                let ys = ReadOnlySpan(y, b, n)
                let t = Span(d, b, n)
                let tr = ReadOnlySpan(d, b, n)
                TensorPrimitives.Multiply(ys, ys, t)
                if op = UnaryOp.Tanh then TensorPrimitives.Subtract('T.One, tr, t) else TensorPrimitives.Subtract(ys, tr, t)
                TensorPrimitives.Multiply(tr, ReadOnlySpan(g, b, n), t))
        d

    /// x + c.
    let addScalar<'T when 'T :> IFloatingPointIeee754<'T>> (c: 'T) (x: 'T[]) =
        let d = Storage.uninit<'T> x.Length
        TensorPrimitives.Add(ReadOnlySpan x, c, Span d)
        d

    /// x · c.
    let mulScalar<'T when 'T :> IFloatingPointIeee754<'T>> (c: 'T) (x: 'T[]) =
        let d = Storage.uninit<'T> x.Length
        TensorPrimitives.Multiply(ReadOnlySpan x, c, Span d)
        d

    /// min(max(x, lo), hi); NaN stays NaN.
    let clamp<'T when 'T :> IFloatingPointIeee754<'T>> (lo: 'T) (hi: 'T) (x: 'T[]) =
        let d = Storage.uninit<'T> x.Length
        TensorPrimitives.Max(ReadOnlySpan x, lo, Span d)
        TensorPrimitives.Min(ReadOnlySpan d, hi, Span d)
        d

    /// 1 where lo ≤ x ≤ hi, else 0.
    let inRange<'T when 'T :> IFloatingPointIeee754<'T>> (lo: 'T) (hi: 'T) (x: 'T[]) =
        Array.map (fun v -> if 'T.op_GreaterThanOrEqual(v, lo) && 'T.op_LessThanOrEqual(v, hi) then 'T.One else 'T.Zero) x

    /// True when every element is finite.
    let isFinite<'T when 'T :> IFloatingPointIeee754<'T>> (x: 'T[]) = TensorPrimitives.IsFiniteAll(ReadOnlySpan x)

    open System.Runtime.Intrinsics
    open System.Runtime.InteropServices

    /// One Adam step over [off, off + len) in PyTorch's order of operations (torch.optim.Adam,
    /// 1.13): m ← m·β₁ + g·d₁, v ← v·β₂ + g·g·d₂, p ← p − step·m/(√v/c₂ + ε), with d = 1 − β
    /// (rounded from float64, as PyTorch passes it), step = lr/(1−β₁ᵗ) and c₂ = √(1−β₂ᵗ); one pass
    /// in Vector256 lanes, then the tail.
    let inline private adamRange<'T when 'T: (new: unit -> 'T) and 'T: struct and 'T :> ValueType and 'T :> IFloatingPointIeee754<'T>>
        (p: 'T[]) (g: 'T[]) (m: 'T[]) (v: 'T[]) (step: 'T) (b1: 'T) (d1: 'T) (b2: 'T) (d2: 'T) (c2: 'T) (eps: 'T) (off: int) (len: int) =
        let lanes = Vector256<'T>.Count
        let body = len / lanes * lanes
        let pv = MemoryMarshal.Cast<'T, Vector256<'T>>(Span(p, off, body))
        let gv = MemoryMarshal.Cast<'T, Vector256<'T>>(ReadOnlySpan(g, off, body))
        let mv = MemoryMarshal.Cast<'T, Vector256<'T>>(Span(m, off, body))
        let vv = MemoryMarshal.Cast<'T, Vector256<'T>>(Span(v, off, body))
        let vb1, vd1 = Vector256.Create b1, Vector256.Create d1
        let vb2, vd2 = Vector256.Create b2, Vector256.Create d2
        let vstep, vbias, veps = Vector256.Create step, Vector256.Create c2, Vector256.Create eps
        for i in 0 .. pv.Length - 1 do
            let gi = gv.[i]
            let mi = Vector256.Add(Vector256.Multiply(mv.[i], vb1), Vector256.Multiply(gi, vd1))
            let vi = Vector256.Add(Vector256.Multiply(vv.[i], vb2), Vector256.Multiply(Vector256.Multiply(gi, gi), vd2))
            mv.[i] <- mi
            vv.[i] <- vi
            let denom = Vector256.Add(Vector256.Divide(Vector256.Sqrt vi, vbias), veps)
            pv.[i] <- Vector256.Subtract(pv.[i], Vector256.Multiply(vstep, Vector256.Divide(mi, denom)))
        for i in off + body .. off + len - 1 do
            let gi = g.[i]
            m.[i] <- m.[i] * b1 + gi * d1
            v.[i] <- v.[i] * b2 + gi * gi * d2
            p.[i] <- p.[i] - step * (m.[i] / ('T.Sqrt v.[i] / c2 + eps))

    /// One Adam step on parameter p with gradient g and moments m, v (all the same length), in
    /// place and in one pass, split over the cores when long.
    let adamInto<'T when 'T :> IFloatingPointIeee754<'T>> (p: 'T[]) (g: 'T[]) (m: 'T[]) (v: 'T[]) (step: float) (b1: float) (b2: float) (c2: float) (eps: float) =
        match box p, box g, box m, box v with
        | (:? (float32[]) as p), (:? (float32[]) as g), (:? (float32[]) as m), (:? (float32[]) as v) ->
            FastActivation.chunked p.Length (adamRange p g m v (float32 step) (float32 b1) (float32 (1.0 - b1)) (float32 b2) (float32 (1.0 - b2)) (float32 c2) (float32 eps))
        | (:? (float[]) as p), (:? (float[]) as g), (:? (float[]) as m), (:? (float[]) as v) ->
            FastActivation.chunked p.Length (adamRange p g m v step b1 (1.0 - b1) b2 (1.0 - b2) c2 eps)
        | _ -> invalidOp "adam: unsupported element type"
