using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine;

public class BufferGrowthTests
{
    [Theory]
    [InlineData(1, 65536)]
    [InlineData(2, 100_000)]
    [InlineData(3, 5000)]
    [InlineData(4, 262_144)]
    public void Receive_buffer_grows_with_out_of_order_data_and_delivers_the_stream_intact(int seed, int capacity)
    {
        var random = new Random(seed);
        byte[] stream = new byte[2_000_000];
        random.NextBytes(stream);
        var start = new SeqNum(0xFFFF_F000); // across the wrap, too
        var buffer = new ReceiveBuffer(start, capacity);
        Assert.Equal(0, buffer.AllocatedBytes);
        var output = new List<byte>(stream.Length);
        byte[] sink = new byte[7000];
        int maxAllocated = 0;
        while (output.Count < stream.Length)
        {
            // A segment somewhere in the window (often ahead of RCV.NXT), or a read.
            if (random.Next(3) > 0)
            {
                int delivered = buffer.RcvNxt - start;
                int offset = delivered + (random.Next(4) == 0 ? 0 : random.Next(Math.Max(buffer.Window, 1)));
                int length = Math.Min(1 + random.Next(1500), stream.Length - offset);
                if (length > 0)
                {
                    buffer.Receive(start + offset, stream.AsSpan(offset, length), fin: false);
                }
            }
            else
            {
                int n = buffer.Read(sink.AsSpan(0, 1 + random.Next(sink.Length - 1)));
                output.AddRange(sink.AsSpan(0, n).ToArray());
            }

            maxAllocated = Math.Max(maxAllocated, buffer.AllocatedBytes);
            Assert.True(buffer.AllocatedBytes <= capacity);
        }

        Assert.Equal(stream, output.ToArray());
        Assert.True(buffer.Release());
        Assert.Equal(0, buffer.AllocatedBytes);
    }

    [Fact]
    public void Receive_buffer_keeps_unread_bytes_on_release()
    {
        var buffer = new ReceiveBuffer(new SeqNum(1), 100_000);
        buffer.Receive(new SeqNum(1), new byte[] { 1, 2, 3 }, fin: true);
        buffer.Receive(new SeqNum(10), new byte[] { 9 }, fin: false);
        Assert.False(buffer.Release());
        Assert.Equal(3, buffer.Readable);
        var sink = new byte[10];
        Assert.Equal(3, buffer.Read(sink));
        Assert.Equal(new byte[] { 1, 2, 3 }, sink[..3]);
        Assert.True(buffer.Release());
    }

    [Theory]
    [InlineData(1, 10_000)]
    [InlineData(2, 262_144)]
    public void Send_buffer_grows_by_doubling_and_keeps_the_stream_intact(int seed, int capacity)
    {
        var random = new Random(seed);
        byte[] stream = new byte[1_000_000];
        random.NextBytes(stream);
        var buffer = new SendBuffer(new SeqNum(0xFFFF_FF00), capacity);
        Assert.Equal(0, buffer.AllocatedBytes);
        int written = buffer.Write(stream.AsSpan(0, 100)), acked = 0;
        Assert.Equal(Math.Min(SendBuffer.InitialRingSize, capacity), buffer.AllocatedBytes); // starts small
        var sizes = new HashSet<int> { buffer.AllocatedBytes };
        while (acked < stream.Length)
        {
            written += buffer.Write(stream.AsSpan(written, Math.Min(1 + random.Next(20_000), stream.Length - written)));
            sizes.Add(buffer.AllocatedBytes);
            int held = written - acked;
            int take = random.Next(held + 1);
            var copy = new byte[take];
            Assert.Equal(take, buffer.CopyTo(buffer.SndUna, copy));
            Assert.Equal(stream.AsSpan(acked, take).ToArray(), copy);
            buffer.MarkSent(buffer.SndUna + take);
            Assert.True(buffer.Acknowledge(buffer.SndUna + take, out int freed));
            acked += freed;
        }

        Assert.True(sizes.Count > 1); // it grew
        Assert.All(sizes, s => Assert.True(s == capacity || (s >= SendBuffer.InitialRingSize && s < capacity && (s & (s - 1)) == 0), $"{s}")); // by doubling, capped at the capacity
        buffer.Release();
        Assert.Equal(0, buffer.AllocatedBytes);
    }
}
