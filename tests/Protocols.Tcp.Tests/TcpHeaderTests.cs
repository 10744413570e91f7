using System.Buffers.Binary;
using System.Text;
using Protocols.Tcp;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tcp.Tests;

public class TcpHeaderTests
{
    internal static readonly Ipv4Address Client = Ipv4Address.Parse("10.0.0.1");
    internal static readonly Ipv4Address Server = Ipv4Address.Parse("10.0.0.2");

    /// <summary>
    /// A SYN as Linux sends it from 10.0.0.1:40000 to 10.0.0.2:80 (window 64240, data offset 10,
    /// options mss 1460, sackOK, TS val 2915130225 ecr 0, nop, wscale 7). The checksum 0xe256 was
    /// computed independently (a Python one-liner over the pseudo-header and segment).
    /// </summary>
    internal static readonly byte[] LinuxSyn =
    [
        0x9c, 0x40, 0x00, 0x50, // ports 40000 -> 80
        0x6b, 0x8b, 0x45, 0x67, // seq
        0x00, 0x00, 0x00, 0x00, // ack
        0xa0, 0x02, 0xfa, 0xf0, // data offset 10, SYN, window 64240
        0xe2, 0x56, 0x00, 0x00, // checksum, urgent pointer
        .. TcpOptionTests.LinuxSynOptions,
    ];

    private const ushort LinuxSynChecksum = 0xe256;

    internal static uint PseudoSum(Ipv4Address src, Ipv4Address dst, int length) =>
        Checksum.PseudoHeaderSum(src, dst, TcpHeader.IpProtocolNumber, length);

    [Fact]
    public void Layout_matches_rfc_9293()
    {
        Assert.Equal(20, TcpHeader.FixedLength);
        Assert.Equal("TCP", TcpHeader.LayerName);
        Assert.Equal(6, TcpHeader.IpProtocolNumber);
        var byName = TcpHeader.Fields.ToDictionary(f => f.Name);
        Assert.Equal((96, 4), (byName["DataOffset"].BitOffset, byName["DataOffset"].BitWidth));
        Assert.Equal((100, 4), (byName["Reserved"].BitOffset, byName["Reserved"].BitWidth));
        Assert.Equal((104, 1), (byName["Cwr"].BitOffset, byName["Cwr"].BitWidth));
        Assert.Equal((111, 1), (byName["Fin"].BitOffset, byName["Fin"].BitWidth));
        Assert.Equal((112, 16), (byName["Window"].BitOffset, byName["Window"].BitWidth));
        Assert.Equal((128, 16), (byName["Checksum"].BitOffset, byName["Checksum"].BitWidth));
        Assert.Equal((144, 16), (byName["UrgentPointer"].BitOffset, byName["UrgentPointer"].BitWidth));
    }

    [Fact]
    public void Reads_a_linux_syn()
    {
        Assert.True(TcpHeader.TryRead(LinuxSyn, out TcpHeader.Reader r, out WireError error), error.ToString());
        Assert.Equal(40000, r.SourcePort);
        Assert.Equal(80, r.DestinationPort);
        Assert.Equal(0x6b8b4567u, r.SequenceNumber);
        Assert.Equal(0u, r.AcknowledgmentNumber);
        Assert.Equal(10, r.DataOffset);
        Assert.Equal(0, r.Reserved);
        Assert.True(r.Syn);
        Assert.False(r.Ack || r.Fin || r.Rst || r.Psh || r.Urg || r.Ece || r.Cwr);
        Assert.Equal(TcpFlags.Syn, r.GetFlags());
        Assert.Equal(64240, r.Window);
        Assert.Equal(LinuxSynChecksum, r.Checksum);
        Assert.Equal(0, r.UrgentPointer);
        Assert.Equal(40, r.HeaderLength);
        Assert.Equal(40, r.Header.Length);
        Assert.Equal(TcpOptionTests.LinuxSynOptions, r.Options.ToArray());
        Assert.True(r.Payload.IsEmpty);
        Assert.True(r.TryParseOptions(out TcpOptions options, out _));
        Assert.Equal("mss=1460 sackOK ts(val=2915130225 ecr=0) wscale=7", options.ToString());

        TcpHeader value = r.ToValue();
        Assert.Equal(TcpFlags.Syn, value.Flags);
        Assert.Equal(value, TcpHeader.Read(LinuxSyn));
    }

    [Fact]
    public void Builds_the_linux_syn_byte_for_byte()
    {
        var h = new TcpHeader { SourcePort = 40000, DestinationPort = 80, SequenceNumber = 0x6b8b4567, Flags = TcpFlags.Syn, Window = 64240 };
        var options = new TcpOptions { Mss = 1460, SackPermitted = true, Timestamps = new TcpTimestamps(2915130225, 0), WindowScale = 7 };
        byte[] segment = Segment.Build(h, options, [], Client, Server);
        Assert.Equal(LinuxSyn, segment);
    }

    [Fact]
    public void Checksum_of_the_linux_syn_matches_an_independent_computation()
    {
        uint ph = PseudoSum(Client, Server, LinuxSyn.Length);
        Assert.Equal(LinuxSynChecksum, NaiveChecksum.Tcp(Client, Server, LinuxSyn));
        Assert.Equal(LinuxSynChecksum, TcpHeader.ComputeChecksum(LinuxSyn, ph));
        Assert.True(TcpHeader.VerifyChecksum(LinuxSyn, ph));
        Assert.True(TcpHeader.TryRead(LinuxSyn, out TcpHeader.Reader r, out _));
        Assert.True(r.VerifyChecksum(ph));

        // The wrong pseudo-header (addresses swapped is the same sum; another address is not) fails.
        Assert.False(TcpHeader.VerifyChecksum(LinuxSyn, PseudoSum(Client, Ipv4Address.Parse("10.0.0.3"), LinuxSyn.Length)));

        byte[] copy = (byte[])LinuxSyn.Clone();
        copy[16] = 0;
        copy[17] = 0;
        TcpHeader.FillChecksum(copy, ph);
        Assert.Equal(LinuxSyn, copy);

        copy[16] = 0x12;
        new TcpHeader.Writer(copy).FillChecksum(ph);
        Assert.Equal(LinuxSyn, copy);
    }

    [Fact]
    public void Checksum_detects_every_single_bit_flip()
    {
        byte[] segment = Segment.Build(DataSegment(), new TcpOptions { Timestamps = new TcpTimestamps(1, 2) }, Encoding.ASCII.GetBytes("hello, world"), Client, Server);
        uint ph = PseudoSum(Client, Server, segment.Length);
        Assert.True(TcpHeader.VerifyChecksum(segment, ph));
        for (int i = 0; i < segment.Length * 8; i++)
        {
            segment[i / 8] ^= (byte)(1 << (i % 8));
            Assert.False(TcpHeader.VerifyChecksum(segment, ph), $"bit {i}");
            segment[i / 8] ^= (byte)(1 << (i % 8));
        }
    }

    [Fact]
    public void Checksum_matches_the_naive_routine_on_random_segments()
    {
        var rng = new Random(793);
        for (int iter = 0; iter < 2_000; iter++)
        {
            var src = Ipv4Address.FromUInt32((uint)rng.NextInt64(1L << 32));
            var dst = Ipv4Address.FromUInt32((uint)rng.NextInt64(1L << 32));
            byte[] payload = new byte[rng.Next(0, 200)];
            rng.NextBytes(payload);
            byte[] segment = Segment.Build(RandomHeader(rng), TcpOptionPropertyTests.RandomOptions(rng) is { } o && o.GetEncodedLength() <= 40 ? o : default, payload, src, dst);
            uint ph = Checksum.PseudoHeaderSum(src, dst, 6, segment.Length);
            Assert.Equal(NaiveChecksum.Tcp(src, dst, segment), BinaryPrimitives.ReadUInt16BigEndian(segment.AsSpan(16)));
            Assert.True(TcpHeader.VerifyChecksum(segment, ph));
        }
    }

    [Fact]
    public void Incremental_field_updates_equal_a_full_recompute()
    {
        var rng = new Random(1624);
        for (int iter = 0; iter < 5_000; iter++)
        {
            byte[] payload = new byte[rng.Next(0, 64)];
            rng.NextBytes(payload);
            byte[] segment = Segment.Build(RandomHeader(rng), default, payload, Client, Server);
            uint ph = PseudoSum(Client, Server, segment.Length);
            var w = new TcpHeader.Writer(segment);
            ushort port = (ushort)rng.Next(65536);
            switch (iter % 5)
            {
                case 0: w.SetSourcePortUpdatingChecksum(port); Assert.Equal(port, w.SourcePort); break;
                case 1: w.SetDestinationPortUpdatingChecksum(port); Assert.Equal(port, w.DestinationPort); break;
                case 2: w.SetSequenceNumberUpdatingChecksum((uint)rng.NextInt64(1L << 32)); break;
                case 3: w.SetWindowUpdatingChecksum(port); Assert.Equal(port, w.Window); break;
                default: w.SetFlagsUpdatingChecksum((TcpFlags)port); Assert.Equal((TcpFlags)port, w.GetFlags()); break;
            }

            ushort incremental = w.Checksum;
            Assert.True(TcpHeader.VerifyChecksum(segment, ph), $"iteration {iter}");
            Assert.Equal(TcpHeader.ComputeChecksum(segment, ph), incremental);
            Assert.Equal(NaiveChecksum.Tcp(Client, Server, segment), incremental);
        }
    }

    [Fact]
    public void Pseudo_header_update_for_a_rewritten_address_equals_a_full_recompute()
    {
        // RFC 3022 4.2: a translator rewrites an address in the IP header; the TCP checksum covers
        // it through the pseudo-header and is updated without summing the segment again.
        var rng = new Random(3022);
        Span<byte> before = stackalloc byte[4];
        Span<byte> after = stackalloc byte[4];
        for (int iter = 0; iter < 2_000; iter++)
        {
            var src = Ipv4Address.FromUInt32((uint)rng.NextInt64(1L << 32));
            var dst = Ipv4Address.FromUInt32((uint)rng.NextInt64(1L << 32));
            var translated = Ipv4Address.FromUInt32((uint)rng.NextInt64(1L << 32));
            byte[] payload = new byte[rng.Next(0, 100)];
            rng.NextBytes(payload);
            byte[] segment = Segment.Build(RandomHeader(rng), default, payload, src, dst);
            BinaryPrimitives.WriteUInt32BigEndian(before, src.ToUInt32());
            BinaryPrimitives.WriteUInt32BigEndian(after, translated.ToUInt32());
            var w = new TcpHeader.Writer(segment);
            w.UpdateChecksumForPseudoHeader(before, after);
            w.SetSourcePortUpdatingChecksum((ushort)rng.Next(65536));
            Assert.Equal(NaiveChecksum.Tcp(translated, dst, segment), w.Checksum);
            Assert.True(TcpHeader.VerifyChecksum(segment, Checksum.PseudoHeaderSum(translated, dst, 6, segment.Length)));
        }
    }

    [Fact]
    public void Pseudo_header_update_refuses_lengths_that_differ_or_are_odd()
    {
        byte[] segment = Segment.Build(RandomHeader(new Random(1)), default, [], Client, Server);
        Assert.Throws<ArgumentException>(() => new TcpHeader.Writer(segment).UpdateChecksumForPseudoHeader(new byte[4], new byte[16]));
        Assert.Throws<ArgumentException>(() => new TcpHeader.Writer(segment).UpdateChecksumForPseudoHeader(new byte[3], new byte[3]));
    }

    [Fact]
    public void Data_offset_below_5_is_length_too_small_from_the_data_offset()
    {
        byte[] segment = (byte[])LinuxSyn.Clone();
        for (int offset = 0; offset < 5; offset++)
        {
            segment[12] = (byte)(offset << 4);
            Assert.False(TcpHeader.TryRead(segment, out _, out WireError error));
            Assert.Equal(WireErrorKind.LengthTooSmall, error.Kind);
            Assert.Equal("TCP", error.Layer);
            Assert.Equal("DataOffset", error.Field);
            Assert.Equal(LengthSource.DataOffset, error.Source);
        }
    }

    [Fact]
    public void Data_offset_past_the_buffer_is_too_short_from_the_buffer()
    {
        byte[] segment = new byte[36];
        new TcpHeader { DataOffset = 10 }.WriteTo(segment);
        Assert.False(TcpHeader.TryRead(segment, out _, out WireError error));
        Assert.Equal(WireError.TooShort("TCP", "DataOffset", 40, 36, LengthSource.Buffer), error);
    }

    [Fact]
    public void Options_errors_are_offset_to_the_tcp_header()
    {
        byte[] segment = new byte[24];
        new TcpHeader { DataOffset = 6 }.WriteTo(segment);
        segment[20] = 1;
        segment[21] = 2;
        segment[22] = 4; // MSS running past the region
        Assert.True(TcpHeader.TryRead(segment, out TcpHeader.Reader r, out _));
        Assert.False(r.TryParseOptions(out _, out WireError error));
        Assert.Equal(WireError.TooShort("TCP", "MaximumSegmentSize", 4, 3, LengthSource.OptionLength, 21), error);
        var reader = r.GetOptionReader();
        Assert.True(reader.TryReadNext(out TcpOption nop, out _));
        Assert.Equal(TcpOptionKind.NoOperation, nop.Kind);
        Assert.False(reader.TryReadNext(out _, out WireError raw));
        Assert.Equal(1, raw.Offset);
    }

    [Theory]
    [InlineData(5, null)]
    [InlineData(6, null)]
    [InlineData(7, 2)]
    [InlineData(8, 6)]
    [InlineData(9, null)]
    [InlineData(10, null)]
    public void A_data_offset_that_cuts_an_option_fails_with_option_length(int dataOffset, int? available)
    {
        // The Linux SYN's options are MSS (0..4), SACK-perm (4..6), TS (6..16), NOP, WS (17..20):
        // a data offset of 7 or 8 ends the region inside the timestamps option.
        byte[] segment = (byte[])LinuxSyn.Clone();
        new TcpHeader.Writer(segment).DataOffset = (byte)dataOffset;
        Assert.True(TcpHeader.TryRead(segment, out TcpHeader.Reader r, out _));
        Assert.Equal((dataOffset * 4) - 20, r.Options.Length);
        bool ok = r.TryParseOptions(out TcpOptions options, out WireError error);
        if (available is int actual)
        {
            Assert.False(ok);
            Assert.Equal(WireError.TooShort("TCP", "Timestamps", 10, actual, LengthSource.OptionLength, 26), error);
        }
        else
        {
            Assert.True(ok, error.ToString());
            Assert.Equal(dataOffset >= 6, options.Mss.HasValue);
            Assert.Equal(dataOffset >= 9, options.Timestamps.HasValue);
            Assert.Equal(dataOffset == 10, options.WindowScale.HasValue);
        }
    }

    [Fact]
    public void Builds_a_segment_in_place_with_the_writer()
    {
        byte[] buffer = new byte[40];
        var w = new TcpHeader.Writer(buffer)
        {
            SourcePort = 40000,
            DestinationPort = 80,
            SequenceNumber = 0x6b8b4567,
            DataOffset = 10,
            Window = 64240,
        };
        w.SetFlags(TcpFlags.Syn);
        var options = new TcpOptionWriter(w.Options);
        options.WriteMss(1460);
        options.WriteSackPermitted();
        options.WriteTimestamps(2915130225, 0);
        options.WriteNoOperation();
        options.WriteWindowScale(7);
        Assert.Equal(20, options.Complete());
        w.FillChecksum(PseudoSum(Client, Server, buffer.Length));
        Assert.Equal(LinuxSyn, buffer);
    }

    [Fact]
    public void Flags_view_agrees_with_the_bits()
    {
        for (int f = 0; f < 256; f++)
        {
            var flags = (TcpFlags)f;
            var h = new TcpHeader { DataOffset = 5, Flags = flags };
            Assert.Equal(flags, h.Flags);
            byte[] bytes = new byte[20];
            h.WriteTo(bytes);
            Assert.Equal((byte)f, bytes[13]);
            Assert.True(TcpHeader.TryRead(bytes, out TcpHeader.Reader r, out _));
            Assert.Equal(flags, r.GetFlags());
            Assert.Equal(flags.HasFlag(TcpFlags.Cwr), r.Cwr);
            Assert.Equal(flags.HasFlag(TcpFlags.Ece), r.Ece);
            Assert.Equal(flags.HasFlag(TcpFlags.Urg), r.Urg);
            Assert.Equal(flags.HasFlag(TcpFlags.Ack), r.Ack);
            Assert.Equal(flags.HasFlag(TcpFlags.Psh), r.Psh);
            Assert.Equal(flags.HasFlag(TcpFlags.Rst), r.Rst);
            Assert.Equal(flags.HasFlag(TcpFlags.Syn), r.Syn);
            Assert.Equal(flags.HasFlag(TcpFlags.Fin), r.Fin);

            var w = new TcpHeader.Writer(new byte[20]);
            w.SetFlags(flags);
            Assert.Equal(flags, w.GetFlags());
            Assert.Equal(flags.HasFlag(TcpFlags.Psh), w.Psh);
        }
    }

    [Theory]
    [InlineData("linux-syn")]
    [InlineData("data-with-timestamps")]
    [InlineData("ack-sack-1-ts")]
    [InlineData("ack-sack-2-ts")]
    [InlineData("ack-sack-3-ts")]
    [InlineData("ack-sack-4-no-ts")]
    [InlineData("all-flags")]
    [InlineData("max-ports")]
    [InlineData("data-offset-15")]
    [InlineData("zero-window")]
    [InlineData("every-option-kind")]
    [InlineData("syn-ws-above-14")]
    public void Encoded_segments(string name)
    {
        byte[] segment = SnapshotCase(name);
        Assert.True(TcpHeader.TryRead(segment, out TcpHeader.Reader r, out WireError error), error.ToString());
        Assert.True(r.VerifyChecksum(PseudoSum(Client, Server, segment.Length)));
        Assert.True(TcpOptionReader.Validate(r.Options, out _));
        var notes = new List<HexAnnotation>();
        TcpHeader.AnnotateSegment(segment, 0, notes);
        Snapshot.Match(r.ToString() + "\n" + HexDump.Annotated(segment, notes), name);
    }

    internal static byte[] SnapshotCase(string name)
    {
        switch (name)
        {
            case "linux-syn":
                return LinuxSyn;
            case "data-with-timestamps":
                return Segment.Build(DataSegment(), new TcpOptions { Timestamps = new TcpTimestamps(2915130300, 1234567) }, Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: 10.0.0.2\r\n\r\n"), Client, Server);
            case "ack-sack-1-ts":
            case "ack-sack-2-ts":
            case "ack-sack-3-ts":
            case "ack-sack-4-no-ts":
                int blocks = name[9] - '0';
                var o = new TcpOptions();
                if (blocks < 4)
                {
                    o.Timestamps = new TcpTimestamps(2915130400, 1234600);
                }

                for (uint i = 0; i < blocks; i++)
                {
                    Assert.True(o.TryAddSackBlock(new TcpSackBlock(0x10000000 + (i * 3000) + 1448, 0x10000000 + (i * 3000) + 2896)));
                }

                var ack = new TcpHeader { SourcePort = 80, DestinationPort = 40000, SequenceNumber = 0x2000, AcknowledgmentNumber = 0x10000000, Flags = TcpFlags.Ack, Window = 501 };
                return Segment.Build(ack, o, [], Client, Server);
            case "all-flags":
                var all = new TcpHeader { SourcePort = 1, DestinationPort = 2, SequenceNumber = 3, AcknowledgmentNumber = 4, Flags = (TcpFlags)0xff, Window = 5, UrgentPointer = 6 };
                return Segment.Build(all, default, [0xaa], Client, Server);
            case "max-ports":
                var max = new TcpHeader { SourcePort = 65535, DestinationPort = 65535, SequenceNumber = uint.MaxValue, AcknowledgmentNumber = uint.MaxValue, Flags = TcpFlags.Ack, Window = 65535, UrgentPointer = 65535 };
                return Segment.Build(max, default, [], Client, Server);
            case "data-offset-15":
                // 40 bytes of options: MSS, NOP WS, NOP NOP SACK-perm, NOP NOP TS, and a 16-byte experimental option (kind 253, RFC 6994 ExID 0xf989).
                var syn = new TcpHeader { SourcePort = 40001, DestinationPort = 443, SequenceNumber = 1, Flags = TcpFlags.Syn | TcpFlags.Ece | TcpFlags.Cwr, Window = 65535 };
                var w = new TcpOptionWriter(new byte[40]);
                w.WriteMss(8960);
                w.WriteNoOperation();
                w.WriteWindowScale(14);
                w.WriteNoOperation();
                w.WriteNoOperation();
                w.WriteSackPermitted();
                w.WriteNoOperation();
                w.WriteNoOperation();
                w.WriteTimestamps(1, 0);
                w.WriteOption(253, [0xf9, 0x89, 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b]);
                Assert.Equal(40, w.Complete());
                return Segment.BuildRaw(syn, w.Written, [], Client, Server);
            case "zero-window":
                var zero = new TcpHeader { SourcePort = 80, DestinationPort = 40000, SequenceNumber = 0x12345678, AcknowledgmentNumber = 0x9abcdef0, Flags = TcpFlags.Ack, Window = 0 };
                return Segment.Build(zero, new TcpOptions { Timestamps = new TcpTimestamps(100, 200) }, [], Client, Server);
            case "every-option-kind":
                var ew = new TcpOptionWriter(new byte[40]);
                ew.WriteMss(1460);
                ew.WriteNoOperation();
                ew.WriteWindowScale(7);
                ew.WriteSackPermitted();
                ew.WriteTimestamps(0x01020304, 0x05060708);
                ew.WriteSack([new TcpSackBlock(1000, 2000)]);
                ew.WriteOption(30, [0x10, 0x01]);
                ew.WriteEndOfOptionList();
                int n = ew.Complete();
                var every = new TcpHeader { SourcePort = 5000, DestinationPort = 6000, SequenceNumber = 7, AcknowledgmentNumber = 8, Flags = TcpFlags.Syn | TcpFlags.Ack, Window = 29200 };
                return Segment.BuildRaw(every, ew.Written[..n], [], Client, Server);
            case "syn-ws-above-14":
                var bigWs = new TcpOptionWriter(new byte[8]);
                bigWs.WriteNoOperation();
                bigWs.WriteOption((byte)TcpOptionKind.WindowScale, [15]);
                bigWs.Complete();
                return Segment.BuildRaw(new TcpHeader { SourcePort = 1024, DestinationPort = 22, Flags = TcpFlags.Syn, Window = 1024 }, bigWs.Written, [], Client, Server);
            default:
                throw new ArgumentException(name);
        }
    }

    internal static TcpHeader DataSegment() =>
        new() { SourcePort = 40000, DestinationPort = 80, SequenceNumber = 0x6b8b4568, AcknowledgmentNumber = 0x1c46bd49, Flags = TcpFlags.Ack | TcpFlags.Psh, Window = 502 };

    internal static TcpHeader RandomHeader(Random rng)
    {
        var h = new TcpHeader
        {
            SourcePort = (ushort)rng.Next(65536),
            DestinationPort = (ushort)rng.Next(65536),
            SequenceNumber = (uint)rng.NextInt64(1L << 32),
            AcknowledgmentNumber = (uint)rng.NextInt64(1L << 32),
            DataOffset = (byte)rng.Next(5, 16),
            Reserved = (byte)rng.Next(16),
            Flags = (TcpFlags)rng.Next(256),
            Window = (ushort)rng.Next(65536),
            Checksum = (ushort)rng.Next(65536),
            UrgentPointer = (ushort)rng.Next(65536),
        };
        return h;
    }
}

/// <summary>Builds whole segments: header, options, payload, checksum.</summary>
internal static class Segment
{
    public static byte[] Build(TcpHeader header, TcpOptions options, ReadOnlySpan<byte> payload, Ipv4Address src, Ipv4Address dst)
    {
        byte[] o = new byte[TcpOptions.MaxLength];
        Assert.True(options.TryWriteTo(o, out int n));
        return BuildRaw(header, o.AsSpan(0, n), payload, src, dst);
    }

    public static byte[] BuildRaw(TcpHeader header, ReadOnlySpan<byte> options, ReadOnlySpan<byte> payload, Ipv4Address src, Ipv4Address dst)
    {
        Assert.Equal(0, options.Length % 4);
        header.DataOffset = (byte)(5 + (options.Length / 4));
        header.Checksum = 0;
        byte[] segment = new byte[TcpHeader.FixedLength + options.Length + payload.Length];
        Assert.Equal(TcpHeader.FixedLength, header.WriteTo(segment));
        options.CopyTo(segment.AsSpan(TcpHeader.FixedLength));
        payload.CopyTo(segment.AsSpan(TcpHeader.FixedLength + options.Length));
        TcpHeader.FillChecksum(segment, Checksum.PseudoHeaderSum(src, dst, TcpHeader.IpProtocolNumber, segment.Length));
        return segment;
    }
}
