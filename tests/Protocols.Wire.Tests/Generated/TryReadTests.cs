namespace Protocols.Wire.Tests.Generated;

/// <summary>The generated TryRead: each check of the contract, in order, with the exact error.</summary>
public class TryReadTests
{
    // A real IPv4 header (UDP, 192.168.0.1 -> 192.168.0.199, total length 115, checksum 0xb861).
    internal static readonly byte[] Ipv4Sample =
    [
        0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61,
        0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
    ];

    internal static byte[] Ipv4Message(int extra = 0)
    {
        byte[] message = new byte[115 + extra];
        Ipv4Sample.CopyTo(message, 0);
        for (int i = 20; i < message.Length; i++)
        {
            message[i] = (byte)i;
        }

        return message;
    }

    private static WireError ReadError(ReadOnlySpan<byte> bytes)
    {
        Assert.False(Ipv4LikeHeader.TryRead(bytes, out _, out WireError error));
        Assert.True(error.IsError);
        return error;
    }

    [Fact]
    public void Valid_header_gives_a_reader_trimmed_to_total_length()
    {
        byte[] message = Ipv4Message(extra: 7);
        Assert.True(Ipv4LikeHeader.TryRead(message, out var reader, out WireError error));
        Assert.False(error.IsError);
        Assert.Equal(115, reader.Bytes.Length);
        Assert.Equal(20, reader.HeaderLength);
        Assert.Equal(20, reader.Header.Length);
        Assert.Equal(0, reader.Options.Length);
        Assert.Equal(95, reader.Payload.Length);
        Assert.Equal(20, reader.Payload[0]);
        Assert.Equal(4, reader.Version);
        Assert.Equal(5, reader.Ihl);
        Assert.Equal(0, reader.Dscp);
        Assert.Equal(0, reader.Ecn);
        Assert.Equal(115, reader.TotalLength);
        Assert.Equal(0, reader.Identification);
        Assert.False(reader.Reserved);
        Assert.True(reader.DontFragment);
        Assert.False(reader.MoreFragments);
        Assert.Equal(0, reader.FragmentOffset);
        Assert.Equal(64, reader.Ttl);
        Assert.Equal(TestProtocol.Udp, reader.Protocol);
        Assert.Equal(0xb861, reader.HeaderChecksum);
        Assert.Equal(Ipv4Address.Parse("192.168.0.1"), reader.Source);
        Assert.Equal(Ipv4Address.Parse("192.168.0.199"), reader.Destination);
        Assert.Equal(new byte[] { 192, 168, 0, 199 }, reader.DestinationBytes.ToArray());
        Assert.True(reader.VerifyChecksum());
    }

    [Fact]
    public void Options_and_payload_follow_the_header_length()
    {
        byte[] message = new byte[40];
        var w = new Ipv4LikeHeader.Writer(message);
        w.WriteConstants();
        w.Ihl = 6;
        w.TotalLength = 28;
        Assert.True(Ipv4LikeHeader.TryRead(message, out var reader, out _));
        Assert.Equal(28, reader.Bytes.Length);
        Assert.Equal(24, reader.HeaderLength);
        Assert.Equal(4, reader.Options.Length);
        Assert.Equal(4, reader.Payload.Length);
        Assert.Equal(24, reader.Header.Length);
    }

    [Theory]
    [InlineData(0, "Version")]
    [InlineData(1, "Dscp")]
    [InlineData(3, "TotalLength")]
    [InlineData(5, "Identification")]
    [InlineData(6, "Reserved")]
    [InlineData(11, "HeaderChecksum")]
    [InlineData(12, "Source")]
    [InlineData(19, "Destination")]
    public void Too_short_for_the_fixed_part_names_the_first_missing_field(int length, string field)
    {
        WireError error = ReadError(Ipv4Message().AsSpan(0, length));
        Assert.Equal(WireError.TooShort("IPv4", field, 20, length, LengthSource.Buffer), error);
    }

    [Fact]
    public void Wrong_const_is_invalid_value()
    {
        byte[] message = Ipv4Message();
        message[0] = 0x65; // version 6
        Assert.Equal(WireError.InvalidValue("IPv4", "Version", 4, 6), ReadError(message));
    }

    [Fact]
    public void Const_is_checked_before_range()
    {
        byte[] message = Ipv4Message();
        message[0] = 0x61; // version 6, IHL 1
        Assert.Equal("Version", ReadError(message).Field);
    }

    [Fact]
    public void Out_of_range_is_invalid_value_before_the_length_checks()
    {
        byte[] message = Ipv4Message();
        message[0] = 0x44; // IHL 4 < 5
        message[3] = 0x01; // and a total length below the header
        Assert.Equal(WireError.InvalidValue("IPv4", "Ihl", 5, 4), ReadError(message));
    }

    [Fact]
    public void Header_length_beyond_the_buffer_is_too_short()
    {
        byte[] message = Ipv4Message();
        message[0] = 0x4f; // IHL 15 = 60 bytes
        WireError error = ReadError(message.AsSpan(0, 40));
        Assert.Equal(WireError.TooShort("IPv4", "Ihl", 60, 40, LengthSource.Buffer), error);
    }

    [Fact]
    public void Header_length_below_the_fixed_part_is_length_too_small_with_the_attribute_source()
    {
        byte[] message = new byte[OddChecksumHeader.FixedLength + 10];
        new OddChecksumHeader.Writer(message).Words = 3; // 12 bytes < 15
        Assert.False(OddChecksumHeader.TryRead(message, out _, out WireError error));
        Assert.Equal(WireErrorKind.LengthTooSmall, error.Kind);
        Assert.Equal("Odd", error.Layer);
        Assert.Equal("Words", error.Field);
        Assert.Equal(15, error.Required);
        Assert.Equal(12, error.Actual);
        Assert.Equal(LengthSource.DataOffset, error.Source);
    }

    [Fact]
    public void Total_length_below_the_header_is_length_too_small()
    {
        byte[] message = Ipv4Message();
        message[2] = 0;
        message[3] = 19;
        WireError error = ReadError(message);
        Assert.Equal(WireErrorKind.LengthTooSmall, error.Kind);
        Assert.Equal("TotalLength", error.Field);
        Assert.Equal(20, error.Required);
        Assert.Equal(19, error.Actual);
        Assert.Equal(LengthSource.TotalLength, error.Source);
    }

    [Fact]
    public void Total_length_below_the_options_is_length_too_small()
    {
        byte[] message = Ipv4Message();
        message[0] = 0x46; // 24-byte header
        message[3] = 22;
        WireError error = ReadError(message);
        Assert.Equal(WireErrorKind.LengthTooSmall, error.Kind);
        Assert.Equal(24, error.Required);
        Assert.Equal(22, error.Actual);
    }

    [Fact]
    public void Total_length_beyond_the_buffer_is_too_short()
    {
        WireError error = ReadError(Ipv4Message().AsSpan(0, 100));
        Assert.Equal(WireError.TooShort("IPv4", "TotalLength", 115, 100, LengthSource.Buffer), error);
        Assert.Equal("IPv4.TotalLength: need 115 bytes, have 100 (limited by buffer) at offset 0", error.ToString());
    }

    [Fact]
    public void Payload_length_beyond_the_buffer_is_too_short()
    {
        byte[] message = [0x01, 0x00, 0x00, 0x05, 0xaa, 0xbb, 0xcc];
        Assert.False(Length24Header.TryRead(message, out _, out WireError error));
        Assert.Equal(WireError.TooShort("Len24", "Length", 9, 7, LengthSource.Buffer), error);
    }

    [Fact]
    public void Payload_length_trims_the_message()
    {
        byte[] message = [0x01, 0x00, 0x00, 0x02, 0xaa, 0xbb, 0xcc];
        Assert.True(Length24Header.TryRead(message, out var reader, out _));
        Assert.Equal(6, reader.Bytes.Length);
        Assert.Equal(new byte[] { 0xaa, 0xbb }, reader.Payload.ToArray());
        Assert.Equal(2u, reader.Length);
        Assert.Equal(0, reader.Options.Length);
    }

    [Fact]
    public void Declaration_order_decides_between_const_and_range_failures()
    {
        byte[] message = [0x08, 0x00, 0x15, 0x00]; // Zero = 5 (Const 0), Protocol = 0 (Range 1..17)
        Assert.False(EnumHeader.TryRead(message, out _, out WireError error));
        Assert.Equal(WireError.InvalidValue("Enums", "Zero", 0, 5, 2), error);

        message[2] = 0x10;
        Assert.False(EnumHeader.TryRead(message, out _, out error));
        Assert.Equal(WireError.InvalidValue("Enums", "Protocol", 1, 0, 3), error);

        message[3] = 18; // above the maximum: Required is the maximum
        Assert.False(EnumHeader.TryRead(message, out _, out error));
        Assert.Equal(WireError.InvalidValue("Enums", "Protocol", 17, 18, 3), error);

        message[3] = 17;
        Assert.True(EnumHeader.TryRead(message, out var reader, out _));
        Assert.Equal(TestEtherType.Ipv4, reader.EtherType);
        Assert.Equal(TestKind.Data, reader.Kind);
        Assert.Equal(TestProtocol.Udp, reader.Protocol);
    }

    [Fact]
    public void Read_throws_WireException_with_the_error()
    {
        var ex = Assert.Throws<WireException>(() => Ipv4LikeHeader.Read(Ipv4Sample.AsSpan(0, 10)));
        Assert.Equal(WireErrorKind.TooShort, ex.Error.Kind);
        Assert.Equal("IPv4", ex.Error.Layer);
    }

    [Fact]
    public void Random_bytes_never_throw_and_valid_readers_never_throw()
    {
        var random = new Random(42);
        int valid = 0;
        for (int round = 0; round < 20_000; round++)
        {
            byte[] bytes = new byte[random.Next(0, 80)];
            random.NextBytes(bytes);
            if (round % 3 == 0 && bytes.Length >= 4)
            {
                // Often a plausible IPv4 start: version 4, IHL 5..7, total length near the buffer length.
                bytes[0] = (byte)(0x45 + random.Next(0, 3));
                bytes[2] = 0;
                bytes[3] = (byte)Math.Max(0, bytes.Length - random.Next(-2, 10));
            }

            if (Ipv4LikeHeader.TryRead(bytes, out var ip, out _))
            {
                valid++;
                _ = ip.ToString();
                _ = ip.Options.Length + ip.Payload.Length + ip.Header.Length;
                _ = ip.VerifyChecksum();
            }

            if (UdpLikeHeader.TryRead(bytes, out var udp, out _))
            {
                _ = udp.ToString() + udp.Payload.Length;
                _ = udp.VerifyChecksum(0);
            }

            if (OddChecksumHeader.TryRead(bytes, out var odd, out _))
            {
                _ = odd.ToString() + odd.Options.Length + odd.Payload.Length;
                _ = odd.VerifyChecksum();
            }

            if (Length24Header.TryRead(bytes, out var len24, out _))
            {
                _ = len24.ToString() + len24.Payload.Length;
            }

            if (WideHeader.TryRead(bytes, out var wide, out _))
            {
                _ = wide.ToString();
            }

            if (EnumHeader.TryRead(bytes, out var enums, out _))
            {
                _ = enums.ToString();
            }

            var annotations = new List<HexAnnotation>();
            Ipv4LikeHeader.Annotate(bytes, 0, annotations);
            _ = Ipv4LikeHeader.VerifyChecksum(bytes);
            _ = IcmpLikeHeader.VerifyChecksum(bytes);
            _ = UdpLikeHeader.VerifyChecksum(bytes, 1234);
        }

        Assert.True(valid > 10, $"only {valid} valid IPv4 headers were generated");
    }

    [Fact]
    public void Every_truncation_of_a_valid_message_fails_cleanly()
    {
        byte[] message = Ipv4Message();
        for (int length = 0; length < message.Length; length++)
        {
            Assert.False(Ipv4LikeHeader.TryRead(message.AsSpan(0, length), out _, out WireError error));
            Assert.Equal(WireErrorKind.TooShort, error.Kind);
            Assert.Equal(LengthSource.Buffer, error.Source);
            Assert.Equal(length, error.Actual);
        }
    }
}
