using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Protocols.Tests.Shared;
using Protocols.Udp;
using Protocols.Wire;

namespace Protocols.Udp.Tests;

public class UdpHeaderTests
{
    internal static readonly Ipv4Address Client = Ipv4Address.Parse("10.0.0.1");
    internal static readonly Ipv4Address Server = Ipv4Address.Parse("10.0.0.2");

    /// <summary>
    /// A datagram 10.0.0.1:53000 -> 10.0.0.2:53 carrying "hello"; the checksum 0xd8c1 was computed
    /// independently (a Python one-liner over the pseudo-header and datagram).
    /// </summary>
    internal static readonly byte[] Hello =
    [
        0xcf, 0x08, 0x00, 0x35, // ports 53000 -> 53
        0x00, 0x0d, 0xd8, 0xc1, // length 13, checksum
        (byte)'h', (byte)'e', (byte)'l', (byte)'l', (byte)'o',
    ];

    internal static uint PseudoSum(Ipv4Address src, Ipv4Address dst, int length) =>
        Checksum.PseudoHeaderSum(src, dst, UdpHeader.IpProtocolNumber, length);

    [Fact]
    public void Layout_matches_rfc_768()
    {
        Assert.Equal(8, UdpHeader.FixedLength);
        Assert.Equal("UDP", UdpHeader.LayerName);
        Assert.Equal(17, UdpHeader.IpProtocolNumber);
        Assert.Equal(
            [("SourcePort", 0, 16), ("DestinationPort", 16, 16), ("Length", 32, 16), ("Checksum", 48, 16)],
            UdpHeader.Fields.Select(f => (f.Name, f.BitOffset, f.BitWidth)).ToArray());
    }

    [Fact]
    public void Reads_a_datagram()
    {
        Assert.True(UdpHeader.TryRead(Hello, out UdpHeader.Reader r, out WireError error), error.ToString());
        Assert.Equal(53000, r.SourcePort);
        Assert.Equal(53, r.DestinationPort);
        Assert.Equal(13, r.Length);
        Assert.Equal(0xd8c1, r.Checksum);
        Assert.Equal(8, r.HeaderLength);
        Assert.Equal("hello", Encoding.ASCII.GetString(r.Payload));
        Assert.Equal(13, r.Bytes.Length);
        Assert.True(r.VerifyChecksum(PseudoSum(Client, Server, 13)));
        Assert.Equal(new UdpHeader { SourcePort = 53000, DestinationPort = 53, Length = 13, Checksum = 0xd8c1 }, r.ToValue());
    }

    [Fact]
    public void Checksum_matches_an_independent_computation()
    {
        uint ph = PseudoSum(Client, Server, Hello.Length);
        Assert.Equal(0xd8c1, NaiveChecksum.Udp(Client, Server, Hello));
        Assert.Equal(0xd8c1, UdpHeader.ComputeChecksum(Hello, ph));
        Assert.True(UdpHeader.VerifyChecksum(Hello, ph));
        byte[] copy = (byte[])Hello.Clone();
        copy[6] = 0x55;
        copy[7] = 0x66;
        Assert.False(UdpHeader.VerifyChecksum(copy, ph));
        UdpHeader.FillChecksum(copy, ph);
        Assert.Equal(Hello, copy);
        copy[7] = 1;
        new UdpHeader.Writer(copy).FillChecksum(ph);
        Assert.Equal(Hello, copy);
    }

    [Fact]
    public void Checksum_detects_every_single_bit_flip_outside_the_length()
    {
        byte[] d = Datagram.Build(53000, 53, Encoding.ASCII.GetBytes("a somewhat longer payload"), Client, Server);
        uint ph = PseudoSum(Client, Server, d.Length);
        for (int i = 0; i < d.Length * 8; i++)
        {
            if (i / 8 is 4 or 5)
            {
                continue; // the length field also feeds the pseudo-header and the trimming
            }

            d[i / 8] ^= (byte)(1 << (i % 8));
            if (i / 8 is 6 or 7 && BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(6)) == 0)
            {
                Assert.True(UdpHeader.VerifyChecksum(d, ph)); // flipped to "no checksum"
            }
            else
            {
                Assert.False(UdpHeader.VerifyChecksum(d, ph), $"bit {i}");
            }

            d[i / 8] ^= (byte)(1 << (i % 8));
        }
    }

    [Fact]
    public void Zero_checksum_means_none_and_verifies_whatever_the_data()
    {
        byte[] d = (byte[])Hello.Clone();
        d[6] = 0;
        d[7] = 0;
        Assert.True(UdpHeader.VerifyChecksum(d, PseudoSum(Client, Server, d.Length)));
        d[8] ^= 0xff;
        Assert.True(UdpHeader.VerifyChecksum(d, PseudoSum(Client, Server, d.Length)));
        Assert.True(UdpHeader.TryRead(d, out UdpHeader.Reader r, out _));
        Assert.True(r.VerifyChecksum(12345));
    }

    [Fact]
    public void A_computed_zero_is_transmitted_as_ffff()
    {
        // Choose the last payload word so the sum is 0xffff: the checksum computes to 0x0000.
        byte[] d = new byte[12];
        BinaryPrimitives.WriteUInt16BigEndian(d, 1234);
        BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(2), 5678);
        BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(4), 12);
        d[8] = 0x12;
        d[9] = 0x34;
        ushort partial = NaiveChecksum.UdpSum(Client, Server, d);
        BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(10), (ushort)(0xffff - partial));
        Assert.Equal(0xffff, NaiveChecksum.UdpSum(Client, Server, d));
        Assert.Equal(0x0000, NaiveChecksum.Udp(Client, Server, d));

        uint ph = PseudoSum(Client, Server, d.Length);
        Assert.Equal(0xffff, UdpHeader.ComputeChecksum(d, ph));
        UdpHeader.FillChecksum(d, ph);
        Assert.Equal(0xffff, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(6)));
        Assert.True(UdpHeader.VerifyChecksum(d, ph));
        new UdpHeader.Writer(d).FillChecksum(ph);
        Assert.Equal(0xffff, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(6)));
    }

    [Fact]
    public void Incremental_port_rewrite_equals_a_full_recompute()
    {
        var rng = new Random(1624);
        for (int iter = 0; iter < 20_000; iter++)
        {
            byte[] payload = new byte[rng.Next(0, 40)];
            rng.NextBytes(payload);
            var src = Ipv4Address.FromUInt32((uint)rng.NextInt64(1L << 32));
            var dst = Ipv4Address.FromUInt32((uint)rng.NextInt64(1L << 32));
            byte[] d = Datagram.Build((ushort)rng.Next(65536), (ushort)rng.Next(65536), payload, src, dst);
            uint ph = Checksum.PseudoHeaderSum(src, dst, 17, d.Length);
            ushort port = (ushort)rng.Next(65536);
            var w = new UdpHeader.Writer(d);
            if (iter % 2 == 0)
            {
                w.SetSourcePortUpdatingChecksum(port);
                Assert.Equal(port, w.SourcePort);
            }
            else
            {
                w.SetDestinationPortUpdatingChecksum(port);
                Assert.Equal(port, w.DestinationPort);
            }

            ushort expected = NaiveChecksum.Udp(src, dst, d) is 0 ? (ushort)0xffff : NaiveChecksum.Udp(src, dst, d);
            Assert.Equal(expected, w.Checksum);
            Assert.Equal(UdpHeader.ComputeChecksum(d, ph), w.Checksum);
            Assert.True(UdpHeader.VerifyChecksum(d, ph));
        }
    }

    [Fact]
    public void Incremental_rewrite_that_lands_on_zero_sends_ffff()
    {
        // Build a datagram, then pick the new source port that makes the full sum 0xffff.
        byte[] d = Datagram.Build(1000, 2000, [1, 2, 3, 4], Client, Server);
        uint ph = PseudoSum(Client, Server, d.Length);
        ushort sumWithoutSource = NaiveChecksum.UdpSum(Client, Server, [0, 0, .. d.AsSpan(2)]);
        ushort port = (ushort)(0xffff - sumWithoutSource);
        var w = new UdpHeader.Writer(d);
        w.SetSourcePortUpdatingChecksum(port);
        Assert.Equal(0, NaiveChecksum.Udp(Client, Server, d));
        Assert.Equal(0xffff, w.Checksum);
        Assert.True(UdpHeader.VerifyChecksum(d, ph));
    }

    [Fact]
    public void Incremental_rewrite_keeps_no_checksum_as_none()
    {
        byte[] d = Datagram.Build(1000, 2000, [1, 2, 3, 4], Client, Server);
        d[6] = 0;
        d[7] = 0;
        var w = new UdpHeader.Writer(d);
        w.SetSourcePortUpdatingChecksum(4321);
        Assert.Equal(4321, w.SourcePort);
        Assert.Equal(0, w.Checksum);
    }

    [Fact]
    public void Pseudo_header_update_for_a_rewritten_address_equals_a_full_recompute()
    {
        var rng = new Random(4787);
        byte[] before = new byte[4];
        byte[] after = new byte[4];
        for (int iter = 0; iter < 2_000; iter++)
        {
            var translated = Ipv4Address.FromUInt32((uint)rng.NextInt64(1L << 32));
            byte[] payload = new byte[rng.Next(0, 64)];
            rng.NextBytes(payload);
            byte[] d = Datagram.Build((ushort)rng.Next(1, 65536), 53, payload, Client, Server);
            BinaryPrimitives.WriteUInt32BigEndian(before, Server.ToUInt32());
            BinaryPrimitives.WriteUInt32BigEndian(after, translated.ToUInt32());
            var w = new UdpHeader.Writer(d);
            w.UpdateChecksumForPseudoHeader(before, after);
            ushort expected = NaiveChecksum.Udp(Client, translated, d) is 0 ? (ushort)0xffff : NaiveChecksum.Udp(Client, translated, d);
            Assert.Equal(expected, w.Checksum);
            Assert.True(UdpHeader.VerifyChecksum(d, PseudoSum(Client, translated, d.Length)));
        }
    }

    [Fact]
    public void Pseudo_header_update_keeps_no_checksum_as_none()
    {
        byte[] d = Datagram.Build(1000, 2000, [1, 2, 3, 4], Client, Server);
        d[6] = 0;
        d[7] = 0;
        new UdpHeader.Writer(d).UpdateChecksumForPseudoHeader([10, 0, 0, 2], [192, 0, 2, 1]);
        Assert.Equal(0, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(6)));
    }

    [Fact]
    public void Length_below_8_is_length_too_small_from_the_total_length()
    {
        for (int length = 0; length < 8; length++)
        {
            byte[] d = (byte[])Hello.Clone();
            BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(4), (ushort)length);
            Assert.False(UdpHeader.TryRead(d, out _, out WireError error));
            Assert.Equal((WireErrorKind.LengthTooSmall, "UDP", "Length", LengthSource.TotalLength), (error.Kind, error.Layer, error.Field, error.Source));
            Assert.Equal(length, error.Actual);
        }
    }

    [Fact]
    public void Length_past_the_buffer_is_too_short_from_the_buffer_and_bytes_past_it_are_trimmed()
    {
        byte[] d = [.. Hello, 0xee, 0xee];
        Assert.True(UdpHeader.TryRead(d, out UdpHeader.Reader r, out _));
        Assert.Equal(13, r.Bytes.Length);
        Assert.Equal("hello", Encoding.ASCII.GetString(r.Payload));
        Assert.True(r.VerifyChecksum(PseudoSum(Client, Server, 13)));
        Assert.True(UdpHeader.VerifyChecksum(d, PseudoSum(Client, Server, 13)));

        BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(4), 16);
        Assert.False(UdpHeader.TryRead(d, out _, out WireError error));
        Assert.Equal((WireErrorKind.TooShort, "UDP", 16L, 15L, LengthSource.Buffer), (error.Kind, error.Layer, error.Required, error.Actual, error.Source));
    }

    [Fact]
    public void Annotations_show_bytes_beyond_the_length_and_unreadable_headers()
    {
        byte[] d = [.. Hello, 0x00, 0x00, 0x00];
        var notes = new List<HexAnnotation>();
        UdpHeader.AnnotateDatagram(d, 14, notes);
        Assert.Equal(new HexAnnotation(22, 5, "Payload 5 bytes"), notes[^2]);
        Assert.Equal(new HexAnnotation(27, 3, "Beyond UDP length: 3 bytes"), notes[^1]);

        notes.Clear();
        UdpHeader.AnnotateDatagram(Hello.AsSpan(0, 5), 0, notes);
        Assert.Equal([new HexAnnotation(0, 5, "Unreadable UDP header: UDP.Length: need 8 bytes, have 5 (limited by buffer) at offset 0")], notes);
    }

    [Theory]
    [InlineData("hello")]
    [InlineData("no-checksum")]
    [InlineData("empty-payload")]
    [InlineData("max-ports")]
    [InlineData("computed-zero")]
    public void Encoded_datagrams(string name)
    {
        byte[] d = SnapshotCase(name);
        Assert.True(UdpHeader.TryRead(d, out UdpHeader.Reader r, out WireError error), error.ToString());
        Assert.True(r.VerifyChecksum(PseudoSum(Client, Server, d.Length)));
        Snapshot.Match(r.ToString() + "\n" + Dump(d, d.Length), name);
    }

    [Fact]
    public void Encoded_max_length_datagram()
    {
        // 65535 bytes (length field at its maximum, 65527 bytes of payload): the dump shows the
        // header and the first payload bytes; the rest is summarised.
        byte[] payload = new byte[ushort.MaxValue - UdpHeader.FixedLength];
        for (int i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)i;
        }

        byte[] d = Datagram.Build(40000, 9, payload, Client, Server);
        Assert.Equal(65535, d.Length);
        Assert.True(UdpHeader.TryRead(d, out UdpHeader.Reader r, out _));
        Assert.Equal(65535, r.Length);
        Assert.Equal(65527, r.Payload.Length);
        uint ph = PseudoSum(Client, Server, d.Length);
        Assert.True(r.VerifyChecksum(ph));
        Assert.Equal(NaiveChecksum.Udp(Client, Server, d), r.Checksum);
        Snapshot.Match(r.ToString() + "\n" + Dump(d, 24));
    }

    internal static string Dump(byte[] datagram, int shown)
    {
        var notes = new List<HexAnnotation>();
        UdpHeader.AnnotateDatagram(datagram, 0, notes);
        return HexDump.Annotated(datagram.AsSpan(0, shown), notes);
    }

    internal static byte[] SnapshotCase(string name)
    {
        switch (name)
        {
            case "hello":
                return Hello;
            case "no-checksum":
                byte[] none = Datagram.Build(68, 67, [0x01, 0x01, 0x06, 0x00], Client, Server);
                none[6] = 0;
                none[7] = 0;
                return none;
            case "empty-payload":
                return Datagram.Build(12345, 7, [], Client, Server);
            case "max-ports":
                return Datagram.Build(65535, 65535, [0xff, 0xff], Client, Server);
            case "computed-zero":
                byte[] d = Datagram.Build(1000, 2000, [0, 0], Client, Server);
                ushort partial = NaiveChecksum.UdpSum(Client, Server, d);
                BinaryPrimitives.WriteUInt16BigEndian(d.AsSpan(8), (ushort)(0xffff - partial));
                UdpHeader.FillChecksum(d, PseudoSum(Client, Server, d.Length));
                Assert.Equal(0xffff, BinaryPrimitives.ReadUInt16BigEndian(d.AsSpan(6)));
                return d;
            default:
                throw new ArgumentException(name);
        }
    }
}

/// <summary>Builds whole datagrams: header, payload, checksum.</summary>
internal static class Datagram
{
    public static byte[] Build(ushort sourcePort, ushort destinationPort, ReadOnlySpan<byte> payload, Ipv4Address src, Ipv4Address dst)
    {
        byte[] d = new byte[UdpHeader.FixedLength + payload.Length];
        var h = new UdpHeader { SourcePort = sourcePort, DestinationPort = destinationPort, Length = (ushort)d.Length };
        Assert.Equal(UdpHeader.FixedLength, h.WriteTo(d));
        payload.CopyTo(d.AsSpan(UdpHeader.FixedLength));
        UdpHeader.FillChecksum(d, Checksum.PseudoHeaderSum(src, dst, UdpHeader.IpProtocolNumber, d.Length));
        return d;
    }
}
