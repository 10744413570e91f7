using System.Globalization;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Udp;

/// <summary>
/// Describes UDP datagrams for trace lines the way <c>tcpdump -n</c> does: <c>UDP, length 12</c>
/// (the data length from the header's length field). <see cref="UdpStackExtensions.UseUdp"/>
/// registers it with the stack's <see cref="NetworkStack.PacketFormatter"/>.
/// </summary>
/// <remarks>Never throws.</remarks>
public static class UdpTraceFormatter
{
    /// <summary>Registers <see cref="Format"/> for IP protocol 17 with <paramref name="formatter"/>.</summary>
    /// <param name="formatter">The formatter (a stack's <see cref="NetworkStack.PacketFormatter"/>, or one of a tracer's own).</param>
    public static void Register(PacketFormatter formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        formatter.Register(IpProtocol.Udp, Format);
    }

    /// <summary>The description of one UDP datagram.</summary>
    /// <param name="datagram">The IP payload: the UDP header and data (only the first part for a first fragment).</param>
    /// <returns>The text after <c>IP a.b.c.d.port &gt; e.f.g.h.port: </c>.</returns>
    public static string Format(ReadOnlySpan<byte> datagram)
    {
        // RFC 768: the length field counts the 8-byte header and the data. A first fragment (or a
        // capture cut short) holds only the start of the datagram, so the lax read.
        return UdpHeader.TryReadHeader(datagram, out UdpHeader.Reader udp, out WireError error)
            ? string.Create(CultureInfo.InvariantCulture, $"UDP, length {udp.DeclaredLength - UdpHeader.FixedLength}")
            : string.Create(CultureInfo.InvariantCulture, $"UDP [invalid: {error.ToString()}], length {datagram.Length}");
    }
}
