using System.Net;
using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.AspNetCore;

/// <summary>Kestrel's <see cref="IPEndPoint"/> and the stack's endpoints, both ways.</summary>
internal static class StackEndPoints
{
    /// <summary>The stack's endpoint as an <see cref="IPEndPoint"/>.</summary>
    public static IPEndPoint ToIPEndPoint(Ipv4Endpoint endpoint)
    {
        uint a = endpoint.Address.ToUInt32();
        return new IPEndPoint(new IPAddress([(byte)(a >> 24), (byte)(a >> 16), (byte)(a >> 8), (byte)a]), endpoint.Port);
    }

    /// <summary>
    /// The stack endpoint a Kestrel listen endpoint binds: <c>0.0.0.0</c> (every address of the
    /// stack) or one of its IPv4 addresses, port 1 to 65535.
    /// </summary>
    /// <exception cref="NotSupportedException">Not an IPv4 endpoint (Kestrel's "any IP" binding then falls back to IPv4), or port 0.</exception>
    public static Ipv4Endpoint ToStackEndPoint(EndPoint endpoint)
    {
        if (endpoint is not IPEndPoint ip)
        {
            throw new NotSupportedException($"The Protocols stack transport binds IP endpoints, not {endpoint.GetType().Name} ({endpoint}).");
        }

        IPAddress address = ip.Address.IsIPv4MappedToIPv6 ? ip.Address.MapToIPv4() : ip.Address;
        if (address.AddressFamily != AddressFamily.InterNetwork)
        {
            throw new NotSupportedException($"The Protocols stack transport binds IPv4 endpoints; {ip} is not one.");
        }

        if (ip.Port is < 1 or > ushort.MaxValue)
        {
            throw new NotSupportedException($"The Protocols stack transport needs an explicit port; {ip} has none.");
        }

        Span<byte> bytes = stackalloc byte[4];
        address.TryWriteBytes(bytes, out _);
        return new Ipv4Endpoint(Ipv4Address.Create(bytes), (ushort)ip.Port);
    }
}
