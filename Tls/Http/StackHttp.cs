using System.Net;
using System.Net.Http;
using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Tls;

/// <summary>How <see cref="StackHttp.CreateHttpHandler(Func{IpEndpoint, CancellationToken, ValueTask{Stream}}, TlsClientOptions?, StackHttpOptions?)"/> connects.</summary>
public sealed record StackHttpOptions
{
    /// <summary>Resolves a host name that is not an IP literal (null: names fail with HostNotFound). E.g. a table for <c>--resolve NAME:IP</c>.</summary>
    public Func<string, CancellationToken, ValueTask<IpAddress>>? Resolver { get; init; }

    /// <summary>
    /// Called with the trace of every new HTTPS connection (its hellos, negotiated version and
    /// cipher, byte counts fill in as the connection runs), e.g. to report the TLS version.
    /// </summary>
    public Action<TlsConnectionTrace>? OnTlsConnection { get; init; }

    /// <summary>The longest a connection (TCP and TLS handshakes) may take (default 30 s).</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Offer HTTP/2 on https requests that ask for HTTP/1.1 or lower-or-equal (HttpClient's
    /// default): ALPN then lists h2 and http/1.1 (RFC 7301, RFC 9113 3.2) and the server chooses.
    /// Default true. A request with <see cref="HttpVersionPolicy.RequestVersionExact"/> is sent as asked.
    /// </summary>
    public bool OfferHttp2 { get; init; } = true;
}

/// <summary>
/// HttpClient over a user-space stack: a <see cref="SocketsHttpHandler"/> whose ConnectCallback opens
/// the TCP connection through the stack, so .NET's HTTP/1.1 (and its TLS, for https) run unchanged
/// over it. TLS settings come from <see cref="TlsClientOptions"/> (versions, custom CA, pins, insecure).
/// </summary>
public static class StackHttp
{
    /// <summary>Makes the handler over any connect function (the stack's TCP connect, or anything else that yields a stream).</summary>
    /// <param name="connect">Opens a connection to an endpoint.</param>
    /// <param name="tls">TLS settings for https URLs (null: the defaults, system trust store). ALPN is the handler's own: h2 and http/1.1 (see <see cref="StackHttpOptions.OfferHttp2"/>).</param>
    /// <param name="options">Name resolution, tracing, timeouts, HTTP/2.</param>
    /// <returns>The handler: a <see cref="StackHttpHandler"/> over a <see cref="SocketsHttpHandler"/>.</returns>
    public static StackHttpHandler CreateHttpHandler(Func<IpEndpoint, CancellationToken, ValueTask<Stream>> connect, TlsClientOptions? tls = null, StackHttpOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(connect);
        tls ??= TlsClientOptions.Default;
        options ??= new StackHttpOptions();
        TlsKeyLog.MarkTlsStarted();
        var ssl = tls.ToSslOptions(targetHost: null);
        ssl.ApplicationProtocols = null;
        Action<TlsRecordEvent>? recordTrace = tls.Trace;
        Action<TlsConnectionTrace>? onTls = options.OnTlsConnection;
        Func<string, CancellationToken, ValueTask<IpAddress>>? resolver = options.Resolver;

        var sockets = new SocketsHttpHandler
        {
            SslOptions = ssl,
            ConnectTimeout = options.ConnectTimeout,
            UseProxy = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                IpAddress address = await ResolveAsync(context.DnsEndPoint.Host, resolver, cancellationToken).ConfigureAwait(false);
                if (context.DnsEndPoint.Port is < 1 or > ushort.MaxValue)
                {
                    throw new SocketException((int)SocketError.AddressNotAvailable);
                }

                Stream stream = await connect(new IpEndpoint(address, (ushort)context.DnsEndPoint.Port), cancellationToken).ConfigureAwait(false);
                bool https = string.Equals(context.InitialRequestMessage.RequestUri?.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase);
                if (https && (recordTrace is not null || onTls is not null))
                {
                    var tracing = new TlsTracingStream(stream, recordTrace);
                    onTls?.Invoke(tracing.Trace);
                    return tracing;
                }

                return stream;
            },
        };
        return new StackHttpHandler(sockets, options.OfferHttp2);
    }

    private static async ValueTask<IpAddress> ResolveAsync(string host, Func<string, CancellationToken, ValueTask<IpAddress>>? resolver, CancellationToken cancellationToken)
    {
        // An IPv6 literal comes from the URL as "[2001:db8::2]" (RFC 3986 3.2.2); the brackets are not part of the address.
        ReadOnlySpan<char> literalText = host.Length > 2 && host[0] == '[' && host[^1] == ']' ? host.AsSpan(1, host.Length - 2) : host;
        if (IpAddress.TryParse(literalText, out IpAddress literal))
        {
            return literal;
        }

        if (resolver is null)
        {
            throw new HttpRequestException($"cannot resolve '{host}': the stack has no resolver (use an IP literal, or give a resolver)", new SocketException((int)SocketError.HostNotFound));
        }

        return await resolver(host, cancellationToken).ConfigureAwait(false);
    }
}

/// <summary>
/// The HttpClient handler of <see cref="StackHttp.CreateHttpHandler(Func{IpEndpoint, CancellationToken, ValueTask{Stream}}, TlsClientOptions?, StackHttpOptions?)"/>:
/// a <see cref="SocketsHttpHandler"/> (<see cref="Sockets"/>) whose https requests at HttpClient's
/// default version are sent as HTTP/2-or-lower, so ALPN offers h2 and the server picks.
/// </summary>
public sealed class StackHttpHandler : DelegatingHandler
{
    private readonly bool _offerHttp2;

    /// <summary>Wraps <paramref name="sockets"/>.</summary>
    /// <param name="sockets">The handler that connects through the stack.</param>
    /// <param name="offerHttp2">Offer h2 on https requests that allow a lower version.</param>
    public StackHttpHandler(SocketsHttpHandler sockets, bool offerHttp2)
        : base(sockets)
    {
        Sockets = sockets;
        _offerHttp2 = offerHttp2;
    }

    /// <summary>The inner handler (connection pool settings, timeouts).</summary>
    public SocketsHttpHandler Sockets { get; }

    /// <inheritdoc/>
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Offer(request);
        return base.SendAsync(request, cancellationToken);
    }

    /// <inheritdoc/>
    protected override HttpResponseMessage Send(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        Offer(request);
        return base.Send(request, cancellationToken);
    }

    private void Offer(HttpRequestMessage request)
    {
        // Only https: on cleartext HTTP/2 needs prior knowledge, which a request must ask for exactly.
        if (_offerHttp2 && request.VersionPolicy == HttpVersionPolicy.RequestVersionOrLower && request.Version < HttpVersion.Version20
            && string.Equals(request.RequestUri?.Scheme, Uri.UriSchemeHttps, StringComparison.OrdinalIgnoreCase))
        {
            request.Version = HttpVersion.Version20;
        }
    }
}
