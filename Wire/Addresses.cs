using System.Buffers.Binary;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Protocols.Wire;

/// <summary>A 48-bit IEEE 802 MAC address, stored as its six wire bytes.</summary>
[InlineArray(6)]
public struct MacAddress : IEquatable<MacAddress>
{
    private byte _element0;

    /// <summary>The broadcast address ff:ff:ff:ff:ff:ff.</summary>
    public static MacAddress Broadcast => Create(0xff, 0xff, 0xff, 0xff, 0xff, 0xff);

    /// <summary>Makes an address from its six bytes.</summary>
    public static MacAddress Create(byte b0, byte b1, byte b2, byte b3, byte b4, byte b5)
    {
        var mac = default(MacAddress);
        mac[0] = b0; mac[1] = b1; mac[2] = b2; mac[3] = b3; mac[4] = b4; mac[5] = b5;
        return mac;
    }

    /// <summary>Makes an address from the first six bytes of <paramref name="bytes"/>.</summary>
    public static MacAddress Create(ReadOnlySpan<byte> bytes)
    {
        var mac = default(MacAddress);
        bytes[..6].CopyTo(mac);
        return mac;
    }

    /// <summary>Parses <c>aa:bb:cc:dd:ee:ff</c> (or with <c>-</c>).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out MacAddress address)
    {
        address = default;
        if (text.Length != 17)
        {
            return false;
        }

        for (int i = 0; i < 6; i++)
        {
            if (i > 0 && text[(i * 3) - 1] is not (':' or '-'))
            {
                return false;
            }

            // Hex digits only: byte.TryParse would also take a trailing NUL character.
            ReadOnlySpan<char> pair = text.Slice(i * 3, 2);
            if (!char.IsAsciiHexDigit(pair[0]) || !char.IsAsciiHexDigit(pair[1]) || !byte.TryParse(pair, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                return false;
            }

            address[i] = b;
        }

        return true;
    }

    /// <summary>True for a group (multicast or broadcast) address.</summary>
    public readonly bool IsMulticast => (this[0] & 1) != 0;

    /// <inheritdoc/>
    public readonly bool Equals(MacAddress other) =>
        ((ReadOnlySpan<byte>)this).SequenceEqual(other);

    /// <inheritdoc/>
    public override readonly bool Equals(object? obj) => obj is MacAddress other && Equals(other);

    /// <inheritdoc/>
    public override readonly int GetHashCode()
    {
        ReadOnlySpan<byte> b = this;
        return (int)BinaryPrimitives.ReadUInt32BigEndian(b) ^ (BinaryPrimitives.ReadUInt16BigEndian(b[4..]) << 7);
    }

    /// <summary>Lower-case <c>aa:bb:cc:dd:ee:ff</c>.</summary>
    public override readonly string ToString()
    {
        ReadOnlySpan<byte> b = this;
        return string.Create(17, this, static (dst, mac) =>
        {
            for (int i = 0; i < 6; i++)
            {
                if (i > 0)
                {
                    dst[(i * 3) - 1] = ':';
                }

                mac[i].TryFormat(dst.Slice(i * 3, 2), out _, "x2", CultureInfo.InvariantCulture);
            }
        });
    }

    /// <summary>Equality.</summary>
    public static bool operator ==(MacAddress left, MacAddress right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(MacAddress left, MacAddress right) => !left.Equals(right);
}

/// <summary>An IPv4 address, stored as its four wire bytes (network order).</summary>
[InlineArray(4)]
public struct Ipv4Address : IEquatable<Ipv4Address>, IComparable<Ipv4Address>
{
    private byte _element0;

    /// <summary>0.0.0.0</summary>
    public static Ipv4Address Any => default;

    /// <summary>255.255.255.255</summary>
    public static Ipv4Address Broadcast => FromUInt32(0xffff_ffff);

    /// <summary>Makes an address from its four bytes, most significant first.</summary>
    public static Ipv4Address Create(byte a, byte b, byte c, byte d)
    {
        var ip = default(Ipv4Address);
        ip[0] = a; ip[1] = b; ip[2] = c; ip[3] = d;
        return ip;
    }

    /// <summary>Makes an address from the first four bytes of <paramref name="bytes"/>.</summary>
    public static Ipv4Address Create(ReadOnlySpan<byte> bytes)
    {
        var ip = default(Ipv4Address);
        bytes[..4].CopyTo(ip);
        return ip;
    }

    /// <summary>Makes an address from its host-order 32-bit value (10.0.0.1 is 0x0a000001).</summary>
    public static Ipv4Address FromUInt32(uint value) =>
        // A register-to-register reinterpretation (no stack copy), so a header built from it stays promotable.
        Unsafe.BitCast<uint, Ipv4Address>(BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(value) : value);

    /// <summary>The host-order 32-bit value (10.0.0.1 is 0x0a000001).</summary>
    /// <remarks>
    /// Reinterprets the four bytes as one 32-bit value (a load and a byte swap) without going through a
    /// span, so an address read from a header into a temporary stays in a register.
    /// </remarks>
    public readonly uint ToUInt32()
    {
        uint raw = Unsafe.BitCast<Ipv4Address, uint>(this);
        return BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(raw) : raw;
    }

    /// <summary>Parses dotted-quad text such as <c>10.0.0.1</c>: four decimal numbers 0..255 without leading zeros.</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out Ipv4Address address)
    {
        address = default;
        int part = 0;
        foreach (Range r in text.Split('.'))
        {
            // A leading zero ("010") is refused: inet_aton and .NET read it as octal (8), others as decimal
            // (10), so one text would name two addresses (RFC 6943 3.1.1).
            ReadOnlySpan<char> s = text[r];
            // Digits only: byte.TryParse would also take trailing NUL characters.
            if (part == 4 || s.Length is 0 or > 3 || (s.Length > 1 && s[0] == '0') || s.ContainsAnyExceptInRange('0', '9'))
            {
                return false;
            }

            int value = 0;
            foreach (char c in s)
            {
                value = (value * 10) + (c - '0');
            }

            if (value > 255)
            {
                return false;
            }

            address[part++] = (byte)value;
        }

        return part == 4;
    }

    /// <summary>Parses dotted-quad text, throwing <see cref="FormatException"/> when it is not one.</summary>
    public static Ipv4Address Parse(string text) =>
        TryParse(text, out var a) ? a : throw new FormatException($"'{text}' is not an IPv4 address");

    /// <inheritdoc/>
    public readonly bool Equals(Ipv4Address other) => ToUInt32() == other.ToUInt32();

    /// <inheritdoc/>
    public readonly int CompareTo(Ipv4Address other) => ToUInt32().CompareTo(other.ToUInt32());

    /// <inheritdoc/>
    public override readonly bool Equals(object? obj) => obj is Ipv4Address other && Equals(other);

    /// <inheritdoc/>
    public override readonly int GetHashCode() => (int)ToUInt32();

    /// <summary>Dotted-quad text.</summary>
    public override readonly string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{this[0]}.{this[1]}.{this[2]}.{this[3]}");

    /// <summary>Writes the dotted-quad text (at most 15 characters) without allocating.</summary>
    /// <returns>False when <paramref name="destination"/> is too short.</returns>
    public readonly bool TryFormat(Span<char> destination, out int charsWritten)
    {
        charsWritten = 0;
        int n = 0;
        for (int i = 0; i < 4; i++)
        {
            if (i > 0)
            {
                if (n == destination.Length)
                {
                    return false;
                }

                destination[n++] = '.';
            }

            if (!this[i].TryFormat(destination[n..], out int written, default, CultureInfo.InvariantCulture))
            {
                return false;
            }

            n += written;
        }

        charsWritten = n;
        return true;
    }

    /// <summary>Equality.</summary>
    public static bool operator ==(Ipv4Address left, Ipv4Address right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(Ipv4Address left, Ipv4Address right) => !left.Equals(right);
}
