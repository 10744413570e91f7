using System.Net.Sockets;
using System.Buffers;
using System.Threading.Tasks.Sources;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Udp;

/// <summary>The send and receive operations: reusable value-task sources completed from the loop.</summary>
public sealed partial class UdpSocket
{
    // An operation's state: pending until exactly one of the loop (claim) or a canceller (abandon)
    // wins. Only claimed operations are reused: an abandoned one may still sit in the loop's request
    // queue or waiter queue, so it is left to the garbage collector. A claimed one is reused only
    // when both the loop (after completing it) and the awaiter (after GetResult) have let go of it,
    // so a reset never races with the completion still running on the loop's thread.
    private const int Pending = 0;
    private const int Claimed = 1;
    private const int Abandoned = 2;

    private static readonly Action<object?> CancelReceive = static s => ((ReceiveOperation)s!).TryCancel();
    private static readonly Action<object?> CloseReceive = static s => ((ReceiveOperation)s!).TryFail(new ObjectDisposedException(nameof(UdpSocket)));
    private static readonly Action<object?> CancelSend = static s => ((SendOperation)s!).TryCancel();

    private static UdpException RequestQueueFull() => new(SocketError.NoBufferSpaceAvailable, "The stack's request queue is full.");

    private sealed class ReceiveOperation : IValueTaskSource<UdpReceiveResult>
    {
        private readonly UdpSocket _socket;
        private readonly Action<NetworkStack> _start;
        private readonly LoopValueTaskSourceCore<UdpReceiveResult> _core = new(); // continuations never inline on the loop (Ip/Stack/LoopCompletion.cs)
        private Memory<byte> _buffer;
        private CancellationToken _cancellationToken;
        private CancellationTokenRegistration _cancelRegistration;
        private CancellationTokenRegistration _closeRegistration;
        private int _state;
        private int _releases;

        public ReceiveOperation(UdpSocket socket)
        {
            _socket = socket;
            _start = Start;
        }

        public bool IsPending => Volatile.Read(ref _state) == Pending;

        // On the caller's thread.
        public ValueTask<UdpReceiveResult> Begin(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            _buffer = buffer;
            _cancellationToken = cancellationToken;
            _releases = 0;
            Volatile.Write(ref _state, Pending);
            short version = _core.Version;

            // Either registration may fire at once (already cancelled, socket disposed meanwhile).
            _closeRegistration = _socket._closed.Token.UnsafeRegister(CloseReceive, this);
            if (cancellationToken.CanBeCanceled)
            {
                _cancelRegistration = cancellationToken.UnsafeRegister(CancelReceive, this);
            }

            if (!_socket.TryPost(_start))
            {
                TryFail(RequestQueueFull());
            }

            return new ValueTask<UdpReceiveResult>(this, version);
        }

        public bool TryClaim() => Interlocked.CompareExchange(ref _state, Claimed, Pending) == Pending;

        // After TryClaim, on the loop: copy and complete.
        public void Complete(ReadOnlySpan<byte> data, IpEndpoint remote, IpEndpoint local)
        {
            int n = Math.Min(data.Length, _buffer.Length);
            data[..n].CopyTo(_buffer.Span);
            Unregister();
            _core.SetResult(new UdpReceiveResult(n, remote, local.Address, data.Length) { LocalPort = local.Port });
            Release();
        }

        // After TryClaim.
        public void Fail(Exception exception)
        {
            Unregister();
            _core.SetException(exception);
            Release();
        }

        public void TryFail(Exception exception)
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Pending) == Pending)
            {
                Unregister();
                _core.SetException(exception);
            }
        }

        public void TryCancel()
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Pending) == Pending)
            {
                Unregister();
                _core.SetException(new OperationCanceledException(_cancellationToken));
            }
        }

        public UdpReceiveResult GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                if (Volatile.Read(ref _state) == Claimed)
                {
                    Release();
                }
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        // The second of the loop and the awaiter to let go resets the operation and caches it.
        private void Release()
        {
            if (Interlocked.Increment(ref _releases) == 2)
            {
                _buffer = default;
                _cancellationToken = default;
                _core.Reset();
                Volatile.Write(ref _socket._cachedReceive, this);
            }
        }

        // On the loop: take the pending error or a queued datagram, or wait.
        private void Start(NetworkStack stack)
        {
            UdpSocket socket = _socket;
            if (!IsPending)
            {
                return;
            }

            if (socket._closedOnLoop)
            {
                TryFail(new ObjectDisposedException(nameof(UdpSocket)));
                return;
            }

            // As Linux's datagram receive: a pending socket error is reported before queued data.
            if (socket._pendingError is not null && socket.TakePendingError() is { } error)
            {
                if (TryClaim())
                {
                    Fail(error);
                }
                else
                {
                    socket._pendingError = error; // this receive was cancelled meanwhile: keep it for the next
                }

                return;
            }

            if (socket._queue.Count > 0)
            {
                if (TryClaim() && socket._queue.TryDequeue(out QueuedDatagram datagram))
                {
                    Complete(datagram.Buffer.AsSpan(0, datagram.Length), datagram.Remote, datagram.Local);
                    ArrayPool<byte>.Shared.Return(datagram.Buffer);
                }

                return;
            }

            Queue<ReceiveOperation> waiters = socket._waiters;
            if (waiters.Count >= socket._options.MaxPendingReceives)
            {
                // Drop the receives that were cancelled meanwhile before refusing this one.
                int n = waiters.Count;
                for (int i = 0; i < n; i++)
                {
                    ReceiveOperation w = waiters.Dequeue();
                    if (w.IsPending)
                    {
                        waiters.Enqueue(w);
                    }
                }

                if (waiters.Count >= socket._options.MaxPendingReceives)
                {
                    TryFail(new UdpException(SocketError.TooManyOpenSockets));
                    return;
                }
            }

            waiters.Enqueue(this);
        }

        private void Unregister()
        {
            _cancelRegistration.Unregister();
            _closeRegistration.Unregister();
            _cancelRegistration = default;
            _closeRegistration = default;
        }
    }

    private sealed class SendOperation : IValueTaskSource
    {
        private readonly UdpSocket _socket;
        private readonly Action<NetworkStack> _run;
        private readonly LoopValueTaskSourceCore<bool> _core = new();
        private ReadOnlyMemory<byte> _data;
        private IpEndpoint _remote;
        private IpEndpoint? _from;
        private CancellationToken _cancellationToken;
        private CancellationTokenRegistration _registration;
        private int _state;
        private int _releases;

        public SendOperation(UdpSocket socket)
        {
            _socket = socket;
            _run = Run;
        }

        // On the caller's thread.
        public ValueTask Begin(ReadOnlyMemory<byte> data, IpEndpoint remote, IpEndpoint? from, CancellationToken cancellationToken)
        {
            _data = data;
            _remote = remote;
            _from = from;
            _cancellationToken = cancellationToken;
            _releases = 0;
            Volatile.Write(ref _state, Pending);
            short version = _core.Version;
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.UnsafeRegister(CancelSend, this);
            }

            if (!_socket.TryPost(_run))
            {
                TryFail(RequestQueueFull());
            }

            return new ValueTask(this, version);
        }

        public void TryCancel()
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Pending) == Pending)
            {
                _core.SetException(new OperationCanceledException(_cancellationToken));
            }
        }

        public void GetResult(short token)
        {
            try
            {
                _core.GetResult(token);
            }
            finally
            {
                if (Volatile.Read(ref _state) == Claimed)
                {
                    Release();
                }
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        private void TryFail(Exception exception)
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Pending) == Pending)
            {
                _registration.Unregister();
                _registration = default;
                _core.SetException(exception);
            }
        }

        // On the loop. Claiming first means the caller's memory is not released (by a cancellation) while it is read.
        private void Run(NetworkStack stack)
        {
            if (Interlocked.CompareExchange(ref _state, Claimed, Pending) != Pending)
            {
                return;
            }

            _registration.Unregister();
            _registration = default;
            UdpSocket socket = _socket;
            if (socket._closedOnLoop || socket.IsDisposed)
            {
                _core.SetException(new ObjectDisposedException(nameof(UdpSocket)));
            }
            else if (socket.TakePendingError() is { } pending)
            {
                _core.SetException(pending);
            }
            else if (socket._layer.Send(_from ?? socket.LocalEndpoint, _remote, _data.Span, socket._options) is { } error)
            {
                _core.SetException(new UdpException(error));
            }
            else
            {
                _core.SetResult(true);
            }

            Release();
        }

        // The second of the loop and the awaiter to let go resets the operation and caches it.
        private void Release()
        {
            if (Interlocked.Increment(ref _releases) == 2)
            {
                _data = default;
                _cancellationToken = default;
                _core.Reset();
                Volatile.Write(ref _socket._cachedSend, this);
            }
        }
    }
}
