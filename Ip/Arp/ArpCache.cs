using System.Buffers.Binary;
using Microsoft.Extensions.Logging;
using Protocols.Wire;

namespace Protocols.Ip.Arp;

/// <summary>The state of one ARP cache entry.</summary>
public enum ArpEntryState
{
    /// <summary>Requests are out; packets wait in a bounded queue.</summary>
    Incomplete = 0,

    /// <summary>Resolved and fresh.</summary>
    Reachable,

    /// <summary>Resolved but older than the reachable time: still used, while requests confirm it; removed when they go unanswered.</summary>
    Probing,
}

/// <summary>One ARP cache entry as <see cref="ArpCache.Entries"/> shows it.</summary>
/// <param name="Address">The IPv4 address.</param>
/// <param name="HardwareAddress">Its MAC address (default while incomplete).</param>
/// <param name="State">Where resolution stands.</param>
/// <param name="PendingPackets">Packets waiting for the resolution.</param>
public readonly record struct ArpEntryInfo(Ipv4Address Address, MacAddress HardwareAddress, ArpEntryState State, int PendingPackets);

/// <summary>
/// Address resolution for one Ethernet interface (RFC 826): the cache with expiry, resolution with
/// retries and a bounded queue of packets per address, answers to requests for our address, and
/// learning by the RFC 826 merge rule. Runs on the stack's loop only.
/// </summary>
public sealed class ArpCache
{
    private readonly NetworkStack _stack;
    private readonly NetworkInterface _nic;
    private readonly Dictionary<uint, Entry> _entries = [];
    private readonly byte[] _arpFrame = new byte[EthernetHeader.FixedLength + ArpPacket.FixedLength];
    private int _pendingTotal;

    internal ArpCache(NetworkStack stack, NetworkInterface nic)
    {
        _stack = stack;
        _nic = nic;
    }

    /// <summary>The number of entries (resolved and resolving).</summary>
    public int Count => _entries.Count;

    /// <summary>Packets waiting for resolution, all addresses together.</summary>
    public int PendingPackets => _pendingTotal;

    /// <summary>A copy of the entries (for diagnostics and tests; call on the loop).</summary>
    public IReadOnlyList<ArpEntryInfo> Entries =>
        [.. _entries.Values.Select(e => new ArpEntryInfo(Ipv4Address.FromUInt32(e.Address), e.Mac, e.State, e.Pending?.Count ?? 0))];

    private NetworkStackOptions Options => _stack.Options;

    /// <summary>The MAC address of <paramref name="address"/> if resolved (possibly being re-confirmed).</summary>
    internal bool TryResolve(uint address, out MacAddress mac)
    {
        mac = default;
        if (!_entries.TryGetValue(address, out Entry? entry) || entry.State == ArpEntryState.Incomplete)
        {
            return false;
        }

        // Past its reachable time the entry is still used, but confirmed again (the way Linux
        // goes STALE -> PROBE): a request goes out and the entry dies if nobody answers.
        if (entry.State == ArpEntryState.Reachable && _stack.Now.UtcTicks >= entry.ExpiresTicks)
        {
            entry.State = ArpEntryState.Probing;
            entry.RequestsSent = 0;
            SendRequestAndArm(entry);
        }

        mac = entry.Mac;
        return true;
    }

    /// <summary>Queues a datagram until <paramref name="nextHop"/> resolves, starting the resolution if needed.</summary>
    /// <param name="nextHop">The address being resolved.</param>
    /// <param name="datagram">The IPv4 datagram (copied).</param>
    /// <param name="tcpSegmentSize">Non-zero for a TCP super-segment: it leaves for the device to cut into segments of this size, as it would have without the wait.</param>
    internal IpSendResult Enqueue(uint nextHop, ReadOnlySpan<byte> datagram, ushort tcpSegmentSize = 0)
    {
        if (!_entries.TryGetValue(nextHop, out Entry? entry))
        {
            if (_entries.Count >= Options.ArpCacheCapacity && !Evict())
            {
                _stack.Counters.SendDrop(DropReason.ArpQueueFull);
                return IpSendResult.QueueFull;
            }

            entry = new Entry(nextHop) { State = ArpEntryState.Incomplete };
            _entries.Add(nextHop, entry);
            entry.Pending = new Queue<PendingDatagram>();
            Push(entry, datagram, tcpSegmentSize);
            SendRequestAndArm(entry);
            return IpSendResult.Queued;
        }

        // RFC 1122 2.3.2.2: keep at least one packet per unresolved address; bounded here, in
        // packets and (as super-segments are up to 64 KiB each) in bytes.
        if ((entry.Pending?.Count ?? 0) >= Options.ArpPendingPerAddress || _pendingTotal >= Options.ArpPendingTotal
            || (entry.PendingBytes > 0 && entry.PendingBytes + datagram.Length > Options.ArpPendingBytesPerAddress))
        {
            _stack.Counters.SendDrop(DropReason.ArpQueueFull);
            return IpSendResult.QueueFull;
        }

        entry.Pending ??= new Queue<PendingDatagram>();
        Push(entry, datagram, tcpSegmentSize);
        return IpSendResult.Queued;
    }

    /// <summary>An ARP packet from the wire (RFC 826 "Packet Reception").</summary>
    internal void OnArpPacket(ReadOnlySpan<byte> packet)
    {
        StackCounters counters = _stack.Counters;

        // Hardware type Ethernet, protocol IPv4 and the address lengths are checked by TryRead.
        if (!ArpPacket.TryRead(packet, out ArpPacket.Reader arp, out _))
        {
            counters.Drop(DropReason.Malformed);
            return;
        }

        MacAddress senderMac = arp.SenderHardwareAddress;
        uint senderIp = BinaryPrimitives.ReadUInt32BigEndian(arp.SenderProtocolAddressBytes);
        uint targetIp = BinaryPrimitives.ReadUInt32BigEndian(arp.TargetProtocolAddressBytes);
        ArpOperation operation = arp.Operation;
        if (senderMac.IsMulticast || (operation is not (ArpOperation.Request or ArpOperation.Reply)))
        {
            counters.Drop(DropReason.Malformed);
            return;
        }

        if (senderMac == _nic.HardwareAddress)
        {
            // Our own request looped back by the medium.
            counters.Drop(DropReason.NotForUs);
            return;
        }

        if (senderIp == _nic.AddressValue)
        {
            // Another station claims our address (RFC 5227 2.4): never learn it.
            counters.Drop(DropReason.ArpAddressConflict);
            _stack.Logger.LogWarning("{Interface}: {Mac} claims our address {Address}", _nic.Name, senderMac, _nic.Address);
            return;
        }

        counters.ArpReceived++;

        // RFC 826: if the sender's address is in the table, update it (merge_flag), whether or
        // not the packet is for us. A sender address of 0.0.0.0 is a probe (RFC 5227 2.1.1),
        // never an entry.
        bool merged = false;
        if (senderIp != 0 && _entries.TryGetValue(senderIp, out Entry? entry))
        {
            Resolved(entry, senderMac);
            merged = true;
        }

        // Our address, or one a translator owns on this link (its outside addresses: proxy ARP,
        // RFC 1027, so the link's hosts send the translated traffic to us).
        bool proxied = targetIp != _nic.AddressValue;
        if (proxied && !_stack.AnswersArpFor(_nic, targetIp))
        {
            return;
        }

        // RFC 826: for us and not merged: add the sender (neighbours on our subnet only).
        if (!merged && senderIp != 0 && _nic.IsOnLink(Ipv4Address.FromUInt32(senderIp)) && senderIp != _nic.BroadcastValue
            && (_entries.Count < Options.ArpCacheCapacity || Evict()))
        {
            var learned = new Entry(senderIp);
            _entries.Add(senderIp, learned);
            Resolved(learned, senderMac);
        }

        if (operation == ArpOperation.Request)
        {
            SendArp(ArpOperation.Reply, senderMac, senderMac, senderIp, proxied ? targetIp : _nic.AddressValue);
            counters.ArpRepliesSent++;
        }
    }

    private void Push(Entry entry, ReadOnlySpan<byte> datagram, ushort tcpSegmentSize)
    {
        entry.Pending!.Enqueue(new PendingDatagram(datagram.ToArray(), tcpSegmentSize));
        entry.PendingBytes += datagram.Length;
        _pendingTotal++;
    }

    private void Resolved(Entry entry, MacAddress mac)
    {
        entry.Mac = mac;
        entry.State = ArpEntryState.Reachable;
        entry.ExpiresTicks = (_stack.Now + Options.ArpReachableTime).UtcTicks;
        entry.RequestsSent = 0;
        _stack.Timers.Cancel(entry.Timer);
        entry.Timer = default;
        if (entry.Pending is not { Count: > 0 } pending)
        {
            return;
        }

        while (pending.TryDequeue(out PendingDatagram queued))
        {
            _pendingTotal--;
            entry.PendingBytes -= queued.Datagram.Length;
            queued.Datagram.CopyTo(_stack.FramePayloadBuffer);
            _stack.SendEthernet(_nic, mac, EtherType.Ipv4, queued.Datagram.Length, queued.TcpSegmentSize);
        }
    }

    private void SendRequestAndArm(Entry entry)
    {
        // RFC 826: the request is broadcast, target hardware address unknown (zero).
        SendArp(ArpOperation.Request, MacAddress.Broadcast, default, entry.Address, _nic.AddressValue);
        _stack.Counters.ArpRequestsSent++;
        entry.RequestsSent++;
        entry.Timer = _stack.Timers.Schedule(_stack.Now + Options.ArpRetransmitInterval, _ => OnRetransmitTimer(entry));
    }

    private void OnRetransmitTimer(Entry entry)
    {
        entry.Timer = default;
        if (entry.State == ArpEntryState.Reachable || !_entries.TryGetValue(entry.Address, out Entry? current) || current != entry)
        {
            return;
        }

        // RFC 1122 2.3.2.1: at most one request per second per address, and give up eventually.
        if (entry.RequestsSent < Options.ArpMaxRequests)
        {
            SendRequestAndArm(entry);
            return;
        }

        _entries.Remove(entry.Address);
        Fail(entry);
    }

    /// <summary>Resolution failed: drop what waits, telling the senders' transports the host is unreachable (like Linux's EHOSTUNREACH).</summary>
    private void Fail(Entry entry)
    {
        if (entry.Pending is not { } pending)
        {
            return;
        }

        if (_stack.Logger.IsEnabled(LogLevel.Debug))
        {
            _stack.Logger.LogDebug("{Interface}: ARP for {Address} failed; {Count} packets dropped", _nic.Name, Ipv4Address.FromUInt32(entry.Address), pending.Count);
        }

        while (pending.TryDequeue(out PendingDatagram queued))
        {
            _pendingTotal--;
            entry.PendingBytes -= queued.Datagram.Length;
            _stack.Counters.SendDrop(DropReason.ArpResolutionFailed);
            _stack.ReportLocalUnreachable(_nic, queued.Datagram);
        }
    }

    private void SendArp(ArpOperation operation, MacAddress ethernetDestination, MacAddress targetMac, uint targetIp, uint senderIp)
    {
        // Its own small buffer: a request may go out while the stack's frame buffer holds a datagram.
        Span<byte> frame = _arpFrame;
        ((ReadOnlySpan<byte>)ethernetDestination).CopyTo(frame);
        MacAddress ours = _nic.HardwareAddress;
        ((ReadOnlySpan<byte>)ours).CopyTo(frame[6..]);
        BinaryPrimitives.WriteUInt16BigEndian(frame[12..], (ushort)EtherType.Arp);
        new ArpPacket
        {
            Operation = operation,
            SenderHardwareAddress = _nic.HardwareAddress,
            SenderProtocolAddress = Ipv4Address.FromUInt32(senderIp),
            TargetHardwareAddress = targetMac,
            TargetProtocolAddress = Ipv4Address.FromUInt32(targetIp),
        }.WriteTo(frame[EthernetHeader.FixedLength..]);
        _stack.SendFrame(_nic, frame);
    }

    /// <summary>Makes room in a full cache: expired resolved entries go first, then the oldest resolved one. Entries still resolving stay.</summary>
    private bool Evict()
    {
        Entry? oldest = null;
        foreach (Entry e in _entries.Values)
        {
            if (e.State != ArpEntryState.Incomplete && (oldest is null || e.ExpiresTicks < oldest.ExpiresTicks))
            {
                oldest = e;
            }
        }

        if (oldest is null)
        {
            return false;
        }

        _stack.Timers.Cancel(oldest.Timer);
        _entries.Remove(oldest.Address);
        return true;
    }

    private sealed class Entry(uint address)
    {
        public uint Address { get; } = address;

        public MacAddress Mac;
        public ArpEntryState State;
        public long ExpiresTicks;
        public int RequestsSent;
        public Queue<PendingDatagram>? Pending;
        public int PendingBytes;
        public TimerHandle Timer;
    }

    // A datagram waiting for resolution, and the segment size of a TCP super-segment (0 otherwise).
    private readonly record struct PendingDatagram(byte[] Datagram, ushort TcpSegmentSize);
}
