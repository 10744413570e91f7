namespace Protocols.Tls;

/// <summary>
/// What a <see cref="TlsTracingStream"/> has learned about its connection so far: the hellos'
/// contents, the negotiated version and cipher, alerts, and byte counts. Updated by the reading
/// and the writing side (each its own fields); safe to read from any thread.
/// </summary>
public sealed class TlsConnectionTrace
{
    private readonly Lock _lock = new();
    private string? _serverName;
    private string[] _offeredProtocols = [];
    private TlsVersion[] _offeredVersions = [];
    private byte[]? _clientRandom;
    private TlsVersion? _version;
    private ushort? _cipherSuite;
    private string? _selectedProtocol;
    private bool _helloRetry;
    private TlsTraceDirection? _clientHelloDirection;
    private bool _clientSentApplicationData;

    /// <summary>The SNI host name of the ClientHello seen (either direction), if any.</summary>
    public string? ServerName
    {
        get
        {
            lock (_lock)
            {
                return _serverName;
            }
        }
    }

    /// <summary>The ALPN protocols the ClientHello offered.</summary>
    public IReadOnlyList<string> OfferedApplicationProtocols
    {
        get
        {
            lock (_lock)
            {
                return _offeredProtocols;
            }
        }
    }

    /// <summary>The versions the ClientHello offered.</summary>
    public IReadOnlyList<TlsVersion> OfferedVersions
    {
        get
        {
            lock (_lock)
            {
                return _offeredVersions;
            }
        }
    }

    /// <summary>The ClientHello's 32-byte random (the key log's lookup key), or null before it was seen.</summary>
    public ReadOnlyMemory<byte>? ClientRandom
    {
        get
        {
            lock (_lock)
            {
                return _clientRandom;
            }
        }
    }

    /// <summary>The version the ServerHello selected, or null before it was seen.</summary>
    public TlsVersion? NegotiatedVersion
    {
        get
        {
            lock (_lock)
            {
                return _version;
            }
        }
    }

    /// <summary>The cipher suite the ServerHello selected (IANA number), or null.</summary>
    public ushort? CipherSuite
    {
        get
        {
            lock (_lock)
            {
                return _cipherSuite;
            }
        }
    }

    /// <summary>The ALPN protocol the ServerHello selected (visible in TLS 1.2 only; TLS 1.3 encrypts it).</summary>
    public string? SelectedApplicationProtocol
    {
        get
        {
            lock (_lock)
            {
                return _selectedProtocol;
            }
        }
    }

    /// <summary>True when the server answered with a HelloRetryRequest.</summary>
    public bool SawHelloRetryRequest
    {
        get
        {
            lock (_lock)
            {
                return _helloRetry;
            }
        }
    }

    /// <summary>Statistics of the records this side wrote.</summary>
    public TlsDirectionStatistics Sent { get; } = new();

    /// <summary>Statistics of the records read from the peer.</summary>
    public TlsDirectionStatistics Received { get; } = new();

    /// <summary>True once a read of the underlying stream returned end of stream (the peer's FIN).</summary>
    public bool PeerClosed { get; internal set; }

    /// <summary>The exception a read or write of the underlying stream threw, if any.</summary>
    public Exception? TransportError { get; internal set; }

    /// <summary>"TLS 1.3 TLS_AES_256_GCM_SHA384" once known, else "TLS (not negotiated)".</summary>
    public override string ToString() =>
        NegotiatedVersion is TlsVersion v
            ? $"{TlsRecordEvent.VersionName(v)} {(CipherSuite is ushort s ? TlsRecordEvent.CipherSuiteName(s) : "?")}"
            : "TLS (not negotiated)";

    /// <summary>
    /// TLS 1.3 only: whether an application data record in <paramref name="direction"/> is still
    /// part of the handshake. The server's records are, until the client sent its first protected
    /// record (its Finished, RFC 8446 4.4.4); the client's first protected record is its Finished.
    /// </summary>
    internal bool IsEncryptedHandshake(TlsTraceDirection direction)
    {
        lock (_lock)
        {
            if (_version != TlsVersion.Tls13 || _clientHelloDirection is not TlsTraceDirection client)
            {
                return false;
            }

            if (direction == client)
            {
                bool first = !_clientSentApplicationData;
                _clientSentApplicationData = true;
                return first;
            }

            return !_clientSentApplicationData;
        }
    }

    internal void OnClientHello(TlsTraceDirection direction, string? serverName, string[] protocols, TlsVersion[] versions, byte[] random)
    {
        lock (_lock)
        {
            _clientHelloDirection = direction;
            _serverName = serverName;
            _offeredProtocols = protocols;
            _offeredVersions = versions;
            _clientRandom = random;
        }
    }

    internal void OnServerHello(TlsVersion version, ushort suite, string? alpn, bool helloRetry)
    {
        lock (_lock)
        {
            if (helloRetry)
            {
                _helloRetry = true;
                return;
            }

            _version = version;
            _cipherSuite = suite;
            _selectedProtocol ??= alpn;
        }
    }
}

/// <summary>Counts of one direction of a traced TLS connection.</summary>
public sealed class TlsDirectionStatistics
{
    private long _bytes;
    private long _records;
    private long _applicationDataRecords;
    private long _applicationDataBytes;
    private int _lastAlert = -1;

    /// <summary>Bytes that went through (records, headers included).</summary>
    public long Bytes => Interlocked.Read(ref _bytes);

    /// <summary>Complete records.</summary>
    public long Records => Interlocked.Read(ref _records);

    /// <summary>Application data records (in TLS 1.3 also the encrypted handshake).</summary>
    public long ApplicationDataRecords => Interlocked.Read(ref _applicationDataRecords);

    /// <summary>Payload bytes of the application data records (ciphertext, with the AEAD tag).</summary>
    public long ApplicationDataBytes => Interlocked.Read(ref _applicationDataBytes);

    /// <summary>The last plaintext alert description, or null.</summary>
    public TlsAlertDescription? LastAlert => Volatile.Read(ref _lastAlert) is int a and >= 0 ? (TlsAlertDescription)a : null;

    /// <summary>True once the bytes stopped looking like TLS (a bad record header), after which nothing more is decoded.</summary>
    public bool NotTls { get; internal set; }

    internal void AddBytes(int count) => Interlocked.Add(ref _bytes, count);

    internal void AddRecord(TlsContentType type, int length)
    {
        Interlocked.Increment(ref _records);
        if (type == TlsContentType.ApplicationData)
        {
            Interlocked.Increment(ref _applicationDataRecords);
            Interlocked.Add(ref _applicationDataBytes, length);
        }
    }

    internal void SetAlert(TlsAlertDescription description) => Volatile.Write(ref _lastAlert, (int)description);
}
