using Protocols.Tcp;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tcp.Tests;

public class TcpOptionTests
{
    // The options of a SYN sent by Linux 6.x (tcpdump: mss 1460,sackOK,TS val 2915130225 ecr 0,nop,wscale 7).
    internal static readonly byte[] LinuxSynOptions =
    [
        0x02, 0x04, 0x05, 0xb4,
        0x04, 0x02, 0x08, 0x0a, 0xad, 0xc1, 0x5b, 0x71, 0x00, 0x00, 0x00, 0x00,
        0x01, 0x03, 0x03, 0x07,
    ];

    [Fact]
    public void Reader_enumerates_a_linux_syn()
    {
        var reader = new TcpOptionReader(LinuxSynOptions);
        var seen = new List<string>();
        while (reader.TryReadNext(out TcpOption o, out _))
        {
            seen.Add($"{o.Offset}:{o.ToString()}");
        }

        Assert.False(reader.Error.IsError);
        Assert.Equal(
            [
                "0:MSS len=4 value=1460",
                "4:SACK-perm len=2",
                "6:TS len=10 val=2915130225 ecr=0",
                "16:NOP",
                "17:WS len=3 shift=7",
            ],
            seen);
        Assert.Equal(20, reader.Offset);
    }

    [Fact]
    public void Typed_accessors_decode_each_kind()
    {
        var reader = new TcpOptionReader(LinuxSynOptions);
        Assert.True(reader.TryReadNext(out TcpOption mss, out _));
        Assert.Equal(TcpOptionKind.MaximumSegmentSize, mss.Kind);
        Assert.Equal(1460, mss.Mss);
        Assert.Equal(0, mss.WindowScaleShift);
        Assert.Equal(default, mss.Timestamps);
        Assert.Equal([0x05, 0xb4], mss.Data.ToArray());
        Assert.True(reader.TryReadNext(out TcpOption sackOk, out _));
        Assert.Equal(TcpOptionKind.SackPermitted, sackOk.Kind);
        Assert.True(sackOk.Data.IsEmpty);
        Assert.True(reader.TryReadNext(out TcpOption ts, out _));
        Assert.Equal(new TcpTimestamps(2915130225, 0), ts.Timestamps);
        Assert.Equal(0, ts.Mss);
        Assert.True(reader.TryReadNext(out TcpOption nop, out _));
        Assert.Equal(TcpOptionKind.NoOperation, nop.Kind);
        Assert.Equal(1, nop.Length);
        Assert.True(reader.TryReadNext(out TcpOption ws, out _));
        Assert.Equal(7, ws.WindowScaleShift);
        Assert.Equal(7, ws.EffectiveWindowScaleShift);
        Assert.False(ws.IsWindowScaleOutOfRange);
        Assert.False(reader.TryReadNext(out _, out WireError end));
        Assert.False(end.IsError);
    }

    [Fact]
    public void A_default_option_reads_safely()
    {
        var reader = new TcpOptionReader([]);
        Assert.False(reader.TryReadNext(out TcpOption none, out WireError error));
        Assert.False(error.IsError);
        Assert.Equal(0, none.Length);
        Assert.Equal(TcpOptionKind.EndOfOptionList, none.Kind);
        Assert.True(none.Data.IsEmpty);
        Assert.Equal(0, none.Mss + none.WindowScaleShift + none.SackBlockCount);
        Assert.Equal(default, none.Timestamps);
        Assert.Equal("(no option)", none.ToString());
    }

    [Fact]
    public void Sack_blocks_are_decoded_in_order()
    {
        byte[] opts = [0x01, 0x01, 0x05, 0x12, 0, 0, 0x03, 0xe8, 0, 0, 0x07, 0xd0, 0xff, 0xff, 0xff, 0xf0, 0, 0, 0, 0x10];
        var reader = new TcpOptionReader(opts);
        Assert.True(reader.TryReadNext(out _, out _));
        Assert.True(reader.TryReadNext(out _, out _));
        Assert.True(reader.TryReadNext(out TcpOption sack, out _));
        Assert.Equal(2, sack.SackBlockCount);
        Assert.Equal(new TcpSackBlock(1000, 2000), sack.GetSackBlock(0));
        Assert.Equal(new TcpSackBlock(0xfffffff0, 0x10), sack.GetSackBlock(1));
        Assert.Equal("SACK len=18 blocks=1000-2000,4294967280-16", sack.ToString());
        try
        {
            sack.GetSackBlock(2);
            Assert.Fail("index 2 of 2 blocks must throw");
        }
        catch (ArgumentOutOfRangeException)
        {
        }
    }

    [Fact]
    public void Window_scale_above_14_is_reported_as_received_and_clamped()
    {
        byte[] opts = [0x03, 0x03, 0x0f, 0x00];
        var reader = new TcpOptionReader(opts);
        Assert.True(reader.TryReadNext(out TcpOption ws, out _));
        Assert.Equal(15, ws.WindowScaleShift);
        Assert.True(ws.IsWindowScaleOutOfRange);
        Assert.Equal(14, ws.EffectiveWindowScaleShift);
        Assert.Equal("WS len=3 shift=15 (above 14, used as 14)", ws.ToString());

        Assert.True(TcpOptions.TryParse(opts, out TcpOptions parsed, out _));
        Assert.Equal((byte)15, parsed.WindowScale);
        Assert.True(parsed.IsWindowScaleOutOfRange);
        Assert.Equal(14, parsed.WindowScaleShift);

        opts[2] = 255;
        Assert.True(TcpOptions.TryParse(opts, out parsed, out _));
        Assert.Equal(14, parsed.WindowScaleShift);
    }

    [Fact]
    public void Eol_ends_the_list_and_what_follows_is_not_read()
    {
        // After EOL comes garbage that would be malformed (length 1): it must not be looked at.
        byte[] opts = [0x02, 0x04, 0x02, 0x18, 0x00, 0x07, 0x01, 0x00];
        var reader = new TcpOptionReader(opts);
        Assert.True(reader.TryReadNext(out TcpOption mss, out _));
        Assert.Equal(536, mss.Mss);
        Assert.True(reader.TryReadNext(out TcpOption eol, out _));
        Assert.Equal(TcpOptionKind.EndOfOptionList, eol.Kind);
        Assert.False(reader.TryReadNext(out _, out WireError error));
        Assert.False(error.IsError);
        Assert.Equal(5, reader.Offset);
        Assert.True(TcpOptions.TryParse(opts, out TcpOptions parsed, out _));
        Assert.Equal((ushort)536, parsed.Mss);
    }

    [Fact]
    public void Unknown_kinds_are_returned_and_skipped_by_their_length()
    {
        // Kind 30 (MPTCP) length 4, kind 253 (experimental) length 2, then MSS.
        byte[] opts = [30, 4, 0xab, 0xcd, 253, 2, 0x02, 0x04, 0x05, 0xb4];
        var reader = new TcpOptionReader(opts);
        Assert.True(reader.TryReadNext(out TcpOption a, out _));
        Assert.Equal((TcpOptionKind)30, a.Kind);
        Assert.False(a.IsKnown);
        Assert.Equal("kind=30 len=4 data=0xabcd", a.ToString());
        Assert.True(reader.TryReadNext(out TcpOption b, out _));
        Assert.Equal("kind=253 len=2", b.ToString());
        Assert.True(reader.TryReadNext(out TcpOption c, out _));
        Assert.Equal(1460, c.Mss);

        Assert.True(TcpOptions.TryParse(opts, out TcpOptions parsed, out _));
        Assert.Equal(2, parsed.UnknownOptionCount);
        Assert.Equal((ushort)1460, parsed.Mss);
    }

    public static TheoryData<byte[], WireErrorKind, string, int, int, int> MalformedCases => new()
    {
        // options, kind, field, required, actual, offset
        { [0x02], WireErrorKind.TooShort, "MaximumSegmentSize", 2, 1, 0 },
        { [0x01, 0x01, 0x08], WireErrorKind.TooShort, "Timestamps", 2, 1, 2 },
        { [0x02, 0x04, 0x05], WireErrorKind.TooShort, "MaximumSegmentSize", 4, 3, 0 },
        { [0x01, 0x08, 0x0a, 0, 0, 0, 1, 0, 0, 0], WireErrorKind.TooShort, "Timestamps", 10, 9, 1 },
        { [0x05, 0x0a, 0, 0, 0, 1], WireErrorKind.TooShort, "Sack", 10, 6, 0 },
        { [30, 6, 1, 2], WireErrorKind.TooShort, "Option30", 6, 4, 0 },
        { [0x02, 0x00, 0x05, 0xb4], WireErrorKind.Malformed, "MaximumSegmentSize", 2, 0, 0 },
        { [0x01, 30, 0x01, 0, 0], WireErrorKind.Malformed, "Option30", 2, 1, 1 },
        { [0x02, 0x05, 0x05, 0xb4, 0x00], WireErrorKind.Malformed, "MaximumSegmentSize", 4, 5, 0 },
        { [0x02, 0x03, 0x05, 0xb4], WireErrorKind.Malformed, "MaximumSegmentSize", 4, 3, 0 },
        { [0x03, 0x04, 0x07, 0x00], WireErrorKind.Malformed, "WindowScale", 3, 4, 0 },
        { [0x03, 0x02, 0x01, 0x01], WireErrorKind.Malformed, "WindowScale", 3, 2, 0 },
        { [0x04, 0x03, 0x00, 0x01], WireErrorKind.Malformed, "SackPermitted", 2, 3, 0 },
        { [0x08, 0x08, 0, 0, 0, 0, 0, 0], WireErrorKind.Malformed, "Timestamps", 10, 8, 0 },
        { [0x05, 0x02, 0x01, 0x01], WireErrorKind.Malformed, "Sack", 10, 2, 0 },
        { [0x05, 0x09, 0, 0, 0, 0, 0, 0, 0, 0], WireErrorKind.Malformed, "Sack", 10, 9, 0 },
        { [0x05, 0x0b, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0], WireErrorKind.Malformed, "Sack", 18, 11, 0 },
        { [0x05, 42, .. new byte[40]], WireErrorKind.Malformed, "Sack", 34, 42, 0 },
        { [0x01, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x01], WireErrorKind.Malformed, "SackPermitted", 2, 1, 5 },
    };

    [Theory]
    [MemberData(nameof(MalformedCases))]
    public void Malformed_options_are_rejected_with_a_typed_error(byte[] options, WireErrorKind kind, string field, int required, int actual, int offset)
    {
        var expected = new WireError(kind, "TCP", field, required, actual, LengthSource.OptionLength, offset);

        var reader = new TcpOptionReader(options);
        WireError error;
        while (reader.TryReadNext(out _, out error))
        {
        }

        Assert.Equal(expected, error);
        Assert.Equal(expected, reader.Error);
        Assert.Equal(offset, reader.Offset);

        // Sticky: later calls keep failing with the same error.
        Assert.False(reader.TryReadNext(out _, out WireError again));
        Assert.Equal(expected, again);

        Assert.False(TcpOptions.TryParse(options, out TcpOptions parsed, out WireError parseError));
        Assert.Equal(expected, parseError);
        Assert.Equal(default, parsed);
        Assert.False(TcpOptionReader.Validate(options, out WireError validateError));
        Assert.Equal(expected, validateError);
    }

    [Fact]
    public void Error_text_names_layer_option_and_source()
    {
        Assert.False(TcpOptions.TryParse([0x02, 0x04, 0x05], out _, out WireError error));
        Assert.Equal("TCP.MaximumSegmentSize: need 4 bytes, have 3 (limited by option length) at offset 20", error.WithOffset(20).ToString());
    }

    [Fact]
    public void Empty_region_parses_to_no_options()
    {
        Assert.True(TcpOptions.TryParse([], out TcpOptions parsed, out WireError error));
        Assert.False(error.IsError);
        Assert.Equal(default, parsed);
        Assert.Equal("none", parsed.ToString());
        Assert.Equal(0, parsed.GetEncodedLength());
    }

    [Fact]
    public void Summary_of_a_linux_syn()
    {
        Assert.True(TcpOptions.TryParse(LinuxSynOptions, out TcpOptions o, out _));
        Assert.Equal((ushort)1460, o.Mss);
        Assert.True(o.SackPermitted);
        Assert.Equal(new TcpTimestamps(2915130225, 0), o.Timestamps);
        Assert.Equal((byte)7, o.WindowScale);
        Assert.Equal(7, o.WindowScaleShift);
        Assert.Equal(0, o.SackBlockCount);
        Assert.Equal("mss=1460 sackOK ts(val=2915130225 ecr=0) wscale=7", o.ToString());
    }

    [Fact]
    public void Options_summary_writes_the_linux_syn_layout_byte_for_byte()
    {
        var o = new TcpOptions { Mss = 1460, SackPermitted = true, Timestamps = new TcpTimestamps(2915130225, 0), WindowScale = 7 };
        Span<byte> buf = stackalloc byte[40];
        Assert.Equal(20, o.GetEncodedLength());
        Assert.True(o.TryWriteTo(buf, out int written));
        Assert.Equal(LinuxSynOptions, buf[..written].ToArray());
    }

    [Fact]
    public void Writer_builds_the_linux_syn_by_hand()
    {
        Span<byte> buf = stackalloc byte[40];
        var w = new TcpOptionWriter(buf);
        w.WriteMss(1460);
        w.WriteSackPermitted();
        w.WriteTimestamps(2915130225, 0);
        w.WriteNoOperation();
        w.WriteWindowScale(7);
        Assert.Equal(20, w.Complete());
        Assert.Equal(LinuxSynOptions, w.Written.ToArray());
    }

    [Fact]
    public void Layouts_without_sack_permitted_and_with_sack_blocks()
    {
        // Data segment with timestamps only: NOP NOP TS (tcpdump: nop,nop,TS val 7 ecr 9).
        var data = new TcpOptions { Timestamps = new TcpTimestamps(7, 9) };
        Assert.Equal([1, 1, 8, 10, 0, 0, 0, 7, 0, 0, 0, 9], Encode(data));

        // SYN without timestamps (tcpdump: mss 1400,nop,nop,sackOK,nop,wscale 2).
        var syn = new TcpOptions { Mss = 1400, WindowScale = 2, SackPermitted = true };
        Assert.Equal([2, 4, 0x05, 0x78, 1, 1, 4, 2, 1, 3, 3, 2], Encode(syn));

        // ACK with timestamps and one SACK block.
        var ack = new TcpOptions { Timestamps = new TcpTimestamps(1, 2) };
        Assert.True(ack.TryAddSackBlock(new TcpSackBlock(100, 200)));
        Assert.Equal([1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2, 1, 1, 5, 10, 0, 0, 0, 100, 0, 0, 0, 200], Encode(ack));
    }

    [Fact]
    public void Four_sack_blocks_fit_without_timestamps_but_not_with_them()
    {
        var o = default(TcpOptions);
        for (uint i = 1; i <= 4; i++)
        {
            Assert.True(o.TryAddSackBlock(new TcpSackBlock(i * 1000, (i * 1000) + 500)));
        }

        Assert.False(o.TryAddSackBlock(new TcpSackBlock(1, 2)));
        Assert.Equal(4, o.SackBlockCount);
        Assert.Equal(36, o.GetEncodedLength());
        Span<byte> buf = stackalloc byte[40];
        Assert.True(o.TryWriteTo(buf, out int written));
        Assert.Equal(36, written);
        Assert.True(TcpOptions.TryParse(buf[..written], out TcpOptions back, out _));
        Assert.Equal(o, back);

        o.Timestamps = new TcpTimestamps(5, 6);
        Assert.Equal(48, o.GetEncodedLength());
        Assert.False(o.TryWriteTo(buf, out written));
        Assert.Equal(0, written);

        o.ClearSackBlocks();
        for (uint i = 1; i <= 3; i++)
        {
            o.TryAddSackBlock(new TcpSackBlock(i, i + 1));
        }

        Assert.Equal(40, o.GetEncodedLength());
        Assert.True(o.TryWriteTo(buf, out written));
        Assert.Equal(40, written);
        Assert.False(o.TryWriteTo(buf[..39], out _));
    }

    [Fact]
    public void Writer_pads_with_nops_to_a_4_byte_boundary()
    {
        Span<byte> buf = stackalloc byte[8];
        var w = new TcpOptionWriter(buf);
        Assert.Equal(0, w.Complete());
        w.WriteWindowScale(14);
        Assert.Equal(3, w.Length);
        Assert.Equal(4, w.Complete());
        Assert.Equal([3, 3, 14, 1], w.Written.ToArray());
        w.WriteSackPermitted();
        Assert.Equal(8, w.Complete());
        Assert.Equal(0, w.Remaining);
        Assert.Equal([3, 3, 14, 1, 4, 2, 1, 1], buf.ToArray());
    }

    [Fact]
    public void Writer_rejects_what_does_not_fit_or_is_out_of_range()
    {
        byte[] buf = new byte[6];
        Assert.Throws<ArgumentException>(() =>
        {
            var w = new TcpOptionWriter(buf);
            w.WriteMss(1);
            w.WriteMss(2);
        });
        Assert.Throws<ArgumentException>(() => new TcpOptionWriter(buf).WriteTimestamps(1, 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => new TcpOptionWriter(buf).WriteWindowScale(15));
        Assert.Throws<ArgumentException>(() => new TcpOptionWriter(new byte[40]).WriteSack([]));
        Assert.Throws<ArgumentException>(() => new TcpOptionWriter(new byte[64]).WriteSack(new TcpSackBlock[5]));
        Assert.Throws<ArgumentException>(() => new TcpOptionWriter(new byte[300]).WriteOption(99, new byte[254]));
        Assert.Throws<ArgumentException>(() =>
        {
            var w = new TcpOptionWriter(buf);
            w.WriteMss(1);
            w.WriteWindowScale(1);
            w.Complete();
        });
    }

    [Fact]
    public void Raw_options_round_trip_through_the_reader()
    {
        Span<byte> buf = stackalloc byte[16];
        var w = new TcpOptionWriter(buf);
        w.WriteOption(34, [0xde, 0xad, 0xbe, 0xef]);
        w.WriteEndOfOptionList();
        int n = w.Complete();
        Assert.Equal(8, n);
        Assert.Equal([34, 6, 0xde, 0xad, 0xbe, 0xef, 0, 1], buf[..n].ToArray());
        var r = new TcpOptionReader(buf[..n]);
        Assert.True(r.TryReadNext(out TcpOption o, out _));
        Assert.Equal([0xde, 0xad, 0xbe, 0xef], o.Data.ToArray());
        Assert.True(r.TryReadNext(out TcpOption eol, out _));
        Assert.Equal(TcpOptionKind.EndOfOptionList, eol.Kind);
        Assert.False(r.TryReadNext(out _, out _));
    }

    [Fact]
    public void Later_occurrences_win()
    {
        var w = new TcpOptionWriter(new byte[64]);
        w.WriteMss(1000);
        w.WriteMss(1200);
        w.WriteSack([new TcpSackBlock(1, 2), new TcpSackBlock(3, 4)]);
        w.WriteSack([new TcpSackBlock(5, 6)]);
        w.WriteWindowScale(3);
        w.WriteWindowScale(4);
        Assert.True(TcpOptions.TryParse(w.Written, out TcpOptions o, out _));
        Assert.Equal((ushort)1200, o.Mss);
        Assert.Equal((byte)4, o.WindowScale);
        Assert.Equal([new TcpSackBlock(5, 6)], o.SackBlocks.ToArray());
    }

    [Fact]
    public void Window_scale_above_14_is_written_as_14()
    {
        var o = new TcpOptions { WindowScale = 200 };
        Assert.Equal([1, 3, 3, 14], Encode(o));
    }

    [Fact]
    public void Annotations_cover_every_option_padding_and_errors()
    {
        byte[] opts = [0x02, 0x04, 0x05, 0xb4, 30, 3, 9, 0x00, 0x00, 0x00];
        var notes = new List<HexAnnotation>();
        TcpOptionReader.Annotate(opts, 20, notes);
        Assert.Equal(
            [
                new HexAnnotation(20, 4, "Option MSS len=4 value=1460"),
                new HexAnnotation(24, 3, "Option kind=30 len=3 data=0x09"),
                new HexAnnotation(27, 1, "Option EOL"),
                new HexAnnotation(28, 2, "Padding after EOL"),
            ],
            notes);

        notes.Clear();
        TcpOptionReader.Annotate([0x01, 0x08, 0x0a, 0x00], 20, notes);
        Assert.Equal(2, notes.Count);
        Assert.Equal(new HexAnnotation(21, 3, "Malformed option: TCP.Timestamps: need 10 bytes, have 3 (limited by option length) at offset 21"), notes[1]);
    }

    [Fact]
    public void Annotated_dump_of_every_option_kind()
    {
        var w = new TcpOptionWriter(new byte[40]);
        w.WriteMss(1460);
        w.WriteNoOperation();
        w.WriteWindowScale(7);
        w.WriteSackPermitted();
        w.WriteTimestamps(0x01020304, 0x05060708);
        w.WriteSack([new TcpSackBlock(1000, 2000)]);
        w.WriteOption(30, [0x10, 0x01]);
        w.WriteEndOfOptionList();
        int n = w.Complete();
        byte[] opts = w.Written[..n].ToArray();
        var notes = new List<HexAnnotation>();
        TcpOptionReader.Annotate(opts, 0, notes);
        Snapshot.Match(HexDump.Annotated(opts, notes));
    }

    [Fact]
    public void Parsing_and_enumerating_options_does_not_allocate()
    {
        var sack = new TcpOptions { Timestamps = new TcpTimestamps(1, 2) };
        for (uint i = 0; i < 3; i++)
        {
            sack.TryAddSackBlock(new TcpSackBlock(i, i + 1));
        }

        byte[] sackBytes = Encode(sack);
        int sum = 0;
        for (int round = 0; round < 2; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 1_000; i++)
            {
                Assert.True(TcpOptions.TryParse(LinuxSynOptions, out TcpOptions syn, out _));
                Assert.True(TcpOptions.TryParse(sackBytes, out TcpOptions parsed, out _));
                sum += syn.WindowScaleShift + parsed.SackBlocks.Length;
                var reader = new TcpOptionReader(sackBytes);
                while (reader.TryReadNext(out TcpOption o, out _))
                {
                    sum += o.SackBlockCount > 0 ? (int)o.GetSackBlock(0).RightEdge : o.Length;
                }

                Assert.False(TcpOptions.TryParse([0x02, 0x04, 0x05], out _, out _));
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            if (round == 1)
            {
                Assert.Equal(0, allocated);
            }
        }

        Assert.True(sum > 0);
    }

    internal static byte[] Encode(TcpOptions options)
    {
        byte[] buf = new byte[TcpOptions.MaxLength];
        Assert.True(options.TryWriteTo(buf, out int written));
        Assert.Equal(options.GetEncodedLength(), written);
        Assert.Equal(0, written % 4);
        return buf[..written];
    }
}
