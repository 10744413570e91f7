using System.Buffers.Binary;
using Protocols.Ip.Devices;
using Protocols.Ip.Fragmentation;
using Protocols.Wire;

namespace Protocols.Ip;

public sealed partial class NetworkStack
{
    private const int IdentBuckets = 2048;
    private const int EthernetHeaderLength = EthernetHeader.FixedLength;

    // One frame under construction: Ethernet header space, then the IP datagram or packet (an IPv6
    // packet is its 40-byte header and up to 65535 bytes). Only the loop touches it, and nothing
    // calls out of the stack while a frame is being built.
    private readonly byte[] _frameBuffer = new byte[EthernetHeaderLength + Ipv6Header.FixedLength + ushort.MaxValue];
    private readonly Queue<(NetworkInterface Nic, byte[] Datagram)> _loopbackQueue = new();
    private readonly ushort[] _identCounters;
    private NetworkInterface? _inPlace;
    private readonly uint _identSecret;

    /// <summary>
    /// Sends one datagram: routes it, picks its identification, fragments it to the interface MTU
    /// when allowed, fills the header checksum and frames it (resolving the next hop with ARP on
    /// Ethernet). Runs on the loop. The transport has already filled its own checksum.
    /// </summary>
    /// <param name="request">The header fields.</param>
    /// <param name="payload">The transport segment; copied before the call returns.</param>
    /// <returns>What happened; every result but <see cref="IpSendResult.Sent"/> and <see cref="IpSendResult.Queued"/> is counted as a send drop.</returns>
    public IpSendResult SendDatagram(in IpSendRequest request, ReadOnlySpan<byte> payload)
    {
        if (request.Source is { } requested && requested.IsIpv6 != request.Destination.IsIpv6)
        {
            Counters.SendDrop(DropReason.BadSourceAddress);
            return IpSendResult.Dropped;
        }

        if (request.Destination.IsIpv6)
        {
            return SendIpv6(in request, payload);
        }

        IpSendResult verdict = Prepare(in request, payload.Length, out Route route);
        if (verdict != IpSendResult.Sent)
        {
            return verdict;
        }

        if (route.TotalLength <= route.Mtu)
        {
            Span<byte> datagram = _frameBuffer.AsSpan(EthernetHeaderLength, route.TotalLength);
            Ipv4Packet.Write(datagram, route.Header, default, payload);
            Counters.DatagramsSent++;
            if (route.Loopback && request.TcpSegmentSize != 0)
            {
                // To ourselves nothing cuts the super-segment: it stays whole, with its checksum finished here.
                SoftwareChecksum.CompletePartial(datagram, Ipv4Header.FixedLength, 16);
            }

            return route.Loopback ? EnqueueLoopback(route.Destination, datagram) : Transmit(route.Nic, route.NextHop, route.Destination, _frameBuffer, EthernetHeaderLength, request.TcpSegmentSize);
        }

        // RFC 791 2.3 and 3.2: cut the datagram into fragments that fit the interface MTU; each
        // is framed (and ARP-queued) like a datagram of its own.
        FragmentationStatus status = Ipv4Fragmenter.TryCreate(route.Header, default, payload, route.Mtu, out Ipv4Fragmenter fragmenter);
        if (status != FragmentationStatus.Success)
        {
            Counters.SendDrop(DropReason.TooBig);
            return IpSendResult.MessageTooBig;
        }

        Counters.DatagramsSent++;
        IpSendResult result = IpSendResult.Sent;
        while (fragmenter.TryWriteNext(_frameBuffer.AsSpan(EthernetHeaderLength), out _))
        {
            Counters.FragmentsSent++;
            IpSendResult one = Transmit(route.Nic, route.NextHop, route.Destination, _frameBuffer, EthernetHeaderLength);
            if (one == IpSendResult.QueueFull)
            {
                // The rest would be useless to the receiver without this piece.
                return one;
            }

            if (one == IpSendResult.Queued)
            {
                result = one;
            }
        }

        return result;
    }

    /// <summary>
    /// Where a transport builds the payload of its next datagram in place, so that sending it with
    /// <see cref="SendDatagramInPlace"/> copies nothing more: in the transmit memory of the device
    /// the datagram will leave by when the device offers it (a batching AF_PACKET device), else
    /// in the stack's own frame buffer (from which TUN writes directly). Runs on the loop; valid
    /// until the next send.
    /// </summary>
    /// <param name="request">The header fields (the route is chosen from them).</param>
    /// <param name="payloadLength">The transport segment's length in bytes.</param>
    /// <returns>Exactly <paramref name="payloadLength"/> bytes to fill.</returns>
    public Span<byte> GetDatagramPayloadBuffer(in IpSendRequest request, int payloadLength)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(payloadLength);
        _inPlace = null;
        if (request.Destination.IsIpv6)
        {
            // IPv6 is built in the frame buffer behind room for its header (SendIpv6 writes the header in front).
            ArgumentOutOfRangeException.ThrowIfGreaterThan(payloadLength, ushort.MaxValue);
            return _frameBuffer.AsSpan(EthernetHeaderLength + Ipv6Header.FixedLength, payloadLength);
        }

        ArgumentOutOfRangeException.ThrowIfGreaterThan(payloadLength, ushort.MaxValue - Ipv4Header.FixedLength);
        if (Prepare(in request, payloadLength, out Route route, count: false) == IpSendResult.Sent && !route.Loopback && route.TotalLength <= route.Mtu)
        {
            int room = route.Nic.IsEthernet ? EthernetHeaderLength : 0;
            Span<byte> space = route.Nic.Device.GetTransmitBuffer();
            if (space.Length >= room + route.TotalLength)
            {
                _inPlace = route.Nic;
                return space.Slice(room + Ipv4Header.FixedLength, payloadLength);
            }
        }

        return _frameBuffer.AsSpan(EthernetHeaderLength + Ipv4Header.FixedLength, payloadLength);
    }

    /// <summary>
    /// Sends the datagram whose payload the transport built in <see cref="GetDatagramPayloadBuffer"/>:
    /// the IPv4 header is written in front of it where it lies, and the frame goes to the device
    /// without another copy. Otherwise like <see cref="SendDatagram"/> (fragmentation, loopback
    /// and ARP queueing copy, as they must keep the datagram).
    /// </summary>
    /// <param name="request">The same header fields as given to <see cref="GetDatagramPayloadBuffer"/>.</param>
    /// <param name="payloadLength">The transport segment's length (what was built).</param>
    /// <returns>What happened, as for <see cref="SendDatagram"/>.</returns>
    public IpSendResult SendDatagramInPlace(in IpSendRequest request, int payloadLength)
    {
        NetworkInterface? inPlace = _inPlace;
        _inPlace = null;
        if (request.Destination.IsIpv6 || (request.Source is { } requested && requested.IsIpv6))
        {
            if (request.Source is { } source && source.IsIpv6 != request.Destination.IsIpv6)
            {
                Counters.SendDrop(DropReason.BadSourceAddress);
                return IpSendResult.Dropped;
            }

            return SendIpv6(in request, _frameBuffer.AsSpan(EthernetHeaderLength + Ipv6Header.FixedLength, payloadLength), payloadInFrameBuffer: true);
        }

        IpSendResult verdict = Prepare(in request, payloadLength, out Route route);
        if (verdict != IpSendResult.Sent)
        {
            return verdict;
        }

        if (inPlace is not null && ReferenceEquals(inPlace, route.Nic) && !route.Loopback && route.TotalLength <= route.Mtu)
        {
            int room = inPlace.IsEthernet ? EthernetHeaderLength : 0;
            Span<byte> space = inPlace.Device.GetTransmitBuffer();
            if (space.Length >= room + route.TotalLength)
            {
                route.Header.WriteTo(space.Slice(room, Ipv4Header.FixedLength));
                Ipv4Header.FillChecksum(space.Slice(room, Ipv4Header.FixedLength));
                Counters.DatagramsSent++;
                return Transmit(route.Nic, route.NextHop, route.Destination, space, room, request.TcpSegmentSize);
            }
        }

        Span<byte> payload = _frameBuffer.AsSpan(EthernetHeaderLength + Ipv4Header.FixedLength, payloadLength);
        if (inPlace is null && route.TotalLength <= route.Mtu)
        {
            Span<byte> datagram = _frameBuffer.AsSpan(EthernetHeaderLength, route.TotalLength);
            route.Header.WriteTo(datagram[..Ipv4Header.FixedLength]);
            Ipv4Header.FillChecksum(datagram[..Ipv4Header.FixedLength]);
            Counters.DatagramsSent++;
            if (route.Loopback && request.TcpSegmentSize != 0)
            {
                // To ourselves nothing cuts the super-segment: it stays whole, with its checksum finished here.
                SoftwareChecksum.CompletePartial(datagram, Ipv4Header.FixedLength, 16);
            }

            return route.Loopback ? EnqueueLoopback(route.Destination, datagram) : Transmit(route.Nic, route.NextHop, route.Destination, _frameBuffer, EthernetHeaderLength, request.TcpSegmentSize);
        }

        if (request.TcpSegmentSize != 0)
        {
            Counters.SendDrop(DropReason.TooBig); // a super-segment is never fragmented
            return IpSendResult.MessageTooBig;
        }

        // Rare: the payload must move (fragments are built in the frame buffer, or the route
        // changed since the buffer was handed out): copy it aside and send it the usual way.
        byte[] aside = System.Buffers.ArrayPool<byte>.Shared.Rent(payloadLength);
        try
        {
            if (inPlace is not null)
            {
                int room = inPlace.IsEthernet ? EthernetHeaderLength : 0;
                payload = inPlace.Device.GetTransmitBuffer().Slice(room + Ipv4Header.FixedLength, payloadLength);
            }

            payload.CopyTo(aside);
            return SendDatagram(in request, aside.AsSpan(0, payloadLength));
        }
        finally
        {
            System.Buffers.ArrayPool<byte>.Shared.Return(aside);
        }
    }

    /// <summary>
    /// The checks and choices every send makes before writing anything: route, source, size, DF,
    /// TTL, identification. Failures are counted as send drops when <paramref name="count"/>.
    /// </summary>
    private IpSendResult Prepare(in IpSendRequest request, int payloadLength, out Route route, bool count = true)
    {
        route = default;
        uint destination = request.Destination.ToIpv4().ToUInt32();
        Ipv4Address? requestedSource = request.Source is { } r ? r.ToIpv4() : null;
        if (!TryRoute(destination, requestedSource, out NetworkInterface? nic, out uint nextHop))
        {
            return Refuse(DropReason.NoRoute, IpSendResult.NoRoute, count);
        }

        uint source = requestedSource is { } s ? s.ToUInt32() : nic.AddressValue;

        // RFC 1122 3.2.1.3: a host sends from its own addresses (0.0.0.0 only while initialising).
        // A transparent interface answers for every address that reached it, so it sends from them.
        if (source != 0 && !IsOurAddress(source) && !nic.AcceptAnyDestination)
        {
            return Refuse(DropReason.BadSourceAddress, IpSendResult.Dropped, count);
        }

        int totalLength = Ipv4Header.FixedLength + payloadLength;
        if (totalLength > ushort.MaxValue)
        {
            return Refuse(DropReason.TooBig, IpSendResult.MessageTooBig, count);
        }

        bool loopback = IsOurAddress(destination);
        int mtu = loopback ? ushort.MaxValue : nic.Mtu;
        if (request.TcpSegmentSize != 0 && !loopback)
        {
            // A super-segment: the device cuts it, each segment within the MTU (checked by the device).
            if (request.Protocol != IpProtocol.Tcp || (nic.Device.Capabilities & DeviceCapabilities.TcpSegmentationV4) == 0
                || totalLength > nic.Device.OffloadStatus.MaxSegmentationLength)
            {
                return Refuse(DropReason.TooBig, IpSendResult.MessageTooBig, count);
            }

            mtu = totalLength;
        }

        if (totalLength > mtu && request.DontFragment)
        {
            // RFC 791 2.3 / RFC 1191: DF forbids fragmentation; the sender learns the MTU.
            return Refuse(DropReason.TooBig, IpSendResult.MessageTooBig, count);
        }

        if (!count)
        {
            route = new Route(nic, nextHop, destination, loopback, mtu, totalLength, default);
            return IpSendResult.Sent;
        }

        // RFC 1122 3.2.1.7: never send TTL 0.
        byte ttl = request.Ttl is { } t and not 0 ? t : Options.DefaultTtl;
        var header = new Ipv4Header
        {
            Version = 4,
            Ihl = Ipv4Header.FixedLength / 4,
            TotalLength = (ushort)totalLength,
            Dscp = (byte)(request.Tos >> 2),
            Ecn = (byte)(request.Tos & 3),
            Identification = NextIdentification(source, destination, request.Protocol),
            DontFragment = request.DontFragment,
            Ttl = ttl == 0 ? (byte)64 : ttl,
            Protocol = request.Protocol,
            Source = Ipv4Address.FromUInt32(source),
            Destination = Ipv4Address.FromUInt32(destination),
        };
        route = new Route(nic, nextHop, destination, loopback, mtu, totalLength, header);
        return IpSendResult.Sent;
    }

    private IpSendResult Refuse(DropReason reason, IpSendResult result, bool count)
    {
        if (count)
        {
            Counters.SendDrop(reason);
        }

        return result;
    }

    /// <summary>
    /// The largest TCP payload a super-segment from <paramref name="source"/> to
    /// <paramref name="destination"/> may carry for the device to cut (TSO), or 0 when the route's
    /// device does not take super-segments (then every segment must fit the MTU).
    /// </summary>
    /// <param name="source">The local address the connection uses.</param>
    /// <param name="destination">The peer.</param>
    /// <returns>Bytes of TCP payload (header room for 20 bytes of IPv4 and 60 of TCP left out), or 0.</returns>
    public int TcpSegmentationLimit(Ipv4Address source, Ipv4Address destination)
    {
        uint d = destination.ToUInt32();
        if (FirstIpv4Interface() is null)
        {
            return 0;
        }

        if (IsOurAddress(d) || !TryRoute(d, source, out NetworkInterface? nic, out _)
            || (nic.Device.Capabilities & DeviceCapabilities.TcpSegmentationV4) == 0)
        {
            return 0;
        }

        return Math.Max(Math.Min(nic.Device.OffloadStatus.MaxSegmentationLength, ushort.MaxValue) - Ipv4Header.FixedLength - 60, 0);
    }

    /// <summary>
    /// The largest TCP payload a super-segment between <paramref name="source"/> and
    /// <paramref name="destination"/> (either family) may carry for the device to cut (TSO), or 0
    /// when the route's device does not take super-segments of that family.
    /// </summary>
    /// <param name="source">The local address the connection uses.</param>
    /// <param name="destination">The peer.</param>
    /// <returns>Bytes of TCP payload (room for the IP header and 60 bytes of TCP left out), or 0.</returns>
    public int TcpSegmentationLimit(IpAddress source, IpAddress destination)
    {
        if (source.IsIpv4 && destination.IsIpv4)
        {
            return TcpSegmentationLimit(source.ToIpv4(), destination.ToIpv4());
        }

        if (source.IsIpv4 || destination.IsIpv4)
        {
            return 0;
        }

        Ipv6Address d = destination.ToIpv6();
        if (IsAssigned6(d) || d.IsLoopback || !TryRoute6(d, source.ToIpv6(), out NetworkInterface? nic, out _)
            || (nic.Device.Capabilities & DeviceCapabilities.TcpSegmentationV6) == 0)
        {
            return 0;
        }

        // RFC 8200 3: the payload length (TCP header and data) is at most 65535 without jumbograms.
        return Math.Max(Math.Min(nic.Device.OffloadStatus.MaxSegmentationLength - Ipv6Header.FixedLength, ushort.MaxValue) - 60, 0);
    }

    /// <summary>The source address a datagram or packet to <paramref name="destination"/> will carry (of its family), or null when there is no route.</summary>
    public IpAddress? RouteSourceFor(IpAddress destination) =>
        destination.TryGetIpv4(out Ipv4Address v4)
            ? (RouteSourceFor(v4) is { } s4 ? s4 : null)
            : (RouteSourceFor6(destination.ToIpv6()) is { } s6 ? s6 : null);

    /// <summary>The source address a datagram to <paramref name="destination"/> will carry, or null when there is no route.</summary>
    public Ipv4Address? RouteSourceFor(Ipv4Address destination)
    {
        uint d = destination.ToUInt32();
        if (IsOurAddress(d))
        {
            return destination;
        }

        return TryRoute(d, null, out NetworkInterface? nic, out _) ? nic.Address : null;
    }

    /// <summary>
    /// The routing decision (RFC 1122 3.3.1): the longest matching on-link prefix across the
    /// interfaces, else the first interface with a gateway. The limited broadcast and multicast go
    /// out of the interface owning <paramref name="source"/>, else the first one.
    /// </summary>
    internal bool TryRoute(uint destination, Ipv4Address? source, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out NetworkInterface? nic, out uint nextHop)
    {
        nic = null;
        nextHop = 0;
        if (FirstIpv4Interface() is not { } firstInterface)
        {
            return false;
        }

        uint first = destination >> 24;
        if (destination == LimitedBroadcast || first is >= 224 and < 240)
        {
            nic = firstInterface;
            if (source is { } s)
            {
                foreach (NetworkInterface candidate in _interfaces)
                {
                    if (candidate.HasIpv4 && candidate.Address == s)
                    {
                        nic = candidate;
                        break;
                    }
                }
            }

            nextHop = destination;
            return true;
        }

        // 0/8, loopback and the reserved 240/4 are never routed (RFC 1122 3.2.1.3).
        if (first is 0 or 127 or >= 240)
        {
            return false;
        }

        // Our own addresses are reached through the loopback queue.
        foreach (NetworkInterface candidate in _interfaces)
        {
            if (candidate.HasIpv4 && candidate.AddressValue == destination)
            {
                nic = candidate;
                nextHop = destination;
                return true;
            }
        }

        // RFC 1812 5.2.4.3: the longest matching prefix among the attached subnets and the static
        // routes; on equal lengths the attached subnet wins (it is the more direct path).
        int best = -1;
        foreach (NetworkInterface candidate in _interfaces)
        {
            if (candidate.HasIpv4 && (destination & candidate.MaskValue) == candidate.NetworkValue && candidate.PrefixLength > best)
            {
                best = candidate.PrefixLength;
                nic = candidate;
            }
        }

        StaticRoute? route = null;
        foreach (StaticRoute candidate in _routes)
        {
            if (candidate.PrefixLength > best && candidate.Matches(destination))
            {
                best = candidate.PrefixLength;
                route = candidate;
            }
        }

        if (route is not null)
        {
            nic = route.Interface;
            nextHop = route.Gateway is { } via ? via.ToUInt32() : destination;
            return true;
        }

        if (nic is not null)
        {
            nextHop = destination;
            return true;
        }

        foreach (NetworkInterface candidate in _interfaces)
        {
            if (candidate.Gateway is { } gateway)
            {
                nic = candidate;
                nextHop = gateway.ToUInt32();
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Frames and sends the datagram at offset <paramref name="room"/> of <paramref name="frame"/>
    /// (the frame buffer, room 14; or a device's transmit space, room 14 on Ethernet and 0 on IP)
    /// to <paramref name="nextHop"/> on <paramref name="nic"/>.
    /// </summary>
    private IpSendResult Transmit(NetworkInterface nic, uint nextHop, uint destination, Span<byte> frame, int room, ushort tcpSegmentSize = 0)
    {
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(frame[(room + 2)..]);
        int link = nic.IsEthernet ? EthernetHeaderLength : 0;
        PacketOffload offload = SegmentationOffload(link, frame[room..], tcpSegmentSize);
        if (!nic.IsEthernet)
        {
            return SendFrame(nic, frame.Slice(room, totalLength), offload) ? IpSendResult.Sent : IpSendResult.QueueFull;
        }

        MacAddress mac;
        if (destination == LimitedBroadcast || (nic.BroadcastValue != 0 && destination == nic.BroadcastValue))
        {
            mac = MacAddress.Broadcast;
        }
        else if (destination >> 28 == 0xe)
        {
            // RFC 1112 6.4: 01:00:5e and the low 23 bits of the group address.
            mac = MacAddress.Create(0x01, 0x00, 0x5e, (byte)((destination >> 16) & 0x7f), (byte)(destination >> 8), (byte)destination);
        }
        else if (!nic.Arp!.TryResolve(nextHop, out mac))
        {
            // A super-segment waits like any datagram, and leaves whole for the device to cut.
            return nic.Arp.Enqueue(nextHop, frame.Slice(room, totalLength), tcpSegmentSize);
        }

        Span<byte> ethernet = frame.Slice(room - EthernetHeaderLength, EthernetHeaderLength + totalLength);
        WriteEthernetHeader(nic, mac, EtherType.Ipv4, ethernet);
        return SendFrame(nic, ethernet, offload) ? IpSendResult.Sent : IpSendResult.QueueFull;
    }

    private NetworkInterface? FirstIpv4Interface()
    {
        foreach (NetworkInterface nic in _interfaces)
        {
            if (nic.HasIpv4)
            {
                return nic;
            }
        }

        return null;
    }

    /// <summary>
    /// Writes the Ethernet header in front of the <paramref name="payloadLength"/> bytes at offset 14 of the frame buffer and sends the frame;
    /// with a <paramref name="tcpSegmentSize"/>, the IPv4 datagram there is a TCP super-segment for the device to cut.
    /// </summary>
    internal bool SendEthernet(NetworkInterface nic, MacAddress destination, EtherType etherType, int payloadLength, ushort tcpSegmentSize = 0) =>
        SendEthernet(nic, destination, etherType, _frameBuffer.AsSpan(0, EthernetHeaderLength + payloadLength), tcpSegmentSize);

    /// <summary>
    /// Writes the Ethernet header into the first 14 bytes of <paramref name="frame"/> and sends it;
    /// with a <paramref name="tcpSegmentSize"/>, the IPv4 datagram after it is a TCP super-segment for the device to cut.
    /// </summary>
    internal bool SendEthernet(NetworkInterface nic, MacAddress destination, EtherType etherType, Span<byte> frame, ushort tcpSegmentSize = 0)
    {
        WriteEthernetHeader(nic, destination, etherType, frame);
        return SendFrame(nic, frame, SegmentationOffload(EthernetHeaderLength, frame[EthernetHeaderLength..], tcpSegmentSize));
    }

    // The per-frame offload of a TCP/IPv4 super-segment (none when tcpSegmentSize is 0): the
    // device finishes the partial TCP checksum and cuts the payload into tcpSegmentSize pieces.
    private static PacketOffload SegmentationOffload(int link, ReadOnlySpan<byte> datagram, ushort tcpSegmentSize) => tcpSegmentSize == 0 ? default : new PacketOffload
    {
        Checksum = ChecksumState.Partial,
        ChecksumStart = (ushort)(link + ((datagram[0] & 0x0f) * 4)),
        ChecksumOffset = 16, // RFC 9293 3.1
        Segmentation = SegmentationKind.TcpV4,
        SegmentSize = tcpSegmentSize,
    };

    private static void WriteEthernetHeader(NetworkInterface nic, MacAddress destination, EtherType etherType, Span<byte> frame)
    {
        ((ReadOnlySpan<byte>)destination).CopyTo(frame);
        MacAddress source = nic.HardwareAddress;
        ((ReadOnlySpan<byte>)source).CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], (ushort)etherType);
    }

    /// <summary>The frame buffer's payload area (after the Ethernet header), for building a frame in place.</summary>
    internal Span<byte> FramePayloadBuffer => _frameBuffer.AsSpan(EthernetHeaderLength);

    internal bool SendFrame(NetworkInterface nic, ReadOnlySpan<byte> frame, in PacketOffload offload = default)
    {
        if (!(offload.IsNone ? nic.Device.TrySend(frame) : nic.Device.TrySend(frame, offload)))
        {
            Counters.SendDrop(DropReason.DeviceQueueFull);
            return false;
        }

        Counters.FramesSent++;
        Counters.BytesSent += frame.Length;
        return true;
    }

    /// <summary>
    /// RFC 6864 4.1: the identification must be unique per (source, destination, protocol) for
    /// as long as a fragmentable datagram can live. Like Linux, a counter per hash bucket of that
    /// triple, the hash keyed by a per-stack secret so identifications are not predictable across
    /// peers (RFC 7739).
    /// </summary>
    private ushort NextIdentification(uint source, uint destination, IpProtocol protocol)
    {
        uint h = (source * 0x9E3779B1u) ^ (destination + _identSecret);
        h ^= (uint)protocol * 0x85EBCA6Bu;
        h ^= h >> 15;
        h *= 0x2C1B3C6Du;
        h ^= h >> 12;
        ref ushort counter = ref _identCounters[h & (IdentBuckets - 1)];
        return ++counter;
    }

    private IpSendResult EnqueueLoopback(uint destination, ReadOnlySpan<byte> datagram)
    {
        if (_loopbackQueue.Count >= Options.LoopbackQueueCapacity)
        {
            Counters.SendDrop(DropReason.LoopbackQueueFull);
            return IpSendResult.QueueFull;
        }

        NetworkInterface owner = FirstIpv4Interface() ?? _interfaces[0];
        foreach (NetworkInterface candidate in _interfaces)
        {
            if (candidate.HasIpv4 && candidate.AddressValue == destination)
            {
                owner = candidate;
                break;
            }
        }

        _loopbackQueue.Enqueue((owner, datagram.ToArray()));
        return IpSendResult.Sent;
    }

    private int DeliverLoopback()
    {
        // Only what is queued now: replies to looped-back datagrams wait for the next poll.
        int count = _loopbackQueue.Count;
        for (int i = 0; i < count; i++)
        {
            (NetworkInterface nic, byte[] datagram) = _loopbackQueue.Dequeue();
            Counters.FramesReceived++;
            if (datagram.Length > 0 && datagram[0] >> 4 == 6)
            {
                OnIpv6Packet(nic, datagram, linkMulticast: false, loopback: true);
            }
            else
            {
                OnIpDatagram(nic, datagram, linkBroadcast: false, loopback: true);
            }
        }

        return count;
    }

    /// <summary>A send's route and header, decided once.</summary>
    private readonly record struct Route(NetworkInterface Nic, uint NextHop, uint Destination, bool Loopback, int Mtu, int TotalLength, Ipv4Header Header);
}
