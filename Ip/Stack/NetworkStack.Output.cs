using System.Buffers.Binary;
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

        uint destination = request.Destination.ToIpv4().ToUInt32();
        Ipv4Address? requestedSource = request.Source is { } r ? r.ToIpv4() : null;
        if (!TryRoute(destination, requestedSource, out NetworkInterface? nic, out uint nextHop))
        {
            Counters.SendDrop(DropReason.NoRoute);
            return IpSendResult.NoRoute;
        }

        uint source = requestedSource is { } s ? s.ToUInt32() : nic.AddressValue;

        // RFC 1122 3.2.1.3: a host sends from its own addresses (0.0.0.0 only while initialising).
        if (source != 0 && !IsOurAddress(source))
        {
            Counters.SendDrop(DropReason.BadSourceAddress);
            return IpSendResult.Dropped;
        }

        int totalLength = Ipv4Header.FixedLength + payload.Length;
        if (totalLength > ushort.MaxValue)
        {
            Counters.SendDrop(DropReason.TooBig);
            return IpSendResult.MessageTooBig;
        }

        bool loopback = IsOurAddress(destination);
        int mtu = loopback ? ushort.MaxValue : nic.Mtu;
        if (totalLength > mtu && request.DontFragment)
        {
            // RFC 791 2.3 / RFC 1191: DF forbids fragmentation; the sender learns the MTU.
            Counters.SendDrop(DropReason.TooBig);
            return IpSendResult.MessageTooBig;
        }

        // RFC 1122 3.2.1.7: never send TTL 0.
        byte ttl = request.Ttl is { } t and not 0 ? t : Options.DefaultTtl;
        var header = new Ipv4Header
        {
            Dscp = (byte)(request.Tos >> 2),
            Ecn = (byte)(request.Tos & 3),
            Identification = NextIdentification(source, destination, request.Protocol),
            DontFragment = request.DontFragment,
            Ttl = ttl == 0 ? (byte)64 : ttl,
            Protocol = request.Protocol,
            Source = Ipv4Address.FromUInt32(source),
            Destination = Ipv4Address.FromUInt32(destination),
        };

        if (totalLength <= mtu)
        {
            Span<byte> datagram = _frameBuffer.AsSpan(EthernetHeaderLength, totalLength);
            Ipv4Packet.Write(datagram, header, default, payload);
            Counters.DatagramsSent++;
            return loopback ? EnqueueLoopback(destination, datagram) : Transmit(nic, nextHop, destination);
        }

        // RFC 791 2.3 and 3.2: cut the datagram into fragments that fit the interface MTU; each
        // is framed (and ARP-queued) like a datagram of its own.
        FragmentationStatus status = Ipv4Fragmenter.TryCreate(header, default, payload, mtu, out Ipv4Fragmenter fragmenter);
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
            IpSendResult one = Transmit(nic, nextHop, destination);
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
                    if (candidate.Address == s)
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

        int best = -1;
        foreach (NetworkInterface candidate in _interfaces)
        {
            if (candidate.HasIpv4 && (destination & candidate.MaskValue) == candidate.NetworkValue && candidate.PrefixLength > best)
            {
                best = candidate.PrefixLength;
                nic = candidate;
            }
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

    /// <summary>Frames and sends the datagram in the frame buffer (at offset 14) to <paramref name="nextHop"/> on <paramref name="nic"/>.</summary>
    private IpSendResult Transmit(NetworkInterface nic, uint nextHop, uint destination)
    {
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(_frameBuffer.AsSpan(EthernetHeaderLength + 2));
        if (!nic.IsEthernet)
        {
            return SendFrame(nic, _frameBuffer.AsSpan(EthernetHeaderLength, totalLength)) ? IpSendResult.Sent : IpSendResult.QueueFull;
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
            return nic.Arp.Enqueue(nextHop, _frameBuffer.AsSpan(EthernetHeaderLength, totalLength));
        }

        return SendEthernet(nic, mac, EtherType.Ipv4, totalLength) ? IpSendResult.Sent : IpSendResult.QueueFull;
    }

    /// <summary>Writes the Ethernet header in front of the <paramref name="payloadLength"/> bytes at offset 14 of the frame buffer and sends the frame.</summary>
    internal bool SendEthernet(NetworkInterface nic, MacAddress destination, EtherType etherType, int payloadLength) =>
        SendEthernet(nic, destination, etherType, _frameBuffer.AsSpan(0, EthernetHeaderLength + payloadLength));

    /// <summary>Writes the Ethernet header into the first 14 bytes of <paramref name="frame"/> and sends it.</summary>
    internal bool SendEthernet(NetworkInterface nic, MacAddress destination, EtherType etherType, Span<byte> frame)
    {
        ((ReadOnlySpan<byte>)destination).CopyTo(frame);
        MacAddress source = nic.HardwareAddress;
        ((ReadOnlySpan<byte>)source).CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], (ushort)etherType);
        return SendFrame(nic, frame);
    }

    /// <summary>The frame buffer's payload area (after the Ethernet header), for building a frame in place.</summary>
    internal Span<byte> FramePayloadBuffer => _frameBuffer.AsSpan(EthernetHeaderLength);

    internal bool SendFrame(NetworkInterface nic, ReadOnlySpan<byte> frame)
    {
        if (!nic.Device.TrySend(frame))
        {
            Counters.SendDrop(DropReason.DeviceQueueFull);
            return false;
        }

        Counters.FramesSent++;
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
}
