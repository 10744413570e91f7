using System.Buffers.Binary;
using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Stack;

/// <summary>
/// A seeded generator throws random and mutated frames at the input path: nothing escapes as an
/// exception, every frame is accounted for (delivered, processed ARP, or dropped by a reason), and
/// the stack still answers a ping afterwards.
/// </summary>
public class RobustnessTests
{
    private static readonly Ipv4Address Us = TwoStacks.AddressA;
    private static readonly Ipv4Address Peer = TwoStacks.AddressB;

    [Theory]
    [InlineData(DeviceMedium.Ip, 200_000, 1)]
    [InlineData(DeviceMedium.Ethernet, 50_000, 2)]
    public void Random_and_mutated_frames_never_throw_and_are_all_accounted_for(DeviceMedium medium, int frames, int seed)
    {
        var clock = new ManualClock();
        MacAddress ourMac = MacAddress.Create(2, 0, 0, 0, 0, 1);
        MacAddress peerMac = MacAddress.Create(2, 0, 0, 0, 0, 2);
        var device = new TestDevice("fuzz", medium, ourMac);
        using var stack = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = seed });
        stack.AddInterface(device, Us, 24, gateway: Ipv4Address.Parse("10.0.0.254"));
        var udp = new RecordingTransport(IpProtocol.Udp) { Reject = IcmpUnreachableCode.PortUnreachable };
        var pinger = new RecordingTransport(IpProtocol.Icmp);
        stack.RegisterTransport(udp);
        stack.RegisterTransport(pinger);

        var random = new Random(seed);
        var kinds = new int[8];
        for (int i = 0; i < frames; i++)
        {
            byte[] packet = Generate(random, kinds);
            byte[] frame = medium == DeviceMedium.Ip
                ? packet
                : Frame(random, packet, ourMac, peerMac);
            device.Inject(frame);
            if (i % 256 == 255)
            {
                stack.Poll();
                clock.Advance(TimeSpan.FromMilliseconds(10));
                device.TakeSent();
                udp.Datagrams.Clear();
                udp.Errors.Clear();
                pinger.Datagrams.Clear();
                pinger.Errors.Clear();
            }
        }

        stack.Poll();
        device.TakeSent();
        StackCountersSnapshot s = stack.Counters.Snapshot();
        Assert.Equal(frames, s.FramesReceived);
        Assert.Equal(s.FramesReceived, s.Delivered + s.ArpReceived + s.TotalDropped + s.FragmentsQueued);
        Assert.True(s.FragmentsQueued > 0, s.ToString());
        Assert.Equal(0, s.CallbackExceptions);

        // The generator reached deep: deliveries, ICMP errors in both directions, many drop reasons.
        Assert.True(s.Delivered > frames / 20, s.ToString());
        Assert.True(s.Drops.Count >= 10, s.ToString());
        Assert.True(s.IcmpInOf(IcmpType.EchoRequest) > 0 && s.IcmpOutOf(IcmpType.EchoReply) > 0, s.ToString());
        Assert.True(s.IcmpOutOf(IcmpType.DestinationUnreachable) > 0, s.ToString());
        Assert.All(kinds, k => Assert.True(k > 0));

        // Still answers.
        clock.Advance(TimeSpan.FromSeconds(1));
        byte[] ping = Packets.Ip(Peer, Us, IpProtocol.Icmp, Packets.Echo(IcmpType.EchoRequest, 77, 1, [1, 2, 3, 4]));
        device.Inject(medium == DeviceMedium.Ip ? ping : Packets.Ethernet(ourMac, peerMac, EtherType.Ipv4, ping));
        device.Inject(medium == DeviceMedium.Ip ? ping : Packets.Ethernet(ourMac, peerMac, EtherType.Arp, Packets.Arp(ArpOperation.Reply, peerMac, Peer, ourMac, Us)));
        stack.Poll();
        bool answered = false;
        foreach (byte[] f in device.TakeSent())
        {
            ReadOnlySpan<byte> ip = medium == DeviceMedium.Ip ? f : f.AsSpan(14);
            if (medium == DeviceMedium.Ethernet && BinaryPrimitives.ReadUInt16BigEndian(f.AsSpan(12)) != (ushort)EtherType.Ipv4)
            {
                continue;
            }

            Assert.True(Ipv4Header.TryRead(ip, out Ipv4Header.Reader r, out _));
            if (r.Protocol == IpProtocol.Icmp && r.Payload[0] == (byte)IcmpType.EchoReply && r.Destination == Peer)
            {
                answered = true;
            }
        }

        Assert.True(answered);
    }

    private static byte[] Frame(Random random, byte[] packet, MacAddress ours, MacAddress peer)
    {
        int pick = random.Next(20);
        if (pick == 0)
        {
            // A mutated ARP packet.
            byte[] arp = Packets.Arp((ArpOperation)random.Next(0, 4), random.Next(4) == 0 ? MacAddress.Broadcast : peer, random.Next(3) == 0 ? Us : RandomNeighbour(random), default, random.Next(2) == 0 ? Us : RandomNeighbour(random));
            Flip(random, arp, random.Next(0, 3));
            return Packets.Ethernet(random.Next(2) == 0 ? MacAddress.Broadcast : ours, peer, EtherType.Arp, arp[..random.Next(20, arp.Length + 1)]);
        }

        if (pick == 1)
        {
            byte[] junk = new byte[random.Next(0, 80)];
            random.NextBytes(junk);
            return junk;
        }

        MacAddress destination = pick == 2 ? MacAddress.Broadcast : pick == 3 ? MacAddress.Create(2, 9, 9, 9, 9, 9) : ours;
        return Packets.Ethernet(destination, peer, pick == 4 ? EtherType.Ipv6 : EtherType.Ipv4, packet);
    }

    private static Ipv4Address RandomNeighbour(Random random) => Ipv4Address.Create(10, 0, 0, (byte)random.Next(2, 254));

    private static byte[] Generate(Random random, int[] kinds)
    {
        byte[] valid = Valid(random);
        int kind = random.Next(8);
        kinds[kind]++;
        switch (kind)
        {
            case 0:
                return valid;
            case 1:
                // Bit flips, checksum left broken or repaired (so the flips reach deeper).
                Flip(random, valid, random.Next(1, 6));
                if (random.Next(2) == 0)
                {
                    Refill(valid);
                }

                return valid;
            case 2:
                // Truncation.
                return valid[..random.Next(0, valid.Length)];
            case 3:
                // Absurd total length or IHL, checksum repaired.
                if (random.Next(2) == 0)
                {
                    BinaryPrimitives.WriteUInt16BigEndian(valid.AsSpan(2), (ushort)random.Next(0, 65536));
                }
                else
                {
                    valid[0] = (byte)(0x40 | random.Next(16));
                }

                Refill(valid);
                return valid;
            case 4:
                // Option garbage: a random options region, checksum repaired.
                byte[] options = new byte[random.Next(1, 11) * 4];
                random.NextBytes(options);
                if (random.Next(2) == 0)
                {
                    options[0] = (byte)new[] { 7, 68, 131, 137, 148, 136, 1, 0 }[random.Next(8)];
                    options[1] = (byte)random.Next(0, options.Length + 3);
                }

                return Packets.Ip(RandomSource(random), Us, (IpProtocol)valid[9], valid.AsSpan(20), options);
            case 5:
                // Trailing garbage after the datagram (link padding).
                byte[] padded = new byte[valid.Length + random.Next(1, 40)];
                random.NextBytes(padded);
                valid.CopyTo(padded, 0);
                return padded;
            case 6:
                // Pure noise that starts like IPv4.
                byte[] noise = new byte[random.Next(1, 200)];
                random.NextBytes(noise);
                noise[0] = (byte)(0x45 + random.Next(0, 3));
                return noise;
            default:
                // Valid header around a mutated ICMP message (errors quoting our own datagrams).
                byte[] icmp = IcmpErrorAboutUs(random);
                Flip(random, icmp, random.Next(0, 3));
                return Packets.Ip(RandomSource(random), Us, IpProtocol.Icmp, icmp);
        }
    }

    private static byte[] Valid(Random random)
    {
        Ipv4Address source = RandomSource(random);
        Ipv4Address destination = random.Next(10) switch
        {
            0 => Ipv4Address.Broadcast,
            1 => Ipv4Address.Parse("10.0.0.255"),
            2 => Ipv4Address.Parse("10.0.0.9"),
            _ => Us,
        };
        int which = random.Next(5);
        byte[] payload = which switch
        {
            0 => Packets.Echo(IcmpType.EchoRequest, (ushort)random.Next(), (ushort)random.Next(), RandomBytes(random, random.Next(0, 600))),
            1 => Packets.Ports((ushort)random.Next(), (ushort)random.Next(), random.Next(0, 100)),
            2 => Packets.Echo(IcmpType.EchoReply, 1, 1, RandomBytes(random, 8)),
            3 => IcmpErrorAboutUs(random),
            _ => RandomBytes(random, random.Next(0, 100)),
        };
        IpProtocol protocol = which switch
        {
            0 or 2 or 3 => IpProtocol.Icmp,
            1 => IpProtocol.Udp,
            _ => (IpProtocol)random.Next(0, 256),
        };
        bool fragment = random.Next(20) == 0;
        return Packets.Ip(source, destination, protocol, payload, fragmentOffset: fragment ? (ushort)random.Next(0, 100) : (ushort)0, moreFragments: fragment && random.Next(2) == 0, id: (ushort)random.Next());
    }

    private static byte[] IcmpErrorAboutUs(Random random)
    {
        byte[] quoted = Packets.Ip(random.Next(4) == 0 ? Peer : Us, Peer, random.Next(2) == 0 ? IpProtocol.Udp : (IpProtocol)random.Next(0, 256), Packets.Ports(1, 2, random.Next(0, 20)));
        quoted = quoted[..random.Next(20, quoted.Length + 1)];
        var icmp = new byte[8 + quoted.Length];
        IcmpType type = new[] { IcmpType.DestinationUnreachable, IcmpType.TimeExceeded, IcmpType.ParameterProblem, IcmpType.Redirect, IcmpType.SourceQuench, (IcmpType)random.Next(0, 256) }[random.Next(6)];
        IcmpMessage.WriteError(icmp, type, (byte)random.Next(0, 16), (uint)random.Next(), quoted, 64);
        return icmp;
    }

    private static Ipv4Address RandomSource(Random random) => random.Next(12) switch
    {
        0 => Ipv4Address.Any,
        1 => Ipv4Address.Parse("127.0.0.1"),
        2 => Ipv4Address.Parse("224.1.2.3"),
        3 => Us,
        4 => Ipv4Address.Create((byte)random.Next(1, 224), (byte)random.Next(256), (byte)random.Next(256), (byte)random.Next(1, 255)),
        _ => RandomNeighbour(random),
    };

    private static byte[] RandomBytes(Random random, int length)
    {
        var b = new byte[length];
        random.NextBytes(b);
        return b;
    }

    private static void Flip(Random random, byte[] data, int bits)
    {
        for (int i = 0; i < bits && data.Length > 0; i++)
        {
            int bit = random.Next(data.Length * 8);
            data[bit / 8] ^= (byte)(1 << (bit % 8));
        }
    }

    private static void Refill(byte[] p)
    {
        if (p.Length < 20)
        {
            return;
        }

        p[10] = 0;
        p[11] = 0;
        int hl = Math.Min((p[0] & 0xf) * 4, p.Length);
        BinaryPrimitives.WriteUInt16BigEndian(p.AsSpan(10), Checksum.Compute(p.AsSpan(0, hl)));
    }
}
