using Protocols.Ip.Fragmentation;
using Protocols.Wire;
using static Protocols.Ip.Tests.Fragmentation.FragTestKit;

namespace Protocols.Ip.Tests.Fragmentation;

public class StormTests
{
    private const int MaxDatagrams = 64;
    private const long MaxBytes = 1024 * 1024;

    /// <summary>
    /// 100k seeded hostile fragments: valid pieces of colliding datagrams, bit-flipped and
    /// truncated copies, random offsets, lengths, flags and options. Nothing throws, the bounds
    /// hold after every fragment, every completed datagram is self-consistent, every fragment is
    /// counted, and reassembly still works afterwards.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    public void Hostile_fragment_storm_never_throws_and_stays_bounded(int seed)
    {
        (ReassemblyCounters counters, Dictionary<ReassemblyStatus, int> statuses) = RunStorm(seed, 100_000, ReassemblyLimitPolicy.EvictOldest);
        Assert.Equal(100_000, counters.FragmentsReceived);
        Console.WriteLine($"seed {seed}: {counters} {string.Join(", ", statuses)}");
        Assert.Equal(100_000, statuses.Values.Sum());
        Assert.True(counters.DatagramsReassembled > 0);
        Assert.True(counters.Overlaps > 0);
        Assert.True(counters.Malformed > 0);
        Assert.True(counters.TooLarge > 0);
        Assert.True(counters.Timeouts > 0);
        Assert.True(counters.LimitDatagrams + counters.LimitBytes > 0);
    }

    /// <summary>Random templates, option bytes, sizes, MTUs and raw datagram bytes: the fragmenter never throws, and whatever it writes is valid and fits.</summary>
    [Fact]
    public void Fragmenter_never_throws_on_random_input()
    {
        var random = new Random(5);
        byte[] buffer = new byte[70000];
        byte[] output = new byte[65535];
        var statuses = new Dictionary<FragmentationStatus, int>();
        for (int i = 0; i < 20_000; i++)
        {
            FragmentationStatus status;
            Ipv4Fragmenter f;
            int mtu = random.Next(4) == 0 ? random.Next(-10, 200) : random.Next(68, 70000);
            if (random.Next(2) == 0)
            {
                Ipv4Header h = Header((ushort)i);
                h.FragmentOffset = (ushort)random.Next(8192);
                h.MoreFragments = random.Next(2) == 0;
                h.DontFragment = random.Next(4) == 0;
                byte[] options = new byte[random.Next(0, 48)];
                random.NextBytes(options);
                int size = random.Next(3) == 0 ? random.Next(60000, 66000) : random.Next(0, 5000);
                status = Ipv4Fragmenter.TryCreate(h, options, buffer.AsSpan(0, size), mtu, out f);
            }
            else
            {
                int length = random.Next(0, 3000);
                random.NextBytes(buffer.AsSpan(0, length));
                if (length >= 20 && random.Next(2) == 0)
                {
                    buffer[0] = (byte)(0x40 | random.Next(5, 16));
                    buffer[2] = (byte)(length >> 8);
                    buffer[3] = (byte)length;
                }

                status = Ipv4Fragmenter.TryCreateFromDatagram(buffer.AsSpan(0, length), mtu, out f);
            }

            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            if (status != FragmentationStatus.Success)
            {
                continue;
            }

            while (f.TryWriteNext(output, out int written))
            {
                Assert.True(written <= f.Mtu);
                Assert.True(Ipv4Header.TryRead(output.AsSpan(0, written), out Ipv4Header.Reader r, out _));
                Assert.True(r.VerifyChecksum());
            }
        }

        foreach (FragmentationStatus s in Enum.GetValues<FragmentationStatus>())
        {
            Assert.True(statuses.GetValueOrDefault(s) > 0, $"{s} never happened");
        }
    }

    [Fact]
    public void Storm_is_deterministic_for_a_seed()
    {
        Assert.Equal(RunStorm(3, 20_000, ReassemblyLimitPolicy.EvictOldest).Counters, RunStorm(3, 20_000, ReassemblyLimitPolicy.EvictOldest).Counters);
        Assert.Equal(RunStorm(4, 20_000, ReassemblyLimitPolicy.RefuseNew).Counters, RunStorm(4, 20_000, ReassemblyLimitPolicy.RefuseNew).Counters);
    }

    private static (ReassemblyCounters Counters, Dictionary<ReassemblyStatus, int> Statuses) RunStorm(int seed, int count, ReassemblyLimitPolicy policy)
    {
        var random = new Random(seed);
        var options = new Ipv4ReassemblerOptions { MaxDatagrams = MaxDatagrams, MaxBytes = MaxBytes, MaxRunsPerDatagram = 256, LimitPolicy = policy };
        using var r = new Ipv4Reassembler(options);
        var statuses = new Dictionary<ReassemblyStatus, int>();
        DateTimeOffset now = T0;
        var pool = new List<byte[]>();
        byte[] buffer = new byte[70000];
        int offered = 0;

        while (offered < count)
        {
            int length = Make(random, pool, buffer);
            if (!Ipv4Header.TryRead(buffer.AsSpan(0, length), out Ipv4Header.Reader reader, out _))
            {
                continue; // the stack's input validation would drop it before reassembly
            }

            ReassemblyStatus status = r.Offer(reader, now, out ReassemblyResult result);
            offered++;
            statuses[status] = statuses.GetValueOrDefault(status) + 1;
            Assert.Equal(status, result.Status);
            if (status == ReassemblyStatus.Completed)
            {
                using ReassembledDatagram d = result.Datagram!;
                Assert.True(Ipv4Header.VerifyChecksum(d.Header));
                Assert.Equal(d.TotalLength, d.Fields.TotalLength);
                Assert.True(d.TotalLength <= ushort.MaxValue);
                Assert.False(d.Fields.MoreFragments);
            }
            else if (status == ReassemblyStatus.Dropped)
            {
                Assert.NotEqual(ReassemblyDropReason.None, result.Reason);
            }

            Assert.True(r.Count <= MaxDatagrams);
            Assert.True(r.BufferedBytes <= MaxBytes, $"{r.BufferedBytes}");

            if (offered % 100 == 0)
            {
                now += TimeSpan.FromSeconds(random.Next(0, 40));
                if (r.NextExpiry is { } due && due <= now)
                {
                    r.Expire(now, static (in ExpiredDatagram e) =>
                    {
                        Assert.Equal(e.FirstFragmentSeen, e.FirstFragmentHeader.Length >= 20);
                        Assert.True(!e.FirstFragmentSeen || e.FirstFragmentData.Length >= 8);
                    });
                }
            }
        }

        ReassemblyCounters counters = r.Counters;

        // Still answers: a clean datagram reassembles in any order.
        byte[] payload = Payload(random, 5000);
        List<byte[]> clean = Fragment(Header(0xfffe, protocol: IpProtocol.Sctp), default, payload, 1500);
        Shuffle(random, clean);
        r.Clear();
        Assert.Equal(Whole(Header(0xfffe, protocol: IpProtocol.Sctp), default, payload), OfferAll(r, clean, now));
        Assert.Equal(0, r.BufferedBytes);
        return (counters, statuses);
    }

    // Writes one hostile packet into `buffer` and returns its length.
    private static int Make(Random random, List<byte[]> pool, byte[] buffer)
    {
        int kind = random.Next(10);
        if (pool.Count < 16 || kind < 3)
        {
            // Fresh valid fragments of a datagram with a colliding key (few ids), some with options.
            ushort id = (ushort)random.Next(200);
            int size = random.Next(10) == 0 ? random.Next(20000, 65500) : random.Next(1, 6000);
            int mtu = random.Next(68, 4000);
            byte[] opts = random.Next(4) == 0 ? [0x83, 0x07, 0x04, 10, 0, 0, 1, 0x07, 0x03, 0x04, 0x00, 0x00] : [];
            List<byte[]> fragments = Fragment(Header(id), opts, Payload(random, size), mtu);
            if (pool.Count > 4000)
            {
                pool.RemoveRange(0, 2000);
            }

            pool.AddRange(fragments);
        }

        if (kind < 6)
        {
            // A pooled valid fragment (duplicates, other orders, overlaps across datagrams with the same key).
            byte[] f = pool[random.Next(pool.Count)];
            f.CopyTo(buffer, 0);
            return f.Length;
        }

        if (kind < 8)
        {
            // A mutated pooled fragment: bit flips anywhere, a truncation, or a rewritten offset/flags word.
            byte[] f = pool[random.Next(pool.Count)];
            f.CopyTo(buffer, 0);
            int length = f.Length;
            switch (random.Next(3))
            {
                case 0:
                    for (int i = random.Next(1, 4); i > 0; i--)
                    {
                        buffer[random.Next(length)] ^= (byte)(1 << random.Next(8));
                    }

                    break;
                case 1:
                    length = random.Next(20, length + 1);
                    buffer[2] = (byte)(length >> 8);
                    buffer[3] = (byte)length;
                    break;
                default:
                    buffer[6] = (byte)random.Next(256);
                    buffer[7] = (byte)random.Next(256);
                    break;
            }

            return length;
        }

        // Fully random fragment: random offset (often near the 65535 edge), length, MF, options.
        var h = Header((ushort)random.Next(200));
        h.FragmentOffset = (ushort)(random.Next(2) == 0 ? random.Next(8192) : random.Next(8000, 8192));
        h.MoreFragments = random.Next(2) == 0;
        int payloadLength = random.Next(3) == 0 ? random.Next(0, 16) : random.Next(0, 3000);
        byte[] options = new byte[random.Next(3) == 0 ? random.Next(0, 41) : 0];
        random.NextBytes(options);
        int headerLength = 20 + ((options.Length + 3) & ~3);
        if (headerLength + payloadLength > ushort.MaxValue)
        {
            payloadLength = ushort.MaxValue - headerLength;
        }

        byte[] data = new byte[payloadLength];
        random.NextBytes(data);
        return Ipv4Packet.Write(buffer, h, options, data);
    }
}
