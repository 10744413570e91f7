namespace Protocols.Ip.Tests;

public class AllocationTests
{
    /// <summary>Walking valid options and reading a quote allocate nothing (the stack does this per packet).</summary>
    [Fact]
    public void Option_walk_and_quote_read_allocate_nothing()
    {
        byte[] rr = Frames.RecordRouteRequest.AsSpan(34, 40).ToArray();
        byte[] ts = Frames.TimestampReply.AsSpan(34, 36).ToArray();
        byte[] unknown = [0x01, 0x9e, 0x04, 0xab, 0xcd, 0x94, 0x04, 0x00, 0x00, 0x00];
        byte[] quote = Frames.PortUnreachable.AsSpan(42).ToArray();
        byte[][] regions = [rr, ts, unknown];
        int Walk()
        {
            int total = 0;
            foreach (byte[] options in regions)
            {
                var reader = new Ipv4OptionReader(options);
                while (reader.TryReadNext(out Ipv4Option o, out _))
                {
                    total += o.Length + (o.TryGetRoute(out Ipv4RouteOption r) ? r.RecordedCount : 0)
                        + (o.TryGetTimestamp(out Ipv4TimestampOption t) ? (int)t.GetEntry(0).Timestamp : 0);
                }
            }

            total += IcmpQuotedDatagram.TryRead(quote, out IcmpQuotedDatagram q, out _) ? q.Payload.Length : 0;
            return total;
        }

        Walk();
        long before = GC.GetAllocatedBytesForCurrentThread();
        int sum = 0;
        for (int i = 0; i < 100; i++)
        {
            sum += Walk();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.NotEqual(0, sum);
        Assert.Equal(0, allocated);
    }
}
