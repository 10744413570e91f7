namespace Protocols.Wire.Tests.Generated;

/// <summary>
/// The generated lax read, TryReadHeader: the checks of TryRead, except that a total or payload
/// length running past the buffer is accepted and reported through IsTruncated / DeclaredLength.
/// </summary>
public class TryReadHeaderTests
{
    [Fact]
    public void Whole_message_reads_like_TryRead()
    {
        byte[] message = TryReadTests.Ipv4Message(extra: 7); // 7 bytes beyond the total length
        Assert.True(Ipv4LikeHeader.TryReadHeader(message, out Ipv4LikeHeader.Reader lax, out WireError error));
        Assert.False(error.IsError);
        Assert.True(Ipv4LikeHeader.TryRead(message, out Ipv4LikeHeader.Reader strict, out _));

        Assert.False(lax.IsTruncated);
        Assert.Equal(115, lax.DeclaredLength);
        Assert.Equal(115, lax.Bytes.Length);
        Assert.True(lax.Bytes.SequenceEqual(strict.Bytes));
        Assert.Equal(strict.HeaderLength, lax.HeaderLength);
        Assert.True(lax.Payload.SequenceEqual(strict.Payload));
        Assert.False(strict.IsTruncated);
        Assert.Equal(115, strict.DeclaredLength);
    }

    [Theory]
    [InlineData(20)] // header only, as quoted by an ICMP error after RFC 792 (header + 8 bytes is 28)
    [InlineData(28)]
    [InlineData(114)] // one byte short
    public void Total_length_past_the_buffer_is_truncated(int present)
    {
        byte[] message = TryReadTests.Ipv4Message();
        ReadOnlySpan<byte> cut = message.AsSpan(0, present);

        Assert.False(Ipv4LikeHeader.TryRead(cut, out _, out WireError strictError));
        Assert.Equal(WireError.TooShort("IPv4", "TotalLength", 115, present, LengthSource.Buffer), strictError);

        Assert.True(Ipv4LikeHeader.TryReadHeader(cut, out Ipv4LikeHeader.Reader reader, out WireError error));
        Assert.False(error.IsError);
        Assert.True(reader.IsTruncated);
        Assert.Equal(115, reader.DeclaredLength);
        Assert.Equal(present, reader.Bytes.Length);
        Assert.Equal(20, reader.HeaderLength);
        Assert.Equal(present - 20, reader.Payload.Length);
        Assert.Equal((ushort)115, reader.TotalLength);
        Assert.Equal(Ipv4LikeHeader.Read(message).ToString(), reader.ToString());
    }

    [Fact]
    public void Total_length_below_the_header_is_still_an_error()
    {
        byte[] message = TryReadTests.Ipv4Message();
        message[2] = 0;
        message[3] = 19;
        Assert.False(Ipv4LikeHeader.TryReadHeader(message, out Ipv4LikeHeader.Reader reader, out WireError error));
        Assert.Equal(WireError.LengthTooSmall("IPv4", "TotalLength", 20, 19, LengthSource.TotalLength, 2), error);
        Assert.Equal(0, reader.Bytes.Length);
    }

    [Fact]
    public void Header_checks_before_the_length_still_apply()
    {
        byte[] message = TryReadTests.Ipv4Message();

        // The fixed part must be present.
        Assert.False(Ipv4LikeHeader.TryReadHeader(message.AsSpan(0, 19), out _, out WireError error));
        Assert.Equal(WireErrorKind.TooShort, error.Kind);
        Assert.Equal(20, error.Required);

        // The header length (IHL 6 = 24 bytes) must be present even when the total length is not.
        message[0] = 0x46;
        Assert.False(Ipv4LikeHeader.TryReadHeader(message.AsSpan(0, 22), out _, out error));
        Assert.Equal(WireError.TooShort("IPv4", "Ihl", 24, 22, LengthSource.Buffer), error);
        Assert.True(Ipv4LikeHeader.TryReadHeader(message.AsSpan(0, 24), out Ipv4LikeHeader.Reader reader, out _));
        Assert.True(reader.IsTruncated);
        Assert.Equal(4, reader.Options.Length);
        Assert.Equal(0, reader.Payload.Length);

        // Const and range checks come first, as in TryRead.
        message[0] = 0x65;
        Assert.False(Ipv4LikeHeader.TryReadHeader(message.AsSpan(0, 30), out _, out error));
        Assert.Equal(WireError.InvalidValue("IPv4", "Version", 4, 6, 0), error);
    }

    [Theory]
    [InlineData(4, false)]
    [InlineData(10, false)]
    [InlineData(3, true)]
    [InlineData(2, true)]
    public void Payload_length_past_the_buffer_is_truncated(int payloadPresent, bool truncated)
    {
        byte[] message = [0x16, 0x00, 0x00, 0x04, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10]; // payload length 4
        ReadOnlySpan<byte> cut = message.AsSpan(0, 4 + payloadPresent);

        Assert.Equal(!truncated, Length24Header.TryRead(cut, out _, out _));
        Assert.True(Length24Header.TryReadHeader(cut, out Length24Header.Reader reader, out WireError error));
        Assert.False(error.IsError);
        Assert.Equal(truncated, reader.IsTruncated);
        Assert.Equal(8, reader.DeclaredLength);
        Assert.Equal(truncated ? 4 + payloadPresent : 8, reader.Bytes.Length);
        Assert.Equal(truncated ? payloadPresent : 4, reader.Payload.Length);
        Assert.Equal(4u, reader.Length);
    }

    [Fact]
    public void Huge_payload_length_is_declared_exactly()
    {
        byte[] message = [0x16, 0xff, 0xff, 0xff, 1, 2];
        Assert.True(Length24Header.TryReadHeader(message, out Length24Header.Reader reader, out _));
        Assert.True(reader.IsTruncated);
        Assert.Equal(4L + 0xffffff, reader.DeclaredLength);
        Assert.Equal(6, reader.Bytes.Length);
    }

    [Fact]
    public void Header_without_a_length_field_is_never_truncated()
    {
        byte[] message = [0x08, 0x00, 0x10, 0x11, 0xaa, 0xbb];
        Assert.True(EnumHeader.TryReadHeader(message, out EnumHeader.Reader reader, out WireError error));
        Assert.False(error.IsError);
        Assert.False(reader.IsTruncated);
        Assert.Equal(6, reader.DeclaredLength);
        Assert.Equal(6, reader.Bytes.Length);

        Assert.False(EnumHeader.TryReadHeader(message.AsSpan(0, 3), out _, out error));
        Assert.Equal(WireErrorKind.TooShort, error.Kind);
    }

    [Fact]
    public void UDP_like_length_past_the_buffer()
    {
        byte[] datagram = [0x04, 0xd2, 0x00, 0x35, 0x01, 0x00, 0x00, 0x00, 1, 2, 3, 4]; // Length 256, 12 present
        Assert.False(UdpLikeHeader.TryRead(datagram, out _, out _));
        Assert.True(UdpLikeHeader.TryReadHeader(datagram, out UdpLikeHeader.Reader reader, out _));
        Assert.True(reader.IsTruncated);
        Assert.Equal(256, reader.DeclaredLength);
        Assert.Equal(4, reader.Payload.Length);
        Assert.Equal((ushort)53, reader.DestinationPort);
    }

    [Fact]
    public void Default_reader_never_throws()
    {
        Ipv4LikeHeader.Reader reader = default;
        Assert.False(reader.IsTruncated);
        Assert.Equal(0, reader.DeclaredLength);
        Assert.Equal(0, reader.TotalLength);
        Assert.Equal(0, reader.SourceBytes.Length);
        Assert.Equal(0, reader.Options.Length);
        Assert.Equal(0, reader.Payload.Length);
        Assert.Equal(0, reader.Header.Length);
        Assert.Equal(default(Ipv4LikeHeader).ToString(), reader.ToString());
    }

    [Fact]
    public void Random_truncations_never_throw_and_agree_with_TryRead()
    {
        var random = new Random(1234);
        for (int i = 0; i < 2000; i++)
        {
            byte[] bytes = new byte[random.Next(0, 80)];
            random.NextBytes(bytes);
            if (bytes.Length > 0 && random.Next(2) == 0)
            {
                bytes[0] = (byte)(0x40 | random.Next(5, 16));
            }

            bool strict = Ipv4LikeHeader.TryRead(bytes, out Ipv4LikeHeader.Reader s, out WireError strictError);
            bool lax = Ipv4LikeHeader.TryReadHeader(bytes, out Ipv4LikeHeader.Reader r, out WireError laxError);
            if (strict)
            {
                // Whatever TryRead accepts, TryReadHeader accepts the same way.
                Assert.True(lax);
                Assert.False(r.IsTruncated);
                Assert.True(r.Bytes.SequenceEqual(s.Bytes));
            }
            else if (lax)
            {
                // Only a total length past the buffer separates them.
                Assert.Equal(WireError.TooShort("IPv4", "TotalLength", r.DeclaredLength, bytes.Length, LengthSource.Buffer), strictError);
                Assert.True(r.IsTruncated);
                Assert.Equal(bytes.Length, r.Bytes.Length);
                _ = r.ToValue();
                _ = r.Payload.Length + r.Options.Length;
            }
            else
            {
                Assert.Equal(strictError, laxError);
            }
        }
    }

    [Fact]
    public void TryRead_without_error_agrees_with_TryRead()
    {
        // The overload that skips building the error accepts exactly what TryRead accepts, with the same view.
        var random = new Random(4321);
        int accepted = 0;
        for (int i = 0; i < 5000; i++)
        {
            byte[] bytes = new byte[random.Next(0, 80)];
            random.NextBytes(bytes);
            if (bytes.Length > 0 && random.Next(2) == 0)
            {
                bytes[0] = (byte)(0x40 | random.Next(5, 16));
            }

            if (bytes.Length >= 20 && random.Next(2) == 0)
            {
                bytes[2] = 0;
                bytes[3] = (byte)random.Next(20, bytes.Length + 1);
            }

            bool withError = Ipv4LikeHeader.TryRead(bytes, out Ipv4LikeHeader.Reader a, out _);
            bool withoutError = Ipv4LikeHeader.TryRead(bytes, out Ipv4LikeHeader.Reader b);
            Assert.Equal(withError, withoutError);
            Assert.True(a.Bytes.SequenceEqual(b.Bytes));
            Assert.Equal(a.HeaderLength, b.HeaderLength);
            accepted += withError ? 1 : 0;
        }

        Assert.InRange(accepted, 1, 4999);
    }
}
