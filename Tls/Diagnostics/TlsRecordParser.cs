using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>
/// Follows one direction of a TLS byte stream, record by record, without changing it: bytes go in
/// in whatever pieces the transport gives; an event comes out per complete record. Plaintext
/// handshake records are reassembled into messages (RFC 8446 5.1 allows any fragmentation and
/// several messages per record) and hellos and alerts decoded. Buffers are bounded: one record
/// (2^14 + 256 bytes, RFC 8446 5.2) and <see cref="MaxHandshakeBytes"/> of handshake messages; past
/// the bound, or on bytes that are not TLS, the parser stops decoding and only counts bytes.
/// Not thread-safe: one parser per direction, fed by one caller at a time.
/// </summary>
internal sealed class TlsRecordParser
{
    /// <summary>The most plaintext handshake bytes kept while a message is incomplete.</summary>
    public const int MaxHandshakeBytes = 256 * 1024;

    private readonly TlsTraceDirection _direction;
    private readonly TlsConnectionTrace _trace;
    private readonly TlsDirectionStatistics _statistics;
    private readonly Action<TlsRecordEvent>? _sink;
    private readonly byte[] _header = new byte[TlsFraming.RecordHeaderLength];
    private int _headerFilled;
    private int _remaining;
    private byte[]? _payload;
    private int _payloadFilled;
    private bool _keepPayload;
    private byte[]? _handshake;
    private int _handshakeFilled;
    private bool _encrypted;
    private bool _stopped;

    public TlsRecordParser(TlsTraceDirection direction, TlsConnectionTrace trace, Action<TlsRecordEvent>? sink)
    {
        _direction = direction;
        _trace = trace;
        _statistics = direction == TlsTraceDirection.Sent ? trace.Sent : trace.Received;
        _sink = sink;
    }

    /// <summary>True once the parser gave up (not TLS, or a bound was passed).</summary>
    public bool Stopped => _stopped;

    /// <summary>Feeds the next bytes of the direction.</summary>
    public void Feed(ReadOnlySpan<byte> data)
    {
        _statistics.AddBytes(data.Length);
        while (!data.IsEmpty && !_stopped)
        {
            if (_headerFilled < _header.Length)
            {
                int n = Math.Min(_header.Length - _headerFilled, data.Length);
                data[..n].CopyTo(_header.AsSpan(_headerFilled));
                _headerFilled += n;
                data = data[n..];
                if (_headerFilled < _header.Length)
                {
                    return;
                }

                StartRecord();
                if (_stopped)
                {
                    return;
                }

                if (_remaining == 0)
                {
                    EndRecord();
                }

                continue;
            }

            int take = Math.Min(_remaining, data.Length);
            if (_keepPayload)
            {
                data[..take].CopyTo(_payload.AsSpan(_payloadFilled));
                _payloadFilled += take;
            }

            _remaining -= take;
            data = data[take..];
            if (_remaining == 0)
            {
                EndRecord();
            }
        }
    }

    private void StartRecord()
    {
        var type = (TlsContentType)_header[0];
        int length = (_header[3] << 8) | _header[4];

        // RFC 8446 5.1 content types; 5.2 the length limit (2^14 + 256). Anything else is not TLS.
        if (type is < TlsContentType.ChangeCipherSpec or > TlsContentType.Heartbeat || length > TlsRecordHeader.MaxCiphertextLength)
        {
            _stopped = true;
            _statistics.NotTls = true;
            Emit(new TlsRecordEvent
            {
                Direction = _direction,
                ContentType = type,
                Length = length,
                Error = type is < TlsContentType.ChangeCipherSpec or > TlsContentType.Heartbeat
                    ? $"record content type {_header[0]} (first bytes {Convert.ToHexString(_header)})"
                    : $"record length {length} > {TlsRecordHeader.MaxCiphertextLength}",
            });
            return;
        }

        _remaining = length;
        _payloadFilled = 0;
        _keepPayload = !_encrypted && type is TlsContentType.Handshake or TlsContentType.Alert;
        if (_keepPayload)
        {
            _payload ??= new byte[TlsRecordHeader.MaxCiphertextLength];
        }
    }

    private void EndRecord()
    {
        var type = (TlsContentType)_header[0];
        var version = (TlsVersion)((_header[1] << 8) | _header[2]);
        int length = (_header[3] << 8) | _header[4];
        _headerFilled = 0;
        _statistics.AddRecord(type, length);
        TlsRecordEvent record = new()
        {
            Direction = _direction,
            ContentType = type,
            RecordVersion = version,
            Length = length,
            IsEncrypted = type == TlsContentType.ApplicationData || (_encrypted && type is TlsContentType.Handshake or TlsContentType.Alert),
            IsEncryptedHandshake = type == TlsContentType.ApplicationData && _trace.IsEncryptedHandshake(_direction),
        };

        if (_keepPayload)
        {
            ReadOnlySpan<byte> payload = _payload.AsSpan(0, _payloadFilled);
            if (type == TlsContentType.Alert)
            {
                record = DecodeAlert(record, payload);
            }
            else
            {
                record = DecodeHandshake(record, payload);
            }
        }

        if (type == TlsContentType.ChangeCipherSpec && _trace.NegotiatedVersion != TlsVersion.Tls13)
        {
            // RFC 5246 7.1: everything this side sends after ChangeCipherSpec is protected. (TLS 1.3
            // sends it only for middlebox compatibility, RFC 8446 D.4, and protects by record type.)
            _encrypted = true;
        }

        Emit(record);
    }

    private TlsRecordEvent DecodeAlert(TlsRecordEvent record, ReadOnlySpan<byte> payload)
    {
        // RFC 8446 6: struct { AlertLevel level; AlertDescription description; }. A protected alert
        // (TLS 1.2 after ChangeCipherSpec) is longer than two bytes and cannot be read.
        if (payload.Length != 2)
        {
            return new TlsRecordEvent { Direction = record.Direction, ContentType = record.ContentType, RecordVersion = record.RecordVersion, Length = record.Length, IsEncrypted = true };
        }

        var description = (TlsAlertDescription)payload[1];
        if ((TlsAlertLevel)payload[0] == TlsAlertLevel.Fatal || description != TlsAlertDescription.CloseNotify)
        {
            _statistics.SetAlert(description);
        }

        return new TlsRecordEvent
        {
            Direction = record.Direction,
            ContentType = record.ContentType,
            RecordVersion = record.RecordVersion,
            Length = record.Length,
            AlertLevel = (TlsAlertLevel)payload[0],
            AlertDescription = description,
        };
    }

    private TlsRecordEvent DecodeHandshake(TlsRecordEvent record, ReadOnlySpan<byte> payload)
    {
        if (_handshakeFilled + payload.Length > MaxHandshakeBytes)
        {
            _stopped = true;
            return record;
        }

        _handshake ??= new byte[Math.Max(4096, payload.Length)];
        if (_handshakeFilled + payload.Length > _handshake.Length)
        {
            Array.Resize(ref _handshake, Math.Min(MaxHandshakeBytes, Math.Max(_handshake.Length * 2, _handshakeFilled + payload.Length)));
        }

        payload.CopyTo(_handshake.AsSpan(_handshakeFilled));
        _handshakeFilled += payload.Length;

        var messages = new List<TlsHandshakeType>();
        string? serverName = null;
        string[] protocols = [];
        TlsVersion[] offered = [];
        TlsVersion? negotiated = null;
        ushort? suite = null;
        bool helloRetry = false;
        string? error = null;

        var enumerator = new TlsHandshakeEnumerator(_handshake.AsSpan(0, _handshakeFilled));
        while (enumerator.MoveNext())
        {
            HandshakeHeader.Reader message = enumerator.Current;
            messages.Add(message.HandshakeType);
            switch (message.HandshakeType)
            {
                case TlsHandshakeType.ClientHello:
                    if (TryDescribeClientHello(message.Payload, out serverName, out protocols, out offered, out WireError helloError))
                    {
                        break;
                    }

                    error = $"ClientHello: {helloError}";
                    break;
                case TlsHandshakeType.ServerHello:
                    if (ServerHelloReader.TryRead(message.Payload, out ServerHelloReader hello, out WireError serverError))
                    {
                        helloRetry = hello.IsHelloRetryRequest;
                        negotiated = hello.NegotiatedVersion;
                        suite = (ushort)hello.CipherSuite;
                        string? alpn = null;
                        if (hello.TryGetExtension(TlsExtensionType.ApplicationLayerProtocolNegotiation, out ReadOnlySpan<byte> alpnData)
                            && TlsExtensionDecoder.TryReadSelectedAlpn(alpnData, out ReadOnlySpan<byte> selected, out _))
                        {
                            alpn = System.Text.Encoding.ASCII.GetString(selected);
                            protocols = [alpn];
                        }

                        _trace.OnServerHello(negotiated.Value, suite.Value, alpn, helloRetry);
                        if (!helloRetry && negotiated == TlsVersion.Tls13)
                        {
                            // RFC 8446 2: everything after the ServerHello is protected.
                            _encrypted = true;
                        }
                    }
                    else
                    {
                        error = $"ServerHello: {serverError}";
                    }

                    break;
            }
        }

        // Keep only the incomplete tail for the next record.
        int consumed = enumerator.Consumed;
        if (!enumerator.NeedsMoreData && consumed < _handshakeFilled)
        {
            // A malformed handshake header: decoding cannot resynchronise.
            _stopped = true;
            error ??= enumerator.Error.ToString();
        }

        _handshake.AsSpan(consumed, _handshakeFilled - consumed).CopyTo(_handshake);
        _handshakeFilled -= consumed;

        return new TlsRecordEvent
        {
            Direction = record.Direction,
            ContentType = record.ContentType,
            RecordVersion = record.RecordVersion,
            Length = record.Length,
            HandshakeMessages = messages,
            ServerName = serverName,
            ApplicationProtocols = protocols,
            OfferedVersions = offered,
            NegotiatedVersion = negotiated,
            CipherSuite = suite,
            IsHelloRetryRequest = helloRetry,
            Error = error,
        };
    }

    private bool TryDescribeClientHello(ReadOnlySpan<byte> body, out string? serverName, out string[] protocols, out TlsVersion[] offered, out WireError error)
    {
        serverName = null;
        protocols = [];
        offered = [];
        if (!ClientHelloReader.TryRead(body, out ClientHelloReader hello, out error)
            || !hello.TryGetServerNameString(out serverName, out error)
            || !hello.TryGetAlpn(out TlsAlpnList alpn, out error)
            || !hello.TryGetSupportedVersions(out TlsUInt16List<TlsVersion> versions, out error))
        {
            return false;
        }

        protocols = alpn.ToStrings();
        offered = hello.TryGetExtension(TlsExtensionType.SupportedVersions, out _) ? versions.ToArray() : [hello.LegacyVersion];
        _trace.OnClientHello(_direction, serverName, protocols, offered, hello.Random.ToArray());
        return true;
    }

    private void Emit(TlsRecordEvent record) => _sink?.Invoke(record);
}
