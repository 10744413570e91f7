using System.Net;
using System.Net.Sockets;
using System.Text;
using Protocols.Ip;

namespace Protocols.Relay;

/// <summary>
/// Relays through the host's own sockets. So that they do not come back into the device the
/// forwarder serves (a routing loop, when its default route points into it), they are bound to an
/// interface (<see cref="OutboundInterface"/>: SO_BINDTODEVICE) or marked (<see cref="FirewallMark"/>:
/// SO_MARK, for an <c>ip rule fwmark</c> policy route), as tun2socks setups do.
/// </summary>
public sealed class DirectConnector : IOutboundConnector
{
    private const int SolSocket = 1;
    private const int SoBindToDevice = 25;
    private const int SoMark = 36;
    private const int IpprotoTcp = 6;
    private const int TcpInfo = 11;
    private const byte TcpStateClose = 7;

    /// <summary>The interface every outbound socket is bound to (SO_BINDTODEVICE), or null.</summary>
    public string? OutboundInterface { get; init; }

    /// <summary>The firewall mark of every outbound socket (SO_MARK), or null.</summary>
    public uint? FirewallMark { get; init; }

    /// <summary>How long a TCP connect may take before the destination counts as unreachable.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>The kernel socket buffers of relayed connections (bytes; 0 for the kernel's defaults).</summary>
    public int SocketBufferSize { get; init; }

    /// <inheritdoc/>
    public async Task<OutboundConnection> ConnectAsync(IpEndpoint destination, CancellationToken cancellationToken)
    {
        Socket socket = CreateSocket(destination, SocketType.Stream, ProtocolType.Tcp);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(ConnectTimeout);
        try
        {
            await socket.ConnectAsync(destination.ToIPEndPoint(), timeout.Token).ConfigureAwait(false);
            socket.NoDelay = true;
            return new SocketConnection(socket);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            socket.Dispose();
            throw new OutboundException(OutboundError.TimedOut, $"connecting to {destination} timed out after {ConnectTimeout.TotalSeconds} s");
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw Map(e, destination);
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public Task<OutboundDatagramFlow> OpenUdpAsync(IpEndpoint destination, CancellationToken cancellationToken)
    {
        Socket socket = CreateSocket(destination, SocketType.Dgram, ProtocolType.Udp);
        try
        {
            // Connected: the kernel reports the destination's port unreachable to this socket.
            socket.Connect(destination.ToIPEndPoint());
            return Task.FromResult<OutboundDatagramFlow>(new SocketDatagramFlow(socket));
        }
        catch (SocketException e)
        {
            socket.Dispose();
            throw Map(e, destination);
        }
    }

    /// <summary>A socket of the destination's family, bound to the outbound interface and/or marked.</summary>
    internal Socket CreateSocket(IpEndpoint destination, SocketType type, ProtocolType protocol)
    {
        var socket = new Socket(destination.Address.IsIpv6 ? AddressFamily.InterNetworkV6 : AddressFamily.InterNetwork, type, protocol);
        try
        {
            if (OutboundInterface is { } name)
            {
                socket.SetRawSocketOption(SolSocket, SoBindToDevice, Encoding.ASCII.GetBytes(name + "\0"));
            }

            if (FirewallMark is { } mark)
            {
                socket.SetRawSocketOption(SolSocket, SoMark, BitConverter.GetBytes(mark));
            }

            if (SocketBufferSize > 0)
            {
                socket.SendBufferSize = SocketBufferSize;
                socket.ReceiveBufferSize = SocketBufferSize;
            }

            return socket;
        }
        catch
        {
            socket.Dispose();
            throw;
        }
    }

    /// <summary>The outbound failure a socket error means.</summary>
    internal static OutboundException Map(SocketException e, object destination) => e.SocketErrorCode switch
    {
        SocketError.ConnectionRefused => new OutboundException(OutboundError.Refused, $"{destination} refused the connection", e),
        SocketError.HostUnreachable or SocketError.HostDown => new OutboundException(OutboundError.HostUnreachable, $"{destination} is unreachable", e),
        SocketError.NetworkUnreachable or SocketError.NetworkDown => new OutboundException(OutboundError.NetworkUnreachable, $"the network of {destination} is unreachable", e),
        SocketError.TimedOut => new OutboundException(OutboundError.TimedOut, $"{destination} timed out", e),
        SocketError.ConnectionReset or SocketError.ConnectionAborted => new OutboundException(OutboundError.Reset, $"{destination} reset the connection", e),
        _ => new OutboundException(OutboundError.Failed, $"{destination}: {e.Message}", e),
    };

    /// <summary>A connected TCP socket as an outbound connection.</summary>
    internal sealed class SocketConnection(Socket socket) : OutboundConnection
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            int n;
            try
            {
                n = await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw Map(e, socket.RemoteEndPoint ?? (object)"the destination");
            }
            catch (ObjectDisposedException e)
            {
                throw new OutboundException(OutboundError.Reset, "the outbound socket was closed", e);
            }

            // The kernel reports a reset (ECONNRESET) to one call only: when a send took it, the
            // receive that follows sees an end of stream. The connection's state tells them apart:
            // after a reset it is CLOSE, after the peer's FIN it is CLOSE-WAIT (or TIME-WAIT).
            if (n == 0 && buffer.Length > 0 && WasReset())
            {
                throw new OutboundException(OutboundError.Reset, "the destination reset the connection");
            }

            return n;
        }

        /// <summary>True when the kernel's TCP state of the socket is CLOSE (Linux TCP_INFO's tcpi_state 7): it ended by a reset.</summary>
        private bool WasReset()
        {
            if (!OperatingSystem.IsLinux())
            {
                return false;
            }

            try
            {
                Span<byte> info = stackalloc byte[8];
                int length = socket.GetRawSocketOption(IpprotoTcp, TcpInfo, info);
                return length >= 1 && info[0] == TcpStateClose;
            }
            catch (SocketException)
            {
                return false;
            }
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            try
            {
                while (!data.IsEmpty)
                {
                    int n = await socket.SendAsync(data, SocketFlags.None, cancellationToken).ConfigureAwait(false);
                    data = data[n..];
                }
            }
            catch (SocketException e)
            {
                throw Map(e, socket.RemoteEndPoint ?? (object)"the destination");
            }
            catch (ObjectDisposedException e)
            {
                throw new OutboundException(OutboundError.Reset, "the outbound socket was closed", e);
            }
        }

        public override void CompleteWrites()
        {
            try
            {
                socket.Shutdown(SocketShutdown.Send);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
                // Already gone: nothing to half-close.
            }
        }

        public override void Abort()
        {
            try
            {
                // SO_LINGER with a zero timeout: close sends a RST.
                socket.LingerState = new LingerOption(true, 0);
            }
            catch (Exception e) when (e is SocketException or ObjectDisposedException)
            {
            }

            socket.Dispose();
        }

        public override ValueTask DisposeAsync()
        {
            socket.Dispose();
            return ValueTask.CompletedTask;
        }
    }

    /// <summary>A connected UDP socket as an outbound flow.</summary>
    internal sealed class SocketDatagramFlow(Socket socket) : OutboundDatagramFlow
    {
        public override async ValueTask SendAsync(ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken)
        {
            try
            {
                await socket.SendAsync(datagram, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw Map(e, socket.RemoteEndPoint ?? (object)"the destination");
            }
        }

        public override async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            try
            {
                return await socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).ConfigureAwait(false);
            }
            catch (SocketException e)
            {
                throw Map(e, socket.RemoteEndPoint ?? (object)"the destination");
            }
        }

        public override void Dispose() => socket.Dispose();
    }
}
