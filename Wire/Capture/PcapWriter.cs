using System.Buffers.Binary;

namespace Protocols.Wire.Capture;

/// <summary>
/// Writes classic pcap files (draft-ietf-opsawg-pcap), little-endian, version 2.4, with
/// microsecond or nanosecond timestamps.
/// </summary>
/// <remarks>
/// Thread-safe: frames written from several threads are serialised whole. Frames longer than the
/// snap length are cut to it, keeping their original length. Output goes straight to the stream
/// (wrap it in a <see cref="BufferedStream"/> when writing many small frames to an unbuffered one);
/// <see cref="Flush"/> and <see cref="Dispose"/> flush it.
/// </remarks>
public sealed class PcapWriter : IDisposable
{
    /// <summary>The snap length used when none is given (libpcap's maximum, 262144).</summary>
    public const int DefaultSnapLength = 262_144;

    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private readonly Lock _lock = new();
    private bool _disposed;

    /// <summary>Starts a capture on <paramref name="stream"/> and writes the file header.</summary>
    /// <param name="stream">A writable stream.</param>
    /// <param name="linkType">The link-layer header type of every frame that will be written.</param>
    /// <param name="snapLength">Maximum bytes kept per frame (1..<see cref="CaptureReader.MaxFrameLength"/>).</param>
    /// <param name="nanosecond">Write nanosecond timestamps (magic a1b23c4d) instead of microseconds (a1b2c3d4).</param>
    /// <param name="leaveOpen">Keep <paramref name="stream"/> open when the writer is disposed.</param>
    public PcapWriter(Stream stream, LinkType linkType, int snapLength = DefaultSnapLength, bool nanosecond = false, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentOutOfRangeException.ThrowIfLessThan(snapLength, 1);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(snapLength, CaptureReader.MaxFrameLength);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The capture stream must be writable.", nameof(stream));
        }

        _stream = stream;
        _leaveOpen = leaveOpen;
        LinkType = linkType;
        SnapLength = snapLength;
        IsNanosecond = nanosecond;

        // draft-ietf-opsawg-pcap 4: magic, version 2.4, two reserved words, snap length, link type.
        Span<byte> header = stackalloc byte[PcapReader.FileHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(header, nanosecond ? 0xA1B23C4Du : 0xA1B2C3D4u);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], 2);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 4);
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[12..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(header[16..], (uint)snapLength);
        BinaryPrimitives.WriteUInt32LittleEndian(header[20..], (ushort)linkType);
        _stream.Write(header);
    }

    /// <summary>Creates (or overwrites) a pcap file at <paramref name="path"/>.</summary>
    /// <param name="path">The file to write.</param>
    /// <param name="linkType">The link-layer header type of every frame that will be written.</param>
    /// <param name="snapLength">Maximum bytes kept per frame.</param>
    /// <param name="nanosecond">Write nanosecond timestamps instead of microseconds.</param>
    public static PcapWriter Create(string path, LinkType linkType, int snapLength = DefaultSnapLength, bool nanosecond = false)
    {
        var stream = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.Read, 64 * 1024);
        try
        {
            return new PcapWriter(stream, linkType, snapLength, nanosecond, leaveOpen: false);
        }
        catch
        {
            stream.Dispose();
            throw;
        }
    }

    /// <summary>The link type written in the header.</summary>
    public LinkType LinkType { get; }

    /// <summary>The snap length written in the header.</summary>
    public int SnapLength { get; }

    /// <summary>True when timestamps are written in nanoseconds.</summary>
    public bool IsNanosecond { get; }

    /// <summary>Number of frames written so far.</summary>
    public long FramesWritten { get; private set; }

    /// <summary>Writes one frame.</summary>
    /// <param name="timestampNanoseconds">Capture time in nanoseconds since the Unix epoch (0 .. 2^32 s); microsecond files drop the last three digits.</param>
    /// <param name="data">The frame, starting with its link-layer header; cut to <see cref="SnapLength"/>.</param>
    /// <param name="originalLength">Length on the wire when <paramref name="data"/> is already a cut frame; -1 means <c>data.Length</c>.</param>
    public void WriteFrame(long timestampNanoseconds, ReadOnlySpan<byte> data, long originalLength = -1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(timestampNanoseconds);
        long seconds = timestampNanoseconds / 1_000_000_000;
        long fraction = timestampNanoseconds % 1_000_000_000;
        ArgumentOutOfRangeException.ThrowIfGreaterThan(seconds, uint.MaxValue, nameof(timestampNanoseconds));
        if (originalLength == -1)
        {
            originalLength = data.Length;
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(originalLength, data.Length);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(originalLength, uint.MaxValue);

        int captured = Math.Min(data.Length, SnapLength);

        // draft-ietf-opsawg-pcap 5: seconds, fraction, captured length, original length.
        Span<byte> record = stackalloc byte[PcapReader.RecordHeaderLength];
        BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)seconds);
        BinaryPrimitives.WriteUInt32LittleEndian(record[4..], (uint)(IsNanosecond ? fraction : fraction / 1_000));
        BinaryPrimitives.WriteUInt32LittleEndian(record[8..], (uint)captured);
        BinaryPrimitives.WriteUInt32LittleEndian(record[12..], (uint)originalLength);

        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stream.Write(record);
            _stream.Write(data[..captured]);
            FramesWritten++;
        }
    }

    /// <summary>Writes one frame stamped with <paramref name="timestamp"/> (100 ns precision).</summary>
    /// <param name="timestamp">Capture time, from 1970 to 2106.</param>
    /// <param name="data">The frame; cut to <see cref="SnapLength"/>.</param>
    /// <param name="originalLength">Length on the wire; -1 means <c>data.Length</c>.</param>
    public void WriteFrame(DateTimeOffset timestamp, ReadOnlySpan<byte> data, long originalLength = -1) =>
        WriteFrame((timestamp - DateTimeOffset.UnixEpoch).Ticks * 100, data, originalLength);

    /// <summary>Writes a frame read from another capture (its timestamp, data and original length; not its link type).</summary>
    /// <param name="frame">The frame.</param>
    public void WriteFrame(in CaptureFrame frame) =>
        WriteFrame(frame.TimestampNanoseconds, frame.Data.Span, Math.Max(frame.OriginalLength, frame.Data.Length));

    /// <summary>Flushes written frames to the stream's destination.</summary>
    public void Flush()
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            _stream.Flush();
        }
    }

    /// <summary>Flushes and, unless opened with <c>leaveOpen</c>, closes the stream.</summary>
    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stream.Flush();
            if (!_leaveOpen)
            {
                _stream.Dispose();
            }
        }
    }
}
