using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Authentication;

namespace Protocols.Tls;

/// <summary>
/// TLS over any connected stream (a <c>TcpStream</c> of this stack, a NetworkStream...): runs .NET's
/// <see cref="SslStream"/> (OpenSSL underneath on Linux) and returns it authenticated, or throws a
/// <see cref="TlsHandshakeException"/> that says why not. The transport is wrapped in a
/// <see cref="TlsTracingStream"/>, whose <see cref="TlsConnectionTrace"/> <see cref="GetTrace"/> returns.
/// </summary>
public static class TlsHandshake
{
    private static readonly ConditionalWeakTable<SslStream, TlsConnectionTrace> Traces = new();

    /// <summary>
    /// Runs the client handshake over <paramref name="transport"/>. On failure the transport is disposed.
    /// </summary>
    /// <param name="transport">A connected stream; the returned SslStream owns it.</param>
    /// <param name="host">The server's name: sent as SNI (RFC 6066 3; not for IP literals) and checked against the certificate.</param>
    /// <param name="options">Versions, ALPN, trust, pins (null: <see cref="TlsClientOptions.Default"/>).</param>
    /// <param name="cancellationToken">Cancels the handshake (OperationCanceledException).</param>
    /// <exception cref="TlsHandshakeException">The handshake failed or timed out.</exception>
    public static async Task<SslStream> AuthenticateAsClientAsync(Stream transport, string host, TlsClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentException.ThrowIfNullOrEmpty(host);
        options ??= TlsClientOptions.Default;
        var tracing = new TlsTracingStream(transport, options.Trace);
        var check = new CertificateCheckState();
        TlsKeyLog.MarkTlsStarted();
        var ssl = new SslStream(tracing, leaveInnerStreamOpen: false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.HandshakeTimeout != Timeout.InfiniteTimeSpan)
        {
            timeout.CancelAfter(options.HandshakeTimeout);
        }

        try
        {
            await ssl.AuthenticateAsClientAsync(options.ToSslOptions(host, check), timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw Classify(e, isClient: true, host, tracing.Trace, check, timeout.IsCancellationRequested, options.HandshakeTimeout);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        Traces.AddOrUpdate(ssl, tracing.Trace);
        return ssl;
    }

    /// <summary>
    /// Runs the server handshake over <paramref name="transport"/>, choosing the certificate by the
    /// client's SNI name when <see cref="TlsServerOptions.CertificateSelector"/> is set. On failure the transport is disposed.
    /// </summary>
    /// <param name="transport">An accepted stream (it may be a <see cref="TlsClientHelloPeekStream"/> that already peeked); the returned SslStream owns it.</param>
    /// <param name="options">The certificate(s), ALPN, versions.</param>
    /// <param name="cancellationToken">Cancels the handshake (OperationCanceledException).</param>
    /// <exception cref="TlsHandshakeException">The handshake failed or timed out.</exception>
    public static async Task<SslStream> AuthenticateAsServerAsync(Stream transport, TlsServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ArgumentNullException.ThrowIfNull(options);
        var tracing = new TlsTracingStream(transport, options.Trace);
        TlsKeyLog.MarkTlsStarted();
        var ssl = new SslStream(tracing, leaveInnerStreamOpen: false);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        if (options.HandshakeTimeout != Timeout.InfiniteTimeSpan)
        {
            timeout.CancelAfter(options.HandshakeTimeout);
        }

        try
        {
            await ssl.AuthenticateAsServerAsync(
                static (_, hello, state, _) => ValueTask.FromResult(((TlsServerOptions)state!).ToSslOptions(string.IsNullOrEmpty(hello.ServerName) ? null : hello.ServerName)),
                options,
                timeout.Token).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw Classify(e, isClient: false, tracing.Trace.ServerName, tracing.Trace, check: null, timeout.IsCancellationRequested, options.HandshakeTimeout);
        }
        catch
        {
            await ssl.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        Traces.AddOrUpdate(ssl, tracing.Trace);
        return ssl;
    }

    /// <summary>The trace of a stream returned by this class (hellos, version, cipher, byte counts), or null for another SslStream.</summary>
    public static TlsConnectionTrace? GetTrace(SslStream stream) =>
        stream is not null && Traces.TryGetValue(stream, out TlsConnectionTrace? trace) ? trace : null;

    /// <summary>"TLS 1.3, TLS_AES_256_GCM_SHA384, ALPN http/1.1" for an authenticated stream.</summary>
    public static string Describe(SslStream stream)
    {
        ArgumentNullException.ThrowIfNull(stream);
        string version = stream.SslProtocol switch
        {
            SslProtocols.Tls13 => "TLS 1.3",
            SslProtocols.Tls12 => "TLS 1.2",
            SslProtocols other => other.ToString(),
        };
        string alpn = stream.NegotiatedApplicationProtocol.Protocol.IsEmpty ? string.Empty : $", ALPN {stream.NegotiatedApplicationProtocol}";
        return $"{version}, {stream.NegotiatedCipherSuite}{alpn}";
    }

    internal static TlsHandshakeException Classify(Exception error, bool isClient, string? peer, TlsConnectionTrace trace, CertificateCheckState? check, bool timedOut, TimeSpan timeout)
    {
        string who = isClient ? $"TLS handshake with {peer ?? "the server"}" : $"TLS handshake with a client{(peer is null ? string.Empty : $" (SNI {peer})")}";
        TlsAlertDescription? peerAlert = trace.Received.LastAlert;
        TlsAlertDescription? localAlert = trace.Sent.LastAlert;
        SslPolicyErrors policy = check?.PolicyErrors ?? SslPolicyErrors.None;

        TlsHandshakeException Make(TlsHandshakeFailure reason, string why) =>
            new(reason, $"{who} failed: {why}", error) { IsClient = isClient, PeerAlert = peerAlert, LocalAlert = localAlert, PolicyErrors = policy };

        if (timedOut && error is OperationCanceledException)
        {
            return Make(TlsHandshakeFailure.Timeout, $"no answer within {timeout.TotalSeconds:0.###} s");
        }

        if (check?.Failure is TlsHandshakeFailure certificateFailure)
        {
            return Make(certificateFailure, check.Detail ?? "the certificate was rejected");
        }

        if (peerAlert is TlsAlertDescription received)
        {
            (TlsHandshakeFailure reason, string why) = FromAlert(received, sentByPeer: true, isClient);
            return Make(reason, why);
        }

        if (localAlert is TlsAlertDescription sent)
        {
            (TlsHandshakeFailure reason, string why) = FromAlert(sent, sentByPeer: false, isClient);
            return Make(reason, why);
        }

        if (trace.Received.NotTls)
        {
            return Make(TlsHandshakeFailure.ProtocolError, "the peer does not speak TLS (its first bytes are not a TLS record)");
        }

        if (trace.TransportError is Exception transport)
        {
            return Make(TlsHandshakeFailure.ConnectionReset, $"the connection failed mid-handshake ({Describe(transport)})");
        }

        if (trace.PeerClosed)
        {
            return Make(TlsHandshakeFailure.PeerClosed, "the peer closed the connection mid-handshake");
        }

        string text = string.Join(" | ", Chain(error).Select(e => e.Message)).ToLowerInvariant();
        if (text.Contains("no shared cipher", StringComparison.Ordinal) || text.Contains("alert handshake failure", StringComparison.Ordinal))
        {
            return Make(TlsHandshakeFailure.NoSharedCipher, "no cipher suite or group in common");
        }

        if (text.Contains("unsupported protocol", StringComparison.Ordinal) || text.Contains("protocol version", StringComparison.Ordinal)
            || text.Contains("no protocols available", StringComparison.Ordinal) || text.Contains("wrong version number", StringComparison.Ordinal))
        {
            return Make(TlsHandshakeFailure.NoSharedProtocol, "no TLS version in common");
        }

        if (text.Contains("no application protocol", StringComparison.Ordinal))
        {
            return Make(TlsHandshakeFailure.NoApplicationProtocol, "no ALPN protocol in common");
        }

        if (text.Contains("alert bad certificate", StringComparison.Ordinal) || text.Contains("alert unknown ca", StringComparison.Ordinal)
            || text.Contains("alert certificate unknown", StringComparison.Ordinal) || text.Contains("badcertificate", StringComparison.Ordinal)
            || text.Contains("unknownca", StringComparison.Ordinal) || text.Contains("certificateunknown", StringComparison.Ordinal))
        {
            return Make(TlsHandshakeFailure.CertificateRejectedByPeer, "the peer rejected the certificate");
        }

        if (text.Contains("eof", StringComparison.Ordinal) || text.Contains("0 bytes", StringComparison.Ordinal))
        {
            return Make(TlsHandshakeFailure.PeerClosed, "the peer closed the connection mid-handshake");
        }

        return Make(TlsHandshakeFailure.Other, Chain(error).Last().Message);
    }

    private static (TlsHandshakeFailure Reason, string Why) FromAlert(TlsAlertDescription alert, bool sentByPeer, bool isClient)
    {
        string name = TlsRecordEvent.AlertName(alert);
        string by = sentByPeer ? "the peer sent" : "we sent";
        return alert switch
        {
            TlsAlertDescription.ProtocolVersion or TlsAlertDescription.InappropriateFallback =>
                (TlsHandshakeFailure.NoSharedProtocol, $"no TLS version in common ({by} alert {name})"),
            TlsAlertDescription.HandshakeFailure or TlsAlertDescription.InsufficientSecurity =>
                (TlsHandshakeFailure.NoSharedCipher, $"no cipher suite, group or signature algorithm in common ({by} alert {name})"),
            TlsAlertDescription.NoApplicationProtocol =>
                (TlsHandshakeFailure.NoApplicationProtocol, $"no ALPN protocol in common ({by} alert {name})"),
            TlsAlertDescription.BadCertificate or TlsAlertDescription.UnsupportedCertificate or TlsAlertDescription.CertificateRevoked
                or TlsAlertDescription.CertificateExpired or TlsAlertDescription.CertificateUnknown or TlsAlertDescription.UnknownCa
                or TlsAlertDescription.AccessDenied or TlsAlertDescription.CertificateRequired =>
                sentByPeer
                    ? (TlsHandshakeFailure.CertificateRejectedByPeer, $"the peer rejected {(isClient ? "our client" : "our")} certificate (alert {name})")
                    : (TlsHandshakeFailure.CertificateUntrusted, $"the peer's certificate was rejected (we sent alert {name})"),
            TlsAlertDescription.DecodeError or TlsAlertDescription.UnexpectedMessage or TlsAlertDescription.IllegalParameter
                or TlsAlertDescription.RecordOverflow or TlsAlertDescription.DecryptError or TlsAlertDescription.BadRecordMac
                or TlsAlertDescription.MissingExtension or TlsAlertDescription.UnsupportedExtension =>
                (TlsHandshakeFailure.ProtocolError, $"protocol error ({by} alert {name})"),
            TlsAlertDescription.UnrecognizedName =>
                (TlsHandshakeFailure.CertificateNameMismatch, $"the server has no certificate for the name asked ({by} alert {name})"),
            _ => (TlsHandshakeFailure.PeerAlert, $"{by} alert {name}"),
        };
    }

    private static string Describe(Exception transport)
    {
        SocketError? code = Chain(transport).OfType<SocketException>().Select(s => (SocketError?)s.SocketErrorCode).FirstOrDefault();
        return code is SocketError socketError ? $"{socketError}: {transport.Message}" : transport.Message;
    }

    private static IEnumerable<Exception> Chain(Exception error)
    {
        for (Exception? e = error; e is not null; e = e.InnerException)
        {
            yield return e;
        }
    }
}
