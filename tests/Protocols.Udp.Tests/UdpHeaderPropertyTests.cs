using System.Buffers.Binary;
using Protocols.Udp;
using Protocols.Wire;

namespace Protocols.Udp.Tests;

public class UdpHeaderPropertyTests
{
    [Fact]
    public void Random_values_round_trip_through_bytes()
    {
        var rng = new Random(768);
        byte[] buf = new byte[8];
        for (int iter = 0; iter < 20_000; iter++)
        {
            var h = new UdpHeader
            {
                SourcePort = (ushort)rng.Next(65536),
                DestinationPort = (ushort)rng.Next(65536),
                Length = 8,
                Checksum = (ushort)rng.Next(65536),
            };
            Assert.Equal(8, h.WriteTo(buf));
            Assert.True(UdpHeader.TryRead(buf, out UdpHeader.Reader r, out WireError error), error.ToString());
            Assert.Equal(h, r.ToValue());
            Assert.Equal(h, UdpHeader.Read(buf));

            // The length is checked against the buffer, so vary it with a buffer that is long enough.
            h.Length = (ushort)rng.Next(8, 2000);
            byte[] longer = new byte[h.Length + rng.Next(0, 3)];
            Assert.True(h.TryWriteTo(longer, out int written));
            Assert.Equal(8, written);
            Assert.True(UdpHeader.TryRead(longer, out r, out error), error.ToString());
            Assert.Equal(h, r.ToValue());
            Assert.Equal(h.Length, r.Bytes.Length);
            Assert.Equal(h.Length - 8, r.Payload.Length);

            byte[] viaWriter = new byte[8];
            _ = new UdpHeader.Writer(viaWriter) { SourcePort = h.SourcePort, DestinationPort = h.DestinationPort, Length = h.Length, Checksum = h.Checksum };
            Assert.Equal(longer.AsSpan(0, 8).ToArray(), viaWriter);
        }
    }

    [Fact]
    public void Writing_into_a_short_buffer_fails_cleanly()
    {
        var h = new UdpHeader { Length = 8 };
        Assert.False(h.TryWriteTo(new byte[7], out int written));
        Assert.Equal(0, written);
        Assert.Throws<ArgumentException>(() => h.WriteTo(new byte[7]));
        Assert.Throws<ArgumentException>(() => new UdpHeader.Writer(new byte[7]));
    }

    [Fact]
    public void Every_truncation_fails_with_too_short_from_the_buffer()
    {
        foreach (string name in new[] { "hello", "no-checksum", "empty-payload", "max-ports" })
        {
            byte[] d = UdpHeaderTests.SnapshotCase(name);
            for (int cut = 0; cut < d.Length; cut++)
            {
                Assert.False(UdpHeader.TryRead(d.AsSpan(0, cut), out _, out WireError error));
                Assert.Equal(WireErrorKind.TooShort, error.Kind);
                Assert.Equal("UDP", error.Layer);
                Assert.Equal(LengthSource.Buffer, error.Source);
                Assert.Equal(cut, error.Actual);
                Assert.Equal(cut < 8 ? 8 : d.Length, error.Required);
            }
        }
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var rng = new Random(1122);
        byte[] buf = new byte[64];
        int ok = 0;
        for (int iter = 0; iter < 60_000; iter++)
        {
            int len = rng.Next(0, buf.Length + 1);
            rng.NextBytes(buf);
            if (iter % 2 == 0 && len >= 8)
            {
                // Make the length field plausible half the time so the success path is exercised too.
                BinaryPrimitives.WriteUInt16BigEndian(buf.AsSpan(4), (ushort)rng.Next(0, len + 4));
            }

            if (Exercise(buf.AsSpan(0, len)))
            {
                ok++;
            }
        }

        Assert.True(ok > 10_000, ok.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Mutated_valid_datagrams_never_throw()
    {
        var rng = new Random(768);
        byte[][] valid = new[] { "hello", "no-checksum", "empty-payload", "max-ports", "computed-zero" }.Select(UdpHeaderTests.SnapshotCase).ToArray();
        for (int iter = 0; iter < 30_000; iter++)
        {
            byte[] d = (byte[])valid[rng.Next(valid.Length)].Clone();
            int at = rng.Next(d.Length);
            d[at] = rng.Next(2) == 0 ? (byte)rng.Next(256) : (byte)(d[at] ^ (1 << rng.Next(8)));
            Exercise(d.AsSpan(0, rng.Next(3) == 0 ? rng.Next(d.Length + 1) : d.Length));
        }
    }

    private static bool Exercise(ReadOnlySpan<byte> bytes)
    {
        var notes = new List<HexAnnotation>();
        UdpHeader.AnnotateDatagram(bytes, 0, notes);
        Assert.NotEmpty(notes);
        Assert.Equal(bytes.IsEmpty, HexDump.Annotated(bytes, notes).Length == 0);
        if (!UdpHeader.TryRead(bytes, out UdpHeader.Reader r, out WireError error))
        {
            Assert.True(error.IsError);
            Assert.Equal("UDP", error.Layer);
            Assert.NotEmpty(error.ToString());
            try
            {
                UdpHeader.Read(bytes);
                Assert.Fail("Read must throw WireException when TryRead fails");
            }
            catch (WireException e)
            {
                Assert.Equal(error, e.Error);
            }

            return false;
        }

        long sink = r.SourcePort + r.DestinationPort + r.Length + r.Checksum + r.HeaderLength + r.Header.Length + r.Options.Length;
        Assert.True(sink >= 0);
        Assert.Equal(r.Length, r.Bytes.Length);
        Assert.Equal(r.Length - 8, r.Payload.Length);
        Assert.True(r.Options.IsEmpty);
        Assert.NotEmpty(r.ToString());
        _ = r.VerifyChecksum(UdpHeaderTests.PseudoSum(UdpHeaderTests.Client, UdpHeaderTests.Server, r.Length));
        Assert.NotEmpty(r.ToValue().ToString());
        return true;
    }
}
