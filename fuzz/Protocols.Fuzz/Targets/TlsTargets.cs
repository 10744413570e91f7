using Protocols.Tls;
using Protocols.Wire;

namespace Protocols.Fuzz.Targets;

/// <summary>TLS record and handshake framing (RFC 8446 5.1, 4), the hello readers, the record tracer and the ClientHello peek.</summary>
internal static class TlsTargets
{
    private static readonly List<HexAnnotation> Annotations = [];
    private static readonly byte[] Handshake = new byte[64 * 1024];

    /// <summary>
    /// A byte stream of records: every generated TLS reader agrees with itself on it, the record and
    /// handshake enumerators walk contiguous messages and stop with an error or at the end, the hello
    /// readers never throw on a handshake message, and the record tracer follows the stream in pieces.
    /// </summary>
    public static void Records(ReadOnlySpan<byte> input)
    {
        bool ok = TlsRecordHeader.TryRead(input, out TlsRecordHeader.Reader r, out WireError e);
        bool fast = TlsRecordHeader.TryRead(input, out _);
        bool okHeader = TlsRecordHeader.TryReadHeader(input, out TlsRecordHeader.Reader h, out WireError eh);
        ReaderChecks.Agree(TlsRecordHeader.LayerName, TlsRecordHeader.FixedLength, input, fast,
            new(ok, e, r.Bytes, r.HeaderLength, r.DeclaredLength, r.IsTruncated, r.Header, r.Options, r.Payload),
            new(okHeader, eh, h.Bytes, h.HeaderLength, h.DeclaredLength, h.IsTruncated, h.Header, h.Options, h.Payload));
        if (ok)
        {
            Span<byte> written = stackalloc byte[TlsRecordHeader.FixedLength];
            r.ToValue().WriteTo(written);
            ReaderChecks.RoundTrip(TlsRecordHeader.LayerName, input, written);
            Check.True(r.Length <= TlsRecordHeader.MaxCiphertextLength, $"TLS: record of {r.Length} bytes accepted");
            _ = r.ToString();
        }

        // The same bytes as a handshake header and as the start of a hello body.
        ok = HandshakeHeader.TryRead(input, out HandshakeHeader.Reader m, out e);
        fast = HandshakeHeader.TryRead(input, out _);
        okHeader = HandshakeHeader.TryReadHeader(input, out HandshakeHeader.Reader mh, out eh);
        ReaderChecks.Agree(HandshakeHeader.LayerName, HandshakeHeader.FixedLength, input, fast,
            new(ok, e, m.Bytes, m.HeaderLength, m.DeclaredLength, m.IsTruncated, m.Header, m.Options, m.Payload),
            new(okHeader, eh, mh.Bytes, mh.HeaderLength, mh.DeclaredLength, mh.IsTruncated, mh.Header, mh.Options, mh.Payload));
        if (ok)
        {
            Span<byte> written = stackalloc byte[HandshakeHeader.FixedLength];
            m.ToValue().WriteTo(written);
            ReaderChecks.RoundTrip(HandshakeHeader.LayerName, input, written);
        }

        ok = TlsHelloPrefix.TryRead(input, out TlsHelloPrefix.Reader p, out e);
        fast = TlsHelloPrefix.TryRead(input, out _);
        okHeader = TlsHelloPrefix.TryReadHeader(input, out TlsHelloPrefix.Reader ph, out eh);
        ReaderChecks.Agree(TlsHelloPrefix.LayerName, TlsHelloPrefix.FixedLength, input, fast,
            new(ok, e, p.Bytes, p.HeaderLength, p.DeclaredLength, p.IsTruncated, p.Header, p.Options, p.Payload),
            new(okHeader, eh, ph.Bytes, ph.HeaderLength, ph.DeclaredLength, ph.IsTruncated, ph.Header, ph.Options, ph.Payload));
        if (ok)
        {
            Span<byte> written = stackalloc byte[TlsHelloPrefix.FixedLength];
            p.ToValue().WriteTo(written);
            ReaderChecks.RoundTrip(TlsHelloPrefix.LayerName, input, written);
            Check.Equal(input.Slice(2, 32), p.RandomBytes, "TLS: hello random");
        }

        // The records, one after the other; handshake payloads gathered for the message walk.
        var records = new TlsRecordEnumerator(input);
        int end = 0;
        int handshakeLength = 0;
        while (records.MoveNext())
        {
            TlsRecordHeader.Reader record = records.Current;
            Check.True(input.Overlaps(record.Bytes, out int at) && at == end, $"TLS: record at {at}, expected at {end}");
            end += record.Bytes.Length;
            Check.Equal(end, records.Consumed, "TLS: consumed bytes");
            Annotations.Clear();
            TlsRecordHeader.Annotate(record.Header, 0, Annotations);
            if (record.ContentType == TlsContentType.Handshake && handshakeLength + record.Payload.Length <= Handshake.Length)
            {
                record.Payload.CopyTo(Handshake.AsSpan(handshakeLength));
                handshakeLength += record.Payload.Length;
            }
        }

        Check.True(records.Error.IsError || end == input.Length, $"TLS: the record walk stopped at {end} of {input.Length} without an error");
        Check.True(!records.Error.IsError || records.Error.Offset >= end, $"TLS: record error {records.Error} before the end of the last record at {end}");
        Messages(Handshake.AsSpan(0, handshakeLength));

        // The tracer sees the stream in two pieces, in each direction.
        int split = input.IsEmpty ? 0 : input[0] % (input.Length + 1);
        foreach (TlsTraceDirection direction in (ReadOnlySpan<TlsTraceDirection>)[TlsTraceDirection.Sent, TlsTraceDirection.Received])
        {
            var trace = new TlsConnectionTrace();
            int events = 0;
            var parser = new TlsRecordParser(direction, trace, _ => events++);
            parser.Feed(input[..split]);
            parser.Feed(input[split..]);
            Check.True(events <= (input.Length / TlsRecordHeader.FixedLength) + 1, $"TLS: {events} record events from {input.Length} bytes");
            _ = trace.ServerName;
        }
    }

    /// <summary>Handshake messages (RFC 8446 4): contiguous, and each hello reads without throwing.</summary>
    private static void Messages(ReadOnlySpan<byte> handshake)
    {
        var messages = new TlsHandshakeEnumerator(handshake);
        int end = 0;
        while (messages.MoveNext())
        {
            HandshakeHeader.Reader message = messages.Current;
            Check.True(handshake.Overlaps(message.Bytes, out int at) && at == end, $"TLS: handshake message at {at}, expected at {end}");
            end += message.Bytes.Length;
            Check.Equal((long)message.Length, message.Payload.Length, "TLS: handshake body length");
            switch (message.HandshakeType)
            {
                case TlsHandshakeType.ClientHello:
                    ClientHello(message.Payload);
                    break;
                case TlsHandshakeType.ServerHello:
                    ServerHello(message.Payload);
                    break;
            }
        }

        Check.True(messages.Error.IsError || end == handshake.Length, $"TLS: the handshake walk stopped at {end} of {handshake.Length} without an error");
    }

    private static void ClientHello(ReadOnlySpan<byte> body)
    {
        if (!ClientHelloReader.TryRead(body, out ClientHelloReader hello, out WireError error))
        {
            Check.True(error.IsError, "TLS: refused ClientHello without an error");
            return;
        }

        Check.True(Check.Within(body, hello.LegacySessionId) && hello.LegacySessionId.Length <= 32, "TLS: session id");
        Check.True(hello.CipherSuiteBytes.Length % 2 == 0 && hello.CompressionMethods.Length >= 1, "TLS: cipher suites and compression methods");
        foreach (TlsCipherSuite suite in hello.CipherSuites)
        {
            _ = suite;
        }

        _ = hello.TryGetServerNameString(out _, out _);
        if (hello.TryGetAlpn(out TlsAlpnList alpn, out _))
        {
            Check.Equal(alpn.Count, alpn.ToStrings().Length, "TLS: ALPN count");
        }

        _ = hello.TryGetSupportedVersions(out _, out _);
        _ = hello.TryGetSupportedGroups(out _, out _);
        _ = hello.TryGetSignatureAlgorithms(out _, out _);
        if (hello.TryGetKeyShares(out TlsKeyShareList shares, out _))
        {
            int n = 0;
            foreach (TlsKeyShareEntry share in shares)
            {
                Check.True(Check.Within(body, share.KeyExchange), "TLS: key share outside the hello");
                n++;
            }

            Check.Equal(shares.Count, n, "TLS: key share count");
        }
    }

    private static void ServerHello(ReadOnlySpan<byte> body)
    {
        if (!ServerHelloReader.TryRead(body, out ServerHelloReader hello, out WireError error))
        {
            Check.True(error.IsError, "TLS: refused ServerHello without an error");
            return;
        }

        Check.True(hello.LegacySessionIdEcho.Length <= 32, "TLS: session id echo");
        _ = hello.NegotiatedVersion;
        _ = hello.DowngradeSentinel;
        _ = hello.IsHelloRetryRequest;
        _ = hello.ToString();
    }

    /// <summary>
    /// The first bytes of a connection, as a router peeks at them (RFC 8446 4.1.2, RFC 6066 3,
    /// RFC 7301 3.1): Complete, NeedMoreData and Malformed keep their promises (a complete hello's
    /// every prefix asks for more and never calls it malformed; malformed stays malformed whatever
    /// follows), a complete hello rebuilt from what was read parses to the same, and the peek
    /// stream hands every byte on unchanged.
    /// </summary>
    public static void ClientHelloPeek(ReadOnlySpan<byte> input)
    {
        TlsClientHelloStatus status = TlsClientHelloInfo.TryParse(input, out TlsClientHelloInfo? info, out int required, out WireError error);
        switch (status)
        {
            case TlsClientHelloStatus.Complete:
                Check.True(info is not null && !error.IsError, "TLS peek: Complete without the hello");
                Check.True(required > 0 && required <= input.Length, $"TLS peek: Complete consumed {required} of {input.Length} bytes");
                Check.Equal(required, info!.Length, "TLS peek: bytes consumed and the hello's records");
                Check.True(info.RecordCount >= 1 && info.RecordCount * (TlsFraming.RecordHeaderLength + 1) <= required, $"TLS peek: {info.RecordCount} records in {required} bytes");
                foreach (int k in (ReadOnlySpan<int>)[required - 1, required / 2, TlsFraming.RecordHeaderLength, 1, 0])
                {
                    if (k >= 0 && k < required)
                    {
                        TlsClientHelloStatus prefix = TlsClientHelloInfo.TryParse(input[..k], out _, out int need, out WireError prefixError);
                        Check.Equal(TlsClientHelloStatus.NeedMoreData, prefix, $"TLS peek: the first {k} bytes of a complete hello ({prefixError})");
                        Check.True(need > k && need <= required, $"TLS peek: the first {k} bytes of a {required}-byte hello ask for {need}");
                    }
                }

                _ = info.ToString();
                Rebuild(info);
                break;
            case TlsClientHelloStatus.NeedMoreData:
                Check.True(info is null && required > input.Length, $"TLS peek: NeedMoreData asks for {required} with {input.Length} bytes");
                Check.True(error.Kind == WireErrorKind.TooShort && error.Source == LengthSource.Buffer, $"TLS peek: NeedMoreData with {error}");
                break;
            default:
                Check.True(info is null && error.IsError, "TLS peek: Malformed without an error");
                byte[] longer = new byte[input.Length + 64];
                input.CopyTo(longer);
                Check.Equal(TlsClientHelloStatus.Malformed, TlsClientHelloInfo.TryParse(longer, out _, out _, out _), $"TLS peek: more bytes cured a malformed hello ({error})");
                break;
        }

        Peek(input, status);
    }

    /// <summary>RFC 8446 4.1.2: a hello built from the values read parses to the same values.</summary>
    private static void Rebuild(TlsClientHelloInfo info)
    {
        var builder = new ClientHelloBuilder
        {
            LegacyVersion = info.LegacyVersion,
            CipherSuites = [.. info.CipherSuites],
            ServerName = info.ServerName,
            ApplicationProtocols = [.. info.ApplicationProtocols],
        };
        bool versionsExtension = info.OfferedVersions.Count != 1 || info.OfferedVersions[0] != info.LegacyVersion;
        if (versionsExtension)
        {
            builder.SupportedVersions = [.. info.OfferedVersions];
        }

        byte[] records = builder.BuildRecords(info.RecordVersion);
        Check.Equal(TlsClientHelloStatus.Complete, TlsClientHelloInfo.TryParse(records, out TlsClientHelloInfo? again, out _, out WireError error), $"TLS peek: a rebuilt hello ({error})");
        Check.Equal(info.ServerName, again!.ServerName, "TLS peek: rebuilt server name");
        Check.Equal(string.Join(",", info.ApplicationProtocols), string.Join(",", again.ApplicationProtocols), "TLS peek: rebuilt ALPN");
        Check.Equal(string.Join(",", info.CipherSuites), string.Join(",", again.CipherSuites), "TLS peek: rebuilt cipher suites");
        if (versionsExtension)
        {
            Check.Equal(string.Join(",", info.OfferedVersions), string.Join(",", again.OfferedVersions), "TLS peek: rebuilt versions");
        }
    }

    /// <summary>The peek stream finds the hello or fails with a typed problem, and reading after a successful peek yields the input unchanged.</summary>
    private static void Peek(ReadOnlySpan<byte> input, TlsClientHelloStatus status)
    {
        byte[] bytes = input.ToArray();
        using var stream = new TlsClientHelloPeekStream(new MemoryStream(bytes, writable: false));
        try
        {
            TlsClientHelloInfo found = stream.PeekClientHelloAsync().AsTask().GetAwaiter().GetResult();
            Check.True(status != TlsClientHelloStatus.NeedMoreData, "TLS peek: the stream found a hello in bytes that need more");
            _ = found.ServerName;
        }
        catch (TlsClientHelloException e)
        {
            Check.True(e.Problem is TlsClientHelloProblem.Malformed or TlsClientHelloProblem.Truncated or TlsClientHelloProblem.TooLarge, $"TLS peek: problem {e.Problem}");
            Check.True(status != TlsClientHelloStatus.Complete || e.Problem != TlsClientHelloProblem.Truncated, "TLS peek: a complete hello reported truncated");
            return;
        }

        var copy = new MemoryStream();
        stream.CopyTo(copy);
        Check.Equal((ReadOnlySpan<byte>)bytes, copy.ToArray(), "TLS peek: bytes read after the peek");
    }
}
