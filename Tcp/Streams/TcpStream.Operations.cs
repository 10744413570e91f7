using System.Net.Sockets;
using System.Threading.Tasks.Sources;
using Protocols.Ip;

namespace Protocols.Tcp;

/// <summary>The read and write operations: reusable value-task sources completed from the loop.</summary>
public sealed partial class TcpStream
{
    // An operation's state. The loop claims a pending operation (Busy) before it touches the
    // caller's memory, so a cancellation on another thread never races with the copy: a
    // canceller only wins over Pending. A write waiting for send space goes back to Pending
    // between steps; a cancellation requested while it was Busy is honoured when it is put back.
    // Only operations completed by the loop (Done) are reused, once both the loop and the
    // awaiter (GetResult) have let go of them; abandoned (failed or cancelled) ones are left to the GC.
    private const int Pending = 0;
    private const int Busy = 1;
    private const int Done = 2;
    private const int Abandoned = 3;

    private void EndRead() => Volatile.Write(ref _readActive, 0);

    private void EndWrite() => Volatile.Write(ref _writeActive, 0);

    private void CacheRead(ReadOperation operation) => Volatile.Write(ref _cachedRead, operation);

    private void CacheWrite(WriteOperation operation) => Volatile.Write(ref _cachedWrite, operation);

    private static TcpException RequestQueueFull(InvalidOperationException e) =>
        new(SocketError.NoBufferSpaceAvailable, "The stack's request queue is full: " + e.Message);

    private abstract class Operation
    {
        private static readonly Action<object?> CancelCallback = static s => ((Operation)s!).RequestCancel();

        private CancellationToken _cancellationToken;
        private CancellationTokenRegistration _registration;
        private int _state;
        private int _cancelRequested;
        private int _releases;

        private TcpStream? _stream;

        protected Operation(TcpStream stream)
        {
            _stream = stream;
            StartOnLoop = Start;
        }

        public bool IsPending => Volatile.Read(ref _state) == Pending;

        // Null only while the operation waits in an OperationCache, where nothing runs it.
        protected TcpStream Stream => _stream!;

        private Action<NetworkStack> StartOnLoop { get; }

        /// <summary>Hands a finished, released operation to another stream, or (null) lets go of its closed one while it is cached (<see cref="OperationCache"/>). On the loop.</summary>
        public void Rebind(TcpStream? stream) => _stream = stream;

        // After TryClaim only.
        public bool TryClaim() => Interlocked.CompareExchange(ref _state, Busy, Pending) == Pending;

        // A write that must wait: back to Pending, then honour a cancellation that came meanwhile.
        public void Unclaim()
        {
            Interlocked.Exchange(ref _state, Pending);
            if (Volatile.Read(ref _cancelRequested) != 0)
            {
                TryAbandon(null);
            }
        }

        /// <summary>Fails a pending (unclaimed) operation; null means cancelled.</summary>
        public void TryAbandon(Exception? exception)
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Pending) == Pending)
            {
                Unregister();
                EndActive();
                SetException(exception ?? new OperationCanceledException(_cancellationToken));
            }
        }

        /// <summary>Fails a pending (unclaimed) operation because the stream was closed (<see cref="SocketError.OperationAborted"/>, as a NetworkStream's); makes the exception only then.</summary>
        public void TryAbandonClosed()
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Pending) == Pending)
            {
                Unregister();
                EndActive();
                SetException(Closed());
            }
        }

        public void TryFail(Exception exception) => TryAbandon(exception);

        /// <summary>A failure inside the stack while the loop worked on this operation (a bug): fail it, claimed or not, so no caller hangs.</summary>
        public void FailAfterInternalError(Exception exception)
        {
            if (Interlocked.CompareExchange(ref _state, Abandoned, Busy) == Busy
                || Interlocked.CompareExchange(ref _state, Abandoned, Pending) == Pending)
            {
                Unregister();
                EndActive();
                SetException(new TcpException("The stack failed while processing this operation.", exception));
            }
        }

        protected void BeginCore(CancellationToken cancellationToken)
        {
            _cancellationToken = cancellationToken;
            _releases = 0;
            _cancelRequested = 0;
            Volatile.Write(ref _state, Pending);
            if (cancellationToken.CanBeCanceled)
            {
                _registration = cancellationToken.UnsafeRegister(CancelCallback, this);
            }

            try
            {
                if (RunsBetweenFrames)
                {
                    Stream._layer.Stack.PostBetweenFrames(StartOnLoop);
                }
                else
                {
                    Stream._layer.Stack.Post(StartOnLoop);
                }
            }
            catch (InvalidOperationException e)
            {
                TryAbandon(RequestQueueFull(e));
            }
        }

        // On the loop, after TryClaim: the operation is done.
        protected void MarkDone()
        {
            Volatile.Write(ref _state, Done);
            Unregister();
            EndActive();
        }

        // The second of the loop and the awaiter to let go resets the operation for reuse.
        protected void Release()
        {
            if (Interlocked.Increment(ref _releases) == 2)
            {
                _cancellationToken = default;
                Reset();
                Cache();
            }
        }

        protected void ReleaseIfDone()
        {
            if (Volatile.Read(ref _state) == Done)
            {
                Release();
            }
        }

        protected abstract void Run();

        // Whether the operation may cut a receive batch in progress (NetworkStack.PostBetweenFrames): a read,
        // so that the batch's following segments can go straight into it.
        protected abstract bool RunsBetweenFrames { get; }

        protected abstract void EndActive();

        protected abstract void SetException(Exception exception);

        protected abstract void Reset();

        protected abstract void Cache();

        private void Start(NetworkStack stack)
        {
            try
            {
                Run();
            }
            catch (Exception e)
            {
                FailAfterInternalError(e);
                throw; // the stack logs and counts it (CallbackExceptions)
            }
        }

        private void RequestCancel()
        {
            Interlocked.Exchange(ref _cancelRequested, 1);
            TryAbandon(null);
        }

        private void Unregister()
        {
            _registration.Unregister();
            _registration = default;
        }
    }

    private sealed class ReadOperation : Operation, IValueTaskSource<int>
    {
        private readonly LoopValueTaskSourceCore<int> _core = new();

        public ReadOperation(TcpStream stream)
            : base(stream)
        {
        }

        public Memory<byte> Buffer { get; private set; }

        public ValueTask<int> Begin(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            Buffer = buffer;
            short version = _core.Version;
            BeginCore(cancellationToken);
            return new ValueTask<int>(this, version);
        }

        // On the loop, after TryClaim.
        public void Complete(int bytes)
        {
            MarkDone();
            _core.SetResult(bytes);
            Release();
        }

        public int GetResult(short token)
        {
            try
            {
                return _core.GetResult(token);
            }
            finally
            {
                ReleaseIfDone();
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        protected override void Run() => Stream.ReadStep(this);

        protected override bool RunsBetweenFrames => true;

        protected override void EndActive() => Stream.EndRead();

        protected override void SetException(Exception exception) => _core.SetException(exception);

        protected override void Reset()
        {
            Buffer = default;
            _core.Reset();
        }

        protected override void Cache() => Stream.CacheRead(this);
    }

    private sealed class WriteOperation : Operation, IValueTaskSource
    {
        private readonly LoopValueTaskSourceCore<bool> _core = new();
        private ReadOnlyMemory<byte> _data;
        private int _offset;

        public WriteOperation(TcpStream stream)
            : base(stream)
        {
        }

        public int Remaining => _data.Length - _offset;

        public ReadOnlySpan<byte> RemainingSpan => _data.Span[_offset..];

        public ValueTask Begin(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            _data = data;
            _offset = 0;
            short version = _core.Version;
            BeginCore(cancellationToken);
            return new ValueTask(this, version);
        }

        public void Advance(int bytes) => _offset += bytes;

        // On the loop, after TryClaim.
        public void Complete()
        {
            MarkDone();
            _core.SetResult(true);
            Release();
        }

        public void GetResult(short token)
        {
            try
            {
                _core.GetResult(token);
            }
            finally
            {
                ReleaseIfDone();
            }
        }

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);

        protected override void Run() => Stream.WriteStep(this);

        protected override bool RunsBetweenFrames => false;

        protected override void EndActive() => Stream.EndWrite();

        protected override void SetException(Exception exception) => _core.SetException(exception);

        protected override void Reset()
        {
            _data = default;
            _offset = 0;
            _core.Reset();
        }

        protected override void Cache() => Stream.CacheWrite(this);
    }
}
