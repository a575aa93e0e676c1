namespace Crhn.Core.Kernels

open System
open System.Collections.Generic
open System.Runtime.CompilerServices
open System.Threading

/// Recycling of the engine's large arrays. Writing to fresh memory costs a page fault per 4 KB
/// (2.5 µs a page on the VMs this project is measured on: a fresh 13 MB array costs 8 ms before
/// its first useful store), and the GC hands freed large-object memory back to the OS between its
/// collections, so a loop whose every step allocates the same tensors pays those faults on every
/// step. Arrays of at least `Threshold` elements that back a tensor are tracked (`track`): once the
/// GC finds one unreachable, its lease's finalizer puts it in a pool keyed by length, and the
/// next request for that length (`uninit`, `zeros`) gets it back with its pages still mapped.
/// Reachability is the GC's own, so an array is reused only when nothing refers to it any more.
/// Scratch buffers that never leave a kernel are handed back explicitly (`release`).
/// Large arrays die only in a full collection, and the runtime starts one only when fresh
/// large-object allocations exceed its budget; so once `CollectAfterBytes` of requests have missed
/// the pool since the last one, a miss starts a full collection itself and waits for the leases'
/// finalizers (the live set of a training loop is small: a few milliseconds against the page
/// faults of 64 MB). Setting CRHN_POOL=0 turns the recycling off.
module internal Storage =

    /// Arrays shorter than this (64 KB of float32) come from the GC as usual.
    [<Literal>]
    let Threshold = 16384

    /// Scratch buffers (`scratch`) from this many elements on are pooled too, below `Threshold`:
    /// each goes back by `release` when its kernel call ends, so the GC need not track it. A
    /// convolution's per-worker buffers are a few KB each; made fresh, W3's training epoch at
    /// N = 500 put 30 MB a call into the GC's youngest generation, which then collected eight
    /// times an epoch, and every collection handed pages back that the next steps faulted in again.
    [<Literal>]
    let ScratchMinimum = 1024

    /// At most this many bytes wait in the pools by default (1 GiB); beyond it the arrays of the
    /// lengths asked for least recently make room (MakeRoom), or the freed array is left to the GC.
    [<Literal>]
    let DefaultMaxPooledBytes = 1L <<< 30

    let mutable private maxPooledBytes = DefaultMaxPooledBytes

    /// At most this many bytes wait in the pools (default 1 GiB; 0 pools nothing).
    let MaxPooledBytes () = Interlocked.Read &maxPooledBytes

    /// Sets the pool limit from code, for hosts that want the engine to keep less memory.
    let SetMaxPooledBytes (value: int64) =
        if value < 0L then raise (ArgumentOutOfRangeException("value", value, "The pool limit must be non-negative."))
        Interlocked.Exchange(&maxPooledBytes, value) |> ignore

    /// At most this many arrays of one length wait in a pool.
    [<Literal>]
    let MaxPerLength = 256

    /// Bytes of requests that may miss the pool before a miss starts a full collection.
    [<Literal>]
    let CollectAfterBytes = 64L <<< 20

    let private enabled = Environment.GetEnvironmentVariable "CRHN_POOL" <> "0"

    let mutable private pooledBytes = 0L

    let mutable private missedBytes = 0L

    /// The bytes waiting in the pools now.
    let PooledBytes () = Interlocked.Read &pooledBytes

    /// Counts requests (under the gate): when each length was last asked for.
    let mutable private clock = 0L

    /// Whether an array taken inside a scope is still the tensor's: it ends when the scope hands
    /// the array back, and tensors over the array then refuse to be read (ObjectDisposedException).
    [<Sealed; AllowNullLiteral>]
    type Ticket() =
        [<VolatileField>]
        let mutable live = true
        /// False once the array has gone back to the pool.
        member _.Live = live
        member internal _.End() = live <- false

    /// The scope (see `scope`) that will hand an array back when it ends.
    [<Sealed; AllowNullLiteral>]
    type private Scope() =
        /// Each array taken in the scope and still in use, with its ticket and what hands it back.
        member val Arrays = Dictionary<obj, struct (Ticket * (unit -> unit))>(ReferenceEqualityComparer.Instance)
        member val Open = true with get, set

    /// Every pool's lock: pools, scopes and ownership change together.
    let private gate = obj ()
    /// The scope each array taken inside one belongs to, until it is handed back.
    let private owners = Dictionary<obj, Scope>(ReferenceEqualityComparer.Instance)
    let private current = AsyncLocal<Scope>()

    type private Pool<'T>() =
        static let buckets = Dictionary<int, Stack<'T[]>>()
        static let pooled = HashSet<'T[]>(HashIdentity.Reference)
        static let leases = ConditionalWeakTable<'T[], Lease<'T>>()
        static let elementBytes = int64 (Runtime.InteropServices.Marshal.SizeOf<'T>())
        /// When each length was last asked for (clock), hit or miss.
        static let lastAsked = Dictionary<int, int64>()
        static let asked (length: int) = match lastAsked.TryGetValue length with | true, t -> t | _ -> 0L

        /// Takes an array out of the scope it belongs to, if any (the caller holds the gate).
        static member private Disown(array: 'T[]) =
            match owners.TryGetValue array with
            | true, scope ->
                scope.Arrays.Remove array |> ignore
                owners.Remove array |> ignore
            | _ -> ()

        /// Records that an array stays in use after its scope ends.
        static member Keep(array: 'T[]) = lock gate (fun () -> Pool<'T>.Disown array)

        /// Records that an array just taken (fresh, or from the pool, where no array has an owner)
        /// belongs to the current scope, if one is open; outside scopes there is nothing to do.
        static member Claim(array: 'T[]) =
            match current.Value with
            | null -> ()
            | scope ->
                lock gate (fun () ->
                    if scope.Open then
                        scope.Arrays.[array] <- struct (Ticket(), fun () -> Pool<'T>.Give array)
                        owners.[array] <- scope)

        static member Take(length: int) : 'T[] option =
            lock gate (fun () ->
                clock <- clock + 1L
                lastAsked.[length] <- clock
                match buckets.TryGetValue length with
                | true, stack when stack.Count > 0 ->
                    Interlocked.Add(&pooledBytes, -(int64 length * elementBytes)) |> ignore
                    let array = stack.Pop()
                    pooled.Remove array |> ignore
                    Some array
                | _ -> None)

        /// Puts an array in the pool; an array already there is left alone.
        static member Give(array: 'T[]) =
            let bytes = int64 array.Length * elementBytes
            lock gate (fun () ->
                Pool<'T>.Disown array
                let stack =
                    match buckets.TryGetValue array.Length with
                    | true, s -> s
                    | _ ->
                        let s = Stack<'T[]>()
                        buckets.[array.Length] <- s
                        s
                if not (pooled.Contains array) && stack.Count < MaxPerLength then
                    Pool<'T>.MakeRoom(array.Length, bytes)
                    if Interlocked.Read(&pooledBytes) + bytes <= Interlocked.Read(&maxPooledBytes) then
                        Interlocked.Add(&pooledBytes, bytes) |> ignore
                        pooled.Add array |> ignore
                        stack.Push array)

        /// Where `bytes` more of `length` would pass the limit, drops (to the GC) the arrays of the
        /// lengths asked for less recently than `length`, least recent first, until they fit: a
        /// pool full of a finished workload's sizes would otherwise turn every array of the next
        /// one away, and each of its steps would fault its pages in again (the caller holds the gate).
        static member private MakeRoom(length: int, bytes: int64) =
            let limit = Interlocked.Read &maxPooledBytes
            if Interlocked.Read(&pooledBytes) + bytes > limit && bytes <= limit then
                let stale =
                    buckets
                    |> Seq.filter (fun kv -> kv.Value.Count > 0 && asked kv.Key < asked length)
                    |> Seq.sortBy (fun kv -> asked kv.Key)
                    |> Seq.map (fun kv -> kv.Key, kv.Value)
                    |> Seq.toArray
                let mutable i = 0
                while Interlocked.Read(&pooledBytes) + bytes > limit && i < stale.Length do
                    let len, stack = stale.[i]
                    while stack.Count > 0 && Interlocked.Read(&pooledBytes) + bytes > limit do
                        pooled.Remove(stack.Pop()) |> ignore
                        Interlocked.Add(&pooledBytes, -(int64 len * elementBytes)) |> ignore
                    i <- i + 1

        /// A lease is made only when the table has none for the array: a lease made and dropped
        /// would hand its array back while the array is still in use. A lease whose finalizer
        /// has run (its array went through the pool and is back in use, and the table kept the
        /// entry) is armed again.
        static member Track(array: 'T[]) =
            lock leases (fun () ->
                match leases.TryGetValue array with
                | true, lease -> lease.Rearm()
                | _ -> leases.Add(array, Lease<'T>(array)))

    /// Keeps its array out of the GC's hands until the GC finds the array itself unreachable (the
    /// table above holds the lease only while the array is alive), then returns it to the pool.
    and [<Sealed>] private Lease<'T>(array: 'T[]) =
        let mutable spent = false

        member this.Rearm() =
            if Volatile.Read &spent then
                Volatile.Write(&spent, false)
                GC.ReRegisterForFinalize this

        override _.Finalize() =
            Volatile.Write(&spent, true)
            Pool<'T>.Give array

    /// A pooled array of the given length, collecting first when misses have added up (None: a miss).
    let private take<'T> (length: int) : 'T[] option =
        match Pool<'T>.Take length with
        | Some a -> Some a
        | None ->
            let bytes = int64 length * int64 (Runtime.InteropServices.Marshal.SizeOf<'T>())
            if Interlocked.Add(&missedBytes, bytes) < CollectAfterBytes then None
            else
                Interlocked.Exchange(&missedBytes, 0L) |> ignore
                GC.Collect(2, GCCollectionMode.Forced, true, false)
                GC.WaitForPendingFinalizers()
                Pool<'T>.Take length

    /// An array of the given length with unspecified contents: a pooled one when there is one.
    let uninit<'T> (length: int) : 'T[] =
        if enabled && length >= Threshold then
            let a = match take<'T> length with Some a -> a | None -> GC.AllocateUninitializedArray<'T> length
            Pool<'T>.Claim a
            a
        else GC.AllocateUninitializedArray<'T> length

    /// A scratch buffer with unspecified contents, for a kernel that hands it back (`release`)
    /// when it is done with it: a pooled one from ScratchMinimum elements on.
    let scratch<'T> (length: int) : 'T[] =
        if enabled && length >= ScratchMinimum && length < Threshold then
            match Pool<'T>.Take length with
            | Some a -> a
            | None -> GC.AllocateUninitializedArray<'T> length
        else uninit<'T> length

    /// An array of zeros of the given length.
    let zeros<'T> (length: int) : 'T[] =
        if enabled && length >= Threshold then
            let a =
                match take<'T> length with
                | Some a ->
                    Array.Clear a
                    a
                | None -> Array.zeroCreate<'T> length
            Pool<'T>.Claim a
            a
        else Array.zeroCreate<'T> length

    /// A scratch buffer of zeros, handed back as `scratch`'s are.
    let scratchZeros<'T> (length: int) : 'T[] =
        if enabled && length >= ScratchMinimum && length < Threshold then
            let a = scratch<'T> length
            Array.Clear a
            a
        else zeros<'T> length

    /// Marks an array that now backs a tensor: it goes back to the pool once unreachable.
    /// Tracking one array twice (a view of a tensor) keeps the first lease.
    let track (array: 'T[]) =
        if enabled && array.Length >= Threshold then Pool<'T>.Track array

    /// Until the returned handle is disposed, every array the engine takes on this thread (and in
    /// the parallel work it starts) belongs to the scope, and disposing it hands them all back to
    /// the pool at once: the next step reuses them while they are still in the cache, where
    /// waiting for the GC would give back memory whose pages fault again. So nothing made inside
    /// the scope may be used after it: wrap one training step (forward, backward, optimiser step)
    /// and read what you keep (the loss as a number) inside. Scopes nest; with CRHN_POOL=0 a scope
    /// does nothing.
    let scope () : IDisposable =
        if not enabled then { new IDisposable with member _.Dispose() = () }
        else
            let opened = Scope()
            let previous = current.Value
            current.Value <- opened
            { new IDisposable with
                member _.Dispose() =
                    let handBack =
                        lock gate (fun () ->
                            if opened.Open then
                                opened.Open <- false
                                let all = Seq.toArray opened.Arrays.Values
                                opened.Arrays.Clear()
                                all
                            else [||])
                    current.Value <- previous
                    for struct (ticket, give) in handBack do
                        ticket.End()
                        give () }

    /// The ticket of an array taken inside a scope that is still open (null for any other array:
    /// those are never handed back while a tensor refers to them).
    let ticket (array: 'T[]) : Ticket =
        if enabled && array.Length >= Threshold then
            lock gate (fun () ->
                match owners.TryGetValue array with
                | true, scope ->
                    let struct (t, _) = scope.Arrays.[array]
                    t
                | _ -> null)
        else null

    /// Takes an array made inside a scope out of it: it stays valid after the scope ends (and goes
    /// back to the pool through the GC, as arrays made outside scopes do).
    let keep (array: 'T[]) =
        if enabled && array.Length >= Threshold then Pool<'T>.Keep array

    /// Hands back a scratch buffer that no one refers to any more.
    let release (array: 'T[]) =
        if enabled && array.Length >= ScratchMinimum then Pool<'T>.Give array
