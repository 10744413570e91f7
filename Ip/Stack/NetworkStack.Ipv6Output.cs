using Protocols.Ip.Devices;
using Protocols.Ip.Fragmentation;
using Protocols.Wire;

namespace Protocols.Ip;

public sealed partial class NetworkStack
{
    private readonly SipHash _flowHash;
    private readonly SipHash _fragmentIdHash;
    private readonly PathMtuCache _pathMtu;

    // Neighbour discovery and MLD messages are framed here, not in the frame buffer, which may hold
    // a packet waiting to be queued for the resolution the message starts.
    private readonly byte[] _ndpFrame = new byte[EthernetHeaderLength + Ipv6Header.FixedLength + 8 + Icmpv6Message.MaxErrorMessageLength];
    private uint _fragmentIdCounter;

    /// <summary>The path MTU cache (RFC 8201): a lowered MTU per destination, from valid packet too big messages. Loop only.</summary>
    public PathMtuCache PathMtu => _pathMtu;

    /// <summary>
    /// Sends one IPv6 packet: routes it (longest prefix, then a default router), selects the source
    /// (RFC 6724), labels the flow (RFC 6437), fragments it to the path MTU when allowed (RFC 8200
    /// 4.5, 5) and frames it, resolving the next hop with neighbour discovery on Ethernet.
    /// <paramref name="payloadInFrameBuffer"/>: the payload already lies where the packet's payload
    /// goes in the frame buffer (<see cref="GetDatagramPayloadBuffer"/>), so an unfragmented packet
    /// is sent without copying it; fragments are cut from a copy.
    /// </summary>
    private IpSendResult SendIpv6(in IpSendRequest request, ReadOnlySpan<byte> payload, bool payloadInFrameBuffer = false)
    {
        Ipv6Address destination = request.Destination.ToIpv6();
        Ipv6Address? requestedSource = request.Source is { } r ? r.ToIpv6() : null;
        if (!TryRoute6(destination, requestedSource, out NetworkInterface? nic, out Ipv6Address nextHop))
        {
            Counters.SendDrop(DropReason.NoRoute);
            return IpSendResult.NoRoute;
        }

        Ipv6Interface v6 = nic.Ipv6!;
        bool loopback = IsAssigned6(destination) || destination.IsLoopback;
        Ipv6Address source;
        if (requestedSource is { } s)
        {
            // RFC 4862 5.4: a tentative address is not a source (only DAD solicitations come from ::, and the stack makes those itself).
            if (!(IsAssigned6(s) || (loopback && s.IsLoopback)))
            {
                Counters.SendDrop(IsConfigured6(s) ? DropReason.TentativeAddress : DropReason.BadSourceAddress);
                return IpSendResult.Dropped;
            }

            source = s;
        }
        else if ((loopback ? destination : v6.SelectSource(destination)) is { } selected)
        {
            source = selected;
        }
        else
        {
            Counters.SendDrop(DropReason.NoRoute);
            return IpSendResult.NoRoute;
        }

        if (payload.Length > ushort.MaxValue)
        {
            Counters.SendDrop(DropReason.TooBig);
            return IpSendResult.MessageTooBig;
        }

        // RFC 8200 5: the packet is sized to the path MTU, never below 1280.
        int mtu = loopback ? ushort.MaxValue + Ipv6Header.FixedLength : _pathMtu.Get(destination, v6.LinkMtu, Now);
        int total = Ipv6Header.FixedLength + payload.Length;
        ushort segmentSize = loopback ? (ushort)0 : request.TcpSegmentSize;
        if (segmentSize != 0)
        {
            // A super-segment: the device cuts it into segments of TcpSegmentSize (each within the
            // path MTU, as TCP sized them); it is never fragmented.
            if (request.Protocol != IpProtocol.Tcp || (nic.Device.Capabilities & DeviceCapabilities.TcpSegmentationV6) == 0
                || total > nic.Device.OffloadStatus.MaxSegmentationLength)
            {
                Counters.SendDrop(DropReason.TooBig);
                return IpSendResult.MessageTooBig;
            }

            mtu = total;
        }

        if (total > mtu && request.DontFragment)
        {
            Counters.SendDrop(DropReason.TooBig);
            return IpSendResult.MessageTooBig;
        }

        byte hopLimit = request.Ttl is { } t and not 0 ? t : v6.CurHopLimit != 0 ? v6.CurHopLimit : Options.DefaultTtl;
        var header = new Ipv6Header
        {
            TrafficClass = request.Tos,
            FlowLabel = request.FlowLabel is { } label ? label & 0xf_ffff : FlowLabel(source, destination, request.Protocol, payload),
            NextHeader = request.Protocol,
            HopLimit = hopLimit,
            Source = source,
            Destination = destination,
        };

        Counters.Ipv6Sent++;
        if (total <= mtu)
        {
            Span<byte> packet = _frameBuffer.AsSpan(EthernetHeaderLength, total);
            Ipv6Packet.Write(packet, header, default, payload);
            if (loopback && request.TcpSegmentSize != 0)
            {
                // To ourselves nothing cuts the super-segment: it stays whole, with its checksum finished here.
                SoftwareChecksum.CompletePartial(packet, Ipv6Header.FixedLength, 16);
            }

            return loopback ? EnqueueLoopback6(destination, packet) : Transmit6(nic, nextHop, destination, source, total, segmentSize);
        }

        if (payloadInFrameBuffer)
        {
            // The fragments are built in the frame buffer: cut them from a copy of the payload.
            byte[] aside = System.Buffers.ArrayPool<byte>.Shared.Rent(payload.Length);
            try
            {
                payload.CopyTo(aside);
                return SendIpv6Fragments(nic, nextHop, in header, aside.AsSpan(0, payload.Length), mtu);
            }
            finally
            {
                System.Buffers.ArrayPool<byte>.Shared.Return(aside);
            }
        }

        return SendIpv6Fragments(nic, nextHop, in header, payload, mtu);
    }

    // RFC 8200 4.5: the source fragments, each fragment fitting the path MTU.
    private IpSendResult SendIpv6Fragments(NetworkInterface nic, Ipv6Address nextHop, in Ipv6Header header, ReadOnlySpan<byte> payload, int mtu)
    {
        Ipv6Address source = header.Source, destination = header.Destination;
        FragmentationStatus status = Ipv6Fragmenter.TryCreate(header, default, payload, mtu, NextFragmentId(source, destination), out Ipv6Fragmenter fragmenter);
        if (status != FragmentationStatus.Success)
        {
            Counters.SendDrop(DropReason.TooBig);
            return IpSendResult.MessageTooBig;
        }

        IpSendResult result = IpSendResult.Sent;
        while (fragmenter.TryWriteNext(_frameBuffer.AsSpan(EthernetHeaderLength), out int written))
        {
            Counters.Ipv6FragmentsSent++;
            IpSendResult one = Transmit6(nic, nextHop, destination, source, written);
            if (one == IpSendResult.QueueFull)
            {
                return one;
            }

            if (one == IpSendResult.Queued)
            {
                result = one;
            }
        }

        return result;
    }

    /// <summary>The source address a packet to <paramref name="destination"/> will carry, or null when there is no route.</summary>
    private Ipv6Address? RouteSourceFor6(Ipv6Address destination)
    {
        if (IsAssigned6(destination))
        {
            return destination;
        }

        return TryRoute6(destination, null, out NetworkInterface? nic, out _) ? nic.Ipv6!.SelectSource(destination) : null;
    }

    /// <summary>
    /// The IPv6 routing decision: our own addresses loop back; multicast and link-local
    /// destinations go out of the source's interface (or the first with IPv6); otherwise the
    /// longest on-link prefix (RFC 4861 5.2), else a default router (RFC 4861 6.3.6), preferring
    /// the source's interface. No default router means no route (RFC 4943).
    /// </summary>
    internal bool TryRoute6(Ipv6Address destination, Ipv6Address? source, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NetworkInterface? nic, out Ipv6Address nextHop)
    {
        nic = null;
        nextHop = destination;
        NetworkInterface? sourceInterface = null;
        NetworkInterface? first = null;
        foreach (NetworkInterface candidate in _interfaces)
        {
            if (candidate.Ipv6 is not { Operational: true } v6)
            {
                continue;
            }

            first ??= candidate;
            if (source is { } s && v6.Find(s) is not null)
            {
                sourceInterface = candidate;
            }

            if (v6.Find(destination) is not null)
            {
                nic = candidate;
                return true;
            }
        }

        if (first is null || destination.IsUnspecified)
        {
            return false;
        }

        if (destination.IsMulticast || destination.IsLinkLocal || destination.IsLoopback)
        {
            nic = sourceInterface ?? first;
            return !destination.IsLoopback || IsConfigured6(destination);
        }

        int best = -1;
        foreach (NetworkInterface candidate in _interfaces)
        {
            if (candidate.Ipv6 is { Operational: true } v6 && v6.IsOnLink(destination, out int length) && length > best)
            {
                best = length;
                nic = candidate;
            }
        }

        if (nic is not null)
        {
            return true;
        }

        foreach (NetworkInterface candidate in sourceInterface is null ? _interfaces : [sourceInterface, .. _interfaces])
        {
            if (candidate.Ipv6 is { Operational: true } v6 && v6.DefaultRouter() is { } router)
            {
                nic = candidate;
                nextHop = router;
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Frames and sends the IPv6 packet at offset 14 of the frame buffer; with
    /// <paramref name="tcpSegmentSize"/>, a TCP super-segment (no extension headers) for the
    /// device to cut, its checksum left partial.
    /// </summary>
    private IpSendResult Transmit6(NetworkInterface nic, Ipv6Address nextHop, Ipv6Address destination, Ipv6Address source, int length, ushort tcpSegmentSize = 0)
    {
        int link = nic.IsEthernet ? EthernetHeaderLength : 0;
        PacketOffload offload = tcpSegmentSize == 0 ? default : new PacketOffload
        {
            Checksum = ChecksumState.Partial,
            ChecksumStart = (ushort)(link + Ipv6Header.FixedLength),
            ChecksumOffset = 16, // RFC 9293 3.1
            Segmentation = SegmentationKind.TcpV6,
            SegmentSize = tcpSegmentSize,
        };
        if (!nic.IsEthernet)
        {
            return SendFrame(nic, _frameBuffer.AsSpan(EthernetHeaderLength, length), offload) ? IpSendResult.Sent : IpSendResult.QueueFull;
        }

        MacAddress mac;
        if (destination.IsMulticast)
        {
            mac = MulticastMac(destination);
        }
        else if (!nic.Neighbors!.TryResolve(nextHop, out mac))
        {
            if (tcpSegmentSize != 0)
            {
                // The neighbour queue sends plain frames later: a super-segment waits for nobody (TCP resends it).
                Counters.SendDrop(DropReason.NeighborQueueFull);
                return IpSendResult.QueueFull;
            }

            return nic.Neighbors.Enqueue(nextHop, source, _frameBuffer.AsSpan(EthernetHeaderLength, length));
        }

        Span<byte> frame = _frameBuffer.AsSpan(0, EthernetHeaderLength + length);
        WriteEthernetHeader(nic, mac, EtherType.Ipv6, frame);
        return SendFrame(nic, frame, offload) ? IpSendResult.Sent : IpSendResult.QueueFull;
    }

    /// <summary>RFC 2464 7: 33:33 and the low 32 bits of the group address.</summary>
    internal static MacAddress MulticastMac(Ipv6Address group) =>
        MacAddress.Create(0x33, 0x33, group[12], group[13], group[14], group[15]);

    /// <summary>
    /// The flow label this stack puts on IPv6 packets of a flow (RFC 6437; see
    /// <see cref="FlowLabel(Ipv6Address, Ipv6Address, IpProtocol, ReadOnlySpan{byte})"/>): for tools
    /// and tests that build packets this stack would recognise as its own.
    /// </summary>
    /// <param name="source">Our address.</param>
    /// <param name="destination">The peer's.</param>
    /// <param name="protocol">The upper-layer protocol.</param>
    /// <param name="sourcePort">Our port (TCP and UDP; otherwise ignored).</param>
    /// <param name="destinationPort">The peer's port.</param>
    /// <returns>The 20-bit label.</returns>
    public uint Ipv6FlowLabel(Ipv6Address source, Ipv6Address destination, IpProtocol protocol, ushort sourcePort, ushort destinationPort)
    {
        Span<byte> ports = stackalloc byte[4];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(ports, sourcePort);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(ports[2..], destinationPort);
        return FlowLabel(source, destination, protocol, ports);
    }

    /// <summary>
    /// RFC 6437 3: a flow label from a keyed hash of the flow (addresses, protocol and, for TCP and
    /// UDP, the ports), stable for the flow, unpredictable off-path, never 0. Packet too big
    /// messages are checked against it (<see cref="OnPacketTooBig"/>).
    /// </summary>
    internal uint FlowLabel(Ipv6Address source, Ipv6Address destination, IpProtocol protocol, ReadOnlySpan<byte> upperLayer)
    {
        Span<byte> input = stackalloc byte[16 + 16 + 1 + 4];
        ((ReadOnlySpan<byte>)source).CopyTo(input);
        ((ReadOnlySpan<byte>)destination).CopyTo(input[16..]);
        input[32] = (byte)protocol;
        if (protocol is IpProtocol.Tcp or IpProtocol.Udp && upperLayer.Length >= 4)
        {
            upperLayer[..4].CopyTo(input[33..]);
        }
        else
        {
            input[33..].Clear();
        }

        uint label = (uint)_flowHash.Hash(input) & 0xf_ffff;
        return label == 0 ? 1u : label;
    }

    /// <summary>
    /// RFC 7739 5.3: a fragment identification that an off-path attacker cannot predict: a
    /// counter plus a keyed hash of the addresses, so it also varies between destinations.
    /// </summary>
    private uint NextFragmentId(Ipv6Address source, Ipv6Address destination)
    {
        Span<byte> input = stackalloc byte[32];
        ((ReadOnlySpan<byte>)source).CopyTo(input);
        ((ReadOnlySpan<byte>)destination).CopyTo(input[16..]);
        return unchecked((uint)_fragmentIdHash.Hash(input) + ++_fragmentIdCounter);
    }

    private IpSendResult EnqueueLoopback6(Ipv6Address destination, ReadOnlySpan<byte> packet)
    {
        if (_loopbackQueue.Count >= Options.LoopbackQueueCapacity)
        {
            Counters.SendDrop(DropReason.LoopbackQueueFull);
            return IpSendResult.QueueFull;
        }

        NetworkInterface? owner = null;
        foreach (NetworkInterface candidate in _interfaces)
        {
            if (candidate.Ipv6?.Find(destination) is not null || (owner is null && candidate.HasIpv6))
            {
                owner = candidate;
            }
        }

        _loopbackQueue.Enqueue((owner!, packet.ToArray()));
        return IpSendResult.Sent;
    }

    /// <summary>
    /// Sends an ICMPv6 or neighbour discovery message built by the stack with a fixed hop limit,
    /// bypassing routing: to a multicast group (its MAC), or to a unicast neighbour whose MAC is
    /// given; with <paramref name="routerAlert"/>, a Hop-by-Hop header with Router Alert (MLD, RFC 3810 5).
    /// </summary>
    internal bool SendIcmpv6Direct(NetworkInterface nic, Ipv6Address source, Ipv6Address destination, MacAddress? unicastMac, ReadOnlySpan<byte> message, byte hopLimit, bool routerAlert = false)
    {
        Span<byte> hopByHop = stackalloc byte[8];
        scoped ReadOnlySpan<byte> extensions = default;
        IpProtocol first = IpProtocol.Icmpv6;
        if (routerAlert)
        {
            // RFC 2711: Router Alert, value 0 (MLD), then PadN of 2.
            hopByHop[0] = (byte)IpProtocol.Icmpv6;
            hopByHop[1] = 0;
            hopByHop[2] = (byte)Ipv6OptionType.RouterAlert;
            hopByHop[3] = 2;
            hopByHop[4] = 0;
            hopByHop[5] = 0;
            hopByHop[6] = (byte)Ipv6OptionType.PadN;
            hopByHop[7] = 0;
            extensions = hopByHop;
            first = IpProtocol.HopByHop;
        }

        var header = new Ipv6Header { NextHeader = first, HopLimit = hopLimit, Source = source, Destination = destination };
        int length = Ipv6Packet.Write(_ndpFrame.AsSpan(EthernetHeaderLength), header, extensions, message);
        Counters.Ipv6Sent++;
        Counters.Icmpv6Out[message[0]]++;
        if (!nic.IsEthernet)
        {
            return SendFrame(nic, _ndpFrame.AsSpan(EthernetHeaderLength, length));
        }

        MacAddress mac = destination.IsMulticast ? MulticastMac(destination) : unicastMac ?? default;
        return SendEthernet(nic, mac, EtherType.Ipv6, _ndpFrame.AsSpan(0, EthernetHeaderLength + length));
    }
}
