using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Tcp.Tests;

public class TcpOptionPropertyTests
{
    [Fact]
    public void Random_options_round_trip_value_bytes_value()
    {
        var rng = new Random(9293);
        Span<byte> buf = stackalloc byte[TcpOptions.MaxLength];
        int written = 0, skipped = 0;
        for (int iter = 0; iter < 20_000; iter++)
        {
            TcpOptions o = RandomOptions(rng);
            if (o.GetEncodedLength() > TcpOptions.MaxLength)
            {
                Assert.False(o.TryWriteTo(buf, out _));
                skipped++;
                continue;
            }

            Assert.True(o.TryWriteTo(buf, out int n), o.ToString());
            Assert.True(TcpOptions.TryParse(buf[..n], out TcpOptions back, out WireError error), error.ToString());
            Assert.Equal(o, back);
            Assert.Equal(o.GetHashCode(), back.GetHashCode());
            Assert.Equal(o.ToString(), back.ToString());
            written++;
        }

        Assert.True(written > 10_000 && skipped > 100, $"written {written}, skipped {skipped}");
    }

    [Fact]
    public void Every_truncation_ends_on_an_option_boundary_or_fails_with_option_length()
    {
        var rng = new Random(2018);
        byte[] buf = new byte[TcpOptions.MaxLength];
        int failures = 0;
        for (int iter = 0; iter < 3_000; iter++)
        {
            TcpOptions o = RandomOptions(rng);
            if (!o.TryWriteTo(buf, out int n))
            {
                continue;
            }

            // Boundaries of the full list: where each option starts, plus the end.
            var boundaries = new HashSet<int> { n };
            var full = new TcpOptionReader(buf.AsSpan(0, n));
            while (full.TryReadNext(out TcpOption opt, out _))
            {
                boundaries.Add(opt.Offset);
            }

            for (int cut = 0; cut < n; cut++)
            {
                bool ok = TcpOptions.TryParse(buf.AsSpan(0, cut), out _, out WireError error);
                if (boundaries.Contains(cut))
                {
                    Assert.True(ok, $"cut {cut} of {Convert.ToHexString(buf, 0, n)}: {error}");
                }
                else
                {
                    Assert.False(ok);
                    Assert.Equal(WireErrorKind.TooShort, error.Kind);
                    Assert.Equal(LengthSource.OptionLength, error.Source);
                    Assert.Equal("TCP", error.Layer);
                    Assert.True(error.Actual < error.Required);
                    Assert.Equal(cut - error.Offset, error.Actual);
                    Assert.Contains(error.Offset, boundaries);
                    failures++;
                }
            }
        }

        Assert.True(failures > 10_000, failures.ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public void Random_bytes_never_throw_and_agree_with_a_naive_model()
    {
        var rng = new Random(7323);
        byte[] buf = new byte[TcpOptions.MaxLength];
        int errors = 0, oks = 0;
        for (int iter = 0; iter < 60_000; iter++)
        {
            int len = rng.Next(0, TcpOptions.MaxLength + 1);
            Span<byte> span = buf.AsSpan(0, len);
            if (iter % 2 == 0)
            {
                rng.NextBytes(span);
            }
            else
            {
                // Bias towards plausible lists: small kinds and lengths.
                for (int i = 0; i < len; i++)
                {
                    span[i] = (byte)(rng.Next(4) == 0 ? rng.Next(256) : rng.Next(12));
                }
            }

            if (Exercise(span))
            {
                oks++;
            }
            else
            {
                errors++;
            }
        }

        Assert.True(oks > 5_000 && errors > 5_000, $"ok {oks}, errors {errors}");
    }

    [Fact]
    public void Mutated_valid_lists_never_throw_and_agree_with_a_naive_model()
    {
        var rng = new Random(1323);
        byte[] buf = new byte[TcpOptions.MaxLength];
        for (int iter = 0; iter < 30_000; iter++)
        {
            TcpOptions o = RandomOptions(rng);
            if (!o.TryWriteTo(buf, out int n) || n == 0)
            {
                continue;
            }

            int flips = rng.Next(1, 4);
            for (int f = 0; f < flips; f++)
            {
                int at = rng.Next(n);
                buf[at] = rng.Next(3) switch
                {
                    0 => (byte)rng.Next(256),
                    1 => (byte)(buf[at] ^ (1 << rng.Next(8))),
                    _ => (byte)(buf[at] + rng.Next(-2, 3)),
                };
            }

            Exercise(buf.AsSpan(0, rng.Next(n / 2, n + 1)));
        }
    }

    /// <summary>Runs the reader, every accessor and TryParse; checks them against <see cref="NaiveParse"/>.</summary>
    private static bool Exercise(ReadOnlySpan<byte> span)
    {
        (List<(int Offset, int Length)> model, (WireErrorKind Kind, int Offset, int Required)? modelError) = NaiveParse(span.ToArray());
        var reader = new TcpOptionReader(span);
        int index = 0;
        while (reader.TryReadNext(out TcpOption o, out _))
        {
            Assert.True(index < model.Count, "reader returned more options than the model");
            Assert.Equal(model[index], (o.Offset, o.Length));
            index++;
            _ = o.Kind;
            _ = o.IsKnown;
            _ = o.Bytes.Length + o.Data.Length;
            _ = o.Mss;
            _ = o.WindowScaleShift;
            _ = o.EffectiveWindowScaleShift;
            _ = o.IsWindowScaleOutOfRange;
            _ = o.Timestamps;
            for (int i = 0; i < o.SackBlockCount; i++)
            {
                _ = o.GetSackBlock(i);
            }

            Assert.NotEmpty(o.ToString());
        }

        Assert.Equal(model.Count, index);
        WireError error = reader.Error;
        bool parsed = TcpOptions.TryParse(span, out TcpOptions summary, out WireError parseError);
        Assert.Equal(error, parseError);
        Assert.Equal(!error.IsError, parsed);
        _ = summary.ToString();
        var notes = new List<HexAnnotation>();
        TcpOptionReader.Annotate(span, 20, notes);
        if (modelError is { } e)
        {
            Assert.Equal(e.Kind, error.Kind);
            Assert.Equal(e.Offset, error.Offset);
            Assert.Equal(e.Required, error.Required);
            Assert.Equal(LengthSource.OptionLength, error.Source);
            return false;
        }

        Assert.False(error.IsError, error.ToString());
        return true;
    }

    /// <summary>An independent, deliberately plain reading of RFC 9293 3.2 / RFC 7323 / RFC 2018.</summary>
    private static (List<(int, int)>, (WireErrorKind, int, int)?) NaiveParse(byte[] b)
    {
        var fixedLength = new Dictionary<int, int> { [2] = 4, [3] = 3, [4] = 2, [8] = 10 };
        var list = new List<(int, int)>();
        int i = 0;
        while (i < b.Length)
        {
            int kind = b[i];
            if (kind == 0)
            {
                list.Add((i, 1));
                return (list, null);
            }

            if (kind == 1)
            {
                list.Add((i, 1));
                i++;
                continue;
            }

            if (i + 1 >= b.Length)
            {
                return (list, (WireErrorKind.TooShort, i, 2));
            }

            int len = b[i + 1];
            if (len < 2)
            {
                return (list, (WireErrorKind.Malformed, i, 2));
            }

            if (fixedLength.TryGetValue(kind, out int must) && len != must)
            {
                return (list, (WireErrorKind.Malformed, i, must));
            }

            if (kind == 5 && !(len is 10 or 18 or 26 or 34))
            {
                int must5 = len < 10 ? 10 : len > 34 ? 34 : len < 18 ? 18 : len < 26 ? 26 : 34;
                return (list, (WireErrorKind.Malformed, i, must5));
            }

            if (i + len > b.Length)
            {
                return (list, (WireErrorKind.TooShort, i, len));
            }

            list.Add((i, len));
            i += len;
        }

        return (list, null);
    }

    internal static TcpOptions RandomOptions(Random rng)
    {
        var o = default(TcpOptions);
        if (rng.Next(2) == 0)
        {
            o.Mss = (ushort)rng.Next(65536);
        }

        if (rng.Next(2) == 0)
        {
            o.WindowScale = (byte)rng.Next(15);
        }

        o.SackPermitted = rng.Next(2) == 0;
        if (rng.Next(2) == 0)
        {
            o.Timestamps = new TcpTimestamps((uint)rng.NextInt64(1L << 32), (uint)rng.NextInt64(1L << 32));
        }

        int blocks = rng.Next(5);
        for (int i = 0; i < blocks; i++)
        {
            Assert.True(o.TryAddSackBlock(new TcpSackBlock((uint)rng.NextInt64(1L << 32), (uint)rng.NextInt64(1L << 32))));
        }

        return o;
    }
}
