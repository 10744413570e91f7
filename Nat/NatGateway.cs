using System.Buffers.Binary;
using System.Diagnostics.Metrics;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Nat;

/// <summary>
/// A NAT gateway on a forwarding <see cref="NetworkStack"/>: datagrams routed out of the outside
/// interface leave with an outside source, and datagrams to an outside address come back in,
/// translated. Static 1:1 entries take precedence, then the dynamic pool (an inside host gets a
/// pool address of its own while it has flows, ports kept), then PAT behind the shared outside
/// address for everyone else (ports kept when free). Behaviour per RFC 4787 (UDP), RFC 5382 (TCP)
/// and RFC 5508 (ICMP): endpoint-independent mapping, configurable filtering, hairpinning, state-
/// dependent TCP lifetimes, ICMP query identifiers mapped like ports, ICMP errors translated back
/// with their quoted headers. Fragments are reassembled by the stack before translation (and cut
/// again on the way out). The table is bounded. Everything runs on the stack's loop.
/// </summary>
public sealed class NatGateway : IDatagramTranslator, IDisposable
{
    private const byte TcpFin = 0x01;
    private const byte TcpSyn = 0x02;
    private const byte TcpRst = 0x04;
    private const byte TcpAck = 0x10;

    private readonly NatTable _table;
    private readonly Dictionary<uint, uint> _staticByInside = new();
    private readonly Dictionary<uint, uint> _staticByOutside = new();
    private readonly UnsolicitedSynQueue _heldSyns;
    private readonly UnsolicitedSynQueue.SynAnswer _answerSyn;
    private readonly Action<NetworkStack> _onTimer;
    private readonly Action<NatSession> _onExpired;
    private readonly Meter _meter;
    private readonly uint _patAddress;
    private TimerHandle _timer;
    private long _timerDueTicks = long.MaxValue;

    /// <summary>Sets up the NAT on <paramref name="stack"/> (which must forward) with <paramref name="outside"/> as the outside interface.</summary>
    /// <exception cref="ArgumentException">The stack does not forward, the interface is not the stack's, or the options are invalid.</exception>
    /// <exception cref="InvalidOperationException">The stack has a translator already.</exception>
    public NatGateway(NetworkStack stack, NetworkInterface outside, NatOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        ArgumentNullException.ThrowIfNull(outside);
        Options = options ?? new NatOptions();
        Options.Validate();
        if (!stack.Options.Forwarding)
        {
            throw new ArgumentException("A NAT gateway needs a stack that forwards (NetworkStackOptions.Forwarding).", nameof(stack));
        }

        if (!stack.Interfaces.Contains(outside))
        {
            throw new ArgumentException($"{outside.Name} is not an interface of the stack.", nameof(outside));
        }

        Stack = stack;
        Outside = outside;
        OutsideAddress = Options.OutsideAddress ?? outside.Address;
        _patAddress = OutsideAddress.ToUInt32();
        foreach (NatStaticEntry entry in Options.Static)
        {
            if (!_staticByInside.TryAdd(entry.Inside.ToUInt32(), entry.Outside.ToUInt32()) || !_staticByOutside.TryAdd(entry.Outside.ToUInt32(), entry.Inside.ToUInt32())
                || entry.Outside == OutsideAddress)
            {
                throw new ArgumentException($"The static entry {entry.Inside}={entry.Outside} repeats an address, or uses the shared outside address.", nameof(options));
            }
        }

        _table = new NatTable(Options, _patAddress);
        foreach (uint address in _staticByOutside.Keys)
        {
            if (_table.IsPoolAddress(address))
            {
                throw new ArgumentException($"The static outside address {Ipv4Address.FromUInt32(address)} is also in the pool.", nameof(options));
            }
        }

        _heldSyns = new UnsolicitedSynQueue(Options.UnsolicitedSynQueue);
        _answerSyn = AnswerHeldSyn;
        _onTimer = _ => OnTimer();
        _meter = new Meter("Protocols.Nat");
        Counters = new NatCounters(_meter, Options.Name ?? stack.Name);
        NatCounters counters = Counters;
        _onExpired = s => counters.SessionState(s.Mapping.Protocol, s.TcpState, -1);
        stack.SetTranslator(this);
    }

    /// <summary>The stack the gateway translates on.</summary>
    public NetworkStack Stack { get; }

    /// <summary>The outside interface.</summary>
    public NetworkInterface Outside { get; }

    /// <summary>The shared outside address of PAT.</summary>
    public Ipv4Address OutsideAddress { get; }

    /// <summary>The options.</summary>
    public NatOptions Options { get; }

    /// <summary>The counters and table sizes (also on the <c>Protocols.Nat</c> meter).</summary>
    public NatCounters Counters { get; }

    /// <summary>The translation table, one row per static entry and per session. Loop-only (simulations, callbacks).</summary>
    public IReadOnlyList<NatTableRow> GetTable()
    {
        long now = Stack.Now.UtcTicks;
        var rows = new List<NatTableRow>(_staticByInside.Count + _table.SessionCount);
        foreach ((uint inside, uint outside) in _staticByInside)
        {
            rows.Add(new NatTableRow(IpProtocol.HopByHop, NatMappingKind.Static, new IpEndpoint(Ipv4Address.FromUInt32(inside), 0),
                new IpEndpoint(Ipv4Address.FromUInt32(outside), 0), new IpEndpoint(IpAddress.Ipv4Any, 0), "static", TimeSpan.Zero));
        }

        foreach (NatSession s in _table.Sessions)
        {
            NatMapping m = s.Mapping;
            string state = m.Protocol switch
            {
                IpProtocol.Tcp => s.TcpState.ToString(),
                IpProtocol.Udp => "udp",
                _ => "icmp",
            };
            rows.Add(new NatTableRow(m.Protocol, m.Kind,
                new IpEndpoint(Ipv4Address.FromUInt32(m.InsideAddress), m.InsidePort),
                new IpEndpoint(Ipv4Address.FromUInt32(m.OutsideAddress), m.OutsidePort),
                new IpEndpoint(Ipv4Address.FromUInt32(s.RemoteAddress), s.RemotePort),
                state,
                TimeSpan.FromTicks(Math.Max(0, now - s.LastActivityTicks))));
        }

        return rows;
    }

    /// <summary>The translation table (see <see cref="GetTable"/>), from any thread.</summary>
    public Task<IReadOnlyList<NatTableRow>> GetTableAsync() => Stack.InvokeAsync(_ => GetTable());

    /// <summary>Releases the meter. The translator stays set on the stack.</summary>
    public void Dispose() => _meter.Dispose();

    /// <inheritdoc/>
    bool IDatagramTranslator.OwnsAddress(NetworkInterface nic, uint address) =>
        address == _patAddress || _staticByOutside.ContainsKey(address) || _table.IsPoolAddress(address);

    /// <inheritdoc/>
    PreroutingVerdict IDatagramTranslator.Prerouting(NetworkInterface input, Span<byte> datagram, out DropReason reason)
    {
        reason = default;
        uint destination = NatRewrite.Destination(datagram);
        IpProtocol protocol = NatRewrite.Protocol(datagram);
        int headerLength = NatRewrite.HeaderLength(datagram);
        Span<byte> transport = datagram[headerLength..];
        bool fromInside = input != Outside;

        if (_staticByOutside.TryGetValue(destination, out uint staticInside))
        {
            // RFC 3022 2.3: a static entry lets everything in, every protocol, address only.
            if (protocol == IpProtocol.Icmp && transport.Length > 0 && NatRewrite.IsError((IcmpType)transport[0]))
            {
                if (!NatIcmpErrors.ChecksumVerifies(datagram) || !NatIcmpErrors.TryReadQuote(datagram, out _))
                {
                    reason = DropReason.Malformed;
                    return PreroutingVerdict.Drop;
                }

                NatIcmpErrors.Translate(datagram, inbound: true, staticInside, null);
                Counters.IcmpErrorsTranslatedCount++;
            }
            else
            {
                NatRewrite.RewriteDestination(datagram, staticInside, null);
            }

            if (fromInside)
            {
                return Hairpin(input, datagram, out reason);
            }

            Counters.InboundTranslatedCount++;
            return PreroutingVerdict.Translated;
        }

        if (destination != _patAddress && !_table.IsPoolAddress(destination))
        {
            return PreroutingVerdict.NotTranslated;
        }

        bool pool = destination != _patAddress;
        switch (protocol)
        {
            case IpProtocol.Tcp or IpProtocol.Udp:
                return InboundTransport(input, datagram, protocol, transport, pool, out reason);

            case IpProtocol.Icmp when transport.Length >= IcmpHeader.FixedLength:
                var type = (IcmpType)transport[0];
                if (NatRewrite.IsQueryReply(type))
                {
                    return InboundTransport(input, datagram, protocol, transport, pool, out reason);
                }

                if (NatRewrite.IsError(type) && !fromInside)
                {
                    return InboundError(datagram, out reason);
                }

                break;
        }

        // Not a flow of ours: the stack's own business on its address (it answers ping), nothing on a pool address.
        if (pool)
        {
            Counters.NoMappingCount++;
            reason = DropReason.NatNoMapping;
            return PreroutingVerdict.Drop;
        }

        return PreroutingVerdict.NotTranslated;
    }

    /// <inheritdoc/>
    bool IDatagramTranslator.Postrouting(NetworkInterface input, NetworkInterface output, Span<byte> datagram, out DropReason reason)
    {
        reason = default;
        if (output != Outside || input == Outside)
        {
            // Only what an inside host sends out is translated here; inbound flows were translated before routing.
            return true;
        }

        return TranslateOutbound(input, datagram, out reason);
    }

    /// <summary>An inbound TCP/UDP datagram or ICMP query reply to the PAT address or a pool address.</summary>
    private PreroutingVerdict InboundTransport(NetworkInterface input, Span<byte> datagram, IpProtocol protocol, Span<byte> transport, bool pool, out DropReason reason)
    {
        reason = default;
        if (!NatRewrite.TryReadPorts(protocol, transport, out ushort sourcePort, out ushort destinationPort))
        {
            reason = DropReason.Truncated;
            return PreroutingVerdict.Drop;
        }

        uint source = NatRewrite.Source(datagram);
        uint destination = NatRewrite.Destination(datagram);
        byte tcpFlags = protocol == IpProtocol.Tcp && transport.Length > 13 ? transport[13] : (byte)0;
        bool bareSyn = (tcpFlags & (TcpSyn | TcpAck | TcpRst)) == TcpSyn;
        bool fromInside = input != Outside;
        NatMapping? mapping = _table.FindByOutside(protocol, destination, destinationPort);
        if (mapping is null)
        {
            if (bareSyn && !fromInside)
            {
                HoldUnsolicitedSyn(datagram, destination, destinationPort, source, sourcePort);
            }

            if (!pool && !bareSyn)
            {
                // The stack's own address and no flow: its transports answer (or ICMP says no one listens).
                return PreroutingVerdict.NotTranslated;
            }

            Counters.NoMappingCount++;
            reason = DropReason.NatNoMapping;
            return PreroutingVerdict.Drop;
        }

        long now = Stack.Now.UtcTicks;
        ushort remotePort = protocol == IpProtocol.Icmp ? (ushort)0 : sourcePort;
        NatMapping? hairpinSource = null;
        if (fromInside)
        {
            // RFC 4787 REQ-9, RFC 5382 REQ-8: hairpinning; the source is translated to the sender's
            // own outside endpoint, which is what the filtering of the target mapping sees.
            hairpinSource = _table.GetOrCreateMapping(protocol, source, sourcePort);
            if (hairpinSource is null)
            {
                Exhausted(input, datagram, out reason);
                return PreroutingVerdict.Drop;
            }

            source = hairpinSource.OutsideAddress;
            remotePort = protocol == IpProtocol.Icmp ? (ushort)0 : hairpinSource.OutsidePort;
        }

        NatSession? session = _table.FindSession(mapping, source, remotePort);
        if (session is null)
        {
            bool admitted = Options.Filtering switch
            {
                NatFiltering.EndpointIndependent => true,
                NatFiltering.AddressDependent => NatTable.HasSentToAddress(mapping, source),
                _ => false,
            };
            if (!admitted)
            {
                if (bareSyn && !fromInside)
                {
                    HoldUnsolicitedSyn(datagram, destination, destinationPort, source, sourcePort);
                }

                Counters.FilteredCount++;
                reason = DropReason.NatFiltered;
                return PreroutingVerdict.Drop;
            }

            session = NewSession(mapping, source, remotePort, now);
            if (session is null)
            {
                Counters.ExhaustedCount++;
                reason = DropReason.NatTableFull;
                return PreroutingVerdict.Drop;
            }
        }

        Track(session, tcpFlags, outbound: false, now);
        if (hairpinSource is not null)
        {
            NatSession? back = NewSession(hairpinSource, mapping.OutsideAddress, protocol == IpProtocol.Icmp ? (ushort)0 : mapping.OutsidePort, now);
            if (back is null)
            {
                Exhausted(input, datagram, out reason);
                return PreroutingVerdict.Drop;
            }

            back.OutboundSeen = true;
            Track(back, tcpFlags, outbound: true, now);
            NatRewrite.RewriteSource(datagram, hairpinSource.OutsideAddress, hairpinSource.OutsidePort);
            NatRewrite.RewriteDestination(datagram, mapping.InsideAddress, mapping.InsidePort);
            Counters.HairpinnedCount++;
            return PreroutingVerdict.TranslatedBothWays;
        }

        NatRewrite.RewriteDestination(datagram, mapping.InsideAddress, mapping.InsidePort);
        Counters.InboundTranslatedCount++;
        return PreroutingVerdict.Translated;
    }

    /// <summary>RFC 5508 4.2: an ICMP error from outside about a datagram the NAT sent out: translated back to the inside host's flow, or dropped (RFC 5508 REQ-3a).</summary>
    private PreroutingVerdict InboundError(Span<byte> datagram, out DropReason reason)
    {
        reason = default;
        if (!NatIcmpErrors.ChecksumVerifies(datagram))
        {
            reason = DropReason.BadChecksum;
            return PreroutingVerdict.Drop;
        }

        if (!NatIcmpErrors.TryReadQuote(datagram, out QuotedFlow flow))
        {
            reason = DropReason.Malformed;
            return PreroutingVerdict.Drop;
        }

        NatMapping? mapping = flow.HasPorts ? _table.FindByOutside(flow.Protocol, flow.Source, flow.SourcePort) : null;
        NatSession? session = mapping is null ? null
            : _table.FindSession(mapping, flow.Destination, flow.Protocol == IpProtocol.Icmp ? (ushort)0 : flow.DestinationPort);
        if (session is null)
        {
            // Not about a flow of ours: the stack's own traffic on its address, or nothing.
            if (flow.Source == _patAddress)
            {
                return PreroutingVerdict.NotTranslated;
            }

            Counters.NoMappingCount++;
            reason = DropReason.NatNoMapping;
            return PreroutingVerdict.Drop;
        }

        // RFC 4787 REQ-12, RFC 5382 REQ-6: an ICMP error never ends the mapping or the session.
        NatIcmpErrors.Translate(datagram, inbound: true, mapping!.InsideAddress, mapping.InsidePort);
        Counters.IcmpErrorsTranslatedCount++;
        return PreroutingVerdict.Translated;
    }

    /// <summary>A datagram from inside leaving through the outside interface: its source becomes an outside endpoint.</summary>
    private bool TranslateOutbound(NetworkInterface input, Span<byte> datagram, out DropReason reason)
    {
        reason = default;
        uint source = NatRewrite.Source(datagram);
        uint destination = NatRewrite.Destination(datagram);
        IpProtocol protocol = NatRewrite.Protocol(datagram);
        Span<byte> transport = datagram[NatRewrite.HeaderLength(datagram)..];
        bool icmpError = protocol == IpProtocol.Icmp && transport.Length >= IcmpHeader.FixedLength && NatRewrite.IsError((IcmpType)transport[0]);
        if (_staticByInside.TryGetValue(source, out uint staticOutside))
        {
            if (icmpError)
            {
                if (!NatIcmpErrors.ChecksumVerifies(datagram) || !NatIcmpErrors.TryReadQuote(datagram, out _))
                {
                    reason = DropReason.Malformed;
                    return false;
                }

                NatIcmpErrors.Translate(datagram, inbound: false, staticOutside, null);
                Counters.IcmpErrorsTranslatedCount++;
            }
            else
            {
                NatRewrite.RewriteSource(datagram, staticOutside, null);
            }

            Counters.OutboundTranslatedCount++;
            return true;
        }

        if (icmpError)
        {
            return OutboundError(datagram, out reason);
        }

        if (protocol == IpProtocol.Icmp && (transport.Length < IcmpEchoHeader.FixedLength || !NatRewrite.IsQuery((IcmpType)transport[0])))
        {
            reason = DropReason.NatUnsupportedProtocol;
            return false;
        }

        if (protocol is not (IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Icmp))
        {
            // Behind a shared address only ports (and query identifiers) tell flows apart.
            reason = DropReason.NatUnsupportedProtocol;
            return false;
        }

        if (!NatRewrite.TryReadPorts(protocol, transport, out ushort sourcePort, out ushort destinationPort))
        {
            reason = DropReason.Truncated;
            return false;
        }

        long now = Stack.Now.UtcTicks;
        NatMapping? mapping = _table.GetOrCreateMapping(protocol, source, sourcePort);
        ushort remotePort = protocol == IpProtocol.Icmp ? (ushort)0 : destinationPort;
        NatSession? session = mapping is null ? null : NewSession(mapping, destination, remotePort, now);
        if (session is null)
        {
            Exhausted(input, datagram, out reason);
            return false;
        }

        // RFC 4787 REQ-6: outbound traffic refreshes the session (and so the mapping).
        session.OutboundSeen = true;
        byte tcpFlags = protocol == IpProtocol.Tcp && transport.Length > 13 ? transport[13] : (byte)0;
        if ((tcpFlags & (TcpSyn | TcpAck | TcpRst)) == TcpSyn
            && _heldSyns.Cancel(mapping!.OutsideAddress, mapping.OutsidePort, destination, destinationPort))
        {
            // RFC 5382 REQ-4: the inside host opens the connection itself: the held SYN is dropped silently.
            Counters.UnsolicitedSynsCancelledCount++;
        }

        Track(session, tcpFlags, outbound: true, now);
        NatRewrite.RewriteSource(datagram, mapping!.OutsideAddress, mapping.OutsidePort);
        Counters.OutboundTranslatedCount++;
        return true;
    }

    /// <summary>RFC 5508 4.2: an ICMP error an inside host sends about a datagram that came in translated.</summary>
    private bool OutboundError(Span<byte> datagram, out DropReason reason)
    {
        reason = default;
        if (!NatIcmpErrors.ChecksumVerifies(datagram))
        {
            reason = DropReason.BadChecksum;
            return false;
        }

        if (!NatIcmpErrors.TryReadQuote(datagram, out QuotedFlow flow))
        {
            reason = DropReason.Malformed;
            return false;
        }

        NatMapping? mapping = flow.HasPorts ? _table.FindByInside(flow.Protocol, flow.Destination, flow.DestinationPort) : null;
        NatSession? session = mapping is null ? null
            : _table.FindSession(mapping, flow.Source, flow.Protocol == IpProtocol.Icmp ? (ushort)0 : flow.SourcePort);
        if (session is null)
        {
            // It would reveal an inside address about a flow the NAT does not know.
            Counters.NoMappingCount++;
            reason = DropReason.NatNoMapping;
            return false;
        }

        NatIcmpErrors.Translate(datagram, inbound: false, mapping!.OutsideAddress, mapping.OutsidePort);
        Counters.IcmpErrorsTranslatedCount++;
        return true;
    }

    /// <summary>A datagram from inside to a static outside address of another inside host: its source is translated too.</summary>
    private PreroutingVerdict Hairpin(NetworkInterface input, Span<byte> datagram, out DropReason reason)
    {
        if (!TranslateOutbound(input, datagram, out reason))
        {
            return PreroutingVerdict.Drop;
        }

        Counters.HairpinnedCount++;
        return PreroutingVerdict.TranslatedBothWays;
    }

    /// <summary>A new flow found the table full: counted, and answered with port unreachable unless configured to drop.</summary>
    private void Exhausted(NetworkInterface input, ReadOnlySpan<byte> datagram, out DropReason reason)
    {
        Counters.ExhaustedCount++;
        reason = DropReason.NatTableFull;
        if (Options.Exhaustion == NatExhaustionAction.PortUnreachable)
        {
            SendPortUnreachable(input, datagram);
        }
    }

    private void SendPortUnreachable(NetworkInterface nic, ReadOnlySpan<byte> datagram)
    {
        int headerLength = NatRewrite.HeaderLength(datagram);
        if (datagram.Length < headerLength)
        {
            return;
        }

        var original = new IpDatagram(nic, datagram[..headerLength], datagram[headerLength..],
            Ipv4Address.FromUInt32(NatRewrite.Source(datagram)), Ipv4Address.FromUInt32(NatRewrite.Destination(datagram)),
            NatRewrite.Protocol(datagram), datagram[8], BinaryPrimitives.ReadUInt16BigEndian(datagram[4..]), false, false);
        Stack.SendIcmpDestinationUnreachable(in original, IcmpUnreachableCode.PortUnreachable);
    }

    private NatSession? NewSession(NatMapping mapping, uint remoteAddress, ushort remotePort, long now)
    {
        int before = _table.SessionCount;
        NatSession? session = _table.GetOrCreateSession(mapping, remoteAddress, remotePort, now);
        if (session is not null && _table.SessionCount != before)
        {
            Counters.SessionState(mapping.Protocol, NatTcpState.None, 1);
            Volatile.Write(ref Counters.Sessions, _table.SessionCount);
            Volatile.Write(ref Counters.Mappings, _table.MappingCount);
        }

        return session;
    }

    /// <summary>
    /// Follows a TCP connection's SYNs, FINs and RST to choose its lifetime (RFC 5382 5:
    /// established vs transitory), and refreshes the session's idle time.
    /// </summary>
    private void Track(NatSession session, byte flags, bool outbound, long now)
    {
        NatTcpState before = session.TcpState;
        if (session.Mapping.Protocol == IpProtocol.Tcp)
        {
            if ((flags & (TcpSyn | TcpAck)) == TcpSyn && before is NatTcpState.TimeWait or NatTcpState.Closed)
            {
                // A new connection on the same endpoints.
                session.OutboundSyn = session.InboundSyn = session.OutboundFin = session.InboundFin = false;
            }

            bool syn = (flags & TcpSyn) != 0;
            bool fin = (flags & TcpFin) != 0;
            if (outbound)
            {
                session.OutboundSyn |= syn;
                session.OutboundFin |= fin;
            }
            else
            {
                session.InboundSyn |= syn;
                session.InboundFin |= fin;
            }

            session.TcpState = (flags & TcpRst) != 0 ? NatTcpState.Closed
                : session.OutboundFin && session.InboundFin ? NatTcpState.TimeWait
                : session.OutboundFin || session.InboundFin ? NatTcpState.FinWait
                : session.OutboundSyn && session.InboundSyn ? NatTcpState.Established
                : session.OutboundSyn ? NatTcpState.SynSent
                : session.InboundSyn ? NatTcpState.SynReceived
                : outbound || before == NatTcpState.Established ? NatTcpState.Established
                : NatTcpState.Unknown;
        }

        if (session.TcpState != before)
        {
            Counters.SessionState(session.Mapping.Protocol, before, -1);
            Counters.SessionState(session.Mapping.Protocol, session.TcpState, 1);
        }

        NatTimeoutClass timeoutClass = session.Mapping.Protocol switch
        {
            IpProtocol.Udp => NatTimeoutClass.Udp,
            IpProtocol.Icmp => NatTimeoutClass.Icmp,
            _ => session.TcpState == NatTcpState.Established ? NatTimeoutClass.TcpEstablished : NatTimeoutClass.TcpTransitory,
        };
        _table.Touch(session, timeoutClass, now);
        ArmTimer(now + _table.TimeoutTicks(timeoutClass));
    }

    private void HoldUnsolicitedSyn(ReadOnlySpan<byte> datagram, uint outsideAddress, ushort outsidePort, uint remoteAddress, ushort remotePort)
    {
        long due = Stack.Now.UtcTicks + Options.UnsolicitedSynHold.Ticks;
        if (_heldSyns.TryHold(datagram, outsideAddress, outsidePort, remoteAddress, remotePort, due))
        {
            Counters.UnsolicitedSynsHeldCount++;
            ArmTimer(due);
        }
    }

    private void AnswerHeldSyn(ReadOnlySpan<byte> datagram)
    {
        Counters.UnsolicitedSynsAnsweredCount++;
        SendPortUnreachable(Outside, datagram);
    }

    private void ArmTimer(long dueTicks)
    {
        if (dueTicks >= _timerDueTicks)
        {
            return;
        }

        if (_timer.IsAllocated)
        {
            Stack.Timers.Cancel(_timer);
        }

        _timerDueTicks = dueTicks;
        _timer = Stack.Timers.Schedule(new DateTimeOffset(dueTicks, TimeSpan.Zero), _onTimer);
    }

    private void OnTimer()
    {
        _timer = default;
        _timerDueTicks = long.MaxValue;
        long now = Stack.Now.UtcTicks;
        _table.Expire(now, _onExpired);
        Volatile.Write(ref Counters.Sessions, _table.SessionCount);
        Volatile.Write(ref Counters.Mappings, _table.MappingCount);
        _heldSyns.ReleaseDue(now, _answerSyn);
        long? next = _table.NextExpiryTicks();
        if (_heldSyns.NextDueTicks() is { } syn && (next is not { } n || syn < n))
        {
            next = syn;
        }

        if (next is { } due)
        {
            ArmTimer(due);
        }
    }
}
