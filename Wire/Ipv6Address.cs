using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;

namespace Protocols.Wire;

/// <summary>An IPv6 address (RFC 4291), stored as its sixteen wire bytes (network order).</summary>
/// <remarks>
/// Text follows RFC 5952: <see cref="ToString"/> writes the one canonical form (lower case,
/// leading zeros dropped, the longest run of two or more zero groups as <c>::</c>, IPv4-mapped,
/// IPv4-translated and IPv4-compatible addresses with a dotted-quad tail); <see cref="TryParse"/>
/// accepts every RFC 4291 2.2 form (full, compressed, mixed, either case) but no zone index.
/// </remarks>
[InlineArray(16)]
public struct Ipv6Address : IEquatable<Ipv6Address>, IComparable<Ipv6Address>, ISpanFormattable
{
    /// <summary>The length of the text form of the longest address (eight groups of four digits).</summary>
    public const int MaxTextLength = 45;

    private byte _element0;

    /// <summary>The unspecified address <c>::</c> (RFC 4291 2.5.2).</summary>
    public static Ipv6Address Any => default;

    /// <summary>The loopback address <c>::1</c> (RFC 4291 2.5.3).</summary>
    public static Ipv6Address Loopback => FromUInt128(1);

    /// <summary>The link-local all-nodes multicast address <c>ff02::1</c> (RFC 4291 2.7.1).</summary>
    public static Ipv6Address AllNodes => FromUInt128(new UInt128(0xff02_0000_0000_0000, 1));

    /// <summary>The link-local all-routers multicast address <c>ff02::2</c> (RFC 4291 2.7.1).</summary>
    public static Ipv6Address AllRouters => FromUInt128(new UInt128(0xff02_0000_0000_0000, 2));

    /// <summary>Makes an address from the first sixteen bytes of <paramref name="bytes"/>.</summary>
    public static Ipv6Address Create(ReadOnlySpan<byte> bytes)
    {
        var ip = default(Ipv6Address);
        bytes[..16].CopyTo(ip);
        return ip;
    }

    /// <summary>Makes an address from its eight 16-bit groups, most significant first.</summary>
    public static Ipv6Address Create(ushort g0, ushort g1, ushort g2, ushort g3, ushort g4, ushort g5, ushort g6, ushort g7) =>
        FromUInt128(new UInt128(
            ((ulong)g0 << 48) | ((ulong)g1 << 32) | ((ulong)g2 << 16) | g3,
            ((ulong)g4 << 48) | ((ulong)g5 << 32) | ((ulong)g6 << 16) | g7));

    /// <summary>Makes an address from its 128-bit value (<c>::1</c> is 1).</summary>
    public static Ipv6Address FromUInt128(UInt128 value)
    {
        var ip = default(Ipv6Address);
        BinaryPrimitives.WriteUInt128BigEndian(ip, value);
        return ip;
    }

    /// <summary>The IPv4-mapped address <c>::ffff:a.b.c.d</c> of <paramref name="address"/> (RFC 4291 2.5.5.2).</summary>
    public static Ipv6Address MapFromIpv4(Ipv4Address address) =>
        FromUInt128(new UInt128(0, 0x0000_ffff_0000_0000UL | address.ToUInt32()));

    /// <summary>The 128-bit value (<c>::1</c> is 1).</summary>
    public readonly UInt128 ToUInt128() => BinaryPrimitives.ReadUInt128BigEndian(this);

    /// <summary>The upper 64 bits: the prefix part of a unicast address (RFC 4291 2.5.4).</summary>
    public readonly ulong High => BinaryPrimitives.ReadUInt64BigEndian(this);

    /// <summary>The lower 64 bits: the interface identifier of a unicast address (RFC 4291 2.5.1).</summary>
    public readonly ulong Low => BinaryPrimitives.ReadUInt64BigEndian(((ReadOnlySpan<byte>)this)[8..]);

    /// <summary>The 16-bit group <paramref name="index"/> (0-7), most significant first.</summary>
    public readonly ushort GetGroup(int index) => BinaryPrimitives.ReadUInt16BigEndian(((ReadOnlySpan<byte>)this).Slice(index * 2, 2));

    /// <summary>True for <c>::</c>.</summary>
    public readonly bool IsUnspecified => High == 0 && Low == 0;

    /// <summary>True for <c>::1</c>.</summary>
    public readonly bool IsLoopback => High == 0 && Low == 1;

    /// <summary>True for a multicast address, <c>ff00::/8</c> (RFC 4291 2.7).</summary>
    public readonly bool IsMulticast => this[0] == 0xff;

    /// <summary>True for a link-local unicast address, <c>fe80::/10</c> (RFC 4291 2.5.6).</summary>
    public readonly bool IsLinkLocal => this[0] == 0xfe && (this[1] & 0xc0) == 0x80;

    /// <summary>True for an IPv4-mapped address, <c>::ffff:0:0/96</c> (RFC 4291 2.5.5.2).</summary>
    public readonly bool IsIpv4Mapped => High == 0 && (Low >> 32) == 0xffff;

    /// <summary>The solicited-node multicast address of this address: <c>ff02::1:ff</c> and its low 24 bits (RFC 4291 2.7.1).</summary>
    public readonly Ipv6Address SolicitedNode => FromUInt128(new UInt128(0xff02_0000_0000_0000, 0x0000_0001_ff00_0000UL | (Low & 0xff_ffff)));

    /// <summary>The first <paramref name="prefixLength"/> bits of this address, the rest zero.</summary>
    public readonly Ipv6Address Prefix(int prefixLength) => FromUInt128(prefixLength <= 0 ? UInt128.Zero : ToUInt128() & (UInt128.MaxValue << (128 - Math.Min(prefixLength, 128))));

    /// <summary>True when the first <paramref name="prefixLength"/> bits of this address and of <paramref name="other"/> agree.</summary>
    public readonly bool SharesPrefix(Ipv6Address other, int prefixLength) => Prefix(prefixLength) == other.Prefix(prefixLength);

    /// <summary>The embedded IPv4 address of an IPv4-mapped address (the last four bytes).</summary>
    public readonly Ipv4Address EmbeddedIpv4 => Ipv4Address.Create(((ReadOnlySpan<byte>)this)[12..]);

    /// <summary>Parses RFC 4291 2.2 text: <c>2001:db8::1</c>, <c>::ffff:192.0.2.1</c>, either case.</summary>
    /// <param name="text">The text; brackets and zone indexes (<c>%eth0</c>) are not accepted.</param>
    /// <param name="address">The address, when the text is one.</param>
    /// <returns>Whether <paramref name="text"/> is an IPv6 address.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out Ipv6Address address)
    {
        address = default;
        if (text.Length is < 2 or > MaxTextLength)
        {
            return false;
        }

        Span<ushort> groups = stackalloc ushort[8];
        int count = 0;   // groups written
        int gap = -1;    // where "::" stands, as a group index
        int i = 0;
        if (text[0] == ':')
        {
            // Only "::" may start an address.
            if (text[1] != ':')
            {
                return false;
            }

            gap = 0;
            i = 2;
            if (i == text.Length)
            {
                return true; // "::"
            }
        }

        while (true)
        {
            // One group: 1-4 hex digits, or a dotted-quad tail taking the last two groups.
            int start = i;
            uint value = 0;
            while (i < text.Length && i - start < 5 && HexValue(text[i]) is int digit and >= 0)
            {
                value = (value << 4) | (uint)digit;
                i++;
            }

            if (i < text.Length && text[i] == '.')
            {
                // RFC 4291 2.2 form 3: x:x:x:x:x:x:d.d.d.d, the IPv4 part ending the text.
                if (count > 6 || !Ipv4Address.TryParse(text[start..], out Ipv4Address v4))
                {
                    return false;
                }

                uint quad = v4.ToUInt32();
                groups[count++] = (ushort)(quad >> 16);
                groups[count++] = (ushort)quad;
                break;
            }

            int digits = i - start;
            if (digits is 0 or > 4 || count == 8)
            {
                return false;
            }

            groups[count++] = (ushort)value;
            if (i == text.Length)
            {
                break;
            }

            if (text[i] != ':')
            {
                return false;
            }

            i++;
            if (i < text.Length && text[i] == ':')
            {
                // "::" once only; it may end the text.
                if (gap >= 0)
                {
                    return false;
                }

                gap = count;
                i++;
                if (i == text.Length)
                {
                    break;
                }
            }
            else if (i == text.Length)
            {
                return false; // a single trailing ':'
            }
        }

        if (gap < 0 ? count != 8 : count > 7)
        {
            // Without "::" all eight groups are written; with it, it stands for at least one (RFC 4291 2.2).
            return false;
        }

        int zeros = 8 - count;
        for (int g = 0, src = 0; g < 8; g++)
        {
            bool inGap = gap >= 0 && g >= gap && g < gap + zeros;
            ushort group = inGap ? (ushort)0 : groups[src++];
            BinaryPrimitives.WriteUInt16BigEndian(((Span<byte>)address).Slice(g * 2, 2), group);
        }

        return true;
    }

    /// <summary>Parses RFC 4291 2.2 text, throwing <see cref="FormatException"/> when it is not an IPv6 address.</summary>
    public static Ipv6Address Parse(string text) =>
        TryParse(text, out var a) ? a : throw new FormatException($"'{text}' is not an IPv6 address");

    /// <summary>Writes the RFC 5952 text form.</summary>
    /// <param name="destination">Where to write; <see cref="MaxTextLength"/> characters always suffice.</param>
    /// <param name="charsWritten">How many characters were written.</param>
    /// <returns>False when <paramref name="destination"/> is too short.</returns>
    public readonly bool TryFormat(Span<char> destination, out int charsWritten)
    {
        charsWritten = 0;
        Span<char> buffer = stackalloc char[MaxTextLength];
        int n = Format(buffer);
        if (n > destination.Length)
        {
            return false;
        }

        buffer[..n].CopyTo(destination);
        charsWritten = n;
        return true;
    }

    /// <inheritdoc/>
    readonly bool ISpanFormattable.TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        TryFormat(destination, out charsWritten);

    /// <inheritdoc/>
    readonly string IFormattable.ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <summary>The RFC 5952 text form, e.g. <c>2001:db8::1</c> or <c>::ffff:192.0.2.1</c>.</summary>
    public override readonly string ToString()
    {
        Span<char> buffer = stackalloc char[MaxTextLength];
        return new string(buffer[..Format(buffer)]);
    }

    /// <inheritdoc/>
    public readonly bool Equals(Ipv6Address other) => High == other.High && Low == other.Low;

    /// <inheritdoc/>
    public readonly int CompareTo(Ipv6Address other) => ToUInt128().CompareTo(other.ToUInt128());

    /// <inheritdoc/>
    public override readonly bool Equals(object? obj) => obj is Ipv6Address other && Equals(other);

    /// <inheritdoc/>
    public override readonly int GetHashCode() => HashCode.Combine(High, Low);

    /// <summary>Equality.</summary>
    public static bool operator ==(Ipv6Address left, Ipv6Address right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(Ipv6Address left, Ipv6Address right) => !left.Equals(right);

    private static int HexValue(char c) => c switch
    {
        >= '0' and <= '9' => c - '0',
        >= 'a' and <= 'f' => c - 'a' + 10,
        >= 'A' and <= 'F' => c - 'A' + 10,
        _ => -1,
    };

    // RFC 5952 4 and 5, into a buffer of MaxTextLength characters.
    private readonly int Format(Span<char> buffer)
    {
        Span<ushort> g = stackalloc ushort[8];
        for (int k = 0; k < 8; k++)
        {
            g[k] = GetGroup(k);
        }

        // RFC 5952 5: addresses known to embed an IPv4 address end in dotted-quad text: IPv4-mapped
        // ::ffff:0:0/96 (RFC 4291 2.5.5.2), IPv4-translated ::ffff:0:0:0/96 (RFC 2765 2.1) and the
        // deprecated IPv4-compatible ::/96 (RFC 4291 2.5.5.1) except :: and ::1 (the BSD and .NET rule).
        bool firstFourZero = g[0] == 0 && g[1] == 0 && g[2] == 0 && g[3] == 0;
        int groupCount = 8;
        if (firstFourZero && ((g[4] == 0 && g[5] == 0xffff)
            || (g[4] == 0xffff && g[5] == 0)
            || (g[4] == 0 && g[5] == 0 && g[6] != 0)))
        {
            groupCount = 6;
        }

        // RFC 5952 4.2: "::" replaces the longest run of two or more zero groups, the first on a tie.
        int bestStart = -1, bestLength = 1;
        for (int k = 0; k < groupCount;)
        {
            if (g[k] != 0)
            {
                k++;
                continue;
            }

            int start = k;
            while (k < groupCount && g[k] == 0)
            {
                k++;
            }

            if (k - start > bestLength)
            {
                bestStart = start;
                bestLength = k - start;
            }
        }

        int n = 0;
        for (int k = 0; k < groupCount; k++)
        {
            if (k == bestStart)
            {
                buffer[n++] = ':';
                buffer[n++] = ':';
                k += bestLength - 1;
                continue;
            }

            if (k > 0 && k != bestStart + bestLength)
            {
                buffer[n++] = ':';
            }

            // RFC 5952 4.1 and 4.3: no leading zeros, lower-case hex.
            g[k].TryFormat(buffer[n..], out int written, "x", CultureInfo.InvariantCulture);
            n += written;
        }

        if (groupCount == 6)
        {
            if (bestStart + bestLength != 6)
            {
                buffer[n++] = ':';
            }

            Ipv4Address tail = EmbeddedIpv4;
            for (int k = 0; k < 4; k++)
            {
                if (k > 0)
                {
                    buffer[n++] = '.';
                }

                tail[k].TryFormat(buffer[n..], out int written, default, CultureInfo.InvariantCulture);
                n += written;
            }
        }

        return n;
    }
}
