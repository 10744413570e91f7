using System.Buffers.Binary;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Tcp.Engine;

/// <summary>
/// The four numbers that name a TCP connection (RFC 9293 3.3.2: "a pair of sockets"), seen
/// from this stack: the local address and port, and the remote address and port.
/// </summary>
/// <remarks>
/// The hash code (for O(1) demultiplexing in a dictionary) mixes all four fields through
/// <see cref="HashCode"/>, whose seed is random per process. Remote addresses and ports are
/// chosen by whoever sends us segments, so an unkeyed hash would let them aim every
/// connection at one bucket; a per-process seed makes that guesswork, as the kernels' keyed
/// jhash of the 4-tuple does. Both addresses are of one family (IPv4 or IPv6); an
/// <see cref="IpAddress"/> is a value, so hashing and comparing a tuple allocates nothing.
/// </remarks>
/// <param name="LocalAddress">This stack's address.</param>
/// <param name="LocalPort">This stack's port.</param>
/// <param name="RemoteAddress">The peer's address.</param>
/// <param name="RemotePort">The peer's port.</param>
public readonly record struct TcpFourTuple(IpAddress LocalAddress, ushort LocalPort, IpAddress RemoteAddress, ushort RemotePort)
{
    /// <summary>The most bytes <see cref="WriteTo"/> produces: two IPv6 addresses and two ports (12 for IPv4).</summary>
    internal const int MaxEncodedLength = 36;

    /// <summary>The same connection seen from the peer: local and remote swapped.</summary>
    public TcpFourTuple Reversed => new(RemoteAddress, RemotePort, LocalAddress, LocalPort);

    /// <summary>Whether all four fields are equal.</summary>
    public bool Equals(TcpFourTuple other) =>
        LocalPort == other.LocalPort
        && LocalAddress == other.LocalAddress
        && RemoteAddress == other.RemoteAddress
        && RemotePort == other.RemotePort;

    /// <summary>A per-process-seeded hash of all four fields (see the remarks of <see cref="TcpFourTuple"/>).</summary>
    public override int GetHashCode() =>
        HashCode.Combine(LocalAddress, RemoteAddress, ((uint)LocalPort << 16) | RemotePort);

    /// <summary>
    /// Writes the tuple (local address, local port, remote address, remote port, network order):
    /// 12 bytes for IPv4, 36 for IPv6; the input of the keyed hashes of RFC 6528 and the SYN cookies.
    /// </summary>
    /// <returns>The bytes written.</returns>
    internal int WriteTo(Span<byte> destination)
    {
        int n = LocalAddress.WriteTo(destination);
        BinaryPrimitives.WriteUInt16BigEndian(destination[n..], LocalPort);
        n += 2;
        n += RemoteAddress.WriteTo(destination[n..]);
        BinaryPrimitives.WriteUInt16BigEndian(destination[n..], RemotePort);
        return n + 2;
    }

    /// <summary><c>local:port -&gt; remote:port</c> (IPv6 addresses in brackets).</summary>
    public override string ToString() =>
        FormattableString.Invariant($"{new IpEndpoint(LocalAddress, LocalPort)} -> {new IpEndpoint(RemoteAddress, RemotePort)}");
}
