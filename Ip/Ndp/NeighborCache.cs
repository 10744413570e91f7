using Microsoft.Extensions.Logging;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>The reachability state of a neighbour cache entry (RFC 4861 7.3.2).</summary>
public enum NeighborState
{
    /// <summary>Address resolution is in progress: solicitations are out, packets wait in a bounded queue.</summary>
    Incomplete = 0,

    /// <summary>Positive confirmation of reachability within ReachableTime.</summary>
    Reachable,

    /// <summary>Not confirmed lately; nothing is done until a packet is sent to it.</summary>
    Stale,

    /// <summary>A packet was sent while stale: waiting DELAY_FIRST_PROBE_TIME for an upper-layer confirmation before probing.</summary>
    Delay,

    /// <summary>Unicast solicitations are out to confirm reachability.</summary>
    Probe,
}

/// <summary>One neighbour cache entry as <see cref="NeighborCache.Entries"/> shows it.</summary>
/// <param name="Address">The neighbour's IPv6 address.</param>
/// <param name="LinkLayerAddress">Its MAC address (default while incomplete).</param>
/// <param name="State">Its reachability state.</param>
/// <param name="IsRouter">Whether it said it is a router.</param>
/// <param name="PendingPackets">Packets waiting for resolution.</param>
public readonly record struct NeighborInfo(Ipv6Address Address, MacAddress LinkLayerAddress, NeighborState State, bool IsRouter, int PendingPackets);

/// <summary>
/// The neighbour cache of one Ethernet interface (RFC 4861 7.3): address resolution with
/// multicast solicitations and a bounded queue of packets per unresolved neighbour, and neighbour
/// unreachability detection through the REACHABLE, STALE, DELAY and PROBE states, driven by
/// advertisements (RFC 4861 7.2.5), solicitations (7.2.3), router messages and the stack's clock.
/// Bounded in entries and queued packets. Runs on the stack's loop only.
/// </summary>
public sealed class NeighborCache
{
    private readonly NetworkStack _stack;
    private readonly NetworkInterface _nic;
    private readonly Dictionary<Ipv6Address, Entry> _entries = [];
    private int _pendingTotal;

    internal NeighborCache(NetworkStack stack, NetworkInterface nic)
    {
        _stack = stack;
        _nic = nic;
    }

    /// <summary>The number of entries.</summary>
    public int Count => _entries.Count;

    /// <summary>Packets waiting for resolution, all neighbours together.</summary>
    public int PendingPackets => _pendingTotal;

    /// <summary>A copy of the entries (call on the loop).</summary>
    public IReadOnlyList<NeighborInfo> Entries =>
        [.. _entries.Values.Select(e => new NeighborInfo(e.Address, e.Mac, CurrentState(e), e.IsRouter, e.Pending?.Count ?? 0))];

    private NetworkStackOptions Options => _stack.Options;

    /// <summary>The entry's state now (a REACHABLE entry past its time reads as STALE).</summary>
    public NeighborState? StateOf(Ipv6Address address) => _entries.TryGetValue(address, out Entry? e) ? CurrentState(e) : null;

    /// <summary>
    /// The link-layer address to send a packet to <paramref name="address"/> with, when known
    /// (RFC 4861 7.3.3: sending to a STALE entry moves it to DELAY and starts the delay timer).
    /// </summary>
    internal bool TryResolve(Ipv6Address address, out MacAddress mac)
    {
        mac = default;
        if (!_entries.TryGetValue(address, out Entry? entry) || entry.State == NeighborState.Incomplete)
        {
            return false;
        }

        if (CurrentState(entry) == NeighborState.Stale)
        {
            entry.State = NeighborState.Delay;
            Arm(entry, _stack.Now + Options.Ipv6DelayFirstProbeTime);
        }

        mac = entry.Mac;
        return true;
    }

    /// <summary>Queues a packet until <paramref name="address"/> resolves, starting resolution when needed (RFC 4861 7.2.2).</summary>
    internal IpSendResult Enqueue(Ipv6Address address, Ipv6Address? source, ReadOnlySpan<byte> packet)
    {
        if (!_entries.TryGetValue(address, out Entry? entry))
        {
            if (_entries.Count >= Options.NeighborCacheCapacity && !Evict())
            {
                _stack.Counters.SendDrop(DropReason.NeighborQueueFull);
                return IpSendResult.QueueFull;
            }

            entry = new Entry(address) { State = NeighborState.Incomplete, Pending = new Queue<byte[]>(), SolicitSource = source };
            _entries.Add(address, entry);
            Push(entry, packet);
            Solicit(entry);
            return IpSendResult.Queued;
        }

        // RFC 4861 7.2.2: at least one packet per unresolved neighbour; bounded here.
        if ((entry.Pending?.Count ?? 0) >= Options.NeighborPendingPerAddress || _pendingTotal >= Options.NeighborPendingTotal)
        {
            _stack.Counters.SendDrop(DropReason.NeighborQueueFull);
            return IpSendResult.QueueFull;
        }

        entry.Pending ??= new Queue<byte[]>();
        Push(entry, packet);
        return IpSendResult.Queued;
    }

    /// <summary>
    /// A neighbour solicitation with a source link-layer address option, or a router solicitation
    /// or advertisement with one (RFC 4861 7.2.3, 6.3.4): create the entry as STALE, or update a
    /// different link-layer address (then STALE); an incomplete entry resolves.
    /// </summary>
    internal void OnRouterOrSolicitation(Ipv6Address source, MacAddress mac, bool isRouter)
    {
        if (!_entries.TryGetValue(source, out Entry? entry))
        {
            if (_entries.Count >= Options.NeighborCacheCapacity && !Evict())
            {
                return;
            }

            entry = new Entry(source) { Mac = mac, State = NeighborState.Stale, IsRouter = isRouter };
            _entries.Add(source, entry);
            return;
        }

        entry.IsRouter |= isRouter;
        if (entry.State == NeighborState.Incomplete)
        {
            Resolved(entry, mac, NeighborState.Stale);
        }
        else if (entry.Mac != mac)
        {
            entry.Mac = mac;
            entry.State = NeighborState.Stale;
            Disarm(entry);
        }
    }

    /// <summary>A valid neighbour advertisement for <paramref name="target"/> (RFC 4861 7.2.5).</summary>
    internal void OnAdvertisement(Ipv6Address target, MacAddress? targetMac, bool router, bool solicited, bool @override)
    {
        if (!_entries.TryGetValue(target, out Entry? entry))
        {
            // RFC 4861 7.2.5: no entry: the advertisement is discarded (unsolicited ones do not create entries).
            return;
        }

        if (entry.State == NeighborState.Incomplete)
        {
            // Without a link-layer address option the advertisement cannot resolve anything.
            if (targetMac is not { } mac)
            {
                return;
            }

            entry.IsRouter = router;
            Resolved(entry, mac, solicited ? NeighborState.Reachable : NeighborState.Stale);
            return;
        }

        bool different = targetMac is { } m && m != entry.Mac;
        if (!@override && different)
        {
            // An advertisement that does not override another address only ages a reachable entry.
            if (CurrentState(entry) == NeighborState.Reachable)
            {
                entry.State = NeighborState.Stale;
            }

            return;
        }

        if (targetMac is { } newMac)
        {
            entry.Mac = newMac;
        }

        if (solicited)
        {
            MakeReachable(entry);
        }
        else if (different)
        {
            entry.State = NeighborState.Stale;
            Disarm(entry);
        }

        if (entry.IsRouter && !router)
        {
            // RFC 4861 7.2.5: a router that stopped being one leaves the default router list (not modelled here).
            _stack.Logger.LogDebug("{Interface}: {Address} is no longer a router", _nic.Name, target);
        }

        entry.IsRouter = router;
    }

    /// <summary>
    /// Forward progress seen by an upper layer (RFC 4861 7.3.1): the neighbour is reachable.
    /// Ignored for addresses without an entry.
    /// </summary>
    public void ConfirmReachable(Ipv6Address address)
    {
        if (_entries.TryGetValue(address, out Entry? entry) && entry.State != NeighborState.Incomplete)
        {
            MakeReachable(entry);
        }
    }

    /// <summary>False for a neighbour whose resolution is failing or that is being probed (RFC 4861 6.3.6: prefer routers not known to be unreachable).</summary>
    internal bool IsProbablyReachable(Ipv6Address address) =>
        !_entries.TryGetValue(address, out Entry? entry) || entry.State is not (NeighborState.Incomplete or NeighborState.Probe);

    private NeighborState CurrentState(Entry entry) =>
        entry.State == NeighborState.Reachable && _stack.Now >= entry.ReachableUntil ? NeighborState.Stale : entry.State;

    private void MakeReachable(Entry entry)
    {
        entry.State = NeighborState.Reachable;
        entry.ReachableUntil = _stack.Now + (_nic.Ipv6?.ReachableTime ?? Options.Ipv6BaseReachableTime);
        entry.ProbesSent = 0;
        Disarm(entry);
    }

    private void Resolved(Entry entry, MacAddress mac, NeighborState state)
    {
        entry.Mac = mac;
        if (state == NeighborState.Reachable)
        {
            MakeReachable(entry);
        }
        else
        {
            entry.State = state;
            entry.ProbesSent = 0;
            Disarm(entry);
        }

        if (entry.Pending is not { Count: > 0 } pending)
        {
            return;
        }

        // RFC 4861 7.2.5: the queued packets go out now.
        while (pending.TryDequeue(out byte[]? packet))
        {
            _pendingTotal--;
            packet.CopyTo(_stack.FramePayloadBuffer);
            _stack.SendEthernet(_nic, mac, EtherType.Ipv6, packet.Length);
        }
    }

    private void Push(Entry entry, ReadOnlySpan<byte> packet)
    {
        entry.Pending!.Enqueue(packet.ToArray());
        _pendingTotal++;
    }

    // RFC 4861 7.2.2: a multicast solicitation to the solicited-node group, retransmitted every
    // RetransTimer up to MAX_MULTICAST_SOLICIT times.
    private void Solicit(Entry entry)
    {
        _stack.SendNeighborSolicitation(_nic, entry.SolicitSource, entry.Address, unicastTo: null);
        entry.ProbesSent++;
        Arm(entry, _stack.Now + (_nic.Ipv6?.RetransTimer ?? Options.Ipv6RetransTimer));
    }

    private void Arm(Entry entry, DateTimeOffset due)
    {
        Disarm(entry);
        entry.Timer = _stack.Timers.Schedule(due, _ => OnTimer(entry));
    }

    private void Disarm(Entry entry)
    {
        if (entry.Timer.IsAllocated)
        {
            _stack.Timers.Cancel(entry.Timer);
            entry.Timer = default;
        }
    }

    private void OnTimer(Entry entry)
    {
        entry.Timer = default;
        if (!_entries.TryGetValue(entry.Address, out Entry? current) || current != entry)
        {
            return;
        }

        TimeSpan retrans = _nic.Ipv6?.RetransTimer ?? Options.Ipv6RetransTimer;
        switch (entry.State)
        {
            case NeighborState.Incomplete:
                if (entry.ProbesSent < Options.Ipv6MaxMulticastSolicit)
                {
                    Solicit(entry);
                    return;
                }

                // RFC 4861 7.2.2: resolution failed: the queued packets' senders hear address unreachable.
                _entries.Remove(entry.Address);
                Fail(entry);
                return;

            case NeighborState.Delay:
                // RFC 4861 7.3.3: no confirmation during DELAY_FIRST_PROBE_TIME: probe with unicast solicitations.
                entry.State = NeighborState.Probe;
                entry.ProbesSent = 0;
                goto case NeighborState.Probe;

            case NeighborState.Probe:
                if (entry.ProbesSent < Options.Ipv6MaxUnicastSolicit)
                {
                    _stack.SendNeighborSolicitation(_nic, null, entry.Address, unicastTo: entry.Mac);
                    entry.ProbesSent++;
                    Arm(entry, _stack.Now + retrans);
                    return;
                }

                // RFC 4861 7.3.3: no answer to the probes: the entry is deleted.
                _entries.Remove(entry.Address);
                _stack.Counters.NeighborUnreachable++;
                return;
        }
    }

    private void Fail(Entry entry)
    {
        _stack.Counters.NeighborUnreachable++;
        if (entry.Pending is not { } pending)
        {
            return;
        }

        while (pending.TryDequeue(out byte[]? packet))
        {
            _pendingTotal--;
            _stack.Counters.SendDrop(DropReason.NeighborResolutionFailed);
            _stack.ReportLocalUnreachable(_nic, packet);
        }
    }

    // Makes room in a full cache: stale entries first (oldest reachability first), then any resolved one. Incomplete entries stay.
    private bool Evict()
    {
        Entry? victim = null;
        foreach (Entry e in _entries.Values)
        {
            if (e.State == NeighborState.Incomplete)
            {
                continue;
            }

            if (victim is null || (CurrentState(e) == NeighborState.Stale && CurrentState(victim) != NeighborState.Stale) || e.ReachableUntil < victim.ReachableUntil)
            {
                victim = e;
            }
        }

        if (victim is null)
        {
            return false;
        }

        Disarm(victim);
        _entries.Remove(victim.Address);
        return true;
    }

    private sealed class Entry(Ipv6Address address)
    {
        public Ipv6Address Address { get; } = address;

        public MacAddress Mac;
        public NeighborState State;
        public bool IsRouter;
        public DateTimeOffset ReachableUntil;
        public int ProbesSent;
        public Queue<byte[]>? Pending;
        public Ipv6Address? SolicitSource;
        public TimerHandle Timer;
    }
}
