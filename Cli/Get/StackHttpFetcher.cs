using System.Diagnostics;
using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Tls;
using Protocols.Wire;

namespace Protocols.Cli.Get;

/// <summary>What <c>get</c> fetches and how.</summary>
/// <param name="Url">An absolute http or https URL.</param>
/// <param name="Resolve">Host names to addresses (<c>--resolve NAME:IP</c>).</param>
/// <param name="Timeout">The limit for the whole exchange (connect, headers, body).</param>
/// <param name="Insecure">Accept any server certificate (https).</param>
/// <param name="CaCertificates">Trust only these roots (https, <c>--cacert</c>), or null for the system store.</param>
/// <param name="Http2">Force HTTP/2 (<c>--http2</c>): h2 by ALPN for https (fails if the server does not select it), prior knowledge (h2c) for http.</param>
internal sealed record FetchRequest(Uri Url, IReadOnlyDictionary<string, IpAddress> Resolve, TimeSpan Timeout, bool Insecure = false, X509Certificate2Collection? CaCertificates = null, bool Http2 = false);

/// <summary>What a fetch got.</summary>
/// <param name="Status">The response status code.</param>
/// <param name="Reason">The reason phrase.</param>
/// <param name="Bytes">Body bytes written to the output.</param>
/// <param name="Complete">True when the whole body arrived (Content-Length matched, or the chunked/close-delimited body ended cleanly).</param>
/// <param name="Elapsed">Wall time from the request to the end of the body.</param>
/// <param name="TlsVersion">The negotiated TLS version (https), e.g. "TLS 1.3", or null.</param>
/// <param name="TlsCipher">The negotiated cipher suite (https), or null.</param>
internal sealed record FetchResult(int Status, string Reason, long Bytes, bool Complete, TimeSpan Elapsed, string? TlsVersion, string? TlsCipher)
{
    /// <summary>The HTTP version of the response (1.1, or 2.0 when h2 was negotiated or forced).</summary>
    public Version HttpVersion { get; init; } = System.Net.HttpVersion.Version11;

    /// <summary><c>HTTP/1.1</c> or <c>HTTP/2</c>.</summary>
    public string HttpVersionName => HttpVersion.Major >= 2 ? $"HTTP/{HttpVersion.Major}" : $"HTTP/{HttpVersion.Major}.{HttpVersion.Minor}";

    /// <summary>2xx with the whole body.</summary>
    public bool Succeeded => Status is >= 200 and < 300 && Complete;
}

/// <summary>
/// .NET's HttpClient over the user-space stack: the Tls layer's <see cref="StackHttp"/> handler (a
/// <see cref="SocketsHttpHandler"/> whose ConnectCallback opens a <see cref="TcpStream"/> through
/// <see cref="TcpLayer.ConnectAsync(IpEndpoint, CancellationToken)"/>), so .NET's own HTTP/1.1,
/// HTTP/2 and TLS run over this stack unchanged. https offers h2 and http/1.1 by ALPN.
/// </summary>
internal static class StackHttpFetcher
{
    /// <summary>Makes the handler; <paramref name="onTls"/> receives the trace of each TLS connection (version, cipher).</summary>
    public static StackHttpHandler CreateHandler(TcpLayer tcp, FetchRequest request, Action<TlsConnectionTrace>? onTls = null)
    {
        var tls = new TlsClientOptions
        {
            InsecureSkipVerification = request.Insecure,
            TrustedCertificates = request.CaCertificates,
        };
        var options = new StackHttpOptions
        {
            Resolver = (host, _) => request.Resolve.TryGetValue(host, out IpAddress address)
                ? ValueTask.FromResult(address)
                : ValueTask.FromException<IpAddress>(new HttpRequestException($"cannot resolve '{host}' (use an IP address or --resolve {host}:IP)", new SocketException((int)SocketError.HostNotFound))),
            OnTlsConnection = onTls,
            ConnectTimeout = request.Timeout,
        };
        StackHttpHandler handler = StackHttp.CreateHttpHandler(
            async (endpoint, cancellationToken) =>
            {
                TcpStream stream = await tcp.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
                stream.NoDelay = true; // requests go out whole, not held back for an ACK
                return stream;
            },
            tls,
            options);
        handler.Sockets.AllowAutoRedirect = false;
        handler.Sockets.AutomaticDecompression = DecompressionMethods.None;
        return handler;
    }

    /// <summary>Fetches <see cref="FetchRequest.Url"/> and copies the body to <paramref name="output"/>.</summary>
    public static async Task<FetchResult> FetchAsync(TcpLayer tcp, FetchRequest request, Stream output, CancellationToken cancellationToken)
    {
        TlsConnectionTrace? tls = null;
        using var handler = CreateHandler(tcp, request, trace => tls = trace);
        using var client = new HttpClient(handler) { Timeout = Timeout.InfiniteTimeSpan };
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(request.Timeout);
        var watch = Stopwatch.StartNew();
        try
        {
            // Default: HTTP/1.1, or h2 when an https server selects it by ALPN; --http2: HTTP/2 or fail.
            using var message = request.Http2
                ? new HttpRequestMessage(HttpMethod.Get, request.Url) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact }
                : new HttpRequestMessage(HttpMethod.Get, request.Url) { Version = HttpVersion.Version11, VersionPolicy = HttpVersionPolicy.RequestVersionOrLower };
            using HttpResponseMessage response = await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
            long bytes = 0;
            bool complete;
            Stream body = await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                byte[] buffer = new byte[64 * 1024];
                try
                {
                    int n;
                    while ((n = await body.ReadAsync(buffer, deadline.Token).ConfigureAwait(false)) > 0)
                    {
                        await output.WriteAsync(buffer.AsMemory(0, n), deadline.Token).ConfigureAwait(false);
                        bytes += n;
                    }

                    complete = response.Content.Headers.ContentLength is not { } expected || expected == bytes;
                }
                catch (Exception e) when (e is IOException or HttpRequestException && !deadline.IsCancellationRequested)
                {
                    complete = false; // the body was cut short (reset, or the length did not match)
                }
            }

            await output.FlushAsync(deadline.Token).ConfigureAwait(false);
            return new FetchResult((int)response.StatusCode, response.ReasonPhrase ?? string.Empty, bytes, complete, watch.Elapsed,
                tls?.NegotiatedVersion is TlsVersion version ? TlsRecordEvent.VersionName(version) : null,
                tls?.CipherSuite is ushort suite ? TlsRecordEvent.CipherSuiteName(suite) : null)
            {
                HttpVersion = response.Version,
            };
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            throw new TimeoutException($"no complete response within {request.Timeout.TotalSeconds:0.###} s");
        }
    }
}
