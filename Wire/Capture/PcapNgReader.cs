using System.Buffers.Binary;
using System.Globalization;
using System.Text;

namespace Protocols.Wire.Capture;

/// <summary>An interface described by a pcapng interface description block (draft-ietf-opsawg-pcapng 4.2).</summary>
/// <param name="LinkType">Link-layer header type of the interface's frames.</param>
/// <param name="SnapLength">Maximum bytes captured per frame; 0 means no limit.</param>
/// <param name="TimestampResolution">
/// The raw <c>if_tsresol</c> byte: high bit clear = 10^-n seconds, set = 2^-n seconds (n = low 7 bits).
/// 6 (microseconds) when the option is absent.
/// </param>
/// <param name="TimestampOffsetSeconds">The <c>if_tsoffset</c> option: seconds added to every timestamp (0 when absent).</param>
/// <param name="Name">The <c>if_name</c> option, or null.</param>
public sealed record CaptureInterface(
    LinkType LinkType,
    uint SnapLength,
    byte TimestampResolution,
    long TimestampOffsetSeconds,
    string? Name)
{
    /// <summary>The default <c>if_tsresol</c>: 10^-6 s.</summary>
    public const byte DefaultTimestampResolution = 6;

    /// <summary>Timestamp units per second implied by <see cref="TimestampResolution"/>.</summary>
    public ulong UnitsPerSecond => UnitsPerSecondOf(TimestampResolution);

    /// <summary>True when <paramref name="resolution"/> is one this reader can convert (10^-0..10^-19, 2^-0..2^-63).</summary>
    internal static bool IsSupported(byte resolution) =>
        (resolution & 0x80) != 0 ? (resolution & 0x7f) <= 63 : resolution <= 19;

    internal static ulong UnitsPerSecondOf(byte resolution)
    {
        if ((resolution & 0x80) != 0)
        {
            return 1UL << (resolution & 0x3f);
        }

        ulong units = 1;
        for (int i = 0; i < Math.Min((int)resolution, 19); i++)
        {
            units *= 10;
        }

        return units;
    }
}

/// <summary>
/// Streaming reader of pcapng files (draft-ietf-opsawg-pcapng): section header blocks in either
/// byte order (several sections per file allowed), interface description blocks with
/// <c>if_tsresol</c>/<c>if_tsoffset</c>, enhanced, simple and (obsolete) packet blocks; other
/// block types are skipped by their length.
/// </summary>
public sealed class PcapNgReader : CaptureReader
{
    /// <summary>Blocks this reader loads into memory may not be longer (frames are limited anyway).</summary>
    public const int MaxBlockLength = MaxFrameLength + (64 * 1024);

    // draft-ietf-opsawg-pcapng 11.1: block type codes.
    private const uint SectionHeaderBlock = CaptureFile.SectionHeaderBlockType;
    private const uint InterfaceDescriptionBlock = 0x00000001;
    private const uint ObsoletePacketBlock = 0x00000002;
    private const uint SimplePacketBlock = 0x00000003;
    private const uint EnhancedPacketBlock = 0x00000006;

    // draft-ietf-opsawg-pcapng 3.5 and 4.2: option codes.
    private const ushort OptEndOfOptions = 0;
    private const ushort OptIfName = 2;
    private const ushort OptIfTsResol = 9;
    private const ushort OptIfTsOffset = 14;

    private const uint ByteOrderMagic = 0x1A2B3C4D;
    private const long NanosecondsPerSecond = 1_000_000_000;

    private readonly List<CaptureInterface> _interfaces = [];

    /// <summary>Opens a pcapng stream and reads its first section header block.</summary>
    /// <param name="stream">A readable stream positioned at the start of the file.</param>
    /// <param name="leaveOpen">Keep <paramref name="stream"/> open when the reader is disposed.</param>
    /// <param name="reuseBuffer">Read frame data into one reused buffer (see <see cref="CaptureReader"/>).</param>
    /// <exception cref="CaptureFormatException">The file does not start with a valid section header block.</exception>
    public PcapNgReader(Stream stream, bool leaveOpen = false, bool reuseBuffer = false)
        : this(new CaptureInput(stream, leaveOpen), [], reuseBuffer)
    {
    }

    internal PcapNgReader(CaptureInput input, ReadOnlySpan<byte> alreadyRead, bool reuseBuffer)
        : base(input, reuseBuffer)
    {
        Span<byte> head = stackalloc byte[8];
        alreadyRead.CopyTo(head);
        input.ReadExactly(head[alreadyRead.Length..], "section header block", 0);

        // draft-ietf-opsawg-pcapng 4.1: a file starts with a section header block.
        if (BinaryPrimitives.ReadUInt32LittleEndian(head) != SectionHeaderBlock)
        {
            throw new CaptureFormatException(0, $"not a pcapng file: block type {Convert.ToHexStringLower(head[..4])} at offset 0 is not a section header block (0a0d0d0a)");
        }

        ReadSectionHeader(0, head);
    }

    /// <inheritdoc/>
    public override CaptureFormat Format => CaptureFormat.PcapNg;

    /// <summary>True when the current section is big-endian.</summary>
    public bool IsBigEndian { get; private set; }

    /// <summary>Number of section header blocks read so far (1 after opening).</summary>
    public int SectionCount { get; private set; }

    /// <summary>Major version of the current section (1).</summary>
    public ushort VersionMajor { get; private set; }

    /// <summary>Minor version of the current section (0).</summary>
    public ushort VersionMinor { get; private set; }

    /// <summary>Declared length of the current section, or -1 when unspecified.</summary>
    public long SectionLength { get; private set; }

    /// <summary>The interfaces described so far in the current section, indexed by interface id.</summary>
    public IReadOnlyList<CaptureInterface> Interfaces => _interfaces;

    private protected override bool ReadFrameCore(out CaptureFrame frame)
    {
        Span<byte> head = stackalloc byte[8];
        while (true)
        {
            long offset = Input.Position;
            int got = Input.Read(head);
            if (got == 0)
            {
                frame = default;
                return false;
            }

            if (got < head.Length)
            {
                throw CaptureInput.Truncated("block header", offset, head.Length, got);
            }

            // draft-ietf-opsawg-pcapng 3.1: type, total length, body, total length again.
            uint type = ReadUInt32(head);
            if (type == SectionHeaderBlock)
            {
                ReadSectionHeader(offset, head);
                continue;
            }

            uint length = ReadUInt32(head[4..]);
            switch (type)
            {
                case InterfaceDescriptionBlock:
                    ReadInterfaceDescription(offset, length);
                    continue;
                case EnhancedPacketBlock:
                    frame = ReadEnhancedPacket(offset, length);
                    return true;
                case SimplePacketBlock:
                    frame = ReadSimplePacket(offset, length);
                    return true;
                case ObsoletePacketBlock:
                    frame = ReadObsoletePacket(offset, length);
                    return true;
                default:
                    SkipBlock(offset, type, length);
                    continue;
            }
        }
    }

    // draft-ietf-opsawg-pcapng 4.1: byte-order magic, version, section length, options.
    private void ReadSectionHeader(long offset, ReadOnlySpan<byte> head)
    {
        Span<byte> magic = stackalloc byte[4];
        Input.ReadExactly(magic, "section header block", offset);
        if (BinaryPrimitives.ReadUInt32LittleEndian(magic) == ByteOrderMagic)
        {
            IsBigEndian = false;
        }
        else if (BinaryPrimitives.ReadUInt32BigEndian(magic) == ByteOrderMagic)
        {
            IsBigEndian = true;
        }
        else
        {
            throw new CaptureFormatException(offset + 8, $"section header block at offset {offset}: byte-order magic {Convert.ToHexStringLower(magic)} is neither 1a2b3c4d nor 4d3c2b1a");
        }

        uint length = ReadUInt32(head[4..]);
        CheckLength(offset, length, 28, "section header block", alreadyRead: 12);
        ReadOnlySpan<byte> rest = ReadBlockRest(offset, length, 12, "section header block").Span;
        ushort major = ReadUInt16(rest);
        ushort minor = ReadUInt16(rest[2..]);
        long sectionLength = (long)ReadUInt64(rest[4..]);

        // draft-ietf-opsawg-pcapng 4.1: readers must reject a major version they do not know.
        if (major != 1)
        {
            throw new CaptureFormatException(offset + 12, Invariant($"section header block at offset {offset}: unsupported pcapng version {major}.{minor}"));
        }

        // draft-ietf-opsawg-pcapng 4.1: -1 means "not specified"; other values are multiples of 4.
        if (sectionLength < -1 || (sectionLength != -1 && sectionLength % 4 != 0))
        {
            throw new CaptureFormatException(offset + 16, Invariant($"section header block at offset {offset}: section length {sectionLength} is neither -1 nor a non-negative multiple of 4"));
        }

        VersionMajor = major;
        VersionMinor = minor;
        SectionLength = sectionLength;
        SectionCount++;

        // Interface ids are local to a section.
        _interfaces.Clear();
    }

    // draft-ietf-opsawg-pcapng 4.2: link type, reserved, snap length, options.
    private void ReadInterfaceDescription(long offset, uint length)
    {
        const string What = "interface description block";
        CheckLength(offset, length, 20, What, alreadyRead: 8);
        ReadOnlySpan<byte> body = ReadBlockRest(offset, length, 8, What).Span;
        var linkType = (LinkType)ReadUInt16(body);
        uint snapLength = ReadUInt32(body[4..]);
        byte resolution = CaptureInterface.DefaultTimestampResolution;
        long tsOffset = 0;
        string? name = null;

        ReadOnlySpan<byte> options = body[8..^4];
        long optionsOffset = offset + 16;
        int pos = 0;
        while (options.Length - pos >= 4)
        {
            ushort code = ReadUInt16(options[pos..]);
            ushort valueLength = ReadUInt16(options[(pos + 2)..]);
            if (code == OptEndOfOptions)
            {
                break;
            }

            // draft-ietf-opsawg-pcapng 3.5: values are padded to 32 bits.
            int padded = (valueLength + 3) & ~3;
            int available = options.Length - pos - 4;
            if (padded > available)
            {
                throw new CaptureFormatException(optionsOffset + pos, Invariant(
                    $"{What} at offset {offset}: option {code} at offset {optionsOffset + pos} has length {valueLength}, only {available} bytes left in the block"));
            }

            ReadOnlySpan<byte> value = options.Slice(pos + 4, valueLength);
            switch (code)
            {
                case OptIfTsResol:
                    if (valueLength != 1)
                    {
                        throw BadOption(offset, optionsOffset + pos, "if_tsresol", valueLength, 1);
                    }

                    resolution = value[0];
                    if (!CaptureInterface.IsSupported(resolution))
                    {
                        throw new CaptureFormatException(optionsOffset + pos + 4, Invariant(
                            $"{What} at offset {offset}: if_tsresol 0x{resolution:x2} is finer than 10^-19 or 2^-63 seconds"));
                    }

                    break;
                case OptIfTsOffset:
                    if (valueLength != 8)
                    {
                        throw BadOption(offset, optionsOffset + pos, "if_tsoffset", valueLength, 8);
                    }

                    tsOffset = (long)ReadUInt64(value);
                    break;
                case OptIfName:
                    name = Encoding.UTF8.GetString(value);
                    break;
                default:
                    break;
            }

            pos += 4 + padded;
        }

        _interfaces.Add(new CaptureInterface(linkType, snapLength, resolution, tsOffset, name));
    }

    // draft-ietf-opsawg-pcapng 4.3: interface id, 64-bit timestamp, captured and original length, data.
    private CaptureFrame ReadEnhancedPacket(long offset, uint length)
    {
        const string What = "enhanced packet block";
        CheckLength(offset, length, 32, What, alreadyRead: 8);
        ReadOnlyMemory<byte> block = ReadBlockRest(offset, length, 8, What);
        ReadOnlySpan<byte> body = block.Span;
        uint interfaceId = ReadUInt32(body);
        ulong timestamp = ((ulong)ReadUInt32(body[4..]) << 32) | ReadUInt32(body[8..]);
        uint captured = ReadUInt32(body[12..]);
        uint original = ReadUInt32(body[16..]);
        CaptureInterface iface = Interface(offset, interfaceId, What);
        int dataLength = CheckCapturedLength(offset, What, captured, body.Length - 24);
        long nanoseconds = ToNanoseconds(offset, iface, timestamp);
        return Frame(nanoseconds, original, iface, (int)interfaceId, block.Slice(20, dataLength), hasTimestamp: true);
    }

    // draft-ietf-opsawg-pcapng 4.4: original length and data; the captured length is implied.
    private CaptureFrame ReadSimplePacket(long offset, uint length)
    {
        const string What = "simple packet block";
        CheckLength(offset, length, 16, What, alreadyRead: 8);
        ReadOnlyMemory<byte> block = ReadBlockRest(offset, length, 8, What);
        uint original = ReadUInt32(block.Span);
        CaptureInterface iface = Interface(offset, 0, What);

        // draft-ietf-opsawg-pcapng 4.4: captured = min(original length, snap length, room in the block).
        long captured = Math.Min(original, block.Length - 8L);
        if (iface.SnapLength != 0)
        {
            captured = Math.Min(captured, iface.SnapLength);
        }

        return Frame(0, original, iface, 0, block.Slice(4, (int)captured), hasTimestamp: false);
    }

    // draft-ietf-opsawg-pcapng appendix A: the obsolete packet block, still written by old tools.
    private CaptureFrame ReadObsoletePacket(long offset, uint length)
    {
        const string What = "packet block";
        CheckLength(offset, length, 32, What, alreadyRead: 8);
        ReadOnlyMemory<byte> block = ReadBlockRest(offset, length, 8, What);
        ReadOnlySpan<byte> body = block.Span;
        ushort interfaceId = ReadUInt16(body);
        ulong timestamp = ((ulong)ReadUInt32(body[4..]) << 32) | ReadUInt32(body[8..]);
        uint captured = ReadUInt32(body[12..]);
        uint original = ReadUInt32(body[16..]);
        CaptureInterface iface = Interface(offset, interfaceId, What);
        int dataLength = CheckCapturedLength(offset, What, captured, body.Length - 24);
        long nanoseconds = ToNanoseconds(offset, iface, timestamp);
        return Frame(nanoseconds, original, iface, interfaceId, block.Slice(20, dataLength), hasTimestamp: true);
    }

    private void SkipBlock(long offset, uint type, uint length)
    {
        string what = Invariant($"block of type 0x{type:x8}");
        CheckLength(offset, length, 12, what, alreadyRead: 8, loadsIntoMemory: false);
        Input.Skip(length - 12L, what, offset, needAfter: 4);
        Span<byte> trailer = stackalloc byte[4];
        Input.ReadExactly(trailer, what, offset);
        CheckTrailer(offset, length, ReadUInt32(trailer), what);
    }

    private CaptureFrame Frame(long nanoseconds, uint original, CaptureInterface iface, int interfaceId, ReadOnlyMemory<byte> data, bool hasTimestamp)
    {
        if (!ReuseBuffer)
        {
            data = data.ToArray();
        }

        FramesRead++;
        return new CaptureFrame(FramesRead, nanoseconds, original, iface.LinkType, data, interfaceId, hasTimestamp);
    }

    private CaptureInterface Interface(long offset, uint interfaceId, string what)
    {
        if (interfaceId >= (uint)_interfaces.Count)
        {
            throw new CaptureFormatException(offset + 8, Invariant(
                $"{what} at offset {offset}: interface id {interfaceId} is not described (the section has {_interfaces.Count} interface description blocks)"));
        }

        return _interfaces[(int)interfaceId];
    }

    private static int CheckCapturedLength(long offset, string what, uint captured, int room)
    {
        // draft-ietf-opsawg-pcapng 4.3: the data is padded to 32 bits within the block.
        long padded = (captured + 3L) & ~3L;
        if (padded > room)
        {
            throw new CaptureFormatException(offset + 20, Invariant(
                $"{what} at offset {offset}: captured length {captured} does not fit in the block ({room} bytes for data and options)"));
        }

        return (int)captured;
    }

    // draft-ietf-opsawg-pcapng 4.2 if_tsresol and if_tsoffset: units since 1970 plus an offset in seconds.
    private static long ToNanoseconds(long offset, CaptureInterface iface, ulong timestamp)
    {
        ulong units = iface.UnitsPerSecond;
        ulong seconds = timestamp / units;
        ulong fraction = timestamp % units;
        Int128 fractionNs = (Int128)((UInt128)fraction * 1_000_000_000UL / units);
        Int128 total = (((Int128)seconds + iface.TimestampOffsetSeconds) * NanosecondsPerSecond) + fractionNs;
        if (total > long.MaxValue || total < long.MinValue)
        {
            throw new CaptureFormatException(offset + 12, Invariant(
                $"block at offset {offset}: timestamp {timestamp} at resolution 0x{iface.TimestampResolution:x2} is beyond the years 1677..2262"));
        }

        return (long)total;
    }

    private void CheckLength(long offset, uint length, int minimum, string what, int alreadyRead, bool loadsIntoMemory = true)
    {
        // draft-ietf-opsawg-pcapng 3.1: the total length is a multiple of 4 and covers the 12 framing bytes.
        if (length % 4 != 0)
        {
            throw new CaptureFormatException(offset + 4, Invariant($"block length {length} at offset {offset} is not a multiple of 4 ({what})"));
        }

        if (length < minimum)
        {
            throw new CaptureFormatException(offset + 4, Invariant($"block length {length} at offset {offset} is below the minimum {minimum} of a {what}"));
        }

        if (loadsIntoMemory && length > MaxBlockLength)
        {
            throw new CaptureFormatException(offset + 4, Invariant($"block length {length} at offset {offset} exceeds the limit of {MaxBlockLength} bytes ({what})"));
        }

        Input.EnsureAvailable(length - (long)alreadyRead, what, offset);
    }

    private ReadOnlyMemory<byte> ReadBlockRest(long offset, uint length, int alreadyRead, string what)
    {
        int rest = (int)length - alreadyRead;
        Memory<byte> block = Input.ReadExactly(rest, reuse: true, what, offset);
        CheckTrailer(offset, length, ReadUInt32(block.Span[(rest - 4)..]), what);
        return block;
    }

    private static void CheckTrailer(long offset, uint length, uint trailer, string what)
    {
        if (trailer != length)
        {
            throw new CaptureFormatException(offset + length - 4, Invariant(
                $"{what} at offset {offset}: block length {length} does not match the trailing copy {trailer}"));
        }
    }

    private static CaptureFormatException BadOption(long blockOffset, long optionOffset, string name, int actual, int expected) =>
        new(optionOffset, Invariant($"interface description block at offset {blockOffset}: option {name} at offset {optionOffset} has length {actual}, expected {expected}"));

    private static string Invariant(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

    private ushort ReadUInt16(ReadOnlySpan<byte> source) =>
        IsBigEndian ? BinaryPrimitives.ReadUInt16BigEndian(source) : BinaryPrimitives.ReadUInt16LittleEndian(source);

    private uint ReadUInt32(ReadOnlySpan<byte> source) =>
        IsBigEndian ? BinaryPrimitives.ReadUInt32BigEndian(source) : BinaryPrimitives.ReadUInt32LittleEndian(source);

    private ulong ReadUInt64(ReadOnlySpan<byte> source) =>
        IsBigEndian ? BinaryPrimitives.ReadUInt64BigEndian(source) : BinaryPrimitives.ReadUInt64LittleEndian(source);
}
