using System.Net;

namespace Protocols.AspNetCore;

/// <summary>
/// The HTTP/2 prior-knowledge (h2c) half of a cleartext port (RFC 9113 3.3): Kestrel listens on
/// it with <c>HttpProtocols.Http2</c> beside the same port's <see cref="IPEndPoint"/> with
/// <c>HttpProtocols.Http1</c>, and the stack transport gives each connection of that port to one
/// of the two by its first bytes (the HTTP/2 connection preface, or not). Kestrel itself answers
/// a preface on an HTTP/1.1-and-HTTP/2 cleartext endpoint with HTTP_1_1_REQUIRED.
/// Use <see cref="StackKestrelExtensions.ListenHttp1AndH2c"/>.
/// </summary>
/// <param name="endPoint">The port's IP endpoint.</param>
public sealed class PriorKnowledgeEndPoint(IPEndPoint endPoint) : EndPoint
{
    /// <summary>The port's IP endpoint.</summary>
    public IPEndPoint IPEndPoint { get; } = endPoint ?? throw new ArgumentNullException(nameof(endPoint));

    /// <inheritdoc/>
    public override string ToString() => $"h2c://{IPEndPoint}";

    /// <inheritdoc/>
    public override bool Equals(object? obj) => obj is PriorKnowledgeEndPoint other && other.IPEndPoint.Equals(IPEndPoint);

    /// <inheritdoc/>
    public override int GetHashCode() => IPEndPoint.GetHashCode() ^ 0x2c;
}
