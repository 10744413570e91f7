using System.Diagnostics;
using Protocols.Ip.Devices.Linux;

namespace Protocols.Ip.Tests.Devices;

/// <summary>
/// The ring between the loop and a device's transmit thread: frames come out in order and intact
/// (built in place or copied), a full ring holds the loop until the thread frees a slot, a thread
/// that stays stuck makes the loop drop after the bounded wait, and disposing stops the thread.
/// </summary>
public sealed class TransmitThreadTests
{
    [Fact]
    public void Frames_are_written_in_order_whether_built_in_place_or_copied()
    {
        var writer = new RecordingWriter();
        using var ring = new TransmitThread(writer, "test", slots: 8, slotLength: 64);
        Assert.Equal(8, ring.Capacity);
        for (int i = 0; i < 100; i++)
        {
            if (i % 2 == 0)
            {
                Span<byte> slot = ring.NextSlot();
                if (slot.IsEmpty)
                {
                    Assert.True(ring.Enqueue(Frame(i)));
                    continue;
                }

                Frame(i).CopyTo(slot);
                Assert.True(ring.Enqueue(slot[..Frame(i).Length]));
            }
            else
            {
                Assert.True(ring.Enqueue(Frame(i)));
            }
        }

        Assert.True(SpinWait.SpinUntil(() => writer.Count == 100, TimeSpan.FromSeconds(10)), $"{writer.Count} written");
        for (int i = 0; i < 100; i++)
        {
            Assert.Equal(Frame(i), writer.Frames[i]);
        }
    }

    [Fact]
    public void A_full_ring_holds_the_loop_until_a_slot_is_free_and_drops_after_the_bounded_wait()
    {
        var writer = new RecordingWriter { Gate = new ManualResetEventSlim(false) };
        using var ring = new TransmitThread(writer, "test", slots: 4, slotLength: 64);
        for (int i = 0; i < 4; i++)
        {
            Assert.True(ring.Enqueue(Frame(i))); // the first stays in its slot while the thread writes it
            if (i == 0)
            {
                Assert.True(SpinWait.SpinUntil(() => writer.Started == 1, TimeSpan.FromSeconds(10)));
            }
        }

        Assert.True(ring.NextSlot().IsEmpty);
        var clock = Stopwatch.StartNew();
        Assert.False(ring.Enqueue(Frame(4))); // the thread is stuck: dropped after the wait
        Assert.True(clock.Elapsed >= TransmitThread.FullWait - TimeSpan.FromMilliseconds(2), $"{clock.Elapsed}");

        writer.Gate.Set();
        Assert.True(ring.Enqueue(Frame(5))); // the ring is full until the thread's write returns: waits for it
        Assert.True(SpinWait.SpinUntil(() => writer.Count == 5, TimeSpan.FromSeconds(10)), $"{writer.Count} written");
        Assert.Equal([0, 1, 2, 3, 5], writer.Frames.Select(f => (int)f[0]));
    }

    [Fact]
    public void Disposing_stops_the_thread_and_refuses_later_frames()
    {
        var writer = new RecordingWriter();
        var ring = new TransmitThread(writer, "test", slots: 4, slotLength: 64);
        Assert.True(ring.Enqueue(Frame(1)));
        Assert.True(SpinWait.SpinUntil(() => writer.Count == 1, TimeSpan.FromSeconds(10)));
        ring.Dispose();
        Assert.False(ring.Enqueue(Frame(2)));
        Assert.False(ring.Enqueue(new byte[65])); // larger than a slot
        Thread.Sleep(20);
        Assert.Equal(1, writer.Count);
    }

    private static byte[] Frame(int i) => [(byte)i, (byte)(i * 3), (byte)(i * 7), .. new byte[i % 40]];

    private sealed unsafe class RecordingWriter : IFrameWriter
    {
        private int _count;
        private int _started;

        public List<byte[]> Frames { get; } = [];

        public ManualResetEventSlim? Gate { get; init; }

        public int Count => Volatile.Read(ref _count);

        public int Started => Volatile.Read(ref _started);

        public bool WriteFrame(byte* frame, int length)
        {
            Interlocked.Increment(ref _started);
            Gate?.Wait(TimeSpan.FromSeconds(10));
            lock (Frames)
            {
                Frames.Add(new ReadOnlySpan<byte>(frame, length).ToArray());
            }

            Interlocked.Increment(ref _count);
            return true;
        }
    }
}
