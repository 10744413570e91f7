namespace Protocols.Tcp;

/// <summary>The read and write operations of closed streams, kept for the layer's next streams.</summary>
public sealed partial class TcpStream
{
    // The finished read operation this stream keeps for its next read, taken away from it.
    private ReadOperation? TakeCachedRead()
    {
        ReadOperation? read = Interlocked.Exchange(ref _cachedRead, null);
        if (read is not null)
        {
            Interlocked.CompareExchange(ref _currentRead, null, read);
        }

        return read;
    }

    // The finished write operation this stream keeps for its next write, taken away from it.
    private WriteOperation? TakeCachedWrite()
    {
        WriteOperation? write = Interlocked.Exchange(ref _cachedWrite, null);
        if (write is not null)
        {
            Interlocked.CompareExchange(ref _currentWrite, null, write);
        }

        return write;
    }

    /// <summary>
    /// A bounded stack of finished read and write operations per layer, so that a connection
    /// opened after another closed reuses its value-task sources instead of allocating them.
    /// Loop-only: a stream is seeded when it is made (on the loop) and gives its operations back
    /// in <see cref="CloseOnLoop"/>.
    /// </summary>
    /// <remarks>
    /// Only an operation that sits in its stream's cache is taken back: it was completed by the
    /// loop and released by its awaiter, so nothing refers to it but stale value tasks, which its
    /// token rejects as before. Taking it is an interlocked exchange, so a read or write started
    /// meanwhile on another thread either gets it first (and it stays with that stream) or makes
    /// a new one.
    /// </remarks>
    internal sealed class OperationCache
    {
        private readonly ReadOperation?[] _reads;
        private readonly WriteOperation?[] _writes;
        private int _readCount;
        private int _writeCount;

        /// <summary>A cache of up to <paramref name="capacity"/> operations of each kind.</summary>
        /// <param name="capacity">How many of each it keeps at most.</param>
        public OperationCache(int capacity)
        {
            ArgumentOutOfRangeException.ThrowIfNegative(capacity);
            _reads = new ReadOperation?[capacity];
            _writes = new WriteOperation?[capacity];
        }

        /// <summary>Operations held now (reads plus writes).</summary>
        public int Count => _readCount + _writeCount;

        /// <summary>Gives a new stream a kept read and write operation, when there are any. On the loop.</summary>
        /// <param name="stream">The stream, not yet handed out.</param>
        public void Seed(TcpStream stream)
        {
            if (_readCount > 0)
            {
                ReadOperation read = _reads[--_readCount]!;
                _reads[_readCount] = null;
                read.Rebind(stream);
                stream._cachedRead = read;
            }

            if (_writeCount > 0)
            {
                WriteOperation write = _writes[--_writeCount]!;
                _writes[_writeCount] = null;
                write.Rebind(stream);
                stream._cachedWrite = write;
            }
        }

        /// <summary>Takes back a closed stream's finished operations, while there is room. On the loop.</summary>
        /// <param name="stream">The stream, disposed.</param>
        public void Reclaim(TcpStream stream)
        {
            // Each lets go of the closed stream, so the cache keeps no connection alive.
            if (_readCount < _reads.Length && stream.TakeCachedRead() is { } read)
            {
                read.Rebind(null);
                _reads[_readCount++] = read;
            }

            if (_writeCount < _writes.Length && stream.TakeCachedWrite() is { } write)
            {
                write.Rebind(null);
                _writes[_writeCount++] = write;
            }
        }
    }
}
