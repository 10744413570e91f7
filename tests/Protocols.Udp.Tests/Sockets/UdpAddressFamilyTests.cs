using System.Buffers.Binary;
using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Udp.Tests.Sockets;

/// <summary>The one endpoint type across families: IPv6 endpoints on a stack that routes IPv4 only, and the IPv6 rules of the datagram codec.</summary>
public class UdpAddressFamilyTests
{
    private static readonly IpEndpoint V6Peer = IpEndpoint.Parse("[2001:db8::2]:7");

    [Fact]
    public void Ipv6_binds_connects_and_sends_fail_with_address_family_not_supported()
    {
        var net = new UdpSimulation(seed: 70);
        UdpException e = Assert.Throws<UdpException>(() => UdpSocket.Bind(net.A, new IpEndpoint(IpAddress.Ipv6Any, 5000)));
        Assert.Equal(SocketError.AddressFamilyNotSupported, e.SocketErrorCode);
        Assert.Equal(SocketError.AddressFamilyNotSupported, Assert.IsType<SocketException>(e.InnerException).SocketErrorCode);
        e = Assert.Throws<UdpException>(() => UdpSocket.Connect(net.A, V6Peer));
        Assert.Equal(SocketError.AddressFamilyNotSupported, e.SocketErrorCode);

        using var socket = UdpSocket.Bind(net.A, 5000);
        e = Assert.Throws<UdpException>(() => socket.Connect(V6Peer));
        Assert.Equal(SocketError.AddressFamilyNotSupported, e.SocketErrorCode);
        Assert.Null(socket.RemoteEndpoint);
        e = net.Run(async () => await Assert.ThrowsAsync<UdpException>(async () => await socket.SendToAsync("x"u8.ToArray(), V6Peer)));
        Assert.Equal(SocketError.AddressFamilyNotSupported, e.SocketErrorCode);
        Assert.Equal(1, net.A.Udp().SocketCount);
    }

    [Fact]
    public void Ipv6_datagrams_always_carry_a_checksum_over_the_rfc_8200_pseudo_header()
    {
        var from = IpEndpoint.Parse("[2001:db8::1]:5353");
        var buffer = new byte[8 + 5];
        UdpPacket.Write(buffer, from, V6Peer, "hello"u8, computeChecksum: false);
        ushort written = BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(6));
        Assert.NotEqual(0, written);

        // The ones'-complement sum over pseudo-header, header and data is all ones.
        var pseudo = new byte[40 + buffer.Length];
        from.Address.WriteTo(pseudo);
        V6Peer.Address.WriteTo(pseudo.AsSpan(16));
        BinaryPrimitives.WriteInt32BigEndian(pseudo.AsSpan(32), buffer.Length);
        pseudo[39] = 17;
        buffer.CopyTo(pseudo, 40);
        Assert.Equal(0xffffu, Checksum.Fold(Checksum.Sum(pseudo)));
        Assert.Equal(UdpParseStatus.Valid, UdpPacket.Parse(buffer, from.Address, V6Peer.Address, false, out _));

        // One address bit changed: the checksum no longer verifies.
        Assert.Equal(UdpParseStatus.BadChecksum, UdpPacket.Parse(buffer, IpAddress.Parse("2001:db8::3"), V6Peer.Address, false, out _));
    }

    [Fact]
    public void A_zero_checksum_is_rejected_over_ipv6_and_accepted_over_ipv4()
    {
        var buffer = new byte[8 + 5];
        UdpPacket.Write(buffer, IpEndpoint.Parse("10.0.0.1:5353"), IpEndpoint.Parse("10.0.0.2:7"), "hello"u8, computeChecksum: false);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(6)));
        Assert.Equal(UdpParseStatus.ValidWithoutChecksum, UdpPacket.Parse(buffer, IpAddress.Parse("10.0.0.1"), IpAddress.Parse("10.0.0.2"), false, out _));

        // RFC 8200 8.1: an IPv6 receiver discards a UDP datagram with a zero checksum, even when the device claims to have verified it.
        Assert.Equal(UdpParseStatus.BadChecksum, UdpPacket.Parse(buffer, IpAddress.Parse("2001:db8::1"), V6Peer.Address, false, out _));
        Assert.Equal(UdpParseStatus.BadChecksum, UdpPacket.Parse(buffer, IpAddress.Parse("2001:db8::1"), V6Peer.Address, true, out _));
    }
}
