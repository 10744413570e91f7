using Protocols.Wire;

namespace Protocols.Tls.Tests;

/// <summary>The generated record/handshake/prefix headers as declared for TLS, and the zero-allocation read path.</summary>
public class HeaderTests
{
    [Fact]
    public void Record_header_ValueForm()
    {
        byte[] bytes = Fixtures.Load("openssl_client_hello");
        TlsRecordHeader h = TlsRecordHeader.Read(bytes);
        Assert.Equal(TlsContentType.Handshake, h.ContentType);
        Assert.Equal(TlsVersion.Tls10, h.LegacyRecordVersion);
        Assert.Equal(330, h.Length);
        Assert.Equal("TLS ContentType=Handshake LegacyRecordVersion=Tls10 Length=330", h.ToString());
        Assert.Equal(5, TlsRecordHeader.FixedLength);

        byte[] written = new byte[5];
        Assert.Equal(5, h.WriteTo(written));
        Assert.Equal(bytes[..5], written);
    }

    [Fact]
    public void Record_header_limits()
    {
        // RFC 8446 5.2: 2^14 + 256 is the largest accepted length.
        byte[] max = [23, 3, 3, 0x41, 0x00, .. new byte[16640]];
        Assert.True(TlsRecordHeader.TryRead(max, out TlsRecordHeader.Reader r, out WireError e), e.ToString());
        Assert.Equal(16640, r.Payload.Length);

        max[4] = 0x01;
        Assert.False(TlsRecordHeader.TryRead(max, out _, out e));
        Assert.Equal(WireErrorKind.InvalidValue, e.Kind);
        Assert.Equal("Length", e.Field);
        Assert.Equal(16641, e.Actual);
        Assert.Equal(16640, e.Required); // above the maximum: Required is the maximum

        // RFC 8446 5: content types outside 20..24 are rejected; Required is the bound crossed.
        Assert.False(TlsRecordHeader.TryRead([25, 3, 3, 0, 0], out _, out e));
        Assert.Equal(WireError.InvalidValue("TLS", "ContentType", 24, 25, 0), e);
        Assert.False(TlsRecordHeader.TryRead([19, 3, 3, 0, 0], out _, out e));
        Assert.Equal(WireError.InvalidValue("TLS", "ContentType", 20, 19, 0), e);
        Assert.True(TlsRecordHeader.TryRead([24, 3, 3, 0, 0], out _, out e), e.ToString());
    }

    [Fact]
    public void HandshakeHeader_24_bit_length()
    {
        byte[] message = TlsFraming.WrapHandshake(TlsHandshakeType.Certificate, new byte[70000]);
        Assert.True(HandshakeHeader.TryRead(message, out HandshakeHeader.Reader r, out WireError e), e.ToString());
        Assert.Equal(TlsHandshakeType.Certificate, r.HandshakeType);
        Assert.Equal(70000u, r.Length);
        Assert.Equal(70000, r.Payload.Length);
        Assert.Equal([11, 0x01, 0x11, 0x70], message[..4]);
    }

    [Fact]
    public void Hello_prefix_generated()
    {
        (_, _, byte[] body) = Fixtures.Split(Fixtures.Load("openssl_server_hello"));
        Assert.True(ServerHelloReader.TryRead(body, out ServerHelloReader hello, out WireError e), e.ToString());
        Assert.Equal(TlsVersion.Tls12, hello.Prefix.LegacyVersion);
        Assert.Equal(hello.Random.ToArray(), hello.Prefix.RandomBytes.ToArray());
        TlsRandom random = hello.Prefix.Random;
        Assert.Equal(Convert.ToHexStringLower(hello.Random), random.ToString());
        Assert.Equal(34, TlsHelloPrefix.FixedLength);
    }

    [Fact]
    public void ClientHello_parse_allocates_nothing()
    {
        byte[] bytes = Fixtures.Load("dotnet_client_hello");
        byte[] body = bytes[9..];
        int sum = Walk(body); // warm up (JIT)
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 100; i++)
        {
            sum += Walk(body);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(0, allocated);
        Assert.True(sum > 0);

        static int Walk(byte[] body)
        {
            if (!ClientHelloReader.TryRead(body, out ClientHelloReader hello, out _)
                || !hello.TryGetServerName(out ReadOnlySpan<byte> host, out _)
                || !hello.TryGetAlpn(out TlsAlpnList alpn, out _)
                || !hello.TryGetSupportedVersions(out TlsUInt16List<TlsVersion> versions, out _))
            {
                return 0;
            }

            int n = host.Length;
            foreach (ReadOnlySpan<byte> p in alpn)
            {
                n += p.Length;
            }

            foreach (TlsVersion v in versions)
            {
                n += (int)v;
            }

            foreach (TlsCipherSuite s in hello.CipherSuites)
            {
                n += (int)s;
            }

            foreach (TlsExtension e in hello.Extensions)
            {
                n += e.Data.Length;
            }

            return n;
        }
    }
}
