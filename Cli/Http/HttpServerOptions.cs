namespace Protocols.Cli.Http;

/// <summary>Limits and timeouts of <see cref="HttpServer"/>. Every buffer and wait of a connection is bounded by one of these.</summary>
internal sealed record HttpServerOptions
{
    /// <summary>The longest request line (method, target, version) in bytes; longer gets 414 (RFC 9112 3).</summary>
    public int MaxRequestLineLength { get; init; } = 8 * 1024;

    /// <summary>The largest request head (request line and header fields) in bytes; larger gets 431 (RFC 6585 5).</summary>
    public int MaxHeaderBytes { get; init; } = 32 * 1024;

    /// <summary>The most header fields in one request; more gets 431.</summary>
    public int MaxHeaderCount { get; init; } = 100;

    /// <summary>The largest request body <c>POST /echo</c> accepts; larger gets 413 (RFC 9110 15.5.14).</summary>
    public long MaxRequestBodyBytes { get; init; } = 1L << 30;

    /// <summary>The largest body a request to another resource may carry; it is read and discarded to keep the connection in step.</summary>
    public long MaxDiscardedBodyBytes { get; init; } = 1L << 20;

    /// <summary>The largest N of <c>GET /bytes/N</c>.</summary>
    public long MaxGeneratedBytes { get; init; } = 1L << 30;

    /// <summary>The most requests served on one connection before it is closed.</summary>
    public int MaxRequestsPerConnection { get; init; } = 10_000;

    /// <summary>How long a read or a write may wait without progress (a client idle between requests included).</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>The clock of the timeouts and of the Date header.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The text of <c>GET /</c>.</summary>
    public string IndexText { get; init; } =
        "protocols: a user-space TCP/IP stack for .NET\n" +
        "GET /bytes/N  N bytes where byte i is i % 251\n" +
        "POST /echo    the request body, back\n";
}
