using System.Buffers;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Protocols.Tcp;
using TcpListener = Protocols.Tcp.TcpListener;

namespace Protocols.AspNetCore;

/// <summary>
/// Kestrel's transport over a user-space stack: each listen endpoint (<c>0.0.0.0:PORT</c> or one
/// of the stack's addresses) becomes a <see cref="TcpLayer.Listen(Protocols.Ip.IpEndpoint, int, TcpConnectionOptions?)"/>
/// and each accepted connection a <see cref="ConnectionContext"/> whose pipes carry the
/// <see cref="TcpStream"/>'s bytes. Registered by <c>UseProtocolsStack</c>.
/// </summary>
public sealed class StackConnectionListenerFactory : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    private readonly StackTransportOptions _options;
    private readonly TcpLayer _tcp;
    private readonly MemoryPool<byte> _pool;
    private readonly ILogger _logger;
    private readonly Dictionary<Protocols.Ip.IpEndpoint, StackPortAcceptor> _acceptors = [];

    /// <summary>Creates the factory from the options <c>UseProtocolsStack</c> registered.</summary>
    /// <param name="options">The transport's options; <see cref="StackTransportOptions.Tcp"/> must be set.</param>
    /// <param name="loggerFactory">Logging (category <c>Protocols.AspNetCore.StackTransport</c>).</param>
    /// <param name="memoryPoolFactory">Kestrel's pool factory when it is registered, else the shared pool is used.</param>
    public StackConnectionListenerFactory(IOptions<StackTransportOptions> options, ILoggerFactory loggerFactory, IMemoryPoolFactory<byte>? memoryPoolFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        _options = options.Value;
        _tcp = _options.Tcp ?? throw new InvalidOperationException("StackTransportOptions.Tcp is not set: call UseProtocolsStack with a stack.");
        _pool = memoryPoolFactory?.Create(new MemoryPoolOptions { Owner = "protocols-stack" }) ?? MemoryPool<byte>.Shared;
        _logger = loggerFactory.CreateLogger("Protocols.AspNetCore.StackTransport");
    }

    /// <inheritdoc/>
    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        bool priorKnowledge = endpoint is PriorKnowledgeEndPoint;
        Protocols.Ip.IpEndpoint local = StackEndPoints.ToStackEndPoint(endpoint is PriorKnowledgeEndPoint h2c ? h2c.IPEndPoint : endpoint);
        StackPortAcceptor acceptor;
        lock (_acceptors)
        {
            if (!_acceptors.TryGetValue(local, out acceptor!) || acceptor.IsStopped)
            {
                acceptor = new StackPortAcceptor(ListenDualStack(local), StackEndPoints.ToIPEndPoint(local), _pool, _options, _tcp.Stack.Options.TimeProvider, _logger);
                _acceptors[local] = acceptor;
            }
        }

        IConnectionListener bound = acceptor.Bind(priorKnowledge);
        StackTransportLog.Bound(_logger, bound.EndPoint, _tcp.StackName);
        return ValueTask.FromResult(bound);
    }

    /// <summary>
    /// The stack's listeners for <paramref name="local"/>. The IPv6 "any" address is dual-stack,
    /// as a kernel socket bound to [::] is by default (and as Kestrel's <c>ListenAnyIP</c> expects):
    /// it listens on every IPv4 address too, or only there when the stack does not route IPv6.
    /// </summary>
    private List<TcpListener> ListenDualStack(Protocols.Ip.IpEndpoint local)
    {
        var listeners = new List<TcpListener>(2);
        try
        {
            if (local.Address == Protocols.Wire.IpAddress.Ipv6Any)
            {
                try
                {
                    listeners.Add(_tcp.Listen(local, _options.Backlog, _options.ConnectionOptions));
                }
                catch (TcpException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressFamilyNotSupported)
                {
                    // No IPv6 on this stack: IPv4 alone.
                }

                listeners.Add(_tcp.Listen(new Protocols.Ip.IpEndpoint(Protocols.Wire.IpAddress.Ipv4Any, local.Port), _options.Backlog, _options.ConnectionOptions));
            }
            else
            {
                listeners.Add(_tcp.Listen(local, _options.Backlog, _options.ConnectionOptions));
            }
        }
        catch (TcpException e) when (e.SocketErrorCode == System.Net.Sockets.SocketError.AddressAlreadyInUse)
        {
            listeners.ForEach(l => l.Dispose());
            throw new AddressInUseException(e.Message, e);
        }
        catch
        {
            listeners.ForEach(l => l.Dispose());
            throw;
        }

        return listeners;
    }

    /// <summary>True for IP endpoints, which the stack can listen on, and their <see cref="PriorKnowledgeEndPoint"/>.</summary>
    /// <param name="endpoint">The endpoint Kestrel wants to bind.</param>
    /// <returns>Whether this factory binds it.</returns>
    public bool CanBind(EndPoint endpoint)
    {
        try
        {
            _ = StackEndPoints.ToStackEndPoint(endpoint is PriorKnowledgeEndPoint h2c ? h2c.IPEndPoint : endpoint);
            return true;
        }
        catch (NotSupportedException)
        {
            return false;
        }
    }
}
