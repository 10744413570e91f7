using Protocols.Ip;

namespace Protocols.Udp.Tests.Sockets;

public class UdpIcmpErrorsTests
{
    [Theory]
    [InlineData(IcmpUnreachableCode.PortUnreachable, UdpError.ConnectionRefused, true)]
    [InlineData(IcmpUnreachableCode.ProtocolUnreachable, UdpError.ProtocolUnreachable, true)]
    [InlineData(IcmpUnreachableCode.NetUnreachable, UdpError.NetworkUnreachable, false)]
    [InlineData(IcmpUnreachableCode.HostUnreachable, UdpError.HostUnreachable, false)]
    [InlineData(IcmpUnreachableCode.FragmentationNeeded, UdpError.MessageTooBig, false)]
    [InlineData(IcmpUnreachableCode.CommunicationAdministrativelyProhibited, UdpError.HostUnreachable, true)]
    [InlineData(IcmpUnreachableCode.DestinationNetworkUnknown, UdpError.NetworkUnreachable, true)]
    public void Destination_unreachable_codes_map_like_linux(IcmpUnreachableCode code, UdpError expected, bool hard)
    {
        Assert.True(UdpIcmpErrors.TryClassify(IcmpType.DestinationUnreachable, (byte)code, out UdpError error, out bool isHard));
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
        Assert.True(UdpIcmpErrors.TryClassify(IcmpType.TimeExceeded, 0, out UdpError e, out bool hard));
        Assert.Equal((UdpError.HostUnreachable, false), (e, hard));
        Assert.True(UdpIcmpErrors.TryClassify(IcmpType.ParameterProblem, 0, out e, out hard));
        Assert.Equal((UdpError.ProtocolError, true), (e, hard));
        Assert.False(UdpIcmpErrors.TryClassify(IcmpType.SourceQuench, 0, out _, out _));
        Assert.False(UdpIcmpErrors.TryClassify(IcmpType.Redirect, 1, out _, out _));
    }
}
