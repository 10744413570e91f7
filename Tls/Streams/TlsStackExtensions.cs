using System.Net.Http;
using System.Net.Security;
using Protocols.Ip;
using Protocols.Tcp;

namespace Protocols.Tls;

/// <summary>TLS and HTTPS over a stack's TCP: connect, accept, and an HttpClient handler.</summary>
public static class TlsStackExtensions
{
    /// <summary>
    /// Opens a TCP connection through the stack and runs the TLS client handshake over it.
    /// </summary>
    /// <param name="tcp">The stack's TCP layer (<c>stack.Tcp()</c>).</param>
    /// <param name="host">The server's name, for SNI and the certificate check (may be the IP literal).</param>
    /// <param name="endpoint">Where to connect.</param>
    /// <param name="options">Versions, ALPN, trust (null: defaults, system trust store).</param>
    /// <param name="cancellationToken">Cancels the connect and the handshake.</param>
    /// <returns>The authenticated stream; disposing it closes the TCP connection.</returns>
    /// <exception cref="TcpException">The TCP connection failed (refused, timed out...).</exception>
    /// <exception cref="TlsHandshakeException">The handshake failed.</exception>
    public static async Task<SslStream> ConnectTlsAsync(this TcpLayer tcp, string host, IpEndpoint endpoint, TlsClientOptions? options = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(tcp);
        TcpStream stream = await tcp.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);

        // Handshake flights and requests are written whole: do not hold them back for ACKs (Nagle).
        stream.NoDelay = true;
        return await TlsHandshake.AuthenticateAsClientAsync(stream, host, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Accepts the next connection and runs the TLS server handshake on it. A server that must
    /// keep accepting while handshakes run calls <see cref="TcpListener.AcceptAsync"/> and
    /// <see cref="TlsHandshake.AuthenticateAsServerAsync"/> itself, one task per connection.
    /// </summary>
    /// <param name="listener">A listener of the stack.</param>
    /// <param name="options">The certificate(s), ALPN, versions.</param>
    /// <param name="cancellationToken">Cancels the accept and the handshake.</param>
    /// <exception cref="TlsHandshakeException">The handshake failed (the connection is closed).</exception>
    public static async Task<SslStream> AcceptTlsAsync(this TcpListener listener, TlsServerOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(listener);
        ArgumentNullException.ThrowIfNull(options);
        TcpStream stream = await listener.AcceptAsync(cancellationToken).ConfigureAwait(false);
        stream.NoDelay = true;
        return await TlsHandshake.AuthenticateAsServerAsync(stream, options, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// An HttpClient handler whose connections go through this stack's TCP (registered with
    /// <c>UseTcp()</c>): <c>new HttpClient(stack.CreateHttpHandler(tls))</c> then speaks HTTP/1.1
    /// and HTTPS over the user-space stack, HTTP/2 over TLS when the server selects h2 by ALPN.
    /// Hosts must be IP literals (IPv6 in brackets) unless
    /// <see cref="StackHttpOptions.Resolver"/> is given.
    /// </summary>
    /// <param name="stack">The stack.</param>
    /// <param name="tls">TLS settings for https URLs (custom CA, pins, insecure...).</param>
    /// <param name="options">Name resolution, TLS connection tracing, connect timeout.</param>
    /// <returns>The handler.</returns>
    public static StackHttpHandler CreateHttpHandler(this NetworkStack stack, TlsClientOptions? tls = null, StackHttpOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        TcpLayer tcp = stack.Tcp();
        return StackHttp.CreateHttpHandler(
            async (endpoint, cancellationToken) =>
            {
                TcpStream stream = await tcp.ConnectAsync(endpoint, cancellationToken).ConfigureAwait(false);
                stream.NoDelay = true;
                return stream;
            },
            tls,
            options);
    }
}
