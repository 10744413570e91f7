using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text;

namespace Protocols.Tcp;

/// <summary>
/// One option produced by <see cref="TcpOptionReader"/>: a zero-copy view of its bytes plus typed
/// accessors. The reader has already checked the length of every known kind, so no accessor throws
/// on any input (only <see cref="GetSackBlock(int)"/> throws, for an index the caller got wrong).
/// A typed accessor used on an option of another kind returns 0. A default instance (what
/// <see cref="TcpOptionReader.TryReadNext(out TcpOption)"/> gives when it returns false) has length 0 and reads as EOL.
/// </summary>
public readonly ref struct TcpOption
{
    /// <summary>The largest window scale shift count a TCP may use (RFC 7323 2.3).</summary>
    public const byte MaxWindowScaleShift = 14;

    private readonly ReadOnlySpan<byte> _bytes;

    internal TcpOption(int offset, ReadOnlySpan<byte> bytes)
    {
        Offset = offset;
        _bytes = bytes;
    }

    /// <summary>The option kind; may be a value that is not a named <see cref="TcpOptionKind"/> member (see <see cref="IsKnown"/>).</summary>
    public TcpOptionKind Kind => (TcpOptionKind)RawKind;

    /// <summary>True when <see cref="Kind"/> is one of the kinds this library decodes.</summary>
    public bool IsKnown => TcpOptionNames.IsKnown(RawKind);

    /// <summary>Offset of the option's kind byte from the start of the options region.</summary>
    public int Offset { get; }

    /// <summary>Bytes the option occupies: 1 for EOL and NOP, otherwise its length byte.</summary>
    public int Length => _bytes.Length;

    private byte RawKind => _bytes.IsEmpty ? (byte)0 : _bytes[0];

    /// <summary>The whole option: kind, length (when present) and data.</summary>
    public ReadOnlySpan<byte> Bytes => _bytes;

    /// <summary>The option data after the kind and length bytes (empty for EOL and NOP).</summary>
    public ReadOnlySpan<byte> Data => _bytes.Length >= 2 ? _bytes[2..] : default;

    /// <summary>The MSS of a <see cref="TcpOptionKind.MaximumSegmentSize"/> option (RFC 9293 3.7.1), else 0.</summary>
    public ushort Mss
    {
        get
        {
            // One length check covers the kind byte and the value: no Data slice, no second check.
            ReadOnlySpan<byte> b = _bytes;
            return b.Length >= 4 && b[0] == (byte)TcpOptionKind.MaximumSegmentSize ? BinaryPrimitives.ReadUInt16BigEndian(b.Slice(2, 2)) : (ushort)0;
        }
    }

    /// <summary>
    /// The shift count of a <see cref="TcpOptionKind.WindowScale"/> option exactly as received (may exceed 14), else 0.
    /// Use <see cref="EffectiveWindowScaleShift"/> to apply it.
    /// </summary>
    public byte WindowScaleShift
    {
        get
        {
            ReadOnlySpan<byte> b = _bytes;
            return b.Length >= 3 && b[0] == (byte)TcpOptionKind.WindowScale ? b[2] : (byte)0;
        }
    }

    /// <summary>True when a window scale option carries a shift count above 14 (RFC 7323 2.3: log it, use 14).</summary>
    public bool IsWindowScaleOutOfRange => WindowScaleShift > MaxWindowScaleShift;

    /// <summary>The shift count to use: the received value clamped to 14 (RFC 7323 2.3 "MUST use 14 instead").</summary>
    public byte EffectiveWindowScaleShift => Math.Min(WindowScaleShift, MaxWindowScaleShift);

    /// <summary>Number of blocks of a <see cref="TcpOptionKind.Sack"/> option (1..4), else 0.</summary>
    public int SackBlockCount => Kind == TcpOptionKind.Sack ? Data.Length / 8 : 0;

    /// <summary>Block <paramref name="index"/> of a SACK option (RFC 2018 3).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is not below <see cref="SackBlockCount"/>.</exception>
    public TcpSackBlock GetSackBlock(int index)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(index, SackBlockCount);
        ReadOnlySpan<byte> block = Data.Slice(index * 8, 8);
        return new TcpSackBlock(BinaryPrimitives.ReadUInt32BigEndian(block), BinaryPrimitives.ReadUInt32BigEndian(block[4..]));
    }

    /// <summary>The values of a <see cref="TcpOptionKind.Timestamps"/> option (RFC 7323 3.2), else default.</summary>
    public TcpTimestamps Timestamps
    {
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        get
        {
            // One length check, then both values as one 64-bit big-endian load (TSval is the high half).
            ReadOnlySpan<byte> b = _bytes;
            if (b.Length < 10 || b[0] != (byte)TcpOptionKind.Timestamps)
            {
                return default;
            }

            ulong both = BinaryPrimitives.ReadUInt64BigEndian(b.Slice(2, 8));
            return new TcpTimestamps((uint)(both >> 32), (uint)both);
        }
    }

    /// <summary>
    /// A short description such as <c>MSS len=4 value=1460</c>, <c>WS len=3 shift=7</c>,
    /// <c>SACK len=18 blocks=1000-2000,3000-4000</c> or <c>kind=30 len=4 data=0x0102</c>.
    /// </summary>
    public override string ToString()
    {
        var inv = CultureInfo.InvariantCulture;
        if (_bytes.IsEmpty)
        {
            return "(no option)";
        }

        string name = TcpOptionNames.Short(RawKind);
        switch (Kind)
        {
            case TcpOptionKind.EndOfOptionList:
            case TcpOptionKind.NoOperation:
                return name;
            case TcpOptionKind.MaximumSegmentSize:
                return string.Create(inv, $"{name} len={Length} value={Mss}");
            case TcpOptionKind.WindowScale:
                return IsWindowScaleOutOfRange
                    ? string.Create(inv, $"{name} len={Length} shift={WindowScaleShift} (above 14, used as 14)")
                    : string.Create(inv, $"{name} len={Length} shift={WindowScaleShift}");
            case TcpOptionKind.SackPermitted:
                return string.Create(inv, $"{name} len={Length}");
            case TcpOptionKind.Sack:
                var sb = new StringBuilder();
                sb.Append(inv, $"{name} len={Length} blocks=");
                for (int i = 0; i < SackBlockCount; i++)
                {
                    sb.Append(i == 0 ? "" : ",").Append(GetSackBlock(i).ToString());
                }

                return sb.ToString();
            case TcpOptionKind.Timestamps:
                return string.Create(inv, $"{name} len={Length} {Timestamps}");
            default:
                return Data.IsEmpty
                    ? string.Create(inv, $"{name} len={Length}")
                    : string.Create(inv, $"{name} len={Length} data=0x{Convert.ToHexStringLower(Data)}");
        }
    }
}

/// <summary>Names of option kinds for errors (<see cref="Protocols.Wire.WireError.Field"/>) and dumps, precomputed so error paths do not allocate.</summary>
internal static class TcpOptionNames
{
    private static readonly string[] FieldNames = Build(static k => k switch
    {
        (int)TcpOptionKind.EndOfOptionList => "EndOfOptionList",
        (int)TcpOptionKind.NoOperation => "NoOperation",
        (int)TcpOptionKind.MaximumSegmentSize => "MaximumSegmentSize",
        (int)TcpOptionKind.WindowScale => "WindowScale",
        (int)TcpOptionKind.SackPermitted => "SackPermitted",
        (int)TcpOptionKind.Sack => "Sack",
        (int)TcpOptionKind.Timestamps => "Timestamps",
        _ => "Option" + k.ToString(CultureInfo.InvariantCulture),
    });

    private static readonly string[] ShortNames = Build(static k => k switch
    {
        (int)TcpOptionKind.EndOfOptionList => "EOL",
        (int)TcpOptionKind.NoOperation => "NOP",
        (int)TcpOptionKind.MaximumSegmentSize => "MSS",
        (int)TcpOptionKind.WindowScale => "WS",
        (int)TcpOptionKind.SackPermitted => "SACK-perm",
        (int)TcpOptionKind.Sack => "SACK",
        (int)TcpOptionKind.Timestamps => "TS",
        _ => "kind=" + k.ToString(CultureInfo.InvariantCulture),
    });

    public static bool IsKnown(byte kind) => (TcpOptionKind)kind is <= TcpOptionKind.Sack or TcpOptionKind.Timestamps;

    /// <summary>The option's name as a <see cref="Protocols.Wire.WireError.Field"/>, e.g. <c>MaximumSegmentSize</c> or <c>Option30</c>.</summary>
    public static string Field(byte kind) => FieldNames[kind];

    /// <summary>The short name used in dumps, e.g. <c>MSS</c> or <c>kind=30</c>.</summary>
    public static string Short(byte kind) => ShortNames[kind];

    private static string[] Build(Func<int, string> name)
    {
        var names = new string[256];
        for (int k = 0; k < names.Length; k++)
        {
            names[k] = name(k);
        }

        return names;
    }
}
