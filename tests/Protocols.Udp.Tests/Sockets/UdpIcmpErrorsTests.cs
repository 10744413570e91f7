using System.Net.Sockets;
using Protocols.Ip;

namespace Protocols.Udp.Tests.Sockets;

public class UdpIcmpErrorsTests
{
    [Theory]
    [InlineData(IcmpUnreachableCode.PortUnreachable, SocketError.ConnectionRefused, true)]
    [InlineData(IcmpUnreachableCode.ProtocolUnreachable, SocketError.ProtocolOption, true)]
    [InlineData(IcmpUnreachableCode.NetUnreachable, SocketError.NetworkUnreachable, false)]
    [InlineData(IcmpUnreachableCode.HostUnreachable, SocketError.HostUnreachable, false)]
    [InlineData(IcmpUnreachableCode.FragmentationNeeded, SocketError.MessageSize, false)]
    [InlineData(IcmpUnreachableCode.CommunicationAdministrativelyProhibited, SocketError.HostUnreachable, true)]
    [InlineData(IcmpUnreachableCode.DestinationNetworkUnknown, SocketError.NetworkUnreachable, true)]
    public void Destination_unreachable_codes_map_like_linux(IcmpUnreachableCode code, SocketError expected, bool hard)
    {
        Assert.True(UdpIcmpErrors.TryClassify(IcmpType.DestinationUnreachable, (byte)code, out SocketError error, out bool isHard));
        Assert.Equal((expected, hard), (error, isHard));
    }

    [Fact]
    public void Every_unreachable_code_is_classified()
    {
        for (int code = 0; code < 256; code++)
        {
            Assert.True(UdpIcmpErrors.TryClassify(IcmpType.DestinationUnreachable, (byte)code, out _, out _));
        }
    }

    [Fact]
    public void Other_types()
    {
        Assert.True(UdpIcmpErrors.TryClassify(IcmpType.TimeExceeded, 0, out SocketError e, out bool hard));
        Assert.Equal((SocketError.HostUnreachable, false), (e, hard));
        Assert.True(UdpIcmpErrors.TryClassify(IcmpType.ParameterProblem, 0, out e, out hard));
        Assert.Equal((SocketError.SocketError, true), (e, hard));
        Assert.False(UdpIcmpErrors.TryClassify(IcmpType.SourceQuench, 0, out _, out _));
        Assert.False(UdpIcmpErrors.TryClassify(IcmpType.Redirect, 1, out _, out _));
    }
}
