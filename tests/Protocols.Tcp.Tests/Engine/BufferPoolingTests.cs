using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine;

public class BufferPoolingTests
{
    private const int Connections = 1000;
    private const int BytesPerDirection = 64 * 1024; // an HTTP-sized response: rings grow 4 K .. 64 K

    // One short connection's buffers: fill both rings to 64 KiB, drain them, release them.
    // Returns whether everything went through (asserting inside the measured loop would allocate).
    private static bool ShortConnection(byte[] data, byte[] sink)
    {
        bool ok = true;
        var send = new SendBuffer(new SeqNum(1000));
        for (int offset = 0; offset < BytesPerDirection; offset += 16 * 1024)
        {
            ok &= send.Write(data.AsSpan(offset, 16 * 1024)) == 16 * 1024;
        }

        send.MarkSent(new SeqNum(1000) + BytesPerDirection);
        ok &= send.Acknowledge(new SeqNum(1000) + BytesPerDirection, out _);
        ok &= send.AllocatedBytes >= BytesPerDirection;
        send.Release();
        ok &= send.AllocatedBytes == 0;

        var receive = new ReceiveBuffer(new SeqNum(7000));
        for (int offset = 0; offset < BytesPerDirection; offset += 1460)
        {
            int length = Math.Min(1460, BytesPerDirection - offset);
            receive.Receive(new SeqNum(7000) + offset, data.AsSpan(offset, length), fin: false);
        }

        ok &= receive.AllocatedBytes >= BytesPerDirection;
        ok &= receive.Read(sink) == BytesPerDirection && sink.AsSpan().SequenceEqual(data);
        ok &= receive.Release();
        return ok & receive.AllocatedBytes == 0;
    }

    [Fact]
    public void Short_connections_rent_their_rings_instead_of_allocating_them()
    {
        byte[] data = new byte[BytesPerDirection];
        new Random(1).NextBytes(data);
        byte[] sink = new byte[BytesPerDirection];
        Assert.True(ShortConnection(data, sink)); // also warms up the pool and the JIT

        bool ok = true;
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Connections; i++)
        {
            ok &= ShortConnection(data, sink);
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(ok);
        // Fresh arrays cost 2 * (4 + 8 + 16 + 32 + 64) KiB = 248 KiB per connection (about 254 MB
        // here); pooled rings leave only the two buffer objects, a few hundred bytes each.
        Assert.True(allocated < Connections * 1024L, $"{Connections} connections allocated {allocated} bytes ({allocated / Connections} per connection)");
    }
}
