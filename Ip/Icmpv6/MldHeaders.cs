using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>MLDv2 multicast address record types (RFC 3810 5.2.12).</summary>
public enum MldRecordType : byte
{
    /// <summary>1: current state, include the listed sources.</summary>
    ModeIsInclude = 1,

    /// <summary>2: current state, exclude the listed sources (with none: every source).</summary>
    ModeIsExclude = 2,

    /// <summary>3: filter mode changed to include.</summary>
    ChangeToInclude = 3,

    /// <summary>4: filter mode changed to exclude (with no sources: a join).</summary>
    ChangeToExclude = 4,

    /// <summary>5: allow new sources.</summary>
    AllowNewSources = 5,

    /// <summary>6: block old sources.</summary>
    BlockOldSources = 6,
}

/// <summary>
/// Version 2 multicast listener report (RFC 3810 5.2, type 143): 8 bytes, then
/// <see cref="NumberOfRecords"/> address records (<see cref="MldAddressRecordReader"/>). Sent to
/// ff02::16 from a link-local address (or :: during DAD), hop limit 1, with a Router Alert option.
/// </summary>
[WireHeader("MLDv2")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct Mldv2ReportHeader
{
    /// <summary>Always <see cref="Icmpv6Type.MulticastListenerReportV2"/>.</summary>
    [Const(143)]
    public Icmpv6Type Type;

    /// <summary>Zero when sent, ignored when received.</summary>
    public byte Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>Zero when sent, ignored when received.</summary>
    public ushort Reserved;

    /// <summary>How many address records follow.</summary>
    public ushort NumberOfRecords;
}

/// <summary>
/// One multicast address record of an MLDv2 report (RFC 3810 5.2.4): 20 bytes, then the sources
/// (16 bytes each) and the auxiliary data (4 bytes per unit of <see cref="AuxDataLen"/>).
/// </summary>
[WireHeader("MLDv2 record")]
public partial struct MldAddressRecordHeader
{
    /// <summary>What the record reports.</summary>
    public MldRecordType RecordType;

    /// <summary>Auxiliary data after the sources, in 32-bit words (0 in MLDv2).</summary>
    public byte AuxDataLen;

    /// <summary>How many 16-byte source addresses follow.</summary>
    public ushort NumberOfSources;

    /// <summary>The multicast address the record is about.</summary>
    public Ipv6Address MulticastAddress;
}

/// <summary>
/// Multicast listener query (RFC 3810 5.1, type 130), the MLDv2 form of 28 bytes and more; an
/// MLDv1 query (RFC 2710) is 24 bytes and fails this reader with <see cref="WireErrorKind.TooShort"/>.
/// </summary>
[WireHeader("MLDv2")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct Mldv2QueryHeader
{
    /// <summary>Always <see cref="Icmpv6Type.MulticastListenerQuery"/>.</summary>
    [Const(130)]
    public Icmpv6Type Type;

    /// <summary>Zero when sent, ignored when received.</summary>
    public byte Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>The maximum response delay, coded (RFC 3810 5.1.3).</summary>
    public ushort MaximumResponseCode;

    /// <summary>Zero when sent, ignored when received.</summary>
    public ushort Reserved;

    /// <summary>The address queried; :: for a general query.</summary>
    public Ipv6Address MulticastAddress;

    /// <summary>Reserved bits.</summary>
    [Bits(4)]
    public byte Flags;

    /// <summary>S: suppress router-side processing.</summary>
    [Bits(1)]
    public bool SuppressRouterProcessing;

    /// <summary>Querier's robustness variable.</summary>
    [Bits(3)]
    public byte Qrv;

    /// <summary>Querier's query interval code.</summary>
    public byte Qqic;

    /// <summary>How many 16-byte source addresses follow.</summary>
    public ushort NumberOfSources;
}

/// <summary>
/// Walks the address records of an MLDv2 report with the generated <see cref="MldAddressRecordHeader"/>
/// reader; each record's length comes from its source count and aux data length. Never throws:
/// a record past the end, or fewer records than the report declared, stops the walk with an error.
/// </summary>
public ref struct MldAddressRecordReader
{
    private readonly ReadOnlySpan<byte> _records;
    private readonly int _baseOffset;
    private int _remaining;
    private int _position;
    private WireError _error;

    /// <summary>Starts a walk over the records of <paramref name="report"/> (a whole report message).</summary>
    /// <param name="report">The report reader.</param>
    public MldAddressRecordReader(Mldv2ReportHeader.Reader report)
    {
        _records = report.Payload;
        _baseOffset = Mldv2ReportHeader.FixedLength;
        _remaining = report.NumberOfRecords;
        _position = 0;
        _error = default;
    }

    /// <summary>The error that stopped the walk, or an error of kind <see cref="WireErrorKind.None"/>.</summary>
    public readonly WireError Error => _error;

    /// <summary>Reads the next record: its fixed part, and its sources (16 bytes each).</summary>
    /// <returns>False with no error after the last declared record; false with the error at a malformed one.</returns>
    public bool TryReadNext(out MldAddressRecordHeader.Reader record, out ReadOnlySpan<byte> sources, out WireError error)
    {
        record = default;
        sources = default;
        error = _error;
        if (_remaining == 0 || _error.IsError)
        {
            return false;
        }

        ReadOnlySpan<byte> rest = _records[_position..];
        if (!MldAddressRecordHeader.TryRead(rest, out record, out WireError found))
        {
            _error = found.WithOffset(_baseOffset + _position);
            error = _error;
            return false;
        }

        int length = MldAddressRecordHeader.FixedLength + (record.NumberOfSources * 16) + (record.AuxDataLen * 4);
        if (length > rest.Length)
        {
            _error = WireError.TooShort("MLDv2 record", "NumberOfSources", length, rest.Length, LengthSource.Buffer, _baseOffset + _position + 2);
            error = _error;
            record = default;
            return false;
        }

        sources = rest.Slice(MldAddressRecordHeader.FixedLength, record.NumberOfSources * 16);
        _position += length;
        _remaining--;
        return true;
    }
}
