using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.InteropServices;
using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip.Simulation;

/// <summary>
/// In-process links between stacks, with seeded impairments: every direction has its own
/// <see cref="Random"/> derived from the network's seed and its creation order, so the same seed
/// and the same sequence of calls give the same deliveries, bit for bit.
/// </summary>
/// <example>
/// <code>
/// var net = new MemoryNetwork(seed: 42, clock);
/// var (a, b) = net.CreateLink(new LinkOptions { Loss = 0.1, Delay = TimeSpan.FromMilliseconds(5) });
/// </code>
/// </example>
public sealed class MemoryNetwork
{
    // Copy-on-create, so the harness reads it every step without a lock or an allocation.
    private volatile LinkDirection[] _directions = [];
    private readonly Lock _lock = new();
    private ulong _traceHash = FnvOffset;
    private long _deliveries;
    private int _links;
    private int _segments;
    private uint _nextMac;

    private const ulong FnvOffset = 14695981039346656037UL;
    private const ulong FnvPrime = 1099511628211UL;

    /// <summary>Creates an empty network.</summary>
    /// <param name="seed">The seed every direction's randomness derives from.</param>
    /// <param name="clock">The time frames travel in (a <see cref="VirtualClock"/> for deterministic tests; any provider works).</param>
    public MemoryNetwork(int seed, TimeProvider clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        Seed = seed;
        Clock = clock;
    }

    /// <summary>The seed.</summary>
    public int Seed { get; }

    /// <summary>The network's time.</summary>
    public TimeProvider Clock { get; }

    /// <summary>Every direction created so far, in creation order.</summary>
    public IReadOnlyList<LinkDirection> Directions => Array.AsReadOnly(_directions);

    /// <summary>When the earliest frame on any wire arrives, or null when nothing is in flight.</summary>
    public DateTimeOffset? NextDeliveryDue
    {
        get
        {
            DateTimeOffset? earliest = null;
            foreach (LinkDirection direction in _directions)
            {
                if (direction.NextDeliveryDue is DateTimeOffset due && (earliest is null || due < earliest))
                {
                    earliest = due;
                }
            }

            return earliest;
        }
    }

    /// <summary>
    /// The earliest arrival strictly after <paramref name="after"/> on any wire. Frames due earlier wait
    /// for a receiver to poll, so they do not move time.
    /// </summary>
    internal DateTimeOffset? NextDeliveryAfter(DateTimeOffset after)
    {
        DateTimeOffset? earliest = null;
        foreach (LinkDirection direction in _directions)
        {
            if (direction.NextArrivalAfter(after.UtcTicks) is long ticks && (earliest is null || ticks < earliest.Value.UtcTicks))
            {
                earliest = new DateTimeOffset(ticks, TimeSpan.Zero);
            }
        }

        return earliest;
    }

    /// <summary>
    /// A hash of every delivery so far (direction, arrival time, bytes) in delivery order: two runs
    /// that deliver the same frames at the same times to the same devices have the same hash.
    /// </summary>
    public ulong TraceHash
    {
        get
        {
            lock (_lock)
            {
                return _traceHash;
            }
        }
    }

    /// <summary>The number of frames delivered on every link so far.</summary>
    public long Deliveries
    {
        get
        {
            lock (_lock)
            {
                return _deliveries;
            }
        }
    }

    /// <summary>
    /// Creates a point-to-point link and returns its two ends. Ethernet ends get distinct
    /// locally administered MAC addresses (02:00:00:..).
    /// </summary>
    /// <param name="aToB">Impairments from end A to end B (default: a perfect wire).</param>
    /// <param name="bToA">Impairments from B to A (default: the same options as <paramref name="aToB"/>, with their own randomness).</param>
    /// <param name="medium">Bare IP packets or Ethernet frames.</param>
    /// <param name="mtu">The devices' MTU (largest IP packet); also the link MTU unless the options set one.</param>
    /// <param name="name">A name for the link (default <c>link1</c>, <c>link2</c>...); the ends are <c>{name}.a</c> and <c>{name}.b</c>.</param>
    /// <exception cref="ArgumentOutOfRangeException">An MTU outside 68..65535 or an invalid option.</exception>
    public MemoryLink CreateLink(LinkOptions? aToB = null, LinkOptions? bToA = null, DeviceMedium medium = DeviceMedium.Ip, int mtu = 1500, string? name = null)
    {
        CheckMtu(mtu);
        aToB ??= LinkOptions.Perfect;
        bToA ??= aToB;
        bool ethernet = medium == DeviceMedium.Ethernet;
        lock (_lock)
        {
            name ??= $"link{++_links}";
            LinkDirection ab = NewDirection($"{name}.a->b", aToB, ethernet, mtu);
            LinkDirection ba = NewDirection($"{name}.b->a", bToA, ethernet, mtu);
            var a = new MemoryDevice($"{name}.a", medium, mtu, ethernet ? NextMac() : default, inbound: ba, outbound: ab, segment: null);
            var b = new MemoryDevice($"{name}.b", medium, mtu, ethernet ? NextMac() : default, inbound: ab, outbound: ba, segment: null);
            return new MemoryLink(name, a, b);
        }
    }

    /// <summary>
    /// Creates an Ethernet segment: a switch that devices attach to with <see cref="MemorySegment.Attach"/>.
    /// Broadcast and multicast frames reach every other port; unicast frames reach the port with that address.
    /// </summary>
    /// <param name="options">The impairments of every port's egress towards its device (each port has its own randomness).</param>
    /// <param name="mtu">The MTU of every attached device.</param>
    /// <param name="name">A name for the segment (default <c>segment1</c>...).</param>
    public MemorySegment CreateSegment(LinkOptions? options = null, int mtu = 1500, string? name = null)
    {
        CheckMtu(mtu);
        (options ?? LinkOptions.Perfect).Validate();
        lock (_lock)
        {
            return new MemorySegment(this, name ?? $"segment{++_segments}", options ?? LinkOptions.Perfect, mtu);
        }
    }

    internal (MemoryDevice Device, LinkDirection Port) AttachToSegment(MemorySegment segment, string deviceName, LinkOptions options)
    {
        lock (_lock)
        {
            LinkDirection port = NewDirection($"{segment.Name}->{deviceName}", options, ethernet: true, segment.Mtu);
            var device = new MemoryDevice(deviceName, DeviceMedium.Ethernet, segment.Mtu, NextMac(), inbound: port, outbound: null, segment);
            return (device, port);
        }
    }

    /// <summary>Mixes one delivery into <see cref="TraceHash"/> (over id, arrival ticks, length, bytes).</summary>
    internal void Record(int directionId, long arrivalTicks, ReadOnlySpan<byte> frame)
    {
        Span<byte> head = stackalloc byte[16];
        BinaryPrimitives.WriteInt32LittleEndian(head, directionId);
        BinaryPrimitives.WriteInt64LittleEndian(head[4..], arrivalTicks);
        BinaryPrimitives.WriteInt32LittleEndian(head[12..], frame.Length);
        lock (_lock)
        {
            _traceHash = Mix(Mix(_traceHash, head), frame);
            _deliveries++;
        }
    }

    /// <summary>
    /// Mixes <paramref name="data"/> into a 64-bit hash: eight bytes at a time (multiply, rotate),
    /// in four interleaved lanes over 32-byte blocks folded back in at the end (one lane is a
    /// chain of dependent multiplies, ~5 cycles a word, which made hashing every delivered frame
    /// a fifth of a bulk simulation's time), then FNV-1a over the tail. Not cryptographic; it only
    /// has to tell two runs apart.
    /// </summary>
    internal static ulong Mix(ulong hash, ReadOnlySpan<byte> data)
    {
        ReadOnlySpan<ulong> words = MemoryMarshal.Cast<byte, ulong>(data);
        int i = 0;
        if (words.Length >= 8)
        {
            ulong h0 = hash;
            ulong h1 = hash ^ 0xC2B2AE3D27D4EB4FUL;
            ulong h2 = hash ^ 0x165667B19E3779F9UL;
            ulong h3 = hash ^ 0x85EBCA77C2B2AE63UL;
            for (; i + 4 <= words.Length; i += 4)
            {
                h0 = Round(h0, words[i]);
                h1 = Round(h1, words[i + 1]);
                h2 = Round(h2, words[i + 2]);
                h3 = Round(h3, words[i + 3]);
            }

            hash = Round(Round(Round(Round(hash, h0), h1), h2), h3);
        }

        for (; i < words.Length; i++)
        {
            hash = Round(hash, words[i]);
        }

        foreach (byte b in data[(words.Length * sizeof(ulong))..])
        {
            hash = (hash ^ b) * FnvPrime;
        }

        return hash;
    }

    private static ulong Round(ulong hash, ulong word) => BitOperations.RotateLeft((hash ^ word) * 0x9E3779B97F4A7C15UL, 31);

    private LinkDirection NewDirection(string name, LinkOptions options, bool ethernet, int mtu)
    {
        int id = _directions.Length;
        var direction = new LinkDirection(this, id, name, options, ethernet, mtu, new Random(DeriveSeed(Seed, id)));
        _directions = [.. _directions, direction];
        return direction;
    }

    // SplitMix64 (Steele, Lea, Flood 2014) of the seed and the direction number: neighbouring
    // seeds and directions get unrelated streams.
    private static int DeriveSeed(int seed, int index)
    {
        ulong z = ((ulong)(uint)seed << 32 | (uint)index) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & int.MaxValue);
    }

    // Locally administered (bit 1 of the first octet), unicast (bit 0 clear): IEEE 802 clause 8.
    private MacAddress NextMac()
    {
        uint n = ++_nextMac;
        return MacAddress.Create(0x02, 0x00, 0x00, (byte)(n >> 16), (byte)(n >> 8), (byte)n);
    }

    private static void CheckMtu(int mtu)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(mtu, 68, nameof(mtu)); // RFC 791: every host handles 68
        ArgumentOutOfRangeException.ThrowIfGreaterThan(mtu, ushort.MaxValue, nameof(mtu));
    }
}

/// <summary>A point-to-point link: its two ends and its two directions. Deconstructs to <c>var (a, b) = link;</c>.</summary>
public sealed class MemoryLink
{
    internal MemoryLink(string name, MemoryDevice a, MemoryDevice b)
    {
        Name = name;
        A = a;
        B = b;
    }

    /// <summary>The link's name.</summary>
    public string Name { get; }

    /// <summary>End A.</summary>
    public MemoryDevice A { get; }

    /// <summary>End B.</summary>
    public MemoryDevice B { get; }

    /// <summary>Frames from A to B.</summary>
    public LinkDirection AToB => A.Outbound!;

    /// <summary>Frames from B to A.</summary>
    public LinkDirection BToA => B.Outbound!;

    /// <summary>The two ends.</summary>
    /// <param name="a">End A.</param>
    /// <param name="b">End B.</param>
    public void Deconstruct(out MemoryDevice a, out MemoryDevice b)
    {
        a = A;
        b = B;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name}: {AToB.Statistics} / {BToA.Statistics}";
}
