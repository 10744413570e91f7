using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp;

/// <summary>
/// One TCP connection as a <see cref="Stream"/>, from <see cref="TcpLayer.ConnectAsync(IpEndpoint, CancellationToken)"/>
/// or <see cref="TcpListener.AcceptAsync"/>.
/// </summary>
/// <remarks>
/// <list type="bullet">
/// <item><see cref="ReadAsync(Memory{byte}, CancellationToken)"/> completes as soon as at least one
/// byte is available and returns 0 only after the peer's FIN; a zero-length read waits until data,
/// FIN or an error is there and returns 0 (SslStream relies on it). A read that waits gets
/// in-order data copied straight from the segments into its buffer (one copy, no receive ring), and
/// completes when its buffer is full or at the end of the stack's receive batch, so that the
/// batch's segments share the read; a read that finds bytes queued while a batch is being received
/// takes them and, the same way, the rest of that batch (it still completes within the loop's
/// poll).</item>
/// <item><see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/> completes when every byte
/// is in the send buffer (not when it is acknowledged).</item>
/// <item>One read and one write may run at the same time; a second concurrent read (or write)
/// throws <see cref="InvalidOperationException"/>.</item>
/// <item>Cancelling a pending read throws <see cref="OperationCanceledException"/> and loses no
/// data. Cancelling a pending write throws it too, but part of the data may already be queued
/// (and will be sent): the byte stream is then cut at an unknown point.</item>
/// <item><see cref="CompleteWrites"/> sends FIN (half-close) and reads go on; <see cref="Abort"/>
/// sends RST; <see cref="Stream.Dispose()"/> is an orderly close (FIN), or RST when unread data is
/// discarded (RFC 9293 3.10.4, as Linux).</item>
/// <item>Failures throw <see cref="TcpException"/> (ConnectionReset, TimedOut, ConnectionAborted...).</item>
/// <item>Sync <see cref="Read(byte[], int, int)"/> and <see cref="Write(byte[], int, int)"/> block
/// for at most <see cref="ReadTimeout"/> / <see cref="WriteTimeout"/> (infinite by default, as
/// NetworkStream). Never call them on the stack's loop thread (a stack callback, or the thread of a
/// simulation): the loop would wait for itself.</item>
/// </list>
/// Thread-safe as a Stream is: every operation goes to the stack's loop with
/// <see cref="NetworkStack.Post"/>, and completions run their continuations asynchronously.
/// </remarks>
public sealed partial class TcpStream : Stream, IReceiveReader
{
    private readonly TcpConnection _connection;
    private readonly TcpLayer _layer;
    private Action<NetworkStack>? _abortOnLoop; // made on first use: most streams never abort
    private Action<NetworkStack>? _completeWritesOnLoop;
    private ReadOperation? _cachedRead;
    private WriteOperation? _cachedWrite;
    private ReadOperation? _currentRead;
    private WriteOperation? _currentWrite;
    private int _readActive;
    private int _writeActive;
    private int _disposed;
    private int _readTimeout = Timeout.Infinite;
    private int _writeTimeout = Timeout.Infinite;
    private bool _noDelay;

    // Loop-only state.
    private ReadOperation? _pendingRead;
    private WriteOperation? _pendingWrite;
    private bool _closedOnLoop;
    private bool _writesCompletedOnLoop;
    private bool _inReadStep;
    private bool _inWriteStep;

    internal TcpStream(TcpConnection connection)
    {
        _connection = connection;
        _layer = connection.Layer;
        _noDelay = connection.Tcb.NoDelay;
        TcpFourTuple tuple = connection.Tuple;
        LocalEndPoint = new IpEndpoint(tuple.LocalAddress, tuple.LocalPort);
        RemoteEndPoint = new IpEndpoint(tuple.RemoteAddress, tuple.RemotePort);
        _layer.StreamOperations.Seed(this);
    }

    /// <summary>This end of the connection.</summary>
    public IpEndpoint LocalEndPoint { get; }

    /// <summary>The peer's end.</summary>
    public IpEndpoint RemoteEndPoint { get; }

    /// <summary>The connection's state now (read without synchronisation: a snapshot).</summary>
    public TcpState State => _connection.Tcb.StateAt(_layer.NowMicros);

    /// <summary>The layer's side of the connection (tests look at its control block).</summary>
    internal TcpConnection Connection => _connection;

    /// <summary>Nagle's algorithm off (RFC 9293 3.7.4): small writes go out at once.</summary>
    public bool NoDelay
    {
        get => _noDelay;
        set
        {
            _noDelay = value;
            Post(stack => _connection.Tcb.NoDelay = value);
        }
    }

    /// <inheritdoc/>
    public override bool CanRead => Volatile.Read(ref _disposed) == 0;

    /// <inheritdoc/>
    public override bool CanWrite => Volatile.Read(ref _disposed) == 0;

    /// <inheritdoc/>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanTimeout => true;

    /// <summary>How long a sync <see cref="Read(byte[], int, int)"/> waits, in milliseconds (<see cref="Timeout.Infinite"/> by default).</summary>
    public override int ReadTimeout
    {
        get => _readTimeout;
        set => _readTimeout = value is > 0 or Timeout.Infinite ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    /// <summary>How long a sync <see cref="Write(byte[], int, int)"/> waits, in milliseconds (<see cref="Timeout.Infinite"/> by default).</summary>
    public override int WriteTimeout
    {
        get => _writeTimeout;
        set => _writeTimeout = value is > 0 or Timeout.Infinite ? value : throw new ArgumentOutOfRangeException(nameof(value));
    }

    /// <inheritdoc/>
    public override long Length => throw new NotSupportedException("A TCP stream has no length.");

    /// <inheritdoc/>
    public override long Position
    {
        get => throw new NotSupportedException("A TCP stream cannot seek.");
        set => throw new NotSupportedException("A TCP stream cannot seek.");
    }

    /// <summary>The connection's <c>ss -tani</c> row. Loop-only (use <see cref="GetInfoAsync"/> elsewhere).</summary>
    /// <returns>The row.</returns>
    public TcpConnectionInfo GetInfo() => _connection.Tcb.GetInfo(_layer.NowMicros);

    /// <summary>The connection's <c>ss -tani</c> row, read on the loop. Thread-safe.</summary>
    /// <returns>The row.</returns>
    public Task<TcpConnectionInfo> GetInfoAsync() => _layer.Stack.InvokeAsync(_ => GetInfo());

    /// <summary>Half-close: FIN after the data already written; reads go on until the peer's FIN. A write after it fails with <see cref="SocketError.Shutdown"/>.</summary>
    /// <exception cref="ObjectDisposedException">The stream was disposed.</exception>
    public void CompleteWrites()
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        Post(_completeWritesOnLoop ??= CompleteWritesOnLoop);
    }

    /// <summary>
    /// Abortive close: RST now, queued data is dropped; pending and later operations fail with
    /// <see cref="SocketError.ConnectionAborted"/>. Allowed after <see cref="Stream.Dispose()"/> too,
    /// to reset a connection that is still closing (SO_LINGER 0).
    /// </summary>
    public void Abort() => Post(_abortOnLoop ??= AbortOnLoop);

    /// <inheritdoc/>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _readActive, 1) != 0)
        {
            throw new InvalidOperationException("A read is already pending on this TcpStream (one reader at a time).");
        }

        if (cancellationToken.IsCancellationRequested)
        {
            Volatile.Write(ref _readActive, 0);
            return ValueTask.FromCanceled<int>(cancellationToken);
        }

        ReadOperation operation = Interlocked.Exchange(ref _cachedRead, null) ?? new ReadOperation(this);
        Volatile.Write(ref _currentRead, operation);
        return operation.Begin(buffer, cancellationToken);
    }

    /// <inheritdoc/>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <inheritdoc/>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _writeActive, 1) != 0)
        {
            throw new InvalidOperationException("A write is already pending on this TcpStream (one writer at a time).");
        }

        if (cancellationToken.IsCancellationRequested)
        {
            Volatile.Write(ref _writeActive, 0);
            return ValueTask.FromCanceled(cancellationToken);
        }

        WriteOperation operation = Interlocked.Exchange(ref _cachedWrite, null) ?? new WriteOperation(this);
        Volatile.Write(ref _currentWrite, operation);
        return operation.Begin(buffer, cancellationToken);
    }

    /// <inheritdoc/>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken)
    {
        ValidateBufferArguments(buffer, offset, count);
        return WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();
    }

    /// <summary>Blocks until at least one byte (or FIN: 0) is read, for at most <see cref="ReadTimeout"/>. Never on the loop thread.</summary>
    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        using CancellationTokenSource? timeout = TimeoutSource(_readTimeout);
        try
        {
            return ReadAsync(buffer.AsMemory(offset, count), timeout?.Token ?? default).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (timeout is { IsCancellationRequested: true })
        {
            throw new TcpException(SocketError.TimedOut, $"The read did not complete within {_readTimeout} ms.");
        }
    }

    /// <summary>Blocks until every byte is in the send buffer, for at most <see cref="WriteTimeout"/>. Never on the loop thread.</summary>
    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count)
    {
        ValidateBufferArguments(buffer, offset, count);
        using CancellationTokenSource? timeout = TimeoutSource(_writeTimeout);
        try
        {
            WriteAsync(buffer.AsMemory(offset, count), timeout?.Token ?? default).AsTask().GetAwaiter().GetResult();
        }
        catch (OperationCanceledException) when (timeout is { IsCancellationRequested: true })
        {
            throw new TcpException(SocketError.TimedOut, $"The write did not complete within {_writeTimeout} ms (part of the data may be queued).");
        }
    }

    /// <summary>Nothing to do: written data is in the send buffer and goes out as the window allows.</summary>
    public override void Flush()
    {
    }

    /// <inheritdoc/>
    public override Task FlushAsync(CancellationToken cancellationToken) =>
        cancellationToken.IsCancellationRequested ? Task.FromCanceled(cancellationToken) : Task.CompletedTask;

    /// <inheritdoc/>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException("A TCP stream cannot seek.");

    /// <inheritdoc/>
    public override void SetLength(long value) => throw new NotSupportedException("A TCP stream has no length.");

    /// <summary><c>local -&gt; remote</c>.</summary>
    /// <returns>The text.</returns>
    public override string ToString() => $"TcpStream {LocalEndPoint} -> {RemoteEndPoint}";

    /// <summary>Events from the connection: data, FIN, error or close. On the loop.</summary>
    internal void OnReadable()
    {
        if (_pendingRead is { } read && !_inReadStep)
        {
            try
            {
                ReadStep(read);
            }
            catch (Exception e)
            {
                read.FailAfterInternalError(e);
                throw;
            }
        }
    }

    /// <summary>Events from the connection: send space, error or close. On the loop.</summary>
    internal void OnWritable()
    {
        if (_pendingWrite is { } write && !_inWriteStep)
        {
            try
            {
                WriteStep(write);
            }
            catch (Exception e)
            {
                write.FailAfterInternalError(e);
                throw;
            }
        }
    }

    private static TcpException Closed() => new(SocketError.OperationAborted, "The operation was aborted because the stream was closed.");

    /// <summary>Orderly close: FIN (or RST with unread data); pending operations fail with a <see cref="TcpException"/> of <see cref="SocketError.OperationAborted"/> (as a <see cref="System.Net.Sockets.NetworkStream"/>'s do), later calls with <see cref="ObjectDisposedException"/>.</summary>
    /// <param name="disposing">Whether called from Dispose.</param>
    protected override void Dispose(bool disposing)
    {
        if (disposing && Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            // Fail what waits now, so a stopped loop cannot leave callers hanging; the loop skips them.
            Volatile.Read(ref _currentRead)?.TryAbandonClosed();
            Volatile.Read(ref _currentWrite)?.TryAbandonClosed();
            _layer.RequestClose(this);
        }

        base.Dispose(disposing);
    }

    private CancellationTokenSource? TimeoutSource(int milliseconds) =>
        milliseconds == Timeout.Infinite ? null : new CancellationTokenSource(TimeSpan.FromMilliseconds(milliseconds), _layer.Stack.TimeProvider);

    private void Post(Action<NetworkStack> work)
    {
        try
        {
            _layer.Stack.Post(work);
        }
        catch (InvalidOperationException e)
        {
            throw new TcpException(SocketError.NoBufferSpaceAvailable, "The stack's request queue is full: " + e.Message);
        }
    }

    // ---- On the loop ----

    private void ReadStep(ReadOperation operation)
    {
        if (!operation.IsPending)
        {
            if (ReferenceEquals(_pendingRead, operation))
            {
                _pendingRead = null;
            }

            return;
        }

        TcpControlBlock tcb = _connection.Tcb;
        if (_closedOnLoop)
        {
            _pendingRead = null;
            operation.TryFail(Closed());
            return;
        }

        if (tcb.ReadableBytes > 0)
        {
            if (!operation.TryClaim())
            {
                return; // cancelled meanwhile
            }

            _pendingRead = null;
            int n = 0;
            if (!operation.Buffer.IsEmpty)
            {
                _inReadStep = true;
                try
                {
                    n = tcb.Receive(operation.Buffer.Span, _layer.NowMicros);
                    _layer.Drain(_connection); // a window update may have gone out
                }
                finally
                {
                    _inReadStep = false;
                }
            }

            if (n > 0 && n < operation.Buffer.Length && tcb.ReadableBytes == 0 && !tcb.IsReceiveCompleted
                && tcb.Error == SocketError.Success && _layer.FinishFillAtBatchEnd(this))
            {
                // Inside a receive batch: the read keeps its room for the batch's following
                // in-order segments, which go straight into it, and completes when the batch ends
                // (TcpStream.DirectRead.cs). A reader that comes back after the loop moved on
                // takes what queued meanwhile from the ring and the rest in one copy.
                _fillingRead = operation;
                _filled = n;
                _finishQueued = true;
                tcb.Reader = this;
                return;
            }

            operation.Complete(n);
            return;
        }

        if (tcb.IsReceiveCompleted || (tcb.State == TcpState.Closed && tcb.Error == SocketError.Success))
        {
            _pendingRead = null;
            if (operation.TryClaim())
            {
                operation.Complete(0); // RFC 9293 3.10.3: the peer's FIN: end of stream
            }

            return;
        }

        if (tcb.Error != SocketError.Success)
        {
            _pendingRead = null;
            operation.TryFail(new TcpException(tcb.Error));
            return;
        }

        _pendingRead = operation;
        if (!operation.Buffer.IsEmpty)
        {
            tcb.Reader = this; // the next in-order data may come straight into this read's buffer
        }
    }

    private void WriteStep(WriteOperation operation)
    {
        if (!operation.IsPending)
        {
            if (ReferenceEquals(_pendingWrite, operation))
            {
                _pendingWrite = null;
            }

            return;
        }

        TcpControlBlock tcb = _connection.Tcb;
        Exception? failure = null;
        if (_closedOnLoop)
        {
            failure = Closed();
        }
        else if (tcb.Error != SocketError.Success)
        {
            failure = new TcpException(tcb.Error);
        }
        else if (_writesCompletedOnLoop)
        {
            failure = new TcpException(SocketError.Shutdown, "Writes were completed (FIN sent) on this connection.");
        }
        else if (tcb.State is not (TcpState.Established or TcpState.CloseWait))
        {
            failure = new TcpException(SocketError.NotConnected, $"The connection is {tcb.State}: it cannot send.");
        }

        if (failure is not null)
        {
            _pendingWrite = null;
            operation.TryFail(failure);
            return;
        }

        if (!operation.TryClaim())
        {
            return; // cancelled meanwhile
        }

        _inWriteStep = true;
        try
        {
            Micros now = _layer.NowMicros;
            while (operation.Remaining > 0 && tcb.SendSpace > 0)
            {
                int n = tcb.Send(operation.RemainingSpan, now);
                if (n <= 0)
                {
                    break;
                }

                operation.Advance(n);
            }

            _layer.Drain(_connection);
        }
        finally
        {
            _inWriteStep = false;
        }

        if (operation.Remaining == 0)
        {
            _pendingWrite = null;
            operation.Complete();
        }
        else
        {
            _pendingWrite = operation;
            operation.Unclaim();

            // The Drain above may have failed the connection (an output error): look again.
            if (tcb.Error != SocketError.Success || tcb.State is not (TcpState.Established or TcpState.CloseWait))
            {
                WriteStep(operation);
            }
        }
    }

    /// <summary>The orderly close <see cref="Dispose(bool)"/> asked for; on the loop.</summary>
    internal void CloseOnLoop()
    {
        _closedOnLoop = true;
        if (ReferenceEquals(_connection.Tcb.Reader, this))
        {
            _connection.Tcb.Reader = null;
        }

        FinishFill(); // a read that data already went into returns it

        if (_pendingRead is { } read)
        {
            _pendingRead = null;
            read.TryFail(Closed());
        }

        if (_pendingWrite is { } write)
        {
            _pendingWrite = null;
            write.TryFail(Closed());
        }

        if (ReferenceEquals(_connection.Stream, this))
        {
            _connection.Stream = null;
        }

        _layer.StreamOperations.Reclaim(this);

        if (_connection.InTable && _connection.Tcb.State != TcpState.Closed)
        {
            _connection.Tcb.Close(_layer.NowMicros);
            _layer.Drain(_connection);
        }
        else if (!_connection.InTable)
        {
            _layer.ReleaseHeldTimeWait(_connection); // TIME-WAIT may be a record that kept this control block for the stream
        }
    }

    private void AbortOnLoop(NetworkStack stack)
    {
        if (_connection.InTable && _connection.Tcb.State != TcpState.Closed)
        {
            _connection.Tcb.Abort(_layer.NowMicros);
            _layer.Drain(_connection);
        }
    }

    private void CompleteWritesOnLoop(NetworkStack stack)
    {
        if (_writesCompletedOnLoop || _closedOnLoop)
        {
            return;
        }

        _writesCompletedOnLoop = true;
        if (_connection.InTable && _connection.Tcb.State is TcpState.Established or TcpState.CloseWait)
        {
            _connection.Tcb.CompleteWrites(_layer.NowMicros);
            _layer.Drain(_connection);
        }

        // A write still waiting for space cannot finish now.
        if (_pendingWrite is { } write)
        {
            WriteStep(write);
        }
    }
}
