using Protocols.Wire;

namespace Protocols.Ip;

public sealed partial class NetworkStack
{
    private const byte NdpHopLimit = 255;
    private static readonly Ipv6Address MldRouters = Ipv6Address.FromUInt128(new UInt128(0xff02_0000_0000_0000, 0x16));

    private readonly List<TaskCompletionSource> _addressWaiters = [];
    private readonly byte[] _ndpMessage = new byte[Icmpv6Message.MaxErrorMessageLength];
    private TimerHandle _ipv6Maintenance;
    private DateTimeOffset _ipv6MaintenanceDue;

    /// <summary>
    /// Completes once no interface has a tentative IPv6 address (duplicate address detection is
    /// over: the addresses are usable, or found duplicate). Thread-safe.
    /// </summary>
    /// <param name="cancellationToken">Stops waiting.</param>
    public Task WaitForAddressesAsync(CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(stack =>
        {
            if (!stack.AnyTentative())
            {
                done.TrySetResult();
                return;
            }

            stack._addressWaiters.Add(done);
        });
        return cancellationToken.CanBeCanceled ? done.Task.WaitAsync(cancellationToken) : done.Task;
    }

    /// <summary>An address finished duplicate address detection, or was found duplicate: wake the waiters when none is tentative.</summary>
    internal void OnAddressStateChanged()
    {
        if (_addressWaiters.Count == 0 || AnyTentative())
        {
            return;
        }

        foreach (TaskCompletionSource waiter in _addressWaiters)
        {
            waiter.TrySetResult();
        }

        _addressWaiters.Clear();
    }

    private bool AnyTentative()
    {
        foreach (NetworkInterface nic in _interfaces)
        {
            if (nic.Ipv6 is { HasTentativeAddress: true })
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>Re-arms the timer that expires routers, prefixes, addresses and DNS servers learnt from router advertisements.</summary>
    internal void RearmIpv6Maintenance()
    {
        DateTimeOffset? next = null;
        foreach (NetworkInterface nic in _interfaces)
        {
            if (nic.Ipv6?.NextExpiry() is { } due && (next is null || due < next))
            {
                next = due;
            }
        }

        if (next is not { } when || (_ipv6Maintenance.IsAllocated && _ipv6MaintenanceDue <= when))
        {
            return;
        }

        Timers.Cancel(_ipv6Maintenance);
        _ipv6MaintenanceDue = when;
        _ipv6Maintenance = Timers.Schedule(when, static stack =>
        {
            stack._ipv6Maintenance = default;
            foreach (NetworkInterface nic in stack._interfaces)
            {
                nic.Ipv6?.Expire(stack.Now);
            }

            stack.RearmIpv6Maintenance();
        });
    }

    /// <summary>Neighbour discovery input (RFC 4861 6.1 and 7.1 validation, then 6.3.4, 7.2.3, 7.2.5).</summary>
    private void OnNdp(in IpDatagram datagram, Icmpv6Type type, ReadOnlySpan<byte> message)
    {
        NetworkInterface nic = datagram.Interface;
        Ipv6Interface v6 = nic.Ipv6!;
        Ipv6Address source = datagram.Source.ToIpv6();
        Ipv6Address destination = datagram.Destination.ToIpv6();

        // RFC 4861 6.1, 7.1, 8.1: every neighbour discovery message arrives with hop limit 255,
        // proof that it was not forwarded by a router.
        if (datagram.Ttl != NdpHopLimit)
        {
            Counters.Drop(DropReason.NdpInvalid);
            return;
        }

        switch (type)
        {
            case Icmpv6Type.NeighborSolicitation:
                OnNeighborSolicitation(nic, v6, source, destination, message);
                return;
            case Icmpv6Type.NeighborAdvertisement:
                OnNeighborAdvertisement(nic, v6, destination, message);
                return;
            case Icmpv6Type.RouterAdvertisement:
                // RFC 4861 6.1.2: from a link-local address, a valid header and options.
                if (!source.IsLinkLocal || !NdpRouterAdvertisementHeader.TryRead(message, out NdpRouterAdvertisementHeader.Reader ra)
                    || !NdpOptionReader.Validate(ra.Payload, out _))
                {
                    Counters.Drop(DropReason.NdpInvalid);
                    return;
                }

                Counters.NdpReceived++;
                Counters.Ipv6Delivered++;
                v6.OnRouterAdvertisement(source, ra);
                return;
            case Icmpv6Type.Redirect:
                // RFC 4861 8.1 validation; a host SHOULD update its destination cache (8.3). This
                // stack does not: its routes come from configuration and router advertisements, and
                // redirects are a classic spoofing vector. Valid ones are counted and ignored.
                if (!source.IsLinkLocal || !NdpRedirectHeader.TryRead(message, out NdpRedirectHeader.Reader redirect)
                    || redirect.DestinationAddress.IsMulticast || !NdpOptionReader.Validate(redirect.Payload, out _))
                {
                    Counters.Drop(DropReason.NdpInvalid);
                    return;
                }

                Counters.NdpReceived++;
                Counters.Drop(DropReason.NdpIgnored);
                return;
            default:
                // Router solicitations are for routers (RFC 4861 6.2.6).
                Counters.Drop(DropReason.NdpIgnored);
                return;
        }
    }

    // RFC 4861 7.1.1 (validation) and 7.2.3, RFC 4862 5.4.3 (duplicate address detection).
    private void OnNeighborSolicitation(NetworkInterface nic, Ipv6Interface v6, Ipv6Address source, Ipv6Address destination, ReadOnlySpan<byte> message)
    {
        if (!NdpNeighborSolicitationHeader.TryRead(message, out NdpNeighborSolicitationHeader.Reader ns) || ns.TargetAddress.IsMulticast)
        {
            Counters.Drop(DropReason.NdpInvalid);
            return;
        }

        MacAddress? sourceMac = null;
        ulong nonce = 0;
        var options = new NdpOptionReader(ns.Payload, NdpNeighborSolicitationHeader.FixedLength);
        while (options.TryReadNext(out NdpOption option, out _))
        {
            if (option.Type == NdpOptionType.SourceLinkLayerAddress && NdpLinkLayerAddressOption.TryRead(option.Bytes, out NdpLinkLayerAddressOption.Reader lla))
            {
                sourceMac = lla.LinkLayerAddress;
            }
            else if (option.Type == NdpOptionType.Nonce && option.Length >= 8)
            {
                for (int i = 2; i < 8; i++)
                {
                    nonce = (nonce << 8) | option.Bytes[i];
                }
            }
        }

        // RFC 4861 7.1.1: from the unspecified address only to a solicited-node group and without a source link-layer address.
        bool fromUnspecified = source.IsUnspecified;
        if (options.Error.IsError || (fromUnspecified && (!IsSolicitedNodeGroup(destination) || sourceMac is not null)))
        {
            Counters.Drop(DropReason.NdpInvalid);
            return;
        }

        if (v6.Find(ns.TargetAddress) is not { } entry)
        {
            Counters.Drop(DropReason.NotForUs);
            return;
        }

        Counters.NdpReceived++;
        Counters.Ipv6Delivered++;
        if (entry.State == Ipv6AddressState.Tentative)
        {
            // RFC 4862 5.4.3: another node is detecting the same address (a unicast-source solicitation is ignored).
            if (fromUnspecified)
            {
                v6.OnDadSolicitation(entry, nonce);
            }

            return;
        }

        if (entry.State == Ipv6AddressState.Duplicate || !v6.Operational)
        {
            return;
        }

        if (!fromUnspecified && sourceMac is { } mac)
        {
            nic.Neighbors?.OnRouterOrSolicitation(source, mac, isRouter: false);
        }

        // RFC 4861 7.2.4: solicited, override (not an anycast address), to the source; to all nodes
        // (and not solicited) when the source was unspecified.
        SendNeighborAdvertisement(nic, ns.TargetAddress, fromUnspecified ? Ipv6Address.AllNodes : source, sourceMac, solicited: !fromUnspecified);
    }

    // RFC 4861 7.1.2 (validation), 7.2.5; RFC 4862 5.4.4.
    private void OnNeighborAdvertisement(NetworkInterface nic, Ipv6Interface v6, Ipv6Address destination, ReadOnlySpan<byte> message)
    {
        if (!NdpNeighborAdvertisementHeader.TryRead(message, out NdpNeighborAdvertisementHeader.Reader na)
            || na.TargetAddress.IsMulticast || (destination.IsMulticast && na.Solicited))
        {
            Counters.Drop(DropReason.NdpInvalid);
            return;
        }

        MacAddress? targetMac = null;
        var options = new NdpOptionReader(na.Payload, NdpNeighborAdvertisementHeader.FixedLength);
        while (options.TryReadNext(out NdpOption option, out _))
        {
            if (option.Type == NdpOptionType.TargetLinkLayerAddress && NdpLinkLayerAddressOption.TryRead(option.Bytes, out NdpLinkLayerAddressOption.Reader lla))
            {
                targetMac = lla.LinkLayerAddress;
            }
        }

        if (options.Error.IsError)
        {
            Counters.Drop(DropReason.NdpInvalid);
            return;
        }

        Counters.NdpReceived++;
        Counters.Ipv6Delivered++;
        if (v6.Find(na.TargetAddress) is { } ours)
        {
            if (targetMac is { } m && m == nic.HardwareAddress)
            {
                return; // our own advertisement looped back by the medium
            }

            v6.OnAdvertisementForOurs(ours, targetMac);
            return;
        }

        nic.Neighbors?.OnAdvertisement(na.TargetAddress, targetMac, na.Router, na.Solicited, na.Override);
    }

    // RFC 3810 5.1.14: a query from a link-local source with hop limit 1; answered with our groups.
    private void OnMldQuery(in IpDatagram datagram, ReadOnlySpan<byte> packet, ReadOnlySpan<byte> message)
    {
        if (!datagram.Source.ToIpv6().IsLinkLocal || datagram.Ttl != 1 || message.Length < 24)
        {
            Counters.Drop(DropReason.NdpInvalid);
            return;
        }

        Counters.Ipv6Delivered++;
        datagram.Interface.Ipv6?.OnMldQuery();
    }

    private static bool IsSolicitedNodeGroup(Ipv6Address address) =>
        address.High == 0xff02_0000_0000_0000 && (address.Low >> 24) == 0x0000_0001_ff;

    /// <summary>The solicitation of duplicate address detection (RFC 4862 5.4.2).</summary>
    internal void SendDadSolicitation(NetworkInterface nic, Ipv6Address target, ulong nonce)
    {
        int length = Icmpv6Message.WriteDadSolicitation(_ndpMessage, target, nonce);
        SendIcmpv6Direct(nic, Ipv6Address.Any, target.SolicitedNode, null, _ndpMessage.AsSpan(0, length), NdpHopLimit);
        Counters.NeighborSolicitationsSent++;
    }

    /// <summary>
    /// A solicitation for <paramref name="target"/> (RFC 4861 7.2.2): multicast to its solicited-node
    /// group for resolution, or unicast to <paramref name="unicastTo"/> when probing (7.3.3); from
    /// <paramref name="source"/> when it is ours and usable, else the address source selection picks.
    /// </summary>
    internal void SendNeighborSolicitation(NetworkInterface nic, Ipv6Address? source, Ipv6Address target, MacAddress? unicastTo)
    {
        Ipv6Address? from = source is { } s && nic.Ipv6!.IsAssigned(s) ? s : nic.Ipv6!.SelectSource(target);
        if (from is not { } f)
        {
            return;
        }

        Ipv6Address to = unicastTo is null ? target.SolicitedNode : target;
        int length = Icmpv6Message.WriteNeighborSolicitation(_ndpMessage, f, to, target, nic.IsEthernet ? nic.HardwareAddress : null);
        SendIcmpv6Direct(nic, f, to, unicastTo, _ndpMessage.AsSpan(0, length), NdpHopLimit);
        Counters.NeighborSolicitationsSent++;
    }

    private void SendNeighborAdvertisement(NetworkInterface nic, Ipv6Address target, Ipv6Address to, MacAddress? toMac, bool solicited)
    {
        int length = Icmpv6Message.WriteNeighborAdvertisement(_ndpMessage, target, to, target, router: false, solicited, @override: true, nic.IsEthernet ? nic.HardwareAddress : null);
        Counters.NeighborAdvertisementsSent++;
        if (to.IsMulticast || toMac is not null || !nic.IsEthernet)
        {
            SendIcmpv6Direct(nic, target, to, toMac, _ndpMessage.AsSpan(0, length), NdpHopLimit);
            return;
        }

        if (nic.Neighbors!.TryResolve(to, out MacAddress mac))
        {
            SendIcmpv6Direct(nic, target, to, mac, _ndpMessage.AsSpan(0, length), NdpHopLimit);
            return;
        }

        // A unicast solicitation without a source link-layer address: resolve the solicitor first (RFC 4861 7.2.4).
        var send = new IpSendRequest(to, IpProtocol.Icmpv6) { Source = target, Ttl = NdpHopLimit };
        SendDatagram(in send, _ndpMessage.AsSpan(0, length));
    }

    /// <summary>A router solicitation (RFC 4861 6.3.7): from the link-local address with our link-layer address, or from :: without it.</summary>
    internal void SendRouterSolicitation(NetworkInterface nic, Ipv6Address? linkLocal)
    {
        Ipv6Address source = linkLocal ?? Ipv6Address.Any;
        int length = Icmpv6Message.WriteRouterSolicitation(_ndpMessage, source, Ipv6Address.AllRouters, linkLocal is not null && nic.IsEthernet ? nic.HardwareAddress : null);
        SendIcmpv6Direct(nic, source, Ipv6Address.AllRouters, null, _ndpMessage.AsSpan(0, length), NdpHopLimit);
    }

    /// <summary>An MLDv2 report (RFC 3810 5.2) to ff02::16, hop limit 1, with Router Alert; from the link-local address or, before it is usable, from :: (RFC 3810 5.2.13).</summary>
    internal void SendMldReport(NetworkInterface nic, Ipv6Address? linkLocal, MldRecordType type, IReadOnlyList<Ipv6Address> groups)
    {
        if (groups.Count == 0)
        {
            return;
        }

        Ipv6Address source = linkLocal ?? Ipv6Address.Any;
        int count = Math.Min(groups.Count, (_ndpMessage.Length - Mldv2ReportHeader.FixedLength) / MldAddressRecordHeader.FixedLength);
        Span<Ipv6Address> list = count <= 16 ? stackalloc Ipv6Address[16] : new Ipv6Address[count];
        for (int i = 0; i < count; i++)
        {
            list[i] = groups[i];
        }

        int length = Icmpv6Message.WriteMldv2Report(_ndpMessage, source, MldRouters, type, list[..count]);
        SendIcmpv6Direct(nic, source, MldRouters, null, _ndpMessage.AsSpan(0, length), hopLimit: 1, routerAlert: true);
    }
}
