using System.Collections;

namespace Protocols.Wire.Capture;

/// <summary>
/// A streaming reader of capture frames: <see cref="PcapReader"/> or <see cref="PcapNgReader"/>,
/// usually obtained from <see cref="CaptureFile.Open(string, bool)"/>. Enumerate it (once) or call
/// <see cref="TryReadFrame(out CaptureFrame)"/> in a loop.
/// </summary>
/// <remarks>
/// Reading never loads the file: one frame (pcapng: one block) is in memory at a time. Truncated
/// or corrupt input throws <see cref="CaptureFormatException"/> with the byte offset and the
/// reason; nothing else is thrown for bad file contents (I/O errors of the stream pass through).
/// By default each frame owns its <see cref="CaptureFrame.Data"/>; with <c>reuseBuffer</c> the
/// data lives in a buffer the next read overwrites, which avoids one allocation per frame.
/// Not thread-safe.
/// </remarks>
public abstract class CaptureReader : IEnumerable<CaptureFrame>, IDisposable
{
    /// <summary>Frames larger than this (256 MiB) are rejected as corrupt whatever the file claims.</summary>
    public const int MaxFrameLength = 256 * 1024 * 1024;

    private bool _disposed;

    private protected CaptureReader(CaptureInput input, bool reuseBuffer)
    {
        Input = input;
        ReuseBuffer = reuseBuffer;
    }

    /// <summary>The container format.</summary>
    public abstract CaptureFormat Format { get; }

    /// <summary>True when frame data is read into one reused buffer (valid only until the next read).</summary>
    public bool ReuseBuffer { get; }

    /// <summary>Number of frames returned so far (the <see cref="CaptureFrame.Index"/> of the last one).</summary>
    public long FramesRead { get; private protected set; }

    /// <summary>Byte offset of the next unread byte, counted from where reading started.</summary>
    public long Position => Input.Position;

    private protected CaptureInput Input { get; }

    /// <summary>Reads the next frame.</summary>
    /// <param name="frame">The frame, when one was read.</param>
    /// <returns>False at the clean end of the file.</returns>
    /// <exception cref="CaptureFormatException">The file is truncated or corrupt.</exception>
    public bool TryReadFrame(out CaptureFrame frame)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return ReadFrameCore(out frame);
    }

    /// <summary>Reads all remaining frames, one at a time.</summary>
    public IEnumerator<CaptureFrame> GetEnumerator()
    {
        while (TryReadFrame(out CaptureFrame frame))
        {
            yield return frame;
        }
    }

    IEnumerator IEnumerable.GetEnumerator() => GetEnumerator();

    /// <summary>Closes the underlying stream unless it was opened with <c>leaveOpen</c>.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            Input.Dispose();
        }

        GC.SuppressFinalize(this);
    }

    private protected abstract bool ReadFrameCore(out CaptureFrame frame);

    /// <summary>Reads <paramref name="length"/> frame bytes into an owned array or the reused buffer.</summary>
    private protected ReadOnlyMemory<byte> ReadFrameData(int length, string what, long structureOffset) =>
        Input.ReadExactly(length, ReuseBuffer, what, structureOffset);
}

/// <summary>Opens capture files of either format by looking at their first bytes.</summary>
public static class CaptureFile
{
    /// <summary>The pcapng section header block type, which is also the file's first four bytes.</summary>
    internal const uint SectionHeaderBlockType = 0x0A0D0D0A;

    /// <summary>Opens the pcap or pcapng file at <paramref name="path"/> for streaming reads.</summary>
    /// <param name="path">The file.</param>
    /// <param name="reuseBuffer">Read frame data into one reused buffer (see <see cref="CaptureReader"/>).</param>
    /// <exception cref="CaptureFormatException">The file is neither format, or its header is corrupt.</exception>
    public static CaptureReader Open(string path, bool reuseBuffer = false)
    {
        var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 64 * 1024, FileOptions.SequentialScan);
        try
        {
            return Open(stream, leaveOpen: false, reuseBuffer);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>Reads the magic number at the start of <paramref name="stream"/> and returns the matching reader.</summary>
    /// <param name="stream">A readable stream positioned at the start of the capture.</param>
    /// <param name="leaveOpen">Keep <paramref name="stream"/> open when the reader is disposed.</param>
    /// <param name="reuseBuffer">Read frame data into one reused buffer (see <see cref="CaptureReader"/>).</param>
    /// <exception cref="CaptureFormatException">The stream is neither format, or its header is corrupt.</exception>
    public static CaptureReader Open(Stream stream, bool leaveOpen = false, bool reuseBuffer = false)
    {
        var input = new CaptureInput(stream, leaveOpen);
        Span<byte> magic = stackalloc byte[4];
        input.ReadExactly(magic, "file magic number", 0);
        if (PcapReader.TryParseMagic(magic, out _, out _))
        {
            return new PcapReader(input, magic, reuseBuffer);
        }

        if (magic.SequenceEqual("\n\r\r\n"u8))
        {
            return new PcapNgReader(input, magic, reuseBuffer);
        }

        throw UnknownMagic(magic);
    }

    /// <summary>Tells the format from the first four bytes of a file, or null when it is neither.</summary>
    public static CaptureFormat? Detect(ReadOnlySpan<byte> firstBytes)
    {
        if (firstBytes.Length < 4)
        {
            return null;
        }

        if (PcapReader.TryParseMagic(firstBytes[..4], out _, out _))
        {
            return CaptureFormat.Pcap;
        }

        return firstBytes[..4].SequenceEqual("\n\r\r\n"u8) ? CaptureFormat.PcapNg : null;
    }

    internal static CaptureFormatException UnknownMagic(ReadOnlySpan<byte> magic) =>
        new(0, $"unknown magic number {Convert.ToHexStringLower(magic)} at offset 0: not a pcap (a1b2c3d4, a1b23c4d) or pcapng (0a0d0d0a) file");
}
