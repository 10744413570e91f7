using System.IO.Pipelines;
using Protocols.Tcp;

namespace Protocols.AspNetCore;

/// <summary>Settings of the Kestrel transport over a user-space stack (<see cref="StackWebHostBuilderExtensions.UseProtocolsStack(Microsoft.AspNetCore.Hosting.IWebHostBuilder, TcpLayer, Action{StackTransportOptions}?)"/>).</summary>
public sealed class StackTransportOptions
{
    /// <summary>The stack's TCP layer that Kestrel's endpoints listen on. Set by <c>UseProtocolsStack</c>.</summary>
    public TcpLayer? Tcp { get; set; }

    /// <summary>The accept queue of each listener (completed handshakes not yet accepted; default 512).</summary>
    public int Backlog { get; set; } = 512;

    /// <summary>Options of every accepted connection (buffer sizes, congestion control); null for the layer's defaults.</summary>
    public TcpConnectionOptions? ConnectionOptions { get; set; }

    /// <summary>Disables Nagle's algorithm on accepted connections (default true, as Kestrel's socket transport).</summary>
    public bool NoDelay { get; set; } = true;

    /// <summary>
    /// The most received bytes buffered for the application before the transport stops reading
    /// (and the TCP window closes); 0 for no limit. Default 1 MiB, as Kestrel's socket transport.
    /// </summary>
    public long MaxReadBufferSize { get; set; } = 1024 * 1024;

    /// <summary>The most bytes the application may have written but not handed to TCP before its writes wait; 0 for no limit. Default 64 KiB.</summary>
    public long MaxWriteBufferSize { get; set; } = 64 * 1024;

    /// <summary>
    /// After the application finishes a connection (our FIN is sent), how long the transport keeps
    /// reading (and dropping) what the client still sends, waiting for its FIN, so the connection
    /// closes with FIN and not RST (RFC 9293 3.10.4). Default 2 s; on the stack's clock.
    /// </summary>
    public TimeSpan LingerTimeout { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// Where the application (Kestrel) continues after the transport hands it data. Default
    /// <see cref="PipeScheduler.ThreadPool"/>; <see cref="PipeScheduler.Inline"/> runs Kestrel's
    /// request processing on the transport's receive continuation (fewer thread hops, but
    /// application code then holds up that connection's reads).
    /// </summary>
    public PipeScheduler ApplicationScheduler { get; set; } = PipeScheduler.ThreadPool;
}
