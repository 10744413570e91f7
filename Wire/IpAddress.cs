using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;

namespace Protocols.Wire;

/// <summary>
/// An IPv4 or an IPv6 address: the one address type of the transports' public API. A value
/// (sixteen bytes and the family) that never allocates, with implicit conversions from
/// <see cref="Ipv4Address"/> and <see cref="Ipv6Address"/> and conversions both ways with
/// <see cref="IPAddress"/>.
/// </summary>
/// <remarks>
/// <para>The default value is the IPv4 address 0.0.0.0 (<see cref="Ipv4Any"/>).</para>
/// <para>The families never mix: an IPv4-mapped IPv6 address (<c>::ffff:192.0.2.1</c>) is an
/// IPv6 address, unequal to the IPv4 address 192.0.2.1, as <see cref="IPAddress"/> keeps them
/// apart; <see cref="IPAddress.MapToIPv4"/> or <see cref="Ipv6Address.EmbeddedIpv4"/> unwrap it.
/// A scope (zone) id has no place here: an <see cref="IPAddress"/> converted in loses its
/// <see cref="IPAddress.ScopeId"/>.</para>
/// </remarks>
public readonly struct IpAddress : IEquatable<IpAddress>, IComparable<IpAddress>, ISpanFormattable
{
    // The address as a 128-bit big-endian value: an IPv4 address in the low 32 bits, the rest zero.
    private readonly ulong _high;
    private readonly ulong _low;
    private readonly bool _isIpv6;

    private IpAddress(ulong high, ulong low, bool isIpv6)
    {
        _high = high;
        _low = low;
        _isIpv6 = isIpv6;
    }

    /// <summary>Wraps an IPv4 address.</summary>
    public IpAddress(Ipv4Address address)
        : this(0, address.ToUInt32(), false)
    {
    }

    /// <summary>Wraps an IPv6 address.</summary>
    public IpAddress(Ipv6Address address)
        : this(address.High, address.Low, true)
    {
    }

    /// <summary>The IPv4 unspecified address 0.0.0.0 (also <c>default</c>).</summary>
    public static IpAddress Ipv4Any => default;

    /// <summary>The IPv6 unspecified address <c>::</c>.</summary>
    public static IpAddress Ipv6Any => new(0, 0, true);

    /// <summary><see cref="AddressFamily.InterNetwork"/> or <see cref="AddressFamily.InterNetworkV6"/>.</summary>
    public AddressFamily Family => _isIpv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork;

    /// <summary>True for an IPv4 address.</summary>
    public bool IsIpv4 => !_isIpv6;

    /// <summary>True for an IPv6 address.</summary>
    public bool IsIpv6 => _isIpv6;

    /// <summary>The wire length of the address: 4 or 16 bytes.</summary>
    public int Length => _isIpv6 ? 16 : 4;

    /// <summary>True for the unspecified address of its family (0.0.0.0 or <c>::</c>).</summary>
    public bool IsAny => _high == 0 && _low == 0;

    /// <summary>True for a loopback address (127.0.0.0/8 or <c>::1</c>).</summary>
    public bool IsLoopback => _isIpv6 ? _high == 0 && _low == 1 : (_low >> 24) == 127;

    /// <summary>True for a multicast address (224.0.0.0/4 or <c>ff00::/8</c>).</summary>
    public bool IsMulticast => _isIpv6 ? (_high >> 56) == 0xff : (_low >> 28) == 0xe;

    /// <summary>The IPv4 address; throws when this is an IPv6 address.</summary>
    /// <exception cref="InvalidOperationException">The address is IPv6.</exception>
    public Ipv4Address ToIpv4() => _isIpv6
        ? throw new InvalidOperationException($"{this} is not an IPv4 address.")
        : Ipv4Address.FromUInt32((uint)_low);

    /// <summary>The IPv6 address; throws when this is an IPv4 address (see <see cref="Ipv6Address.MapFromIpv4"/>).</summary>
    /// <exception cref="InvalidOperationException">The address is IPv4.</exception>
    public Ipv6Address ToIpv6() => _isIpv6
        ? Ipv6Address.FromUInt128(new UInt128(_high, _low))
        : throw new InvalidOperationException($"{this} is not an IPv6 address.");

    /// <summary>The IPv4 address, when this is one.</summary>
    public bool TryGetIpv4(out Ipv4Address address)
    {
        address = _isIpv6 ? default : Ipv4Address.FromUInt32((uint)_low);
        return !_isIpv6;
    }

    /// <summary>The IPv6 address, when this is one.</summary>
    public bool TryGetIpv6(out Ipv6Address address)
    {
        address = _isIpv6 ? Ipv6Address.FromUInt128(new UInt128(_high, _low)) : default;
        return _isIpv6;
    }

    /// <summary>Writes the address's 4 or 16 wire bytes.</summary>
    /// <returns>The bytes written (<see cref="Length"/>).</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than <see cref="Length"/>.</exception>
    public int WriteTo(Span<byte> destination)
    {
        if (_isIpv6)
        {
            BinaryPrimitives.WriteUInt64BigEndian(destination, _high);
            BinaryPrimitives.WriteUInt64BigEndian(destination[8..], _low);
            return 16;
        }

        BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)_low);
        return 4;
    }

    /// <summary>Reads a 4-byte (IPv4) or 16-byte (IPv6) address.</summary>
    /// <exception cref="ArgumentException"><paramref name="bytes"/> is neither 4 nor 16 bytes long.</exception>
    public static IpAddress Create(ReadOnlySpan<byte> bytes) => bytes.Length switch
    {
        4 => new(0, BinaryPrimitives.ReadUInt32BigEndian(bytes), false),
        16 => new(BinaryPrimitives.ReadUInt64BigEndian(bytes), BinaryPrimitives.ReadUInt64BigEndian(bytes[8..]), true),
        _ => throw new ArgumentException($"An IP address is 4 or 16 bytes, not {bytes.Length}.", nameof(bytes)),
    };

    /// <summary>Parses an IPv4 dotted quad or IPv6 text (RFC 4291 2.2; no brackets, no zone).</summary>
    public static bool TryParse(ReadOnlySpan<char> text, out IpAddress address)
    {
        if (Ipv4Address.TryParse(text, out Ipv4Address v4))
        {
            address = v4;
            return true;
        }

        if (Ipv6Address.TryParse(text, out Ipv6Address v6))
        {
            address = v6;
            return true;
        }

        address = default;
        return false;
    }

    /// <summary>Parses an IPv4 or IPv6 address, throwing <see cref="FormatException"/> when the text is neither.</summary>
    public static IpAddress Parse(string text) =>
        TryParse(text, out IpAddress a) ? a : throw new FormatException($"'{text}' is not an IPv4 or IPv6 address");

    /// <summary>The <see cref="IPAddress"/> of the same family and bytes (allocates).</summary>
    public IPAddress ToIPAddress()
    {
        Span<byte> bytes = stackalloc byte[16];
        return new IPAddress(bytes[..WriteTo(bytes)]);
    }

    /// <summary>The address of <paramref name="address"/>, of the same family; its scope id is dropped.</summary>
    /// <exception cref="ArgumentException">The address is neither IPv4 nor IPv6.</exception>
    public static IpAddress FromIPAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        Span<byte> bytes = stackalloc byte[16];
        if (address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6)
            || !address.TryWriteBytes(bytes, out int written))
        {
            throw new ArgumentException($"{address} is not an IPv4 or IPv6 address.", nameof(address));
        }

        return Create(bytes[..written]);
    }

    /// <summary>Dotted-quad text, or RFC 5952 text for IPv6.</summary>
    public override string ToString() => _isIpv6 ? ToIpv6().ToString() : ToIpv4().ToString();

    /// <summary>Writes <see cref="ToString"/>'s text.</summary>
    public bool TryFormat(Span<char> destination, out int charsWritten)
    {
        return _isIpv6 ? ToIpv6().TryFormat(destination, out charsWritten) : ToIpv4().TryFormat(destination, out charsWritten);
    }

    /// <inheritdoc/>
    bool ISpanFormattable.TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        TryFormat(destination, out charsWritten);

    /// <inheritdoc/>
    string IFormattable.ToString(string? format, IFormatProvider? formatProvider) => ToString();

    /// <inheritdoc/>
    public bool Equals(IpAddress other) => _low == other._low && _high == other._high && _isIpv6 == other._isIpv6;

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is IpAddress other && Equals(other);

    /// <summary>A hash of the address and family (per-process seeded, see <see cref="HashCode"/>).</summary>
    public override int GetHashCode() => HashCode.Combine(_high, _low, _isIpv6);

    /// <summary>IPv4 addresses before IPv6 ones, then by value.</summary>
    public int CompareTo(IpAddress other) =>
        _isIpv6 != other._isIpv6 ? (_isIpv6 ? 1 : -1)
        : _high != other._high ? _high.CompareTo(other._high)
        : _low.CompareTo(other._low);

    /// <summary>Wraps an IPv4 address.</summary>
    public static implicit operator IpAddress(Ipv4Address address) => new(address);

    /// <summary>Wraps an IPv6 address.</summary>
    public static implicit operator IpAddress(Ipv6Address address) => new(address);

    /// <summary>The address of an <see cref="IPAddress"/> (see <see cref="FromIPAddress"/>).</summary>
    public static explicit operator IpAddress(IPAddress address) => FromIPAddress(address);

    /// <summary>The <see cref="IPAddress"/> of an address (see <see cref="ToIPAddress"/>).</summary>
    public static explicit operator IPAddress(IpAddress address) => address.ToIPAddress();

    /// <summary>Equality.</summary>
    public static bool operator ==(IpAddress left, IpAddress right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(IpAddress left, IpAddress right) => !left.Equals(right);

    /// <summary>Ordering (<see cref="CompareTo"/>).</summary>
    public static bool operator <(IpAddress left, IpAddress right) => left.CompareTo(right) < 0;

    /// <summary>Ordering (<see cref="CompareTo"/>).</summary>
    public static bool operator >(IpAddress left, IpAddress right) => left.CompareTo(right) > 0;

    /// <summary>Ordering (<see cref="CompareTo"/>).</summary>
    public static bool operator <=(IpAddress left, IpAddress right) => left.CompareTo(right) <= 0;

    /// <summary>Ordering (<see cref="CompareTo"/>).</summary>
    public static bool operator >=(IpAddress left, IpAddress right) => left.CompareTo(right) >= 0;
}
