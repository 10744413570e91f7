using System.Buffers;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Udp;

/// <summary>One datagram waiting in a socket's receive queue: a pooled copy of its data and where it came from.</summary>
internal struct QueuedDatagram
{
    /// <summary>Rented from <see cref="ArrayPool{T}.Shared"/>; the data is <c>Buffer[..Length]</c>.</summary>
    public byte[] Buffer;

    /// <summary>Bytes of data.</summary>
    public int Length;

    /// <summary>The sender.</summary>
    public IpEndpoint Remote;

    /// <summary>The address it was sent to (ours, or a broadcast address).</summary>
    public IpAddress LocalAddress;
}

/// <summary>
/// A socket's receive queue, bounded in datagrams and in bytes of data (the SO_RCVBUF of a kernel
/// socket). A datagram that does not fit is refused and the caller counts the drop (Linux's
/// RcvbufErrors). Used only on the stack's loop.
/// </summary>
/// <remarks>
/// An empty queue always accepts one datagram, so a limit below 65507 bytes never makes the
/// largest datagrams undeliverable.
/// </remarks>
internal sealed class UdpReceiveQueue
{
    private readonly Queue<QueuedDatagram> _queue = new();

    /// <summary>Creates an empty queue with the given bounds.</summary>
    /// <param name="maxDatagrams">At most this many datagrams wait (at least 1).</param>
    /// <param name="maxBytes">At most this many bytes of data wait, except that an empty queue takes any one datagram.</param>
    public UdpReceiveQueue(int maxDatagrams, int maxBytes)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxDatagrams, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 0);
        MaxDatagrams = maxDatagrams;
        MaxBytes = maxBytes;
    }

    /// <summary>The datagram bound.</summary>
    public int MaxDatagrams { get; }

    /// <summary>The byte bound.</summary>
    public int MaxBytes { get; }

    /// <summary>Datagrams waiting.</summary>
    public int Count => _queue.Count;

    /// <summary>Bytes of data waiting.</summary>
    public long Bytes { get; private set; }

    /// <summary>Copies the datagram into a pooled buffer and queues it, unless a bound refuses it.</summary>
    /// <param name="data">The datagram's data.</param>
    /// <param name="remote">The sender.</param>
    /// <param name="localAddress">The address it was sent to.</param>
    /// <returns>False when the queue is full (nothing is copied).</returns>
    public bool TryEnqueue(ReadOnlySpan<byte> data, IpEndpoint remote, IpAddress localAddress)
    {
        if (_queue.Count >= MaxDatagrams || (_queue.Count > 0 && Bytes + data.Length > MaxBytes))
        {
            return false;
        }

        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(data.Length, 1));
        data.CopyTo(buffer);
        _queue.Enqueue(new QueuedDatagram { Buffer = buffer, Length = data.Length, Remote = remote, LocalAddress = localAddress });
        Bytes += data.Length;
        return true;
    }

    /// <summary>Takes the oldest datagram; the caller owns its buffer and returns it to the pool.</summary>
    /// <param name="datagram">The datagram.</param>
    /// <returns>False when the queue is empty.</returns>
    public bool TryDequeue(out QueuedDatagram datagram)
    {
        if (!_queue.TryDequeue(out datagram))
        {
            return false;
        }

        Bytes -= datagram.Length;
        return true;
    }

    /// <summary>Drops every waiting datagram, returning the buffers to the pool.</summary>
    /// <returns>How many were dropped.</returns>
    public int Clear()
    {
        int dropped = _queue.Count;
        while (_queue.TryDequeue(out QueuedDatagram d))
        {
            ArrayPool<byte>.Shared.Return(d.Buffer);
        }

        Bytes = 0;
        return dropped;
    }
}
