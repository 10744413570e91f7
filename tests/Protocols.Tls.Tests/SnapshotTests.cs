using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tls.Tests;

/// <summary>Golden annotated dumps (shared/SNAPSHOTS.md): generated header annotations plus per-field and per-extension hello annotations.</summary>
public class SnapshotTests
{
    private static TlsRandom CountingRandom(byte start)
    {
        byte[] r = new byte[TlsRandom.Length];
        for (int i = 0; i < r.Length; i++)
        {
            r[i] = (byte)(start + i);
        }

        return TlsRandom.From(r);
    }

    /// <summary>A flight of one record holding one handshake message, annotated layer by layer.</summary>
    private static string Dump(byte[] flight, bool client)
    {
        var annotations = new List<HexAnnotation>();
        TlsRecordHeader.Annotate(flight, 0, annotations);
        HandshakeHeader.Annotate(flight.AsSpan(5), 5, annotations);
        if (client)
        {
            TlsAnnotations.AnnotateClientHello(flight.AsSpan(9), 9, annotations);
        }
        else
        {
            TlsAnnotations.AnnotateServerHello(flight.AsSpan(9), 9, annotations);
        }

        return HexDump.Annotated(flight, annotations);
    }

    [Fact]
    public void Record_header()
    {
        byte[] header = new byte[TlsRecordHeader.FixedLength];
        new TlsRecordHeader { ContentType = TlsContentType.Handshake, LegacyRecordVersion = TlsVersion.Tls10, Length = 512 }.WriteTo(header);
        var annotations = new List<HexAnnotation>();
        TlsRecordHeader.Annotate(header, 0, annotations);
        Snapshot.Match(HexDump.Annotated(header, annotations));
    }

    [Fact]
    public void HandshakeHeader_ClientHello()
    {
        byte[] header = new byte[HandshakeHeader.FixedLength];
        TlsFraming.WriteHandshakeHeader(header, TlsHandshakeType.ClientHello, 0x01_02_03);
        var annotations = new List<HexAnnotation>();
        HandshakeHeader.Annotate(header, 0, annotations);
        Snapshot.Match(HexDump.Annotated(header, annotations));
    }

    [Fact]
    public void Built_ClientHello()
    {
        ClientHelloBuilder b = ClientHelloBuilder.Tls13("www.example.com", CountingRandom(0));
        b.LegacySessionId = [.. Enumerable.Range(0xe0, 32).Select(i => (byte)i)];
        b.AdditionalExtensions.Add((TlsExtensionType.PskKeyExchangeModes, [1, 1]));
        Snapshot.Match(Dump(b.BuildRecords(), client: true));
    }

    [Fact]
    public void Built_ServerHello()
    {
        var b = new ServerHelloBuilder
        {
            Random = CountingRandom(0x40),
            LegacySessionIdEcho = [.. Enumerable.Range(0xe0, 32).Select(i => (byte)i)],
            CipherSuite = TlsCipherSuite.TlsAes128GcmSha256,
            SelectedVersion = TlsVersion.Tls13,
            KeyShare = (TlsNamedGroup.X25519, [.. Enumerable.Range(0x80, 32).Select(i => (byte)i)]),
        };
        Snapshot.Match(Dump(b.BuildRecords(), client: false));
    }

    [Fact]
    public void OpenSSL_ClientHello() => Snapshot.Match(Dump(Fixtures.Load("openssl_client_hello"), client: true));

    [Fact]
    public void OpenSSL_hello_retry_request() => Snapshot.Match(Dump(Fixtures.Load("openssl_hello_retry_request"), client: false));
}
