using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Protocols.AspNetCore;

/// <summary>Kestrel listen options that only the stack transport provides.</summary>
public static class StackKestrelExtensions
{
    /// <summary>
    /// Listens on a cleartext port for HTTP/1.1 and for HTTP/2 with prior knowledge (h2c,
    /// RFC 9113 3.3): two Kestrel endpoints, <paramref name="endPoint"/> with HTTP/1.1 and its
    /// <see cref="PriorKnowledgeEndPoint"/> with HTTP/2, between which the stack transport
    /// splits the port's connections by the client's connection preface.
    /// </summary>
    /// <param name="options">Kestrel's options.</param>
    /// <param name="endPoint">The address and port.</param>
    /// <param name="configure">Applied to both endpoints (after their protocols are set).</param>
    public static void ListenHttp1AndH2c(this KestrelServerOptions options, IPEndPoint endPoint, Action<ListenOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(endPoint);
        options.Listen(endPoint, listen =>
        {
            listen.Protocols = HttpProtocols.Http1;
            configure?.Invoke(listen);
        });
        options.Listen(new PriorKnowledgeEndPoint(endPoint), listen =>
        {
            listen.Protocols = HttpProtocols.Http2;
            configure?.Invoke(listen);
        });
    }
}
