namespace Crhn.Core.Native

open System
open System.Collections.Generic
open System.IO
open System.Runtime.InteropServices
open Crhn.Core.Kernels
open Crhn.Core.Providers

/// Every P/Invoke of Crhn lives in this folder. This file binds Debian's libopenblas.so.0
/// (package libopenblas0-pthread): CBLAS sgemm/dgemm and LAPACK's Fortran sgesdd_/dgesdd_.
/// Callers validate arguments first (ProviderChecks); nothing here is reached with sizes that
/// could address outside the arrays.
module internal OpenBlasNative =

    [<Literal>]
    let Library = "crhn-openblas"

    let CblasRowMajor = 101
    let CblasNoTrans = 111
    let CblasTrans = 112

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void cblas_sgemm(int order, int transA, int transB, int m, int n, int k, float32 alpha, nativeint a, int lda, nativeint b, int ldb, float32 beta, nativeint c, int ldc)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void cblas_dgemm(int order, int transA, int transB, int m, int n, int k, float alpha, nativeint a, int lda, nativeint b, int ldb, float beta, nativeint c, int ldc)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void sgesdd_(nativeint jobz, nativeint m, nativeint n, nativeint a, nativeint lda, nativeint s, nativeint u, nativeint ldu, nativeint vt, nativeint ldvt, nativeint work, nativeint lwork, nativeint iwork, nativeint info, unativeint jobzLength)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void dgesdd_(nativeint jobz, nativeint m, nativeint n, nativeint a, nativeint lda, nativeint s, nativeint u, nativeint ldu, nativeint vt, nativeint ldvt, nativeint work, nativeint lwork, nativeint iwork, nativeint info, unativeint jobzLength)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void sgeqrf_(nativeint m, nativeint n, nativeint a, nativeint lda, nativeint tau, nativeint work, nativeint lwork, nativeint info)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void dgeqrf_(nativeint m, nativeint n, nativeint a, nativeint lda, nativeint tau, nativeint work, nativeint lwork, nativeint info)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void sorgqr_(nativeint m, nativeint n, nativeint k, nativeint a, nativeint lda, nativeint tau, nativeint work, nativeint lwork, nativeint info)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void dorgqr_(nativeint m, nativeint n, nativeint k, nativeint a, nativeint lda, nativeint tau, nativeint work, nativeint lwork, nativeint info)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void sgebrd_(nativeint m, nativeint n, nativeint a, nativeint lda, nativeint d, nativeint e, nativeint tauq, nativeint taup, nativeint work, nativeint lwork, nativeint info)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void dgebrd_(nativeint m, nativeint n, nativeint a, nativeint lda, nativeint d, nativeint e, nativeint tauq, nativeint taup, nativeint work, nativeint lwork, nativeint info)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void sbdsdc_(nativeint uplo, nativeint compq, nativeint n, nativeint d, nativeint e, nativeint u, nativeint ldu, nativeint vt, nativeint ldvt, nativeint q, nativeint iq, nativeint work, nativeint iwork, nativeint info, unativeint uploLength, unativeint compqLength)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void dbdsdc_(nativeint uplo, nativeint compq, nativeint n, nativeint d, nativeint e, nativeint u, nativeint ldu, nativeint vt, nativeint ldvt, nativeint q, nativeint iq, nativeint work, nativeint iwork, nativeint info, unativeint uploLength, unativeint compqLength)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void sorgbr_(nativeint vect, nativeint m, nativeint n, nativeint k, nativeint a, nativeint lda, nativeint tau, nativeint work, nativeint lwork, nativeint info, unativeint vectLength)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void dorgbr_(nativeint vect, nativeint m, nativeint n, nativeint k, nativeint a, nativeint lda, nativeint tau, nativeint work, nativeint lwork, nativeint info, unativeint vectLength)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void dsyevd_(nativeint jobz, nativeint uplo, nativeint n, nativeint a, nativeint lda, nativeint w, nativeint work, nativeint lwork, nativeint iwork, nativeint liwork, nativeint info, unativeint jobzLength, unativeint uploLength)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern void openblas_set_num_threads(int n)

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern int openblas_get_num_threads()

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern nativeint openblas_get_corename()

    [<DllImport(Library, CallingConvention = CallingConvention.Cdecl)>]
    extern nativeint openblas_get_config()

    [<DllImport("libc", EntryPoint = "setenv", CallingConvention = CallingConvention.Cdecl)>]
    extern int private setenv(string name, string value, int overwrite)

    /// The places searched, in order: $CRHN_OPENBLAS_PATH, then the soname through the loader's
    /// search path, then Debian's pthread and openmp builds by full path.
    let candidates () =
        [ match Environment.GetEnvironmentVariable "CRHN_OPENBLAS_PATH" with
          | null | "" -> ()
          | p -> yield p
          yield "libopenblas.so.0"
          yield "/usr/lib/x86_64-linux-gnu/libopenblas.so.0"
          yield "/usr/lib/x86_64-linux-gnu/openblas-pthread/libopenblas.so.0"
          yield "/usr/lib/aarch64-linux-gnu/libopenblas.so.0" ]

    /// The outcome of loading: the handle, or the trace of every path tried and why it failed.
    type LoadResult =
        | Loaded of handle: nativeint * path: string
        | NotLoaded of trace: string list

    /// Loads the first of `paths` that opens and exports cblas_sgemm and sgesdd_.
    let tryLoad (paths: string list) =
        // OpenBLAS reads its environment once, when it loads; .NET's Environment.SetEnvironmentVariable
        // does not reach the C environment, so the worker-thread timeout is set through libc. Idle
        // OpenBLAS workers otherwise spin for ~2^28 cycles after each call and steal a core from
        // the engine's own parallel loops on a 2-core machine.
        if String.IsNullOrEmpty(Environment.GetEnvironmentVariable "OPENBLAS_THREAD_TIMEOUT") && OperatingSystem.IsLinux() then
            setenv ("OPENBLAS_THREAD_TIMEOUT", "16", 0) |> ignore
        let trace = List<string>()
        let rec attempt paths =
            match paths with
            | [] -> NotLoaded(List.ofSeq trace)
            | (p: string) :: rest ->
                if Path.IsPathRooted p && not (File.Exists p) then
                    trace.Add(sprintf "%s: no such file" p)
                    attempt rest
                else
                    try
                        let h = NativeLibrary.Load p
                        if NativeLibrary.TryGetExport(h, "cblas_sgemm") |> fst && NativeLibrary.TryGetExport(h, "sgesdd_") |> fst then
                            Loaded(h, p)
                        else
                            trace.Add(sprintf "%s: loaded, but it lacks cblas_sgemm or sgesdd_" p)
                            attempt rest
                    with e ->
                        trace.Add(sprintf "%s: %s" p e.Message)
                        attempt rest
        attempt paths

    /// Loaded on first use, once per process.
    let loadResult =
        lazy (
            let result = tryLoad (candidates ())
            match result with
            | Loaded(h, _) ->
                NativeLibrary.SetDllImportResolver(
                    typeof<LoadResult>.Assembly,
                    DllImportResolver(fun name _ _ -> if name = Library then h else IntPtr.Zero))
            | NotLoaded _ -> ()
            result)

    let private str (p: nativeint) = if p = IntPtr.Zero then "" else Marshal.PtrToStringAnsi(p).Trim()

    /// The kernel family OpenBLAS picked for this CPU (e.g. SkylakeX, Cooperlake, Haswell).
    let coreName () = str (openblas_get_corename ())

    /// OpenBLAS's build configuration string (version, threading model, default core).
    let config () = str (openblas_get_config ())

    /// Every OpenBLAS call holds this gate's read side; narrowing OpenBLAS to one thread (a
    /// process-wide count) holds its write side, so no call ever runs on a count another thread
    /// set for a while: a result's bits do not depend on what runs beside it.
    let private gate = new Threading.ReaderWriterLockSlim(Threading.LockRecursionPolicy.SupportsRecursion)

    /// Pins arrays for the duration of one native call and hands over the address of each
    /// array's element at the given offset, outside the gate: only for calls made while the
    /// gate's write side is held by the thread that waits for them.
    let private pinnedUngated (arrays: (Array * int) list) (call: nativeint list -> unit) =
        let handles = arrays |> List.map (fun (a, _) -> GCHandle.Alloc(a, GCHandleType.Pinned))
        try
            call (List.map2 (fun (h: GCHandle) (a: Array, off: int) ->
                    if a.Length = 0 then IntPtr.Zero
                    else h.AddrOfPinnedObject() + nativeint off * nativeint (Buffer.ByteLength(a) / a.Length)) handles arrays)
        finally
            for h in handles do h.Free()

    /// Pins arrays for the duration of one native call (inside the gate's read side) and hands
    /// over the address of each array's element at the given offset.
    let private pinned (arrays: (Array * int) list) (call: nativeint list -> unit) =
        gate.EnterReadLock()
        try pinnedUngated arrays call
        finally gate.ExitReadLock()

    let private trans (t: bool) = if t then CblasTrans else CblasNoTrans

    let sgemm (transA, transB, m, n, k, alpha: float32, a: float32[], aOff, lda, b: float32[], bOff, ldb, beta: float32, c: float32[], cOff, ldc) =
        pinned [ a :> Array, aOff; b, bOff; c, cOff ] (function
            | [ pa; pb; pc ] -> cblas_sgemm(CblasRowMajor, trans transA, trans transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc)
            | _ -> ())

    let dgemm (transA, transB, m, n, k, alpha: float, a: float[], aOff, lda, b: float[], bOff, ldb, beta: float, c: float[], cOff, ldc) =
        pinned [ a :> Array, aOff; b, bOff; c, cOff ] (function
            | [ pa; pb; pc ] -> cblas_dgemm(CblasRowMajor, trans transA, trans transB, m, n, k, alpha, pa, lda, pb, ldb, beta, pc, ldc)
            | _ -> ())

    /// One error-check idiom for LAPACK: info < 0 is an argument error (a bug here), info > 0 a
    /// failure to converge.
    let private checkInfo (routine: string) (info: int) =
        if info < 0 then invalidOp (sprintf "%s: argument %d had an illegal value" routine (-info))
        elif info > 0 then raise (ArithmeticException(sprintf "%s: the decomposition did not converge (info = %d)" routine info))

    /// Whether gesdd runs on one OpenBLAS thread: OpenBLAS threads the matrix–vector products of
    /// its bidiagonal reduction, and their synchronisation costs more than the extra threads give
    /// up to min(m, n) = 512 on a 16-core Xeon (1 thread: sgesdd of 512² 38.8 ms, 2–16 threads
    /// 45.9–48.7 ms) and at every size measured on a 2-core EPYC (1024²: 225–238 ms against 257–259;
    /// 128²: 1.07 against 2.03), while at 1024² the 16 cores win (247 ms on 8 threads against 465
    /// on one). Figures: bench/results/issue20-gesdd-threads.txt.
    let gesddSingleThreaded (k: int) = k <= 512 || Environment.ProcessorCount <= 2

    /// Runs f with OpenBLAS on one thread, then restores its thread count. The count is
    /// process-wide, so f holds the gate's write side: OpenBLAS calls from other threads wait
    /// until it ends.
    let private singleThreaded (f: unit -> 'R) =
        gate.EnterWriteLock()
        let before = openblas_get_num_threads ()
        openblas_set_num_threads 1
        try f ()
        finally
            openblas_set_num_threads before
            gate.ExitWriteLock()

    /// Outputs of at least this many elements are made ready on another core while a
    /// single-threaded gesdd runs: a fresh array's first writes fault its pages in, 12 µs a page on
    /// this VM (25 ms for U and Vᵀ at 1024²), and that core is otherwise idle.
    let private preparedOutputs = 1 <<< 19

    /// A fresh array with every page written once, so that later writes do not fault.
    let private touched<'T> (length: int) =
        let a = GC.AllocateUninitializedArray<'T> length
        for i in 0 .. 512 .. length - 1 do
            a.[i] <- Unchecked.defaultof<'T>
        a

    /// Whether outputs of `length` elements are prepared on another core: while a single-threaded
    /// gesdd runs, on a machine with another core, from preparedOutputs elements.
    let private prepareBeside (single: bool) (length: int) =
        single && Environment.ProcessorCount > 1 && length >= preparedOutputs

    /// A LAPACK routine with a workspace, called twice through `pin`: a query (lwork = −1) for the
    /// workspace's size, then the call itself. `args` holds the routine's arguments before WORK,
    /// `ints` the integer arguments it points into, with LWORK and INFO as its last two.
    let private withWorkspaceUsing pin (routine: string) (call: nativeint list -> unit) (args: (Array * int) list) (ints: int[]) (toInt: 'T -> int) =
        let run (ws: 'T[]) =
            pin (args @ [ ws :> Array, 0; ints, ints.Length - 2; ints, ints.Length - 1 ]) call
            checkInfo routine ints.[ints.Length - 1]
        let query = Array.zeroCreate<'T> 1
        ints.[ints.Length - 2] <- -1
        run query
        ints.[ints.Length - 2] <- max 1 (toInt query.[0])
        let workspace = Storage.uninit<'T> ints.[ints.Length - 2]
        try run workspace
        finally Storage.release workspace

    let private withWorkspace routine call args ints toInt = withWorkspaceUsing pinned routine call args ints toInt

    let private gesdd (routine: string) (call: nativeint list -> unit) (m: int) (n: int) (work: 'T[]) (toInt: 'T -> int) =
        let k = min m n
        let single = gesddSingleThreaded k
        let prepare = prepareBeside single (m * k + k * n)
        let outputs = if prepare then Threading.Tasks.Task.Run(fun () -> touched<'T> (m * k), touched<'T> (k * n)) else null
        let s = GC.AllocateUninitializedArray<'T> k
        // LAPACK writes into pooled arrays while the outputs are prepared, then they are copied.
        let u = if prepare then Storage.uninit<'T> (m * k) else GC.AllocateUninitializedArray<'T> (m * k)
        let vt = if prepare then Storage.uninit<'T> (k * n) else GC.AllocateUninitializedArray<'T> (k * n)
        let iwork = Array.zeroCreate<int> (8 * k)
        // jobz, M, N, LDA, LDU, LDVT, LWORK, INFO for the column-major n×m problem.
        let ints = [| int 'S'; n; m; n; n; k; -1; 0 |]
        let run (ws: 'T[]) =
            pinned [ ints :> Array, 0; ints, 1; ints, 2; work, 0; ints, 3; s, 0; vt, 0; ints, 4; u, 0; ints, 5; ws, 0; ints, 6; iwork, 0; ints, 7 ] call
            checkInfo routine ints.[7]
        let query = Array.zeroCreate<'T> 1
        run query
        ints.[6] <- max 1 (toInt query.[0])
        let workspace = Storage.uninit<'T> ints.[6]
        try
            if single then singleThreaded (fun () -> run workspace) else run workspace
        finally
            Storage.release workspace
        if prepare then
            let freshU, freshVt = outputs.Result
            Array.blit u 0 freshU 0 u.Length
            Array.blit vt 0 freshVt 0 vt.Length
            Storage.release u
            Storage.release vt
            { U = freshU; S = s; Vt = freshVt; M = m; N = n }
        else { U = u; S = s; Vt = vt; M = m; N = n }

    let private lapack (f: nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * unativeint -> unit) =
        function
        | [ jobz; pm; pn; pa; lda; ps; pu; ldu; pvt; ldvt; pw; lw; pi; info ] -> f (jobz, pm, pn, pa, lda, ps, pu, ldu, pvt, ldvt, pw, lw, pi, info, 1un)
        | _ -> ()

    /// The smallest min(m, n) whose SVD overlaps its steps on two cores (overlappedSvd): below it
    /// the second thread saves less than it costs.
    let overlapFrom = 128

    /// Whether a row-major m×n matrix's SVD runs as overlappedSvd: where gesdd would run
    /// single-threaded on a machine with another core, from overlapFrom, and bidiagonalise the
    /// matrix directly (m ≤ n < 11m/6; from 11m/6 LAPACK takes an LQ first).
    let overlaps (m: int) (n: int) =
        m >= overlapFrom && m <= n && n < m * 11 / 6 && gesddSingleThreaded m && Environment.ProcessorCount > 1

    /// gesdd's path for a row-major m×n matrix with m ≤ n < 11m/6 (LAPACK sees Aᵀ, column-major
    /// n×m, bidiagonalised as Q·B·Pᵀ by gebrd), its steps overlapped on two cores: while one
    /// core finds B's SVD (bdsdc, B = U_B·S·V_Bᵀ), the other forms Q's first m columns and Pᵀ from
    /// gebrd's reflectors (orgbr), each on one OpenBLAS thread; then Aᵀ's left vectors are Q·U_B and
    /// its right ones V_Bᵀ·Pᵀ, two GEMMs on every core. gesdd instead applies the reflectors to
    /// U_B and V_Bᵀ (ormbr) after bdsdc, on one thread (at 1024², about a quarter of its time). The
    /// outputs are made ready on the other core during gebrd. Overwrites `a`.
    let private overlappedSvd (gebrd: string * (nativeint list -> unit)) (bdsdc: string * (nativeint list -> unit)) (orgbr: string * (nativeint list -> unit))
                              (gemm: bool * bool * int * int * int * 'T * 'T[] * int * int * 'T[] * int * int * 'T * 'T[] * int * int -> unit)
                              (toInt: 'T -> int) (m: int) (n: int) (a: 'T[]) : SvdResult<'T> when 'T :> Numerics.INumber<'T> =
        if m > n then invalidArg (nameof m) (sprintf "an overlapped SVD needs m ≤ n (m = %d, n = %d)" m n)
        let outputs = Threading.Tasks.Task.Run(fun () -> touched<'T> (m * m), touched<'T> (m * n))
        let d = GC.AllocateUninitializedArray<'T> m
        let e = GC.AllocateUninitializedArray<'T> m
        let tauq = GC.AllocateUninitializedArray<'T> m
        let taup = GC.AllocateUninitializedArray<'T> m
        // B's vectors (column-major U_B, V_Bᵀ) and Pᵀ, each m×m.
        let ub = Storage.uninit<'T> (m * m)
        let vbt = Storage.uninit<'T> (m * m)
        let pt = Storage.uninit<'T> (m * m)
        let call = withWorkspaceUsing pinnedUngated
        try
            singleThreaded (fun () ->
                // M, N, LDA, LWORK, INFO.
                let brdInts = [| n; m; n; 0; 0 |]
                call (fst gebrd) (snd gebrd) [ brdInts :> Array, 0; brdInts, 1; a, 0; brdInts, 2; d, 0; e, 0; tauq, 0; taup, 0 ] brdInts toInt
                // Pᵀ's reflectors are in the top m×m block, above the diagonal.
                for j in 0 .. m - 1 do Array.Copy(a, j * n, pt, j * m, m)
                let reflectors =
                    Threading.Tasks.Task.Run(fun () ->
                        // VECT, M, N, K, LDA, LWORK, INFO: Q's first m columns over a, then Pᵀ.
                        let qInts = [| int 'Q'; n; m; m; n; 0; 0 |]
                        call (fst orgbr) (snd orgbr) [ qInts :> Array, 0; qInts, 1; qInts, 2; qInts, 3; a, 0; qInts, 4; tauq, 0 ] qInts toInt
                        let pInts = [| int 'P'; m; m; m; m; 0; 0 |]
                        call (fst orgbr) (snd orgbr) [ pInts :> Array, 0; pInts, 1; pInts, 2; pInts, 3; pt, 0; pInts, 4; taup, 0 ] pInts toInt)
                let work = Storage.uninit<'T> (3 * m * m + 4 * m)
                let iwork = Array.zeroCreate<int> (8 * m)
                // UPLO, COMPQ, N, LDU, LDVT, INFO; Q and IQ are not referenced with COMPQ = 'I'.
                let dcInts = [| int 'U'; int 'I'; m; m; m; 0 |]
                try
                    pinnedUngated [ dcInts :> Array, 0; dcInts, 1; dcInts, 2; d, 0; e, 0; ub, 0; dcInts, 3; vbt, 0; dcInts, 4; dcInts, 5; dcInts, 5; work, 0; iwork, 0; dcInts, 5 ] (snd bdsdc)
                    checkInfo (fst bdsdc) dcInts.[5]
                finally
                    Storage.release work
                    reflectors.Wait())
            let u, vt = outputs.Result
            // Row-major: a is Qᵀ (m×n), ub is U_Bᵀ, vbt is V_B and pt is P (m×m each); Vᵀ = U_Bᵀ·Qᵀ, U = P·V_B.
            gemm (false, false, m, n, m, 'T.One, ub, 0, m, a, 0, n, 'T.Zero, vt, 0, n)
            gemm (false, false, m, m, m, 'T.One, pt, 0, m, vbt, 0, m, 'T.Zero, u, 0, m)
            { U = u; S = d; Vt = vt; M = m; N = n }
        finally
            Storage.release ub
            Storage.release vbt
            Storage.release pt

    let private brd (f: nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint -> unit) =
        function
        | [ pm; pn; pa; lda; d; e; tauq; taup; work; lwork; info ] -> f (pm, pn, pa, lda, d, e, tauq, taup, work, lwork, info)
        | _ -> ()

    let private bidiagonalSvd (f: nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * unativeint * unativeint -> unit) =
        function
        | [ uplo; compq; pn; d; e; u; ldu; vt; ldvt; q; iq; work; iwork; info ] -> f (uplo, compq, pn, d, e, u, ldu, vt, ldvt, q, iq, work, iwork, info, 1un, 1un)
        | _ -> ()

    let private bidiagonalReflectors (f: nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * unativeint -> unit) =
        function
        | [ vect; pm; pn; pk; pa; lda; tau; work; lwork; info ] -> f (vect, pm, pn, pk, pa, lda, tau, work, lwork, info, 1un)
        | _ -> ()

    /// Thin SVD of a row-major m×n float32 matrix (m ≤ n < 11m/6) with its steps overlapped on two
    /// cores (overlappedSvd), overwriting it.
    let sgesddOverlapped (m: int) (n: int) (a: float32[]) =
        overlappedSvd ("sgebrd", brd sgebrd_) ("sbdsdc", bidiagonalSvd sbdsdc_) ("sorgbr", bidiagonalReflectors sorgbr_) sgemm (fun x -> int (ceil x)) m n a

    /// Thin SVD of a row-major m×n float64 matrix, as sgesddOverlapped.
    let dgesddOverlapped (m: int) (n: int) (a: float[]) =
        overlappedSvd ("dgebrd", brd dgebrd_) ("dbdsdc", bidiagonalSvd dbdsdc_) ("dorgbr", bidiagonalReflectors dorgbr_) dgemm (fun x -> int (ceil x)) m n a

    /// Thin SVD of a row-major m×n matrix, overwriting it: overlapped where `overlaps` says so, else gesdd.
    let sgesdd (m: int) (n: int) (a: float32[]) =
        if overlaps m n then sgesddOverlapped m n a else gesdd "sgesdd" (lapack sgesdd_) m n a (fun x -> int (ceil x))

    /// Thin SVD of a row-major m×n matrix, overwriting it: overlapped where `overlaps` says so, else gesdd.
    let dgesdd (m: int) (n: int) (a: float[]) =
        if overlaps m n then dgesddOverlapped m n a else gesdd "dgesdd" (lapack dgesdd_) m n a (fun x -> int (ceil x))

    /// svd on a copy of `a` from the storage pool (a fresh 4 MB copy cost 1,024 page faults, about
    /// 12 ms on this VM, at 1024²): the input is not modified.
    let private onPooledCopy (svd: int -> int -> 'T[] -> SvdResult<'T>) (m: int) (n: int) (a: 'T[]) =
        let work = Storage.uninit<'T> (m * n)
        Array.blit a 0 work 0 (m * n)
        try svd m n work
        finally Storage.release work

    /// Thin SVD of a row-major m×n float32 matrix; the input is not modified.
    let sgesddOf (m: int) (n: int) (a: float32[]) = onPooledCopy sgesdd m n a

    /// Thin SVD of a row-major m×n float64 matrix; the input is not modified.
    let dgesddOf (m: int) (n: int) (a: float[]) = onPooledCopy dgesdd m n a

    /// Thin SVD of a tall row-major m×n matrix (m > n), QR first: A = QR (geqrf on A column-major,
    /// i.e. on the row-major transpose), R = U_R·S·Vᵀ (gesdd of the n×n R). U then comes one of two
    /// ways. With at least `fewestColumns` columns and well conditioned (σ₁ ≤ `maxCondition`·σₙ,
    /// σₙ > 0): U = A·V·S⁻¹, one GEMM of A by Vᵀ's rows scaled by 1/σ, no Q; its columns carry
    /// A·V's rounding magnified by σ₁/σᵢ, so their orthonormality error grows with the condition
    /// number (measured at 4096×1024 in float32:
    /// 2.3e-6 against LAPACK's 2.3e-6 at κ = 3, 2.1e-6 against 1.7e-6 at κ = 14, 5.8e-6 at κ = 130,
    /// 1.2e-4 at κ = 1300). Otherwise Q is formed by orgqr and U = Q·U_R by one GEMM that writes U
    /// row-major, gesdd's own path for a tall matrix, without its copies and transposes. The
    /// temporaries and LAPACK's workspaces come from the storage pool (fresh, they cost 19,000
    /// page faults a call at 4096×1024).
    let private tallSvd<'T when 'T :> Numerics.INumber<'T> and 'T: comparison> (geqrf: string * (nativeint list -> unit)) (orgqr: string * (nativeint list -> unit)) (squareSvd: int -> int -> 'T[] -> SvdResult<'T>)
                        (gemm: bool * bool * int * int * int * 'T * 'T[] * int * int * 'T[] * int * int * 'T * 'T[] * int * int -> unit) (toInt: 'T -> int)
                        (fewestColumns: int) (maxCondition: float) (m: int) (n: int) (a: 'T[]) =
        let qa = Storage.uninit<'T> (m * n)
        Transpose.tiledInto m n a qa
        let tau = GC.AllocateUninitializedArray<'T> n
        // M, N, LDA, LWORK, INFO.
        let qrInts = [| m; n; m; 0; 0 |]
        withWorkspace (fst geqrf) (snd geqrf) [ qrInts :> Array, 0; qrInts, 1; qa, 0; qrInts, 2; tau, 0 ] qrInts toInt
        // R row-major: R[i, j] = qa[j·m + i] for i ≤ j, zero below.
        let r = Storage.zeros<'T> (n * n)
        for i in 0 .. n - 1 do
            for j in i .. n - 1 do
                r.[i * n + j] <- qa.[j * m + i]
        // U is made ready on the other core while R's SVD runs on one (as gesdd's own outputs).
        let prepared =
            if prepareBeside (gesddSingleThreaded n) (m * n) then
                Threading.Tasks.Task.Run(fun () -> touched<'T> (m * n))
            else null
        let rs = squareSvd n n r
        let u = if isNull prepared then GC.AllocateUninitializedArray<'T> (m * n) else prepared.Result
        let smallest = rs.S.[n - 1]
        if n >= fewestColumns && smallest > 'T.Zero && rs.S.[0] <= 'T.CreateChecked maxCondition * smallest then
            // r (n×n, no longer needed) ← S⁻¹·Vᵀ; U = A·(S⁻¹·Vᵀ)ᵀ.
            for i in 0 .. n - 1 do
                let inverse = 'T.One / rs.S.[i]
                for j in 0 .. n - 1 do
                    r.[i * n + j] <- rs.Vt.[i * n + j] * inverse
            gemm (false, true, m, n, n, 'T.One, a, 0, n, r, 0, n, 'T.Zero, u, 0, n)
        else
            // M, N, K, LDA, LWORK, INFO.
            let qInts = [| m; n; n; m; 0; 0 |]
            withWorkspace (fst orgqr) (snd orgqr) [ qInts :> Array, 0; qInts, 1; qInts, 2; qa, 0; qInts, 3; tau, 0 ] qInts toInt
            // qa, column-major m×n Q, is row-major Qᵀ (n×m): U = (Qᵀ)ᵀ·U_R.
            gemm (true, false, m, n, n, 'T.One, qa, 0, m, rs.U, 0, n, 'T.Zero, u, 0, n)
        Storage.release r
        Storage.release qa
        { U = u; S = rs.S; Vt = rs.Vt; M = m; N = n }

    let private qr (f: nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint -> unit) =
        function
        | [ pm; pn; pa; lda; tau; work; lwork; info ] -> f (pm, pn, pa, lda, tau, work, lwork, info)
        | _ -> ()

    let private orthogonal (f: nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint * nativeint -> unit) =
        function
        | [ pm; pn; pk; pa; lda; tau; work; lwork; info ] -> f (pm, pn, pk, pa, lda, tau, work, lwork, info)
        | _ -> ()

    /// The largest σ₁/σₙ for which a tall SVD forms U as A·V·S⁻¹: at 16 its orthonormality error
    /// stays within twice the orgqr route's (the measurements above).
    let wellConditioned = 16.0

    /// The fewest columns for which a tall SVD forms U as A·V·S⁻¹. A·V's rounding grows like
    /// √n·u while the orthonormality LAPACK guarantees is about max(m, n)·u: for small matrices the
    /// margin is gone (a 6×4 float64 matrix came out at 8.2e-15 against 6.7e-15), and there orgqr
    /// costs little anyway.
    let fewestColumns = 64

    /// Thin SVD of a tall row-major m×n float32 matrix (m > n), QR first, U as A·V·S⁻¹ where
    /// n ≥ fewest and σ₁ ≤ maxCondition·σₙ; the input is not modified.
    let sgesddTallWith (fewest: int) (maxCondition: float) (m: int) (n: int) (a: float32[]) =
        tallSvd ("sgeqrf", qr sgeqrf_) ("sorgqr", orthogonal sorgqr_) sgesdd sgemm (fun x -> int (ceil x)) fewest maxCondition m n a

    /// Thin SVD of a tall row-major m×n float64 matrix (m > n), as sgesddTallWith.
    let dgesddTallWith (fewest: int) (maxCondition: float) (m: int) (n: int) (a: float[]) =
        tallSvd ("dgeqrf", qr dgeqrf_) ("dorgqr", orthogonal dorgqr_) dgesdd dgemm (fun x -> int (ceil x)) fewest maxCondition m n a

    /// Eigendecomposition of a symmetric n×n matrix (dsyevd, jobz = 'V'). A symmetric row-major
    /// matrix is its own column-major self; LAPACK leaves eigenvector i (ascending λ) in column i
    /// of its column-major buffer, i.e. row i read row-major. The result is reordered to descending
    /// λ with eigenvectors as columns.
    let dsyevd (n: int) (a: float[]) =
        let work = Array.copy a
        let w = Array.zeroCreate<float> n
        // jobz, uplo, N, LDA, LWORK, LIWORK, INFO.
        let ints = [| int 'V'; int 'L'; n; n; -1; -1; 0 |]
        let run (ws: float[]) (iws: int[]) =
            pinned [ ints :> Array, 0; ints, 1; ints, 2; work, 0; ints, 3; w, 0; ws, 0; ints, 4; iws, 0; ints, 5; ints, 6 ] (function
                | [ jobz; uplo; pn; pa; lda; pw; pwork; lwork; piwork; liwork; info ] ->
                    dsyevd_(jobz, uplo, pn, pa, lda, pw, pwork, lwork, piwork, liwork, info, 1un, 1un)
                | _ -> ())
            checkInfo "dsyevd" ints.[6]
        let query = Array.zeroCreate<float> 1
        let iquery = Array.zeroCreate<int> 1
        run query iquery
        ints.[4] <- max 1 (int (ceil query.[0]))
        ints.[5] <- max 1 iquery.[0]
        run (Array.zeroCreate ints.[4]) (Array.zeroCreate ints.[5])
        { Values = Array.init n (fun j -> w.[n - 1 - j])
          Vectors = Array.init (n * n) (fun i -> work.[(n - 1 - i % n) * n + i / n])
          N = n }
