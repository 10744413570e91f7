using System.Collections.Concurrent;
using System.Net.Sockets;
using System.Security.Cryptography;
using Microsoft.Extensions.Logging;
using Protocols.Ip;
using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp;

/// <summary>
/// TCP (RFC 9293) on one <see cref="NetworkStack"/>: the connection table with O(1)
/// demultiplexing by 4-tuple, listeners with SYN and accept queues and SYN cookies, resets for
/// segments that find no connection, one timer per connection in the stack's timer queue, ICMP
/// errors to the connections they concern, ephemeral ports, the connection table snapshot and
/// the counters. The connection engine (<see cref="TcpControlBlock"/>) is sans-IO; this layer
/// drives it. Made by <see cref="TcpStackExtensions.UseTcp"/>; its callbacks run on the loop.
/// </summary>
/// <remarks>
/// Public methods are thread-safe (they post work to the stack's loop) except those documented
/// as loop-only. Listening is synchronous, like listen(2): it reports a conflict at once.
/// </remarks>
public sealed partial class TcpLayer : IIpTransport
{
    private readonly Dictionary<TcpFourTuple, TcpConnection> _connections = new();
    private readonly TcpReceiveCoalescer _coalescer;
    private readonly List<TcpStream> _fillingReads = []; // loop-only: reads that complete when the receive batch ends
    private readonly ConcurrentDictionary<ListenKey, TcpListener> _listeners = new();
    private readonly Lock _listenLock = new();
    private readonly SynCookies _synCookies;
    private TcpListener? _catchAll;
    private readonly ConcurrentQueue<TcpStream> _closeRequests = new();
    private readonly Action<NetworkStack> _runCloseRequests;
    private int _closeRequestsScheduled;
    private readonly TimerCallback _retryCloseRequests;
    private ITimer? _closeRetryTimer; // referenced so it is not collected before it fires

    // How long a close waits before retrying when the stack's request queue was full.
    private static readonly TimeSpan CloseRetryDelay = TimeSpan.FromMilliseconds(10);
    private readonly Output _output;

    // Finished stream operations kept for new connections: at most this many of each kind.
    private const int CachedStreamOperations = 1024;

    /// <summary>Finished read and write operations of closed streams, reused by new ones. Loop-only.</summary>
    internal TcpStream.OperationCache StreamOperations { get; } = new(CachedStreamOperations);

    internal TcpLayer(NetworkStack stack, TcpStackOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.CoalescedRunSegments is < 2 or > 64)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"CoalescedRunSegments {options.CoalescedRunSegments} is outside 2..64.");
        }

        if (options.EphemeralPortFirst == 0 || options.EphemeralPortLast < options.EphemeralPortFirst)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"Ephemeral range {options.EphemeralPortFirst}..{options.EphemeralPortLast} is empty or includes port 0.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxTimeWait, nameof(options));
        Stack = stack;
        Options = options;
        _coalescer = new TcpReceiveCoalescer(this);
        Random random = options.Seed is { } seed ? new Random(seed) : new Random();
        Span<byte> secret = stackalloc byte[16];
        IsnGenerator isn;
        if (options.Seed is null)
        {
            isn = IsnGenerator.CreateRandom();
            _synCookies = SynCookies.CreateRandom();
            RandomNumberGenerator.Fill(secret);
        }
        else
        {
            random.NextBytes(secret);
            isn = new IsnGenerator(secret);
            random.NextBytes(secret);
            _synCookies = new SynCookies(secret);
            random.NextBytes(secret);
        }

        CookieTimestampOffset = (uint)random.NextInt64(0, 1L << 32);
        _ports = new EphemeralPorts(options.EphemeralPortFirst, options.EphemeralPortLast, secret, random);
        Counters = new TcpCounters();
        StackName = options.Name ?? stack.Name;
        _output = new Output(this);
        _runCloseRequests = RunCloseRequests;
        _retryCloseRequests = RetryCloseRequests;
        Environment = new TcpEngineEnvironment(_output, isn, random)
        {
            Counters = Counters,
            ChallengeAckLimiter = new ChallengeAckLimiter(options.ChallengeAckLimitPerSecond),
            Controllers = options.CongestionControllers ?? throw new ArgumentNullException(nameof(options), "CongestionControllers is null."),
        };
        ValidateOptions(options.Defaults, nameof(options));
        if (options.SegmentTrace is { } trace)
        {
            Environment.Trace = e => trace(FormatTrace(in e));
        }

        TcpMetrics.Register(this);
    }

    /// <summary>The stack this layer runs on.</summary>
    public NetworkStack Stack { get; }

    /// <summary>The layer's settings.</summary>
    public TcpStackOptions Options { get; }

    /// <summary>The counters (<c>netstat -s</c>); also published on the <c>Protocols.Tcp</c> meter.</summary>
    public TcpCounters Counters { get; }

    /// <summary>The name the <c>Protocols.Tcp</c> instruments tag this layer's measurements with (<c>protocols.stack</c>).</summary>
    public string StackName { get; }

    /// <summary>Connections in the table (every state but LISTEN, TIME_WAIT included). Loop-only.</summary>
    public int ConnectionCount => _connections.Count + _timeWait.Count;

    /// <summary>Listening endpoints.</summary>
    public int ListenerCount => _listeners.Count;

    /// <inheritdoc/>
    public IpProtocol Protocol => IpProtocol.Tcp;

    /// <inheritdoc/>
    /// <remarks>True: a packet too big lowers the path MTU only when it quotes a sequence number in flight.</remarks>
    public bool ValidatesPacketTooBig => true;

    internal TcpEngineEnvironment Environment { get; }

    /// <summary>The stack's time in microseconds since the Unix epoch: the engine's clock.</summary>
    internal Micros NowMicros => Micros.FromUnixTime(Stack.Now);

    /// <summary>
    /// Starts listening on <paramref name="port"/> of every local address of both families: a
    /// dual-stack listener (IPV6_V6ONLY off), whose <see cref="TcpListener.LocalEndPoint"/> reads
    /// <c>[::]:port</c>. IPv4 peers appear as IPv4 endpoints, never IPv4-mapped ones.
    /// </summary>
    /// <param name="port">The port (1-65535).</param>
    /// <param name="backlog">The accept queue's bound: established connections not yet accepted (at least 1).</param>
    /// <param name="options">Options of accepted connections; null for <see cref="TcpStackOptions.Defaults"/>.</param>
    /// <returns>The listener.</returns>
    /// <exception cref="TcpException">The port is already listened on in either family (<see cref="SocketError.AddressAlreadyInUse"/>).</exception>
    public TcpListener Listen(ushort port, int backlog = 128, TcpConnectionOptions? options = null) =>
        Listen(new IpEndpoint(IpAddress.Ipv6Any, port), dualStack: true, backlog, options);

    /// <summary>
    /// Starts listening on <paramref name="local"/> in its family only: one of the stack's addresses,
    /// or <see cref="IpAddress.Ipv4Any"/> / <see cref="IpAddress.Ipv6Any"/> for every address of that family.
    /// </summary>
    /// <param name="local">The local address and port (1-65535).</param>
    /// <param name="backlog">The accept queue's bound: established connections not yet accepted (at least 1).</param>
    /// <param name="options">Options of accepted connections; null for <see cref="TcpStackOptions.Defaults"/>.</param>
    /// <returns>The listener.</returns>
    /// <exception cref="TcpException">The endpoint is already listened on (<see cref="SocketError.AddressAlreadyInUse"/>), the address is not the stack's (<see cref="SocketError.AddressNotAvailable"/>), or IPv6 on a stack without IPv6 (<see cref="SocketError.AddressFamilyNotSupported"/>).</exception>
    public TcpListener Listen(IpEndpoint local, int backlog = 128, TcpConnectionOptions? options = null) =>
        Listen(local, dualStack: false, backlog, options);

    private TcpListener Listen(IpEndpoint local, bool dualStack, int backlog, TcpConnectionOptions? options)
    {
        if (local.Port == 0)
        {
            throw new ArgumentOutOfRangeException(nameof(local), "A listener needs a port (1-65535).");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(backlog, 1);
        if (options is not null)
        {
            ValidateOptions(options, nameof(options));
        }

        if (!dualStack && local.Address.IsIpv6 && !Stack.HasIpv6)
        {
            throw FamilyNotSupported(local.Address);
        }

        if (!local.Address.IsAny && !Stack.IsLocalAddress(local.Address))
        {
            throw new TcpException(SocketError.AddressNotAvailable, $"{local.Address} is not an address of this stack.");
        }

        lock (_listenLock)
        {
            // Without SO_REUSEADDR: one listener per (address, port); a wildcard one takes the port
            // for every address of its family (both for a dual-stack one), so it conflicts with any
            // other listener of the port in that family (Linux inet_csk_bind_conflict).
            foreach ((ListenKey key, TcpListener existing) in _listeners)
            {
                if (key.Port == local.Port && Conflicts(key.Address, existing.DualStack, local.Address, dualStack))
                {
                    throw new TcpException(SocketError.AddressAlreadyInUse, $"{local} is already listened on.");
                }
            }

            var listener = new TcpListener(this, local, dualStack, backlog, options ?? Options.Defaults);
            _listeners[new ListenKey(local.Address, local.Port)] = listener;
            return listener;
        }
    }

    /// <summary>
    /// Starts the catch-all listener: it takes connections to any address that is not the stack's
    /// own and any port, arriving through an interface with
    /// <see cref="NetworkInterface.AcceptAnyDestination"/> (a tun2socks-style forwarder); the accepted
    /// stream's <see cref="TcpStream.LocalEndPoint"/> is the original destination. A listener on the
    /// stack's own addresses is never bypassed (those addresses never reach the catch-all), and the
    /// SYN queue, accept queue and SYN cookies bound it like any listener. IPv4 only: IPv6 packets to
    /// addresses not the stack's are dropped.
    /// </summary>
    /// <param name="backlog">The accept queue's bound.</param>
    /// <param name="options">Options of accepted connections; null for <see cref="TcpStackOptions.Defaults"/>.</param>
    /// <param name="deferAccept">
    /// True: each SYN waits for the application's decision (<see cref="TcpListener.NextRequestAsync"/>,
    /// <see cref="TcpConnectionRequest"/>) so a relay can answer with what the real destination did;
    /// held SYNs count towards the SYN queue, and past it SYN cookies answer at once (those
    /// connections arrive through <see cref="TcpListener.AcceptAsync"/>). False: every SYN is
    /// answered at once, as by any listener.
    /// </param>
    /// <returns>The listener (local endpoint 0.0.0.0:0).</returns>
    /// <exception cref="TcpException">The layer has a catch-all listener already (<see cref="SocketError.AddressAlreadyInUse"/>).</exception>
    public TcpListener ListenCatchAll(int backlog = 1024, TcpConnectionOptions? options = null, bool deferAccept = true)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(backlog, 1);
        if (options is not null)
        {
            ValidateOptions(options, nameof(options));
        }

        var listener = new TcpListener(this, new IpEndpoint(IpAddress.Ipv4Any, 0), dualStack: false, backlog, options ?? Options.Defaults, catchAll: true, deferAccept);
        if (Interlocked.CompareExchange(ref _catchAll, listener, null) is not null)
        {
            throw new TcpException(SocketError.AddressAlreadyInUse, "The layer has a catch-all listener already.");
        }

        return listener;
    }

    // Two bindings of one port collide when their families overlap and either is a wildcard of a shared family or they are the same address.
    private static bool Conflicts(IpAddress a, bool aDual, IpAddress b, bool bDual)
    {
        bool a4 = aDual || a.IsIpv4, a6 = aDual || a.IsIpv6, b4 = bDual || b.IsIpv4, b6 = bDual || b.IsIpv6;
        if (!((a4 && b4) || (a6 && b6)))
        {
            return false;
        }

        return aDual || bDual || a.IsAny || b.IsAny || a == b;
    }

    /// <summary>Opens a connection to <paramref name="remote"/> from an ephemeral port with the default options.</summary>
    /// <param name="remote">The peer.</param>
    /// <param name="cancellationToken">Cancels the attempt (the half-open connection is dropped).</param>
    /// <returns>The established connection.</returns>
    /// <exception cref="TcpException">Refused, timed out (SYN retries exhausted), unreachable, or no ephemeral port free.</exception>
    public Task<TcpStream> ConnectAsync(IpEndpoint remote, CancellationToken cancellationToken = default) =>
        ConnectAsync(remote, null, null, cancellationToken);

    /// <summary>Opens a connection to <paramref name="remote"/>.</summary>
    /// <param name="remote">The peer.</param>
    /// <param name="options">The connection's options; null for <see cref="TcpStackOptions.Defaults"/>.</param>
    /// <param name="localEndpoint">The local address and port; null (or an unspecified address / port 0) to let the stack choose (route source, ephemeral port).</param>
    /// <param name="cancellationToken">Cancels the attempt (the half-open connection is dropped).</param>
    /// <returns>The established connection.</returns>
    /// <exception cref="TcpException">Refused, timed out (SYN retries exhausted), unreachable, address in use, no ephemeral port free, or an address family the stack does not route (<see cref="SocketError.AddressFamilyNotSupported"/>, in the task).</exception>
    /// <exception cref="ArgumentException">The options are invalid (buffer sizes, retry counts, unknown congestion controller), the remote endpoint cannot be connected to, or the local endpoint is of another family.</exception>
    public Task<TcpStream> ConnectAsync(IpEndpoint remote, TcpConnectionOptions? options, IpEndpoint? localEndpoint, CancellationToken cancellationToken = default)
    {
        if (remote.Port == 0 || remote.Address.IsAny || remote.Address.IsMulticast || remote.Address == Ipv4Address.Broadcast)
        {
            throw new ArgumentException($"Cannot connect to {remote}.", nameof(remote));
        }

        if (localEndpoint is { } requested && requested.Address.Family != remote.Address.Family && !requested.Address.IsAny)
        {
            throw new ArgumentException($"The local endpoint {requested} and the remote {remote} are of different address families.", nameof(localEndpoint));
        }

        if (remote.Address.IsIpv6 && !Stack.HasIpv6)
        {
            return Task.FromException<TcpStream>(FamilyNotSupported(remote.Address));
        }

        if (options is not null)
        {
            ValidateOptions(options, nameof(options));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TcpStream>(cancellationToken);
        }

        IpEndpoint local = localEndpoint is { Address.IsAny: false } l ? l : new IpEndpoint(remote.Address.IsIpv6 ? IpAddress.Ipv6Any : IpAddress.Ipv4Any, localEndpoint?.Port ?? 0);
        var attempt = new ConnectAttempt(this, remote, options ?? Options.Defaults, local, cancellationToken);
        try
        {
            Stack.Post(attempt.StartOnLoop);
        }
        catch (InvalidOperationException e)
        {
            attempt.Fail(new TcpException(SocketError.NoBufferSpaceAvailable, "The stack's request queue is full: " + e.Message));
        }

        return attempt.Task;
    }

    /// <summary>The connection table like <c>ss -tan</c>: listeners first, then every connection. Thread-safe.</summary>
    /// <returns>One row per listener and connection.</returns>
    public Task<IReadOnlyList<TcpConnectionInfo>> GetConnectionsAsync() => Stack.InvokeAsync(_ => GetConnections());

    /// <summary>The connection table like <c>ss -tan</c>: listeners first, then every connection. Loop-only (simulations, callbacks).</summary>
    /// <returns>One row per listener and connection.</returns>
    public IReadOnlyList<TcpConnectionInfo> GetConnections()
    {
        Micros now = NowMicros;
        var rows = new List<TcpConnectionInfo>(_listeners.Count + _connections.Count + _timeWait.Count);
        foreach (TcpListener listener in _listeners.Values)
        {
            rows.Add(listener.GetInfo());
        }

        if (Volatile.Read(ref _catchAll) is { } catchAll)
        {
            rows.Add(catchAll.GetInfo());
        }

        foreach (TcpConnection c in _connections.Values)
        {
            rows.Add(c.Tcb.GetInfo(now));
        }

        AddTimeWaitRows(rows, now);

        return rows;
    }

    /// <inheritdoc/>
    public void OnDatagram(NetworkStack stack, in IpDatagram datagram)
    {
        if (!TcpSegment.TryParse(datagram.Payload, out TcpSegment segment, out TcpHeader.Reader header, out WireError error))
        {
            BadSegment(in datagram, TcpCounters.BadSegmentDetail(in error), in error);
            return;
        }

        if (!datagram.ChecksumsVerifiedByDevice)
        {
            // RFC 9293 3.1: the checksum covers the pseudo-header (source, destination, protocol, TCP length).
            uint pseudo = Checksum.PseudoHeaderSum(datagram.Source, datagram.Destination, TcpHeader.IpProtocolNumber, datagram.Payload.Length);
            if (!header.VerifyChecksum(pseudo))
            {
                BadSegment(in datagram, TcpCounter.BadSegmentsChecksum, default);
                return;
            }
        }

        // RFC 1122 4.2.3.10 / RFC 9293 3.9.1: TCP is unicast; a segment to a broadcast or multicast address is dropped.
        if (datagram.IsBroadcast)
        {
            Counters.Add(TcpCounter.SegmentsReceived);
            return;
        }

        var tuple = new TcpFourTuple(datagram.Destination, header.DestinationPort, datagram.Source, header.SourcePort);

        // Receive coalescing: in-order data of an established connection may wait for the rest of
        // the device's batch to be merged with it; anything else of a flow holding a run delivers
        // the run first.
        if ((datagram.CoalescingKey != 0 || _coalescer.IsHolding) && _coalescer.Offer(in datagram, in tuple, in header, in segment))
        {
            return;
        }

        Micros now = NowMicros;
        if (_connections.TryGetValue(tuple, out TcpConnection? connection))
        {
            if (!TryRecycleTimeWait(connection, in segment))
            {
                DeliverToConnection(connection, in segment, now);
                return;
            }
        }
        else if (_timeWait.Count > 0 && TryTimeWaitSegment(in tuple, in segment, now))
        {
            return;
        }

        TcpListener? listener = FindListener(tuple.LocalAddress, header.DestinationPort);
        if (listener is not null)
        {
            listener.OnSegment(in tuple, in segment, now);
            return;
        }

        // RFC 9293 3.10.7.1: no connection (CLOSED): answer everything but a RST with a RST.
        Counters.Add(TcpCounter.SegmentsReceived);
        SendResetForClosed(in tuple, in segment);
    }

    /// <inheritdoc/>
    public void OnReceiveBatchEnd(NetworkStack stack)
    {
        _coalescer.FlushAll(); // its runs may still go into reads being filled

        // The reads the batch's segments went into complete with what they hold.
        List<TcpStream> filling = _fillingReads;
        for (int i = 0; i < filling.Count; i++)
        {
            filling[i].FinishFill();
        }

        filling.Clear();
    }

    /// <summary>
    /// Completes <paramref name="stream"/>'s read being filled at the end of the receive batch;
    /// false outside a batch (the caller completes it now). Loop-only.
    /// </summary>
    internal bool FinishFillAtBatchEnd(TcpStream stream)
    {
        if (!Stack.RequestReceiveBatchEnd())
        {
            return false;
        }

        _fillingReads.Add(stream);
        return true;
    }

    /// <summary>The connection of <paramref name="tuple"/> in the table, if any. Loop-only.</summary>
    internal bool TryGetConnection(in TcpFourTuple tuple, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TcpConnection? connection) =>
        _connections.TryGetValue(tuple, out connection);

    /// <summary>The receive coalescer (tests look at its buffers).</summary>
    internal TcpReceiveCoalescer Coalescer => _coalescer;

    /// <summary>
    /// A segment the layer could not use: counted in <see cref="TcpCounter.BadSegments"/> and its
    /// detail counter, and logged at Debug (the command's <c>--verbose</c>) with what was wrong.
    /// </summary>
    private void BadSegment(in IpDatagram datagram, TcpCounter detail, in WireError error)
    {
        Counters.Add(TcpCounter.SegmentsReceived);
        Counters.Add(TcpCounter.BadSegments);
        Counters.Add(detail);
        if (Stack.Logger.IsEnabled(LogLevel.Debug))
        {
            Stack.Logger.LogDebug(
                "TCP segment from {Source} dropped ({Detail}): {Error}",
                datagram.Source,
                detail,
                error.IsError ? error.ToString() : "checksum does not verify");
        }
    }

    /// <inheritdoc/>
    public void OnIcmpError(NetworkStack stack, in IcmpErrorInfo error)
    {
        // RFC 792: an ICMP error quotes at least the first 8 bytes of the TCP header: the ports and SEG.SEQ.
        if (!TcpHeader.TryReadPrefix(error.QuotedTransportHeader, out TcpHeader.PrefixReader quoted, out _))
        {
            return;
        }

        var tuple = new TcpFourTuple(error.QuotedSource, quoted.SourcePort, error.QuotedDestination, quoted.DestinationPort);
        if (_coalescer.IsHolding)
        {
            _coalescer.Flush(in tuple);
        }

        if (_connections.TryGetValue(tuple, out TcpConnection? connection))
        {
            // RFC 5927 4.1: the engine checks the quoted SEG.SEQ.
            bool believed = connection.Tcb.OnIcmpError(error.Type, error.Code, error.NextHopMtu, new SeqNum(quoted.SequenceNumber), NowMicros);
            if (believed && error.Icmpv6Type == Icmpv6Type.PacketTooBig)
            {
                // RFC 8201 5.2 / RFC 5927: the path MTU changes only for a packet too big whose
                // quoted sequence number is in flight (see ValidatesPacketTooBig).
                stack.LowerPathMtu(error.QuotedDestination.ToIpv6(), error.NextHopMtu);
            }

            Drain(connection);
        }
    }

    /// <summary>The listener for a segment to (<paramref name="address"/>, <paramref name="port"/>): exact address first, then the wildcard.</summary>
    internal TcpListener? FindListener(IpAddress address, ushort port)
    {
        // An address that is not ours reached us through a transparent interface: only the
        // catch-all listener takes it (a wildcard listener means "every address of this stack").
        if (Volatile.Read(ref _catchAll) is { } catchAll && address.IsIpv4 && !Stack.IsLocalAddress(address.ToIpv4()))
        {
            return catchAll;
        }

        if (_listeners.IsEmpty)
        {
            return null;
        }

        if (_listeners.TryGetValue(new ListenKey(address, port), out TcpListener? exact))
        {
            return exact;
        }

        if (_listeners.TryGetValue(new ListenKey(address.IsIpv6 ? IpAddress.Ipv6Any : IpAddress.Ipv4Any, port), out TcpListener? any))
        {
            return any;
        }

        // A dual-stack listener sits at [::] and takes IPv4 too.
        return address.IsIpv4 && _listeners.TryGetValue(new ListenKey(IpAddress.Ipv6Any, port), out TcpListener? dual) && dual.DualStack ? dual : null;
    }

    /// <summary>
    /// Queues the orderly close of a disposed stream; thread-safe, never throws. Closes share one
    /// posted work item, so disposing 100,000 streams at once does not overflow the stack's
    /// bounded request queue (Dispose must not fail).
    /// </summary>
    internal void RequestClose(TcpStream stream)
    {
        _closeRequests.Enqueue(stream);
        ScheduleCloseRequests();
    }

    private void ScheduleCloseRequests()
    {
        if (Interlocked.CompareExchange(ref _closeRequestsScheduled, 1, 0) != 0)
        {
            return;
        }

        try
        {
            Stack.Post(_runCloseRequests);
        }
        catch (InvalidOperationException)
        {
            // The request queue is full (the stack is overloaded). A close must not be lost even if
            // no other Dispose follows: retry from a timer of the stack's clock until the post fits.
            // The flag stays set, so exactly one retry timer exists at a time.
            _closeRetryTimer = Stack.TimeProvider.CreateTimer(_retryCloseRequests, null, CloseRetryDelay, Timeout.InfiniteTimeSpan);
        }
    }

    private void RetryCloseRequests(object? state)
    {
        Interlocked.Exchange(ref _closeRetryTimer, null)?.Dispose();
        Volatile.Write(ref _closeRequestsScheduled, 0);
        if (!_closeRequests.IsEmpty)
        {
            ScheduleCloseRequests();
        }
    }

    private void RunCloseRequests(NetworkStack stack)
    {
        Volatile.Write(ref _closeRequestsScheduled, 0);
        while (_closeRequests.TryDequeue(out TcpStream? stream))
        {
            stream.CloseOnLoop();
        }
    }

    /// <summary>Removes a disposed listener from the table; thread-safe.</summary>
    internal void RemoveListener(TcpListener listener)
    {
        if (listener.IsCatchAll)
        {
            Interlocked.CompareExchange(ref _catchAll, null, listener);
            return;
        }

        lock (_listenLock)
        {
            var key = new ListenKey(listener.LocalEndPoint.Address, listener.LocalEndPoint.Port);
            if (_listeners.TryGetValue(key, out TcpListener? current) && ReferenceEquals(current, listener))
            {
                _listeners.TryRemove(key, out _);
            }
        }
    }

    /// <summary>Adds a new connection to the table; on the loop.</summary>
    internal void AddConnection(TcpConnection connection)
    {
        _connections.Add(connection.Tuple, connection);
        connection.InTable = true;
    }

    /// <summary>Whether the table has a connection on <paramref name="tuple"/>; on the loop.</summary>
    internal bool IsInUse(in TcpFourTuple tuple) => _connections.ContainsKey(tuple) || _timeWait.ContainsKey(tuple);

    /// <summary>Hands a segment to a connection and acts on what happened; on the loop.</summary>
    internal void DeliverToConnection(TcpConnection connection, in TcpSegment segment, Micros now)
    {
        // Linux's tcp_check_req / tcp_v4_syn_recv_sock: the ACK completing a handshake when the
        // listener's accept queue is full is dropped and counted; the SYN-ACK retransmits and the
        // handshake completes later if the application accepts meanwhile.
        if (connection.Queue == TcpConnectionQueue.SynQueue
            && connection.Listener is { } listener
            && listener.IsAcceptQueueFull
            && (segment.Flags & (TcpFlags.Ack | TcpFlags.Rst | TcpFlags.Syn)) == TcpFlags.Ack
            && connection.Tcb.State == TcpState.SynReceived)
        {
            Counters.Add(TcpCounter.SegmentsReceived);
            Counters.Add(TcpCounter.ListenOverflows);
            Counters.Add(TcpCounter.ListenDrops);
            return;
        }

        connection.Tcb.OnSegment(in segment, now);
        Drain(connection);
    }

    /// <summary>
    /// After every call into a control block: wake the stream's pending operations, move a
    /// connection that became established to its listener's accept queue or complete its
    /// connect, drop it from the table once CLOSED, and re-arm its timer. On the loop.
    /// </summary>
    internal void Drain(TcpConnection connection)
    {
        TcpControlBlock tcb = connection.Tcb;
        if (connection.PendingPathMtu != 0)
        {
            // A send IP refused as too big (DF): tell the engine as if the ICMP error had come (RFC 1191).
            int mtu = connection.PendingPathMtu;
            connection.PendingPathMtu = 0;
            tcb.OnIcmpError(IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, (ushort)mtu, NowMicros);
        }

        TcpEvents events = tcb.TakeEvents();
        if ((events & TcpEvents.Established) != 0)
        {
            OnEstablished(connection);
        }

        TcpStream? stream = connection.Stream;
        if (stream is not null)
        {
            if ((events & (TcpEvents.Readable | TcpEvents.ReceiveCompleted | TcpEvents.Error | TcpEvents.Closed)) != 0)
            {
                stream.OnReadable();
            }

            if ((events & (TcpEvents.Writable | TcpEvents.Error | TcpEvents.Closed)) != 0)
            {
                stream.OnWritable();
            }
        }

        TcpState state = tcb.State;
        if (connection.Connect is { } connect && state is not (TcpState.SynSent or TcpState.SynReceived) && !connection.WasEstablished)
        {
            // Failed before it was established: refused, timed out, unreachable.
            connection.Connect = null;
            connect.Fail(ErrorFor(tcb, SocketError.ConnectionRefused));
        }

        if (state == TcpState.Closed)
        {
            Remove(connection);
            return;
        }

        if (state == TcpState.TimeWait && connection.InTable && TryMoveToTimeWait(connection))
        {
            return;
        }

        UpdateTimer(connection);
    }

    /// <summary>The timer of <paramref name="connection"/> fired; on the loop.</summary>
    internal void OnConnectionTimer(TcpConnection connection)
    {
        connection.Timer = default;
        connection.TimerDueMicros = long.MaxValue;
        if (!connection.InTable)
        {
            return;
        }

        connection.Tcb.OnTimer(NowMicros);
        Drain(connection);
    }

    /// <summary>The exception for a failed connection: its engine error, or <paramref name="fallback"/> when it has none.</summary>
    internal static TcpException ErrorFor(TcpControlBlock tcb, SocketError fallback) =>
        new(tcb.Error is SocketError.Success ? fallback : tcb.Error);

    private string FormatTrace(in TcpTraceEvent e)
    {
        TcpFourTuple t = e.Tuple;
        var local = new IpEndpoint(t.LocalAddress, t.LocalPort);
        var remote = new IpEndpoint(t.RemoteAddress, t.RemotePort);
        string time = Protocols.Ip.Devices.PacketFormatter.FormatTime(Stack.Now);
        return e.Outgoing
            ? FormattableString.Invariant($"{time} tcp {local} > {remote} out [{TcpOutgoingSegment.FlagString(e.Flags)}] seq {e.Seq} ack {e.Ack} win {e.Window} len {e.PayloadLength} {e.State}")
            : FormattableString.Invariant($"{time} tcp {remote} > {local} in [{TcpOutgoingSegment.FlagString(e.Flags)}] seq {e.Seq} ack {e.Ack} win {e.Window} len {e.PayloadLength} {e.State}");
    }

    /// <summary>The error for an endpoint of a family this stack does not route.</summary>
    internal static TcpException FamilyNotSupported(IpAddress address) =>
        new(SocketError.AddressFamilyNotSupported, $"{address}: the stack has no IPv6 interface.");

    /// <summary>
    /// The MSS to announce to <paramref name="remoteAddress"/>: the route's MTU - 40 for IPv4
    /// (RFC 9293 3.7.1, RFC 879), the link or path MTU - 60 for IPv6 (RFC 8200 8.3), at least
    /// 536 and 1220 respectively.
    /// </summary>
    internal int RouteMss(IpAddress localAddress, IpAddress remoteAddress)
    {
        if (localAddress.IsIpv6)
        {
            return RouteMss6(localAddress.ToIpv6(), remoteAddress.ToIpv6());
        }

        Ipv4Address local = localAddress.ToIpv4();
        int mtu = 0;
        bool loopback = Stack.IsLocalAddress(remoteAddress.ToIpv4());
        foreach (NetworkInterface nic in Stack.Interfaces)
        {
            if (nic.Address == local)
            {
                mtu = nic.Mtu;
                break;
            }
        }

        if (mtu == 0 && Stack.Interfaces.Count > 0)
        {
            mtu = Stack.Interfaces[0].Mtu;
        }

        if (loopback)
        {
            mtu = Math.Max(mtu, 1500);
        }

        // 20 bytes of IPv4 header and 20 of TCP header, without options; at least 536 (RFC 9293 3.7.1's default).
        return Math.Max(mtu - 40, 536);
    }

    private int RouteMss6(Ipv6Address local, Ipv6Address remote)
    {
        int mtu = Ipv6Packet.MinimumMtu;
        if (Stack.IsLocalAddress(remote))
        {
            mtu = 65535;
        }
        else
        {
            foreach (NetworkInterface nic in Stack.Interfaces)
            {
                if (nic.Ipv6Addresses.Any(a => a.Address == local))
                {
                    mtu = Math.Max(mtu, nic.Ipv6Mtu);
                    break;
                }
            }

            if (Stack.PathMtu.Lookup(remote, Stack.Now) is int path)
            {
                mtu = Math.Min(mtu, path);
            }
        }

        // 40 bytes of IPv6 header and 20 of TCP header; 1220 is what a 1280-byte link carries.
        return Math.Max(mtu - 60, Ipv6Packet.MinimumMtu - 60);
    }

    private void OnEstablished(TcpConnection connection)
    {
        connection.WasEstablished = true;
        if (connection.Queue == TcpConnectionQueue.SynQueue && connection.Listener is { } listener)
        {
            listener.OnEstablished(connection);
        }

        if (connection.Connect is { } connect)
        {
            connection.Connect = null;
            var stream = new TcpStream(connection);
            connection.Stream = stream;
            if (!connect.Succeed(stream))
            {
                // Cancelled meanwhile: nobody will use this connection.
                connection.Stream = null;
                connection.Tcb.Abort(NowMicros);
                Drain(connection);
            }
        }
    }

    private void Remove(TcpConnection connection)
    {
        if (connection.InTable)
        {
            connection.InTable = false;
            if (_connections.TryGetValue(connection.Tuple, out TcpConnection? current) && ReferenceEquals(current, connection))
            {
                _connections.Remove(connection.Tuple);
            }
        }

        if (connection.Timer.IsAllocated)
        {
            Stack.Timers.Cancel(connection.Timer);
            connection.Timer = default;
            connection.TimerDueMicros = long.MaxValue;
        }

        if (connection.Queue == TcpConnectionQueue.SynQueue)
        {
            connection.Listener?.OnHalfOpenClosed(connection);
        }
    }

    // One timer per connection, re-armed only when the engine's deadline moves earlier; a timer
    // that fires early calls OnTimer, which does nothing that is not due, and re-arms.
    private void UpdateTimer(TcpConnection connection)
    {
        long due = connection.Tcb.NextDeadlineMicros;
        if (due >= connection.TimerDueMicros)
        {
            return;
        }

        if (connection.Timer.IsAllocated)
        {
            Stack.Timers.Cancel(connection.Timer);
        }

        connection.TimerDueMicros = due;
        connection.Timer = Stack.Timers.Schedule(new Micros(due).ToUnixTime(), connection.TimerCallback);
    }

    // RFC 6191: a SYN for a 4-tuple in TIME_WAIT whose ISN (or timestamp) is newer than the old
    // incarnation's may open a new connection; the old one is dropped and the SYN goes to the listener.
    private bool TryRecycleTimeWait(TcpConnection connection, in TcpSegment segment)
    {
        if (connection.Tcb.State != TcpState.TimeWait
            || (segment.Flags & (TcpFlags.Syn | TcpFlags.Ack | TcpFlags.Rst)) != TcpFlags.Syn
            || FindListener(connection.Tuple.LocalAddress, connection.Tuple.LocalPort) is null
            || !connection.Tcb.CanBeReplacedBySyn(in segment))
        {
            return false;
        }

        Counters.Add(TcpCounter.TimeWaitRecycled);
        Remove(connection);
        return true;
    }

    /// <summary>RFC 9293 3.10.7.1: the reset answering a segment that found no connection (never one for a RST).</summary>
    internal void SendResetForClosed(in TcpFourTuple tuple, in TcpSegment segment)
    {
        if (!TcpOutgoingSegment.TryCreateResetFor(in segment, out TcpOutgoingSegment reset))
        {
            return;
        }

        Counters.Add(TcpCounter.ResetsSent);
        SendStateless(in tuple, in reset);
    }

    /// <summary>
    /// An ICMP destination unreachable for a SYN the application refused (RFC 792): the quoted
    /// datagram is rebuilt from the SYN's fields (IP header and the TCP header's first bytes, which
    /// is what the client matches). On the loop.
    /// </summary>
    internal void SendUnreachableFor(in TcpFourTuple tuple, SeqNum seq, ushort window, IcmpUnreachableCode code)
    {
        Span<byte> quoted = stackalloc byte[Ipv4Header.FixedLength + TcpHeader.FixedLength];
        var tcp = new TcpHeader.Writer(quoted[Ipv4Header.FixedLength..])
        {
            SourcePort = tuple.RemotePort,
            DestinationPort = tuple.LocalPort,
            SequenceNumber = seq.Value,
            DataOffset = 5,
            Window = window,
        };
        tcp.SetFlags(TcpFlags.Syn);
        var header = new Ipv4Header
        {
            Ttl = 64,
            Protocol = IpProtocol.Tcp,
            DontFragment = true,
            Source = tuple.RemoteAddress.ToIpv4(),
            Destination = tuple.LocalAddress.ToIpv4(),
        };
        Ipv4Packet.Write(quoted, header, default, quoted[Ipv4Header.FixedLength..].ToArray());
        NetworkInterface? nic = null;
        foreach (NetworkInterface candidate in Stack.Interfaces)
        {
            if (candidate.IsOnLink(header.Source))
            {
                nic = candidate;
                break;
            }
        }

        nic ??= Stack.Interfaces.Count > 0 ? Stack.Interfaces[0] : null;
        if (nic is null)
        {
            return;
        }

        var original = new IpDatagram(nic, quoted[..Ipv4Header.FixedLength], quoted[Ipv4Header.FixedLength..], header.Source, header.Destination, IpProtocol.Tcp, 64, 0, false, false);
        Stack.SendIcmpDestinationUnreachable(in original, code);
    }

    /// <summary>Sends a segment no control block owns (a SYN cookie's SYN-ACK); on the loop.</summary>
    internal void SendStateless(in TcpFourTuple tuple, in TcpOutgoingSegment segment)
    {
        Counters.Add(TcpCounter.SegmentsSent);
        _output.Send(in tuple, in segment, default, default);
    }

    internal SynCookies SynCookieGenerator => _synCookies;

    /// <summary>RFC 7323 5.4 / RFC 6528 spirit: the random offset of the timestamp clock of cookie SYN-ACKs, so they do not reveal the stack's clock.</summary>
    internal uint CookieTimestampOffset { get; }

    private readonly record struct ListenKey(IpAddress Address, ushort Port);

    // Writes segments for every control block straight into the place IP sends them from (the
    // device's transmit memory, or the stack's frame buffer): the payload is copied once, from the
    // send ring to the frame, and nothing more on the way to the device.
    private sealed class Output : ITcpSegmentOutput
    {
        private readonly TcpLayer _layer;

        public Output(TcpLayer layer) => _layer = layer;

        public void Send(in TcpFourTuple tuple, in TcpOutgoingSegment segment, ReadOnlySpan<byte> payload1, ReadOnlySpan<byte> payload2)
        {
            var request = new IpSendRequest(tuple.RemoteAddress, IpProtocol.Tcp)
            {
                Source = tuple.LocalAddress,

                // RFC 1191 / RFC 9293 3.7.2: TCP sets DF and sizes segments to the path MTU.
                DontFragment = true,
            };
            int payload = payload1.Length + payload2.Length;
            int length = segment.HeaderLength + payload;
            bool ipv6 = tuple.RemoteAddress.IsIpv6;

            // A super-segment (TSO): the device cuts it into segments of the connection's MSS and
            // completes their checksums.
            if (segment.SegmentSize != 0)
            {
                request = request with { TcpSegmentSize = segment.SegmentSize };
            }

            NetworkStack stack = _layer.Stack;
            segment.Write(stack.GetDatagramPayloadBuffer(in request, length), tuple, payload1, payload2, partialChecksum: request.TcpSegmentSize != 0);
            IpSendResult result = stack.SendDatagramInPlace(in request, length);
            if (result == IpSendResult.MessageTooBig && length > (ipv6 ? Ipv6Packet.MinimumMtu - Ipv6Header.FixedLength : 576 - Ipv4Header.FixedLength)
                && _layer._connections.TryGetValue(tuple, out TcpConnection? connection))
            {
                connection.PendingPathMtu = _layer.RouteMss(tuple.LocalAddress, tuple.RemoteAddress) + (ipv6 ? 60 : 40);
            }
        }
    }
}
