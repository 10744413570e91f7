namespace Protocols.Wire.Tests.Generated;

/// <summary>
/// Every field setter of the generated writers rewrites exactly that field's bits (MSB first,
/// big-endian), checked against a bit-by-bit reference over all-ones, all-zeros and random backgrounds.
/// </summary>
public class BitLayoutTests
{
    /// <summary>One field of one test header: how to set and get it through the generated Writer.</summary>
    public sealed record FieldCase(string Header, string Field, int Length, IReadOnlyList<WireFieldInfo> Layout, Action<byte[], ulong> Set, Func<byte[], ulong> Get)
    {
        public override string ToString() => $"{Header}.{Field}";
    }

    private static readonly FieldCase[] Cases =
    [
        new("Split466", "A", Split466Header.FixedLength, Split466Header.Fields, (b, v) => new Split466Header.Writer(b).A = (byte)v, b => new Split466Header.Writer(b).A),
        new("Split466", "B", Split466Header.FixedLength, Split466Header.Fields, (b, v) => new Split466Header.Writer(b).B = (byte)v, b => new Split466Header.Writer(b).B),
        new("Split466", "C", Split466Header.FixedLength, Split466Header.Fields, (b, v) => new Split466Header.Writer(b).C = (byte)v, b => new Split466Header.Writer(b).C),
        new("Split313", "Flags", Split313Header.FixedLength, Split313Header.Fields, (b, v) => new Split313Header.Writer(b).Flags = (byte)v, b => new Split313Header.Writer(b).Flags),
        new("Split313", "Offset", Split313Header.FixedLength, Split313Header.Fields, (b, v) => new Split313Header.Writer(b).Offset = (ushort)v, b => new Split313Header.Writer(b).Offset),
        new("Split313", "After", Split313Header.FixedLength, Split313Header.Fields, (b, v) => new Split313Header.Writer(b).After = (byte)v, b => new Split313Header.Writer(b).After),
        new("Flags", "F0", FlagsHeader.FixedLength, FlagsHeader.Fields, (b, v) => new FlagsHeader.Writer(b).F0 = v != 0, b => new FlagsHeader.Writer(b).F0 ? 1UL : 0UL),
        new("Flags", "F3", FlagsHeader.FixedLength, FlagsHeader.Fields, (b, v) => new FlagsHeader.Writer(b).F3 = v != 0, b => new FlagsHeader.Writer(b).F3 ? 1UL : 0UL),
        new("Flags", "F7", FlagsHeader.FixedLength, FlagsHeader.Fields, (b, v) => new FlagsHeader.Writer(b).F7 = v != 0, b => new FlagsHeader.Writer(b).F7 ? 1UL : 0UL),
        new("Len24", "Type", Length24Header.FixedLength, Length24Header.Fields, (b, v) => new Length24Header.Writer(b).Type = (byte)v, b => new Length24Header.Writer(b).Type),
        new("Len24", "Length", Length24Header.FixedLength, Length24Header.Fields, (b, v) => new Length24Header.Writer(b).Length = (uint)v, b => new Length24Header.Writer(b).Length),
        new("Wide", "Nibble", WideHeader.FixedLength, WideHeader.Fields, (b, v) => new WideHeader.Writer(b).Nibble = (byte)v, b => new WideHeader.Writer(b).Nibble),
        new("Wide", "Value", WideHeader.FixedLength, WideHeader.Fields, (b, v) => new WideHeader.Writer(b).Value = v, b => new WideHeader.Writer(b).Value),
        new("Wide", "Tail", WideHeader.FixedLength, WideHeader.Fields, (b, v) => new WideHeader.Writer(b).Tail = (byte)v, b => new WideHeader.Writer(b).Tail),
        new("Wide", "Stamp", WideHeader.FixedLength, WideHeader.Fields, (b, v) => new WideHeader.Writer(b).Stamp = v, b => new WideHeader.Writer(b).Stamp),
        new("Wide", "Twenty", WideHeader.FixedLength, WideHeader.Fields, (b, v) => new WideHeader.Writer(b).Twenty = (uint)v, b => new WideHeader.Writer(b).Twenty),
        new("Wide", "ThirtySix", WideHeader.FixedLength, WideHeader.Fields, (b, v) => new WideHeader.Writer(b).ThirtySix = v, b => new WideHeader.Writer(b).ThirtySix),
        new("Wide", "Aligned32", WideHeader.FixedLength, WideHeader.Fields, (b, v) => new WideHeader.Writer(b).Aligned32 = (uint)v, b => new WideHeader.Writer(b).Aligned32),
        new("Enums", "EtherType", EnumHeader.FixedLength, EnumHeader.Fields, (b, v) => new EnumHeader.Writer(b).EtherType = (TestEtherType)v, b => (ulong)new EnumHeader.Writer(b).EtherType),
        new("Enums", "Kind", EnumHeader.FixedLength, EnumHeader.Fields, (b, v) => new EnumHeader.Writer(b).Kind = (TestKind)v, b => (ulong)new EnumHeader.Writer(b).Kind),
        new("Enums", "Zero", EnumHeader.FixedLength, EnumHeader.Fields, (b, v) => new EnumHeader.Writer(b).Zero = (byte)v, b => new EnumHeader.Writer(b).Zero),
        new("Enums", "Protocol", EnumHeader.FixedLength, EnumHeader.Fields, (b, v) => new EnumHeader.Writer(b).Protocol = (TestProtocol)v, b => (ulong)new EnumHeader.Writer(b).Protocol),
        new("IPv4", "Version", Ipv4LikeHeader.FixedLength, Ipv4LikeHeader.Fields, (b, v) => new Ipv4LikeHeader.Writer(b).Version = (byte)v, b => new Ipv4LikeHeader.Writer(b).Version),
        new("IPv4", "Ihl", Ipv4LikeHeader.FixedLength, Ipv4LikeHeader.Fields, (b, v) => new Ipv4LikeHeader.Writer(b).Ihl = (byte)v, b => new Ipv4LikeHeader.Writer(b).Ihl),
        new("IPv4", "Dscp", Ipv4LikeHeader.FixedLength, Ipv4LikeHeader.Fields, (b, v) => new Ipv4LikeHeader.Writer(b).Dscp = (byte)v, b => new Ipv4LikeHeader.Writer(b).Dscp),
        new("IPv4", "Ecn", Ipv4LikeHeader.FixedLength, Ipv4LikeHeader.Fields, (b, v) => new Ipv4LikeHeader.Writer(b).Ecn = (byte)v, b => new Ipv4LikeHeader.Writer(b).Ecn),
        new("IPv4", "DontFragment", Ipv4LikeHeader.FixedLength, Ipv4LikeHeader.Fields, (b, v) => new Ipv4LikeHeader.Writer(b).DontFragment = v != 0, b => new Ipv4LikeHeader.Writer(b).DontFragment ? 1UL : 0UL),
        new("IPv4", "FragmentOffset", Ipv4LikeHeader.FixedLength, Ipv4LikeHeader.Fields, (b, v) => new Ipv4LikeHeader.Writer(b).FragmentOffset = (ushort)v, b => new Ipv4LikeHeader.Writer(b).FragmentOffset),
        new("IPv4", "Source", Ipv4LikeHeader.FixedLength, Ipv4LikeHeader.Fields, (b, v) => new Ipv4LikeHeader.Writer(b).Source = Ipv4Address.FromUInt32((uint)v), b => new Ipv4LikeHeader.Writer(b).Source.ToUInt32()),
        new("Odd", "Check", OddChecksumHeader.FixedLength, OddChecksumHeader.Fields, (b, v) => new OddChecksumHeader.Writer(b).Check = (ushort)v, b => new OddChecksumHeader.Writer(b).Check),
        new("Odd", "Words", OddChecksumHeader.FixedLength, OddChecksumHeader.Fields, (b, v) => new OddChecksumHeader.Writer(b).Words = (byte)v, b => new OddChecksumHeader.Writer(b).Words),
        new("Odd", "Twelve", OddChecksumHeader.FixedLength, OddChecksumHeader.Fields, (b, v) => new OddChecksumHeader.Writer(b).Twelve = (ushort)v, b => new OddChecksumHeader.Writer(b).Twelve),
        new("Odd", "Mid", OddChecksumHeader.FixedLength, OddChecksumHeader.Fields, (b, v) => new OddChecksumHeader.Writer(b).Mid = (uint)v, b => new OddChecksumHeader.Writer(b).Mid),
        new("Odd", "Mac", OddChecksumHeader.FixedLength, OddChecksumHeader.Fields, SetMac, GetMac),
        new("Explicit", "First", ExplicitOffsetHeader.FixedLength, ExplicitOffsetHeader.Fields, (b, v) => new ExplicitOffsetHeader.Writer(b).First = (byte)v, b => new ExplicitOffsetHeader.Writer(b).First),
        new("Explicit", "Second", ExplicitOffsetHeader.FixedLength, ExplicitOffsetHeader.Fields, (b, v) => new ExplicitOffsetHeader.Writer(b).Second = (byte)v, b => new ExplicitOffsetHeader.Writer(b).Second),
        new("Nested", "Low", Outer.Middle.NestedHeader.FixedLength, Outer.Middle.NestedHeader.Fields, (b, v) => new Outer.Middle.NestedHeader.Writer(b).Low = (byte)v, b => new Outer.Middle.NestedHeader.Writer(b).Low),
        new("Nested", "Flag", Outer.Middle.NestedHeader.FixedLength, Outer.Middle.NestedHeader.Fields, (b, v) => new Outer.Middle.NestedHeader.Writer(b).Flag = v != 0, b => new Outer.Middle.NestedHeader.Writer(b).Flag ? 1UL : 0UL),
    ];

    public static TheoryData<string> CaseNames()
    {
        var data = new TheoryData<string>();
        foreach (FieldCase c in Cases)
        {
            data.Add(c.ToString());
        }

        return data;
    }

    private static FieldCase Find(string name) => Cases.Single(c => c.ToString() == name);

    private static void SetMac(byte[] b, ulong v)
    {
        var w = new OddChecksumHeader.Writer(b);
        Span<byte> six = stackalloc byte[8];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64BigEndian(six, v);
        w.Mac = MacAddress.Create(six[2..]);
    }

    private static ulong GetMac(byte[] b)
    {
        var w = new OddChecksumHeader.Writer(b);
        Span<byte> eight = stackalloc byte[8];
        w.MacBytes.CopyTo(eight[2..]);
        return System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(eight);
    }

    /// <summary>Reference: reads <paramref name="width"/> bits at <paramref name="offset"/>, MSB first, one bit at a time.</summary>
    internal static ulong ReferenceGet(ReadOnlySpan<byte> bytes, int offset, int width)
    {
        ulong value = 0;
        for (int i = 0; i < width; i++)
        {
            int bit = offset + i;
            value = (value << 1) | (uint)((bytes[bit / 8] >> (7 - (bit % 8))) & 1);
        }

        return value;
    }

    private static ulong Max(int width) => width == 64 ? ulong.MaxValue : (1UL << width) - 1;

    /// <summary>Every bit outside [offset, offset+width) is unchanged between the two buffers.</summary>
    private static void AssertOtherBitsUnchanged(byte[] before, byte[] after, WireFieldInfo field)
    {
        for (int bit = 0; bit < before.Length * 8; bit++)
        {
            if (bit >= field.BitOffset && bit < field.BitOffset + field.BitWidth)
            {
                continue;
            }

            Assert.True(ReferenceGet(before, bit, 1) == ReferenceGet(after, bit, 1), $"bit {bit} outside {field} changed");
        }
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Set_zero_on_all_ones_touches_only_the_field(string name)
    {
        FieldCase c = Find(name);
        WireFieldInfo field = c.Layout.Single(f => f.Name == c.Field);
        byte[] before = Enumerable.Repeat((byte)0xFF, c.Length).ToArray();
        byte[] buffer = (byte[])before.Clone();
        Assert.Equal(Max(field.BitWidth), c.Get(buffer));

        c.Set(buffer, 0);

        Assert.Equal(0UL, c.Get(buffer));
        Assert.Equal(0UL, ReferenceGet(buffer, field.BitOffset, field.BitWidth));
        AssertOtherBitsUnchanged(before, buffer, field);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Set_max_on_all_zeros_touches_only_the_field(string name)
    {
        FieldCase c = Find(name);
        WireFieldInfo field = c.Layout.Single(f => f.Name == c.Field);
        byte[] before = new byte[c.Length];
        byte[] buffer = new byte[c.Length];
        Assert.Equal(0UL, c.Get(buffer));

        c.Set(buffer, Max(field.BitWidth));

        Assert.Equal(Max(field.BitWidth), c.Get(buffer));
        Assert.Equal(Max(field.BitWidth), ReferenceGet(buffer, field.BitOffset, field.BitWidth));
        AssertOtherBitsUnchanged(before, buffer, field);
    }

    [Theory]
    [MemberData(nameof(CaseNames))]
    public void Random_values_on_random_backgrounds_match_the_reference(string name)
    {
        FieldCase c = Find(name);
        WireFieldInfo field = c.Layout.Single(f => f.Name == c.Field);
        var random = new Random(1234 + name.Length);
        for (int round = 0; round < 200; round++)
        {
            byte[] before = new byte[c.Length];
            random.NextBytes(before);
            byte[] buffer = (byte[])before.Clone();
            Assert.Equal(ReferenceGet(before, field.BitOffset, field.BitWidth), c.Get(buffer));

            ulong value = (ulong)random.NextInt64() ^ ((ulong)random.Next() << 40);
            value &= Max(field.BitWidth);
            c.Set(buffer, value);

            Assert.Equal(value, c.Get(buffer));
            Assert.Equal(value, ReferenceGet(buffer, field.BitOffset, field.BitWidth));
            AssertOtherBitsUnchanged(before, buffer, field);
        }
    }

    [Fact]
    public void Setter_truncates_values_wider_than_the_field()
    {
        byte[] buffer = new byte[2];
        var w = new Split466Header.Writer(buffer);
        w.B = 0xFF; // 6 bits: only 0x3F is kept
        Assert.Equal(0x3F, w.B);
        Assert.Equal(0, w.A);
        Assert.Equal(0, w.C);
    }

    [Fact]
    public void Layout_matches_the_declarations()
    {
        Assert.Equal(20, Ipv4LikeHeader.FixedLength);
        Assert.Equal("IPv4", Ipv4LikeHeader.LayerName);
        Assert.Equal(
            ["Version:0:4", "Ihl:4:4", "Dscp:8:6", "Ecn:14:2", "TotalLength:16:16", "Identification:32:16", "Reserved:48:1",
             "DontFragment:49:1", "MoreFragments:50:1", "FragmentOffset:51:13", "Ttl:64:8", "Protocol:72:8",
             "HeaderChecksum:80:16", "Source:96:32", "Destination:128:32"],
            Ipv4LikeHeader.Fields.Select(f => $"{f.Name}:{f.BitOffset}:{f.BitWidth}"));

        Assert.Equal(2, Split466Header.FixedLength);
        Assert.Equal(3, Split313Header.FixedLength);
        Assert.Equal(1, FlagsHeader.FixedLength);
        Assert.Equal(4, Length24Header.FixedLength);
        Assert.Equal((4 + 64 + 4 + 48 + 20 + 36 + 32) / 8, WideHeader.FixedLength);
        Assert.Equal(4, EnumHeader.FixedLength);
        Assert.Equal(8, UdpLikeHeader.FixedLength);
        Assert.Equal(8, IcmpLikeHeader.FixedLength);
        Assert.Equal(15, OddChecksumHeader.FixedLength);
        Assert.Equal(34, RandomHeader.FixedLength);
        Assert.Equal(4, ExplicitOffsetHeader.FixedLength);
        Assert.Equal(["Second:8:8", "First:0:8", "Rest:16:16"], ExplicitOffsetHeader.Fields.Select(f => $"{f.Name}:{f.BitOffset}:{f.BitWidth}"));
        Assert.Equal(4, Outer.Middle.NestedHeader.FixedLength);
        Assert.Equal(2, GlobalNamespaceHeader.FixedLength);
    }

    [Fact]
    public void Sixty_four_bit_field_at_nibble_offset_has_the_expected_bytes()
    {
        byte[] buffer = Enumerable.Repeat((byte)0xFF, WideHeader.FixedLength).ToArray();
        var w = new WideHeader.Writer(buffer);
        w.Value = 0x0123_4567_89AB_CDEF;
        Assert.Equal(new byte[] { 0xF0, 0x12, 0x34, 0x56, 0x78, 0x9A, 0xBC, 0xDE, 0xFF }, buffer[..9]);
        Assert.Equal(0xFUL, w.Nibble);
        Assert.Equal(0xFUL, w.Tail);
        Assert.Equal(0x0123_4567_89AB_CDEFUL, w.Value);
    }
}
