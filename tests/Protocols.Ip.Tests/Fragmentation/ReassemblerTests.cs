using Protocols.Ip.Fragmentation;
using Protocols.Wire;
using static Protocols.Ip.Tests.Fragmentation.FragTestKit;

namespace Protocols.Ip.Tests.Fragmentation;

public class ReassemblerTests
{
    [Fact]
    public void Every_order_of_up_to_5_fragments_reassembles()
    {
        var random = new Random(2026);
        int cases = 0;
        for (int round = 0; round < 40; round++)
        {
            int mtu = random.Next(68, 9001);
            int chunk = (mtu - 20) & ~7;
            int count = 1 + random.Next(5);
            int size = count == 1 ? random.Next(1, mtu - 19) : ((count - 1) * chunk) + random.Next(1, chunk + 1);
            byte[] payload = Payload(random, size);
            Ipv4Header h = Header((ushort)round);
            List<byte[]> fragments = Fragment(h, default, payload, mtu);
            Assert.Equal(count, fragments.Count);
            byte[] expected = Whole(h, default, payload);

            using var r = new Ipv4Reassembler();
            foreach (int[] order in Permutations(count))
            {
                Assert.Equal(expected, OfferAll(r, order.Select(i => fragments[i]), T0));
                Assert.Equal(0, r.Count);
                Assert.Equal(0, r.BufferedBytes);
                cases++;
            }
        }

        Assert.True(cases > 100);
    }

    [Fact]
    public void Random_sizes_mtus_and_shuffles_reassemble()
    {
        var random = new Random(7);
        using var r = new Ipv4Reassembler(new Ipv4ReassemblerOptions { MaxRunsPerDatagram = 8192 });
        for (int round = 0; round < 300; round++)
        {
            int mtu = random.Next(68, 9001);
            int size = random.Next(3) == 0 ? random.Next(60000, 65516) : random.Next(0, 20000);
            byte[] payload = Payload(random, size);
            Ipv4Header h = Header((ushort)round);
            List<byte[]> fragments = Fragment(h, default, payload, mtu);
            Shuffle(random, fragments);
            Assert.Equal(Whole(h, default, payload), OfferAll(r, fragments, T0));
        }

        ReassemblyCounters c = r.Counters;
        Assert.Equal(0, c.Failures);
        Assert.Equal(0, c.CurrentDatagrams);
        Assert.Equal(0, c.CurrentBytes);
    }

    [Fact]
    public void Interleaved_datagrams_are_kept_apart_by_their_key()
    {
        var random = new Random(3);
        byte[] p1 = Payload(random, 3000);
        byte[] p2 = Payload(random, 3000);
        Ipv4Header a = Header(1);
        Ipv4Header b = Header(1, protocol: IpProtocol.Tcp); // same id, other protocol
        List<byte[]> fa = Fragment(a, default, p1, 1000);
        List<byte[]> fb = Fragment(b, default, p2, 1000);
        var mixed = fa.Zip(fb, (x, y) => new[] { x, y }).SelectMany(p => p).ToList();
        using var r = new Ipv4Reassembler();
        var done = new List<byte[]>();
        foreach (byte[] p in mixed)
        {
            if (Offer(r, p, T0, out ReassemblyResult res) == ReassemblyStatus.Completed)
            {
                using ReassembledDatagram d = res.Datagram!;
                done.Add([.. d.Header, .. d.Payload]);
                Assert.Equal(d.Protocol == IpProtocol.Udp ? p1 : p2, d.Payload.ToArray());
            }
        }

        Assert.Equal(2, done.Count);
        Assert.Contains(Whole(a, default, p1), done);
        Assert.Contains(Whole(b, default, p2), done);
    }

    [Fact]
    public void Completed_datagram_exposes_fields_and_returns_its_buffer_once()
    {
        byte[] payload = Payload(new Random(9), 2000);
        Ipv4Header h = Header(99);
        List<byte[]> fragments = Fragment(h, default, payload, 1500);
        using var r = new Ipv4Reassembler();
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, fragments[1], T0, out ReassemblyResult first));
        Assert.Equal(ReassemblyStatus.Incomplete, first.Status);
        Assert.Equal(ReassemblyStatus.Completed, Offer(r, fragments[0], T0, out ReassemblyResult res));
        ReassembledDatagram d = res.Datagram!;
        Assert.Equal(h.Source, d.Source);
        Assert.Equal(h.Destination, d.Destination);
        Assert.Equal(IpProtocol.Udp, d.Protocol);
        Assert.Equal(99, d.Identification);
        Assert.Equal(61, d.Ttl);
        Assert.Equal(2020, d.Fields.TotalLength);
        Assert.False(d.Fields.MoreFragments);
        Assert.Equal(0, d.Fields.FragmentOffset);
        Assert.True(Ipv4Header.VerifyChecksum(d.Header));
        Assert.Equal(payload, d.PayloadMemory.ToArray());
        Assert.True(d.Options.IsEmpty);
        d.Dispose();
        d.Dispose();
        Assert.True(d.Payload.IsEmpty);
        Assert.True(d.Header.IsEmpty);
        Assert.Equal(1, r.Counters.DatagramsReassembled);
        Assert.Equal(2, r.Counters.FragmentsReceived);
    }

    [Fact]
    public void A_packet_that_is_not_a_fragment_comes_back_whole()
    {
        byte[] payload = Payload(new Random(1), 100);
        byte[] packet = Whole(Header(5), default, payload);
        using var r = new Ipv4Reassembler();
        Assert.Equal(ReassemblyStatus.Completed, Offer(r, packet, T0, out ReassemblyResult res));
        using ReassembledDatagram d = res.Datagram!;
        Assert.Equal(payload, d.Payload.ToArray());
        Assert.Equal(0, r.Count);
    }

    [Fact]
    public void Exact_duplicates_are_ignored_and_counted()
    {
        var random = new Random(11);
        byte[] payload = Payload(random, 6000);
        List<byte[]> fragments = Fragment(Header(4), default, payload, 1500);
        var withDuplicates = fragments.Concat(fragments.Take(fragments.Count - 1)).ToList();
        Shuffle(random, withDuplicates);

        // Move the one fragment that is not duplicated to the end, so every duplicate lands before completion.
        byte[] lastOne = fragments[^1];
        withDuplicates.Remove(lastOne);
        withDuplicates.Add(lastOne);
        using var r = new Ipv4Reassembler();
        Assert.Equal(Whole(Header(4), default, payload), OfferAll(r, withDuplicates, T0));
        Assert.Equal(fragments.Count - 1, r.Counters.Duplicates);
        Assert.Equal(0, r.Counters.Failures);
    }

    [Fact]
    public void Duplicate_after_completion_starts_a_new_datagram_that_times_out()
    {
        List<byte[]> fragments = Fragment(Header(4), default, new byte[3000], 1500);
        using var r = new Ipv4Reassembler();
        Assert.NotNull(OfferAll(r, fragments, T0));
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, fragments[1], T0, out _));
        Assert.Equal(1, r.Count);
        Assert.Equal(1, r.Expire(T0 + TimeSpan.FromSeconds(30), null));
        Assert.Equal(0, r.Count);
    }

    [Fact]
    public void Overlap_with_identical_bytes_is_accepted()
    {
        // Policy: overlapping bytes that agree are accepted (a retransmission through another
        // path MTU cuts the same datagram differently); only disagreement drops the datagram.
        var random = new Random(12);
        byte[] payload = Payload(random, 4000);
        Ipv4Header h = Header(8);
        List<byte[]> big = Fragment(h, default, payload, 1500);   // 0..1480, 1480..2960, 2960..4000
        List<byte[]> small = Fragment(h, default, payload, 576);  // 552-byte pieces
        // [0,1480) [1104,1656) [1480,2960) [2760,3312) [2960,4000): each overlaps its neighbour.
        var mixed = new List<byte[]> { big[0], small[2], big[1], small[5], big[2] };
        using var r = new Ipv4Reassembler();
        Assert.Equal(Whole(h, default, payload), OfferAll(r, mixed, T0));
        Assert.Equal(0, r.Counters.Failures);

        // Every order of a set of overlapping pieces.
        foreach (int[] order in Permutations(mixed.Count))
        {
            Assert.Equal(Whole(h, default, payload), OfferAll(r, order.Select(i => mixed[i]), T0));
        }

        Assert.Equal(0, r.Counters.Failures);
    }

    [Fact]
    public void Overlap_with_different_bytes_drops_the_whole_datagram()
    {
        byte[] payload = Payload(new Random(13), 64);
        byte[] a = Raw(20, 0, true, payload.AsSpan(0, 24));
        byte[] tampered = payload.AsSpan(16, 32).ToArray();
        tampered[5] ^= 0x40;
        byte[] b = Raw(20, 16, true, tampered);                 // overlaps a's 16..24 with a difference at 21
        byte[] good = Raw(20, 16, true, payload.AsSpan(16, 32));
        byte[] c = Raw(20, 32, false, payload.AsSpan(32));      // a and c alone leave the hole 24..32

        foreach (int[] order in Permutations(3))
        {
            using var r = new Ipv4Reassembler();
            byte[][] set = [a, b, c];
            var statuses = order.Select(i => Offer(r, set[i], T0, out ReassemblyResult res) == ReassemblyStatus.Dropped ? res.Reason : ReassemblyDropReason.None).ToList();
            Assert.Contains(ReassemblyDropReason.Overlap, statuses);
            Assert.Equal(1, r.Counters.Overlaps);
            Assert.Equal(0, r.Counters.DatagramsReassembled);
        }

        // After the drop, the good fragments alone start over and complete.
        using var again = new Ipv4Reassembler();
        Offer(again, a, T0, out _);
        Assert.Equal(ReassemblyStatus.Dropped, Offer(again, b, T0, out ReassemblyResult dropped));
        Assert.Equal(ReassemblyDropReason.Overlap, dropped.Reason);
        Assert.Equal(0, again.Count);
        Assert.Equal(0, again.BufferedBytes);
        Assert.Null(OfferAll(again, [c, a], T0));
        Assert.Equal(Whole(Header(20), default, payload), OfferAll(again, [good], T0));
    }

    [Fact]
    public void Conflicting_ends_drop_the_datagram()
    {
        byte[] data = new byte[16];
        using var r = new Ipv4Reassembler();
        Offer(r, Raw(30, 16, false, data), T0, out _);                       // end = 32
        Assert.Equal(ReassemblyStatus.Dropped, Offer(r, Raw(30, 32, false, data), T0, out ReassemblyResult res)); // end = 48
        Assert.Equal(ReassemblyDropReason.Overlap, res.Reason);

        Offer(r, Raw(31, 16, false, data), T0, out _);                       // end = 32
        Assert.Equal(ReassemblyStatus.Dropped, Offer(r, Raw(31, 24, true, data), T0, out res)); // data past the end
        Assert.Equal(ReassemblyDropReason.Overlap, res.Reason);

        Offer(r, Raw(32, 64, true, data), T0, out _);                        // data up to 80
        Assert.Equal(ReassemblyStatus.Dropped, Offer(r, Raw(32, 16, false, data), T0, out res)); // end 32 < 80
        Assert.Equal(ReassemblyDropReason.Overlap, res.Reason);
        Assert.Equal(3, r.Counters.Overlaps);
        Assert.Equal(0, r.Count);
    }

    [Fact]
    public void Zero_length_last_fragment_completes_in_every_order()
    {
        byte[] payload = Payload(new Random(14), 24);
        byte[][] set = [Raw(40, 0, true, payload.AsSpan(0, 16)), Raw(40, 16, true, payload.AsSpan(16)), Raw(40, 24, false, default)];
        Ipv4Header expectedHeader = Header(40);
        foreach (int[] order in Permutations(3))
        {
            using var r = new Ipv4Reassembler();
            Assert.Equal(Whole(expectedHeader, default, payload), OfferAll(r, order.Select(i => set[i]), T0));
        }

        // Zero-length with MF set carries nothing: malformed, only that fragment is dropped.
        using var m = new Ipv4Reassembler();
        Offer(m, set[0], T0, out _);
        Assert.Equal(ReassemblyStatus.Dropped, Offer(m, Raw(40, 16, true, default), T0, out ReassemblyResult res));
        Assert.Equal(ReassemblyDropReason.Malformed, res.Reason);
        Assert.Equal(1, m.Count);
    }

    [Fact]
    public void MF_with_a_length_not_multiple_of_8_is_malformed()
    {
        using var r = new Ipv4Reassembler();
        Assert.Equal(ReassemblyStatus.Dropped, Offer(r, Raw(50, 0, true, new byte[15]), T0, out ReassemblyResult res));
        Assert.Equal(ReassemblyDropReason.Malformed, res.Reason);
        Assert.Equal(0, r.Count);

        Assert.Equal(ReassemblyStatus.Dropped, r.Offer(default, T0, out res));
        Assert.Equal(ReassemblyDropReason.Malformed, res.Reason);
        Assert.Equal(2, r.Counters.Malformed);
    }

    [Fact]
    public void Datagrams_over_65535_bytes_are_rejected()
    {
        using var r = new Ipv4Reassembler();

        // Offset 8189*8 = 65512 plus 24 bytes = 65536 > 65535 - 20.
        Assert.Equal(ReassemblyStatus.Dropped, Offer(r, Raw(60, 65512, false, new byte[24]), T0, out ReassemblyResult res));
        Assert.Equal(ReassemblyDropReason.TooLarge, res.Reason);
        Assert.Equal(0, r.Count);

        // Exactly 65535 with a 20-byte header is fine...
        byte[] payload = Payload(new Random(15), 65515);
        List<byte[]> fragments = Fragment(Header(61), default, payload, 9000);
        Assert.Equal(Whole(Header(61), default, payload), OfferAll(r, fragments, T0));

        // ...but not once the first fragment brings options: the last piece arrives first
        // (fits with a 20-byte header), then the 24-byte-header first fragment pushes it over.
        byte[] last = Raw(62, 65512, false, new byte[3]);
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, last, T0, out _));
        Assert.Equal(ReassemblyStatus.Dropped, Offer(r, Raw(62, 0, true, new byte[8], [1, 1, 1, 1]), T0, out res));
        Assert.Equal(ReassemblyDropReason.TooLarge, res.Reason);
        Assert.Equal(0, r.Count);
        Assert.Equal(2, r.Counters.TooLarge);
    }

    [Fact]
    public void Missing_fragment_times_out_and_reports_whether_the_first_was_seen()
    {
        byte[] payload = Payload(new Random(16), 4000);
        List<byte[]> fragments = Fragment(Header(70), default, payload, 1500);
        List<byte[]> other = Fragment(Header(71), default, payload, 1500);
        var options = new Ipv4ReassemblerOptions { Timeout = TimeSpan.FromSeconds(15) };
        using var r = new Ipv4Reassembler(options);
        Assert.Null(r.NextExpiry);

        Offer(r, fragments[0], T0, out _);                                   // first seen, last missing
        Offer(r, fragments[1], T0 + TimeSpan.FromSeconds(10), out _);
        Offer(r, other[2], T0 + TimeSpan.FromSeconds(5), out _);            // first never arrives
        Assert.Equal(T0 + TimeSpan.FromSeconds(15), r.NextExpiry);

        var seen = new List<(ushort Id, bool First, byte[] Header, byte[] Data)>();
        void Handler(in ExpiredDatagram e) => seen.Add((e.Identification, e.FirstFragmentSeen, e.FirstFragmentHeader.ToArray(), e.FirstFragmentData.ToArray()));

        Assert.Equal(0, r.Expire(T0 + TimeSpan.FromSeconds(14.999), Handler));
        Assert.Equal(1, r.Expire(T0 + TimeSpan.FromSeconds(15), Handler));
        Assert.Equal(T0 + TimeSpan.FromSeconds(20), r.NextExpiry);
        Assert.Equal(1, r.Expire(T0 + TimeSpan.FromSeconds(60), Handler));
        Assert.Null(r.NextExpiry);

        Assert.Equal(70, seen[0].Id);
        Assert.True(seen[0].First);
        Assert.Equal(fragments[0].AsSpan(0, 20).ToArray(), seen[0].Header); // as received: MF set, its own length
        Assert.Equal(payload.AsSpan(0, 8).ToArray(), seen[0].Data[..8]);
        Assert.Equal(payload.AsSpan(0, 1480).ToArray(), seen[0].Data); // the first fragment's payload only

        Assert.Equal(71, seen[1].Id);
        Assert.False(seen[1].First);
        Assert.Empty(seen[1].Header);
        Assert.Empty(seen[1].Data);

        ReassemblyCounters c = r.Counters;
        Assert.Equal(2, c.Timeouts);
        Assert.Equal(0, c.CurrentDatagrams);
        Assert.Equal(0, c.CurrentBytes);
    }

    [Fact]
    public void Timer_is_not_extended_by_later_fragments_and_survives_a_clock_step_back()
    {
        List<byte[]> a = Fragment(Header(80), default, new byte[5000], 1500);
        List<byte[]> b = Fragment(Header(81), default, new byte[5000], 1500);
        using var r = new Ipv4Reassembler();
        Offer(r, a[0], T0, out _);
        Offer(r, a[1], T0 + TimeSpan.FromSeconds(29), out _);
        Offer(r, b[0], T0 - TimeSpan.FromSeconds(100), out _); // clock went back: b still expires after a
        Assert.Equal(T0 + TimeSpan.FromSeconds(30), r.NextExpiry);
        Assert.Equal(2, r.Expire(T0 + TimeSpan.FromSeconds(30), null));

        // Times at the end of the calendar do not overflow.
        Offer(r, a[0], DateTimeOffset.MaxValue - TimeSpan.FromSeconds(1), out _);
        Assert.Equal(DateTimeOffset.MaxValue, r.NextExpiry);
        Assert.Equal(1, r.Expire(DateTimeOffset.MaxValue, null));
    }

    [Fact]
    public void Datagram_limit_evicts_the_oldest_by_default()
    {
        using var r = new Ipv4Reassembler(new Ipv4ReassemblerOptions { MaxDatagrams = 4 });
        var sets = Enumerable.Range(0, 6).Select(i => Fragment(Header((ushort)i), default, new byte[3000], 1500)).ToList();
        for (int i = 0; i < 6; i++)
        {
            Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, sets[i][0], T0 + TimeSpan.FromSeconds(i), out _));
            Assert.True(r.Count <= 4);
        }

        Assert.Equal(2, r.Counters.LimitDatagrams);
        Assert.Equal(T0 + TimeSpan.FromSeconds(32), r.NextExpiry);

        // Datagram 0 was evicted: its remaining fragments do not complete it; datagram 5 completes.
        Assert.Null(OfferAll(r, sets[0].Skip(1), T0));
        Assert.NotNull(OfferAll(r, sets[5].Skip(1), T0));
    }

    [Fact]
    public void Datagram_limit_can_refuse_the_newcomer()
    {
        using var r = new Ipv4Reassembler(new Ipv4ReassemblerOptions { MaxDatagrams = 2, LimitPolicy = ReassemblyLimitPolicy.RefuseNew });
        var sets = Enumerable.Range(0, 3).Select(i => Fragment(Header((ushort)i), default, new byte[3000], 1500)).ToList();
        Offer(r, sets[0][0], T0, out _);
        Offer(r, sets[1][0], T0, out _);
        Assert.Equal(ReassemblyStatus.Dropped, Offer(r, sets[2][0], T0, out ReassemblyResult res));
        Assert.Equal(ReassemblyDropReason.LimitDatagrams, res.Reason);
        Assert.NotNull(OfferAll(r, sets[0].Skip(1), T0));
        Assert.Equal(1, r.Counters.LimitDatagrams);
    }

    [Fact]
    public void Byte_limit_evicts_the_oldest_and_is_never_exceeded()
    {
        const long limit = 64 * 1024;
        using var r = new Ipv4Reassembler(new Ipv4ReassemblerOptions { MaxBytes = limit });
        var random = new Random(17);
        int completed = 0;
        for (int i = 0; i < 200; i++)
        {
            List<byte[]> f = Fragment(Header((ushort)i), default, Payload(random, random.Next(2000, 30000)), 1500);
            f.RemoveAt(random.Next(f.Count)); // always one missing: nothing completes, memory piles up
            foreach (byte[] p in f)
            {
                if (Offer(r, p, T0, out ReassemblyResult res) == ReassemblyStatus.Completed)
                {
                    completed++;
                    res.Datagram!.Dispose();
                }

                Assert.True(r.BufferedBytes <= limit, $"{r.BufferedBytes} > {limit}");
            }
        }

        Assert.Equal(0, completed);
        Assert.True(r.Counters.LimitBytes > 100);
        Assert.Equal(r.BufferedBytes, r.Counters.CurrentBytes);
    }

    [Fact]
    public void Byte_limit_refusing_drops_the_growing_datagram()
    {
        using var r = new Ipv4Reassembler(new Ipv4ReassemblerOptions { MaxBytes = 8192, LimitPolicy = ReassemblyLimitPolicy.RefuseNew });
        List<byte[]> small = Fragment(Header(1), default, new byte[3000], 1500);
        List<byte[]> large = Fragment(Header(2), default, new byte[20000], 1500);
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, small[0], T0, out _));
        ReassemblyStatus s = ReassemblyStatus.Incomplete;
        ReassemblyResult res = default;
        for (int i = 0; i < large.Count && s != ReassemblyStatus.Dropped; i++)
        {
            s = Offer(r, large[i], T0, out res);
        }

        Assert.Equal(ReassemblyStatus.Dropped, s);
        Assert.Equal(ReassemblyDropReason.LimitBytes, res.Reason);
        Assert.Equal(1, r.Count);
        Assert.NotNull(OfferAll(r, small.Skip(1), T0)); // the one in progress was kept
    }

    [Fact]
    public void Too_many_runs_drop_the_datagram()
    {
        using var r = new Ipv4Reassembler(new Ipv4ReassemblerOptions { MaxRunsPerDatagram = 4 });
        byte[] eight = new byte[8];
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, Raw(90, i * 16, true, eight), T0, out _));
        }

        // Adjacent pieces merge runs and are fine; a fifth separate run is not.
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, Raw(90, 8, true, eight), T0, out _));
        Assert.Equal(ReassemblyStatus.Incomplete, Offer(r, Raw(90, 200, true, eight), T0, out _));
        Assert.Equal(ReassemblyStatus.Dropped, Offer(r, Raw(90, 300, true, eight), T0, out ReassemblyResult res));
        Assert.Equal(ReassemblyDropReason.TooManyFragments, res.Reason);
        Assert.Equal(0, r.Count);
    }

    [Fact]
    public void Reassembly_keeps_the_first_fragments_header_and_options()
    {
        byte[] options = [0x83, 0x07, 0x04, 192, 0, 2, 1, 0x00]; // LSRR (copied) + EOL
        byte[] payload = Payload(new Random(18), 300);
        Ipv4Header h = Header(95);
        List<byte[]> fragments = Fragment(h, options, payload, 128);

        // Later fragments carry a different TTL: the first fragment's wins.
        fragments[2][8] = 3;
        Ipv4Header.FillChecksum(fragments[2]);
        fragments.Reverse();
        using var r = new Ipv4Reassembler();
        Assert.Equal(Whole(h, options, payload), OfferAll(r, fragments, T0));
    }

    [Fact]
    public void A_lone_fragment_far_into_the_datagram_costs_its_own_size()
    {
        using var r = new Ipv4Reassembler();
        Offer(r, Raw(1, 65000, true, new byte[8]), T0, out _);
        Offer(r, Raw(2, 32000, false, new byte[100]), T0, out _);
        Assert.Equal(2, r.Count);
        Assert.True(r.BufferedBytes <= 16 + 128, $"{r.BufferedBytes}");
    }

    [Theory]
    [InlineData(68)]
    [InlineData(1500)]
    public void Largest_datagram_reassembles_in_order_and_in_reverse(int mtu)
    {
        byte[] payload = Payload(new Random(mtu), 65515);
        List<byte[]> fragments = Fragment(Header(3), default, payload, mtu);
        using var r = new Ipv4Reassembler(new Ipv4ReassemblerOptions { MaxBytes = 128 * 1024 });
        Assert.Equal(Whole(Header(3), default, payload), OfferAll(r, fragments, T0));
        fragments.Reverse();
        Assert.Equal(Whole(Header(3), default, payload), OfferAll(r, fragments, T0));
        Assert.Equal(0, r.Counters.Failures);
    }

    [Fact]
    public void Steady_state_allocates_only_the_completed_datagram_object()
    {
        byte[] payload = Payload(new Random(19), 4000);
        List<byte[]> fragments = Fragment(Header(5), default, payload, 1500);
        fragments.Reverse();
        using var r = new Ipv4Reassembler();
        long Run(int n)
        {
            long sum = 0;
            for (int i = 0; i < n; i++)
            {
                foreach (byte[] f in fragments)
                {
                    Ipv4Header.TryRead(f, out Ipv4Header.Reader reader, out _);
                    if (r.Offer(reader, T0, out ReassemblyResult res) == ReassemblyStatus.Completed)
                    {
                        sum += res.Datagram!.Payload.Length;
                        res.Datagram.Dispose();
                    }
                }
            }

            return sum;
        }

        Run(20);
        long before = GC.GetAllocatedBytesForCurrentThread();
        long bytes = Run(100);
        long perDatagram = (GC.GetAllocatedBytesForCurrentThread() - before) / 100;
        Assert.Equal(100 * 4000, bytes);
        Console.WriteLine($"reassembly: {perDatagram} bytes allocated per datagram");
        Assert.True(perDatagram <= 256, $"{perDatagram} bytes per datagram");
    }

    [Fact]
    public void Dispose_returns_everything()
    {
        var r = new Ipv4Reassembler();
        Offer(r, Raw(1, 0, true, new byte[64]), T0, out _);
        Offer(r, Raw(2, 64, true, new byte[64]), T0, out _);
        Assert.True(r.BufferedBytes > 0);
        r.Dispose();
        Assert.Equal(0, r.Count);
        Assert.Equal(0, r.BufferedBytes);
        Assert.Null(r.NextExpiry);
    }
}
