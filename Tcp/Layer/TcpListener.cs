using System.Net.Sockets;
using System.Threading.Channels;
using Protocols.Ip;
using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp;

/// <summary>
/// A passive open (RFC 9293 3.10.1 with a passive OPEN call): accepts connections on one local
/// endpoint. Two bounded queues stand between the network and <see cref="AcceptAsync"/>, as in
/// Linux: the SYN queue of half-open connections (SYN-RECEIVED, at most
/// <see cref="TcpStackOptions.SynQueueLength"/>; past it, SYN cookies per
/// <see cref="TcpStackOptions.SynCookies"/>) and the accept queue of established connections not
/// yet accepted (at most <see cref="Backlog"/>; when it is full, handshakes are dropped and counted
/// in <see cref="TcpCounter.ListenOverflows"/>). Made by <see cref="TcpLayer.Listen(IpEndpoint, int, TcpConnectionOptions?)"/>.
/// </summary>
public sealed class TcpListener : IDisposable
{
    private readonly TcpLayer _layer;
    private readonly SynQueue _synQueue = new();
    private readonly Queue<TcpConnection> _acceptQueue = new();
    private readonly Queue<AcceptWaiter> _waiters = new();
    private readonly int _windowScale;
    private readonly Action<NetworkStack> _closeOnLoop;
    private int _pending;
    private int _disposed;
    private bool _closedOnLoop;
    private Micros _lastCookieTime = long.MinValue;

    // A deferring catch-all listener: SYNs waiting for the application's decision.
    private readonly Dictionary<TcpFourTuple, TcpConnectionRequest>? _requests;
    private readonly Channel<TcpConnectionRequest>? _requestChannel;

    internal TcpListener(TcpLayer layer, IpEndpoint local, bool dualStack, int backlog, TcpConnectionOptions options, bool catchAll = false, bool deferAccept = false)
    {
        _layer = layer;
        IsCatchAll = catchAll;
        if (deferAccept)
        {
            _requests = new Dictionary<TcpFourTuple, TcpConnectionRequest>();
            _requestChannel = Channel.CreateBounded<TcpConnectionRequest>(new BoundedChannelOptions(layer.Options.SynQueueLength)
            {
                SingleWriter = true,
                FullMode = BoundedChannelFullMode.Wait,
            });
        }

        LocalEndPoint = local;
        DualStack = dualStack;
        Backlog = backlog;
        Options = options;
        _windowScale = TcpControlBlock.ChooseWindowScale(options.ReceiveBufferCap); // what OpenFromCookie assumes we announced
        _closeOnLoop = CloseOnLoop;
    }

    /// <summary>True for the layer's catch-all listener (<see cref="TcpLayer.ListenCatchAll"/>): it takes connections to addresses that are not the stack's.</summary>
    public bool IsCatchAll { get; }

    /// <summary>True when SYNs wait for the application's decision (<see cref="NextRequestAsync"/>) before any answer.</summary>
    public bool DefersAccept => _requests is not null;

    internal TcpLayer Layer => _layer;

    /// <summary>
    /// The next SYN waiting for a decision (a deferring listener). Connections the listener had to
    /// accept at once instead (SYN cookies when the SYN queue, which held SYNs count towards, is
    /// full) still arrive through <see cref="AcceptAsync"/>.
    /// </summary>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The request.</returns>
    /// <exception cref="InvalidOperationException">The listener does not defer.</exception>
    /// <exception cref="ChannelClosedException">The listener was disposed.</exception>
    public ValueTask<TcpConnectionRequest> NextRequestAsync(CancellationToken cancellationToken = default) =>
        _requestChannel is { } channel
            ? channel.Reader.ReadAsync(cancellationToken)
            : throw new InvalidOperationException("This listener accepts at once; it holds no requests.");

    /// <summary>
    /// The local endpoint: a family's unspecified address for every address of that family; <c>[::]</c> with <see cref="DualStack"/> for every address of both
    /// (0.0.0.0:0 for the catch-all listener).
    /// </summary>
    public IpEndpoint LocalEndPoint { get; }

    /// <summary>True when the listener accepts connections of both families (made by <see cref="TcpLayer.Listen(ushort, int, TcpConnectionOptions?)"/>).</summary>
    public bool DualStack { get; }

    /// <summary>The accept queue's bound.</summary>
    public int Backlog { get; }

    /// <summary>Established connections waiting for <see cref="AcceptAsync"/>.</summary>
    public int PendingCount => Volatile.Read(ref _pending);

    /// <summary>Options of accepted connections.</summary>
    public TcpConnectionOptions Options { get; }

    /// <summary>Half-open connections (SYN-RECEIVED) of this listener. Loop-only.</summary>
    public int SynQueueCount => _synQueue.Count;

    internal bool IsAcceptQueueFull => _acceptQueue.Count >= Backlog;

    /// <summary>Waits for an established connection.</summary>
    /// <param name="cancellationToken">Cancels the wait (no connection is lost: it stays queued).</param>
    /// <returns>The connection.</returns>
    /// <exception cref="ObjectDisposedException">The listener was disposed before the call.</exception>
    /// <exception cref="TcpException">The listener was disposed while waiting (<see cref="SocketError.OperationAborted"/>), or too many accepts wait.</exception>
    public Task<TcpStream> AcceptAsync(CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (cancellationToken.IsCancellationRequested)
        {
            return Task.FromCanceled<TcpStream>(cancellationToken);
        }

        var waiter = new AcceptWaiter(this, cancellationToken);
        try
        {
            _layer.Stack.Post(waiter.StartOnLoop);
        }
        catch (InvalidOperationException e)
        {
            waiter.Fail(new TcpException(SocketError.NoBufferSpaceAvailable, "The stack's request queue is full: " + e.Message));
        }

        return waiter.Task;
    }

    /// <summary>Stops listening: new SYNs are answered with RST, queued and half-open connections are reset, and waiting accepts fail.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _layer.RemoveListener(this);
        try
        {
            _layer.Stack.Post(_closeOnLoop);
        }
        catch (InvalidOperationException)
        {
            // The request queue is full: queued connections stay until their peers give up.
        }
    }

    /// <summary><c>LISTEN</c> with the endpoint.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => $"LISTEN {LocalEndPoint}{(DualStack ? " (both families)" : string.Empty)} backlog {Backlog}";

    /// <summary>The <c>ss</c> row: Recv-Q is the accept queue's length, Send-Q the backlog (as Linux shows listeners).</summary>
    internal TcpConnectionInfo GetInfo() => new()
    {
        Local = LocalEndPoint,
        Remote = new IpEndpoint(LocalEndPoint.Address.IsIpv6 ? IpAddress.Ipv6Any : IpAddress.Ipv4Any, 0),
        State = TcpState.Listen,
        ReceiveQueue = _acceptQueue.Count,
        SendQueue = Backlog,
    };

    /// <summary>RFC 9293 3.10.7.2: a segment for no connection, to this listener. On the loop.</summary>
    internal void OnSegment(in TcpFourTuple tuple, in TcpSegment segment, Micros now)
    {
        // The engine counts the segments handed to a control block (the SYN of a passive open,
        // the ACK of a cookie); the layer counts the others.
        TcpCounters counters = _layer.Counters;
        TcpFlags flags = segment.Flags;

        // First, check for a RST: an incoming RST is ignored.
        if ((flags & TcpFlags.Rst) != 0)
        {
            counters.Add(TcpCounter.SegmentsReceived);
            return;
        }

        // Second, check for an ACK: any acknowledgment is bad in LISTEN... unless it returns one
        // of our SYN cookies (RFC 4987 3.6), which stands for the state we did not keep.
        if ((flags & TcpFlags.Ack) != 0)
        {
            if ((flags & TcpFlags.Syn) == 0 && TryOpenFromCookie(in tuple, in segment, now))
            {
                return;
            }

            counters.Add(TcpCounter.SegmentsReceived);
            _layer.SendResetForClosed(in tuple, in segment);
            return;
        }

        // Third, check for a SYN; anything else is dropped.
        if ((flags & TcpFlags.Syn) == 0 || _closedOnLoop)
        {
            counters.Add(TcpCounter.SegmentsReceived);
            return;
        }

        // Linux's tcp_conn_request: no room to accept another connection -> drop the SYN.
        if (IsAcceptQueueFull)
        {
            counters.Add(TcpCounter.SegmentsReceived);
            counters.Add(TcpCounter.ListenOverflows);
            counters.Add(TcpCounter.ListenDrops);
            return;
        }

        if (_requests is not null && _requests.ContainsKey(tuple))
        {
            // The client retransmitted its SYN while the application decides.
            counters.Add(TcpCounter.SegmentsReceived);
            return;
        }

        TcpSynCookieMode mode = _layer.Options.SynCookies;
        bool synQueueFull = _synQueue.Count + (_requests?.Count ?? 0) >= _layer.Options.SynQueueLength;
        if (mode == TcpSynCookieMode.Always || (synQueueFull && mode == TcpSynCookieMode.Auto))
        {
            counters.Add(TcpCounter.SegmentsReceived);
            SendCookieSynAck(in tuple, in segment, now);
            return;
        }

        if (synQueueFull)
        {
            counters.Add(TcpCounter.SegmentsReceived);
            counters.Add(TcpCounter.ListenDrops);
            return;
        }

        if (_requests is not null && TryHoldRequest(in tuple, in segment, now))
        {
            counters.Add(TcpCounter.SegmentsReceived);
            return;
        }

        OpenHalf(in tuple, in segment, now, null);
    }

    private void OpenHalf(in TcpFourTuple tuple, in TcpSegment segment, Micros now, TcpConnectionRequest? request)
    {
        TcpControlBlock tcb = _layer.CreateControlBlock(in tuple, Options);
        var connection = new TcpConnection(_layer, tcb, this) { Queue = TcpConnectionQueue.SynQueue, Request = request };
        _synQueue.Add(connection);
        _layer.AddConnection(connection);
        tcb.OpenPassive(in segment, now);
        _layer.Drain(connection);
    }

    // A deferring listener: the SYN waits (a copy, bounded with the SYN queue) for the application.
    private bool TryHoldRequest(in TcpFourTuple tuple, in TcpSegment segment, Micros now)
    {
        var request = new TcpConnectionRequest(this, in tuple, segment.Seq, segment.Window, segment.Options);
        if (!_requestChannel!.Writer.TryWrite(request))
        {
            return false;
        }

        _requests!.Add(tuple, request);
        TcpFourTuple key = tuple;
        request.Timer = _layer.Stack.Timers.Schedule(_layer.Stack.Now + _layer.Options.ConnectionRequestTimeout, _ => ExpireRequest(key, request));
        return true;
    }

    private bool TakeRequest(TcpConnectionRequest request)
    {
        if (_requests is null || !_requests.TryGetValue(request.Tuple, out TcpConnectionRequest? held) || !ReferenceEquals(held, request))
        {
            request.Fail(SocketError.TimedOut, $"The connection request {request} expired before it was decided.");
            return false;
        }

        _requests.Remove(request.Tuple);
        _layer.Stack.Timers.Cancel(request.Timer);
        if (_closedOnLoop)
        {
            request.Fail(SocketError.OperationAborted, "The listener was closed.");
            return false;
        }

        return true;
    }

    /// <summary>The application accepted a held SYN: answer it now. On the loop.</summary>
    internal void AcceptRequest(TcpConnectionRequest request)
    {
        if (!TakeRequest(request))
        {
            return;
        }

        if (_layer.IsInUse(request.Tuple))
        {
            request.Fail(SocketError.AddressAlreadyInUse, $"{request} collides with a connection.");
            return;
        }

        // The SYN again as it came (a SYN's text, if any, is left for the peer to retransmit).
        var syn = new TcpSegment(request.Seq, default, TcpFlags.Syn, request.Window, request.Options, default);
        OpenHalf(request.Tuple, in syn, _layer.NowMicros, request);
    }

    /// <summary>The application refused a held SYN: a RST, or an ICMP unreachable of <paramref name="code"/>. On the loop.</summary>
    internal void RefuseRequest(TcpConnectionRequest request, IcmpUnreachableCode? code)
    {
        if (!TakeRequest(request))
        {
            return;
        }

        request.Fail(SocketError.ConnectionRefused, $"{request} was refused.");
        if (code is not { } unreachable)
        {
            var syn = new TcpSegment(request.Seq, default, TcpFlags.Syn, request.Window, request.Options, default);
            _layer.SendResetForClosed(request.Tuple, in syn);
            return;
        }

        _layer.SendUnreachableFor(request.Tuple, request.Seq, request.Window, unreachable);
    }

    private void ExpireRequest(TcpFourTuple tuple, TcpConnectionRequest request)
    {
        if (_requests is not null && _requests.TryGetValue(tuple, out TcpConnectionRequest? held) && ReferenceEquals(held, request))
        {
            _requests.Remove(tuple);
            request.Fail(SocketError.TimedOut, $"The connection request {request} expired before it was decided.");
        }
    }

    /// <summary>A half-open connection completed its handshake: to the accept queue. On the loop.</summary>
    internal void OnEstablished(TcpConnection connection)
    {
        _synQueue.Remove(connection);
        connection.Queue = TcpConnectionQueue.None;
        if (connection.Request is { } request)
        {
            // Accepted from a held SYN: the stream goes to the one who accepted it.
            var stream = new TcpStream(connection);
            connection.Stream = stream;
            if (_closedOnLoop || !request.Succeed(stream))
            {
                connection.Stream = null;
                connection.Tcb.Abort(_layer.NowMicros);
            }

            return;
        }

        if (_closedOnLoop || IsAcceptQueueFull)
        {
            if (!_closedOnLoop)
            {
                _layer.Counters.Add(TcpCounter.ListenOverflows);
            }

            connection.Tcb.Abort(_layer.NowMicros);
            return;
        }

        connection.Queue = TcpConnectionQueue.AcceptQueue;
        _acceptQueue.Enqueue(connection);
        Volatile.Write(ref _pending, _acceptQueue.Count);
        DeliverQueued();
    }

    /// <summary>A half-open connection was closed (SYN-ACK retries exhausted, RST). On the loop.</summary>
    internal void OnHalfOpenClosed(TcpConnection connection)
    {
        _synQueue.Remove(connection);
        connection.Request?.Fail(connection.Tcb.Error is SocketError.Success ? SocketError.ConnectionReset : connection.Tcb.Error, $"{connection.Request} did not complete its handshake.");
    }

    // RFC 4987 3.6: answer without keeping state; the ISN encodes what we would have kept.
    private void SendCookieSynAck(in TcpFourTuple tuple, in TcpSegment syn, Micros now)
    {
        TcpOptions peer = syn.Options;
        ushort ourMss = (ushort)Math.Min(Options.Mss ?? _layer.RouteMss(tuple.LocalAddress, tuple.RemoteAddress), ushort.MaxValue);
        uint cookie = _layer.SynCookieGenerator.Create(in tuple, syn.Seq.Value, peer.Mss ?? 536, now.Value, out _);
        var options = new TcpOptions { Mss = ourMss };

        // RFC 7323 2.2: send Window Scale in a SYN-ACK only when the SYN had it. A cookie carries the
        // peer's shift only in the timestamp (RFC 4987 3.6), so without timestamps offer no scaling
        // either: otherwise the peer would scale our windows while we could not scale its own (Linux
        // clears the options the same way when the SYN has no timestamps).
        bool cookieCarriesOptions = Options.Timestamps && peer.Timestamps is not null;
        if (Options.WindowScaling && peer.WindowScale is not null && cookieCarriesOptions)
        {
            options.WindowScale = (byte)_windowScale;
        }

        if (Options.Timestamps && peer.Timestamps is { } ts)
        {
            // The control block rebuilt from the cookie continues this clock from the ACK's TSecr.
            // RFC 2018 2 with RFC 4987 3.6: SACK-permitted travels back in the timestamp like the window
            // scale, so it is offered only when the SYN had timestamps (as Linux does).
            bool sack = Options.SackPermitted && peer.SackPermitted;
            uint tsVal = SynCookies.EncodeOptionsInTsVal(unchecked(TcpControlBlock.TimestampClock(now) + _layer.CookieTimestampOffset), Options.WindowScaling ? peer.WindowScale : null, sack);
            options.Timestamps = new TcpTimestamps(tsVal, ts.TsVal);
            options.SackPermitted = sack;
        }

        var synAck = new TcpOutgoingSegment
        {
            Seq = new SeqNum(cookie),
            Ack = syn.Seq + 1,
            Flags = TcpFlags.Syn | TcpFlags.Ack,

            // RFC 7323 2.2: the window of a SYN or SYN-ACK is never scaled.
            Window = (ushort)Math.Min(Options.ReceiveBufferSize, ushort.MaxValue),
            Options = options,
        };
        _lastCookieTime = now;
        _layer.Counters.Add(TcpCounter.SynCookiesSent);
        _layer.SendStateless(in tuple, in synAck);
    }

    // The ACK of a cookie SYN-ACK: rebuild the connection (RFC 4987 3.6).
    private bool TryOpenFromCookie(in TcpFourTuple tuple, in TcpSegment ack, Micros now)
    {
        // As Linux (tcp_synq_no_recent_overflow): only when we sent cookies recently, so stray
        // ACKs are not counted as failed cookies.
        if (_closedOnLoop || _lastCookieTime.Value == long.MinValue
            || (now - _lastCookieTime).Value > (SynCookies.MaxAgeSlots + 1) * SynCookies.SlotMicroseconds)
        {
            return false;
        }

        uint clientIsn = (ack.Seq - 1).Value;
        if (!_layer.SynCookieGenerator.TryValidate(in tuple, clientIsn, ack.Ack.Value, now.Value, out ushort mss))
        {
            _layer.Counters.Add(TcpCounter.SynCookiesFailed);
            return false;
        }

        _layer.Counters.Add(TcpCounter.SynCookiesReceived);
        if (IsAcceptQueueFull)
        {
            _layer.Counters.Add(TcpCounter.SegmentsReceived);
            _layer.Counters.Add(TcpCounter.ListenOverflows);
            _layer.Counters.Add(TcpCounter.ListenDrops);
            return true; // dropped: the peer retransmits its data or ACK
        }

        byte? peerWindowScale = null;
        bool peerSack = false;
        if (ack.Options.Timestamps is { } ts)
        {
            SynCookies.DecodeOptionsFromTsEcr(ts.TsEcr, out peerWindowScale, out peerSack);
        }

        TcpControlBlock tcb = _layer.CreateControlBlock(in tuple, Options);
        var connection = new TcpConnection(_layer, tcb, this) { Queue = TcpConnectionQueue.SynQueue };
        _layer.AddConnection(connection);
        tcb.OpenFromCookie(in ack, (ack.Ack - 1).Value, mss, peerWindowScale, peerSack, now);
        _layer.Drain(connection);
        return true;
    }

    // Hands queued connections to waiting accepts.
    private void DeliverQueued()
    {
        while (_acceptQueue.Count > 0 && _waiters.Count > 0)
        {
            AcceptWaiter waiter = _waiters.Dequeue();
            if (!waiter.IsPending)
            {
                continue; // cancelled
            }

            TcpConnection connection = _acceptQueue.Peek();
            var stream = new TcpStream(connection);
            connection.Stream = stream;
            connection.Queue = TcpConnectionQueue.None;
            if (waiter.Succeed(stream))
            {
                _acceptQueue.Dequeue();
            }
            else
            {
                connection.Stream = null;
                connection.Queue = TcpConnectionQueue.AcceptQueue;
            }
        }

        Volatile.Write(ref _pending, _acceptQueue.Count);
    }

    private void StartAccept(AcceptWaiter waiter)
    {
        if (!waiter.IsPending)
        {
            return;
        }

        if (_closedOnLoop)
        {
            waiter.Fail(new TcpException(SocketError.OperationAborted, "The listener was closed."));
            return;
        }

        if (_waiters.Count >= _layer.Options.MaxPendingAccepts)
        {
            // Forget the cancelled ones before refusing.
            int n = _waiters.Count;
            for (int i = 0; i < n; i++)
            {
                AcceptWaiter w = _waiters.Dequeue();
                if (w.IsPending)
                {
                    _waiters.Enqueue(w);
                }
            }

            if (_waiters.Count >= _layer.Options.MaxPendingAccepts)
            {
                waiter.Fail(new TcpException(SocketError.TooManyOpenSockets, $"{_waiters.Count} accepts already wait on {LocalEndPoint}."));
                return;
            }
        }

        _waiters.Enqueue(waiter);
        DeliverQueued();
    }

    private void CloseOnLoop(NetworkStack stack)
    {
        _closedOnLoop = true;
        Micros now = _layer.NowMicros;
        while (_synQueue.First is { } connection)
        {
            _synQueue.Remove(connection);
            connection.Queue = TcpConnectionQueue.None;
            connection.Tcb.Abort(now);
            _layer.Drain(connection);
        }
        while (_acceptQueue.Count > 0)
        {
            TcpConnection connection = _acceptQueue.Dequeue();
            connection.Queue = TcpConnectionQueue.None;
            if (connection.InTable)
            {
                connection.Tcb.Abort(now);
                _layer.Drain(connection);
            }
        }

        Volatile.Write(ref _pending, 0);
        if (_requests is not null)
        {
            foreach (TcpConnectionRequest request in _requests.Values)
            {
                _layer.Stack.Timers.Cancel(request.Timer);
                request.Fail(SocketError.OperationAborted, "The listener was closed.");
            }

            _requests.Clear();
            _requestChannel!.Writer.TryComplete();
        }

        while (_waiters.Count > 0)
        {
            _waiters.Dequeue().Fail(new TcpException(SocketError.OperationAborted, "The listener was closed."));
        }
    }

    // The half-open connections in arrival order, linked through the connections themselves.
    private sealed class SynQueue
    {
        private TcpConnection? _last;

        public TcpConnection? First { get; private set; }

        public int Count { get; private set; }

        public void Add(TcpConnection connection)
        {
            connection.SynPrevious = _last;
            connection.SynNext = null;
            if (_last is null)
            {
                First = connection;
            }
            else
            {
                _last.SynNext = connection;
            }

            _last = connection;
            connection.InSynQueue = true;
            Count++;
        }

        public void Remove(TcpConnection connection)
        {
            if (!connection.InSynQueue)
            {
                return;
            }

            if (connection.SynPrevious is { } previous)
            {
                previous.SynNext = connection.SynNext;
            }
            else
            {
                First = connection.SynNext;
            }

            if (connection.SynNext is { } next)
            {
                next.SynPrevious = connection.SynPrevious;
            }
            else
            {
                _last = connection.SynPrevious;
            }

            connection.SynPrevious = connection.SynNext = null;
            connection.InSynQueue = false;
            Count--;
        }
    }

    private sealed class AcceptWaiter : TcpTaskCompletion<TcpStream>
    {
        private static readonly Action<object?> CancelCallback = static s => ((AcceptWaiter)s!).OnCancel();
        private readonly CancellationToken _cancellationToken;
        private CancellationTokenRegistration _registration;

        public AcceptWaiter(TcpListener listener, CancellationToken cancellationToken)
        {
            _cancellationToken = cancellationToken;
            StartOnLoop = _ => listener.StartAccept(this);
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.UnsafeRegister(CancelCallback, this);
            }
        }

        public Action<NetworkStack> StartOnLoop { get; }

        public bool Succeed(TcpStream stream) => TrySucceed(stream);

        public void Fail(Exception exception) => TryFail(exception);

        protected override void OnClaimed() => _registration.Unregister();

        // The waiter stays in the queue; the loop skips completed ones.
        private void OnCancel() => TryCancel(_cancellationToken);
    }
}
