using Protocols.Wire;

namespace Protocols.Ip.Tests;

public class Ipv4OptionTests
{
    private static readonly Ipv4Address A1 = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address A2 = Ipv4Address.Parse("192.168.1.254");

    private static List<string> Walk(ReadOnlySpan<byte> options, out WireError error)
    {
        var lines = new List<string>();
        var reader = new Ipv4OptionReader(options);
        while (reader.TryReadNext(out Ipv4Option option, out error))
        {
            lines.Add(option.ToString());
        }

        return lines;
    }

    [Fact]
    public void Walks_every_kind_and_stops_at_end_of_list()
    {
        byte[] options =
        [
            0x01,                                           // NOP
            0x07, 0x0b, 0x08, 10, 0, 0, 1, 0, 0, 0, 0,      // RR, 2 slots, one recorded
            0x44, 0x0c, 0x09, 0x10, 0, 0, 0, 1, 0, 0, 0, 2, // TS flag 0, 2 entries, 1 recorded, overflow 1
            0x99, 0x04, 0xab, 0xcd,                         // unknown 153 (copied, class 0, number 25)
            0x00, 0x00, 0x00, 0x00,                         // EOL then padding
        ];
        var lines = Walk(options, out WireError error);
        Assert.False(error.IsError);
        Assert.Equal(
            [
                "Option NoOperation",
                "Option RecordRoute len=11 ptr=8 [10.0.0.1, 0.0.0.0]",
                "Option Timestamp len=12 ptr=9 oflw=1 flag=TimestampsOnly [1, 2]",
                "Option Option153 len=4 data=abcd",
                "Option EndOfOptionList",
            ],
            lines);

        var reader = new Ipv4OptionReader(options);
        Assert.True(reader.TryReadNext(out Ipv4Option nop, out _));
        Assert.Equal(Ipv4OptionKind.NoOperation, nop.Kind);
        Assert.Equal(20, nop.Offset);
        Assert.Equal(1, nop.Length);
        Assert.True(nop.Data.IsEmpty);

        Assert.True(reader.TryReadNext(out Ipv4Option rr, out _));
        Assert.Equal(21, rr.Offset);
        Assert.False(rr.Copied);
        Assert.Equal(Ipv4OptionClass.Control, rr.Class);
        Assert.Equal(7, rr.Number);
        Assert.True(rr.TryGetRoute(out Ipv4RouteOption route));
        Assert.False(rr.TryGetTimestamp(out _));
        Assert.Equal(8, route.Pointer);
        Assert.Equal(2, route.SlotCount);
        Assert.Equal(1, route.RecordedCount);
        Assert.False(route.IsFull);
        Assert.Equal(A1, route.GetAddress(0));

        Assert.True(reader.TryReadNext(out Ipv4Option ts, out _));
        Assert.Equal(Ipv4OptionClass.DebuggingAndMeasurement, ts.Class);
        Assert.Equal(4, ts.Number);
        Assert.True(ts.TryGetTimestamp(out Ipv4TimestampOption t));
        Assert.False(ts.TryGetRoute(out _));
        Assert.Equal(1, t.Overflow);
        Assert.Equal(Ipv4TimestampFlag.TimestampsOnly, t.Flag);
        Assert.Equal(4, t.EntrySize);
        Assert.Equal(2, t.SlotCount);
        Assert.Equal(1, t.RecordedCount);
        Assert.Equal(2u, t.GetEntry(1).Timestamp);

        Assert.True(reader.TryReadNext(out Ipv4Option unknown, out _));
        Assert.False(unknown.IsKnown);
        Assert.True(unknown.Copied);
        Assert.Equal(25, unknown.Number);
        Assert.Equal(new byte[] { 0xab, 0xcd }, unknown.Data.ToArray());

        Assert.True(reader.TryReadNext(out Ipv4Option eol, out _));
        Assert.Equal(Ipv4OptionKind.EndOfOptionList, eol.Kind);
        Assert.False(reader.TryReadNext(out _, out WireError end));
        Assert.False(end.IsError);
        Assert.Equal(3, reader.Padding.Length);
    }

    [Fact]
    public void Foreach_walks_and_exposes_the_error()
    {
        byte[] options = [0x01, 0x01, 0x07, 0x01];
        var reader = new Ipv4OptionReader(options);
        int count = 0;
        foreach (Ipv4Option o in reader)
        {
            Assert.Equal(Ipv4OptionKind.NoOperation, o.Kind);
            count++;
        }

        Assert.Equal(2, count);

        // foreach copies the reader; walk the original by hand to see the error.
        while (reader.MoveNext())
        {
        }

        Assert.Equal(WireErrorKind.Malformed, reader.Error.Kind);
        Assert.True(reader.Padding.IsEmpty);
    }

    [Fact]
    public void Empty_region_has_no_options()
    {
        Assert.Empty(Walk([], out WireError error));
        Assert.False(error.IsError);
        Assert.True(Ipv4OptionReader.Validate([], out _));
    }

    [Fact]
    public void Full_route_and_timestamp_options_are_accepted()
    {
        byte[] options =
        [
            0x07, 0x07, 0x08, 10, 0, 0, 1,                              // RR full: ptr = len + 1
            0x44, 0x0c, 0x0d, 0x31, 10, 0, 0, 1, 0x80, 0, 0, 1,        // TS flag 1 full, overflow 3
            0x00,
        ];
        var reader = new Ipv4OptionReader(options);
        Assert.True(reader.TryReadNext(out Ipv4Option rr, out _));
        Assert.True(rr.TryGetRoute(out Ipv4RouteOption route));
        Assert.True(route.IsFull);
        Assert.Equal(1, route.RecordedCount);
        Assert.True(reader.TryReadNext(out Ipv4Option ts, out _));
        Assert.True(ts.TryGetTimestamp(out Ipv4TimestampOption t));
        Assert.True(t.IsFull);
        Assert.Equal(3, t.Overflow);
        Assert.Equal(Ipv4TimestampFlag.AddressAndTimestamp, t.Flag);
        Assert.Equal(new Ipv4TimestampEntry(A1, 0x8000_0001), t.GetEntry(0));
        Assert.True(reader.TryReadNext(out _, out _));
        Assert.False(reader.TryReadNext(out _, out WireError error));
        Assert.False(error.IsError);
    }

    public static TheoryData<string, byte[], WireErrorKind, string, long, long, int> Malformed => new()
    {
        // name, options, kind, field, required, actual, offset (from the IPv4 header start)
        { "length 0", [0x01, 0x99, 0x00, 0x00], WireErrorKind.Malformed, "Option153", 2, 0, 22 },
        { "length 1", [0x88, 0x01, 0x00, 0x00], WireErrorKind.Malformed, "StreamId", 2, 1, 21 },
        { "SID length 6", [0x88, 0x06, 0x00, 0x00, 0x00, 0x00], WireErrorKind.Malformed, "StreamId", 4, 6, 21 },
        { "RA length 3", [0x94, 0x03, 0x00, 0x00], WireErrorKind.Malformed, "RouterAlert", 4, 3, 21 },
        { "no length octet", [0x01, 0x01, 0x01, 0x94], WireErrorKind.TooShort, "RouterAlert", 2, 1, 23 },
        { "beyond region", [0x01, 0x94, 0x08, 0x00], WireErrorKind.TooShort, "RouterAlert", 8, 3, 22 },
        { "beyond region by one", [0x01, 0x9e, 0x04, 0x00], WireErrorKind.TooShort, "Option158", 4, 3, 22 },
        { "RR ptr 3", [0x07, 0x07, 0x03, 0, 0, 0, 0, 0], WireErrorKind.Malformed, "RecordRoute", 4, 3, 22 },
        { "RR ptr odd", [0x07, 0x07, 0x05, 0, 0, 0, 0, 0], WireErrorKind.Malformed, "RecordRoute", 4, 5, 22 },
        { "RR ptr past end", [0x07, 0x07, 0x0c, 0, 0, 0, 0, 0], WireErrorKind.Malformed, "RecordRoute", 8, 12, 22 },
        { "RR length 2", [0x07, 0x02, 0x00, 0x00], WireErrorKind.Malformed, "RecordRoute", 3, 2, 21 },
        { "RR length 3+4n+1", [0x07, 0x08, 0x04, 0, 0, 0, 0, 0], WireErrorKind.Malformed, "RecordRoute", 7, 8, 21 },
        { "LSRR ptr 0", [0x83, 0x07, 0x00, 0, 0, 0, 0, 0], WireErrorKind.Malformed, "LooseSourceRoute", 4, 0, 22 },
        { "SSRR length 6", [0x89, 0x06, 0x04, 0, 0, 0, 0, 0], WireErrorKind.Malformed, "StrictSourceRoute", 3, 6, 21 },
        { "TS length 3", [0x44, 0x03, 0x05, 0x00], WireErrorKind.Malformed, "Timestamp", 4, 3, 21 },
        { "TS flag 2", [0x44, 0x0c, 0x05, 0x02, 0, 0, 0, 0, 0, 0, 0, 0], WireErrorKind.InvalidValue, "Timestamp", 0, 2, 23 },
        { "TS flag 15", [0x44, 0x08, 0x05, 0xff, 0, 0, 0, 0], WireErrorKind.InvalidValue, "Timestamp", 0, 15, 23 },
        { "TS ptr 4", [0x44, 0x08, 0x04, 0x00, 0, 0, 0, 0], WireErrorKind.Malformed, "Timestamp", 5, 4, 22 },
        { "TS ptr misaligned", [0x44, 0x0c, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0], WireErrorKind.Malformed, "Timestamp", 13, 7, 22 },
        { "TS ptr past end", [0x44, 0x08, 0x0d, 0x00, 0, 0, 0, 0], WireErrorKind.Malformed, "Timestamp", 9, 13, 22 },
        { "TS flag 1 length 8", [0x44, 0x08, 0x05, 0x01, 0, 0, 0, 0], WireErrorKind.Malformed, "Timestamp", 4, 8, 21 },
        { "TS flag 0 length 6", [0x44, 0x06, 0x05, 0x00, 0, 0, 0, 0], WireErrorKind.Malformed, "Timestamp", 4, 6, 21 },
    };

    [Theory]
    [MemberData(nameof(Malformed))]
    public void Malformed_options_are_rejected_with_a_typed_error(string name, byte[] options, WireErrorKind kind, string field, long required, long actual, int offset)
    {
        Walk(options, out WireError error);
        Assert.True(error.IsError, name);
        Assert.Equal(kind, error.Kind);
        Assert.Equal("IPv4", error.Layer);
        Assert.Equal(field, error.Field);
        Assert.Equal(required, error.Required);
        Assert.Equal(actual, error.Actual);
        Assert.Equal(kind == WireErrorKind.InvalidValue ? LengthSource.None : LengthSource.OptionLength, error.Source);
        Assert.Equal(offset, error.Offset);
        Assert.False(Ipv4OptionReader.Validate(options, out WireError again));
        Assert.Equal(error, again);

        // The walk stays stopped.
        var reader = new Ipv4OptionReader(options);
        while (reader.TryReadNext(out _, out _))
        {
        }

        Assert.False(reader.TryReadNext(out _, out WireError still));
        Assert.Equal(error, still);
    }

    [Fact]
    public void Writer_builds_what_the_reader_reads()
    {
        Span<byte> buffer = stackalloc byte[40];
        var w = new Ipv4OptionWriter(buffer);
        w.WriteNoOperation();
        w.WriteRecordRoute(2, [A1]);
        w.WriteTimestamp(Ipv4TimestampFlag.Prespecified, 2, [new(A1, 0), new(A2, 0)], 0);
        w.WriteOption(0x99, [0xab]);
        w.WriteEndOfList();
        Assert.Equal(1 + 11 + 20 + 3 + 1, w.Length);
        Assert.Equal(36, w.PadToWord());
        Assert.Equal(
            [
                "Option NoOperation",
                "Option RecordRoute len=11 ptr=8 [10.0.0.1, 0.0.0.0]",
                "Option Timestamp len=20 ptr=5 oflw=0 flag=Prespecified [10.0.0.1@0, 192.168.1.254@0]",
                "Option Option153 len=3 data=ab",
                "Option EndOfOptionList",
            ],
            Walk(w.Written, out WireError error));
        Assert.False(error.IsError);
    }

    [Fact]
    public void Writer_rejects_what_cannot_be_encoded()
    {
        var buffer = new byte[8];
        Assert.Throws<ArgumentException>(() => new Ipv4OptionWriter(buffer).WriteRecordRoute(2, []));
        Assert.Throws<ArgumentException>(() => new Ipv4OptionWriter(new byte[40]).WriteRecordRoute(1, [A1, A2]));
        Assert.Throws<ArgumentException>(() => new Ipv4OptionWriter(new byte[40]).WriteOption(1, []));
        Assert.Throws<ArgumentException>(() => new Ipv4OptionWriter(new byte[40]).WriteTimestamp((Ipv4TimestampFlag)2, 1, [], 0));
        Assert.Throws<ArgumentException>(() => new Ipv4OptionWriter(new byte[40]).WriteRoute(Ipv4OptionKind.Timestamp, 1, [], 0));
        Assert.Throws<ArgumentException>(() => new Ipv4OptionWriter(new byte[40]).WriteTimestamp(Ipv4TimestampFlag.TimestampsOnly, 1, [], 0, overflow: 16));
    }

    /// <summary>Random option lists built by the writer read back identically.</summary>
    [Fact]
    public void Random_option_lists_round_trip()
    {
        var rng = new Random(791);
        var buffer = new byte[Ipv4OptionWriter.MaxOptionsLength];
        for (int iteration = 0; iteration < 2000; iteration++)
        {
            var expected = new List<string>();
            var w = new Ipv4OptionWriter(buffer);
            while (true)
            {
                int room = buffer.Length - w.Length;
                int choice = rng.Next(5);
                if (choice == 0 && room >= 1)
                {
                    w.WriteNoOperation();
                    expected.Add("NoOperation");
                }
                else if (choice == 1 && room >= 7)
                {
                    int slots = rng.Next(1, ((room - 3) / 4) + 1);
                    var kinds = new[] { Ipv4OptionKind.RecordRoute, Ipv4OptionKind.LooseSourceRoute, Ipv4OptionKind.StrictSourceRoute };
                    Ipv4OptionKind kind = kinds[rng.Next(3)];
                    var addrs = new Ipv4Address[rng.Next(slots + 1)];
                    for (int i = 0; i < addrs.Length; i++)
                    {
                        addrs[i] = Ipv4Address.FromUInt32((uint)rng.NextInt64(0, 1L << 32));
                    }

                    int recorded = rng.Next(slots + 1);
                    w.WriteRoute(kind, slots, addrs, recorded);
                    var all = addrs.Concat(Enumerable.Repeat(Ipv4Address.Any, slots - addrs.Length));
                    expected.Add($"{kind} {slots} {recorded} {string.Join(",", all)}");
                }
                else if (choice == 2 && room >= 8)
                {
                    var flags = new[] { Ipv4TimestampFlag.TimestampsOnly, Ipv4TimestampFlag.AddressAndTimestamp, Ipv4TimestampFlag.Prespecified };
                    Ipv4TimestampFlag flag = flags[rng.Next(3)];
                    int size = flag == Ipv4TimestampFlag.TimestampsOnly ? 4 : 8;
                    if (room < 4 + size)
                    {
                        continue;
                    }

                    int slots = rng.Next(1, ((room - 4) / size) + 1);
                    var entries = new Ipv4TimestampEntry[rng.Next(slots + 1)];
                    for (int i = 0; i < entries.Length; i++)
                    {
                        Ipv4Address a = size == 4 ? default : Ipv4Address.FromUInt32((uint)rng.NextInt64(0, 1L << 32));
                        entries[i] = new Ipv4TimestampEntry(a, (uint)rng.NextInt64(0, 1L << 32));
                    }

                    int recorded = rng.Next(slots + 1);
                    int overflow = rng.Next(16);
                    w.WriteTimestamp(flag, slots, entries, recorded, overflow);
                    var all = entries.Concat(Enumerable.Repeat(default(Ipv4TimestampEntry), slots - entries.Length));
                    expected.Add($"Timestamp {flag} {slots} {recorded} {overflow} {string.Join(",", all)}");
                }
                else if (choice == 3 && room >= 2)
                {
                    byte type = (byte)rng.Next(2, 256);
                    if (type is 7 or 68 or 131 or 136 or 137 or 148)
                    {
                        continue;
                    }

                    var data = new byte[rng.Next(room - 1)];
                    rng.NextBytes(data);
                    w.WriteOption(type, data);
                    expected.Add($"{type} {Convert.ToHexString(data)}");
                }
                else
                {
                    break;
                }
            }

            var actual = new List<string>();
            var reader = new Ipv4OptionReader(buffer.AsSpan(0, w.Length));
            while (reader.TryReadNext(out Ipv4Option o, out _))
            {
                if (o.Kind == Ipv4OptionKind.NoOperation)
                {
                    actual.Add("NoOperation");
                }
                else if (o.TryGetRoute(out Ipv4RouteOption r))
                {
                    var addrs = new List<Ipv4Address>();
                    for (int i = 0; i < r.SlotCount; i++)
                    {
                        addrs.Add(r.GetAddress(i));
                    }

                    actual.Add($"{o.Kind} {r.SlotCount} {r.RecordedCount} {string.Join(",", addrs)}");
                }
                else if (o.TryGetTimestamp(out Ipv4TimestampOption t))
                {
                    var entries = new List<Ipv4TimestampEntry>();
                    for (int i = 0; i < t.SlotCount; i++)
                    {
                        entries.Add(t.GetEntry(i));
                    }

                    actual.Add($"Timestamp {t.Flag} {t.SlotCount} {t.RecordedCount} {t.Overflow} {string.Join(",", entries)}");
                }
                else
                {
                    actual.Add($"{o.Type} {Convert.ToHexString(o.Data)}");
                }
            }

            Assert.False(reader.Error.IsError, reader.Error.ToString());
            Assert.Equal(expected, actual);
        }
    }

    /// <summary>Every prefix of a valid region either ends on an option boundary or fails with TooShort from the option length.</summary>
    [Fact]
    public void Every_truncation_ends_cleanly_or_fails_with_too_short()
    {
        byte[] options =
        [
            0x01, 0x07, 0x0b, 0x08, 10, 0, 0, 1, 0, 0, 0, 0,
            0x44, 0x0c, 0x09, 0x10, 0, 0, 0, 1, 0, 0, 0, 2,
            0x99, 0x04, 0xab, 0xcd, 0x00,
        ];
        int[] boundaries = [0, 1, 12, 24, 28, 29];
        for (int n = 0; n <= options.Length; n++)
        {
            bool ok = Ipv4OptionReader.Validate(options.AsSpan(0, n), out WireError error);
            Assert.Equal(boundaries.Contains(n), ok);
            if (!ok)
            {
                Assert.Equal(WireErrorKind.TooShort, error.Kind);
                Assert.Equal(LengthSource.OptionLength, error.Source);
                Assert.Equal(n - boundaries.Last(b => b < n), error.Actual);
            }
        }
    }

    /// <summary>Random bytes never throw, and whatever the walk accepts its views can read.</summary>
    [Fact]
    public void Random_bytes_never_throw()
    {
        var rng = new Random(1981);
        var buffer = new byte[40];
        int accepted = 0;
        for (int i = 0; i < 50_000; i++)
        {
            int n = rng.Next(41);
            rng.NextBytes(buffer.AsSpan(0, n));

            // Bias toward interesting type octets so the typed views are reached often.
            if (n > 0 && rng.Next(2) == 0)
            {
                buffer[0] = new byte[] { 0, 1, 7, 68, 131, 137, 148 }[rng.Next(7)];
                if (n > 2)
                {
                    buffer[1] = (byte)rng.Next(n + 2);
                }
            }

            if (Exercise(buffer.AsSpan(0, n)))
            {
                accepted++;
            }
        }

        Assert.InRange(accepted, 100, 50_000);
    }

    internal static bool Exercise(ReadOnlySpan<byte> options)
    {
        var reader = new Ipv4OptionReader(options);
        while (reader.TryReadNext(out Ipv4Option o, out _))
        {
            _ = o.ToString();
            _ = (o.Type, o.Kind, o.IsKnown, o.Copied, o.Class, o.Number, o.Length, o.Data.Length, o.Offset, o.Name);
            if (o.TryGetRoute(out Ipv4RouteOption r))
            {
                _ = (r.Pointer, r.IsFull, r.RecordedCount, r.RouteData.Length);
                for (int i = 0; i < r.SlotCount; i++)
                {
                    _ = r.GetAddress(i);
                }
            }

            if (o.TryGetTimestamp(out Ipv4TimestampOption t))
            {
                _ = (t.Pointer, t.Overflow, t.Flag, t.IsFull, t.RecordedCount);
                for (int i = 0; i < t.SlotCount; i++)
                {
                    _ = t.GetEntry(i);
                }
            }
        }

        _ = reader.Padding.Length;
        _ = reader.Error.ToString();
        return !reader.Error.IsError;
    }
}
