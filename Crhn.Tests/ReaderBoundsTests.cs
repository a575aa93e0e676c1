using System.Diagnostics;
using System.IO.Compression;
using Crhn.Core.Data;
using Xunit;

namespace Crhn.Tests;

/// <summary>Readers that refuse special files without opening them and bound what they inflate by
/// what the header implies.</summary>
public class ReaderBoundsTests() : TempFolderTests("crhn-readers-")
{
    /// <summary>Runs a read that must end (with the given exception) within 60 s: a pipe must not
    /// block it. The read runs on a thread of its own, so a busy thread pool cannot delay its start.</summary>
    private static T EndsWith<T>(Action read) where T : Exception
    {
        Exception? caught = null;
        var thread = new Thread(() =>
        {
            try { read(); }
            catch (Exception e) { caught = e; }
        }) { IsBackground = true };
        thread.Start();
        Assert.True(thread.Join(TimeSpan.FromSeconds(60)), "the read did not end");
        return Assert.IsType<T>(caught, exactMatch: false);
    }

    [Fact]
    public void A_pipe_a_device_and_a_dangling_link_in_a_folder_are_refused_without_hanging()
    {
        if (!OperatingSystem.IsLinux()) return;
        var folder = Directory.CreateDirectory(Path.Combine(Scratch, "special")).FullName;
        using (var mkfifo = Process.Start("mkfifo", Path.Combine(folder, "a.png"))) mkfifo.WaitForExit();
        Assert.Contains("not a regular file", EndsWith<DataFormatException>(() => ImageBatch.Load($"folder:{folder}", 1, 1, 8, 8)).Message);
        File.Delete(Path.Combine(folder, "a.png"));
        File.CreateSymbolicLink(Path.Combine(folder, "b.png"), "/dev/zero");
        Assert.Contains("not a regular file", EndsWith<DataFormatException>(() => ImageBatch.Load($"folder:{folder}", 1, 1, 8, 8)).Message);
        File.Delete(Path.Combine(folder, "b.png"));
        File.CreateSymbolicLink(Path.Combine(folder, "c.png"), Path.Combine(folder, "missing.png"));
        Assert.Contains("which does not exist", EndsWith<DataFormatException>(() => ImageBatch.Load($"folder:{folder}", 1, 1, 8, 8)).Message);
    }

    [Fact]
    public void A_model_file_or_an_idx_file_that_is_a_device_is_refused_at_once()
    {
        if (!OperatingSystem.IsLinux()) return;
        EndsWith<ModelFormatException>(() => CrhnModel.Load("/dev/zero"));
        EndsWith<DataFormatException>(() => ImageBatch.FromIdx("/dev/zero", 1));
    }

    [Fact]
    public void Companion_a_link_to_a_regular_file_is_read_through()
    {
        var images = ImageBatch.Procedural(seed: 1, count: 2, channels: 3, height: 8, width: 8);
        var folder = Directory.CreateDirectory(Path.Combine(Scratch, "linked")).FullName;
        var real = Path.Combine(Scratch, "real.png");
        File.WriteAllBytes(real, Png.encode(3, 8, 8, images.Take([0]).ToArray()));
        File.CreateSymbolicLink(Path.Combine(folder, "a.png"), real);
        Assert.Equal(1, ImageBatch.Load($"folder:{folder}", 1, 3, 8, 8).Count);
    }

    private static byte[] Gzip(byte[] data)
    {
        using var ms = new MemoryStream();
        using (var gz = new GZipStream(ms, CompressionLevel.Fastest, leaveOpen: true)) gz.Write(data);
        return ms.ToArray();
    }

    private static byte[] IdxHeader(params int[] dims) =>
        [0, 0, 8, (byte)dims.Length, .. dims.SelectMany(d => new[] { (byte)(d >> 24), (byte)(d >> 16), (byte)(d >> 8), (byte)d })];

    [Fact]
    public void An_idx_file_that_declares_more_than_the_bound_is_refused_before_inflating()
    {
        var path = Path.Combine(Scratch, "bomb.idx.gz");
        // 1 MB of zeros after a header that declares 60000×28×28; and one that declares 2³⁰ values.
        File.WriteAllBytes(path, Gzip([.. IdxHeader(60000, 28, 28), .. new byte[1 << 20]]));
        Assert.Contains("truncated", Assert.Throws<DataFormatException>(() => ImageBatch.FromIdx(path, 1)).Message);
        File.WriteAllBytes(path, Gzip([.. IdxHeader(1024, 1024, 1024), .. new byte[16]]));
        Assert.Contains("more than the", Assert.Throws<DataFormatException>(() => ImageBatch.FromIdx(path, 1)).Message);
        // 64 MB inflated behind a header that declares 2×2×2: inflation stops after the declared 8 values.
        File.WriteAllBytes(path, Gzip([.. IdxHeader(2, 2, 2), .. new byte[64 << 20]]));
        Assert.Contains("more data follows", Assert.Throws<DataFormatException>(() => ImageBatch.FromIdx(path, 1)).Message);
    }

    [Fact]
    public void Companion_an_idx_file_of_exactly_its_declared_size_reads()
    {
        var path = Path.Combine(Scratch, "ok.idx.gz");
        File.WriteAllBytes(path, Gzip([.. IdxHeader(3, 2, 2), .. Enumerable.Range(0, 12).Select(i => (byte)(20 * i))]));
        var batch = ImageBatch.FromIdx(path, 2);
        Assert.Equal(2 * 4, batch.ToArray().Length);
        Assert.Equal(20f / 255f, batch.ToArray()[1], 6);
    }

    private static byte[] Chunk(string kind, byte[] data)
    {
        byte[] typed = [.. System.Text.Encoding.ASCII.GetBytes(kind), .. data];
        uint crc = Png.crc32(typed);
        return [(byte)(data.Length >> 24), (byte)(data.Length >> 16), (byte)(data.Length >> 8), (byte)data.Length, .. typed,
            (byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc];
    }

    /// <summary>A valid PNG's chunks: signature, IHDR (33 bytes from 8), then the rest.</summary>
    private static (byte[] Signature, byte[] Ihdr, byte[] Chunks) PngParts()
    {
        var bytes = Png.encode(1, 2, 2, [0f, 0.25f, 0.5f, 1f]);
        return (bytes[..8], bytes[8..33], bytes[33..]);
    }

    [Fact]
    public void Strict_parsing_refuses_what_the_formats_forbid()
    {
        var (signature, ihdr, rest) = PngParts();
        Assert.Contains("unknown critical chunk", Assert.Throws<DataFormatException>(() => Png.decode([.. signature, .. ihdr, .. Chunk("ABCD", [1, 2]), .. rest])).Message);
        Assert.Contains("before IHDR", Assert.Throws<DataFormatException>(() => Png.decode([.. signature, .. rest[..^12], .. ihdr, .. rest[^12..]])).Message);
        Assert.Equal(4, Png.decode([.. signature, .. ihdr, .. Chunk("tEXt", [65, 0, 66]), .. rest]).Item4.Length);
        byte[] pixels = [.. Enumerable.Range(0, 60).Select(i => (byte)i)];
        Assert.Throws<DataFormatException>(() => Folder.decodePnm([.. System.Text.Encoding.ASCII.GetBytes("P6\n5 4\n255\n# a comment\n"), .. pixels]));
        Assert.Equal(60, Folder.decodePnm([.. System.Text.Encoding.ASCII.GetBytes("P6\n# a comment\n5 4\n255\n"), .. pixels]).Item4.Length);
        var path = Path.Combine(Scratch, "cut.idx.gz");
        var gz = Gzip([.. IdxHeader(3, 2, 2), .. Enumerable.Range(0, 12).Select(i => (byte)i)]);
        File.WriteAllBytes(path, gz[..^8]);
        Assert.Throws<DataFormatException>(() => ImageBatch.FromIdx(path, 1));
        File.WriteAllBytes(path, Gzip([.. IdxHeader(3, 0, 2)]));
        Assert.Contains("a side of 0", Assert.Throws<DataFormatException>(() => ImageBatch.FromIdx(path, 1)).Message);
    }

    [Fact]
    public void A_png_whose_header_declares_a_huge_image_is_refused_before_inflating()
    {
        // A valid 1×1 grey PNG with its IHDR's size rewritten to 32767×32767 (and its CRC recomputed).
        var path = Path.Combine(Scratch, "huge.png");
        var bytes = Png.encode(1, 1, 1, [0.5f]);
        byte[] size = [0, 0, 0x7F, 0xFF, 0, 0, 0x7F, 0xFF];
        size.CopyTo(bytes, 16);
        var crc = Png.crc32(bytes[12..29]);
        new[] { (byte)(crc >> 24), (byte)(crc >> 16), (byte)(crc >> 8), (byte)crc }.CopyTo(bytes, 29);
        File.WriteAllBytes(path, bytes);
        var folder = Directory.CreateDirectory(Path.Combine(Scratch, "huge")).FullName;
        File.Move(path, Path.Combine(folder, "huge.png"));
        Assert.Contains("more than the", Assert.Throws<DataFormatException>(() => ImageBatch.Load($"folder:{folder}", 1, 1, 8, 8)).Message);
    }
}
