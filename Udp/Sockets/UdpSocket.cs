using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Udp;

/// <summary>
/// A UDP socket on a <see cref="NetworkStack"/>: bound to a local port (and optionally a local
/// address), optionally connected to one peer, with asynchronous send and receive.
/// </summary>
/// <remarks>
/// <para>
/// Threads: any thread may call any member. Binding, <see cref="Connect(IpEndpoint)"/> and
/// <see cref="Dispose"/> take effect at once, as bind(2) and connect(2) do (the binding table is
/// safe to change from any thread, the peer is one atomic word); sends and receives are posted to
/// the stack's loop, which alone touches the socket's queue, waiters and pending error, in the
/// order they were called. Completions run asynchronously (never inline on the loop).
/// </para>
/// <para>
/// Receiving: datagrams wait in a queue bounded in datagrams and bytes
/// (<see cref="UdpSocketOptions.ReceiveQueueDatagrams"/>, <see cref="UdpSocketOptions.ReceiveQueueBytes"/>);
/// one that does not fit is dropped and counted (<see cref="ReceiveQueueDrops"/>, and the layer's
/// <see cref="UdpCountersSnapshot.ReceiveBufferErrors"/>).
/// </para>
/// <para>
/// ICMP errors (RFC 1122 4.1.3.3): a connected socket reports hard errors about its peer (port
/// unreachable as <see cref="SocketError.ConnectionRefused"/>, protocol unreachable, prohibited...)
/// as a <see cref="UdpException"/> from its next receive or send, whichever comes first (a receive
/// already waiting fails at once), like Linux's ECONNREFUSED. An unconnected socket, which may be
/// serving many peers, does not fail because one of them is gone (Linux's default too), unless
/// <see cref="UdpSocketOptions.ReceiveIcmpErrors"/> is set (IP_RECVERR): then every ICMP error
/// about any datagram it sent is reported the same way, with the peer in
/// <see cref="UdpException.RemoteEndpoint"/>. Only the latest unreported error is kept.
/// </para>
/// </remarks>
public sealed partial class UdpSocket : IDisposable, IAsyncDisposable
{
    private readonly UdpLayer _layer;
    private readonly UdpSocketOptions _options;
    private readonly CancellationTokenSource _closed = new();

    // Loop state.
    private readonly UdpReceiveQueue _queue;
    private readonly Queue<ReceiveOperation> _waiters = new();
    private UdpException? _pendingError;
    private bool _closedOnLoop;

    // Written on the loop, read anywhere.
    private long _receiveQueueDrops;

    // The connected peer, or null. One reference written atomically, so Connect takes effect at
    // once (as connect(2) does) for the loop's filtering and for later sends; only Connect allocates.
    private Peer? _remote;
    private int _disposed;

    // One reusable operation of each kind (sends and receives one at a time allocate nothing).
    private SendOperation? _cachedSend;
    private ReceiveOperation? _cachedReceive;

    private UdpSocket(UdpLayer layer, IpEndpoint local, bool dualStack, UdpSocketOptions options, bool catchAll = false)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ReceiveQueueDatagrams, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.ReceiveQueueBytes, 0, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(options.MaxPendingReceives, 1, nameof(options));
        _layer = layer;
        _options = options;
        _queue = new UdpReceiveQueue(options.ReceiveQueueDatagrams, options.ReceiveQueueBytes);
        DualStack = dualStack;
        IsCatchAll = catchAll;
        ushort port = catchAll ? layer.BindCatchAll(this) : layer.Bind(this, local, dualStack);
        LocalEndpoint = local with { Port = port };
    }

    /// <summary>True for the layer's catch-all socket (<see cref="BindCatchAll"/>).</summary>
    public bool IsCatchAll { get; }

    /// <summary>
    /// Binds the layer's catch-all socket: it receives every datagram sent to an address that is
    /// not the stack's own (through an interface with <see cref="NetworkInterface.AcceptAnyDestination"/>),
    /// whatever its port, with the original destination in <see cref="UdpReceiveResult.LocalEndpoint"/>,
    /// and answers from any endpoint with <see cref="SendFromAsync"/>. Sockets bound to the stack's
    /// own addresses keep their datagrams; one catch-all socket per layer. IPv4 only: IPv6 packets to
    /// addresses not the stack's are dropped.
    /// </summary>
    /// <param name="stack">The stack; UDP is enabled on it if it was not.</param>
    /// <param name="options">Socket settings (its receive queue bounds every flow together); null for the layer's defaults.</param>
    /// <returns>The socket (local endpoint 0.0.0.0:0).</returns>
    /// <exception cref="UdpException"><see cref="SocketError.AddressAlreadyInUse"/>: the layer has a catch-all socket already.</exception>
    public static UdpSocket BindCatchAll(NetworkStack stack, UdpSocketOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        UdpLayer layer = stack.UseUdp();
        return new UdpSocket(layer, new IpEndpoint(IpAddress.Ipv4Any, 0), dualStack: false, options ?? layer.Options.DefaultSocketOptions, catchAll: true);
    }

    /// <summary>Sends one datagram from <paramref name="from"/> (any address and port) to <paramref name="remote"/>: a catch-all socket's reply on behalf of the endpoint the peer addressed.</summary>
    /// <param name="data">The data: at most 65507 bytes; read until the returned task completes.</param>
    /// <param name="from">The source endpoint (an original destination from <see cref="UdpReceiveResult.LocalEndpoint"/>).</param>
    /// <param name="remote">The destination.</param>
    /// <param name="cancellationToken">Cancels the send if the loop has not taken it yet.</param>
    /// <returns>Completes when IP has taken the datagram.</returns>
    /// <exception cref="InvalidOperationException">The socket is not the catch-all socket.</exception>
    public ValueTask SendFromAsync(ReadOnlyMemory<byte> data, IpEndpoint from, IpEndpoint remote, CancellationToken cancellationToken = default)
    {
        if (!IsCatchAll)
        {
            throw new InvalidOperationException("Only the catch-all socket sends from other endpoints.");
        }

        try
        {
            ValidateRemote(remote);
            ValidateRemote(from);
        }
        catch (UdpException e)
        {
            return ValueTask.FromException(e);
        }

        return Send(data, remote, cancellationToken, from);
    }

    /// <summary>The stack the socket lives on.</summary>
    public NetworkStack Stack => _layer.Stack;

    /// <summary>The bound address and port: a family's unspecified address for every address of that family; <c>[::]</c> with <see cref="DualStack"/> for every address of both.</summary>
    public IpEndpoint LocalEndpoint { get; }

    /// <summary>True when the socket takes datagrams of both families (bound with a port only).</summary>
    public bool DualStack { get; }

    /// <summary>The connected peer, or null.</summary>
    public IpEndpoint? RemoteEndpoint => Volatile.Read(ref _remote)?.Endpoint;

    /// <summary>Datagrams dropped because the receive queue was full.</summary>
    public long ReceiveQueueDrops => Volatile.Read(ref _receiveQueueDrops);

    /// <summary>Whether <see cref="Dispose"/> was called.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Binds a dual-stack socket to <paramref name="port"/> on every address of the stack, both
    /// families (IPV6_V6ONLY off; its <see cref="LocalEndpoint"/> reads <c>[::]:port</c>); 0 picks a
    /// free ephemeral port. IPv4 peers appear as IPv4 endpoints, never IPv4-mapped ones.
    /// </summary>
    /// <param name="stack">The stack; UDP is enabled on it if it was not (<see cref="UdpStackExtensions.UseUdp"/>).</param>
    /// <param name="port">The local port, or 0.</param>
    /// <param name="options">Socket settings; null for the layer's defaults.</param>
    /// <returns>The bound socket.</returns>
    /// <exception cref="UdpException"><see cref="SocketError.AddressAlreadyInUse"/>, or <see cref="SocketError.AddressNotAvailable"/> when no ephemeral port is free.</exception>
    public static UdpSocket Bind(NetworkStack stack, ushort port = 0, UdpSocketOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        UdpLayer layer = stack.UseUdp();
        return new UdpSocket(layer, new IpEndpoint(IpAddress.Ipv6Any, port), dualStack: true, options ?? layer.Options.DefaultSocketOptions);
    }

    /// <summary>Binds a socket to <paramref name="local"/> in one family: one of the stack's addresses (or an IPv4 broadcast address, or <see cref="IpAddress.Ipv4Any"/> / <see cref="IpAddress.Ipv6Any"/> for every address of that family) and a port (0 for ephemeral).</summary>
    /// <param name="stack">The stack; UDP is enabled on it if it was not.</param>
    /// <param name="local">The local address and port.</param>
    /// <param name="options">Socket settings; null for the layer's defaults.</param>
    /// <returns>The bound socket.</returns>
    /// <exception cref="UdpException"><see cref="SocketError.AddressAlreadyInUse"/>, <see cref="SocketError.AddressNotAvailable"/> when the address is not the stack's or no ephemeral port is free, or <see cref="SocketError.AddressFamilyNotSupported"/> for a family the stack does not route.</exception>
    public static UdpSocket Bind(NetworkStack stack, IpEndpoint local, UdpSocketOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        UdpLayer layer = stack.UseUdp();
        return new UdpSocket(layer, local, dualStack: false, options ?? layer.Options.DefaultSocketOptions);
    }

    /// <summary>Binds a socket to an ephemeral port and connects it to <paramref name="remote"/>.</summary>
    /// <param name="stack">The stack; UDP is enabled on it if it was not.</param>
    /// <param name="remote">The peer.</param>
    /// <param name="options">Socket settings; null for the layer's defaults.</param>
    /// <returns>The connected socket.</returns>
    public static UdpSocket Connect(NetworkStack stack, IpEndpoint remote, UdpSocketOptions? options = null)
    {
        UdpSocket socket = Bind(stack, 0, options);
        try
        {
            socket.Connect(remote);
        }
        catch
        {
            socket.Dispose();
            throw;
        }

        return socket;
    }

    /// <summary>
    /// Connects to <paramref name="remote"/>: from now on only its datagrams are delivered (others
    /// are treated as for an unbound port), <see cref="SendAsync"/> sends there, and ICMP errors
    /// about it are reported. Calling it again changes the peer.
    /// </summary>
    /// <param name="remote">The peer: a real address and a non-zero port.</param>
    /// <exception cref="UdpException"><see cref="SocketError.InvalidArgument"/> for port 0 or an unspecified address; <see cref="SocketError.AddressFamilyNotSupported"/> for a family the stack does not route.</exception>
    public void Connect(IpEndpoint remote)
    {
        ValidateRemote(remote);
        SetRemote(remote);
    }

    /// <summary>Dissolves the connection: datagrams from every peer are delivered again (connect(2) with AF_UNSPEC).</summary>
    public void Disconnect() => SetRemote(null);

    /// <summary>Sends one datagram to <paramref name="remote"/>.</summary>
    /// <param name="data">The data: at most 65507 bytes (IP fragments it to the MTU); read until the returned task completes.</param>
    /// <param name="remote">The destination.</param>
    /// <param name="cancellationToken">Cancels the send if the loop has not taken it yet.</param>
    /// <returns>Completes when IP has taken the datagram (sent, or queued waiting for ARP).</returns>
    /// <exception cref="UdpException">Too large, no route, queue full, or an ICMP error reported earlier.</exception>
    public ValueTask SendToAsync(ReadOnlyMemory<byte> data, IpEndpoint remote, CancellationToken cancellationToken = default)
    {
        try
        {
            ValidateRemote(remote);
        }
        catch (UdpException e)
        {
            return ValueTask.FromException(e);
        }

        return Send(data, remote, cancellationToken);
    }

    /// <summary>Sends one datagram to the connected peer.</summary>
    /// <param name="data">The data: at most 65507 bytes; read until the returned task completes.</param>
    /// <param name="cancellationToken">Cancels the send if the loop has not taken it yet.</param>
    /// <returns>Completes when IP has taken the datagram.</returns>
    /// <exception cref="UdpException"><see cref="SocketError.DestinationAddressRequired"/> when not connected; as <see cref="SendToAsync"/> otherwise.</exception>
    public ValueTask SendAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken = default) =>
        RemoteEndpoint is { } remote
            ? Send(data, remote, cancellationToken)
            : ValueTask.FromException(new UdpException(SocketError.DestinationAddressRequired));

    /// <summary>
    /// Receives one datagram into <paramref name="buffer"/>: the oldest waiting, or the next to
    /// arrive. A datagram longer than the buffer is truncated (the rest is lost; see
    /// <see cref="UdpReceiveResult.Truncated"/>).
    /// </summary>
    /// <param name="buffer">Where to copy the data; written by the loop until the task completes.</param>
    /// <param name="cancellationToken">Cancels the wait; a cancelled receive takes no datagram.</param>
    /// <returns>The datagram's length, sender and destination address.</returns>
    /// <exception cref="UdpException">An ICMP error reported about an earlier send (see the remarks).</exception>
    /// <exception cref="ObjectDisposedException">The socket was disposed (also ends a waiting receive).</exception>
    /// <exception cref="OperationCanceledException">The token was cancelled.</exception>
    public ValueTask<UdpReceiveResult> ReceiveFromAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (IsDisposed)
        {
            return ValueTask.FromException<UdpReceiveResult>(new ObjectDisposedException(nameof(UdpSocket)));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled<UdpReceiveResult>(cancellationToken);
        }

        ReceiveOperation operation = Interlocked.Exchange(ref _cachedReceive, null) ?? new ReceiveOperation(this);
        return operation.Begin(buffer, cancellationToken);
    }

    /// <summary>Unbinds the port at once, fails waiting receives with <see cref="ObjectDisposedException"/>, and releases queued datagrams on the loop.</summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        _layer.Unbind(this, LocalEndpoint, DualStack);
        _closed.Cancel(); // fails the waiting receives (each listens to this token)
        _ = TryPost(CloseOnLoop); // when the queue is full, the buffers are left to the GC
    }

    /// <summary>As <see cref="Dispose"/>.</summary>
    /// <returns>A completed task.</returns>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>Describes the socket.</summary>
    /// <returns><c>udp local -> remote</c>.</returns>
    public override string ToString() => $"udp {LocalEndpoint}" + (RemoteEndpoint is { } r ? $" -> {r}" : string.Empty);

    // ---- Called by the layer on the loop ----

    /// <summary>Whether a datagram from <paramref name="remote"/> is for this socket (connect filtering).</summary>
    internal bool Accepts(IpEndpoint remote) => !_closedOnLoop && (Volatile.Read(ref _remote) is not { } peer || peer.Endpoint == remote);

    /// <summary>Hands a datagram to the oldest waiting receive, or queues it.</summary>
    /// <returns>False when the receive queue was full (dropped).</returns>
    internal bool Deliver(ReadOnlySpan<byte> data, IpEndpoint remote, IpEndpoint local)
    {
        while (_waiters.TryDequeue(out ReceiveOperation? waiter))
        {
            if (waiter.TryClaim())
            {
                waiter.Complete(data, remote, local);
                return true;
            }
        }

        if (_queue.TryEnqueue(data, remote, local))
        {
            return true;
        }

        _receiveQueueDrops++;
        return false;
    }

    /// <summary>An ICMP error about a datagram this socket sent to <paramref name="remote"/>.</summary>
    internal void OnIcmpError(SocketError error, bool hard, IpEndpoint remote, IpAddress reportedBy)
    {
        if (_closedOnLoop)
        {
            return;
        }

        bool report = _options.ReceiveIcmpErrors || (hard && RemoteEndpoint is { } peer && peer == remote);
        if (!report)
        {
            return;
        }

        var exception = new UdpException(error, remote, reportedBy);
        while (_waiters.TryDequeue(out ReceiveOperation? waiter))
        {
            if (waiter.TryClaim())
            {
                waiter.Fail(exception);
                return;
            }
        }

        _pendingError = exception;
    }

    // ---- Internals ----

    private void ValidateRemote(IpEndpoint remote)
    {
        if (remote.Port == 0 || remote.Address.IsAny)
        {
            throw new UdpException(SocketError.InvalidArgument, $"Cannot send to {remote}: the address and port must be set.");
        }

        if (remote.Address.IsIpv6 && !Stack.HasIpv6)
        {
            throw new UdpException(SocketError.AddressFamilyNotSupported, $"Cannot send to {remote}: the stack has no IPv6 interface.");
        }

        if (!DualStack && remote.Address.Family != LocalEndpoint.Address.Family)
        {
            throw new UdpException(SocketError.AddressFamilyNotSupported, $"Cannot send to {remote} from {LocalEndpoint}: the families differ.");
        }
    }

    private void SetRemote(IpEndpoint? remote)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        Volatile.Write(ref _remote, remote is { } r ? new Peer(r) : null);

        // A pending error about the previous peer is dropped when it would be reported (TakePendingError).
    }

    private ValueTask Send(ReadOnlyMemory<byte> data, IpEndpoint remote, CancellationToken cancellationToken, IpEndpoint? from = null)
    {
        if (IsDisposed)
        {
            return ValueTask.FromException(new ObjectDisposedException(nameof(UdpSocket)));
        }

        int max = remote.Address.IsIpv6 ? UdpPacket.MaxPayloadLengthIpv6 : UdpPacket.MaxPayloadLength;
        if (data.Length > max)
        {
            return ValueTask.FromException(new UdpException(SocketError.MessageSize, $"A UDP datagram over {(remote.Address.IsIpv6 ? "IPv6" : "IPv4")} carries at most {max} bytes; this one has {data.Length}."));
        }

        if (cancellationToken.IsCancellationRequested)
        {
            return ValueTask.FromCanceled(cancellationToken);
        }

        SendOperation operation = Interlocked.Exchange(ref _cachedSend, null) ?? new SendOperation(this);
        return operation.Begin(data, remote, from, cancellationToken);
    }

    private bool TryPost(Action<NetworkStack> work)
    {
        try
        {
            Stack.Post(work);
            return true;
        }
        catch (InvalidOperationException)
        {
            return false; // the stack's bounded request queue is full
        }
    }

    private void CloseOnLoop(NetworkStack stack)
    {
        _closedOnLoop = true;
        _queue.Clear();
        _waiters.Clear(); // each was failed through _closed
        _pendingError = null;
    }

    // The pending error, cleared; null when there is none, or when it is about a peer other than
    // the one the socket is connected to now (connect(2) clears the socket error on Linux too).
    private UdpException? TakePendingError()
    {
        UdpException? error = _pendingError;
        _pendingError = null;
        return error is not null && !_options.ReceiveIcmpErrors && error.RemoteEndpoint != RemoteEndpoint ? null : error;
    }

    private sealed record Peer(IpEndpoint Endpoint);
}
