using System.Buffers.Binary;
using System.Text;

namespace Protocols.Wire.Tests;

/// <summary>Builds capture files byte by byte, in either byte order, for the reader tests.</summary>
internal sealed class ByteWriter(bool bigEndian)
{
    private readonly List<byte> _bytes = [];

    public bool BigEndian { get; } = bigEndian;

    public int Length => _bytes.Count;

    public ByteWriter U16(int value)
    {
        Span<byte> b = stackalloc byte[2];
        if (BigEndian)
        {
            BinaryPrimitives.WriteUInt16BigEndian(b, (ushort)value);
        }
        else
        {
            BinaryPrimitives.WriteUInt16LittleEndian(b, (ushort)value);
        }

        return Bytes(b);
    }

    public ByteWriter U32(uint value)
    {
        Span<byte> b = stackalloc byte[4];
        if (BigEndian)
        {
            BinaryPrimitives.WriteUInt32BigEndian(b, value);
        }
        else
        {
            BinaryPrimitives.WriteUInt32LittleEndian(b, value);
        }

        return Bytes(b);
    }

    public ByteWriter U64(ulong value) => BigEndian
        ? U32((uint)(value >> 32)).U32((uint)value)
        : U32((uint)value).U32((uint)(value >> 32));

    public ByteWriter Bytes(ReadOnlySpan<byte> bytes)
    {
        foreach (byte b in bytes)
        {
            _bytes.Add(b);
        }

        return this;
    }

    public ByteWriter Pad4()
    {
        while (_bytes.Count % 4 != 0)
        {
            _bytes.Add(0);
        }

        return this;
    }

    public byte[] ToArray() => [.. _bytes];
}

/// <summary>A classic pcap file built by hand (draft-ietf-opsawg-pcap 4 and 5).</summary>
internal static class PcapFile
{
    public static ByteWriter Header(bool bigEndian, bool nanosecond, uint snapLength, uint linkType)
    {
        var w = new ByteWriter(bigEndian);
        return w.U32(nanosecond ? 0xA1B23C4Du : 0xA1B2C3D4u).U16(2).U16(4).U32(0).U32(0).U32(snapLength).U32(linkType);
    }

    public static ByteWriter Record(this ByteWriter w, uint seconds, uint fraction, byte[] data, uint? original = null) =>
        w.U32(seconds).U32(fraction).U32((uint)data.Length).U32(original ?? (uint)data.Length).Bytes(data);
}

/// <summary>A pcapng file built block by block (draft-ietf-opsawg-pcapng 3 and 4).</summary>
internal sealed class PcapNgFile
{
    private readonly List<byte> _bytes = [];

    /// <summary>Offsets where blocks start (after the first section header): clean truncation points.</summary>
    public List<int> BlockEnds { get; } = [];

    public int Length => _bytes.Count;

    public PcapNgFile Section(bool bigEndian, long sectionLength = -1, ushort major = 1) =>
        Block(bigEndian, 0x0A0D0D0A, w => w.U32(0x1A2B3C4D).U16(major).U16(0).U64((ulong)sectionLength));

    public PcapNgFile Interface(bool bigEndian, ushort linkType, uint snapLength, byte? tsResol = null, long? tsOffset = null, string? name = null) =>
        Block(bigEndian, 1, w =>
        {
            w.U16(linkType).U16(0).U32(snapLength);
            if (name is not null)
            {
                byte[] n = Encoding.UTF8.GetBytes(name);
                w.U16(2).U16(n.Length).Bytes(n).Pad4();
            }

            if (tsResol is byte r)
            {
                w.U16(9).U16(1).Bytes([r]).Pad4();
            }

            if (tsOffset is long o)
            {
                w.U16(14).U16(8).U64((ulong)o);
            }

            if (name is not null || tsResol is not null || tsOffset is not null)
            {
                w.U16(0).U16(0);
            }
        });

    public PcapNgFile Enhanced(bool bigEndian, uint interfaceId, ulong timestamp, byte[] data, uint? original = null, bool withOption = false) =>
        Block(bigEndian, 6, w =>
        {
            w.U32(interfaceId).U32((uint)(timestamp >> 32)).U32((uint)timestamp).U32((uint)data.Length).U32(original ?? (uint)data.Length).Bytes(data).Pad4();
            if (withOption)
            {
                // opt_comment "hi", then opt_endofopt
                w.U16(1).U16(2).Bytes("hi"u8).Pad4().U16(0).U16(0);
            }
        });

    public PcapNgFile Simple(bool bigEndian, uint original, byte[] data) =>
        Block(bigEndian, 3, w => w.U32(original).Bytes(data).Pad4());

    public PcapNgFile Unknown(bool bigEndian, uint type, int bodyLength) =>
        Block(bigEndian, type, w => w.Bytes(new byte[bodyLength]).Pad4());

    public PcapNgFile Block(bool bigEndian, uint type, Action<ByteWriter> body)
    {
        var b = new ByteWriter(bigEndian);
        body(b);
        byte[] content = b.Pad4().ToArray();
        var w = new ByteWriter(bigEndian);
        uint total = (uint)(content.Length + 12);
        _bytes.AddRange(w.U32(type).U32(total).Bytes(content).U32(total).ToArray());
        BlockEnds.Add(_bytes.Count);
        return this;
    }

    public byte[] ToArray() => [.. _bytes];
}

/// <summary>A stream that cannot seek, like a pipe, and returns at most <c>maxRead</c> bytes per read.</summary>
internal sealed class NonSeekableStream(Stream inner, int maxRead = 5) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override void Flush()
    {
    }

    public override int Read(byte[] buffer, int offset, int count) => inner.Read(buffer, offset, Math.Min(count, maxRead));

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
