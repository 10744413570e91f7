using System.Numerics;

namespace Protocols.Ip.Devices.Linux;

/// <summary>Writes one queued frame to the device (called on the transmit thread only).</summary>
internal unsafe interface IFrameWriter
{
    /// <summary>Writes <paramref name="length"/> bytes at <paramref name="frame"/> as one packet, counting the outcome.</summary>
    /// <param name="frame">The frame.</param>
    /// <param name="length">Its length.</param>
    /// <returns>False when the descriptor is closed (the thread stops).</returns>
    bool WriteFrame(byte* frame, int length);
}

/// <summary>
/// A bounded ring of frames between the stack's loop and a thread of the device's own that writes
/// them, one system call each: the loop builds the next frames while the kernel takes the last
/// ones, so the two cores share what one did (for plain TUN a write also runs the kernel's
/// receive path for the packet, its peer's TCP included, in the writer's system call).
/// </summary>
/// <remarks>
/// <para>One producer (the loop) and one consumer (the thread). A frame is built in place in its
/// slot (<see cref="NextSlot"/>) or copied there; the slot is published by advancing the tail,
/// and freed when the thread advances the head after the write. Neither side allocates.</para>
/// <para>The thread sleeps when the ring is empty and is woken by the first frame queued after it
/// went to sleep (a full fence between publishing a frame and reading the sleeping flag, and
/// between setting the flag and looking at the ring again, so no wake-up is lost). A full ring makes
/// the loop wait for the thread, at most <see cref="FullWait"/>; after that the frame is dropped
/// and counted as a send the kernel refused, as a full device queue is. Every sleep has a timeout.</para>
/// </remarks>
internal sealed unsafe class TransmitThread : IDisposable
{
    /// <summary>The longest the loop waits for room in a full ring before it drops the frame.</summary>
    internal static readonly TimeSpan FullWait = TimeSpan.FromMilliseconds(20);

    private const int IdleWaitMilliseconds = 200;

    private readonly IFrameWriter _writer;
    private readonly byte[] _memory;
    private readonly int[] _lengths;
    private readonly int _slotLength;
    private readonly int _mask;
    private readonly ManualResetEventSlim _work = new(false, 0);
    private readonly ManualResetEventSlim _space = new(false, 0);
    private readonly Thread _thread;
    private long _head; // the next slot to write (the thread's)
    private long _tail; // the next slot to fill (the loop's)
    private volatile bool _writerSleeping;
    private volatile bool _producerWaiting;
    private volatile bool _stopping;

    /// <summary>Starts the thread with a ring of <paramref name="slots"/> frames of up to <paramref name="slotLength"/> bytes.</summary>
    /// <param name="writer">Writes each frame.</param>
    /// <param name="name">The device's name (for the thread's).</param>
    /// <param name="slots">Frames the ring holds (rounded up to a power of two).</param>
    /// <param name="slotLength">The largest frame.</param>
    public TransmitThread(IFrameWriter writer, string name, int slots, int slotLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(slots);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(slotLength);
        _writer = writer;
        int count = (int)BitOperations.RoundUpToPowerOf2((uint)slots);
        _mask = count - 1;
        _slotLength = slotLength;
        _memory = GC.AllocateUninitializedArray<byte>(count * slotLength, pinned: true);
        _lengths = new int[count];
        _thread = new Thread(Run) { IsBackground = true, Name = $"transmit {name}" };
        _thread.Start();
    }

    /// <summary>Frames the ring holds.</summary>
    public int Capacity => _mask + 1;

    /// <summary>The largest frame a slot holds.</summary>
    public int SlotLength => _slotLength;

    /// <summary>Frames queued and not yet written.</summary>
    public int Queued => (int)(Volatile.Read(ref _tail) - Volatile.Read(ref _head));

    /// <summary>The slot the next frame goes to, to build it in place; empty when the ring is full.</summary>
    /// <returns>Room for one frame.</returns>
    public Span<byte> NextSlot()
    {
        long tail = _tail;
        return tail - Volatile.Read(ref _head) > _mask ? default : Slot(tail);
    }

    /// <summary>Queues <paramref name="frame"/> (built in <see cref="NextSlot"/>'s space, or copied there).</summary>
    /// <param name="frame">The frame, at most <see cref="SlotLength"/> bytes.</param>
    /// <returns>False when the ring stayed full for <see cref="FullWait"/> or the thread stopped.</returns>
    public bool Enqueue(ReadOnlySpan<byte> frame)
    {
        long tail = _tail;
        if (_stopping || frame.Length > _slotLength || (tail - Volatile.Read(ref _head) > _mask && !WaitForRoom(tail)))
        {
            return false;
        }

        Span<byte> slot = Slot(tail);
        if (!frame.Overlaps(slot, out int offset) || offset != 0)
        {
            frame.CopyTo(slot); // a move when it was built elsewhere in the slot
        }

        _lengths[(int)(tail & _mask)] = frame.Length;
        Volatile.Write(ref _tail, tail + 1);
        Interlocked.MemoryBarrier(); // publish the frame before reading the flag (the thread does the converse)
        if (_writerSleeping)
        {
            _work.Set();
        }

        return true;
    }

    /// <summary>Stops the thread (after the frame it is writing) and forgets what is queued.</summary>
    public void Dispose()
    {
        if (_stopping)
        {
            return;
        }

        _stopping = true;
        _work.Set();
        _space.Set();
        _thread.Join(TimeSpan.FromSeconds(2)); // bounded: a write never blocks (the descriptor is non-blocking)

        // The events are left to the collector: the loop may still be inside Enqueue.
    }

    private Span<byte> Slot(long index) => _memory.AsSpan((int)(index & _mask) * _slotLength, _slotLength);

    // The loop found the ring full: wait (bounded) for the thread to free a slot.
    private bool WaitForRoom(long tail)
    {
        long deadline = Environment.TickCount64 + (long)FullWait.TotalMilliseconds;
        _space.Reset();
        _producerWaiting = true;
        Interlocked.MemoryBarrier();
        try
        {
            while (tail - Volatile.Read(ref _head) > _mask)
            {
                long left = deadline - Environment.TickCount64;
                if (_stopping || left <= 0)
                {
                    return false;
                }

                _space.Wait((int)left);
                _space.Reset();
            }

            return true;
        }
        finally
        {
            _producerWaiting = false;
        }
    }

    private void Run()
    {
        fixed (byte* memory = _memory)
        {
            while (!_stopping)
            {
                long head = _head;
                if (head == Volatile.Read(ref _tail))
                {
                    _work.Reset();
                    _writerSleeping = true;
                    Interlocked.MemoryBarrier(); // the flag before the second look (Enqueue does the converse)
                    if (head == Volatile.Read(ref _tail) && !_stopping)
                    {
                        _work.Wait(IdleWaitMilliseconds);
                    }

                    _writerSleeping = false;
                    continue;
                }

                int slot = (int)(head & _mask);
                if (!_writer.WriteFrame(memory + ((long)slot * _slotLength), _lengths[slot]))
                {
                    _stopping = true;
                }

                Volatile.Write(ref _head, head + 1);
                Interlocked.MemoryBarrier(); // free the slot before reading the flag (WaitForRoom does the converse)
                if (_producerWaiting)
                {
                    _space.Set();
                }
            }
        }

        _space.Set(); // a waiting loop gives up at once
    }
}
