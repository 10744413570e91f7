using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>The one endpoint type across families: what an IPv6 endpoint does on a stack without IPv6 interfaces.</summary>
public class TcpAddressFamilyTests
{
    private static readonly IpAddress V6 = Ipv6Address.Parse("2001:db8::2");

    [Fact]
    public void Listening_on_an_ipv6_endpoint_fails_with_address_family_not_supported()
    {
        var net = new TcpStackPair(seed: 60);
        TcpException e = Assert.Throws<TcpException>(() => net.TcpB.Listen(new IpEndpoint(V6, 80)));
        Assert.Equal(SocketError.AddressFamilyNotSupported, e.SocketErrorCode);
        e = Assert.Throws<TcpException>(() => net.TcpB.Listen(new IpEndpoint(IpAddress.Ipv6Any, 80)));
        Assert.Equal(SocketError.AddressFamilyNotSupported, e.SocketErrorCode);
        Assert.Equal(0, net.TcpB.ListenerCount);

        // The dual-stack listener of the same port is allowed (its IPv6 side is idle on an IPv4-only stack).
        using TcpListener listener = net.TcpB.Listen(80);
        Assert.Equal(new IpEndpoint(IpAddress.Ipv6Any, 80), listener.LocalEndPoint);
        Assert.True(listener.DualStack);
    }

    [Fact]
    public void Connecting_to_an_ipv6_endpoint_fails_with_address_family_not_supported()
    {
        var net = new TcpStackPair(seed: 61);
        TcpException e = net.Run(async () => await Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(new IpEndpoint(V6, 80))));
        Assert.Equal(SocketError.AddressFamilyNotSupported, e.SocketErrorCode);
        Assert.Equal(0, net.TcpA.ConnectionCount);

        // Arguments that can never work are refused at once, as for IPv4.
        Assert.Throws<ArgumentException>(() => { _ = net.TcpA.ConnectAsync(new IpEndpoint(V6, 80), null, new IpEndpoint(TcpStackPair.AddressA, 0)); });
        Assert.Throws<ArgumentException>(() => { _ = net.TcpA.ConnectAsync(new IpEndpoint(IpAddress.Ipv6Any, 80)); });
        Assert.Throws<ArgumentException>(() => { _ = net.TcpA.ConnectAsync(new IpEndpoint(Ipv6Address.AllNodes, 80)); });
    }

    [Fact]
    public void Endpoints_of_an_ipv4_connection_are_ipv4_and_convert_to_system_net()
    {
        var net = new TcpStackPair(seed: 62);
        using TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);
        Assert.Equal(AddressFamily.InterNetwork, client.RemoteEndPoint.Family);
        Assert.Equal(new System.Net.IPEndPoint(System.Net.IPAddress.Parse("10.0.0.2"), 80), client.RemoteEndPoint.ToIPEndPoint());
        Assert.Equal(client.LocalEndPoint, server.RemoteEndPoint);
        Assert.Equal(client.LocalEndPoint, IpEndpoint.FromIPEndPoint(server.RemoteEndPoint.ToIPEndPoint()));
    }
}

/// <summary>The 4-tuple over 16-byte addresses: ISNs, SYN cookies and demultiplexing hashes cover every byte, without allocating.</summary>
public class TcpFourTupleIpv6Tests
{
    private static readonly TcpFourTuple V6 =
        new(Ipv6Address.Parse("2001:db8::2"), 443, Ipv6Address.Parse("2001:db8::1:1"), 40000);

    private static readonly byte[] Secret = [.. Enumerable.Range(1, 16).Select(i => (byte)i)];

    [Fact]
    public void Writes_36_bytes_for_ipv6_and_12_for_ipv4()
    {
        Span<byte> bytes = stackalloc byte[TcpFourTuple.MaxEncodedLength];
        Assert.Equal(36, V6.WriteTo(bytes));
        Assert.Equal(0x20, bytes[0]);
        Assert.Equal(443, (bytes[16] << 8) | bytes[17]);
        Assert.Equal(0x01, bytes[33]);
        Assert.Equal(40000, (bytes[34] << 8) | bytes[35]);
        Assert.Equal(12, Engine.TcpFourTupleTests.Sample.WriteTo(bytes));
        Assert.Equal("[2001:db8::2]:443 -> [2001:db8::1:1]:40000", V6.ToString());
    }

    [Fact]
    public void Every_address_byte_changes_the_isn_the_cookie_and_the_equality()
    {
        var isn = new IsnGenerator(Secret);
        var cookies = new SynCookies(Secret);
        uint baseIsn = isn.Offset(V6);
        uint baseCookie = cookies.Create(V6, 1000, 1440, 0, out _);
        Span<byte> bytes = stackalloc byte[16];
        for (int side = 0; side < 2; side++)
        {
            for (int i = 0; i < 16; i++)
            {
                IpAddress original = side == 0 ? V6.LocalAddress : V6.RemoteAddress;
                original.WriteTo(bytes);
                bytes[i] ^= 0x01;
                IpAddress changed = IpAddress.Create(bytes);
                TcpFourTuple other = side == 0 ? V6 with { LocalAddress = changed } : V6 with { RemoteAddress = changed };
                Assert.NotEqual(V6, other);
                Assert.NotEqual(baseIsn, isn.Offset(other));
                Assert.NotEqual(baseCookie, cookies.Create(other, 1000, 1440, 0, out _));
                Assert.False(cookies.TryValidate(other, 1000, baseCookie + 1, 0, out _));
            }
        }

        Assert.True(cookies.TryValidate(V6, 1000, baseCookie + 1, 0, out ushort mss));
        Assert.Equal(1440, mss);
    }

    [Fact]
    public void An_ipv4_tuple_and_the_ipv4_mapped_ipv6_tuple_are_different_connections()
    {
        TcpFourTuple v4 = Engine.TcpFourTupleTests.Sample;
        var mapped = new TcpFourTuple(
            Ipv6Address.MapFromIpv4(v4.LocalAddress.ToIpv4()), v4.LocalPort, Ipv6Address.MapFromIpv4(v4.RemoteAddress.ToIpv4()), v4.RemotePort);
        Assert.NotEqual(v4, mapped);
        var table = new Dictionary<TcpFourTuple, int> { [v4] = 4, [mapped] = 6 };
        Assert.Equal(4, table[v4]);
        Assert.Equal(6, table[mapped]);
    }

    [Fact]
    public void Demultiplexing_ipv6_tuples_allocates_nothing_and_spreads()
    {
        var table = new Dictionary<TcpFourTuple, int>();
        var server = Ipv6Address.Parse("2001:db8::2");
        var buckets = new int[1024];
        for (int i = 0; i < 10_000; i++)
        {
            // Clients that differ only in the interface identifier's low bits and in their port.
            var client = Ipv6Address.FromUInt128(new UInt128(0x2001_0db8_0000_0001, (ulong)(i / 100)));
            var tuple = new TcpFourTuple(server, 443, client, (ushort)(32768 + (i % 100)));
            table.Add(tuple, i);
            buckets[tuple.GetHashCode() & 1023]++;
        }

        Assert.True(buckets.Max() < 30, $"fullest of 1024 buckets holds {buckets.Max()} (mean 9.8)");
        var probe = new TcpFourTuple(server, 443, Ipv6Address.FromUInt128(new UInt128(0x2001_0db8_0000_0001, 42)), 32800);
        int found = 0;
        _ = table.TryGetValue(probe, out found);
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            _ = table.TryGetValue(probe, out found);
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(4232, found);
    }
}
