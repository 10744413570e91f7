using System.Net;
using System.Net.Sockets;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Stack;

public class IpEndpointTests
{
    [Theory]
    [InlineData("10.0.0.2:80", "10.0.0.2:80")]
    [InlineData("0.0.0.0:0", "0.0.0.0:0")]
    [InlineData("[2001:db8::2]:443", "[2001:db8::2]:443")]
    [InlineData("[2001:DB8:0:0:0:0:0:2]:65535", "[2001:db8::2]:65535")]
    [InlineData("[::ffff:10.0.0.1]:7", "[::ffff:10.0.0.1]:7")]
    [InlineData("[::]:0", "[::]:0")]
    public void Parses_and_formats_both_families(string text, string canonical)
    {
        Assert.True(IpEndpoint.TryParse(text, out IpEndpoint endpoint));
        Assert.Equal(canonical, endpoint.ToString());
        Assert.Equal(endpoint, IpEndpoint.Parse(canonical));
        Assert.Equal(IPEndPoint.Parse(text), endpoint.ToIPEndPoint());
        Assert.Equal(endpoint, IpEndpoint.FromIPEndPoint(IPEndPoint.Parse(text)));
        Assert.Equal(endpoint, (IpEndpoint)(IPEndPoint)endpoint);
        Assert.Equal(endpoint.ToIPEndPoint().ToString(), endpoint.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("10.0.0.2")]
    [InlineData("10.0.0.2:")]
    [InlineData("10.0.0.2:65536")]
    [InlineData("10.0.0.2:-1")]
    [InlineData("2001:db8::2:80")]       // an IPv6 endpoint needs brackets
    [InlineData("[2001:db8::2]")]
    [InlineData("[2001:db8::2:80")]
    [InlineData("[10.0.0.2]:80")]
    [InlineData("[]:80")]
    [InlineData(":80")]
    [InlineData("10.0.0.2:80\0")]      // ushort.TryParse alone would take the NUL
    public void Rejects_what_is_not_an_endpoint(string text)
    {
        Assert.False(IpEndpoint.TryParse(text, out _));
        Assert.Throws<FormatException>(() => IpEndpoint.Parse(text));
    }

    [Fact]
    public void Default_is_ipv4_any_port_zero_and_the_family_shows()
    {
        Assert.Equal(new IpEndpoint(IpAddress.Ipv4Any, 0), default);
        Assert.Equal(AddressFamily.InterNetwork, default(IpEndpoint).Family);
        Assert.Equal(AddressFamily.InterNetworkV6, IpEndpoint.Parse("[::1]:1").Family);
        Assert.NotEqual(IpEndpoint.Parse("[::ffff:10.0.0.1]:7"), IpEndpoint.Parse("10.0.0.1:7"));
        Assert.Equal(new IpEndpoint(Ipv4Address.Parse("10.0.0.1"), 7), IpEndpoint.Parse("10.0.0.1:7"));
    }

    [Fact]
    public void Formats_into_a_span_without_allocating()
    {
        IpEndpoint endpoint = IpEndpoint.Parse("[ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255]:65535");
        Span<char> text = stackalloc char[Ipv6Address.MaxTextLength + 8];
        Assert.True(endpoint.TryFormat(text, out _));
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.True(endpoint.TryFormat(text, out int n));
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal("[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535", text[..n].ToString());
        Assert.False(endpoint.TryFormat(text[..(n - 1)], out _));
        Assert.False(IpEndpoint.Parse("10.0.0.1:80").TryFormat(text[..10], out _));
        Assert.True(IpEndpoint.Parse("10.0.0.1:80").TryFormat(text[..11], out n));
    }
}
