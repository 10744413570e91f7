using System.Buffers.Binary;
using Protocols.Ip.Devices;
using Protocols.Ip.Fragmentation;
using Protocols.Wire;

namespace Protocols.Ip;

public sealed partial class NetworkStack
{
    private readonly List<StaticRoute> _routes = [];

    // Where a forwarded datagram too big for its next hop is copied before it is cut into
    // fragments (the fragments are written into the frame buffer). Made on first use.
    private byte[]? _forwardBuffer;
    private IDatagramTranslator? _translator;

    /// <summary>The static routes, in the order added.</summary>
    public IReadOnlyList<StaticRoute> Routes => _routes;

    /// <summary>
    /// Adds a static route (RFC 1812 5.2.4.3). Call before the loop runs (or on it).
    /// </summary>
    /// <param name="prefix">The destination prefix; its host bits are ignored.</param>
    /// <param name="prefixLength">0 to 32 (0: a default route).</param>
    /// <param name="gateway">The next hop, on the subnet of one of the interfaces; null for a route straight onto <paramref name="nic"/>'s link.</param>
    /// <param name="nic">The interface; null to take the one whose subnet holds <paramref name="gateway"/>.</param>
    /// <returns>The route.</returns>
    /// <exception cref="ArgumentException">Neither an interface nor a gateway on a subnet of one is given, or the interface has no IPv4 address.</exception>
    public StaticRoute AddRoute(Ipv4Address prefix, int prefixLength, Ipv4Address? gateway, NetworkInterface? nic = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(prefixLength, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 32);
        if (nic is null && gateway is { } gw)
        {
            nic = _interfaces.FirstOrDefault(candidate => candidate.IsOnLink(gw));
        }

        if (nic is null || (gateway is { } g && !nic.IsOnLink(g)))
        {
            throw new ArgumentException($"No interface has {(gateway?.ToString() ?? "the route's next hop")} on its subnet.", nameof(gateway));
        }

        if (!nic.HasIpv4)
        {
            throw new ArgumentException($"{nic.Name} has no IPv4 address: static routes are IPv4.", nameof(nic));
        }

        uint mask = prefixLength == 0 ? 0u : uint.MaxValue << (32 - prefixLength);
        var route = new StaticRoute(Ipv4Address.FromUInt32(prefix.ToUInt32() & mask), prefixLength, gateway, nic);
        _routes.Add(route);
        return route;
    }

    /// <summary>The translator set with <see cref="SetTranslator"/>, or null.</summary>
    public IDatagramTranslator? Translator => _translator;

    /// <summary>
    /// Sets the translator (a NAT) that sees the datagrams the stack forwards and those to the
    /// addresses it owns. One per stack; a set-up call (before the loop runs, or on it).
    /// </summary>
    /// <exception cref="InvalidOperationException">A translator is already set.</exception>
    public void SetTranslator(IDatagramTranslator translator)
    {
        ArgumentNullException.ThrowIfNull(translator);
        if (_translator is not null)
        {
            throw new InvalidOperationException("The stack already has a translator.");
        }

        _translator = translator;
    }

    /// <summary>True when ARP on <paramref name="nic"/> should answer for <paramref name="address"/> besides the interface's own.</summary>
    internal bool AnswersArpFor(NetworkInterface nic, uint address) => _translator?.OwnsAddress(nic, address) == true;

    /// <summary>True when a datagram to <paramref name="destination"/> arriving on <paramref name="nic"/> is the forwarding path's (not a local delivery, not a drop).</summary>
    private bool IsForwardingCandidate(NetworkInterface nic, uint destination) =>
        Options.Forwarding ? !IsOurAddress(destination) || _translator?.OwnsAddress(nic, destination) == true
        : _translator?.OwnsAddress(nic, destination) == true;

    /// <summary>
    /// A datagram not addressed to us (or to an address the translator owns), validated: the router
    /// (RFC 1812 5.2, 5.3). Fragments are forwarded as they are, unless a translator is set: it
    /// needs whole datagrams, so they are reassembled here first (and cut again on the way out).
    /// </summary>
    private void ForwardInput(NetworkInterface nic, in Ipv4Header.Reader ip, bool linkBroadcast, bool deviceVerified, bool checksumPartial)
    {
        uint source = ip.Source.ToUInt32();
        uint destination = ip.Destination.ToUInt32();

        // RFC 1812 5.3.4: a datagram received as a link-layer broadcast is not forwarded.
        if (linkBroadcast)
        {
            Counters.Drop(DropReason.LinkBroadcastNotForwarded);
            return;
        }

        // RFC 1812 5.3.7: never forward to or from a martian address: 0/8, 127/8, 224/4 (this router
        // routes no multicast), 240/4 and the limited broadcast, or a directed broadcast of an
        // attached subnet (RFC 1812 5.3.5.2: off by default, as RFC 2644 asks).
        if (!IsValidUnicast(destination) || IsSubnetBroadcast(destination))
        {
            Counters.Drop(DropReason.MartianDestination);
            return;
        }

        if (!IsValidUnicast(source) || IsSubnetBroadcast(source) || IsOurAddress(source))
        {
            Counters.Drop(DropReason.MartianSource);
            return;
        }

        if (_translator is not null && (ip.MoreFragments || ip.FragmentOffset != 0))
        {
            Counters.FragmentsReceived++;
            OnFragment(nic, ip, broadcast: false, forward: true);
            return;
        }

        ForwardWhole(nic, ip.Bytes, ip.HeaderLength, deviceVerified, checksumPartial);
    }

    /// <summary>
    /// Forwards one datagram (or a fragment, without a translator): translate it, check its TTL,
    /// route it, decrement the TTL, fragment it or report the next-hop MTU, transmit it. The
    /// datagram is copied once, into the frame buffer it leaves from; its checksums are updated in
    /// place (RFC 1624). Nothing is allocated.
    /// </summary>
    private void ForwardWhole(NetworkInterface input, ReadOnlySpan<byte> original, int headerLength, bool deviceVerified, bool checksumPartial)
    {
        int length = original.Length;
        Span<byte> datagram = FramePayloadBuffer[..length];
        original.CopyTo(datagram);
        if (checksumPartial)
        {
            // From the local kernel through an offloading device: the TCP/UDP checksum holds only
            // the pseudo-header sum. It leaves by another device, so it is completed here first
            // (and then updated incrementally like any other).
            CompleteTransportChecksum(datagram, headerLength);
        }

        bool translatedBothWays = false;
        bool ours = IsOurAddress(BinaryPrimitives.ReadUInt32BigEndian(original[16..]));
        if (_translator is { } translator)
        {
            switch (translator.Prerouting(input, datagram, out DropReason reason))
            {
                case PreroutingVerdict.Drop:
                    Counters.Drop(reason);
                    return;
                case PreroutingVerdict.NotTranslated when ours:
                    // To the stack itself (a ping of the outside address, a reply to our own query).
                    DeliverLocally(input, original, deviceVerified);
                    return;
                case PreroutingVerdict.NotTranslated when !Options.Forwarding:
                    Counters.Drop(DropReason.NotForUs);
                    return;
                case PreroutingVerdict.TranslatedBothWays:
                    translatedBothWays = true;
                    break;
            }
        }
        else if (ours)
        {
            DeliverLocally(input, original, deviceVerified);
            return;
        }

        // RFC 1812 5.3.1: a datagram whose TTL would reach zero is discarded with a time exceeded
        // (code 0) quoting it as received.
        if (original[8] <= 1)
        {
            Counters.Drop(DropReason.TtlExpired);
            SendIcmpError(input, original, broadcast: false, IcmpType.TimeExceeded, (byte)IcmpTimeExceededCode.TtlExceeded, 0);
            return;
        }

        uint destination = BinaryPrimitives.ReadUInt32BigEndian(datagram[16..]);
        if (!TryRoute(destination, null, out NetworkInterface? output, out uint nextHop) || IsOurAddress(destination))
        {
            // RFC 1812 5.2.7.1: no route: destination unreachable, network unreachable.
            Counters.Drop(DropReason.NoRoute);
            SendIcmpError(input, original, broadcast: false, IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.NetUnreachable, 0);
            return;
        }

        if (!translatedBothWays && _translator is { } t && !t.Postrouting(input, output, datagram, out DropReason dropped))
        {
            Counters.Drop(dropped);
            return;
        }

        // RFC 1812 5.3.1: decrement the TTL; RFC 1624: update the header checksum for that word only.
        var writer = new Ipv4Header.Writer(datagram);
        writer.SetTtlUpdatingChecksum((byte)(original[8] - 1));

        if (length > output.Mtu)
        {
            // Larger than the link it came in on: not a datagram a host sent but a TCP super-segment
            // an offload made (GRO on receive, TSO handed over by a veth or TUN peer). As Linux's GSO
            // on the forwarding path, it is cut into segments that fit, not refused.
            if (length > input.Mtu && datagram[9] == (byte)IpProtocol.Tcp
                && (ForwardSuperSegment(output, nextHop, destination, length) || ForwardResegmented(output, nextHop, destination, length)))
            {
                return;
            }

            // RFC 1812 5.2.6 / RFC 1191 4: DF set: fragmentation needed, with the next-hop MTU.
            if ((datagram[6] & 0x40) != 0)
            {
                Counters.Drop(DropReason.FragmentationNeeded);
                SendIcmpError(input, original, broadcast: false, IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.FragmentationNeeded, (uint)(ushort)output.Mtu);
                return;
            }

            ForwardFragmented(output, nextHop, destination, length);
            return;
        }

        Counters.ForwardedDatagrams++;
        Transmit(output, nextHop, destination, _frameBuffer, EthernetHeaderLength);
    }

    /// <summary>Computes the TCP or UDP checksum of a whole datagram from scratch (its field held a partial sum).</summary>
    private static void CompleteTransportChecksum(Span<byte> datagram, int headerLength)
    {
        var protocol = (IpProtocol)datagram[9];
        Span<byte> transport = datagram[headerLength..];
        int field = protocol == IpProtocol.Tcp ? 16 : protocol == IpProtocol.Udp ? 6 : -1;
        if (field < 0 || transport.Length < field + 2)
        {
            return;
        }

        transport[field] = transport[field + 1] = 0;
        uint pseudo = Checksum.PseudoHeaderSum(Ipv4Address.Create(datagram[12..]), Ipv4Address.Create(datagram[16..]), (byte)protocol, transport.Length);
        ushort sum = Checksum.Compute(transport, pseudo);

        // RFC 768: a computed UDP checksum of zero is sent as all ones.
        BinaryPrimitives.WriteUInt16BigEndian(transport[field..], protocol == IpProtocol.Udp && sum == 0 ? (ushort)0xffff : sum);
    }

    /// <summary>RFC 791 2.3, RFC 1812 5.2.6: cuts the translated datagram in the frame buffer into fragments for <paramref name="output"/>.</summary>
    private void ForwardFragmented(NetworkInterface output, uint nextHop, uint destination, int length)
    {
        byte[] whole = _forwardBuffer ??= new byte[ushort.MaxValue];
        FramePayloadBuffer[..length].CopyTo(whole);
        if (Ipv4Fragmenter.TryCreateFromDatagram(whole.AsSpan(0, length), output.Mtu, out Ipv4Fragmenter fragmenter) != FragmentationStatus.Success)
        {
            Counters.Drop(DropReason.Malformed);
            return;
        }

        Counters.ForwardedDatagrams++;
        while (fragmenter.TryWriteNext(FramePayloadBuffer, out _))
        {
            Counters.FragmentsSent++;
            if (Transmit(output, nextHop, destination, _frameBuffer, EthernetHeaderLength) == IpSendResult.QueueFull)
            {
                // The rest would be useless without this piece.
                return;
            }
        }
    }

    /// <summary>
    /// Hands the TCP super-segment in the frame buffer to an output device that cuts super-segments
    /// itself (TSO), with its checksum left partial as the device expects (virtio 1.2 5.1.6.2: the
    /// pseudo-header sum, not complemented) and the segment size that fits the device's MTU.
    /// False when the device cannot, or the next hop is not resolved yet.
    /// </summary>
    private bool ForwardSuperSegment(NetworkInterface output, uint nextHop, uint destination, int length)
    {
        if ((output.Device.Capabilities & DeviceCapabilities.TcpSegmentationV4) == 0 || (output.IsEthernet && !output.Arp!.TryResolve(nextHop, out _)))
        {
            return false;
        }

        Span<byte> frame = FramePayloadBuffer;
        int ipHeader = (frame[0] & 0x0f) * 4;
        int tcpHeader = length >= ipHeader + 20 ? (frame[ipHeader + 12] >> 4) * 4 : 0;
        int mss = output.Mtu - ipHeader - tcpHeader;
        if (tcpHeader < 20 || ipHeader + tcpHeader > length || mss < 8 || mss > ushort.MaxValue)
        {
            return false;
        }

        Span<byte> tcp = frame[ipHeader..length];
        uint pseudo = Checksum.PseudoHeaderSum(Ipv4Address.Create(frame[12..]), Ipv4Address.Create(frame[16..]), (byte)IpProtocol.Tcp, tcp.Length);
        BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], (ushort)Checksum.Fold(pseudo));
        Counters.ForwardedDatagrams++;
        Counters.ForwardResegmented++;
        Transmit(output, nextHop, destination, _frameBuffer, EthernetHeaderLength, (ushort)mss);
        return true;
    }

    /// <summary>
    /// Cuts the TCP super-segment in the frame buffer into segments that fit <paramref name="output"/>:
    /// each with the IP and TCP headers copied (options included), its own total length,
    /// identification and sequence number, FIN and PSH only on the last, CWR only on the first, and
    /// both checksums computed. False when the headers leave no room (the caller refuses it then).
    /// </summary>
    private bool ForwardResegmented(NetworkInterface output, uint nextHop, uint destination, int length)
    {
        Span<byte> frame = FramePayloadBuffer;
        int ipHeader = (frame[0] & 0x0f) * 4;
        if (length < ipHeader + 20)
        {
            return false;
        }

        int tcpHeader = (frame[ipHeader + 12] >> 4) * 4;
        int headers = ipHeader + tcpHeader;
        int mss = output.Mtu - headers;
        if (tcpHeader < 20 || headers > length || mss < 8)
        {
            return false;
        }

        byte[] whole = _forwardBuffer ??= new byte[ushort.MaxValue];
        frame[..length].CopyTo(whole);
        ReadOnlySpan<byte> source = whole.AsSpan(0, length);
        ReadOnlySpan<byte> payload = source[headers..];
        uint seq = BinaryPrimitives.ReadUInt32BigEndian(source[(ipHeader + 4)..]);
        ushort identification = BinaryPrimitives.ReadUInt16BigEndian(source[4..]);
        byte flags = source[ipHeader + 13];
        var from = Ipv4Address.Create(source[12..]);
        var to = Ipv4Address.Create(source[16..]);
        Counters.ForwardedDatagrams++;
        Counters.ForwardResegmented++;
        for (int offset = 0, index = 0; offset < payload.Length; offset += mss, index++)
        {
            int chunk = Math.Min(mss, payload.Length - offset);
            bool last = offset + chunk >= payload.Length;
            Span<byte> segment = frame[..(headers + chunk)];
            source[..headers].CopyTo(segment);
            payload.Slice(offset, chunk).CopyTo(segment[headers..]);
            BinaryPrimitives.WriteUInt16BigEndian(segment[2..], (ushort)segment.Length);
            BinaryPrimitives.WriteUInt16BigEndian(segment[4..], unchecked((ushort)(identification + index)));
            segment[10] = segment[11] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(segment[10..], Checksum.Compute(segment[..ipHeader]));
            Span<byte> tcp = segment[ipHeader..];
            BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], unchecked(seq + (uint)offset));

            // TCP flags: FIN 0x01 and PSH 0x08 end the super-segment; CWR 0x80 starts it.
            tcp[13] = (byte)(flags & ~(last ? 0 : 0x09) & ~(index == 0 ? 0 : 0x80));
            tcp[16] = tcp[17] = 0;
            uint pseudo = Checksum.PseudoHeaderSum(from, to, (byte)IpProtocol.Tcp, tcp.Length);
            BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], Checksum.Compute(tcp, pseudo));
            if (Transmit(output, nextHop, destination, _frameBuffer, EthernetHeaderLength) == IpSendResult.QueueFull)
            {
                return true;
            }
        }

        return true;
    }

    /// <summary>A whole datagram that went through the forwarding path but is for the stack itself.</summary>
    private void DeliverLocally(NetworkInterface nic, ReadOnlySpan<byte> datagram, bool deviceVerified)
    {
        // Validated on input already; read again here since the forwarding path carries only its bytes.
        if (!Ipv4Header.TryRead(datagram, out Ipv4Header.Reader ip, out WireError error))
        {
            DropInvalid(nic, in error);
            return;
        }

        if (ip.MoreFragments || ip.FragmentOffset != 0)
        {
            Counters.FragmentsReceived++;
            OnFragment(nic, ip, broadcast: false, forward: false);
            return;
        }

        Deliver(nic, ip, broadcast: false, deviceVerified);
    }
}
