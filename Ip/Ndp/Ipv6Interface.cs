using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Logging;
using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// IPv6 on one interface: its addresses and their duplicate address detection (RFC 4862 5.4), the
/// link-local address (RFC 4862 5.3; modified EUI-64 or RFC 7217), stateless autoconfiguration
/// from router advertisements (RFC 4862 5.5), the default router and prefix lists (RFC 4861 5.1,
/// 6.3.4), the link parameters advertised by routers, multicast group membership (RFC 4861 7.2.1,
/// RFC 3810) and source address selection. Runs on the stack's loop only.
/// </summary>
internal sealed class Ipv6Interface
{
    // RFC 4861 10 / RFC 4862: protocol constants.
    private static readonly TimeSpan MaxRtrSolicitationDelay = TimeSpan.FromSeconds(1);
    private static readonly TimeSpan RtrSolicitationInterval = TimeSpan.FromSeconds(4);
    private const int MaxRtrSolicitations = 3;

    // RFC 4862 5.5.3 (e): the "two hours" rule against shortening a valid lifetime by a forged RA.
    private static readonly TimeSpan TwoHours = TimeSpan.FromHours(2);

    // RFC 7217 6: IDGEN_RETRIES.
    private const int IdGenRetries = 3;

    private readonly NetworkStack _stack;
    private readonly NetworkInterface _nic;
    private readonly List<AddressEntry> _addresses = [];
    private readonly List<Router> _routers = [];
    private readonly List<OnLinkPrefix> _prefixes = [];
    private readonly List<(Ipv6Address Server, DateTimeOffset? Until)> _dnsServers = [];
    private readonly byte[] _secret;
    private TimerHandle _solicitTimer;
    private int _solicitationsSent;
    private bool _routerAdvertisementSeen;
    private bool _started;
    private TimeSpan _baseReachableTime;
    private TimeSpan _reachableTime;

    public Ipv6Interface(NetworkStack stack, NetworkInterface nic, Ipv6InterfaceOptions options, IEnumerable<InterfaceAddress> addresses, Ipv6Address? gateway)
    {
        _stack = stack;
        _nic = nic;
        Options = options;
        _secret = options.StableSecret is { Length: >= 16 } s ? s : stack.DrawSecret(16);
        LinkMtu = nic.Mtu;
        RetransTimer = stack.Options.Ipv6RetransTimer;
        _baseReachableTime = stack.Options.Ipv6BaseReachableTime;
        _reachableTime = RandomizedReachableTime();
        ConfiguredGateway = gateway;

        // RFC 4862 5.3: the link-local address first, from fe80::/64 and an interface identifier.
        LinkLocalMode mode = options.LinkLocal == LinkLocalMode.Automatic
            ? (nic.IsEthernet ? LinkLocalMode.Eui64 : LinkLocalMode.StablePrivacy)
            : options.LinkLocal;
        if (mode == LinkLocalMode.Eui64 && !nic.IsEthernet)
        {
            throw new ArgumentException("A modified EUI-64 link-local address needs an Ethernet device.", nameof(options));
        }

        if (mode != LinkLocalMode.None)
        {
            var prefix = Ipv6Address.FromUInt128(new UInt128(0xfe80_0000_0000_0000, 0));
            _addresses.Add(new AddressEntry(MakeAddress(prefix, mode, 0), 64, Ipv6AddressOrigin.LinkLocal) { IdMode = mode });
        }

        foreach (InterfaceAddress a in addresses)
        {
            _addresses.Add(new AddressEntry(a.Address.ToIpv6(), a.PrefixLength, Ipv6AddressOrigin.Static));
        }

        // RFC 4862 5.4: on a link without neighbour discovery (a TUN device) there is nobody to
        // detect a duplicate with: DupAddrDetectTransmits is 0 and the addresses are preferred at once.
        DadTransmits = nic.IsEthernet ? stack.Options.DupAddrDetectTransmits : 0;
        foreach (AddressEntry entry in _addresses)
        {
            entry.State = DadTransmits > 0 ? Ipv6AddressState.Tentative : Ipv6AddressState.Preferred;
        }
    }

    public Ipv6InterfaceOptions Options { get; }

    /// <summary>The MTU for IPv6 on the link: the interface MTU, lowered by a router's MTU option (RFC 4861 6.3.4).</summary>
    public int LinkMtu { get; private set; }

    /// <summary>The hop limit a router advertised (0: none, use the stack's default).</summary>
    public byte CurHopLimit { get; private set; }

    /// <summary>RFC 4861 6.3.2 RetransTimer: between neighbour solicitations.</summary>
    public TimeSpan RetransTimer { get; private set; }

    /// <summary>RFC 4861 6.3.2 ReachableTime, randomized from the base.</summary>
    public TimeSpan ReachableTime => _reachableTime;

    public int DadTransmits { get; }

    public Ipv6Address? ConfiguredGateway { get; }

    /// <summary>False once the link-local address from the hardware address was found duplicate (RFC 4862 5.4.5: IPv6 is then disabled on the interface).</summary>
    public bool Operational { get; private set; } = true;

    public Ipv6Address? LinkLocalAddress
    {
        get
        {
            foreach (AddressEntry a in _addresses)
            {
                if (a.Origin == Ipv6AddressOrigin.LinkLocal && a.State is Ipv6AddressState.Preferred or Ipv6AddressState.Deprecated)
                {
                    return a.Address;
                }
            }

            return null;
        }
    }

    public bool HasTentativeAddress
    {
        get
        {
            foreach (AddressEntry a in _addresses)
            {
                if (a.State == Ipv6AddressState.Tentative)
                {
                    return true;
                }
            }

            return false;
        }
    }

    public IReadOnlyList<Ipv6AddressInfo> Addresses =>
        [.. _addresses.Select(a => new Ipv6AddressInfo(a.Address, a.PrefixLength, a.State, a.Origin, a.ValidUntil, a.PreferredUntil))];

    public IReadOnlyList<Ipv6RouterInfo> Routers
    {
        get
        {
            var list = new List<Ipv6RouterInfo>();
            if (ConfiguredGateway is { } g)
            {
                list.Add(new Ipv6RouterInfo(g, null));
            }

            list.AddRange(_routers.Select(r => new Ipv6RouterInfo(r.Address, r.ExpiresAt)));
            return list;
        }
    }

    public IReadOnlyList<Ipv6PrefixInfo> Prefixes
    {
        get
        {
            var list = new List<Ipv6PrefixInfo>();
            foreach (AddressEntry a in _addresses)
            {
                if (a.Origin == Ipv6AddressOrigin.Static)
                {
                    list.Add(new Ipv6PrefixInfo(a.Address.Prefix(a.PrefixLength), a.PrefixLength, null));
                }
            }

            list.AddRange(_prefixes.Select(p => new Ipv6PrefixInfo(p.Prefix, p.Length, p.ValidUntil)));
            return list;
        }
    }

    public IReadOnlyList<Ipv6Address> DnsServers => [.. _dnsServers.Select(d => d.Server)];

    /// <summary>Starts duplicate address detection and router solicitation; on the loop, once.</summary>
    public void Start()
    {
        if (_started)
        {
            return;
        }

        _started = true;
        foreach (AddressEntry entry in _addresses.ToArray())
        {
            StartDad(entry, initialDelay: true);
        }

        ReportGroups();
        if (Options.AcceptRouterAdvertisements && _nic.IsEthernet && !_addresses.Exists(a => a.Origin == Ipv6AddressOrigin.LinkLocal && a.State == Ipv6AddressState.Tentative))
        {
            // RFC 4861 6.3.7: a random delay of up to MAX_RTR_SOLICITATION_DELAY before the first
            // solicitation; with a link-local address still tentative, it waits for DAD (as Linux
            // does) so that the solicitation can carry the source link-layer address.
            ScheduleSolicitation(_stack.Now + RandomDelay(MaxRtrSolicitationDelay));
        }
    }

    /// <summary>The address entry, in any state.</summary>
    public AddressEntry? Find(Ipv6Address address)
    {
        foreach (AddressEntry a in _addresses)
        {
            if (a.Address == address)
            {
                return a;
            }
        }

        return null;
    }

    /// <summary>An address packets may be delivered to: assigned and past duplicate address detection.</summary>
    public bool IsAssigned(Ipv6Address address) =>
        Operational && Find(address) is { State: Ipv6AddressState.Preferred or Ipv6AddressState.Deprecated };

    /// <summary>Multicast groups this interface listens to: all-nodes, and the solicited-node group of each address (RFC 4861 7.2.1, RFC 4291 2.8).</summary>
    public bool Listens(Ipv6Address group)
    {
        if (!Operational)
        {
            return false;
        }

        // ff01::1 and ff02::1: all nodes (interface- and link-local scope).
        if (group.High is 0xff01_0000_0000_0000 or 0xff02_0000_0000_0000 && group.Low == 1)
        {
            return true;
        }

        foreach (AddressEntry a in _addresses)
        {
            if (a.State != Ipv6AddressState.Duplicate && a.Address.SolicitedNode == group)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// Source address selection (a subset of RFC 6724 5): a link-local destination gets the
    /// link-local address; otherwise the preferred address of the smallest scope that covers the
    /// destination, the longest matching prefix among them; deprecated ones only when nothing else.
    /// </summary>
    public Ipv6Address? SelectSource(Ipv6Address destination)
    {
        if (!Operational)
        {
            return null;
        }

        // Rule 2 (appropriate scope), rule 3 (avoid deprecated), rule 8 (longest matching prefix).
        bool linkScope = destination.IsLinkLocal || (destination.IsMulticast && (destination[1] & 0x0f) <= 2);
        AddressEntry? best = null;
        (int Scope, int State, int Match) bestKey = default;
        foreach (AddressEntry a in _addresses)
        {
            if (a.State is not (Ipv6AddressState.Preferred or Ipv6AddressState.Deprecated))
            {
                continue;
            }

            (int Scope, int State, int Match) key = (a.Address.IsLinkLocal == linkScope ? 1 : 0, a.State == Ipv6AddressState.Preferred ? 1 : 0, CommonPrefixLength(a.Address, destination));
            if (best is null || key.CompareTo(bestKey) > 0)
            {
                best = a;
                bestKey = key;
            }
        }

        return best?.Address;
    }

    /// <summary>On-link determination (RFC 4861 5.2): link-local destinations, the prefixes of configured addresses, and advertised on-link prefixes.</summary>
    public bool IsOnLink(Ipv6Address destination, out int prefixLength)
    {
        prefixLength = -1;
        if (destination.IsLinkLocal)
        {
            prefixLength = 64;
        }

        foreach (AddressEntry a in _addresses)
        {
            if (a.Origin != Ipv6AddressOrigin.LinkLocal && a.PrefixLength > prefixLength && a.Address.SharesPrefix(destination, a.PrefixLength))
            {
                prefixLength = a.PrefixLength;
            }
        }

        foreach (OnLinkPrefix p in _prefixes)
        {
            if (p.Length > prefixLength && p.Prefix.SharesPrefix(destination, p.Length))
            {
                prefixLength = p.Length;
            }
        }

        return prefixLength >= 0;
    }

    /// <summary>The default router (RFC 4861 6.3.6): the configured gateway, else an advertised router not known to be unreachable.</summary>
    public Ipv6Address? DefaultRouter()
    {
        if (ConfiguredGateway is { } g)
        {
            return g;
        }

        Router? fallback = null;
        foreach (Router r in _routers)
        {
            if (_nic.Neighbors is not { } cache || cache.IsProbablyReachable(r.Address))
            {
                return r.Address;
            }

            fallback ??= r;
        }

        return fallback?.Address;
    }

    /// <summary>A neighbour solicitation from the unspecified address for one of our tentative addresses: another node is detecting the same address (RFC 4862 5.4.3).</summary>
    public void OnDadSolicitation(AddressEntry entry, ulong nonce)
    {
        // RFC 7527 4.1: a solicitation carrying our own nonce is ours, looped back by the medium.
        if (entry.State != Ipv6AddressState.Tentative || (nonce != 0 && nonce == entry.DadNonce))
        {
            return;
        }

        Duplicate(entry, "a neighbour solicitation from another node detecting it");
    }

    /// <summary>A neighbour advertisement for one of our addresses: a duplicate when tentative (RFC 4862 5.4.4), a conflict to report otherwise.</summary>
    public void OnAdvertisementForOurs(AddressEntry entry, MacAddress? from)
    {
        if (entry.State == Ipv6AddressState.Tentative)
        {
            Duplicate(entry, $"a neighbour advertisement from {from?.ToString() ?? "another node"}");
            return;
        }

        _stack.Counters.Ipv6AddressConflicts++;
        _stack.Logger.LogWarning("{Interface}: {Mac} advertises our address {Address}", _nic.Name, from, entry.Address);
    }

    /// <summary>
    /// A valid router advertisement (RFC 4861 6.3.4): hop limit, reachable and retransmission
    /// times, the default router list, the MTU, on-link prefixes, SLAAC (RFC 4862 5.5.3) and DNS
    /// servers (RFC 8106 5.3.1). Validation (RFC 4861 6.1.2) is the caller's.
    /// </summary>
    public void OnRouterAdvertisement(Ipv6Address source, NdpRouterAdvertisementHeader.Reader ra)
    {
        if (!Options.AcceptRouterAdvertisements || !Operational)
        {
            _stack.Counters.Drop(DropReason.NdpIgnored);
            return;
        }

        DateTimeOffset now = _stack.Now;
        _routerAdvertisementSeen = true;
        _stack.Timers.Cancel(_solicitTimer);
        _solicitTimer = default;
        if (ra.CurHopLimit != 0)
        {
            CurHopLimit = ra.CurHopLimit;
        }

        if (ra.ReachableTime != 0 && TimeSpan.FromMilliseconds(ra.ReachableTime) != _baseReachableTime && ra.ReachableTime <= 3_600_000)
        {
            // RFC 4861 6.3.4: a new base reachable time gives a new random ReachableTime.
            _baseReachableTime = TimeSpan.FromMilliseconds(ra.ReachableTime);
            _reachableTime = RandomizedReachableTime();
        }

        if (ra.RetransTimer != 0)
        {
            RetransTimer = TimeSpan.FromMilliseconds(Math.Clamp(ra.RetransTimer, 100, 60_000));
        }

        UpdateRouter(source, ra.RouterLifetime, now);
        var options = new NdpOptionReader(ra.Payload, NdpRouterAdvertisementHeader.FixedLength);
        while (options.TryReadNext(out NdpOption option, out _))
        {
            switch (option.Type)
            {
                case NdpOptionType.SourceLinkLayerAddress when NdpLinkLayerAddressOption.TryRead(option.Bytes, out NdpLinkLayerAddressOption.Reader lla):
                    _nic.Neighbors?.OnRouterOrSolicitation(source, lla.LinkLayerAddress, isRouter: true);
                    break;
                case NdpOptionType.Mtu when NdpMtuOption.TryRead(option.Bytes, out NdpMtuOption.Reader mtu):
                    // RFC 4861 6.3.4: ignore an MTU below the IPv6 minimum or above what the link carries.
                    if (mtu.Mtu >= Ipv6Packet.MinimumMtu && mtu.Mtu <= _nic.Mtu)
                    {
                        LinkMtu = (int)mtu.Mtu;
                    }

                    break;
                case NdpOptionType.PrefixInformation when NdpPrefixInformationOption.TryRead(option.Bytes, out NdpPrefixInformationOption.Reader prefix):
                    OnPrefix(prefix, now);
                    break;
                case NdpOptionType.RecursiveDnsServer when NdpRdnssOption.TryRead(option.Bytes, out NdpRdnssOption.Reader rdnss) && (rdnss.Length & 1) == 1:
                    OnDnsServers(rdnss, now);
                    break;
            }
        }
    }

    /// <summary>Expires routers, prefixes, addresses and DNS servers whose lifetimes ran out; called from the maintenance timer.</summary>
    public void Expire(DateTimeOffset now)
    {
        _routers.RemoveAll(r => r.ExpiresAt <= now);
        _prefixes.RemoveAll(p => p.ValidUntil is { } until && until <= now);
        _dnsServers.RemoveAll(d => d.Until is { } until && until <= now);
        foreach (AddressEntry a in _addresses.ToArray())
        {
            if (a.ValidUntil is { } valid && valid <= now)
            {
                _addresses.Remove(a);
                _stack.Timers.Cancel(a.DadTimer);
                continue;
            }

            if (a.State == Ipv6AddressState.Preferred && a.PreferredUntil is { } preferred && preferred <= now)
            {
                a.State = Ipv6AddressState.Deprecated;
            }
        }
    }

    /// <summary>The earliest lifetime end, for the maintenance timer.</summary>
    public DateTimeOffset? NextExpiry()
    {
        DateTimeOffset? next = null;
        void Consider(DateTimeOffset? t)
        {
            if (t is { } v && (next is null || v < next))
            {
                next = v;
            }
        }

        foreach (Router r in _routers)
        {
            Consider(r.ExpiresAt);
        }

        foreach (OnLinkPrefix p in _prefixes)
        {
            Consider(p.ValidUntil);
        }

        foreach ((_, DateTimeOffset? until) in _dnsServers)
        {
            Consider(until);
        }

        foreach (AddressEntry a in _addresses)
        {
            Consider(a.ValidUntil);
            if (a.State == Ipv6AddressState.Preferred)
            {
                Consider(a.PreferredUntil);
            }
        }

        return next;
    }

    private void UpdateRouter(Ipv6Address source, ushort lifetimeSeconds, DateTimeOffset now)
    {
        int index = _routers.FindIndex(r => r.Address == source);
        if (lifetimeSeconds == 0)
        {
            // RFC 4861 6.3.4: a zero router lifetime removes the router from the default router list.
            if (index >= 0)
            {
                _routers.RemoveAt(index);
            }

            return;
        }

        DateTimeOffset expires = now + TimeSpan.FromSeconds(lifetimeSeconds);
        if (index >= 0)
        {
            _routers[index] = new Router(source, expires);
        }
        else if (_routers.Count < _stack.Options.MaxDefaultRouters)
        {
            _routers.Add(new Router(source, expires));
        }

        _stack.RearmIpv6Maintenance();
    }

    // RFC 4861 6.3.4 (on-link) and RFC 4862 5.5.3 (autoconfiguration) for one prefix option.
    private void OnPrefix(NdpPrefixInformationOption.Reader option, DateTimeOffset now)
    {
        Ipv6Address prefix = option.Prefix.Prefix(option.PrefixLength);

        // Both: the link-local prefix is ignored.
        if (prefix.IsLinkLocal || prefix.IsMulticast)
        {
            return;
        }

        uint valid = option.ValidLifetime;
        uint preferred = option.PreferredLifetime;
        int length = option.PrefixLength;
        DateTimeOffset? validUntil = valid == uint.MaxValue ? null : now + TimeSpan.FromSeconds(valid);
        if (option.OnLink)
        {
            int index = _prefixes.FindIndex(p => p.Prefix == prefix && p.Length == length);
            if (valid == 0)
            {
                if (index >= 0)
                {
                    _prefixes.RemoveAt(index);
                }
            }
            else if (index >= 0)
            {
                _prefixes[index] = new OnLinkPrefix(prefix, option.PrefixLength, validUntil);
            }
            else if (_prefixes.Count < _stack.Options.MaxOnLinkPrefixes)
            {
                _prefixes.Add(new OnLinkPrefix(prefix, option.PrefixLength, validUntil));
            }
        }

        // RFC 4862 5.5.3: autonomous, a preferred lifetime not above the valid one, and a prefix
        // that leaves the 64-bit interface identifier of an Ethernet-like link (RFC 4291 2.5.1).
        if (option.Autonomous && preferred <= valid && option.PrefixLength == 64)
        {
            Autoconfigure(prefix, valid, preferred, now);
        }

        _stack.RearmIpv6Maintenance();
    }

    private void Autoconfigure(Ipv6Address prefix, uint valid, uint preferred, DateTimeOffset now)
    {
        AddressEntry? existing = _addresses.Find(a => a.Origin == Ipv6AddressOrigin.Autoconfigured && a.Address.SharesPrefix(prefix, 64));
        DateTimeOffset? preferredUntil = preferred == uint.MaxValue ? null : now + TimeSpan.FromSeconds(preferred);
        if (existing is null)
        {
            if (valid == 0 || _addresses.Count(a => a.Origin == Ipv6AddressOrigin.Autoconfigured) >= _stack.Options.MaxAutoconfiguredAddresses)
            {
                return;
            }

            LinkLocalMode mode = _nic.IsEthernet && Options.LinkLocal is LinkLocalMode.Automatic or LinkLocalMode.Eui64 ? LinkLocalMode.Eui64 : LinkLocalMode.StablePrivacy;
            var entry = new AddressEntry(MakeAddress(prefix, mode, 0), 64, Ipv6AddressOrigin.Autoconfigured)
            {
                IdMode = mode,
                ValidUntil = valid == uint.MaxValue ? null : now + TimeSpan.FromSeconds(valid),
                PreferredUntil = preferredUntil,
                State = DadTransmits > 0 ? Ipv6AddressState.Tentative : Ipv6AddressState.Preferred,
            };
            if (Find(entry.Address) is not null)
            {
                return;
            }

            _addresses.Add(entry);
            StartDad(entry, initialDelay: false);
            ReportGroups();
            return;
        }

        // RFC 4862 5.5.3 (e): the preferred lifetime is reset; the valid lifetime only goes down to
        // the advertised value when that is above two hours or above what remains.
        existing.PreferredUntil = preferredUntil;
        TimeSpan remaining = existing.ValidUntil is { } until ? until - now : TimeSpan.MaxValue;
        TimeSpan advertised = valid == uint.MaxValue ? TimeSpan.MaxValue : TimeSpan.FromSeconds(valid);
        if (advertised > TwoHours || advertised > remaining)
        {
            existing.ValidUntil = valid == uint.MaxValue ? null : now + advertised;
        }
        else if (remaining > TwoHours)
        {
            existing.ValidUntil = now + TwoHours;
        }

        if (existing.State == Ipv6AddressState.Deprecated && preferred > 0)
        {
            existing.State = Ipv6AddressState.Preferred;
        }
    }

    private void OnDnsServers(NdpRdnssOption.Reader option, DateTimeOffset now)
    {
        ReadOnlySpan<byte> servers = option.Options;
        DateTimeOffset? until = option.Lifetime == uint.MaxValue ? null : now + TimeSpan.FromSeconds(option.Lifetime);
        for (int i = 0; i + 16 <= servers.Length; i += 16)
        {
            var server = Ipv6Address.Create(servers[i..]);
            _dnsServers.RemoveAll(d => d.Server == server);
            if (option.Lifetime != 0 && _dnsServers.Count < _stack.Options.MaxDnsServers)
            {
                _dnsServers.Add((server, until));
            }
        }
    }

    // RFC 4862 5.4.2: join the solicited-node group, then send DupAddrDetectTransmits solicitations
    // RetransTimer apart; with no conflict by RetransTimer after the last, the address is preferred.
    private void StartDad(AddressEntry entry, bool initialDelay)
    {
        if (entry.State != Ipv6AddressState.Tentative)
        {
            return;
        }

        entry.DadSent = 0;
        entry.DadNonce = _stack.NextNonce();
        TimeSpan delay = initialDelay ? RandomDelay(MaxRtrSolicitationDelay) : TimeSpan.Zero;
        entry.DadTimer = _stack.Timers.Schedule(_stack.Now + delay, _ => OnDadTimer(entry));
    }

    private void OnDadTimer(AddressEntry entry)
    {
        entry.DadTimer = default;
        if (entry.State != Ipv6AddressState.Tentative || !_addresses.Contains(entry))
        {
            return;
        }

        if (entry.DadSent >= DadTransmits)
        {
            entry.State = Ipv6AddressState.Preferred;
            _stack.Counters.Ipv6DadCompleted++;
            _stack.OnAddressStateChanged();
            if (entry.Origin == Ipv6AddressOrigin.LinkLocal && Options.AcceptRouterAdvertisements && !_routerAdvertisementSeen && _solicitationsSent == 0 && !_solicitTimer.IsAllocated)
            {
                ScheduleSolicitation(_stack.Now + RandomDelay(MaxRtrSolicitationDelay));
            }

            return;
        }

        _stack.SendDadSolicitation(_nic, entry.Address, entry.DadNonce);
        entry.DadSent++;
        entry.DadTimer = _stack.Timers.Schedule(_stack.Now + RetransTimer, _ => OnDadTimer(entry));
    }

    private void Duplicate(AddressEntry entry, string evidence)
    {
        _stack.Timers.Cancel(entry.DadTimer);
        entry.DadTimer = default;
        entry.State = Ipv6AddressState.Duplicate;
        _stack.Counters.Ipv6DadFailures++;
        _stack.Logger.LogWarning("{Interface}: duplicate address {Address} ({Evidence}); it will not be used", _nic.Name, entry.Address, evidence);

        // RFC 7217 6: a stable identifier is regenerated with the next DAD counter.
        if (entry.IdMode == LinkLocalMode.StablePrivacy && entry.DadCounter < IdGenRetries)
        {
            var retry = new AddressEntry(MakeAddress(entry.Address.Prefix(64), LinkLocalMode.StablePrivacy, entry.DadCounter + 1), entry.PrefixLength, entry.Origin)
            {
                IdMode = LinkLocalMode.StablePrivacy,
                DadCounter = entry.DadCounter + 1,
                ValidUntil = entry.ValidUntil,
                PreferredUntil = entry.PreferredUntil,
                State = Ipv6AddressState.Tentative,
            };
            _addresses.Add(retry);
            StartDad(retry, initialDelay: false);
        }
        else if (entry.Origin == Ipv6AddressOrigin.LinkLocal && entry.IdMode == LinkLocalMode.Eui64)
        {
            // RFC 4862 5.4.5: a duplicate link-local address built from the hardware address means
            // another node has that hardware identifier; IP operation on the interface SHOULD be disabled.
            Operational = false;
            _stack.Logger.LogError("{Interface}: the link-local address from the hardware address is a duplicate; IPv6 is disabled on this interface", _nic.Name);
        }

        _stack.OnAddressStateChanged();
        ReportGroups();
    }

    private void ScheduleSolicitation(DateTimeOffset due)
    {
        _stack.Timers.Cancel(_solicitTimer);
        _solicitTimer = _stack.Timers.Schedule(due, _ => OnSolicitTimer());
    }

    // RFC 4861 6.3.7: up to MAX_RTR_SOLICITATIONS, RTR_SOLICITATION_INTERVAL apart, until an advertisement arrives.
    private void OnSolicitTimer()
    {
        _solicitTimer = default;
        if (_routerAdvertisementSeen || _solicitationsSent >= MaxRtrSolicitations || !Operational)
        {
            return;
        }

        _stack.SendRouterSolicitation(_nic, LinkLocalAddress);
        _solicitationsSent++;
        if (_solicitationsSent < MaxRtrSolicitations)
        {
            ScheduleSolicitation(_stack.Now + RtrSolicitationInterval);
        }
    }

    // RFC 3810 6.1: report the groups we listen to (the solicited-node groups; all-nodes is never reported, RFC 3810 6).
    private void ReportGroups()
    {
        if (!_nic.IsEthernet || !Operational)
        {
            return;
        }

        var groups = new List<Ipv6Address>();
        foreach (AddressEntry a in _addresses)
        {
            if (a.State != Ipv6AddressState.Duplicate && !groups.Contains(a.Address.SolicitedNode))
            {
                groups.Add(a.Address.SolicitedNode);
            }
        }

        _stack.SendMldReport(_nic, LinkLocalAddress, MldRecordType.ChangeToExclude, groups);
    }

    /// <summary>Answers an MLD query with the groups we listen to (RFC 3810 6.2, without the response delay bookkeeping of a full implementation).</summary>
    public void OnMldQuery()
    {
        if (!_nic.IsEthernet || !Operational)
        {
            return;
        }

        var groups = new List<Ipv6Address>();
        foreach (AddressEntry a in _addresses)
        {
            if (a.State != Ipv6AddressState.Duplicate && !groups.Contains(a.Address.SolicitedNode))
            {
                groups.Add(a.Address.SolicitedNode);
            }
        }

        _stack.SendMldReport(_nic, LinkLocalAddress, MldRecordType.ModeIsExclude, groups);
    }

    // An interface identifier (RFC 4291 2.5.1) on a 64-bit prefix.
    private Ipv6Address MakeAddress(Ipv6Address prefix, LinkLocalMode mode, int dadCounter)
    {
        ulong iid = mode == LinkLocalMode.Eui64 ? ModifiedEui64(_nic.HardwareAddress) : StableIdentifier(prefix, dadCounter);
        return Ipv6Address.FromUInt128(new UInt128(prefix.High, iid));
    }

    // RFC 4291 2.5.1 and RFC 2464 4: the MAC split by ff:fe, the universal/local bit inverted.
    internal static ulong ModifiedEui64(MacAddress mac) =>
        ((ulong)(mac[0] ^ 0x02) << 56) | ((ulong)mac[1] << 48) | ((ulong)mac[2] << 40) | (0xfffeUL << 24)
        | ((ulong)mac[3] << 16) | ((ulong)mac[4] << 8) | mac[5];

    // RFC 7217 5: RID = F(Prefix, Net_Iface, Network_ID, DAD_Counter, secret_key), F = SHA-256 (a
    // recommended PRF), the interface identifier its first 64 bits, avoiding the reserved
    // identifiers of RFC 5453 (the subnet-router anycast 0, and fdff:ffff:ffff:ff80-ffff).
    private ulong StableIdentifier(Ipv6Address prefix, int dadCounter)
    {
        byte[] name = Encoding.UTF8.GetBytes(_nic.Name);
        var input = new byte[8 + name.Length + 1 + _secret.Length];
        BinaryPrimitives.WriteUInt64BigEndian(input, prefix.High);
        name.CopyTo(input, 8);
        input[8 + name.Length] = (byte)dadCounter;
        _secret.CopyTo(input, 9 + name.Length);
        Span<byte> digest = stackalloc byte[32];
        for (int attempt = 0; ; attempt++)
        {
            SHA256.HashData(input, digest);
            ulong iid = BinaryPrimitives.ReadUInt64BigEndian(digest);
            if (iid != 0 && (iid >> 7) != 0xfdff_ffff_ffff_ff80UL >> 7)
            {
                return iid;
            }

            input[8 + name.Length] ^= (byte)(0x80 | attempt);
        }
    }

    private static int CommonPrefixLength(Ipv6Address a, Ipv6Address b)
    {
        UInt128 diff = a.ToUInt128() ^ b.ToUInt128();
        return diff == UInt128.Zero ? 128 : (int)UInt128.LeadingZeroCount(diff);
    }

    private TimeSpan RandomDelay(TimeSpan max) => TimeSpan.FromTicks((long)(_stack.Random.NextDouble() * max.Ticks));

    // RFC 4861 6.3.2: uniformly between MIN_RANDOM_FACTOR (0.5) and MAX_RANDOM_FACTOR (1.5) times the base.
    private TimeSpan RandomizedReachableTime() => TimeSpan.FromTicks((long)(_baseReachableTime.Ticks * (0.5 + _stack.Random.NextDouble())));

    internal sealed class AddressEntry(Ipv6Address address, int prefixLength, Ipv6AddressOrigin origin)
    {
        public Ipv6Address Address { get; } = address;

        public int PrefixLength { get; } = prefixLength;

        public Ipv6AddressOrigin Origin { get; } = origin;

        public Ipv6AddressState State;
        public DateTimeOffset? ValidUntil;
        public DateTimeOffset? PreferredUntil;
        public LinkLocalMode IdMode = LinkLocalMode.None;
        public int DadCounter;
        public int DadSent;
        public ulong DadNonce;
        public TimerHandle DadTimer;
    }

    private readonly record struct Router(Ipv6Address Address, DateTimeOffset ExpiresAt);

    private readonly record struct OnLinkPrefix(Ipv6Address Prefix, int Length, DateTimeOffset? ValidUntil);
}
