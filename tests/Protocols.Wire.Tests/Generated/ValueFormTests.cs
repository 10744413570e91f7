using Protocols.Tests.Shared;

namespace Protocols.Wire.Tests.Generated;

/// <summary>Value form (Read/WriteTo), ToString, Annotate and the no-allocation guarantee of the generated code.</summary>
public class ValueFormTests
{
    [Fact]
    public void ToString_lists_every_field_with_readable_values()
    {
        Ipv4LikeHeader header = Ipv4LikeHeader.Read(TryReadTests.Ipv4Message());
        Assert.Equal(
            "IPv4 Version=4 Ihl=5 Dscp=0 Ecn=0 TotalLength=115 Identification=0 Reserved=false DontFragment=true MoreFragments=false FragmentOffset=0 Ttl=64 Protocol=Udp HeaderChecksum=0xb861 Source=192.168.0.1 Destination=192.168.0.199",
            header.ToString());
        Assert.True(Ipv4LikeHeader.TryRead(TryReadTests.Ipv4Message(), out var reader, out _));
        Assert.Equal(header.ToString(), reader.ToString());
    }

    [Fact]
    public void Undefined_enum_values_print_as_numbers()
    {
        var header = new EnumHeader { EtherType = (TestEtherType)0x1234, Kind = TestKind.Max, Protocol = (TestProtocol)99 };
        Assert.Equal("Enums EtherType=4660 Kind=Max Zero=0 Protocol=99", header.ToString());
    }

    [Fact]
    public void Fixed_arrays_without_ToString_print_as_hex()
    {
        var header = new RandomHeader { Version = 0x0303 };
        for (int i = 0; i < 32; i++)
        {
            header.Random[i] = (byte)i;
        }

        Assert.Equal("Random Version=771 Random=000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f", header.ToString());
    }

    [Fact]
    public void Annotate_groups_fields_that_share_bytes()
    {
        var annotations = new List<HexAnnotation>();
        Ipv4LikeHeader.Annotate(TryReadTests.Ipv4Sample, 14, annotations);
        Assert.Equal(
            [
                new HexAnnotation(14, 1, "Version=4 Ihl=5"),
                new HexAnnotation(15, 1, "Dscp=0 Ecn=0"),
                new HexAnnotation(16, 2, "TotalLength=115"),
                new HexAnnotation(18, 2, "Identification=0"),
                new HexAnnotation(20, 2, "Reserved=false DontFragment=true MoreFragments=false FragmentOffset=0"),
                new HexAnnotation(22, 1, "Ttl=64"),
                new HexAnnotation(23, 1, "Protocol=Udp"),
                new HexAnnotation(24, 2, "HeaderChecksum=0xb861"),
                new HexAnnotation(26, 4, "Source=192.168.0.1"),
                new HexAnnotation(30, 4, "Destination=192.168.0.199"),
            ],
            annotations);
    }

    [Fact]
    public void Annotate_agrees_with_HexDump_field_annotations()
    {
        byte[] bytes = new byte[WideHeader.FixedLength];
        new Random(5).NextBytes(bytes);
        var generated = new List<HexAnnotation>();
        WideHeader.Annotate(bytes, 0, generated);
        WideHeader value = WideHeader.Read(bytes);
        string text = value.ToString();
        List<HexAnnotation> expected = HexDump.FieldAnnotations(WideHeader.Fields, f =>
        {
            int start = text.IndexOf(" " + f.Name + "=", StringComparison.Ordinal) + 1;
            int end = text.IndexOf(' ', start);
            return end < 0 ? text[start..] : text[start..end];
        });
        Assert.Equal(expected, generated);
    }

    [Fact]
    public void Annotate_leaves_out_groups_that_do_not_fit()
    {
        var annotations = new List<HexAnnotation>();
        Ipv4LikeHeader.Annotate(TryReadTests.Ipv4Sample.AsSpan(0, 5), 0, annotations);
        Assert.Equal(3, annotations.Count);
    }

    [Fact]
    public void Annotated_dump_snapshot()
    {
        byte[] message = TryReadTests.Ipv4Message();
        var annotations = new List<HexAnnotation>();
        Ipv4LikeHeader.Annotate(message, 0, annotations);
        Snapshot.Match(HexDump.Annotated(message.AsSpan(0, 28), annotations));
    }

    [Fact]
    public void Read_then_WriteTo_reproduces_the_header()
    {
        var random = new Random(99);
        for (int round = 0; round < 300; round++)
        {
            byte[] bytes = new byte[20];
            random.NextBytes(bytes);
            bytes[0] = 0x45;
            bytes[2] = 0;
            bytes[3] = 20;
            Ipv4LikeHeader value = Ipv4LikeHeader.Read(bytes);
            byte[] written = new byte[24];
            Assert.Equal(20, value.WriteTo(written));
            Assert.Equal(bytes, written[..20]);
            Assert.Equal(value.ToString(), Ipv4LikeHeader.Read(written).ToString());
        }
    }

    [Fact]
    public void Wide_and_enum_headers_round_trip()
    {
        var random = new Random(100);
        for (int round = 0; round < 300; round++)
        {
            byte[] bytes = new byte[WideHeader.FixedLength];
            random.NextBytes(bytes);
            byte[] written = new byte[WideHeader.FixedLength];
            WideHeader.Read(bytes).WriteTo(written);
            Assert.Equal(bytes, written);
        }

        var header = new EnumHeader { EtherType = TestEtherType.Arp, Kind = TestKind.Ack, Protocol = TestProtocol.Tcp };
        byte[] buffer = new byte[4];
        Assert.True(header.TryWriteTo(buffer, out int n));
        Assert.Equal(4, n);
        Assert.Equal(new byte[] { 0x08, 0x06, 0x20, 0x06 }, buffer);
        Assert.Equal(header.ToString(), EnumHeader.Read(buffer).ToString());
    }

    [Fact]
    public void WriteTo_forces_constants_and_clears_the_fixed_part()
    {
        var header = new Ipv4LikeHeader { Version = 9, Ihl = 5, TotalLength = 20, Ttl = 1 };
        byte[] buffer = Enumerable.Repeat((byte)0xEE, 22).ToArray();
        header.WriteTo(buffer);
        Assert.Equal(0x45, buffer[0]);
        Assert.Equal(0, buffer[1]);
        Assert.Equal(0xEE, buffer[20]); // beyond FixedLength: untouched
        Assert.Equal(4, Ipv4LikeHeader.Read(buffer).Version);
    }

    [Fact]
    public void WriteTo_stores_every_byte_once_and_matches_the_per_field_setters()
    {
        // Out-of-width values: WriteTo must drop the extra bits exactly as the setters do, and write
        // every byte of the fixed part (the destination starts as 0xEE, the setters' buffer as zeros).
        var split = new Split466Header { A = 0xFF, B = 0xC1, C = 0x7F };
        var zeros = new byte[Split466Header.FixedLength];
        _ = new Split466Header.Writer(zeros) { A = split.A, B = split.B, C = split.C };
        AssertSameBytes(zeros, split.WriteTo, (b, v) => new Split466Header.Writer(b).SetAll(in v), split);

        var split313 = new Split313Header { Flags = 0xFD, Offset = 0xFFFE, After = 0x81 };
        zeros = new byte[Split313Header.FixedLength];
        _ = new Split313Header.Writer(zeros) { Flags = split313.Flags, Offset = split313.Offset, After = split313.After };
        AssertSameBytes(zeros, split313.WriteTo, (b, v) => new Split313Header.Writer(b).SetAll(in v), split313);

        var wide = new WideHeader { Nibble = 0xAB, Value = 0x0123456789ABCDEF, Tail = 0x3C, Stamp = ulong.MaxValue, Twenty = 0xFFFFFFFF, ThirtySix = 0xFEDCBA9876543210, Aligned32 = 7 };
        zeros = new byte[WideHeader.FixedLength];
        _ = new WideHeader.Writer(zeros) { Nibble = wide.Nibble, Value = wide.Value, Tail = wide.Tail, Stamp = wide.Stamp, Twenty = wide.Twenty, ThirtySix = wide.ThirtySix, Aligned32 = wide.Aligned32 };
        AssertSameBytes(zeros, wide.WriteTo, (b, v) => new WideHeader.Writer(b).SetAll(in v), wide);

        var odd = new OddChecksumHeader { Check = 0x1234, Lead = 9, Words = 0x1F, Twelve = 0xFFFF, Mid = 0x12345678, Mac = MacAddress.Create(1, 2, 3, 4, 5, 6), Last = 0xEF };
        zeros = new byte[OddChecksumHeader.FixedLength];
        _ = new OddChecksumHeader.Writer(zeros) { Check = odd.Check, Lead = odd.Lead, Words = odd.Words, Twelve = odd.Twelve, Mid = odd.Mid, Mac = odd.Mac, Last = odd.Last };
        AssertSameBytes(zeros, odd.WriteTo, (b, v) => new OddChecksumHeader.Writer(b).SetAll(in v), odd);

        var flags = new FlagsHeader { F0 = true, F3 = true, F7 = true };
        byte[] flagBytes = Enumerable.Repeat((byte)0xEE, 1).ToArray();
        flags.WriteTo(flagBytes);
        Assert.Equal(0x91, flagBytes[0]);

        var explicitOffsets = new ExplicitOffsetHeader { First = 1, Second = 2, Rest = 0x0304 };
        AssertSameBytes(new byte[] { 1, 2, 3, 4 }, explicitOffsets.WriteTo, (b, v) => new ExplicitOffsetHeader.Writer(b).SetAll(in v), explicitOffsets);
    }

    private delegate int WriteToSpan(Span<byte> destination);

    private static void AssertSameBytes<T>(byte[] expected, WriteToSpan writeTo, Action<byte[], T> setAll, T value)
    {
        byte[] written = Enumerable.Repeat((byte)0xEE, expected.Length + 2).ToArray();
        Assert.Equal(expected.Length, writeTo(written));
        Assert.Equal(expected, written[..expected.Length]);
        Assert.Equal(0xEE, written[expected.Length]);

        byte[] viaWriter = Enumerable.Repeat((byte)0xEE, expected.Length).ToArray();
        setAll(viaWriter, value);
        Assert.Equal(expected, viaWriter);
    }

    [Fact]
    public void Short_destinations_are_rejected()
    {
        var header = new Ipv4LikeHeader();
        Assert.Throws<ArgumentException>(() => header.WriteTo(new byte[19]));
        Assert.False(header.TryWriteTo(new byte[19], out int written));
        Assert.Equal(0, written);
        Assert.Throws<ArgumentException>(() => new Ipv4LikeHeader.Writer(new byte[19]));
        Assert.Throws<ArgumentException>(() => new UdpLikeHeader.Writer(new byte[7]));
    }

    [Fact]
    public void Writer_options_and_payload_follow_the_written_header_length()
    {
        byte[] buffer = new byte[64];
        var w = new Ipv4LikeHeader.Writer(buffer);
        Assert.Equal(0, w.Options.Length); // IHL 0 clamps to the fixed part
        Assert.Equal(44, w.Payload.Length);
        w.Ihl = 15;
        Assert.Equal(40, w.Options.Length);
        Assert.Equal(4, w.Payload.Length);
        Assert.Equal(64, w.Bytes.Length);
        w.SourceBytes[0] = 10;
        Assert.Equal(10, buffer[12]);
    }

    [Fact]
    public void Headers_in_the_global_namespace_and_nested_types_work()
    {
        Assert.True(GlobalNamespaceHeader.TryRead([7, 2], out var global, out _));
        Assert.Equal(7, global.Kind);
        Assert.Equal("Global Kind=7 Length=2", global.ToString());

        byte[] bytes = [0x12, 0x34, 64, 0xFF];
        Assert.True(Outer.Middle.NestedHeader.TryRead(bytes, out var nested, out _));
        Assert.Equal(0x1234, nested.Id);
        Assert.Equal(0x7F, nested.Low);
        Assert.True(nested.Flag);
    }

    [Fact]
    public void Reading_and_writing_allocates_nothing()
    {
        byte[] message = TryReadTests.Ipv4Message();
        byte[] udp = new byte[32];
        long sink = Work(message, udp); // warm up (JIT, statics)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1000; i++)
        {
            sink += Work(message, udp);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.NotEqual(0, sink);

        static long Work(byte[] message, byte[] udp)
        {
            long sum = 0;
            if (Ipv4LikeHeader.TryRead(message, out var r, out _))
            {
                sum += r.Version + r.Ihl + r.TotalLength + r.FragmentOffset + r.Ttl + (int)r.Protocol + r.HeaderChecksum
                    + r.Source.ToUInt32() + r.Destination.ToUInt32() + r.Payload.Length + r.Options.Length + (r.DontFragment ? 1 : 0);
                sum += r.VerifyChecksum() ? 1 : 0;
            }

            var w = new Ipv4LikeHeader.Writer(message);
            w.SetTtlUpdatingChecksum((byte)(w.Ttl == 64 ? 63 : 64));
            w.FragmentOffset = w.FragmentOffset;
            w.Source = w.Source;

            var u = new UdpLikeHeader.Writer(udp);
            u.SourcePort = 1000;
            u.Length = 32;
            u.FillChecksum(12345);
            sum += UdpLikeHeader.TryRead(udp, out var ur, out _) ? ur.Checksum : 0;

            var wide = new WideHeader.Writer(new Span<byte>(udp, 0, WideHeader.FixedLength));
            wide.Value = 0x0123_4567_89AB_CDEF;
            sum += (long)(wide.Value & 0xff) + (long)wide.Stamp;
            return sum;
        }
    }
}
