namespace Protocols.Tls.Tests.Security;

public sealed class TracingTests
{
    [Fact]
    public void Records_fed_one_byte_at_a_time_decode_like_whole_ones()
    {
        byte[] client = ClientHelloBuilder.Tls13("trace.test").BuildRecords(maxFragmentLength: 100);
        byte[] server = new ServerHelloBuilder { CipherSuite = TlsCipherSuite.TlsAes128GcmSha256, SelectedVersion = TlsVersion.Tls13, KeyShare = (TlsNamedGroup.X25519, new byte[32]) }.BuildRecords();
        byte[] rest = [.. TlsFraming.BuildRecords(TlsContentType.ChangeCipherSpec, [1]), .. TlsFraming.BuildRecords(TlsContentType.ApplicationData, new byte[300], TlsVersion.Tls12)];

        List<TlsRecordEvent> whole = Run(client, [.. server, .. rest], chunk: int.MaxValue, out TlsConnectionTrace trace);
        List<TlsRecordEvent> bytewise = Run(client, [.. server, .. rest], chunk: 1, out _);
        Assert.Equal(whole.Select(e => e.ToString()), bytewise.Select(e => e.ToString()));

        Assert.Equal("trace.test", trace.ServerName);
        Assert.Equal(TlsVersion.Tls13, trace.NegotiatedVersion);
        Assert.Equal((ushort)TlsCipherSuite.TlsAes128GcmSha256, trace.CipherSuite);
        Assert.Equal("TLS 1.3 TLS_AES_128_GCM_SHA256", trace.ToString());
        Assert.Equal(1, trace.Received.ApplicationDataRecords);
        Assert.Equal(300, trace.Received.ApplicationDataBytes);

        TlsRecordEvent hello = whole.Single(e => e.HandshakeMessages.Contains(TlsHandshakeType.ClientHello));
        Assert.Matches("^Handshake ClientHello, SNI trace.test, .*offers TLS 1.3.*, length \\d+$", hello.ToString());
        Assert.Contains(whole, e => e.ToString().StartsWith("Handshake ServerHello, TLS 1.3, TLS_AES_128_GCM_SHA256", StringComparison.Ordinal));
        Assert.Contains(whole, e => e.ToString() == "ApplicationData (encrypted handshake), length 300");
        Assert.Contains(whole, e => e.ToString() == "ChangeCipherSpec, length 1");
    }

    [Fact]
    public void Tls13_protected_records_are_handshake_until_the_clients_finished()
    {
        var events = new List<TlsRecordEvent>();
        var trace = new TlsConnectionTrace();
        var sent = new TlsRecordParser(TlsTraceDirection.Sent, trace, events.Add);
        var received = new TlsRecordParser(TlsTraceDirection.Received, trace, events.Add);
        byte[] Data(int length) => TlsFraming.BuildRecords(TlsContentType.ApplicationData, new byte[length], TlsVersion.Tls12);

        sent.Feed(ClientHelloBuilder.Tls13("order.test").BuildRecords());
        received.Feed(new ServerHelloBuilder { SelectedVersion = TlsVersion.Tls13, KeyShare = (TlsNamedGroup.X25519, new byte[32]) }.BuildRecords());
        received.Feed(Data(400));   // EncryptedExtensions... Finished
        sent.Feed(Data(53));        // the client's Finished
        sent.Feed(Data(90));        // the request
        received.Feed(Data(5000));  // the response

        Assert.Equal(
            ["ApplicationData (encrypted handshake), length 400", "ApplicationData (encrypted handshake), length 53", "ApplicationData (encrypted), length 90", "ApplicationData (encrypted), length 5000"],
            events.Where(e => e.ContentType == TlsContentType.ApplicationData).Select(e => e.ToString()));
    }

    [Fact]
    public void Plaintext_alert_is_decoded_and_counted()
    {
        byte[] alert = TlsFraming.BuildRecords(TlsContentType.Alert, [2, 70], TlsVersion.Tls12);
        List<TlsRecordEvent> events = Run([], alert, chunk: 3, out TlsConnectionTrace trace);
        Assert.Equal("Alert fatal protocol_version, length 2", Assert.Single(events).ToString());
        Assert.Equal(TlsAlertDescription.ProtocolVersion, trace.Received.LastAlert);
    }

    [Fact]
    public void Non_tls_bytes_stop_the_parser_with_one_event()
    {
        List<TlsRecordEvent> events = Run([], "HTTP/1.1 200 OK\r\n\r\nlots of text"u8.ToArray(), chunk: 4, out TlsConnectionTrace trace);
        TlsRecordEvent only = Assert.Single(events);
        Assert.StartsWith("not TLS: record content type 72", only.ToString(), StringComparison.Ordinal);
        Assert.True(trace.Received.NotTls);
    }

    [Fact]
    public void Random_bytes_never_throw()
    {
        var random = new Random(5);
        for (int i = 0; i < 500; i++)
        {
            byte[] data = new byte[random.Next(0, 400)];
            random.NextBytes(data);
            if (data.Length > 0 && random.Next(2) == 0)
            {
                data[0] = (byte)random.Next(20, 25);
            }

            Run([], data, chunk: random.Next(1, 50), out _);
        }
    }

    private static List<TlsRecordEvent> Run(byte[] sent, byte[] received, int chunk, out TlsConnectionTrace trace)
    {
        var events = new List<TlsRecordEvent>();
        trace = new TlsConnectionTrace();
        var outbound = new TlsRecordParser(TlsTraceDirection.Sent, trace, events.Add);
        var inbound = new TlsRecordParser(TlsTraceDirection.Received, trace, events.Add);
        foreach (byte[] piece in sent.Chunk(Math.Min(chunk, Math.Max(1, sent.Length))))
        {
            outbound.Feed(piece);
        }

        foreach (byte[] piece in received.Chunk(Math.Min(chunk, Math.Max(1, received.Length))))
        {
            inbound.Feed(piece);
        }

        return events;
    }
}

public sealed class TraceLogTests
{
    [Fact]
    public void Records_become_log_lines_with_the_connection_and_direction()
    {
        var logger = new ListLogger();
        Action<TlsRecordEvent> log = TlsTraceLog.To(logger, "10.0.0.1:40000-10.0.0.2:443");
        log(new TlsRecordEvent { Direction = TlsTraceDirection.Sent, ContentType = TlsContentType.Alert, Length = 2, AlertLevel = TlsAlertLevel.Fatal, AlertDescription = TlsAlertDescription.HandshakeFailure });
        log(new TlsRecordEvent { Direction = TlsTraceDirection.Received, ContentType = TlsContentType.ApplicationData, Length = 100 });
        Assert.Equal(
            ["TLS 10.0.0.1:40000-10.0.0.2:443 > Alert fatal handshake_failure, length 2", "TLS 10.0.0.1:40000-10.0.0.2:443 < ApplicationData (encrypted), length 100"],
            logger.Lines);
    }

    private sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }
}
