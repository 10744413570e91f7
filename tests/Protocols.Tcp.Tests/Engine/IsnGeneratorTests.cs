using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Engine;

public class IsnGeneratorTests
{
    private static readonly byte[] Secret = [.. Enumerable.Range(0, 16).Select(i => (byte)(0xa0 + i))];
    private static readonly TcpFourTuple Tuple = TcpFourTupleTests.Sample;

    [Fact]
    public void Ticks_every_4_microseconds()
    {
        var isn = new IsnGenerator(Secret);
        const long t0 = 1_000_000_000_000; // an arbitrary stack clock reading (1e6 s)
        SeqNum first = isn.Next(Tuple, t0);
        Assert.Equal(first, isn.Next(Tuple, t0 + 1));
        Assert.Equal(first, isn.Next(Tuple, t0 + 3));
        Assert.Equal(first + 1, isn.Next(Tuple, t0 + 4));
        Assert.Equal(first + 1, isn.Next(Tuple, t0 + 7));
        Assert.Equal(first + 2, isn.Next(Tuple, t0 + 8));
        Assert.Equal(first + 250_000, isn.Next(Tuple, t0 + 1_000_000)); // 250,000 ticks a second
    }

    [Fact]
    public void Ticks_stay_4_microseconds_wide_across_zero()
    {
        var isn = new IsnGenerator(Secret);
        SeqNum atZero = isn.Next(Tuple, 0);
        Assert.Equal(atZero, isn.Next(Tuple, 3));
        Assert.Equal(atZero - 1, isn.Next(Tuple, -1));
        Assert.Equal(atZero - 1, isn.Next(Tuple, -4));
        Assert.Equal(atZero - 2, isn.Next(Tuple, -5));
    }

    [Fact]
    public void Increases_monotonically_over_time_for_one_tuple()
    {
        // RFC 9293 3.4.1 / RFC 6528 3: a later incarnation starts after an earlier one.
        var isn = new IsnGenerator(Secret);
        var random = new Random(1);
        long now = 5_000_000;
        SeqNum previous = isn.Next(Tuple, now);
        for (int i = 0; i < 10_000; i++)
        {
            long step = random.NextInt64(4, 60_000_000); // up to a minute between connections
            now += step;
            SeqNum next = isn.Next(Tuple, now);
            Assert.True(next > previous, $"{next} after {previous} at {now}");
            Assert.InRange(next - previous, (int)(step / 4) - 1, (int)(step / 4) + 1);
            previous = next;
        }

        // Many wraps of the 32-bit space later it is still ordered step by step.
        Assert.True(now > 4L * uint.MaxValue * 10, "the test covers several wraps of M");
    }

    [Fact]
    public void Differs_across_tuples()
    {
        // F is a keyed hash: nearby tuples get unrelated offsets, hence distinct ISNs at one instant.
        var isn = new IsnGenerator(Secret);
        var seen = new HashSet<SeqNum>();
        var server = Ipv4Address.Parse("10.0.0.2");
        for (int port = 1; port <= 20_000; port++)
        {
            seen.Add(isn.Next(new TcpFourTuple(server, 80, Ipv4Address.Parse("10.0.0.1"), (ushort)port), 42));
        }

        for (uint host = 1; host <= 1000; host++)
        {
            seen.Add(isn.Next(new TcpFourTuple(server, 80, Ipv4Address.FromUInt32(0x0a01_0000u + host), 40000), 42));
        }

        seen.Add(isn.Next(Tuple.Reversed, 42));
        seen.Add(isn.Next(Tuple with { LocalPort = 81 }, 42));
        seen.Add(isn.Next(Tuple with { LocalAddress = Ipv4Address.Parse("10.0.0.3") }, 42));

        // 21003 values in 2^32: a birthday collision would have probability about 5%; with this
        // fixed secret there is none (the assertion pins that, and fails if F degenerates).
        Assert.Equal(21_003, seen.Count);
    }

    [Fact]
    public void Offsets_look_uniform()
    {
        // The top bit of F over many tuples is set about half the time, and consecutive ports'
        // offsets are not a constant step apart (a degenerate F such as a plain sum would be).
        var isn = new IsnGenerator(Secret);
        int topBits = 0;
        var steps = new HashSet<uint>();
        uint previous = 0;
        for (int port = 0; port < 10_000; port++)
        {
            uint offset = isn.Offset(Tuple with { RemotePort = (ushort)port });
            topBits += (int)(offset >> 31);
            steps.Add(unchecked(offset - previous));
            previous = offset;
        }

        Assert.InRange(topBits, 4_700, 5_300);
        Assert.True(steps.Count > 9_900);
    }

    [Fact]
    public void Differs_across_secrets()
    {
        byte[] other = (byte[])Secret.Clone();
        other[15] ^= 1; // one bit
        var a = new IsnGenerator(Secret);
        var b = new IsnGenerator(other);
        int equal = 0;
        for (int port = 0; port < 1000; port++)
        {
            var tuple = Tuple with { RemotePort = (ushort)port };
            equal += a.Next(tuple, 1234) == b.Next(tuple, 1234) ? 1 : 0;
        }

        Assert.Equal(0, equal);
    }

    [Fact]
    public void Same_secret_same_isn()
    {
        Assert.Equal(new IsnGenerator(Secret).Next(Tuple, 99), new IsnGenerator(Secret).Next(Tuple, 99));
    }

    [Fact]
    public void Random_generators_differ()
    {
        // Two fresh secrets agree on four tuples with probability 2^-128.
        IsnGenerator a = IsnGenerator.CreateRandom(), b = IsnGenerator.CreateRandom();
        bool allEqual = true;
        for (ushort port = 1; port <= 4; port++)
        {
            allEqual &= a.Next(Tuple with { RemotePort = port }, 0) == b.Next(Tuple with { RemotePort = port }, 0);
        }

        Assert.False(allEqual);
    }

    [Fact]
    public void Rejects_a_secret_of_the_wrong_length()
    {
        Assert.Throws<ArgumentException>(() => new IsnGenerator(new byte[8]));
    }
}
