using System.Buffers.Binary;
using System.Globalization;

namespace Protocols.Wire.Capture;

/// <summary>
/// Streaming reader of classic pcap files (draft-ietf-opsawg-pcap), microsecond or nanosecond,
/// written in either byte order.
/// </summary>
public sealed class PcapReader : CaptureReader
{
    /// <summary>Length of the file header (draft-ietf-opsawg-pcap section 4).</summary>
    public const int FileHeaderLength = 24;

    /// <summary>Length of a packet record header (draft-ietf-opsawg-pcap section 5).</summary>
    public const int RecordHeaderLength = 16;

    // libpcap's MAXIMUM_SNAPLEN: a record may exceed a smaller declared snaplen up to this bound.
    private const int LenientSnapLength = 262_144;

    private readonly int _maxCapturedLength;

    /// <summary>Opens a classic pcap stream and reads its file header.</summary>
    /// <param name="stream">A readable stream positioned at the start of the file.</param>
    /// <param name="leaveOpen">Keep <paramref name="stream"/> open when the reader is disposed.</param>
    /// <param name="reuseBuffer">Read frame data into one reused buffer (see <see cref="CaptureReader"/>).</param>
    /// <exception cref="CaptureFormatException">The header is truncated or the magic number is wrong.</exception>
    public PcapReader(Stream stream, bool leaveOpen = false, bool reuseBuffer = false)
        : this(new CaptureInput(stream, leaveOpen), [], reuseBuffer)
    {
    }

    internal PcapReader(CaptureInput input, ReadOnlySpan<byte> magicAlreadyRead, bool reuseBuffer)
        : base(input, reuseBuffer)
    {
        Span<byte> header = stackalloc byte[FileHeaderLength];
        magicAlreadyRead.CopyTo(header);
        input.ReadExactly(header[magicAlreadyRead.Length..], "pcap file header", 0);

        // draft-ietf-opsawg-pcap 4: the magic number tells the byte order and the time unit.
        if (!TryParseMagic(header[..4], out bool bigEndian, out bool nanosecond))
        {
            throw CaptureFile.UnknownMagic(header[..4]);
        }

        IsBigEndian = bigEndian;
        IsNanosecond = nanosecond;
        VersionMajor = ReadUInt16(header[4..]);
        VersionMinor = ReadUInt16(header[6..]);
        TimeZoneOffset = (int)ReadUInt32(header[8..]);
        SnapLength = ReadUInt32(header[16..]);
        uint linkField = ReadUInt32(header[20..]);

        // draft-ietf-opsawg-pcap 4: LinkType is the low 16 bits; bit 26 (F) says whether bits
        // 28-31 give the FCS length of the frames.
        LinkType = (LinkType)(ushort)linkField;
        FcsLength = (linkField & 0x0400_0000) != 0 ? (int)(linkField >> 28) * 2 : 0;

        if (VersionMajor != 2)
        {
            throw new CaptureFormatException(4, string.Create(CultureInfo.InvariantCulture, $"unsupported pcap version {VersionMajor}.{VersionMinor} at offset 4: only 2.x is defined"));
        }

        _maxCapturedLength = (int)Math.Min(Math.Max(SnapLength, LenientSnapLength), MaxFrameLength);
    }

    /// <inheritdoc/>
    public override CaptureFormat Format => CaptureFormat.Pcap;

    /// <summary>True when the file was written big-endian.</summary>
    public bool IsBigEndian { get; }

    /// <summary>True for the nanosecond variant (magic a1b23c4d); false for microseconds (a1b2c3d4).</summary>
    public bool IsNanosecond { get; }

    /// <summary>Major version of the format (2).</summary>
    public ushort VersionMajor { get; }

    /// <summary>Minor version of the format (normally 4).</summary>
    public ushort VersionMinor { get; }

    /// <summary>The obsolete time zone correction field (normally 0); not applied to timestamps.</summary>
    public int TimeZoneOffset { get; }

    /// <summary>The maximum number of bytes captured per frame, as declared in the header.</summary>
    public uint SnapLength { get; }

    /// <summary>The link-layer header type of every frame in the file.</summary>
    public LinkType LinkType { get; }

    /// <summary>Bytes of frame check sequence at the end of each frame when the header declares it, else 0.</summary>
    public int FcsLength { get; }

    /// <summary>Recognises the four pcap magic numbers (draft-ietf-opsawg-pcap 4).</summary>
    internal static bool TryParseMagic(ReadOnlySpan<byte> magic, out bool bigEndian, out bool nanosecond)
    {
        bigEndian = false;
        nanosecond = false;
        if (magic.Length < 4)
        {
            return false;
        }

        switch (BinaryPrimitives.ReadUInt32BigEndian(magic))
        {
            case 0xA1B2C3D4:
                bigEndian = true;
                return true;
            case 0xA1B23C4D:
                bigEndian = true;
                nanosecond = true;
                return true;
            case 0xD4C3B2A1:
                return true;
            case 0x4D3CB2A1:
                nanosecond = true;
                return true;
            default:
                return false;
        }
    }

    private protected override bool ReadFrameCore(out CaptureFrame frame)
    {
        frame = default;
        long recordOffset = Input.Position;
        Span<byte> header = stackalloc byte[RecordHeaderLength];
        int got = Input.Read(header);
        if (got == 0)
        {
            return false;
        }

        if (got < RecordHeaderLength)
        {
            throw CaptureInput.Truncated("record header", recordOffset, RecordHeaderLength, got);
        }

        // draft-ietf-opsawg-pcap 5: seconds, micro- or nanoseconds, captured and original length.
        uint seconds = ReadUInt32(header);
        uint fraction = ReadUInt32(header[4..]);
        uint captured = ReadUInt32(header[8..]);
        uint original = ReadUInt32(header[12..]);

        // A fraction of a full second or more is out of spec; like libpcap, carry it into the
        // seconds instead of rejecting the record.
        if (captured > (uint)_maxCapturedLength)
        {
            throw new CaptureFormatException(recordOffset + 8, string.Create(CultureInfo.InvariantCulture,
                $"record at offset {recordOffset}: captured length {captured} exceeds the bound {_maxCapturedLength} (snap length {SnapLength})"));
        }

        ReadOnlyMemory<byte> data = ReadFrameData((int)captured, "packet data", recordOffset + RecordHeaderLength);
        long nanoseconds = (seconds * 1_000_000_000L) + (IsNanosecond ? fraction : fraction * 1_000L);
        FramesRead++;
        frame = new CaptureFrame(FramesRead, nanoseconds, original, LinkType, data);
        return true;
    }

    private ushort ReadUInt16(ReadOnlySpan<byte> source) =>
        IsBigEndian ? BinaryPrimitives.ReadUInt16BigEndian(source) : BinaryPrimitives.ReadUInt16LittleEndian(source);

    private uint ReadUInt32(ReadOnlySpan<byte> source) =>
        IsBigEndian ? BinaryPrimitives.ReadUInt32BigEndian(source) : BinaryPrimitives.ReadUInt32LittleEndian(source);
}
