using System.Buffers.Binary;

namespace Protocols.Wire.Tests.Generated;

/// <summary>Generated checksum helpers: RFC 1071 compute/verify/fill per coverage, ZeroMeansNone, RFC 1624 updates.</summary>
public class ChecksumTests
{
    /// <summary>Reference: the RFC 1071 checksum of a copy of <paramref name="covered"/> with the checksum bytes zeroed.</summary>
    private static ushort Reference(ReadOnlySpan<byte> covered, int checksumOffset, uint initial = 0)
    {
        byte[] copy = covered.ToArray();
        copy[checksumOffset] = 0;
        copy[checksumOffset + 1] = 0;
        return Checksum.Compute(copy, initial);
    }

    [Fact]
    public void Header_coverage_matches_a_known_IPv4_checksum()
    {
        byte[] message = TryReadTests.Ipv4Message();
        Assert.Equal(0xb861, Ipv4LikeHeader.ComputeChecksum(message));
        Assert.True(Ipv4LikeHeader.VerifyChecksum(message));
        message[8] = 63; // TTL
        Assert.False(Ipv4LikeHeader.VerifyChecksum(message));
        Ipv4LikeHeader.FillChecksum(message);
        Assert.True(Ipv4LikeHeader.VerifyChecksum(message));
        Assert.Equal(Reference(message.AsSpan(0, 20), 10), new Ipv4LikeHeader.Writer(message).HeaderChecksum);
    }

    [Fact]
    public void Header_coverage_ignores_the_payload_and_includes_options()
    {
        byte[] message = new byte[40];
        var w = new Ipv4LikeHeader.Writer(message);
        w.WriteConstants();
        w.Ihl = 6;
        w.TotalLength = 40;
        w.Ttl = 9;
        w.Options[0] = 0x94; // router alert-ish
        w.Payload[3] = 0x55;
        w.FillChecksum();
        Assert.Equal(Reference(message.AsSpan(0, 24), 10), w.HeaderChecksum);

        message[30] ^= 0xff; // the payload is not covered
        Assert.True(Ipv4LikeHeader.VerifyChecksum(message));
        message[21] ^= 0xff; // the options are
        Assert.False(Ipv4LikeHeader.VerifyChecksum(message));
        Assert.True(Ipv4LikeHeader.TryRead(message, out var reader, out _));
        Assert.False(reader.VerifyChecksum());
    }

    [Fact]
    public void Message_coverage_sums_header_and_payload()
    {
        byte[] message = [8, 0, 0xaa, 0xbb, 0x12, 0x34, 0x00, 0x01, (byte)'h', (byte)'i', (byte)'!'];
        ushort checksum = IcmpLikeHeader.ComputeChecksum(message);
        Assert.Equal(Reference(message, 2), checksum);
        IcmpLikeHeader.FillChecksum(message);
        Assert.Equal(checksum, BinaryPrimitives.ReadUInt16BigEndian(message.AsSpan(2)));
        Assert.True(IcmpLikeHeader.VerifyChecksum(message));
        message[10] ^= 1;
        Assert.False(IcmpLikeHeader.VerifyChecksum(message));
    }

    [Fact]
    public void Odd_field_offsets_and_an_odd_fixed_length_are_summed_correctly()
    {
        var random = new Random(7);
        for (int round = 0; round < 200; round++)
        {
            byte[] message = new byte[OddChecksumHeader.FixedLength + random.Next(0, 12)];
            random.NextBytes(message);
            Assert.Equal(Reference(message, 0), OddChecksumHeader.ComputeChecksum(message));
            OddChecksumHeader.FillChecksum(message);
            Assert.True(OddChecksumHeader.VerifyChecksum(message));
            message[random.Next(message.Length)] ^= (byte)(1 << random.Next(8));
            Assert.False(OddChecksumHeader.VerifyChecksum(message));
        }
    }

    [Fact]
    public void Pseudo_header_coverage_adds_the_pseudo_header_and_trims_to_the_length()
    {
        uint pseudo = Checksum.PseudoHeaderSum(Ipv4Address.Parse("10.0.0.1"), Ipv4Address.Parse("10.0.0.2"), 17, 12);
        byte[] message = new byte[12 + 5]; // 5 bytes of padding after the datagram
        var w = new UdpLikeHeader.Writer(message);
        w.SourcePort = 5353;
        w.DestinationPort = 53;
        w.Length = 12;
        "ping"u8.CopyTo(w.Payload);
        message[14] = 0x77; // beyond Length: not covered

        ushort checksum = UdpLikeHeader.ComputeChecksum(message, pseudo);
        Assert.Equal(Reference(message.AsSpan(0, 12), 6, pseudo), checksum);
        w.FillChecksum(pseudo);
        Assert.Equal(checksum, w.Checksum);
        Assert.True(UdpLikeHeader.VerifyChecksum(message, pseudo));
        Assert.False(UdpLikeHeader.VerifyChecksum(message, pseudo + 1));
        Assert.True(UdpLikeHeader.TryRead(message, out var reader, out _));
        Assert.Equal(12, reader.Bytes.Length);
        Assert.True(reader.VerifyChecksum(pseudo));
    }

    [Fact]
    public void Zero_means_none_accepts_zero_and_sends_all_ones_for_a_computed_zero()
    {
        byte[] message = new byte[8];
        var w = new UdpLikeHeader.Writer(message);
        w.Length = 8;
        w.Checksum = 0;
        Assert.True(UdpLikeHeader.VerifyChecksum(message, 0x1234)); // "no checksum"

        // Make the ones'-complement sum 0xFFFF so the computed checksum is 0x0000.
        w.SourcePort = 0xFFFF - 8;
        Assert.Equal(0xFFFF, UdpLikeHeader.ComputeChecksum(message, 0));
        w.FillChecksum(0);
        Assert.Equal(0xFFFF, w.Checksum);
        Assert.True(UdpLikeHeader.VerifyChecksum(message, 0));
    }

    [Fact]
    public void Zero_means_none_leaves_an_absent_checksum_absent_on_incremental_updates()
    {
        byte[] message = new byte[8];
        var w = new UdpLikeHeader.Writer(message);
        w.Length = 8;
        w.SetDestinationPortUpdatingChecksum(80);
        Assert.Equal(80, w.DestinationPort);
        Assert.Equal(0, w.Checksum);
    }

    [Fact]
    public void Short_messages_do_not_verify_and_cannot_be_computed()
    {
        Assert.False(Ipv4LikeHeader.VerifyChecksum(new byte[19]));
        Assert.False(UdpLikeHeader.VerifyChecksum(new byte[7], 0));
        Assert.Throws<ArgumentException>(() => Ipv4LikeHeader.ComputeChecksum(new byte[19]));
        Assert.Throws<ArgumentException>(() => IcmpLikeHeader.FillChecksum(new byte[3]));
    }

    // RFC 1624: an incremental update after a field rewrite equals a full recomputation.

    [Fact]
    public void IPv4_incremental_updates_equal_full_recomputation()
    {
        var random = new Random(1624);
        for (int round = 0; round < 500; round++)
        {
            byte[] message = new byte[20];
            random.NextBytes(message);
            var w = new Ipv4LikeHeader.Writer(message);
            w.WriteConstants();
            w.Ihl = 5;
            w.FillChecksum();
            switch (random.Next(9))
            {
                case 0: w.SetTtlUpdatingChecksum((byte)random.Next(256)); break;
                case 1: w.SetProtocolUpdatingChecksum((TestProtocol)random.Next(256)); break;
                case 2: w.SetSourceUpdatingChecksum(Ipv4Address.FromUInt32((uint)random.NextInt64())); break;
                case 3: w.SetDestinationUpdatingChecksum(Ipv4Address.FromUInt32((uint)random.NextInt64())); break;
                case 4: w.SetFragmentOffsetUpdatingChecksum((ushort)random.Next(8192)); break;
                case 5: w.SetDontFragmentUpdatingChecksum(random.Next(2) == 1); break;
                case 6: w.SetTotalLengthUpdatingChecksum((ushort)random.Next(65536)); break;
                case 7: w.SetDscpUpdatingChecksum((byte)random.Next(64)); break;
                default: w.SetIdentificationUpdatingChecksum((ushort)random.Next(65536)); break;
            }

            Assert.Equal(Ipv4LikeHeader.ComputeChecksum(message), w.HeaderChecksum);
            Assert.True(Ipv4LikeHeader.VerifyChecksum(message));
        }
    }

    [Fact]
    public void Odd_offset_incremental_updates_equal_full_recomputation()
    {
        var random = new Random(1625);
        for (int round = 0; round < 500; round++)
        {
            byte[] message = new byte[OddChecksumHeader.FixedLength + random.Next(0, 6)];
            random.NextBytes(message);
            var w = new OddChecksumHeader.Writer(message);
            w.FillChecksum();
            switch (random.Next(6))
            {
                case 0: w.SetLeadUpdatingChecksum((byte)random.Next(256)); break;
                case 1: w.SetWordsUpdatingChecksum((byte)random.Next(16)); break;
                case 2: w.SetTwelveUpdatingChecksum((ushort)random.Next(4096)); break;
                case 3: w.SetMidUpdatingChecksum((uint)random.Next(1 << 24)); break;
                case 4:
                    var mac = default(MacAddress);
                    random.NextBytes(mac);
                    w.SetMacUpdatingChecksum(mac);
                    break;
                default: w.SetLastUpdatingChecksum((byte)random.Next(256)); break;
            }

            Assert.Equal(OddChecksumHeader.ComputeChecksum(message), w.Check);
            Assert.True(OddChecksumHeader.VerifyChecksum(message));
        }
    }

    [Fact]
    public void Pseudo_header_incremental_updates_equal_full_recomputation()
    {
        var random = new Random(1626);
        for (int round = 0; round < 500; round++)
        {
            byte[] message = new byte[8 + random.Next(0, 20)];
            random.NextBytes(message);
            uint pseudo = (uint)random.Next(1, 0x10000);
            var w = new UdpLikeHeader.Writer(message);
            w.Length = (ushort)message.Length;
            w.FillChecksum(pseudo);
            if (random.Next(2) == 0)
            {
                w.SetSourcePortUpdatingChecksum((ushort)random.Next(65536));
            }
            else
            {
                w.SetDestinationPortUpdatingChecksum((ushort)random.Next(65536));
            }

            Assert.Equal(UdpLikeHeader.ComputeChecksum(message, pseudo), w.Checksum);
            Assert.True(UdpLikeHeader.VerifyChecksum(message, pseudo));
        }
    }

    [Fact]
    public void Message_incremental_updates_equal_full_recomputation()
    {
        var random = new Random(1627);
        for (int round = 0; round < 300; round++)
        {
            byte[] message = new byte[8 + random.Next(0, 9)];
            random.NextBytes(message);
            var w = new IcmpLikeHeader.Writer(message);
            w.FillChecksum();
            w.SetSequenceUpdatingChecksum((ushort)random.Next(65536));
            w.SetTypeUpdatingChecksum((byte)random.Next(256));
            w.SetCodeUpdatingChecksum((byte)random.Next(256));
            Assert.Equal(IcmpLikeHeader.ComputeChecksum(message), w.Checksum);
        }
    }

    // RFC 1624 3: eqn. 3 gives 0x0000 when the covered bytes become all zero, where the checksum
    // from scratch is 0xFFFF (+0 summed, complemented); 0x0000 there never verifies. Only a header
    // without a pseudo-header can be all zero: an ICMP echo reply with identifier, sequence and data 0.
    [Theory]
    [InlineData(8)]
    [InlineData(13)]
    public void Message_incremental_update_to_all_zero_bytes_gives_all_ones(int length)
    {
        byte[] message = new byte[length];
        message[1] = 0xff; // Code 255, the rest zero
        var w = new IcmpLikeHeader.Writer(message);
        w.FillChecksum();
        Assert.Equal(0xff00, w.Checksum);

        w.SetCodeUpdatingChecksum(0);

        Assert.Equal(0xFFFF, w.Checksum);
        Assert.Equal(IcmpLikeHeader.ComputeChecksum(message), w.Checksum);
        Assert.True(IcmpLikeHeader.VerifyChecksum(message));
    }
}
