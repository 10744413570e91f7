using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>IPv4 option types (the whole type octet: copied flag, class and number; RFC 791 3.1, IANA "IP Option Numbers").</summary>
public enum Ipv4OptionKind : byte
{
    /// <summary>EOOL: end of the option list; one byte (RFC 791).</summary>
    EndOfOptionList = 0,

    /// <summary>NOP: padding between options; one byte (RFC 791).</summary>
    NoOperation = 1,

    /// <summary>RR: record route (RFC 791).</summary>
    RecordRoute = 7,

    /// <summary>TS: Internet timestamp (RFC 791).</summary>
    Timestamp = 68,

    /// <summary>TR: traceroute (RFC 1393, historic).</summary>
    Traceroute = 82,

    /// <summary>SEC: security (RFC 1108).</summary>
    Security = 130,

    /// <summary>LSR: loose source and record route (RFC 791).</summary>
    LooseSourceRoute = 131,

    /// <summary>E-SEC: extended security (RFC 1108).</summary>
    ExtendedSecurity = 133,

    /// <summary>SID: stream identifier (RFC 791, obsolete).</summary>
    StreamId = 136,

    /// <summary>SSR: strict source and record route (RFC 791).</summary>
    StrictSourceRoute = 137,

    /// <summary>RTRALT: router alert (RFC 2113).</summary>
    RouterAlert = 148,
}

/// <summary>The option class in bits 6-5 of the option type (RFC 791 3.1).</summary>
public enum Ipv4OptionClass : byte
{
    /// <summary>0: control.</summary>
    Control = 0,

    /// <summary>1: reserved for future use.</summary>
    Reserved1 = 1,

    /// <summary>2: debugging and measurement.</summary>
    DebuggingAndMeasurement = 2,

    /// <summary>3: reserved for future use.</summary>
    Reserved3 = 3,
}

/// <summary>The timestamp option's flag (RFC 791 3.1, "Internet Timestamp"): what each entry holds.</summary>
public enum Ipv4TimestampFlag : byte
{
    /// <summary>0: timestamps only, 4 bytes an entry.</summary>
    TimestampsOnly = 0,

    /// <summary>1: each timestamp is preceded by the recording module's address, 8 bytes an entry.</summary>
    AddressAndTimestamp = 1,

    /// <summary>3: the addresses are prespecified; a module records its timestamp only when it matches the next address.</summary>
    Prespecified = 3,
}

/// <summary>
/// One IPv4 option as found by <see cref="Ipv4OptionReader"/>: its type octet and its bytes. The
/// reader has already checked its length (and, for the route and timestamp options, their
/// pointer and layout), so nothing here can throw.
/// </summary>
public readonly ref struct Ipv4Option
{
    internal Ipv4Option(ReadOnlySpan<byte> bytes, int offset)
    {
        Bytes = bytes;
        Offset = offset;
    }

    /// <summary>The whole option: type octet, length octet (when present) and data.</summary>
    public ReadOnlySpan<byte> Bytes { get; }

    /// <summary>Offset of the option's type octet from the start of the IPv4 header.</summary>
    public int Offset { get; }

    /// <summary>The type octet.</summary>
    public byte Type => Bytes[0];

    /// <summary>The type octet as a known kind (undefined values pass through; see <see cref="IsKnown"/>).</summary>
    public Ipv4OptionKind Kind => (Ipv4OptionKind)Bytes[0];

    /// <summary>True when <see cref="Kind"/> is a kind this library names.</summary>
    public bool IsKnown => Enum.IsDefined(Kind);

    /// <summary>The copied flag (bit 7): a fragmenting router copies the option into every fragment (RFC 791 3.1).</summary>
    public bool Copied => (Bytes[0] & 0x80) != 0;

    /// <summary>The option class (bits 6-5).</summary>
    public Ipv4OptionClass Class => (Ipv4OptionClass)((Bytes[0] >> 5) & 0x3);

    /// <summary>The option number (bits 4-0).</summary>
    public byte Number => (byte)(Bytes[0] & 0x1f);

    /// <summary>The number of bytes the option occupies (1 for EOL and NOP, else its length octet).</summary>
    public int Length => Bytes.Length;

    /// <summary>The bytes after the type and length octets (empty for EOL and NOP).</summary>
    public ReadOnlySpan<byte> Data => Bytes.Length >= 2 ? Bytes[2..] : default;

    /// <summary>The option's name as used in errors and annotations, e.g. <c>RecordRoute</c> or <c>Option153</c>.</summary>
    public string Name => NameOf(Type);

    /// <summary>The name of an option type: the <see cref="Ipv4OptionKind"/> name, or <c>Option{type}</c> for an unknown one.</summary>
    public static string NameOf(byte type) =>
        Enum.IsDefined((Ipv4OptionKind)type)
            ? ((Ipv4OptionKind)type).ToString()
            : string.Create(CultureInfo.InvariantCulture, $"Option{type}");

    /// <summary>A view of a record route, loose or strict source route option; false for other kinds.</summary>
    public bool TryGetRoute(out Ipv4RouteOption route)
    {
        if (Kind is Ipv4OptionKind.RecordRoute or Ipv4OptionKind.LooseSourceRoute or Ipv4OptionKind.StrictSourceRoute)
        {
            route = new Ipv4RouteOption(Bytes);
            return true;
        }

        route = default;
        return false;
    }

    /// <summary>A view of a timestamp option; false for other kinds.</summary>
    public bool TryGetTimestamp(out Ipv4TimestampOption timestamp)
    {
        if (Kind == Ipv4OptionKind.Timestamp)
        {
            timestamp = new Ipv4TimestampOption(Bytes);
            return true;
        }

        timestamp = default;
        return false;
    }

    /// <summary>One line, e.g. <c>Option RecordRoute len=11 ptr=4 [10.0.0.1, 0.0.0.0]</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder("Option ").Append(Name);
        if (Length == 1)
        {
            return sb.ToString();
        }

        sb.Append(CultureInfo.InvariantCulture, $" len={Length}");
        if (TryGetRoute(out Ipv4RouteOption route))
        {
            sb.Append(CultureInfo.InvariantCulture, $" ptr={route.Pointer} [");
            for (int i = 0; i < route.SlotCount; i++)
            {
                sb.Append(i == 0 ? "" : ", ").Append(route.GetAddress(i).ToString());
            }

            sb.Append(']');
        }
        else if (TryGetTimestamp(out Ipv4TimestampOption ts))
        {
            sb.Append(CultureInfo.InvariantCulture, $" ptr={ts.Pointer} oflw={ts.Overflow} flag={ts.Flag} [");
            for (int i = 0; i < ts.SlotCount; i++)
            {
                sb.Append(i == 0 ? "" : ", ");
                Ipv4TimestampEntry e = ts.GetEntry(i);
                if (ts.Flag != Ipv4TimestampFlag.TimestampsOnly)
                {
                    sb.Append(e.Address.ToString()).Append('@');
                }

                sb.Append(e.Timestamp.ToString(CultureInfo.InvariantCulture));
            }

            sb.Append(']');
        }
        else
        {
            sb.Append(" data=").Append(Convert.ToHexStringLower(Data));
        }

        return sb.ToString();
    }
}

/// <summary>
/// A record route, loose source route or strict source route option (RFC 791 3.1): type,
/// length, pointer, then route data of 4-byte address slots. The pointer is 1-based from the
/// option's type octet; the smallest legal value is 4, and a pointer past the length means the
/// route data is full.
/// </summary>
public readonly ref struct Ipv4RouteOption
{
    private readonly ReadOnlySpan<byte> _bytes;

    internal Ipv4RouteOption(ReadOnlySpan<byte> bytes) => _bytes = bytes;

    /// <summary>The pointer octet (4 = first slot).</summary>
    public byte Pointer => _bytes[2];

    /// <summary>The number of address slots (recorded or not).</summary>
    public int SlotCount => (_bytes.Length - 3) / 4;

    /// <summary>The number of slots before the pointer (addresses already recorded, or already visited for a source route).</summary>
    public int RecordedCount => Math.Min((Pointer - 4) / 4, SlotCount);

    /// <summary>True when the pointer is past the last slot.</summary>
    public bool IsFull => Pointer > _bytes.Length;

    /// <summary>The raw route data, all slots.</summary>
    public ReadOnlySpan<byte> RouteData => _bytes[3..];

    /// <summary>The address in slot <paramref name="index"/> (0-based, below <see cref="SlotCount"/>).</summary>
    public Ipv4Address GetAddress(int index) => Ipv4Address.Create(_bytes.Slice(3 + (index * 4), 4));
}

/// <summary>One entry of a timestamp option: the address (when the flag carries one) and the 32-bit timestamp.</summary>
/// <param name="Address">The recording module's address (flag 1) or the prespecified one (flag 3); 0.0.0.0 for flag 0.</param>
/// <param name="Timestamp">Milliseconds since midnight UT, or any value with the high bit set when that is not available (RFC 791).</param>
public readonly record struct Ipv4TimestampEntry(Ipv4Address Address, uint Timestamp);

/// <summary>
/// The Internet timestamp option (RFC 791 3.1): type 68, length, pointer (smallest legal value
/// 5), overflow (4 bits) and flag (4 bits), then entries of 4 (flag 0) or 8 (flags 1 and 3) bytes.
/// </summary>
public readonly ref struct Ipv4TimestampOption
{
    private readonly ReadOnlySpan<byte> _bytes;

    internal Ipv4TimestampOption(ReadOnlySpan<byte> bytes) => _bytes = bytes;

    /// <summary>The pointer octet (5 = first entry).</summary>
    public byte Pointer => _bytes[2];

    /// <summary>The number of modules that could not record for lack of space.</summary>
    public int Overflow => _bytes[3] >> 4;

    /// <summary>What each entry holds.</summary>
    public Ipv4TimestampFlag Flag => (Ipv4TimestampFlag)(_bytes[3] & 0x0f);

    /// <summary>The size of one entry: 4 for timestamps only, else 8.</summary>
    public int EntrySize => Flag == Ipv4TimestampFlag.TimestampsOnly ? 4 : 8;

    /// <summary>The number of entry slots (filled or not).</summary>
    public int SlotCount => (_bytes.Length - 4) / EntrySize;

    /// <summary>The number of entries before the pointer.</summary>
    public int RecordedCount => Math.Min((Pointer - 5) / EntrySize, SlotCount);

    /// <summary>True when the pointer is past the last entry.</summary>
    public bool IsFull => Pointer > _bytes.Length;

    /// <summary>The entry in slot <paramref name="index"/> (0-based, below <see cref="SlotCount"/>).</summary>
    public Ipv4TimestampEntry GetEntry(int index)
    {
        ReadOnlySpan<byte> e = _bytes.Slice(4 + (index * EntrySize), EntrySize);
        return EntrySize == 4
            ? new Ipv4TimestampEntry(default, BinaryPrimitives.ReadUInt32BigEndian(e))
            : new Ipv4TimestampEntry(Ipv4Address.Create(e), BinaryPrimitives.ReadUInt32BigEndian(e[4..]));
    }
}
