using Microsoft.Extensions.Logging;
using Protocols.Ip.Devices;
using Protocols.Ip.Fragmentation;
using Protocols.Wire;

namespace Protocols.Ip;

public sealed partial class NetworkStack
{
    private const uint LimitedBroadcast = 0xffff_ffff;

    // Set in every non-zero IpDatagram.CoalescingKey; IPv6 keys also have the next bit.
    private const ulong CoalescingKeyFlag = 1UL << 63;
    private const ulong CoalescingKeyIpv6 = 1UL << 62;

    private readonly byte[] _reassemblyBuffer = new byte[ushort.MaxValue];
    private readonly Ipv4Reassembler _reassembler;
    private readonly ExpiredDatagramHandler _onExpired;
    private TimerHandle _reassemblyTimer;
    private DateTimeOffset _reassemblyTimerDue;

    /// <summary>One frame from a device (the device's <see cref="FrameHandler"/>). Never throws on hostile input.</summary>
    internal void OnFrame(NetworkInterface nic, ReadOnlySpan<byte> frame, in PacketOffload offload)
    {
        Counters.FramesReceived++;
        Counters.BytesReceived += frame.Length;
        bool checksumTrusted = offload.TransportChecksumTrusted;
        bool checksumPartial = offload.Checksum == ChecksumState.Partial;
        if (!nic.IsEthernet)
        {
            // An IP-medium device (TUN): the version nibble tells the families apart.
            if (!frame.IsEmpty && frame[0] >> 4 == 6)
            {
                OnIpv6Packet(nic, frame, linkMulticast: false, loopback: false, checksumTrusted);
            }
            else
            {
                OnIpDatagram(nic, frame, linkBroadcast: false, loopback: false, checksumTrusted, checksumPartial);
            }

            return;
        }

        // RFC 894: Ethernet II framing. Devices hand us frames without the FCS. (The hot path asks the
        // reader without an error; only a refused frame is read again for what was wrong.)
        if (!EthernetHeader.TryRead(frame, out EthernetHeader.Reader ethernet))
        {
            EthernetHeader.TryRead(frame, out _, out WireError error);
            DropInvalid(nic, in error);
            return;
        }

        MacAddress destination = ethernet.Destination;
        bool linkBroadcast = destination.IsMulticast;
        if (!linkBroadcast && destination != nic.HardwareAddress)
        {
            // Another station's unicast frame (a promiscuous device, a hub).
            Counters.Drop(DropReason.NotForUs);
            return;
        }

        switch (ethernet.EtherType)
        {
            case EtherType.Ipv4 when nic.HasIpv4:
                OnIpDatagram(nic, ethernet.Payload, linkBroadcast, loopback: false, checksumTrusted, checksumPartial);
                break;
            case EtherType.Arp when nic.Arp is { } arp:
                arp.OnArpPacket(ethernet.Payload);
                break;
            case EtherType.Ipv6 when nic.HasIpv6:
                // RFC 2464 3: IPv6 over Ethernet.
                OnIpv6Packet(nic, ethernet.Payload, linkBroadcast, loopback: false, checksumTrusted);
                break;
            default:
                Counters.Drop(DropReason.UnsupportedEtherType);
                break;
        }
    }

    /// <summary>IPv4 input (RFC 791 3.2, RFC 1122 3.2.1): validate, accept if for us, reassemble, deliver.</summary>
    /// <remarks>
    /// <paramref name="transportChecksumTrusted"/>: the device vouched for this frame's TCP/UDP
    /// checksum (partial from the local kernel, or verified); never for the IP header's.
    /// </remarks>
    private void OnIpDatagram(NetworkInterface nic, ReadOnlySpan<byte> packet, bool linkBroadcast, bool loopback, bool transportChecksumTrusted = false, bool transportChecksumPartial = false)
    {
        Counters.DatagramsReceived++;
        if (!nic.HasIpv4)
        {
            Counters.Drop(DropReason.BadVersion);
            return;
        }

        // RFC 791 3.1 and RFC 1122 3.2.1.1 through the generated reader: version 4 (else silently
        // discarded), IHL 5..15 with the whole header in the frame, total length covering the
        // header and within the frame. Bytes after the total length are link padding (Ethernet
        // pads to 60 bytes): the reader's message stops at the total length.
        if (!Ipv4Header.TryRead(packet, out Ipv4Header.Reader ip))
        {
            Ipv4Header.TryRead(packet, out _, out WireError error);
            DropInvalid(nic, in error);
            return;
        }

        bool deviceVerified = (nic.Device.Capabilities & DeviceCapabilities.ReceiveChecksumsVerified) != 0;

        // RFC 1122 3.2.1.2: a host MUST verify the header checksum and silently discard on failure.
        if (!deviceVerified && !ip.VerifyChecksum())
        {
            Counters.ChecksumErrors++;
            Counters.Drop(DropReason.BadChecksum);
            return;
        }

        uint source = ip.Source.ToUInt32();
        uint destination = ip.Destination.ToUInt32();

        // Destination: one of our addresses (weak host model, RFC 1122 3.3.4.2), the limited
        // broadcast, or the directed broadcast of the arrival subnet (RFC 1122 3.3.6). No
        // multicast groups are joined. Anything else is for the router when forwarding is on
        // (RFC 1812 5.2), or taken as ours on a transparent interface; else dropped (RFC 1122 3.3.1).
        // Datagrams to an address a translator owns go through the forwarding path, which hands
        // back to local delivery those it does not translate.
        bool ipBroadcast = false;
        bool forward = false;
        if (!loopback && (Options.Forwarding || _translator is not null) && IsForwardingCandidate(nic, destination))
        {
            forward = true;
        }
        else if (IsOurAddress(destination))
        {
        }
        else if (destination == LimitedBroadcast || (nic.BroadcastValue != 0 && destination == nic.BroadcastValue))
        {
            ipBroadcast = true;
        }
        else if (!nic.AcceptAnyDestination || !IsValidUnicast(destination) || IsSubnetBroadcast(destination))
        {
            Counters.Drop(DropReason.NotForUs);
            return;
        }

        // RFC 1122 3.2.1.3: discard a datagram whose source is not a single host's address. The
        // unspecified source 0.0.0.0 is allowed only towards a broadcast (a host initialising,
        // e.g. DHCP, RFC 2131 4.1). RFC 1122 3.2.1.3 (g): 127/8 must never appear on the wire.
        // A datagram claiming to come from our own address did not (Linux: a martian source).
        if (!forward && (source == 0 ? !ipBroadcast : !IsValidUnicast(source) || (!loopback && IsOurAddress(source)) || IsSubnetBroadcast(source)))
        {
            Counters.Drop(DropReason.BadSourceAddress);
            return;
        }

        // RFC 791 3.1 / RFC 1122 3.2.1.8: walk the options; a malformed option list means the
        // header cannot be trusted. RFC 1122 3.2.2.5: a host SHOULD send a parameter problem.
        if (!ip.Options.IsEmpty)
        {
            var options = new Ipv4OptionReader(ip.Options);
            bool sourceRouted = false;
            while (options.TryReadNext(out Ipv4Option option, out _))
            {
                sourceRouted |= option.Kind is Ipv4OptionKind.LooseSourceRoute or Ipv4OptionKind.StrictSourceRoute;
            }

            if (options.Error.IsError)
            {
                Counters.Drop(DropReason.BadOptions);
                // RFC 792: the pointer is the first octet after the checksum, the top byte of the rest of the header.
                int pointer = Math.Clamp(options.Error.Offset, 0, ip.HeaderLength - 1);
                SendIcmpError(nic, ip.Bytes, ipBroadcast || linkBroadcast, IcmpType.ParameterProblem, (byte)IcmpParameterProblemCode.PointerIndicatesError, (uint)pointer << 24);
                return;
            }

            // Like Linux's default (accept_source_route = 0), source-routed datagrams are not
            // accepted; a host that did would have to reverse the route in its replies (RFC 1122 3.2.1.8).
            if (sourceRouted)
            {
                Counters.Drop(DropReason.SourceRouted);
                return;
            }
        }

        if (forward)
        {
            ForwardInput(nic, ip, linkBroadcast, deviceVerified || transportChecksumTrusted, transportChecksumPartial);
            return;
        }

        if (ip.MoreFragments || ip.FragmentOffset != 0)
        {
            Counters.FragmentsReceived++;
            OnFragment(nic, ip, ipBroadcast || linkBroadcast, forward: false);
            return;
        }

        // A per-frame checksum state covers the TCP or UDP checksum of an unfragmented datagram only.
        bool transportVerified = deviceVerified || (transportChecksumTrusted && ip.Protocol is IpProtocol.Tcp or IpProtocol.Udp);
        bool broadcast = ipBroadcast || linkBroadcast;

        // Receive coalescing: an unfragmented unicast datagram without options, straight from a
        // device batch, carries the header fields a merge must not mix (inet_gro_receive's TOS,
        // TTL and DF comparison).
        ulong coalescingKey = 0;
        if (_coalescingBatch && !loopback && !broadcast && ip.HeaderLength == Ipv4Header.FixedLength)
        {
            coalescingKey = CoalescingKeyFlag
                | ((ulong)(byte)((ip.Dscp << 2) | ip.Ecn) << 16)
                | ((ulong)ip.Ttl << 8)
                | (ip.DontFragment ? 1UL : 0UL);
            _coalescingKeyGiven = true;
        }

        Deliver(nic, ip, broadcast, transportVerified, coalescingKey);
    }

    /// <summary>
    /// A fragment goes to the reassembler (RFC 791 3.2, RFC 1122 3.3.2). A fragment that is held
    /// is counted in <see cref="StackCountersSnapshot.FragmentsQueued"/>; one refused at once is a
    /// drop; the one that completes its datagram continues as that datagram.
    /// </summary>
    private void OnFragment(NetworkInterface nic, Ipv4Header.Reader fragment, bool broadcast, bool forward)
    {
        ReassemblyStatus status = _reassembler.Offer(in fragment, Now, out ReassemblyResult result);
        switch (status)
        {
            case ReassemblyStatus.Incomplete:
                Counters.FragmentsQueued++;
                ArmReassemblyTimer();
                break;

            case ReassemblyStatus.Dropped:
                Counters.Drop(result.Reason switch
                {
                    ReassemblyDropReason.Overlap => DropReason.ReassemblyOverlap,
                    ReassemblyDropReason.Timeout => DropReason.ReassemblyTimeout,
                    ReassemblyDropReason.Malformed => DropReason.Malformed,
                    _ => DropReason.ReassemblyLimit,
                });
                break;

            default:
                using (ReassembledDatagram whole = result.Datagram!)
                {
                    Counters.Reassembled++;
                    int length = whole.CopyTo(_reassemblyBuffer);

                    // The reassembler rewrote the first fragment's header for the whole datagram
                    // (total length, no MF, offset 0), so it reads like any unfragmented datagram.
                    if (!Ipv4Header.TryRead(_reassemblyBuffer.AsSpan(0, length), out Ipv4Header.Reader ip, out WireError error))
                    {
                        DropInvalid(nic, in error);
                        break;
                    }

                    // Checksums the device verified were per fragment; the transport checks the whole.
                    if (forward)
                    {
                        ForwardWhole(nic, ip.Bytes, ip.HeaderLength, deviceVerified: false, checksumPartial: false);
                    }
                    else
                    {
                        Deliver(nic, ip, broadcast, deviceVerified: false);
                    }
                }

                break;
        }

        Counters.ReassemblyFailures = _reassembler.Counters.Failures;
    }

    private void ArmReassemblyTimer()
    {
        if (_reassembler.NextExpiry is not { } due || (_reassemblyTimer.IsAllocated && _reassemblyTimerDue <= due))
        {
            return;
        }

        Timers.Cancel(_reassemblyTimer);
        _reassemblyTimerDue = due;
        _reassemblyTimer = Timers.Schedule(due, static stack => stack.OnReassemblyTimer());
    }

    private void OnReassemblyTimer()
    {
        _reassemblyTimer = default;
        _reassembler.Expire(Now, _onExpired);
        Counters.ReassemblyFailures = _reassembler.Counters.Failures;
        Counters.ReassemblyTimeouts = _reassembler.Counters.Timeouts;
        ArmReassemblyTimer();
    }

    /// <summary>
    /// RFC 792 / RFC 1122 3.3.2: a datagram that timed out in reassembly gets a time exceeded
    /// (code 1), but only when its first fragment arrived (it is what the error quotes).
    /// </summary>
    private void OnReassemblyExpired(in ExpiredDatagram expired)
    {
        if (!expired.FirstFragmentSeen || _interfaces.Count == 0)
        {
            return;
        }

        NetworkInterface nic = _interfaces[0];
        if (TryRoute(expired.Source.ToUInt32(), null, out NetworkInterface? routed, out _))
        {
            nic = routed;
        }

        SendIcmpError(nic, expired.FirstFragmentHeader, expired.FirstFragmentData, broadcast: false, IcmpType.TimeExceeded, (byte)IcmpTimeExceededCode.FragmentReassemblyTimeExceeded, 0);
    }

    /// <summary>Hands a whole, validated datagram to ICMP or to the transport of its protocol.</summary>
    private void Deliver(NetworkInterface nic, Ipv4Header.Reader ip, bool broadcast, bool deviceVerified, ulong coalescingKey = 0)
    {
        var datagram = new IpDatagram(
            nic,
            ip.Header,
            ip.Payload,
            ip.Source,
            ip.Destination,
            ip.Protocol,
            ip.Ttl,
            ip.Identification,
            broadcast,
            deviceVerified,
            coalescingKey);

        if (datagram.Protocol == IpProtocol.Icmp)
        {
            OnIcmp(in datagram);
            return;
        }

        IIpTransport? transport = _transports[(byte)datagram.Protocol];
        if (transport is null)
        {
            // RFC 1122 3.2.2.1: protocol unreachable when the transport protocol is not supported.
            Counters.Drop(DropReason.NoTransport);
            SendIcmpError(nic, ip.Bytes, broadcast, IcmpType.DestinationUnreachable, (byte)IcmpUnreachableCode.ProtocolUnreachable, 0);
            return;
        }

        Counters.Delivered++;
        try
        {
            transport.OnDatagram(this, in datagram);
        }
        catch (Exception e)
        {
            CallbackFailed(e);
        }
    }

    /// <summary>
    /// Drops what a generated reader refused: counts it under the <see cref="DropReason"/> its
    /// <see cref="WireError"/> maps to (or <paramref name="reason"/>) and, when the logger has Debug
    /// on (the command's <c>--verbose</c>), says which layer and field and why.
    /// </summary>
    private void DropInvalid(NetworkInterface nic, in WireError error, DropReason? reason = null)
    {
        reason ??= WireErrors.ToDropReason(in error);
        Counters.Drop(reason.Value);
        if (Logger.IsEnabled(LogLevel.Debug))
        {
            Logger.LogDebug("{Interface}: dropped ({Reason}): {Error}", nic.Name, reason, error.ToString());
        }
    }

    /// <summary>True when <paramref name="address"/> is the address of one of our interfaces.</summary>
    public bool IsLocalAddress(Ipv4Address address) => IsOurAddress(address.ToUInt32());

    /// <summary>
    /// True when <paramref name="address"/> is one of our addresses of either family. IPv6
    /// addresses count once assigned, also while duplicate address detection runs (so sockets may
    /// bind to them, like IP_FREEBIND), but not once found duplicate.
    /// </summary>
    public bool IsLocalAddress(IpAddress address) =>
        address.TryGetIpv4(out Ipv4Address v4) ? IsOurAddress(v4.ToUInt32()) : IsConfigured6(address.ToIpv6());

    private bool IsOurAddress(uint address)
    {
        foreach (NetworkInterface nic in _interfaces)
        {
            if (nic.HasIpv4 && nic.AddressValue == address)
            {
                return true;
            }
        }

        return false;
    }

    private bool IsSubnetBroadcast(uint address)
    {
        foreach (NetworkInterface nic in _interfaces)
        {
            if (nic.HasIpv4 && nic.BroadcastValue != 0 && nic.BroadcastValue == address)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// RFC 1122 3.2.1.3 and RFC 6890: an address that can name a single host: not 0/8 ("this
    /// network"), not 127/8 (loopback), not 224/4 (multicast), not 240/4 (reserved, and the
    /// limited broadcast).
    /// </summary>
    private static bool IsValidUnicast(uint address)
    {
        uint first = address >> 24;
        return first != 0 && first != 127 && first < 224;
    }
}
