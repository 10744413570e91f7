using Protocols.Ip.Devices;
using Protocols.Ip.Fragmentation;
using Protocols.Wire;

namespace Protocols.Ip;

public sealed partial class NetworkStack
{
    private readonly byte[] _reassemblyBuffer6 = new byte[Ipv6Header.FixedLength + ushort.MaxValue];
    private readonly Ipv6Reassembler _reassembler6;
    private readonly ExpiredPacketHandler _onExpired6;
    private TimerHandle _reassemblyTimer6;
    private DateTimeOffset _reassemblyTimerDue6;

    /// <summary>
    /// IPv6 input (RFC 8200): the generated reader checks version and payload length (the packet is
    /// trimmed to it), the addresses are checked, the extension chain is walked with its limits,
    /// fragments go to reassembly, and the upper layer gets the packet. Never throws on packet data.
    /// </summary>
    /// <remarks>
    /// <paramref name="transportChecksumTrusted"/>: the device vouched for this frame's TCP/UDP
    /// checksum (partial from the local kernel, or verified); it covers an unfragmented packet's
    /// TCP or UDP checksum only.
    /// </remarks>
    private void OnIpv6Packet(NetworkInterface nic, ReadOnlySpan<byte> frame, bool linkMulticast, bool loopback, bool transportChecksumTrusted = false)
    {
        Counters.Ipv6Received++;
        if (nic.Ipv6 is not { } v6)
        {
            Counters.Drop(DropReason.BadVersion);
            return;
        }

        // RFC 8200 3 through the generated reader: version 6, the fixed header in the frame, the
        // payload length within the frame (bytes after it are link padding). As for IPv4, only a
        // refused packet is read again for its error.
        if (!Ipv6Header.TryRead(frame, out Ipv6Header.Reader ip))
        {
            Ipv6Header.TryRead(frame, out _, out WireError error);
            DropInvalid(nic, in error);
            return;
        }

        ReadOnlySpan<byte> packet = ip.Bytes;
        Ipv6Address source = ip.Source;
        Ipv6Address destination = ip.Destination;

        // RFC 4291 2.7: a multicast address is never a source; 2.5.3: the loopback address never
        // comes from the wire; IPv4-mapped addresses are not used on the wire (RFC 4942 2.1.4);
        // our own address from the wire is not ours to receive (a reflection or a spoof).
        if (source.IsMulticast || source.IsIpv4Mapped
            || (!loopback && (source.IsLoopback || IsAssigned6(source))))
        {
            Counters.Drop(DropReason.BadSourceAddress);
            return;
        }

        // Destination: one of our assigned addresses (weak host model), or a group we listen to.
        bool multicast = destination.IsMulticast;
        bool ours;
        if (multicast)
        {
            ours = v6.Listens(destination);
        }
        else if (loopback)
        {
            ours = IsAssigned6(destination) || destination.IsLoopback;
        }
        else
        {
            ours = IsAssigned6(destination);
            if (!ours && FindAddress6(destination) is { State: Ipv6AddressState.Tentative })
            {
                // RFC 4862 5.4: only neighbour discovery may look at packets to a tentative address.
                if (!IsNeighborDiscovery(packet))
                {
                    Counters.Drop(DropReason.TentativeAddress);
                    return;
                }

                ours = true;
            }
        }

        if (!ours)
        {
            Counters.Drop(DropReason.NotForUs);
            return;
        }

        if (source.IsUnspecified && !IsNeighborDiscoveryOrMld(packet))
        {
            // RFC 4291 2.5.2: the unspecified source only while acquiring an address (DAD, MLD).
            Counters.Drop(DropReason.BadSourceAddress);
            return;
        }

        ProcessIpv6(nic, packet, linkMulticast || multicast, (nic.Device.Capabilities & DeviceCapabilities.ReceiveChecksumsVerified) != 0, transportChecksumTrusted, coalescible: !loopback);
    }

    /// <summary>The extension chain walk and what follows from it, for a received or a reassembled packet.</summary>
    private void ProcessIpv6(NetworkInterface nic, ReadOnlySpan<byte> packet, bool multicast, bool deviceVerified, bool transportChecksumTrusted = false, bool coalescible = false)
    {
        Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(packet, Options.ExtensionHeaderLimits);
        switch (chain.Status)
        {
            case Ipv6ChainStatus.UpperLayer:
                Deliver6(nic, packet, in chain, multicast, deviceVerified || (transportChecksumTrusted && chain.NextHeader is IpProtocol.Tcp or IpProtocol.Udp), coalescible);
                return;
            case Ipv6ChainStatus.Fragment:
                Counters.Ipv6FragmentsReceived++;
                OnFragment6(nic, packet, in chain, multicast);
                return;
            case Ipv6ChainStatus.NoNextHeader:
                Counters.Drop(DropReason.NoNextHeader);
                return;
            case Ipv6ChainStatus.ParameterProblem:
                Counters.Drop(DropReasonFor(chain.Problem));

                // RFC 4443 2.4(e): to a multicast destination only for an unrecognized option whose bits say so (action 10).
                bool allowMulticast = chain.Problem == Ipv6ChainProblem.UnrecognizedOption;
                SendIcmpv6Error(nic, packet, multicast, Icmpv6Type.ParameterProblem, (byte)chain.ParameterProblemCode, (uint)chain.Pointer, allowMulticast);
                return;
            default:
                Counters.Drop(DropReasonFor(chain.Problem));
                return;
        }
    }

    private static DropReason DropReasonFor(Ipv6ChainProblem problem) => problem switch
    {
        Ipv6ChainProblem.UnrecognizedOption => DropReason.UnrecognizedOption,
        Ipv6ChainProblem.UnrecognizedRoutingType => DropReason.RoutingHeader,
        Ipv6ChainProblem.FragmentNotMultipleOf8 or Ipv6ChainProblem.FragmentBeyondMaximum or Ipv6ChainProblem.IncompleteChainInFirstFragment => DropReason.Malformed,
        _ => DropReason.BadExtensionHeaders,
    };

    // RFC 8200 4.5: fragments go to reassembly; the completed packet is walked again.
    private void OnFragment6(NetworkInterface nic, ReadOnlySpan<byte> packet, in Ipv6ExtensionChain chain, bool multicast)
    {
        ReassemblyStatus status = _reassembler6.Offer(packet, in chain, Now, out ReassembledPacket? whole, out ReassemblyDropReason reason);
        switch (status)
        {
            case ReassemblyStatus.Incomplete:
                Counters.Ipv6FragmentsQueued++;
                ArmReassemblyTimer6();
                break;
            case ReassemblyStatus.Dropped:
                Counters.Drop(reason switch
                {
                    ReassemblyDropReason.Overlap => DropReason.ReassemblyOverlap,
                    ReassemblyDropReason.Timeout => DropReason.ReassemblyTimeout,
                    ReassemblyDropReason.Malformed => DropReason.Malformed,
                    _ => DropReason.ReassemblyLimit,
                });
                break;
            default:
                using (ReassembledPacket done = whole!)
                {
                    Counters.Ipv6Reassembled++;
                    int length = done.CopyTo(_reassemblyBuffer6);

                    // Checksums a device verified were per fragment; the transport checks the whole.
                    ProcessIpv6(nic, _reassemblyBuffer6.AsSpan(0, length), multicast, deviceVerified: false);
                }

                break;
        }

        ReassemblyCounters counters = _reassembler6.Counters;
        Counters.Ipv6ReassemblyFailures = counters.Failures;
    }

    private void ArmReassemblyTimer6()
    {
        if (_reassembler6.NextExpiry is not { } due || (_reassemblyTimer6.IsAllocated && _reassemblyTimerDue6 <= due))
        {
            return;
        }

        Timers.Cancel(_reassemblyTimer6);
        _reassemblyTimerDue6 = due;
        _reassemblyTimer6 = Timers.Schedule(due, static stack => stack.OnReassemblyTimer6());
    }

    private void OnReassemblyTimer6()
    {
        _reassemblyTimer6 = default;
        _reassembler6.Expire(Now, _onExpired6);
        ReassemblyCounters counters = _reassembler6.Counters;
        Counters.Ipv6ReassemblyFailures = counters.Failures;
        Counters.Ipv6ReassemblyTimeouts = counters.Timeouts;
        ArmReassemblyTimer6();
    }

    // RFC 8200 4.5: with the first fragment received, a timed-out packet gets time exceeded code 1, quoting that fragment.
    private void OnReassemblyExpired6(in ExpiredPacket expired)
    {
        if (!expired.FirstFragmentSeen || !TryRoute6(expired.Source, null, out NetworkInterface? nic, out _))
        {
            return;
        }

        int length = expired.FirstFragmentHeaders.Length + expired.FirstFragmentData.Length;
        byte[] quote = new byte[Math.Min(length, Icmpv6Message.MaxErrorMessageLength)];
        expired.FirstFragmentHeaders[..Math.Min(expired.FirstFragmentHeaders.Length, quote.Length)].CopyTo(quote);
        if (quote.Length > expired.FirstFragmentHeaders.Length)
        {
            expired.FirstFragmentData[..(quote.Length - expired.FirstFragmentHeaders.Length)].CopyTo(quote.AsSpan(expired.FirstFragmentHeaders.Length));
        }

        SendIcmpv6Error(nic, quote, multicast: false, Icmpv6Type.TimeExceeded, (byte)Icmpv6TimeExceededCode.FragmentReassemblyTimeExceeded, 0, allowMulticast: false);
    }

    /// <summary>Hands a whole, validated packet to ICMPv6 or to the transport of its upper layer.</summary>
    private void Deliver6(NetworkInterface nic, ReadOnlySpan<byte> packet, in Ipv6ExtensionChain chain, bool multicast, bool deviceVerified, bool coalescible = false)
    {
        // Receive coalescing: a unicast packet without extension headers, straight from a device
        // batch, carries the fields a merge must not mix (ipv6_gro_receive compares the first
        // word, version, traffic class and flow label, and the hop limit).
        ulong coalescingKey = 0;
        if (_coalescingBatch && coalescible && !multicast && chain.PayloadOffset == Ipv6Header.FixedLength)
        {
            coalescingKey = CoalescingKeyFlag | CoalescingKeyIpv6
                | ((ulong)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(packet) << 8)
                | packet[7];
            _coalescingKeyGiven = true;
        }

        var source = Ipv6Address.Create(packet[8..]);
        var destination = Ipv6Address.Create(packet[24..]);
        var datagram = new IpDatagram(
            nic,
            packet[..chain.PayloadOffset],
            packet[chain.PayloadOffset..],
            source,
            destination,
            chain.NextHeader,
            packet[7],
            0,
            multicast,
            deviceVerified,
            coalescingKey);

        if (chain.NextHeader == IpProtocol.Icmpv6)
        {
            OnIcmpv6(in datagram, packet);
            return;
        }

        IIpTransport? transport = _transports[(byte)chain.NextHeader];
        if (transport is null)
        {
            // RFC 8200 4: an unrecognized next header: parameter problem code 1 pointing at it.
            Counters.Drop(DropReason.NoTransport);
            SendIcmpv6Error(nic, packet, multicast, Icmpv6Type.ParameterProblem, (byte)Icmpv6ParameterProblemCode.UnrecognizedNextHeader, (uint)chain.NextHeaderFieldOffset, allowMulticast: false);
            return;
        }

        Counters.Ipv6Delivered++;
        try
        {
            transport.OnDatagram(this, in datagram);
        }
        catch (Exception e)
        {
            CallbackFailed(e);
        }
    }

    /// <summary>True for one of our IPv6 addresses past duplicate address detection.</summary>
    private bool IsAssigned6(Ipv6Address address)
    {
        foreach (NetworkInterface nic in _interfaces)
        {
            if (nic.Ipv6 is { } v6 && v6.IsAssigned(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>True for one of our IPv6 addresses that is not a duplicate (tentative ones included).</summary>
    private bool IsConfigured6(Ipv6Address address) =>
        address.IsLoopback || FindAddress6(address) is { State: not Ipv6AddressState.Duplicate };

    private Ipv6Interface.AddressEntry? FindAddress6(Ipv6Address address)
    {
        foreach (NetworkInterface nic in _interfaces)
        {
            if (nic.Ipv6?.Find(address) is { } entry)
            {
                return entry;
            }
        }

        return null;
    }

    // RFC 4862 5.4: neighbour solicitations and advertisements (for DAD) without extension headers.
    private static bool IsNeighborDiscovery(ReadOnlySpan<byte> packet) =>
        packet.Length > Ipv6Header.FixedLength && packet[6] == (byte)IpProtocol.Icmpv6
        && packet[Ipv6Header.FixedLength] is (byte)Icmpv6Type.NeighborSolicitation or (byte)Icmpv6Type.NeighborAdvertisement;

    // The unspecified source appears in DAD solicitations (RFC 4862 5.4.2), router solicitations
    // (RFC 4861 4.1) and MLD reports during DAD (RFC 3810 5.2.13), the latter after a Hop-by-Hop header.
    private static bool IsNeighborDiscoveryOrMld(ReadOnlySpan<byte> packet)
    {
        Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(packet);
        return chain.Status == Ipv6ChainStatus.UpperLayer && chain.NextHeader == IpProtocol.Icmpv6 && packet.Length > chain.PayloadOffset
            && packet[chain.PayloadOffset] is (byte)Icmpv6Type.NeighborSolicitation or (byte)Icmpv6Type.RouterSolicitation
                or (byte)Icmpv6Type.MulticastListenerReportV2 or (byte)Icmpv6Type.MulticastListenerReport;
    }

    /// <summary>RFC 4291 2.4: a unicast address (not unspecified, loopback, multicast or IPv4-mapped) that can name an interface.</summary>
    private static bool IsValidUnicast6(Ipv6Address address) =>
        !address.IsUnspecified && !address.IsLoopback && !address.IsMulticast && !address.IsIpv4Mapped;
}
