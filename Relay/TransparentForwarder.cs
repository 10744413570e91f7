using System.Collections.Concurrent;
using SocketException = System.Net.Sockets.SocketException;
using System.Threading.Channels;
using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Udp;
using Protocols.Wire;

namespace Protocols.Relay;

/// <summary>
/// A tun2socks-style forwarder: every TCP connection and UDP flow that enters the stack through
/// a transparent interface (<see cref="NetworkInterface.AcceptAnyDestination"/>), whatever its
/// destination, is relayed to that destination through <see cref="IOutboundConnector"/> (the
/// host's sockets, or a SOCKS5 proxy).
/// </summary>
/// <remarks>
/// <para>TCP: the catch-all listener holds each SYN while the outbound connection is tried, then
/// answers with what the destination did: a SYN-ACK when it accepted, a RST when it refused, an
/// ICMP unreachable when it could not be reached. Under a SYN flood (the held SYNs fill the SYN
/// queue) the stack answers with SYN cookies, so only clients that complete the handshake reach
/// the relay; those connections are relayed after they are established, and reset if the
/// destination refuses. Bytes are copied with bounded buffers, half-close and resets propagated.</para>
/// <para>UDP: one flow per (client endpoint, destination endpoint), closed after
/// <see cref="ForwarderOptions.UdpTimeout"/> idle; the destination's port unreachable comes back
/// to the client as ICMP port unreachable. DNS over UDP is just such a flow.</para>
/// </remarks>
public sealed class TransparentForwarder : IAsyncDisposable
{
    private readonly NetworkStack _stack;
    private readonly IOutboundConnector _outbound;
    private readonly ConcurrentDictionary<(IpEndpoint Client, IpEndpoint Destination), UdpFlow> _flows = new();
    private readonly ConcurrentDictionary<Task, bool> _relays = new();
    private readonly CancellationTokenSource _stop = new();
    private TcpListener? _listener;
    private UdpSocket? _udp;

    /// <summary>Creates the forwarder; <see cref="RunAsync"/> starts it.</summary>
    /// <param name="stack">The stack whose transparent interfaces bring the flows (its TCP layer is used, or made).</param>
    /// <param name="outbound">Where flows go out.</param>
    /// <param name="options">Bounds and timeouts; null for the defaults.</param>
    public TransparentForwarder(NetworkStack stack, IOutboundConnector outbound, ForwarderOptions? options = null)
    {
        _stack = stack ?? throw new ArgumentNullException(nameof(stack));
        _outbound = outbound ?? throw new ArgumentNullException(nameof(outbound));
        Options = options ?? new ForwarderOptions();
    }

    /// <summary>The settings.</summary>
    public ForwarderOptions Options { get; }

    /// <summary>What the forwarder did so far.</summary>
    public ForwarderCounters Counters { get; } = new();

    /// <summary>Binds the catch-all listener and socket (call before traffic is expected; <see cref="RunAsync"/> calls it if needed).</summary>
    public void Start()
    {
        if (_listener is not null)
        {
            return;
        }

        TcpLayer tcp = _stack.GetTransport(IpProtocol.Tcp) as TcpLayer ?? _stack.UseTcp();
        _listener = tcp.ListenCatchAll(Options.Backlog, deferAccept: true);
        _udp = UdpSocket.BindCatchAll(_stack, new UdpSocketOptions { ReceiveQueueDatagrams = 4096, ReceiveQueueBytes = 8 << 20 });
    }

    /// <summary>Relays until <paramref name="cancellationToken"/> is cancelled, then resets what is still relayed.</summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        Start();
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, _stop.Token);
        CancellationToken ct = linked.Token;
        Task[] loops = [RequestLoopAsync(ct), CookieLoopAsync(ct), UdpLoopAsync(ct), SweepLoopAsync(ct)];
        try
        {
            await Task.WhenAll(loops).ConfigureAwait(false);
        }
        catch (Exception) when (ct.IsCancellationRequested)
        {
            // Stopped.
        }
        finally
        {
            _listener?.Dispose();
            _udp?.Dispose();
            foreach (UdpFlow flow in _flows.Values)
            {
                flow.Close();
            }

            try
            {
                await Task.WhenAll(_relays.Keys).WaitAsync(TimeSpan.FromSeconds(5), CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception)
            {
                // Relays end by cancellation; their errors are of no use at shutdown.
            }
        }
    }

    /// <summary>Stops <see cref="RunAsync"/>.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        _listener?.Dispose();
        _udp?.Dispose();
    }

    // ---- TCP ----

    private async Task RequestLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpConnectionRequest request;
            try
            {
                request = await _listener!.NextRequestAsync(ct).ConfigureAwait(false);
            }
            catch (ChannelClosedException)
            {
                return;
            }

            if (Interlocked.Increment(ref Counters.TcpActive) > Options.MaxConnections)
            {
                Interlocked.Decrement(ref Counters.TcpActive);
                Interlocked.Increment(ref Counters.TcpOverLimit);
                request.Refuse();
                continue;
            }

            Track(RelayRequestAsync(request, ct));
        }
    }

    private async Task RelayRequestAsync(TcpConnectionRequest request, CancellationToken ct)
    {
        try
        {
            OutboundConnection outside;
            try
            {
                outside = await _outbound.ConnectAsync(request.LocalEndPoint, ct).ConfigureAwait(false);
            }
            catch (OutboundException e)
            {
                RefuseAsTheDestinationDid(request, e.Error);
                return;
            }

            TcpStream inside;
            try
            {
                inside = await request.AcceptAsync().ConfigureAwait(false);
            }
            catch (Exception e) when (e is TcpException or InvalidOperationException)
            {
                outside.Abort();
                return;
            }

            await RelayAsync(inside, outside, ct).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref Counters.TcpActive);
        }
    }

    // Connections the stack accepted with SYN cookies: established before the destination was tried.
    private async Task CookieLoopAsync(CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            TcpStream inside;
            try
            {
                inside = await _listener!.AcceptAsync(ct).ConfigureAwait(false);
            }
            catch (TcpException) when (ct.IsCancellationRequested || _listener!.PendingCount == 0)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }

            Interlocked.Increment(ref Counters.TcpAcceptedByCookie);
            if (Interlocked.Increment(ref Counters.TcpActive) > Options.MaxConnections)
            {
                Interlocked.Decrement(ref Counters.TcpActive);
                Interlocked.Increment(ref Counters.TcpOverLimit);
                inside.Abort();
                continue;
            }

            Track(RelayEstablishedAsync(inside, ct));
        }
    }

    private async Task RelayEstablishedAsync(TcpStream inside, CancellationToken ct)
    {
        try
        {
            OutboundConnection outside;
            try
            {
                outside = await _outbound.ConnectAsync(inside.LocalEndPoint, ct).ConfigureAwait(false);
            }
            catch (OutboundException e)
            {
                // Too late for a refusal: the handshake is done. A reset is the closest answer.
                Interlocked.Increment(ref e.Error == OutboundError.Refused ? ref Counters.TcpRefused : ref Counters.TcpUnreachable);
                inside.Abort();
                await inside.DisposeAsync().ConfigureAwait(false);
                return;
            }

            await RelayAsync(inside, outside, ct).ConfigureAwait(false);
        }
        finally
        {
            Interlocked.Decrement(ref Counters.TcpActive);
        }
    }

    private async Task RelayAsync(TcpStream inside, OutboundConnection outside, CancellationToken ct)
    {
        Interlocked.Increment(ref Counters.TcpRelayed);
        try
        {
            if (!await StreamRelay.RunAsync(inside, outside, Options.RelayBufferSize, Counters, ct).ConfigureAwait(false))
            {
                Interlocked.Increment(ref Counters.TcpReset);
            }
        }
        finally
        {
            await outside.DisposeAsync().ConfigureAwait(false);
            await inside.DisposeAsync().ConfigureAwait(false);
        }
    }

    private void RefuseAsTheDestinationDid(TcpConnectionRequest request, OutboundError error)
    {
        try
        {
            switch (error)
            {
                case OutboundError.HostUnreachable or OutboundError.TimedOut:
                    Interlocked.Increment(ref Counters.TcpUnreachable);
                    request.RefuseUnreachable(IcmpUnreachableCode.HostUnreachable);
                    break;
                case OutboundError.NetworkUnreachable:
                    Interlocked.Increment(ref Counters.TcpUnreachable);
                    request.RefuseUnreachable(IcmpUnreachableCode.NetUnreachable);
                    break;
                default:
                    Interlocked.Increment(ref Counters.TcpRefused);
                    request.Refuse();
                    break;
            }
        }
        catch (InvalidOperationException)
        {
            // Decided already (cannot happen: one decision per request here).
        }
    }

    private void Track(Task relay)
    {
        _relays[relay] = true;
        _ = relay.ContinueWith(t => _relays.TryRemove(t, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    // ---- UDP ----

    private async Task UdpLoopAsync(CancellationToken ct)
    {
        byte[] buffer = new byte[UdpPacket.MaxPayloadLength];
        while (!ct.IsCancellationRequested)
        {
            UdpReceiveResult received;
            try
            {
                received = await _udp!.ReceiveFromAsync(buffer, ct).ConfigureAwait(false);
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (UdpException)
            {
                continue;
            }

            var key = (received.RemoteEndpoint, received.LocalEndpoint);
            if (!_flows.TryGetValue(key, out UdpFlow? flow))
            {
                if (_flows.Count >= Options.MaxUdpFlows)
                {
                    Interlocked.Increment(ref Counters.UdpDropped);
                    continue;
                }

                flow = new UdpFlow(this, received.RemoteEndpoint, received.LocalEndpoint, ct);
                _flows[key] = flow;
                Interlocked.Increment(ref Counters.UdpFlowsOpened);
                Interlocked.Increment(ref Counters.UdpFlowsActive);
                flow.Start();
            }

            if (!flow.TryQueue(buffer.AsSpan(0, received.BytesReceived)))
            {
                Interlocked.Increment(ref Counters.UdpDropped);
            }
        }
    }

    // Closes the flows idle for longer than the UDP timeout (the stack's clock).
    private async Task SweepLoopAsync(CancellationToken ct)
    {
        TimeSpan period = Options.UdpTimeout < TimeSpan.FromSeconds(4) ? Options.UdpTimeout / 4 : TimeSpan.FromSeconds(1);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                await Task.Delay(period, _stack.TimeProvider, ct).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }

            long now = _stack.TimeProvider.GetUtcNow().UtcTicks;
            foreach ((var key, UdpFlow flow) in _flows)
            {
                if (flow.IsClosed || now - flow.LastActivityTicks >= Options.UdpTimeout.Ticks)
                {
                    if (!flow.IsClosed)
                    {
                        Interlocked.Increment(ref Counters.UdpFlowsExpired);
                    }

                    RemoveFlow(key, flow);
                }
            }
        }
    }

    private void RemoveFlow((IpEndpoint, IpEndpoint) key, UdpFlow flow)
    {
        if (_flows.TryRemove(new KeyValuePair<(IpEndpoint, IpEndpoint), UdpFlow>(key, flow)))
        {
            Interlocked.Decrement(ref Counters.UdpFlowsActive);
            flow.Close();
        }
    }

    /// <summary>ICMP port unreachable to the client, quoting a datagram of its flow (rebuilt: IP and UDP headers), from the loop.</summary>
    private void SendPortUnreachable(IpEndpoint client, IpEndpoint destination)
    {
        Interlocked.Increment(ref Counters.UdpRefused);
        try
        {
            _stack.Post(stack =>
            {
                byte[] quoted = new byte[Ipv4Header.FixedLength + UdpHeader.FixedLength];
                var udp = new UdpHeader.Writer(quoted.AsSpan(Ipv4Header.FixedLength))
                {
                    SourcePort = client.Port,
                    DestinationPort = destination.Port,
                    Length = UdpHeader.FixedLength,
                };
                _ = udp;
                var header = new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Udp, Source = client.Address.ToIpv4(), Destination = destination.Address.ToIpv4() };
                Ipv4Packet.Write(quoted, header, default, quoted.AsSpan(Ipv4Header.FixedLength).ToArray());
                NetworkInterface nic = stack.Interfaces.FirstOrDefault(n => n.IsOnLink(header.Source)) ?? stack.Interfaces[0];
                var original = new IpDatagram(nic, quoted.AsSpan(0, Ipv4Header.FixedLength), quoted.AsSpan(Ipv4Header.FixedLength), header.Source, header.Destination, IpProtocol.Udp, 64, 0, false, false);
                stack.SendIcmpDestinationUnreachable(in original, IcmpUnreachableCode.PortUnreachable);
            });
        }
        catch (InvalidOperationException)
        {
            // The stack's request queue is full: the client will time out instead.
        }
    }

    /// <summary>One UDP flow: a client endpoint and a destination endpoint, relayed through one outbound flow.</summary>
    private sealed class UdpFlow
    {
        private readonly TransparentForwarder _forwarder;
        private readonly Channel<byte[]> _queue;
        private readonly CancellationTokenSource _stop;
        private int _closed;

        public UdpFlow(TransparentForwarder forwarder, IpEndpoint client, IpEndpoint destination, CancellationToken ct)
        {
            _forwarder = forwarder;
            Client = client;
            Destination = destination;
            _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            _queue = Channel.CreateBounded<byte[]>(new BoundedChannelOptions(forwarder.Options.UdpFlowQueue) { SingleReader = true, SingleWriter = true, FullMode = BoundedChannelFullMode.DropWrite });
            Touch();
        }

        public IpEndpoint Client { get; }

        public IpEndpoint Destination { get; }

        public long LastActivityTicks { get; private set; }

        public bool IsClosed => Volatile.Read(ref _closed) != 0;

        public void Start() => _ = RunAsync();

        public bool TryQueue(ReadOnlySpan<byte> datagram)
        {
            Touch();
            return !IsClosed && _queue.Writer.TryWrite(datagram.ToArray());
        }

        public void Close()
        {
            if (Interlocked.Exchange(ref _closed, 1) == 0)
            {
                _queue.Writer.TryComplete();
                _stop.Cancel();
            }
        }

        private void Touch() => LastActivityTicks = _forwarder._stack.TimeProvider.GetUtcNow().UtcTicks;

        private async Task RunAsync()
        {
            CancellationToken ct = _stop.Token;
            OutboundDatagramFlow outbound;
            try
            {
                outbound = await _forwarder._outbound.OpenUdpAsync(Destination, ct).ConfigureAwait(false);
            }
            catch (Exception e) when (e is OutboundException or OperationCanceledException or SocketException)
            {
                Close();
                return;
            }

            using (outbound)
            {
                Task down = DownAsync(outbound, ct);
                try
                {
                    await foreach (byte[] datagram in _queue.Reader.ReadAllAsync(ct).ConfigureAwait(false))
                    {
                        await outbound.SendAsync(datagram, ct).ConfigureAwait(false);
                        Interlocked.Increment(ref _forwarder.Counters.UdpDatagramsUp);
                    }
                }
                catch (Exception e) when (e is OutboundException or OperationCanceledException or ChannelClosedException)
                {
                    if (e is OutboundException { Error: OutboundError.Refused })
                    {
                        _forwarder.SendPortUnreachable(Client, Destination);
                    }
                }

                Close();
                try
                {
                    await down.ConfigureAwait(false);
                }
                catch (Exception)
                {
                    // Ends by cancellation.
                }
            }
        }

        private async Task DownAsync(OutboundDatagramFlow outbound, CancellationToken ct)
        {
            byte[] buffer = new byte[UdpPacket.MaxPayloadLength];
            while (!ct.IsCancellationRequested)
            {
                int n;
                try
                {
                    n = await outbound.ReceiveAsync(buffer, ct).ConfigureAwait(false);
                }
                catch (OutboundException e) when (e.Error == OutboundError.Refused)
                {
                    // RFC 1122 4.1.3.3: the destination's port unreachable, passed on to the client.
                    _forwarder.SendPortUnreachable(Client, Destination);
                    continue;
                }

                Touch();
                try
                {
                    await _forwarder._udp!.SendFromAsync(buffer.AsMemory(0, n), Destination, Client, ct).ConfigureAwait(false);
                    Interlocked.Increment(ref _forwarder.Counters.UdpDatagramsDown);
                }
                catch (UdpException)
                {
                    Interlocked.Increment(ref _forwarder.Counters.UdpDropped);
                }
            }
        }
    }
}
