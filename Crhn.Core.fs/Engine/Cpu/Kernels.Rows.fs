namespace Crhn.Core.Kernels

/// The one odometer behind the strided kernels: walks the rows (runs along the last axis) of a
/// row-major shape in order, keeping one flat offset per operand.
module internal Rows =

    /// Calls visit(row, offsets) for each row of `shape`, where offsets.[k] = start.[k] +
    /// Σ index[a]·strides.[k].[a] over the outer axes a = 0 … r−2 (stride 0 on a broadcast axis).
    /// The offsets array is reused between calls: read it, do not keep it.
    let walk (shape: int[]) (start: int[]) (strides: int[][]) (visit: int -> int[] -> unit) =
        let r = shape.Length
        let mutable rows = 1
        for a in 0 .. r - 2 do
            rows <- rows * shape.[a]
        if r > 0 && shape.[r - 1] > 0 && rows > 0 then
            let idx = Array.zeroCreate (max 0 (r - 1))
            let off = Array.copy start
            for row in 0 .. rows - 1 do
                visit row off
                let mutable ax = r - 2
                let mutable carry = true
                while carry && ax >= 0 do
                    idx.[ax] <- idx.[ax] + 1
                    for k in 0 .. off.Length - 1 do
                        off.[k] <- off.[k] + strides.[k].[ax]
                    if idx.[ax] = shape.[ax] then
                        for k in 0 .. off.Length - 1 do
                            off.[k] <- off.[k] - strides.[k].[ax] * shape.[ax]
                        idx.[ax] <- 0
                        ax <- ax - 1
                    else carry <- false
