using Protocols.Ip.Fragmentation;
using Protocols.Ip.Tests.Ipv6;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Fragmentation;

/// <summary>IPv6 fragmentation (RFC 8200 4.5) and reassembly (RFC 8200 4.5, RFC 5722): round trips, overlaps, duplicates, timeouts, limits.</summary>
public class Ipv6FragmentationTests
{
    private static readonly DateTimeOffset T0 = new(2025, 1, 1, 0, 0, 0, TimeSpan.Zero);
    private static readonly Ipv6Address Src = Ipv6Address.Parse("2001:db8::1");
    private static readonly Ipv6Address Dst = Ipv6Address.Parse("2001:db8::2");

    private static Ipv6Header Template(IpProtocol next = IpProtocol.Udp) =>
        new() { NextHeader = next, HopLimit = 64, Source = Src, Destination = Dst, FlowLabel = 0xabcde };

    private static List<byte[]> Fragment(byte[] payload, int mtu, uint id, byte[]? unfragmentable = null, IpProtocol next = IpProtocol.Udp)
    {
        Assert.Equal(FragmentationStatus.Success, Ipv6Fragmenter.TryCreate(Template(next), unfragmentable ?? [], payload, mtu, id, out Ipv6Fragmenter f));
        var packets = new List<byte[]>();
        var buffer = new byte[70_000];
        while (f.TryWriteNext(buffer, out int n))
        {
            Assert.True(n <= mtu, $"fragment of {n} bytes at MTU {mtu}");
            packets.Add(buffer[..n]);
        }

        Assert.Equal(packets.Count, f.FragmentCount);
        return packets;
    }

    private static ReassemblyStatus Offer(Ipv6Reassembler r, byte[] packet, DateTimeOffset now, out ReassembledPacket? result, out ReassemblyDropReason reason)
    {
        Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(packet);
        Assert.Equal(Ipv6ChainStatus.Fragment, chain.Status);
        return r.Offer(packet, chain, now, out result, out reason);
    }

    [Fact]
    public void A_packet_that_fits_is_sent_whole_without_a_fragment_header()
    {
        List<byte[]> packets = Fragment(new byte[1000], 1280, 1);
        byte[] only = Assert.Single(packets);
        Assert.Equal(1040, only.Length);
        Assert.Equal(IpProtocol.Udp, (IpProtocol)only[6]);
    }

    [Theory]
    [InlineData(1280, 3000)]
    [InlineData(1500, 65535 - 8)]
    [InlineData(1281, 1234)]
    [InlineData(9000, 20000)]
    public void Fragments_are_multiples_of_8_and_reassemble_in_any_order(int mtu, int size)
    {
        var rng = new Random(mtu + size);
        byte[] payload = new byte[size];
        rng.NextBytes(payload);
        byte[] unfragmentable = [(byte)IpProtocol.Udp, 0, 5, 2, 0, 0, 1, 0]; // Hop-by-Hop with Router Alert, naming the upper layer
        List<byte[]> packets = Fragment(payload, mtu, 0x1234, unfragmentable, IpProtocol.HopByHop);
        Assert.True(packets.Count > 1);
        for (int i = 0; i < packets.Count; i++)
        {
            Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(packets[i]);
            Assert.Equal(Ipv6ChainStatus.Fragment, chain.Status);
            Assert.Equal(i < packets.Count - 1, chain.MoreFragments);
            Assert.Equal(0x1234u, chain.Identification);
            Assert.Equal(IpProtocol.HopByHop, (IpProtocol)packets[i][6]);
            if (chain.MoreFragments)
            {
                Assert.Equal(0, (packets[i].Length - chain.PayloadOffset) % 8);
            }
        }

        // Shuffled, with the first one offered repeated right after it (an exact duplicate).
        var order = packets.OrderBy(_ => rng.Next()).ToList();
        order.Insert(1, order[0]);
        using var r = new Ipv6Reassembler();
        ReassembledPacket? done = null;
        foreach (byte[] p in order)
        {
            ReassemblyStatus status = Offer(r, p, T0, out ReassembledPacket? result, out ReassemblyDropReason reason);
            Assert.NotEqual(ReassemblyStatus.Dropped, status);
            if (status == ReassemblyStatus.Completed)
            {
                Assert.Null(done);
                done = result;
            }
        }

        Assert.NotNull(done);
        using (done)
        {
            var whole = new byte[done.Length];
            done.CopyTo(whole);
            Assert.True(Ipv6Header.TryRead(whole, out Ipv6Header.Reader ip, out _));
            Assert.Equal(whole.Length - 40, ip.PayloadLength);
            Assert.Equal(IpProtocol.HopByHop, ip.NextHeader);
            Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(whole);
            Assert.Equal(Ipv6ChainStatus.UpperLayer, chain.Status);
            Assert.Equal(IpProtocol.Udp, chain.NextHeader);
            Assert.Equal(0, chain.RouterAlert);
            Assert.Equal(payload, whole[chain.PayloadOffset..]);
        }

        Assert.Equal(0, r.Count);
        Assert.Equal(0, r.BufferedBytes);
        Assert.Equal(1, r.Counters.Duplicates);
    }

    [Fact]
    public void Any_overlap_abandons_the_packet_even_with_identical_bytes()
    {
        // RFC 5722: fragments covering [0, 1232) and then [8, 16) of the same packet.
        byte[] payload = new byte[3000];
        List<byte[]> packets = Fragment(payload, 1280, 7);
        using var r = new Ipv6Reassembler();
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, packets[0], T0, out _, out _));
        byte[] overlapping = Ipv6Packets.Packet(IpProtocol.Ipv6Fragment, Ipv6Packets.Fragment(IpProtocol.Udp, 1, true, 7), new byte[8], Dst);
        Assert.Equal(ReassemblyStatus.Dropped, Offer(r, overlapping, T0, out _, out ReassemblyDropReason reason));
        Assert.Equal(ReassemblyDropReason.Overlap, reason);
        Assert.Equal(0, r.Count);

        // The rest of the packet then starts a new reassembly that cannot complete without its first fragment.
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, packets[1], T0, out _, out _));
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, packets[2], T0, out _, out _));
        Assert.Equal(1, r.Counters.Overlaps);
    }

    [Fact]
    public void Conflicting_ends_and_data_past_the_end_abandon_the_packet()
    {
        using var r = new Ipv6Reassembler();
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, Ipv6Packets.Packet(IpProtocol.Ipv6Fragment, Ipv6Packets.Fragment(IpProtocol.Udp, 2, false, 9), new byte[8], Dst), T0, out _, out _));
        Assert.Equal(ReassemblyStatus.Dropped, Offer(r, Ipv6Packets.Packet(IpProtocol.Ipv6Fragment, Ipv6Packets.Fragment(IpProtocol.Udp, 3, true, 9), new byte[8], Dst), T0, out _, out ReassemblyDropReason reason));
        Assert.Equal(ReassemblyDropReason.Overlap, reason);
    }

    [Fact]
    public void Empty_fragments_with_more_to_come_are_refused()
    {
        using var r = new Ipv6Reassembler();
        Assert.Equal(ReassemblyStatus.Dropped, Offer(r, Ipv6Packets.Packet(IpProtocol.Ipv6Fragment, Ipv6Packets.Fragment(IpProtocol.Udp, 4, true, 9), [], Dst), T0, out _, out ReassemblyDropReason reason));
        Assert.Equal(ReassemblyDropReason.Malformed, reason);
    }

    [Fact]
    public void Timeout_reports_the_first_fragment_only_when_it_arrived()
    {
        byte[] payload = new byte[3000];
        new Random(3).NextBytes(payload);
        List<byte[]> a = Fragment(payload, 1280, 100);
        List<byte[]> b = Fragment(payload, 1280, 101);
        using var r = new Ipv6Reassembler();
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, a[0], T0, out _, out _));
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, b[1], T0.AddSeconds(1), out _, out _));
        Assert.Equal(T0.AddSeconds(60), r.NextExpiry);
        var seen = new List<(uint Id, bool First, int Headers, int Data)>();
        Assert.Equal(0, r.Expire(T0.AddSeconds(59), null));
        Assert.Equal(2, r.Expire(T0.AddSeconds(61), (in ExpiredPacket e) => seen.Add((e.Identification, e.FirstFragmentSeen, e.FirstFragmentHeaders.Length, e.FirstFragmentData.Length))));
        Assert.Equal([(100u, true, 48, 1232), (101u, false, 0, 0)], seen);
        Assert.Equal(2, r.Counters.Timeouts);
        Assert.Equal(0, r.BufferedBytes);
    }

    [Fact]
    public void Limits_evict_the_oldest_and_bound_the_bytes()
    {
        using var r = new Ipv6Reassembler(new Ipv6ReassemblerOptions { MaxDatagrams = 4, MaxBytes = 64 * 1024 });
        for (uint id = 0; id < 50; id++)
        {
            Assert.NotEqual(ReassemblyStatus.Completed, Offer(r, Fragment(new byte[20000], 1280, id)[0], T0, out _, out _));
            Assert.InRange(r.Count, 1, 4);
            Assert.InRange(r.BufferedBytes, 0, 64 * 1024);
        }

        Assert.True(r.Counters.LimitDatagrams > 0);
    }

    [Fact]
    public void A_tiny_and_overlapping_fragment_storm_stays_bounded_and_never_throws()
    {
        var rng = new Random(5722);
        using var r = new Ipv6Reassembler(new Ipv6ReassemblerOptions { MaxDatagrams = 16, MaxBytes = 256 * 1024, MaxRunsPerDatagram = 64 });
        DateTimeOffset now = T0;
        int completed = 0;
        for (int i = 0; i < 50_000; i++)
        {
            uint id = (uint)rng.Next(8);
            ushort offset = (ushort)rng.Next(0, 1024);
            bool more = rng.Next(4) != 0;
            int length = more ? 8 * rng.Next(1, 4) : rng.Next(0, 40);
            byte[] packet = Ipv6Packets.Packet(IpProtocol.Ipv6Fragment, Ipv6Packets.Fragment(IpProtocol.Udp, offset, more, id), new byte[length], Dst);
            Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(packet);
            if (chain.Status != Ipv6ChainStatus.Fragment)
            {
                continue;
            }

            if (r.Offer(packet, chain, now, out ReassembledPacket? done, out _) == ReassemblyStatus.Completed)
            {
                completed++;
                done!.Dispose();
            }

            Assert.InRange(r.Count, 0, 16);
            Assert.InRange(r.BufferedBytes, 0, 256 * 1024);
            now = now.AddMilliseconds(10);
            r.Expire(now, null);
        }

        Assert.True(r.Counters.Overlaps > 0, r.Counters.ToString());
        int left = r.Count;
        Assert.Equal(left, r.Expire(now.AddSeconds(61), null));
        Assert.Equal(0, r.BufferedBytes);
    }

    [Fact]
    public void The_fragmenter_refuses_what_it_cannot_send()
    {
        Assert.Equal(FragmentationStatus.MtuTooSmall, Ipv6Fragmenter.TryCreate(Template(), [], new byte[2000], 1279, 1, out _));
        Assert.Equal(FragmentationStatus.DatagramTooLarge, Ipv6Fragmenter.TryCreate(Template(), [], new byte[65536], 1500, 1, out _));
        Assert.Equal(FragmentationStatus.Malformed, Ipv6Fragmenter.TryCreate(Template(IpProtocol.HopByHop), [17, 1, 0, 0, 0, 0, 0, 0], new byte[2000], 1500, 1, out _));
        byte[] payload = new byte[5000];
        Span<byte> buffer = stackalloc byte[1280];
        int count = 0;
        long allocated = 0;
        for (int round = 0; round < 2; round++)
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            FragmentationStatus status = Ipv6Fragmenter.TryCreate(Template(), [], payload, 1280, 1, out Ipv6Fragmenter f);
            count = status == FragmentationStatus.Success ? 0 : -100;
            while (f.TryWriteNext(buffer, out _))
            {
                count++;
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }

        Assert.Equal(5, count);
        Assert.Equal(0, allocated);
    }
}
