using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp;

public sealed partial class TcpLayer
{
    /// <summary>Creates the control block for a new connection; on the loop.</summary>
    internal TcpControlBlock CreateControlBlock(in TcpFourTuple tuple, TcpConnectionOptions options) =>
        new(in tuple, WithRouteMss(options, in tuple), Environment);

    /// <summary>
    /// Checks what the control block would refuse, on the caller's thread, so a bad option fails
    /// Listen or ConnectAsync at once instead of every SYN on the loop.
    /// </summary>
    /// <exception cref="ArgumentException">A size or count is out of range, or the congestion controller is unknown.</exception>
    internal void ValidateOptions(TcpConnectionOptions options, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(options, parameterName);
        if (options.SendBufferSize is < 1 or > SendBuffer.MaxCapacity || options.ReceiveBufferSize is < 1 or > ReceiveBuffer.MaxCapacity)
        {
            throw new ArgumentOutOfRangeException(parameterName, $"Buffer sizes are 1 to {SendBuffer.MaxCapacity} bytes (send {options.SendBufferSize}, receive {options.ReceiveBufferSize}).");
        }

        if (options.SendBufferCap > SendBuffer.MaxCapacity || options.ReceiveBufferCap > ReceiveBuffer.MaxCapacity)
        {
            throw new ArgumentOutOfRangeException(parameterName, $"Buffer autotuning caps are at most {SendBuffer.MaxCapacity} bytes (send {options.SendBufferMaxSize}, receive {options.ReceiveBufferMaxSize}).");
        }

        if (options.SynRetries < 0 || options.SynAckRetries < 0 || options.MaxRetransmissions < 0 || options.QuickAcks < 0)
        {
            throw new ArgumentOutOfRangeException(parameterName, "Retry and quick-ACK counts cannot be negative.");
        }

        if (!Environment.Controllers.Names.Contains(options.CongestionControl, StringComparer.OrdinalIgnoreCase))
        {
            throw new ArgumentException($"Unknown congestion controller '{options.CongestionControl}'; known: {string.Join(", ", Environment.Controllers.Names)}.", parameterName);
        }
    }

    // The engine announces TcpConnectionOptions.Mss, or the environment's 1460 when it is null:
    // put the route's MTU - 40 in, and the route's super-segment limit (TSO). One derived record
    // per (options, MSS, limit), cached for the last one used, so a listener's connections share it
    // (100,000 connections, one record).
    private (TcpConnectionOptions Options, int Mss, int Limit, TcpConnectionOptions Derived)? _mssCache;

    private TcpConnectionOptions WithRouteMss(TcpConnectionOptions options, in TcpFourTuple tuple)
    {
        int limit = Stack.TcpSegmentationLimit(tuple.LocalAddress, tuple.RemoteAddress);
        if (options.Mss is not null && limit == 0)
        {
            return options;
        }

        int mss = options.Mss ?? RouteMss(tuple.LocalAddress, tuple.RemoteAddress);
        if (_mssCache is { } cached && ReferenceEquals(cached.Options, options) && cached.Mss == mss && cached.Limit == limit)
        {
            return cached.Derived;
        }

        TcpConnectionOptions derived = options with { Mss = mss, SegmentationLimit = limit };
        _mssCache = (options, mss, limit, derived);
        return derived;
    }

    /// <summary>One active open, from <see cref="ConnectAsync(IpEndpoint, TcpConnectionOptions?, IpEndpoint?, CancellationToken)"/> to established or failed.</summary>
    internal sealed class ConnectAttempt : TcpTaskCompletion<TcpStream>
    {
        private static readonly Action<object?> CancelCallback = static s => ((ConnectAttempt)s!).OnCancel();

        private readonly TcpLayer _layer;
        private readonly IpEndpoint _remote;
        private readonly IpEndpoint _local;
        private readonly TcpConnectionOptions _options;
        private readonly CancellationToken _cancellationToken;
        private CancellationTokenRegistration _registration;
        private TcpConnection? _connection;

        public ConnectAttempt(TcpLayer layer, IpEndpoint remote, TcpConnectionOptions options, IpEndpoint local, CancellationToken cancellationToken)
        {
            _layer = layer;
            _remote = remote;
            _local = local;
            _options = options;
            _cancellationToken = cancellationToken;
            StartOnLoop = StartGuarded;
        }

        public Action<NetworkStack> StartOnLoop { get; }

        /// <summary>Established: hand the stream over (false when the attempt was cancelled meanwhile).</summary>
        // The connect timeout (TcpConnectionOptions.ConnectTimeout) and the SYN retries are the control block's.
        public bool Succeed(TcpStream stream) => TrySucceed(stream);

        public void Fail(Exception exception) => TryFail(exception);

        protected override void OnClaimed() => _registration.Unregister();

        // A failure inside the stack (a bug) fails the attempt instead of leaving it pending.
        private void StartGuarded(NetworkStack stack)
        {
            try
            {
                Start(stack);
            }
            catch (Exception e)
            {
                Fail(new TcpException("The stack failed while opening the connection.", e));
                throw; // the stack logs and counts it
            }
        }

        private void Start(NetworkStack stack)
        {
            if (!IsPending)
            {
                return; // cancelled before it reached the loop
            }

            TcpLayer layer = _layer;
            IpAddress source = _local.Address;
            if (source.IsAny)
            {
                if (stack.RouteSourceFor(_remote.Address) is not { } routed)
                {
                    Fail(new TcpException(SocketError.NetworkUnreachable, $"No route to {_remote.Address}."));
                    return;
                }

                source = routed;
            }
            else if (!stack.IsLocalAddress(source))
            {
                Fail(new TcpException(SocketError.AddressNotAvailable, $"{source} is not an address of this stack."));
                return;
            }

            ushort port = _local.Port;
            if (port == 0)
            {
                if (!layer.TryAllocateEphemeralPort(source, _remote, out port))
                {
                    Fail(new TcpException(SocketError.AddressNotAvailable, $"No ephemeral port is free for {_remote} (range {layer.Options.EphemeralPortFirst}-{layer.Options.EphemeralPortLast})."));
                    return;
                }
            }
            else if (layer.IsInUse(new TcpFourTuple(source, port, _remote.Address, _remote.Port)))
            {
                Fail(new TcpException(SocketError.AddressAlreadyInUse, $"{source}:{port} -> {_remote} is already in use."));
                return;
            }

            var tuple = new TcpFourTuple(source, port, _remote.Address, _remote.Port);
            TcpControlBlock tcb;
            try
            {
                tcb = layer.CreateControlBlock(in tuple, _options);
            }
            catch (ArgumentException e)
            {
                Fail(e); // validated by ConnectAsync already; kept so a failure can never leave the task pending
                return;
            }

            var connection = new TcpConnection(layer, tcb, listener: null) { Connect = this };
            _connection = connection;
            layer.AddConnection(connection);
            if (_cancellationToken.CanBeCanceled)
            {
                _registration = _cancellationToken.UnsafeRegister(CancelCallback, this);
            }

            tcb.OpenActive(layer.NowMicros);
            layer.Drain(connection);
        }

        // On the canceller's thread: report at once, then drop the half-open connection on the loop.
        private void OnCancel()
        {
            if (!TryCancel(_cancellationToken))
            {
                return;
            }

            try
            {
                _layer.Stack.Post(AbandonOnLoop);
            }
            catch (InvalidOperationException)
            {
                // The request queue is full: the connection is aborted when it is established
                // (Succeed fails) or times out through its SYN retries.
            }
        }

        private void AbandonOnLoop(NetworkStack stack)
        {
            if (_connection is { } connection && ReferenceEquals(connection.Connect, this) && connection.InTable)
            {
                connection.Connect = null;
                connection.Tcb.Abort(_layer.NowMicros);
                _layer.Drain(connection);
            }
        }
    }
}
