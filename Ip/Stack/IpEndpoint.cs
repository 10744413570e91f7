using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// An IP address (either family) and a transport port: one end of a UDP or TCP exchange, the
/// endpoint type of every transport API. Converts both ways with <see cref="IPEndPoint"/>.
/// </summary>
/// <remarks>
/// <c>default</c> is 0.0.0.0:0. An IPv4 address converts implicitly, so
/// <c>new IpEndpoint(Ipv4Address.Parse("10.0.0.2"), 80)</c> works as it reads.
/// </remarks>
/// <param name="Address">The address (IPv4 or IPv6).</param>
/// <param name="Port">The port (0 in a bind request means "pick an ephemeral port").</param>
public readonly record struct IpEndpoint(IpAddress Address, ushort Port) : ISpanFormattable
{
    /// <summary>The address family: <see cref="AddressFamily.InterNetwork"/> or <see cref="AddressFamily.InterNetworkV6"/>.</summary>
    public AddressFamily Family => Address.Family;

    /// <summary>Parses <c>a.b.c.d:port</c> or <c>[v6-address]:port</c> (RFC 5952 6).</summary>
    /// <param name="text">The text.</param>
    /// <param name="endpoint">The endpoint, when the text is one.</param>
    /// <returns>Whether <paramref name="text"/> is an endpoint.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out IpEndpoint endpoint)
    {
        endpoint = default;
        int colon = text.LastIndexOf(':');
        if (colon <= 0 || text[(colon + 1)..].ContainsAnyExceptInRange('0', '9') || !ushort.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out ushort port))
        {
            return false;
        }

        ReadOnlySpan<char> host = text[..colon];
        IpAddress address;
        if (host[0] == '[')
        {
            if (host.Length < 3 || host[^1] != ']' || !Ipv6Address.TryParse(host[1..^1], out Ipv6Address v6))
            {
                return false;
            }

            address = v6;
        }
        else if (Ipv4Address.TryParse(host, out Ipv4Address v4))
        {
            address = v4;
        }
        else
        {
            return false; // an IPv6 address needs its brackets: "2001:db8::1:80" is ambiguous
        }

        endpoint = new IpEndpoint(address, port);
        return true;
    }

    /// <summary>Parses <c>a.b.c.d:port</c> or <c>[v6-address]:port</c>, throwing <see cref="FormatException"/> when the text is neither.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The endpoint.</returns>
    public static IpEndpoint Parse(string text) =>
        TryParse(text, out IpEndpoint endpoint) ? endpoint : throw new FormatException($"'{text}' is not an IP endpoint (a.b.c.d:port or [v6]:port)");

    /// <summary>The <see cref="IPEndPoint"/> of the same address and port (allocates).</summary>
    /// <returns>The endpoint.</returns>
    public IPEndPoint ToIPEndPoint() => new(Address.ToIPAddress(), Port);

    /// <summary>The endpoint of an <see cref="IPEndPoint"/> of either family (its address's scope id is dropped).</summary>
    /// <param name="endpoint">The endpoint.</param>
    /// <returns>The endpoint.</returns>
    public static IpEndpoint FromIPEndPoint(IPEndPoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return new IpEndpoint(IpAddress.FromIPAddress(endpoint.Address), (ushort)endpoint.Port);
    }

    /// <summary>The endpoint of an <see cref="IPEndPoint"/> (see <see cref="FromIPEndPoint"/>).</summary>
    /// <param name="endpoint">The endpoint.</param>
    public static explicit operator IpEndpoint(IPEndPoint endpoint) => FromIPEndPoint(endpoint);

    /// <summary>The <see cref="IPEndPoint"/> of an endpoint (see <see cref="ToIPEndPoint"/>).</summary>
    /// <param name="endpoint">The endpoint.</param>
    public static explicit operator IPEndPoint(IpEndpoint endpoint) => endpoint.ToIPEndPoint();

    /// <summary><c>a.b.c.d:port</c>, or <c>[v6-address]:port</c> (RFC 5952 6).</summary>
    /// <returns>The text form.</returns>
    public override string ToString()
    {
        Span<char> buffer = stackalloc char[Ipv6Address.MaxTextLength + 8];
        TryFormat(buffer, out int n);
        return new string(buffer[..n]);
    }

    /// <summary>Writes <see cref="ToString"/>'s text.</summary>
    /// <param name="destination">Where to write (53 characters always suffice).</param>
    /// <param name="charsWritten">How many characters were written.</param>
    /// <returns>False when <paramref name="destination"/> is too short.</returns>
    public bool TryFormat(Span<char> destination, out int charsWritten)
    {
        charsWritten = 0;
        bool brackets = Address.IsIpv6;
        int n = brackets ? 1 : 0;
        if (destination.Length < n || !Address.TryFormat(destination[n..], out int written))
        {
            return false;
        }

        n += written;
        if (destination.Length < n + (brackets ? 2 : 1))
        {
            return false;
        }

        if (brackets)
        {
            destination[0] = '[';
            destination[n++] = ']';
        }

        destination[n++] = ':';
        if (!Port.TryFormat(destination[n..], out written, default, CultureInfo.InvariantCulture))
        {
            return false;
        }

        charsWritten = n + written;
        return true;
    }

    /// <inheritdoc/>
    bool ISpanFormattable.TryFormat(Span<char> destination, out int charsWritten, ReadOnlySpan<char> format, IFormatProvider? provider) =>
        TryFormat(destination, out charsWritten);

    /// <inheritdoc/>
    string IFormattable.ToString(string? format, IFormatProvider? formatProvider) => ToString();
}
