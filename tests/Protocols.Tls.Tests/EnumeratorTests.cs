using Protocols.Wire;

namespace Protocols.Tls.Tests;

public class EnumeratorTests
{
    [Fact]
    public void Records_complete_then_partial()
    {
        byte[] hello = ClientHelloBuilder.Tls13("r.example").BuildHandshakeMessage();
        byte[] flight = [.. TlsFraming.BuildRecords(TlsContentType.Handshake, hello, maxFragmentLength: 100), .. TlsFraming.BuildRecords(TlsContentType.ChangeCipherSpec, [1])];
        int expectedRecords = ((hello.Length + 99) / 100) + 1;

        for (int cut = 0; cut <= flight.Length; cut++)
        {
            var records = new TlsRecordEnumerator(flight.AsSpan(0, cut));
            var handshake = new List<byte>();
            int count = 0;
            while (records.MoveNext())
            {
                TlsRecordHeader.Reader r = records.Current;
                count++;
                if (r.ContentType == TlsContentType.Handshake)
                {
                    handshake.AddRange(r.Payload);
                }
                else
                {
                    Assert.Equal(TlsContentType.ChangeCipherSpec, r.ContentType);
                    Assert.Equal([1], r.Payload.ToArray());
                }
            }

            Assert.True(records.Consumed <= cut);
            if (cut == flight.Length)
            {
                Assert.Equal(expectedRecords, count);
                Assert.False(records.Error.IsError);
                Assert.Equal(hello, handshake.ToArray());
            }
            else if (records.Consumed == cut)
            {
                Assert.False(records.Error.IsError);
            }
            else
            {
                Assert.True(records.NeedsMoreData, records.Error.ToString());
                Assert.Equal(records.Consumed, records.Error.Offset);
            }
        }
    }

    [Fact]
    public void Records_invalid_header_stops()
    {
        byte[] ok = TlsFraming.BuildRecords(TlsContentType.Alert, [2, 40]);
        var records = new TlsRecordEnumerator([.. ok, 99, 3, 3, 0, 0]);
        Assert.True(records.MoveNext());
        Assert.Equal(TlsContentType.Alert, records.Current.ContentType);
        Assert.False(records.MoveNext());
        Assert.False(records.NeedsMoreData);
        Assert.Equal(WireErrorKind.InvalidValue, records.Error.Kind);
        Assert.Equal("ContentType", records.Error.Field);
        Assert.Equal(ok.Length, records.Error.Offset);
        Assert.Equal(ok.Length, records.Consumed);
        Assert.False(records.MoveNext());
    }

    [Fact]
    public void Handshake_messages()
    {
        byte[] client = ClientHelloBuilder.Tls13("h.example").BuildHandshakeMessage();
        byte[] server = ServerHelloBuilder.HelloRetryRequest(TlsNamedGroup.Secp256r1).BuildHandshakeMessage();
        byte[] finished = TlsFraming.WrapHandshake(TlsHandshakeType.Finished, new byte[32]);
        byte[] stream = [.. client, .. server, .. finished, 20, 0];

        var messages = new TlsHandshakeEnumerator(stream);
        var types = new List<TlsHandshakeType>();
        while (messages.MoveNext())
        {
            HandshakeHeader.Reader m = messages.Current;
            types.Add(m.HandshakeType);
            if (m.HandshakeType == TlsHandshakeType.ServerHello)
            {
                Assert.True(ServerHelloReader.TryRead(m.Payload, out ServerHelloReader sh, out WireError e), e.ToString());
                Assert.True(sh.IsHelloRetryRequest);
            }
        }

        Assert.Equal([TlsHandshakeType.ClientHello, TlsHandshakeType.ServerHello, TlsHandshakeType.Finished], types);
        Assert.Equal(stream.Length - 2, messages.Consumed);
        Assert.True(messages.NeedsMoreData);
        Assert.Equal(stream.Length - 2, messages.Error.Offset);
    }

    [Fact]
    public void RandomBytes_never_throw()
    {
        var rng = new Random(10);
        for (int i = 0; i < 20000; i++)
        {
            byte[] bytes = RandomHellos.Bytes(rng, rng.Next(64));
            if (i % 2 == 0 && bytes.Length > 0)
            {
                bytes[0] = (byte)(20 + rng.Next(5));
            }

            var records = new TlsRecordEnumerator(bytes);
            while (records.MoveNext())
            {
                _ = records.Current.Payload.Length;
            }

            var messages = new TlsHandshakeEnumerator(bytes);
            while (messages.MoveNext())
            {
                _ = messages.Current.Payload.Length;
            }

            Assert.InRange(records.Consumed, 0, bytes.Length);
            Assert.InRange(messages.Consumed, 0, bytes.Length);
        }
    }
}
