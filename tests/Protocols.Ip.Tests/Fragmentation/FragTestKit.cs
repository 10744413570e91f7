using Protocols.Ip.Fragmentation;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Fragmentation;

/// <summary>Builders shared by the fragmentation tests: datagrams, fragment lists, offering bytes.</summary>
internal static class FragTestKit
{
    public static readonly DateTimeOffset T0 = new(2026, 1, 1, 0, 0, 0, TimeSpan.Zero);

    public static Ipv4Header Header(ushort id, bool dontFragment = false, IpProtocol protocol = IpProtocol.Udp) => new()
    {
        Version = 4,
        Dscp = 10,
        Ecn = 1,
        Identification = id,
        DontFragment = dontFragment,
        Ttl = 61,
        Protocol = protocol,
        Source = Ipv4Address.Create(10, 0, 0, 1),
        Destination = Ipv4Address.Create(10, 0, 0, 2),
    };

    public static byte[] Payload(Random random, int length)
    {
        var payload = new byte[length];
        random.NextBytes(payload);
        return payload;
    }

    /// <summary>The datagram as it would be sent unfragmented (for comparing with a reassembly).</summary>
    public static byte[] Whole(Ipv4Header header, ReadOnlySpan<byte> options, ReadOnlySpan<byte> payload)
    {
        var bytes = new byte[Ipv4Header.FixedLength + ((options.Length + 3) & ~3) + payload.Length];
        Ipv4Packet.Write(bytes, header, options, payload);
        return bytes;
    }

    /// <summary>Fragments with the cursor API; asserts success.</summary>
    public static List<byte[]> Fragment(Ipv4Header header, ReadOnlySpan<byte> options, ReadOnlySpan<byte> payload, int mtu)
    {
        FragmentationStatus status = Ipv4Fragmenter.TryCreate(header, options, payload, mtu, out Ipv4Fragmenter f);
        Assert.Equal(FragmentationStatus.Success, status);
        return Drain(ref f);
    }

    public static List<byte[]> Drain(ref Ipv4Fragmenter f)
    {
        var list = new List<byte[]>();
        var buffer = new byte[f.Mtu];
        int expected = f.FragmentCount;
        while (f.TryWriteNext(buffer, out int written))
        {
            list.Add(buffer.AsSpan(0, written).ToArray());
        }

        Assert.Equal(expected, list.Count);
        return list;
    }

    public static ReassemblyStatus Offer(Ipv4Reassembler r, byte[] packet, DateTimeOffset now, out ReassemblyResult result)
    {
        Assert.True(Ipv4Header.TryRead(packet, out Ipv4Header.Reader reader, out WireError error), error.ToString());
        return r.Offer(reader, now, out result);
    }

    /// <summary>Offers packets in order; returns the single completed datagram as contiguous bytes (null if none).</summary>
    public static byte[]? OfferAll(Ipv4Reassembler r, IEnumerable<byte[]> packets, DateTimeOffset now)
    {
        byte[]? whole = null;
        foreach (byte[] p in packets)
        {
            if (Offer(r, p, now, out ReassemblyResult result) == ReassemblyStatus.Completed)
            {
                Assert.Null(whole);
                using ReassembledDatagram d = result.Datagram!;
                whole = new byte[d.TotalLength];
                d.CopyTo(whole);
            }
        }

        return whole;
    }

    /// <summary>A fragment built by hand: header fields, offset in bytes, MF, payload.</summary>
    public static byte[] Raw(ushort id, int offsetBytes, bool more, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> options = default)
    {
        Ipv4Header h = Header(id);
        h.FragmentOffset = (ushort)(offsetBytes / 8);
        h.MoreFragments = more;
        return Whole(h, options, payload);
    }

    public static IEnumerable<int[]> Permutations(int n)
    {
        int[] a = Enumerable.Range(0, n).ToArray();
        return Permute(a, 0);

        static IEnumerable<int[]> Permute(int[] a, int k)
        {
            if (k == a.Length)
            {
                yield return (int[])a.Clone();
                yield break;
            }

            for (int i = k; i < a.Length; i++)
            {
                (a[k], a[i]) = (a[i], a[k]);
                foreach (int[] p in Permute(a, k + 1))
                {
                    yield return p;
                }

                (a[k], a[i]) = (a[i], a[k]);
            }
        }
    }

    public static void Shuffle<T>(Random random, IList<T> list)
    {
        for (int i = list.Count - 1; i > 0; i--)
        {
            int j = random.Next(i + 1);
            (list[i], list[j]) = (list[j], list[i]);
        }
    }
}
