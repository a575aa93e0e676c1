namespace Crhn.Torch

open System
open Crhn
open Crhn.Core
open TorchSharp

/// The TorchSharp backend's factory: tensors on LibTorch on one device (the CPU, or a CUDA device
/// where the application brings a CUDA LibTorch). Named "torch" on the CPU and "torch:cuda:N" on
/// CUDA device N (Backends.Named "torch", "torch:cuda", "torch:cuda:1"; CRHN_BACKEND takes the same).
/// Memory scopes are TorchSharp dispose scopes.
[<Sealed>]
type TorchBackend private (device: Device, torchDevice: torch.Device) =
    inherit Backend()

    static let loaded =
        lazy
            (try
                torch.InitializeDeviceType DeviceType.CPU
                Ok()
             with e ->
                let first = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries) |> Array.tryHead |> Option.defaultValue (e.GetType().Name)
                Error first)

    /// Loads LibTorch once, or says in one line why it does not load.
    static member private RequireLibTorch() =
        match loaded.Force() with
        | Ok() -> ()
        | Error why ->
            raise (ProviderUnavailableException(sprintf "The torch backend needs LibTorch, which did not load (%s). Add the TorchSharp-cpu package (or TorchSharp with a CUDA LibTorch package) to the application." why))

    /// The backend on the device an option names: "" or "cpu" for the CPU, "cuda" for CUDA device
    /// 0, "cuda:N" for device N.
    static member Create(option: string) : TorchBackend =
        ArgumentNullException.ThrowIfNull option
        let device =
            match option.Trim().ToLowerInvariant() with
            | "" | "cpu" -> Device.Cpu
            | "cuda" -> Device.Cuda 0
            | s when s.StartsWith "cuda:" ->
                match Int32.TryParse(s.Substring 5) with
                | true, i when i >= 0 -> Device.Cuda i
                | _ -> raise (ArgumentException(sprintf "torch:%s is not a device: expected cpu, cuda or cuda:N." option, "option"))
            | _ -> raise (ArgumentException(sprintf "torch:%s is not a device: expected cpu, cuda or cuda:N." option, "option"))
        TorchBackend.RequireLibTorch()
        match device.Type with
        | DeviceType.Cpu -> TorchBackend(device, torch.CPU)
        | DeviceType.Cuda ->
            if not (torch.cuda.is_available ()) then
                raise (ProviderUnavailableException(sprintf "The torch backend was asked for %O, but LibTorch sees no CUDA device (no GPU, no driver, or a CPU-only LibTorch such as TorchSharp-cpu)." device))
            if device.Index >= torch.cuda.device_count () then
                raise (ProviderUnavailableException(sprintf "The torch backend was asked for %O, but LibTorch sees %d CUDA device(s)." device (torch.cuda.device_count ())))
            TorchBackend(device, torch.device ("cuda", device.Index))

    /// Makes "torch" known to Backends.Named (and so to Engine.UseBackend and CRHN_BACKEND).
    static member Register() = Backends.Register "torch" (fun option -> TorchBackend.Create option :> Backend)

    /// The LibTorch device.
    member _.TorchDevice = torchDevice

    member private b.Wrap(t: torch.Tensor) = TorchTensor(t, b.Name, device) :> RawTensor

    override _.Name = if device.Type = DeviceType.Cpu then "torch" else sprintf "torch:%O" device
    override _.Device = device
    override b.OfFloat32(shape, values) =
        if values.Length <> Shape.numel shape then
            raise (ArgumentException(sprintf "create: shape %s needs %d values, found %d." (Shape.format shape) (Shape.numel shape) values.Length, "values"))
        b.Wrap(torch.tensor(values, ReadOnlySpan<int64>(Convert.dims shape), Nullable torch.ScalarType.Float32, torchDevice))
    override b.OfFloat64(shape, values) =
        if values.Length <> Shape.numel shape then
            raise (ArgumentException(sprintf "create: shape %s needs %d values, found %d." (Shape.format shape) (Shape.numel shape) values.Length, "values"))
        b.Wrap(torch.tensor(values, ReadOnlySpan<int64>(Convert.dims shape), Nullable torch.ScalarType.Float64, torchDevice))
    override b.Zeros(dtype, shape) = b.Wrap(torch.zeros(ReadOnlySpan<int64>(Convert.dims shape), Nullable(Convert.scalarType dtype), torchDevice))
    override b.Full(dtype, shape, value) =
        use v = value.ToScalar()
        b.Wrap(torch.full(ReadOnlySpan<int64>(Convert.dims shape), v, Nullable(Convert.scalarType dtype), torchDevice))
    override _.Scope() = torch.NewDisposeScope() :> IDisposable
    override _.Describe() =
        let convolutions =
            if device.Type = DeviceType.Cpu && ConvolutionProbe.float32Wrong.Force() then
                "; LibTorch's float32 convolutions are wrong on this CPU (a probe against float64), so they run in float64"
            else ""
        sprintf "torch: LibTorch %s through TorchSharp %O on %O, %d threads; SIMD: Vector512 %b, Vector256 %b; %d cores%s"
            torch.__version__ (typeof<torch.Tensor>.Assembly.GetName().Version) device (torch.get_num_threads ())
            Runtime.Intrinsics.Vector512.IsHardwareAccelerated Runtime.Intrinsics.Vector256.IsHardwareAccelerated
            Environment.ProcessorCount convolutions
