using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Udp;

/// <summary>What <see cref="UdpSocket.ReceiveFromAsync"/> received.</summary>
/// <param name="BytesReceived">Bytes copied into the caller's buffer.</param>
/// <param name="RemoteEndpoint">The sender.</param>
/// <param name="LocalAddress">The address the datagram was sent to (ours, or a broadcast address).</param>
/// <param name="DatagramLength">The datagram's full length; larger than <paramref name="BytesReceived"/> when the buffer was too small (the rest is discarded, as recvfrom(2) does without MSG_PEEK).</param>
public readonly record struct UdpReceiveResult(int BytesReceived, IpEndpoint RemoteEndpoint, IpAddress LocalAddress, int DatagramLength)
{
    /// <summary>True when the datagram did not fit the buffer (recvmsg's MSG_TRUNC).</summary>
    public bool Truncated => DatagramLength > BytesReceived;
}
