using System.IO.Pipelines;

namespace Protocols.Tcp.Framing;

/// <summary>
/// An <see cref="IDuplexPipe"/> over a bidirectional <see cref="Stream"/> (System.IO.Pipelines):
/// the <see cref="Input"/> completes when the stream's reads return 0 (the peer's FIN); completing
/// the <see cref="Output"/> flushes what was written and then runs the half-close action (for a
/// <c>TcpStream</c>: <c>CompleteWrites</c>, which sends FIN). When both sides are completed the
/// stream is disposed unless <c>leaveOpen</c> was given.
/// </summary>
public sealed class StreamDuplexPipe : IDuplexPipe
{
    private readonly Stream _stream;
    private readonly bool _leaveOpen;
    private int _completedSides;

    /// <summary>Wraps <paramref name="stream"/>.</summary>
    /// <param name="stream">A readable and writable stream.</param>
    /// <param name="completeWrites">Run once when the output is completed, after the last flush (the half-close), or null for none.</param>
    /// <param name="leaveOpen">True to leave the stream open when both sides are completed.</param>
    /// <param name="minimumReadSize">The smallest buffer the reader asks the pool for.</param>
    public StreamDuplexPipe(Stream stream, Action? completeWrites = null, bool leaveOpen = false, int minimumReadSize = 4096)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanRead || !stream.CanWrite)
        {
            throw new ArgumentException("the stream must be readable and writable", nameof(stream));
        }

        _stream = stream;
        _leaveOpen = leaveOpen;
        Input = new CompletionReader(this, PipeReader.Create(stream, new StreamPipeReaderOptions(bufferSize: minimumReadSize, minimumReadSize: Math.Min(1024, minimumReadSize), leaveOpen: true)));
        Output = new CompletionWriter(this, PipeWriter.Create(stream, new StreamPipeWriterOptions(leaveOpen: true)), completeWrites);
    }

    /// <inheritdoc/>
    public PipeReader Input { get; }

    /// <inheritdoc/>
    public PipeWriter Output { get; }

    private void SideCompleted()
    {
        if (Interlocked.Increment(ref _completedSides) == 2 && !_leaveOpen)
        {
            _stream.Dispose();
        }
    }

    /// <summary>The stream's reader; counts its completion once.</summary>
    private sealed class CompletionReader(StreamDuplexPipe owner, PipeReader inner) : PipeReader
    {
        private int _completed;

        public override void AdvanceTo(SequencePosition consumed) => inner.AdvanceTo(consumed);

        public override void AdvanceTo(SequencePosition consumed, SequencePosition examined) => inner.AdvanceTo(consumed, examined);

        public override void CancelPendingRead() => inner.CancelPendingRead();

        public override ValueTask<ReadResult> ReadAsync(CancellationToken cancellationToken = default) => inner.ReadAsync(cancellationToken);

        public override bool TryRead(out ReadResult result) => inner.TryRead(out result);

        public override void Complete(Exception? exception = null)
        {
            inner.Complete(exception);
            if (Interlocked.Exchange(ref _completed, 1) == 0)
            {
                owner.SideCompleted();
            }
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            await inner.CompleteAsync(exception).ConfigureAwait(false);
            if (Interlocked.Exchange(ref _completed, 1) == 0)
            {
                owner.SideCompleted();
            }
        }
    }

    /// <summary>The stream's writer; on completion flushes, half-closes, and counts its completion once.</summary>
    private sealed class CompletionWriter(StreamDuplexPipe owner, PipeWriter inner, Action? completeWrites) : PipeWriter
    {
        private int _completed;

        public override bool CanGetUnflushedBytes => inner.CanGetUnflushedBytes;

        public override long UnflushedBytes => inner.UnflushedBytes;

        public override void Advance(int bytes) => inner.Advance(bytes);

        public override Memory<byte> GetMemory(int sizeHint = 0) => inner.GetMemory(sizeHint);

        public override Span<byte> GetSpan(int sizeHint = 0) => inner.GetSpan(sizeHint);

        public override void CancelPendingFlush() => inner.CancelPendingFlush();

        public override ValueTask<FlushResult> FlushAsync(CancellationToken cancellationToken = default) => inner.FlushAsync(cancellationToken);

        public override ValueTask<FlushResult> WriteAsync(ReadOnlyMemory<byte> source, CancellationToken cancellationToken = default) => inner.WriteAsync(source, cancellationToken);

        public override void Complete(Exception? exception = null)
        {
            if (Interlocked.Exchange(ref _completed, 1) != 0)
            {
                return;
            }

            try
            {
                inner.Complete(exception); // flushes buffered bytes (synchronously) unless completed with an error
                if (exception is null)
                {
                    completeWrites?.Invoke();
                }
            }
            finally
            {
                owner.SideCompleted();
            }
        }

        public override async ValueTask CompleteAsync(Exception? exception = null)
        {
            if (Interlocked.Exchange(ref _completed, 1) != 0)
            {
                return;
            }

            try
            {
                await inner.CompleteAsync(exception).ConfigureAwait(false);
                if (exception is null)
                {
                    completeWrites?.Invoke();
                }
            }
            finally
            {
                owner.SideCompleted();
            }
        }
    }
}
