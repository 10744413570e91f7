using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Udp.Tests.Sockets;

/// <summary>Every way a UDP operation fails yields the shape TCP's do: a <see cref="UdpException"/> (an <see cref="IOException"/> and a <see cref="NetworkException"/>) with the socket error a kernel would report and an inner <see cref="SocketException"/> of the same code.</summary>
public class UdpErrorShapeTests
{
    private static IpAddress B => UdpSimulation.AddressB;

    private static void AssertShape(SocketError expected, Exception e)
    {
        UdpException udp = Assert.IsType<UdpException>(e);
        Assert.IsAssignableFrom<IOException>(udp);
        Assert.IsAssignableFrom<NetworkException>(udp);
        Assert.Equal(expected, udp.SocketErrorCode);
        Assert.Equal(expected, Assert.IsType<SocketException>(udp.InnerException).SocketErrorCode);
    }

    [Fact]
    public void Binding_a_bound_port_is_AddressAlreadyInUse_and_an_address_not_ours_AddressNotAvailable()
    {
        var net = new UdpSimulation(seed: 301);
        using var bound = UdpSocket.Bind(net.B, 53);
        AssertShape(SocketError.AddressAlreadyInUse, Assert.Throws<UdpException>(() => UdpSocket.Bind(net.B, 53)));
        AssertShape(SocketError.AddressNotAvailable, Assert.Throws<UdpException>(() => UdpSocket.Bind(net.B, new IpEndpoint(UdpSimulation.AddressA, 54))));
    }

    [Fact]
    public void Send_errors_have_the_kernel_codes()
    {
        var net = new UdpSimulation(seed: 302);
        using var socket = UdpSocket.Bind(net.A);
        AssertShape(SocketError.DestinationAddressRequired, Assert.ThrowsAny<UdpException>(() => net.Run(async () => await socket.SendAsync(new byte[1]))));
        AssertShape(SocketError.MessageSize, Assert.ThrowsAny<UdpException>(() => net.Run(async () => await socket.SendToAsync(new byte[Family.Ipv6 ? UdpPacket.MaxPayloadLengthIpv6 + 1 : 65508], new IpEndpoint(B, 9)))));
        IpAddress nowhere = Family.Ipv6 ? IpAddress.Parse("2001:db8:ffff::1") : Ipv4Address.Parse("192.0.2.1");
        AssertShape(SocketError.NetworkUnreachable, Assert.ThrowsAny<UdpException>(() => net.Run(async () => await socket.SendToAsync(new byte[1], new IpEndpoint(nowhere, 9)))));
        AssertShape(SocketError.InvalidArgument, Assert.Throws<UdpException>(() => socket.Connect(new IpEndpoint(B, 0))));
    }

    [Fact]
    public void ICMP_port_unreachable_is_ConnectionRefused_with_the_datagram_and_the_reporter()
    {
        var net = new UdpSimulation(seed: 303);
        using var client = UdpSocket.Connect(net.A, new IpEndpoint(B, 4444));
        Task<UdpReceiveResult> pending = net.Sim.Start(async () => await client.ReceiveFromAsync(new byte[16]));
        net.Run(async () => await client.SendAsync("anyone?"u8.ToArray()));
        net.Sim.RunUntil(() => pending.IsCompleted, UdpSimulation.Limit);
        UdpException e = Assert.Throws<UdpException>(() => pending.GetAwaiter().GetResult());
        AssertShape(SocketError.ConnectionRefused, e);
        Assert.Equal(new IpEndpoint(B, 4444), e.RemoteEndpoint);
        Assert.Equal(B, e.ReportedBy);
    }

    [Fact]
    public void A_receive_beyond_the_waiting_limit_is_TooManyOpenSockets()
    {
        var net = new UdpSimulation(seed: 304);
        using var socket = UdpSocket.Bind(net.A, 0, new UdpSocketOptions { MaxPendingReceives = 1 });
        Task<UdpReceiveResult> first = net.Sim.Start(async () => await socket.ReceiveFromAsync(new byte[16]));
        Task<UdpReceiveResult> second = net.Sim.Start(async () => await socket.ReceiveFromAsync(new byte[16]));
        net.Sim.RunUntil(() => second.IsCompleted, UdpSimulation.Limit);
        AssertShape(SocketError.TooManyOpenSockets, Assert.Throws<UdpException>(() => second.GetAwaiter().GetResult()));
        Assert.False(first.IsCompleted);
    }

    [Fact]
    public void An_ICMP_parameter_problem_has_the_generic_code_and_says_so()
    {
        // Linux reports EPROTO, for which SocketError has no member.
        Assert.True(UdpIcmpErrors.TryClassify(IcmpType.ParameterProblem, 0, out SocketError error, out _));
        var e = new UdpException(error, new IpEndpoint(B, 9), B);
        AssertShape(SocketError.SocketError, e);
        Assert.Contains("parameter problem", e.Message, StringComparison.Ordinal);
    }
}
