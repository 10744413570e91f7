using System.Buffers.Binary;
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
/// jhash of the 4-tuple does.
/// </remarks>
/// <param name="LocalAddress">This stack's address.</param>
/// <param name="LocalPort">This stack's port.</param>
/// <param name="RemoteAddress">The peer's address.</param>
/// <param name="RemotePort">The peer's port.</param>
public readonly record struct TcpFourTuple(Ipv4Address LocalAddress, ushort LocalPort, Ipv4Address RemoteAddress, ushort RemotePort)
{
    /// <summary>The bytes <see cref="WriteTo"/> produces: two addresses and two ports.</summary>
    internal const int EncodedLength = 12;

    /// <summary>The same connection seen from the peer: local and remote swapped.</summary>
    public TcpFourTuple Reversed => new(RemoteAddress, RemotePort, LocalAddress, LocalPort);

    /// <summary>Whether all four fields are equal.</summary>
    public bool Equals(TcpFourTuple other) =>
        LocalAddress.ToUInt32() == other.LocalAddress.ToUInt32()
        && RemoteAddress.ToUInt32() == other.RemoteAddress.ToUInt32()
        && LocalPort == other.LocalPort
        && RemotePort == other.RemotePort;

    /// <summary>A per-process-seeded hash of all four fields (see the remarks of <see cref="TcpFourTuple"/>).</summary>
    public override int GetHashCode() =>
        HashCode.Combine(LocalAddress.ToUInt32(), RemoteAddress.ToUInt32(), ((uint)LocalPort << 16) | RemotePort);

    /// <summary>
    /// Writes the tuple as 12 bytes (local address, local port, remote address, remote port,
    /// network order): the input of the keyed hashes of RFC 6528 and the SYN cookies.
    /// </summary>
    internal void WriteTo(Span<byte> destination)
    {
        BinaryPrimitives.WriteUInt32BigEndian(destination, LocalAddress.ToUInt32());
        BinaryPrimitives.WriteUInt16BigEndian(destination[4..], LocalPort);
        BinaryPrimitives.WriteUInt32BigEndian(destination[6..], RemoteAddress.ToUInt32());
        BinaryPrimitives.WriteUInt16BigEndian(destination[10..], RemotePort);
    }

    /// <summary><c>local:port -&gt; remote:port</c>.</summary>
    public override string ToString() =>
        FormattableString.Invariant($"{LocalAddress}:{LocalPort} -> {RemoteAddress}:{RemotePort}");
}
