using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Engine;

public class TcpFourTupleTests
{
    internal static readonly TcpFourTuple Sample =
        new(Ipv4Address.Parse("10.0.0.2"), 80, Ipv4Address.Parse("10.0.0.1"), 40000);

    [Fact]
    public void Equality_covers_all_four_fields()
    {
        TcpFourTuple same = new(Ipv4Address.Parse("10.0.0.2"), 80, Ipv4Address.Parse("10.0.0.1"), 40000);
        Assert.Equal(Sample, same);
        Assert.True(Sample == same);
        Assert.Equal(Sample.GetHashCode(), same.GetHashCode());

        Assert.NotEqual(Sample, Sample with { LocalAddress = Ipv4Address.Parse("10.0.0.3") });
        Assert.NotEqual(Sample, Sample with { LocalPort = 81 });
        Assert.NotEqual(Sample, Sample with { RemoteAddress = Ipv4Address.Parse("10.0.0.4") });
        Assert.NotEqual(Sample, Sample with { RemotePort = 40001 });
        Assert.NotEqual(Sample, Sample.Reversed);
        Assert.Equal(Sample, Sample.Reversed.Reversed);
    }

    [Fact]
    public void Writes_addresses_and_ports_in_network_order()
    {
        Span<byte> bytes = stackalloc byte[12];
        Sample.WriteTo(bytes);
        Assert.Equal(new byte[] { 10, 0, 0, 2, 0, 80, 10, 0, 0, 1, 0x9c, 0x40 }, bytes.ToArray());
    }

    [Fact]
    public void Hashes_spread_sequential_ports_and_addresses()
    {
        // The demultiplexing case: one server port, many clients that differ only in their
        // port or their last address octets. Nearly every hash must be distinct, and the low
        // bits (a dictionary's bucket index) must spread across buckets.
        var hashes = new HashSet<int>();
        var buckets = new int[1024];
        var server = Ipv4Address.Parse("192.0.2.1");
        for (int host = 0; host < 100; host++)
        {
            var client = Ipv4Address.FromUInt32(0x0a00_0000u + (uint)host);
            for (int port = 32768; port < 33768; port++)
            {
                int h = new TcpFourTuple(server, 443, client, (ushort)port).GetHashCode();
                hashes.Add(h);
                buckets[h & 1023]++;
            }
        }

        Assert.True(hashes.Count > 99_900, $"{hashes.Count} distinct hashes of 100000");
        Assert.True(buckets.Max() < 160, $"fullest of 1024 buckets holds {buckets.Max()} (mean 98)");
    }

    [Fact]
    public void Formats_like_a_socket_pair()
    {
        Assert.Equal("10.0.0.2:80 -> 10.0.0.1:40000", Sample.ToString());
    }
}
