using System.Net;
using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Ip.Devices.Linux;
using Protocols.Tests.Shared;
using Protocols.Wire;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// Malformed IPv6 against the stack on a real device, which must survive it and still answer:
/// long and looping extension header chains, tiny and overlapping fragments, routing type 0, bad
/// payload lengths, neighbour discovery with a bad hop limit or bad options (which, if believed,
/// would point the kernel's address at a MAC that does not exist), forged packet too big, and
/// plain garbage. Sent three ways: through the kernel (a raw IPv6 socket with IPPROTO_RAW, so
/// the kernel routes each packet, over TUN and over veth with its own neighbour discovery), and
/// as Ethernet frames written straight onto the veth link (AF_PACKET), which also carries what
/// the kernel would not send (a short header, version 4 under the IPv6 EtherType, multicast NDP).
/// </summary>
public sealed class MalformedIpv6StormTests(ITestOutputHelper output)
{
    private const int Rounds = 20;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);
    private static readonly MacAddress Nowhere = MacAddress.Create(0x02, 0, 0, 0, 0x66, 0x66);

    public static TheoryData<string> Paths => ["tun", "veth", "veth-frames"];

    [InteropTheory(Tools = ["ping"])]
    [MemberData(nameof(Paths))]
    public async Task The_stack_survives_a_malformed_IPv6_storm_and_still_answers(string path)
    {
        await using KernelPeer peer = await KernelPeer.OpenAsync(path == "tun" ? "tun" : "veth", ipv6: true);
        Ipv6Address kernel = KernelPeer.KernelAddress6, stack = KernelPeer.StackAddress6;

        // Both ends know each other first (neighbour discovery on veth), so that a poisoned entry would show.
        ToolResult warm = peer.Exec(Limit, "ping", "-6", "-n", "-c", "1", "-w", "10", stack.ToString());
        Assert.True(warm.ExitCode == 0, TestNamespace.Describe(warm));
        StackCountersSnapshot before = peer.Stack.Counters.Snapshot();

        List<(string Name, byte[] Packet)> storm = Storm(kernel, stack, path == "veth-frames");
        int sent = 0, refused = 0;
        if (path == "veth-frames")
        {
            MacAddress stackMac = peer.Device.HardwareAddress;
            using RawPacketDevice wire = NetworkNamespace.Invoke(peer.Kernel.Name, () => RawPacketDevice.Open("pveth1", new RawPacketDeviceOptions { Offloads = false }));
            for (int round = 0; round < Rounds; round++)
            {
                foreach ((string name, byte[] packet) in storm)
                {
                    MacAddress destination = name.StartsWith("multicast", StringComparison.Ordinal) ? MulticastMac(stack.SolicitedNode) : stackMac;
                    byte[] frame = [.. Bytes(destination), .. Bytes(wire.HardwareAddress), 0x86, 0xdd, .. packet];
                    if (wire.TrySend(frame))
                    {
                        sent++;
                    }
                    else
                    {
                        refused++;
                    }
                }

                wire.Flush();
                await Task.Delay(10);
            }
        }
        else
        {
            // IPPROTO_RAW: the packet is sent as given, IPv6 header included (IPV6_HDRINCL).
            using Socket raw = NetworkNamespace.Invoke(peer.Kernel.Name, () => new Socket(AddressFamily.InterNetworkV6, SocketType.Raw, ProtocolType.Raw));
            var to = new IPEndPoint(IPAddress.Parse(stack.ToString()), 0);
            var reasons = new SortedSet<string>(StringComparer.Ordinal);
            for (int round = 0; round < Rounds; round++)
            {
                foreach ((string name, byte[] packet) in storm)
                {
                    try
                    {
                        raw.SendTo(packet, to);
                        sent++;
                    }
                    catch (SocketException e)
                    {
                        refused++;
                        reasons.Add($"{name}: {e.SocketErrorCode}");
                    }
                }

                await Task.Delay(10);
            }

            output.WriteLine($"the kernel refused: {string.Join("; ", reasons)}");
        }

        // Let the stack work through its queue.
        await Task.Delay(500);
        StackCountersSnapshot after = peer.Stack.Counters.Snapshot();
        output.WriteLine($"{path}: {sent} packets sent, {refused} refused; IPv6 received {after.Ipv6.Received - before.Ipv6.Received}");
        foreach ((DropReason reason, long count) in after.Drops)
        {
            long delta = count - before.DroppedFor(reason);
            if (delta > 0)
            {
                output.WriteLine($"  dropped {reason}: {delta}");
            }
        }

        output.WriteLine($"  parameter problems sent {after.Icmpv6OutOf(Icmpv6Type.ParameterProblem) - before.Icmpv6OutOf(Icmpv6Type.ParameterProblem)}, rate-limited {after.Ipv6.IcmpRateLimited - before.Ipv6.IcmpRateLimited}");

        Assert.True(sent >= storm.Count * Rounds / 2, $"only {sent} of {storm.Count * Rounds} packets left");
        Assert.True(after.Ipv6.Received - before.Ipv6.Received >= sent / 2, "most of the storm reached the stack");

        // What each kind must have cost, at least once per round that reached the stack.
        Assert.True(Delta(DropReason.BadExtensionHeaders) > 0, "long chains");
        Assert.True(Delta(DropReason.RoutingHeader) > 0, "routing type 0");
        Assert.True(Delta(DropReason.BadPayloadLength) > 0 || Delta(DropReason.Truncated) > 0, "bad payload lengths");
        Assert.True(Delta(DropReason.ReassemblyOverlap) > 0, "overlapping fragments");
        Assert.True(after.Ipv6.FragmentsReceived - before.Ipv6.FragmentsReceived >= 8, "tiny fragments");
        Assert.True(Delta(DropReason.PacketTooBigNotOurs) > 0 || Delta(DropReason.IcmpErrorNotOurs) > 0, "forged packet too big");
        if (path != "tun")
        {
            Assert.True(Delta(DropReason.NdpInvalid) > 0, "NDP with a bad hop limit or options");
        }

        // The forged packet too big lowered nothing: a 1400-byte ping is answered unfragmented.
        Assert.Equal(0, after.Ipv6.PathMtuUpdates - before.Ipv6.PathMtuUpdates);
        ToolResult big = peer.Exec(Limit, "ping", "-6", "-n", "-c", "3", "-i", "0.2", "-w", "20", "-s", "1400", stack.ToString());
        Assert.True(big.ExitCode == 0, TestNamespace.Describe(big));
        Assert.Equal(after.Ipv6.FragmentsSent, peer.Stack.Counters.Snapshot().Ipv6.FragmentsSent);

        // Still answers, through the same neighbour entry (not poisoned by the bad advertisements).
        ToolResult ping = peer.Exec(Limit, "ping", "-6", "-n", "-c", "5", "-i", "0.2", "-w", "20", stack.ToString());
        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
        PingTests.AssertAllAnswered(ping, 5);
        Assert.Equal(0, peer.Stack.Counters.Snapshot().CallbackExceptions);

        long Delta(DropReason reason) => after.DroppedFor(reason) - before.DroppedFor(reason);
    }

    /// <summary>The storm, from <paramref name="kernel"/> to <paramref name="stack"/>; with <paramref name="link"/>, also what only a link can carry.</summary>
    private static List<(string, byte[])> Storm(Ipv6Address kernel, Ipv6Address stack, bool link)
    {
        var storm = new List<(string, byte[])>();
        byte[] udp = UdpTo(7);
        byte[] Packet(IpProtocol first, byte[] extensions, byte[] payload, byte hopLimit = 64, Ipv6Address? destination = null) =>
            Ipv6Packets.Packet(first, extensions, payload, destination ?? stack, hopLimit, kernel);

        // Long chains: twenty Destination Options headers (the limit is 8, RFC 8200 4.1 leaves it to the node).
        byte[] chain = [];
        for (int i = 0; i < 20; i++)
        {
            chain = [.. chain, .. Ipv6Packets.Options(i == 19 ? IpProtocol.Udp : IpProtocol.Ipv6DestinationOptions)];
        }

        storm.Add(("long chain", Packet(IpProtocol.Ipv6DestinationOptions, chain, udp)));

        // A chain that loops back to Hop-by-Hop, which is allowed only first (RFC 8200 4.1).
        storm.Add(("looping chain", Packet(IpProtocol.HopByHop, [.. Ipv6Packets.Options(IpProtocol.Ipv6DestinationOptions), .. Ipv6Packets.Options(IpProtocol.HopByHop), .. Ipv6Packets.Options(IpProtocol.Udp)], udp)));

        // A chain that never reaches an upper layer within the packet.
        storm.Add(("endless chain", Packet(IpProtocol.Ipv6DestinationOptions, [.. Ipv6Packets.Options(IpProtocol.Ipv6DestinationOptions), .. Ipv6Packets.Options(IpProtocol.Ipv6DestinationOptions)], [(byte)IpProtocol.Ipv6DestinationOptions, 200, 1, 2])));

        // An options header whose option runs past it, and the Jumbo option without a zero payload length (RFC 2675 3).
        storm.Add(("option overrun", Packet(IpProtocol.Ipv6DestinationOptions, Ipv6Packets.RawOptions(IpProtocol.Udp, 1, 40, 0, 0, 0, 0), udp)));
        storm.Add(("jumbo", Packet(IpProtocol.HopByHop, Ipv6Packets.Options(IpProtocol.Udp, Ipv6Packets.Option(0xc2, 0, 1, 0, 0)), udp)));

        // Routing type 0 with segments left (RFC 5095 3), and a routing header with an odd length.
        storm.Add(("routing type 0", Packet(IpProtocol.Ipv6Routing, Ipv6Packets.Routing(IpProtocol.Udp, (Ipv6RoutingType)0, 1), udp)));

        // Tiny fragments that never complete, and overlapping ones (RFC 5722).
        for (ushort offset = 0; offset < 8; offset++)
        {
            storm.Add(("tiny fragment", Packet(IpProtocol.Ipv6Fragment, Ipv6Packets.Fragment(IpProtocol.Udp, offset, more: true, identification: 0x7100), new byte[8])));
        }

        storm.Add(("overlap", Packet(IpProtocol.Ipv6Fragment, Ipv6Packets.Fragment(IpProtocol.Udp, 0, more: true, identification: 0x7200), [.. udp, .. new byte[24]])));
        storm.Add(("overlap", Packet(IpProtocol.Ipv6Fragment, Ipv6Packets.Fragment(IpProtocol.Udp, 2, more: false, identification: 0x7200), new byte[32])));
        storm.Add(("fragment beyond 65535", Packet(IpProtocol.Ipv6Fragment, Ipv6Packets.Fragment(IpProtocol.Udp, 8190, more: true, identification: 0x7300), new byte[64])));
        storm.Add(("fragment not a multiple of 8", Packet(IpProtocol.Ipv6Fragment, Ipv6Packets.Fragment(IpProtocol.Udp, 0, more: true, identification: 0x7400), new byte[13])));

        // Bad payload lengths: beyond the packet, and zero with an upper layer present.
        byte[] beyond = Packet(IpProtocol.Udp, [], udp);
        beyond[4] = 0x04; // 1024 + the low byte: far past the 56 bytes there are
        storm.Add(("payload length beyond", beyond));
        byte[] zero = Packet(IpProtocol.Udp, [], udp);
        zero[4] = 0;
        zero[5] = 0;
        storm.Add(("payload length zero", zero));
        byte[] odd = Packet(IpProtocol.Udp, [], udp);
        odd[5] = 3; // shorter than the UDP header
        storm.Add(("payload length short", odd));

        // Neighbour advertisements that would point the kernel's address at a MAC nowhere: hop limit 254
        // (RFC 4861 7.1.2), an option of length zero (RFC 4861 4.6), each with a valid checksum.
        storm.Add(("advertisement hop 254", Packet(IpProtocol.Icmpv6, [], Advertisement(kernel, stack, kernel, withZeroOption: false), hopLimit: 254)));
        storm.Add(("advertisement zero option", Packet(IpProtocol.Icmpv6, [], Advertisement(kernel, stack, kernel, withZeroOption: true), hopLimit: 255)));
        storm.Add(("solicitation hop 64", Packet(IpProtocol.Icmpv6, [], Solicitation(kernel, stack, stack), hopLimit: 64)));

        // A packet too big quoting a packet this stack never sent (RFC 8201 4), and one with MTU 600.
        storm.Add(("forged packet too big", Packet(IpProtocol.Icmpv6, [], PacketTooBig(kernel, stack, 1280, flowLabel: 0xabcde))));
        storm.Add(("forged packet too big 600", Packet(IpProtocol.Icmpv6, [], PacketTooBig(kernel, stack, 600, flowLabel: 0x12345))));

        // Echo with a bad checksum, and an unknown next header (parameter problem, rate-limited).
        byte[] echo = Echo(kernel, stack);
        echo[2] ^= 0xff;
        storm.Add(("echo bad checksum", Packet(IpProtocol.Icmpv6, [], echo)));
        storm.Add(("unknown next header", Packet((IpProtocol)253, [], new byte[16])));

        if (link)
        {
            storm.Add(("short header", Packet(IpProtocol.Udp, [], udp)[..30]));
            storm.Add(("version 4", [0x45, .. Packet(IpProtocol.Udp, [], udp)[1..]]));
            storm.Add(("multicast solicitation hop 1", Packet(IpProtocol.Icmpv6, [], Solicitation(kernel, stack.SolicitedNode, stack), hopLimit: 1, destination: stack.SolicitedNode)));
            storm.Add(("multicast advertisement zero option", Packet(IpProtocol.Icmpv6, [], Advertisement(kernel, Ipv6Address.Parse("ff02::1"), kernel, withZeroOption: true), hopLimit: 255, destination: stack.SolicitedNode)));
        }

        return storm;
    }

    private static byte[] UdpTo(ushort port) => [0x30, 0x39, (byte)(port >> 8), (byte)port, 0x00, 0x10, 0x00, 0x00, 1, 2, 3, 4, 5, 6, 7, 8];

    // RFC 4861 4.4: an unsolicited override advertisement for target with a target link-layer option naming Nowhere.
    private static byte[] Advertisement(Ipv6Address source, Ipv6Address destination, Ipv6Address target, bool withZeroOption)
    {
        byte[] message = new byte[NdpNeighborAdvertisementHeader.FixedLength + (withZeroOption ? 16 : 8)];
        new NdpNeighborAdvertisementHeader { Type = Icmpv6Type.NeighborAdvertisement, Override = true, TargetAddress = target }.WriteTo(message);
        int option = NdpNeighborAdvertisementHeader.FixedLength;
        if (withZeroOption)
        {
            message[option] = 14; // an unknown option of length 0: the whole message must be discarded
            message[option + 1] = 0;
            option += 8;
        }

        message[option] = 2; // target link-layer address, 8 bytes
        message[option + 1] = 1;
        Bytes(Nowhere).CopyTo(message, option + 2);
        return WithChecksum(message, source, destination);
    }

    private static byte[] Solicitation(Ipv6Address source, Ipv6Address destination, Ipv6Address target)
    {
        byte[] message = new byte[NdpNeighborSolicitationHeader.FixedLength + 8];
        new NdpNeighborSolicitationHeader { Type = Icmpv6Type.NeighborSolicitation, TargetAddress = target }.WriteTo(message);
        message[NdpNeighborSolicitationHeader.FixedLength] = 1; // source link-layer address naming Nowhere
        message[NdpNeighborSolicitationHeader.FixedLength + 1] = 1;
        Bytes(Nowhere).CopyTo(message, NdpNeighborSolicitationHeader.FixedLength + 2);
        return WithChecksum(message, source, destination);
    }

    // A packet too big quoting a TCP segment "from the stack to the kernel" that it never sent.
    private static byte[] PacketTooBig(Ipv6Address source, Ipv6Address stack, uint mtu, uint flowLabel)
    {
        byte[] quoted = Ipv6Packets.Packet(IpProtocol.Tcp, [], new byte[20], destination: source, source: stack);
        quoted[1] = (byte)((uint)(quoted[1] & 0xf0) | (flowLabel >> 16));
        quoted[2] = (byte)(flowLabel >> 8);
        quoted[3] = (byte)flowLabel;
        byte[] message = new byte[Icmpv6PacketTooBigHeader.FixedLength + quoted.Length];
        new Icmpv6PacketTooBigHeader { Type = Icmpv6Type.PacketTooBig, Mtu = mtu }.WriteTo(message);
        quoted.CopyTo(message, Icmpv6PacketTooBigHeader.FixedLength);
        return WithChecksum(message, source, stack);
    }

    private static byte[] Echo(Ipv6Address source, Ipv6Address destination)
    {
        byte[] message = new byte[Icmpv6EchoHeader.FixedLength + 16];
        new Icmpv6EchoHeader { Type = Icmpv6Type.EchoRequest, Identifier = 0x6666, SequenceNumber = 1 }.WriteTo(message);
        return WithChecksum(message, source, destination);
    }

    // RFC 4443 2.3: the checksum over the pseudo-header (RFC 8200 8.1) and the message.
    private static byte[] WithChecksum(byte[] message, Ipv6Address source, Ipv6Address destination)
    {
        message[2] = 0;
        message[3] = 0;
        ushort sum = Checksum.Compute(message, Checksum.PseudoHeaderSum(source, destination, (byte)IpProtocol.Icmpv6, message.Length));
        message[2] = (byte)(sum >> 8);
        message[3] = (byte)sum;
        return message;
    }

    // RFC 2464 7: 33:33 and the last four bytes of the group.
    private static MacAddress MulticastMac(Ipv6Address group)
    {
        uint low = (uint)group.ToUInt128();
        return MacAddress.Create(0x33, 0x33, (byte)(low >> 24), (byte)(low >> 16), (byte)(low >> 8), (byte)low);
    }

    private static byte[] Bytes(MacAddress mac) => [mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]];
}
