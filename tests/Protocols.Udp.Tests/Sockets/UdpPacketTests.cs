using System.Buffers.Binary;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Udp.Tests.Sockets;

public class UdpPacketTests
{
    private static readonly IpEndpoint Client = IpEndpoint.Parse("10.0.0.1:53000");
    private static readonly IpEndpoint Server = IpEndpoint.Parse("10.0.0.2:53");

    [Fact]
    public void Writes_the_known_hello_datagram()
    {
        var buffer = new byte[64];
        int n = UdpPacket.Write(buffer, Client, Server, "hello"u8);
        Assert.Equal(UdpHeaderTests.Hello, buffer[..n]); // checksum 0xd8c1 computed independently
    }

    [Fact]
    public void Written_checksum_matches_the_naive_one_and_parses_back()
    {
        var random = new Random(11);
        for (int round = 0; round < 200; round++)
        {
            var payload = new byte[random.Next(0, 1500)];
            random.NextBytes(payload);
            var buffer = new byte[payload.Length + 8];
            UdpPacket.Write(buffer, Client, Server, payload);

            ushort naive = NaiveChecksum.Udp(Client.Address.ToIpv4(), Server.Address.ToIpv4(), buffer);
            ushort expected = naive == 0 ? (ushort)0xFFFF : naive;
            Assert.Equal(expected, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(6)));

            Assert.Equal(UdpParseStatus.Valid, UdpPacket.Parse(buffer, Client.Address, Server.Address, false, out var reader));
            Assert.Equal(payload, reader.Payload.ToArray());
            Assert.Equal(Client.Port, reader.SourcePort);
            Assert.Equal(Server.Port, reader.DestinationPort);
        }
    }

    [Fact]
    public void A_computed_zero_checksum_is_sent_as_all_ones_and_verifies()
    {
        // Pick the last two payload bytes so the ones'-complement sum is 0xFFFF: the checksum computes to 0.
        var payload = new byte[6] { 1, 2, 3, 4, 0, 0 };
        var probe = new byte[14];
        UdpPacket.Write(probe, Client, Server, payload, computeChecksum: false);
        ushort sum = NaiveChecksum.Sum(Client.Address.ToIpv4(), Server.Address.ToIpv4(), probe);
        BinaryPrimitives.WriteUInt16BigEndian(payload.AsSpan(4), (ushort)~sum);

        var buffer = new byte[14];
        UdpPacket.Write(buffer, Client, Server, payload);
        Assert.Equal(0, NaiveChecksum.Udp(Client.Address.ToIpv4(), Server.Address.ToIpv4(), buffer));
        Assert.Equal(0xFFFF, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(6)));
        Assert.Equal(UdpParseStatus.Valid, UdpPacket.Parse(buffer, Client.Address, Server.Address, false, out _));
    }

    [Fact]
    public void Zero_checksum_means_none_and_is_accepted()
    {
        var buffer = new byte[13];
        UdpPacket.Write(buffer, Client, Server, "hello"u8, computeChecksum: false);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(6)));
        Assert.Equal(UdpParseStatus.ValidWithoutChecksum, UdpPacket.Parse(buffer, Client.Address, Server.Address, false, out var reader));
        Assert.Equal("hello"u8.ToArray(), reader.Payload.ToArray());
    }

    [Fact]
    public void Every_single_bit_flip_is_caught_by_the_checksum_or_the_length_check()
    {
        byte[] good = UdpHeaderTests.Hello;
        for (int bit = 0; bit < good.Length * 8; bit++)
        {
            byte[] bad = (byte[])good.Clone();
            bad[bit / 8] ^= (byte)(1 << (bit % 8));
            UdpParseStatus status = UdpPacket.Parse(bad, Client.Address, Server.Address, false, out _);
            Assert.True(status is UdpParseStatus.BadChecksum or UdpParseStatus.Malformed, $"bit {bit}: {status}");
        }
    }

    [Fact]
    public void Wrong_pseudo_header_fails_and_device_verification_skips_the_check()
    {
        Assert.Equal(UdpParseStatus.BadChecksum, UdpPacket.Parse(UdpHeaderTests.Hello, Client.Address, Ipv4Address.Parse("10.0.0.3"), false, out _));
        Assert.Equal(UdpParseStatus.Valid, UdpPacket.Parse(UdpHeaderTests.Hello, Client.Address, Ipv4Address.Parse("10.0.0.3"), true, out _));
    }

    [Fact]
    public void Malformed_lengths_are_reported_and_trailing_bytes_ignored()
    {
        Assert.Equal(UdpParseStatus.Malformed, UdpPacket.Parse(UdpHeaderTests.Hello.AsSpan(0, 7), Client.Address, Server.Address, false, out _));
        Assert.Equal(UdpParseStatus.Malformed, UdpPacket.Parse(UdpHeaderTests.Hello.AsSpan(0, 12), Client.Address, Server.Address, false, out _)); // length 13 > 12

        byte[] shortLength = (byte[])UdpHeaderTests.Hello.Clone();
        shortLength[5] = 7; // length below the header
        Assert.Equal(UdpParseStatus.Malformed, UdpPacket.Parse(shortLength, Client.Address, Server.Address, false, out _));

        byte[] padded = [.. UdpHeaderTests.Hello, 0, 0, 0, 0, 0];
        Assert.Equal(UdpParseStatus.Valid, UdpPacket.Parse(padded, Client.Address, Server.Address, false, out var reader));
        Assert.Equal(5, reader.Payload.Length);
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(5);
        var buffer = new byte[64];
        for (int i = 0; i < 20000; i++)
        {
            int n = random.Next(0, buffer.Length);
            random.NextBytes(buffer.AsSpan(0, n));
            _ = UdpPacket.Parse(buffer.AsSpan(0, n), Client.Address, Server.Address, random.Next(2) == 0, out _);
        }
    }

    [Fact]
    public void Size_limits()
    {
        Assert.Equal(65507, UdpPacket.MaxPayloadLength);
        var big = new byte[65535];
        Assert.Equal(65515, UdpPacket.Write(big, Client, Server, new byte[65507]));
        Assert.Throws<ArgumentException>(() => UdpPacket.Write(new byte[70000], Client, Server, new byte[65508]));
        Assert.Throws<ArgumentException>(() => UdpPacket.Write(new byte[10], Client, Server, "hello"u8));
    }

    [Fact]
    public void Quoted_ports_need_four_bytes()
    {
        Assert.True(UdpPacket.TryReadQuotedPorts(UdpHeaderTests.Hello.AsSpan(0, 8), out ushort src, out ushort dst));
        Assert.Equal((53000, 53), (src, dst));
        Assert.False(UdpPacket.TryReadQuotedPorts(UdpHeaderTests.Hello.AsSpan(0, 3), out _, out _));
    }

    [Fact]
    public void Endpoint_text_round_trips()
    {
        Assert.Equal("10.0.0.1:53000", Client.ToString());
        Assert.Equal(Client, IpEndpoint.Parse("10.0.0.1:53000"));
        Assert.False(IpEndpoint.TryParse("10.0.0.1", out _));
        Assert.False(IpEndpoint.TryParse("10.0.0.1:70000", out _));
        Assert.False(IpEndpoint.TryParse(":53", out _));
        Assert.Throws<FormatException>(() => IpEndpoint.Parse("nope"));
    }
}
