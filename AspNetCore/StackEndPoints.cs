using System.Net;
using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.AspNetCore;

/// <summary>Kestrel's <see cref="IPEndPoint"/> and the stack's endpoints, both ways.</summary>
internal static class StackEndPoints
{
    /// <summary>The stack's endpoint as an <see cref="IPEndPoint"/>.</summary>
    public static IPEndPoint ToIPEndPoint(IpEndpoint endpoint) => endpoint.ToIPEndPoint();

    /// <summary>
    /// The stack endpoint a Kestrel listen endpoint binds: IPv4 or IPv6, the family's "any"
    /// address (every address of the stack in that family) or one of the stack's addresses,
    /// port 1 to 65535. An IPv4-mapped IPv6 address is the IPv4 address.
    /// </summary>
    /// <exception cref="NotSupportedException">Not an IP endpoint, or port 0.</exception>
    public static IpEndpoint ToStackEndPoint(EndPoint endpoint)
    {
        if (endpoint is not IPEndPoint ip || ip.Address.AddressFamily is not (AddressFamily.InterNetwork or AddressFamily.InterNetworkV6))
        {
            throw new NotSupportedException($"The Protocols stack transport binds IP endpoints, not {endpoint.GetType().Name} ({endpoint}).");
        }

        if (ip.Port is < 1 or > ushort.MaxValue)
        {
            throw new NotSupportedException($"The Protocols stack transport needs an explicit port; {ip} has none.");
        }

        IPAddress address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        return new IpEndpoint(IpAddress.FromIPAddress(address), (ushort)ip.Port);
    }
}
