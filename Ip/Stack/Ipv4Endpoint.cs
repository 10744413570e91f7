using System.Globalization;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>An IPv4 address and a transport port: one end of a UDP or TCP exchange.</summary>
/// <param name="Address">The IPv4 address.</param>
/// <param name="Port">The port (0 in a bind request means "pick an ephemeral port").</param>
public readonly record struct Ipv4Endpoint(Ipv4Address Address, ushort Port)
{
    /// <summary>Parses <c>a.b.c.d:port</c>.</summary>
    /// <param name="text">The text.</param>
    /// <param name="endpoint">The endpoint, when the text is one.</param>
    /// <returns>Whether <paramref name="text"/> is an endpoint.</returns>
    public static bool TryParse(ReadOnlySpan<char> text, out Ipv4Endpoint endpoint)
    {
        endpoint = default;
        int colon = text.LastIndexOf(':');
        if (colon <= 0
            || !Ipv4Address.TryParse(text[..colon], out Ipv4Address address)
            || !ushort.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out ushort port))
        {
            return false;
        }

        endpoint = new Ipv4Endpoint(address, port);
        return true;
    }

    /// <summary>Parses <c>a.b.c.d:port</c>, throwing <see cref="FormatException"/> when the text is not one.</summary>
    /// <param name="text">The text.</param>
    /// <returns>The endpoint.</returns>
    public static Ipv4Endpoint Parse(string text) =>
        TryParse(text, out Ipv4Endpoint endpoint) ? endpoint : throw new FormatException($"'{text}' is not an IPv4 endpoint (a.b.c.d:port)");

    /// <summary><c>a.b.c.d:port</c>.</summary>
    /// <returns>The text form.</returns>
    public override string ToString() => string.Create(CultureInfo.InvariantCulture, $"{Address}:{Port}");
}
