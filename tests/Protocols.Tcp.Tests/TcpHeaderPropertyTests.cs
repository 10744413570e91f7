using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Tcp.Tests;

public class TcpHeaderPropertyTests
{
    [Fact]
    public void Random_values_round_trip_through_bytes()
    {
        var rng = new Random(9293);
        byte[] buf = new byte[60];
        for (int iter = 0; iter < 20_000; iter++)
        {
            TcpHeader h = TcpHeaderTests.RandomHeader(rng);
            Array.Clear(buf);
            Assert.Equal(TcpHeader.FixedLength, h.WriteTo(buf));
            Assert.True(h.TryWriteTo(buf, out int written));
            Assert.Equal(TcpHeader.FixedLength, written);
            Assert.True(TcpHeader.TryRead(buf, out TcpHeader.Reader r, out WireError error), error.ToString());
            Assert.Equal(h, r.ToValue());
            Assert.Equal(h, TcpHeader.Read(buf));
            Assert.Equal(h.Flags, r.GetFlags());
            Assert.Equal(h.DataOffset * 4, r.HeaderLength);
            Assert.Equal((h.DataOffset * 4) - 20, r.Options.Length);
            Assert.Equal(60 - (h.DataOffset * 4), r.Payload.Length);

            // The writer's setters produce the same bytes as WriteTo.
            byte[] viaWriter = new byte[60];
            var w = new TcpHeader.Writer(viaWriter)
            {
                SourcePort = h.SourcePort,
                DestinationPort = h.DestinationPort,
                SequenceNumber = h.SequenceNumber,
                AcknowledgmentNumber = h.AcknowledgmentNumber,
                DataOffset = h.DataOffset,
                Reserved = h.Reserved,
                Window = h.Window,
                Checksum = h.Checksum,
                UrgentPointer = h.UrgentPointer,
            };
            w.SetFlags(h.Flags);
            Assert.Equal(buf.AsSpan(0, 20).ToArray(), viaWriter.AsSpan(0, 20).ToArray());
            Assert.Equal(h.Syn, w.Syn);
            Assert.Equal(h.Cwr, w.Cwr);
        }
    }

    [Fact]
    public void Writing_into_a_short_buffer_fails_cleanly()
    {
        var h = new TcpHeader { DataOffset = 5 };
        Assert.False(h.TryWriteTo(new byte[19], out int written));
        Assert.Equal(0, written);
        Assert.Throws<ArgumentException>(() => h.WriteTo(new byte[19]));
        Assert.Throws<ArgumentException>(() => new TcpHeader.Writer(new byte[19]));
    }

    [Fact]
    public void Every_truncation_of_the_header_fails_with_too_short()
    {
        foreach (string name in new[] { "linux-syn", "data-with-timestamps", "ack-sack-3-ts", "data-offset-15", "all-flags" })
        {
            byte[] segment = TcpHeaderTests.SnapshotCase(name);
            Assert.True(TcpHeader.TryRead(segment, out TcpHeader.Reader full, out _));
            int headerLength = full.HeaderLength;
            for (int cut = 0; cut < segment.Length; cut++)
            {
                bool ok = TcpHeader.TryRead(segment.AsSpan(0, cut), out TcpHeader.Reader r, out WireError error);
                if (cut < TcpHeader.FixedLength)
                {
                    Assert.False(ok);
                    Assert.Equal((WireErrorKind.TooShort, "TCP", 20L, (long)cut, LengthSource.Buffer), (error.Kind, error.Layer, error.Required, error.Actual, error.Source));
                }
                else if (cut < headerLength)
                {
                    Assert.False(ok);
                    Assert.Equal((WireErrorKind.TooShort, "TCP", (long)headerLength, (long)cut, LengthSource.Buffer), (error.Kind, error.Layer, error.Required, error.Actual, error.Source));
                }
                else
                {
                    // TCP has no length field: a shorter segment is a shorter payload (IP's total length limits it).
                    Assert.True(ok, error.ToString());
                    Assert.Equal(cut - headerLength, r.Payload.Length);
                }
            }
        }
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var rng = new Random(793);
        byte[] buf = new byte[80];
        int ok = 0;
        for (int iter = 0; iter < 50_000; iter++)
        {
            int len = rng.Next(0, buf.Length + 1);
            rng.NextBytes(buf);
            if (Exercise(buf.AsSpan(0, len)))
            {
                ok++;
            }
        }

        Assert.True(ok > 1_000, ok.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Mutated_valid_segments_never_throw()
    {
        var rng = new Random(2018);
        string[] cases = ["linux-syn", "data-with-timestamps", "ack-sack-1-ts", "ack-sack-3-ts", "ack-sack-4-no-ts", "data-offset-15", "every-option-kind", "syn-ws-above-14"];
        byte[][] valid = cases.Select(TcpHeaderTests.SnapshotCase).ToArray();
        int optionErrors = 0, ok = 0;
        for (int iter = 0; iter < 40_000; iter++)
        {
            byte[] segment = (byte[])valid[rng.Next(valid.Length)].Clone();
            int flips = rng.Next(1, 5);
            for (int f = 0; f < flips; f++)
            {
                int at = rng.Next(segment.Length);
                segment[at] = rng.Next(3) switch
                {
                    0 => (byte)rng.Next(256),
                    1 => (byte)(segment[at] ^ (1 << rng.Next(8))),
                    _ => (byte)(segment[at] + rng.Next(-3, 4)),
                };
            }

            int len = rng.Next(4) == 0 ? rng.Next(segment.Length + 1) : segment.Length;
            if (Exercise(segment.AsSpan(0, len)))
            {
                ok++;
                if (TcpHeader.TryRead(segment.AsSpan(0, len), out TcpHeader.Reader r, out _) && !r.TryParseOptions(out _, out _))
                {
                    optionErrors++;
                }
            }
        }

        Assert.True(ok > 10_000 && optionErrors > 1_000, $"ok {ok}, option errors {optionErrors}");
    }

    /// <summary>TryRead, every getter, the options and the annotations; true when TryRead succeeded.</summary>
    private static bool Exercise(ReadOnlySpan<byte> bytes)
    {
        var notes = new List<HexAnnotation>();
        TcpHeader.AnnotateSegment(bytes, 0, notes);
        Assert.NotEmpty(notes);
        if (!TcpHeader.TryRead(bytes, out TcpHeader.Reader r, out WireError error))
        {
            Assert.True(error.IsError);
            Assert.Equal("TCP", error.Layer);
            Assert.NotEmpty(error.ToString());
            try
            {
                TcpHeader.Read(bytes);
                Assert.Fail("Read must throw WireException when TryRead fails");
            }
            catch (WireException e)
            {
                Assert.Equal(error, e.Error);
            }

            return false;
        }

        Assert.False(error.IsError);
        long sink = r.SourcePort + r.DestinationPort + r.SequenceNumber + r.AcknowledgmentNumber + r.DataOffset + r.Reserved
            + r.Window + r.Checksum + r.UrgentPointer + (int)r.GetFlags();
        sink += (r.Cwr ? 1 : 0) + (r.Ece ? 1 : 0) + (r.Urg ? 1 : 0) + (r.Ack ? 1 : 0) + (r.Psh ? 1 : 0) + (r.Rst ? 1 : 0) + (r.Syn ? 1 : 0) + (r.Fin ? 1 : 0);
        sink += r.Bytes.Length + r.HeaderLength + r.Header.Length + r.Options.Length + r.Payload.Length;
        Assert.True(sink >= 0);
        Assert.Equal(r.HeaderLength, r.Header.Length);
        Assert.Equal(bytes.Length, r.Header.Length + r.Payload.Length);
        Assert.Equal(r.HeaderLength - TcpHeader.FixedLength, r.Options.Length);
        Assert.NotEmpty(r.ToString());
        _ = r.VerifyChecksum(TcpHeaderTests.PseudoSum(TcpHeaderTests.Client, TcpHeaderTests.Server, bytes.Length));
        TcpHeader value = r.ToValue();
        Assert.Equal(r.GetFlags(), value.Flags);
        Assert.NotEmpty(value.ToString());

        TcpOptionReader options = r.GetOptionReader();
        while (options.TryReadNext(out TcpOption o, out _))
        {
            _ = o.Mss + o.WindowScaleShift + o.EffectiveWindowScaleShift + o.Timestamps.TsVal + o.Data.Length;
            for (int i = 0; i < o.SackBlockCount; i++)
            {
                _ = o.GetSackBlock(i);
            }

            Assert.NotEmpty(o.ToString());
        }

        bool parsed = r.TryParseOptions(out TcpOptions summary, out WireError optionError);
        Assert.Equal(!options.Error.IsError, parsed);
        if (!parsed)
        {
            Assert.Equal(options.Error.WithOffset(TcpHeader.FixedLength), optionError);
        }

        _ = summary.ToString();
        return true;
    }
}
