using System.Buffers;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Udp.Tests.Sockets;

public class UdpReceiveQueueTests
{
    private static readonly IpEndpoint Peer = IpEndpoint.Parse("10.0.0.1:4000");
    private static readonly Ipv4Address Local = Ipv4Address.Parse("10.0.0.2");

    [Fact]
    public void Keeps_order_and_copies_the_data()
    {
        var queue = new UdpReceiveQueue(maxDatagrams: 4, maxBytes: 1000);
        byte[] data = [1, 2, 3];
        Assert.True(queue.TryEnqueue(data, Peer, Local));
        data[0] = 99; // the queue holds its own copy
        Assert.True(queue.TryEnqueue([4, 5], Peer with { Port = 4001 }, Local));
        Assert.Equal(2, queue.Count);
        Assert.Equal(5, queue.Bytes);

        Assert.True(queue.TryDequeue(out QueuedDatagram first));
        Assert.Equal([1, 2, 3], first.Buffer.AsSpan(0, first.Length).ToArray());
        Assert.Equal(Peer, first.Remote);
        Assert.Equal(Local, first.LocalAddress);
        ArrayPool<byte>.Shared.Return(first.Buffer);

        Assert.True(queue.TryDequeue(out QueuedDatagram second));
        Assert.Equal(4001, second.Remote.Port);
        ArrayPool<byte>.Shared.Return(second.Buffer);
        Assert.False(queue.TryDequeue(out _));
        Assert.Equal(0, queue.Bytes);
    }

    [Fact]
    public void Datagram_bound_refuses_past_the_limit()
    {
        var queue = new UdpReceiveQueue(maxDatagrams: 3, maxBytes: 1 << 20);
        for (int i = 0; i < 3; i++)
        {
            Assert.True(queue.TryEnqueue([], Peer, Local)); // empty datagrams count too
        }

        Assert.False(queue.TryEnqueue([], Peer, Local));
        Assert.True(queue.TryDequeue(out QueuedDatagram d));
        ArrayPool<byte>.Shared.Return(d.Buffer);
        Assert.True(queue.TryEnqueue([], Peer, Local));
    }

    [Fact]
    public void Byte_bound_refuses_past_the_limit_but_an_empty_queue_takes_one_datagram()
    {
        var queue = new UdpReceiveQueue(maxDatagrams: 100, maxBytes: 1000);
        Assert.True(queue.TryEnqueue(new byte[600], Peer, Local));
        Assert.True(queue.TryEnqueue(new byte[400], Peer, Local));   // exactly at the bound
        Assert.False(queue.TryEnqueue(new byte[1], Peer, Local));
        Assert.Equal(2, queue.Clear());
        Assert.Equal(0, queue.Count);
        Assert.Equal(0, queue.Bytes);

        Assert.True(queue.TryEnqueue(new byte[65507], Peer, Local)); // larger than the bound, but the queue was empty
        Assert.False(queue.TryEnqueue(new byte[1], Peer, Local));
    }

    [Fact]
    public void Rejects_nonsense_bounds()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new UdpReceiveQueue(0, 100));
        Assert.Throws<ArgumentOutOfRangeException>(() => new UdpReceiveQueue(1, -1));
    }
}
