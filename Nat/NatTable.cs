using Protocols.Ip;

namespace Protocols.Nat;

/// <summary>
/// The translation table: mappings by inside and by outside endpoint, sessions by outside endpoint
/// and remote endpoint (all O(1)), the dynamic pool's bindings, outside port choice, and the idle
/// lists that expire sessions in O(1) per packet and O(expired) per sweep. Bounded by
/// <see cref="NatOptions.MaxMappings"/> and <see cref="NatOptions.MaxSessions"/>. Loop-only.
/// </summary>
internal sealed class NatTable
{
    private const int TimeoutClasses = 4;

    private readonly Dictionary<EndpointKey, NatMapping> _byInside = new();
    private readonly Dictionary<EndpointKey, NatMapping> _byOutside = new();
    private readonly Dictionary<SessionKey, NatSession> _sessions = new();
    private readonly Dictionary<uint, PoolBinding> _poolByInside = new();
    private readonly HashSet<uint> _poolAddresses = [];
    private readonly Queue<uint> _freePool = new();
    private readonly NatSession?[] _oldest = new NatSession?[TimeoutClasses];
    private readonly NatSession?[] _newest = new NatSession?[TimeoutClasses];
    private readonly long[] _timeoutTicks = new long[TimeoutClasses];
    private readonly NatOptions _options;
    private readonly Random _random;

    public NatTable(NatOptions options, uint patAddress)
    {
        _options = options;
        PatAddress = patAddress;
        _random = options.Seed is { } seed ? new Random(seed) : new Random();
        _timeoutTicks[(int)NatTimeoutClass.Udp] = options.UdpTimeout.Ticks;
        _timeoutTicks[(int)NatTimeoutClass.Icmp] = options.IcmpTimeout.Ticks;
        _timeoutTicks[(int)NatTimeoutClass.TcpTransitory] = options.TcpTransitoryTimeout.Ticks;
        _timeoutTicks[(int)NatTimeoutClass.TcpEstablished] = options.TcpEstablishedTimeout.Ticks;
        if (options.PoolFirst is { } first && options.PoolLast is { } last)
        {
            for (uint a = first.ToUInt32(); ; a++)
            {
                if (a != patAddress)
                {
                    _poolAddresses.Add(a);
                    _freePool.Enqueue(a);
                }

                if (a == last.ToUInt32())
                {
                    break;
                }
            }
        }
    }

    /// <summary>The shared outside address of PAT.</summary>
    public uint PatAddress { get; }

    public int MappingCount => _byInside.Count;

    public int SessionCount => _sessions.Count;

    public int PoolBindingCount => _poolByInside.Count;

    public long MappingsCreated { get; private set; }

    public long SessionsCreated { get; private set; }

    public long SessionsExpired { get; private set; }

    public bool IsPoolAddress(uint address) => _poolAddresses.Contains(address);

    public NatMapping? FindByInside(IpProtocol protocol, uint address, ushort port) =>
        _byInside.TryGetValue(new EndpointKey(protocol, address, port), out NatMapping? m) ? m : null;

    public NatMapping? FindByOutside(IpProtocol protocol, uint address, ushort port) =>
        _byOutside.TryGetValue(new EndpointKey(protocol, address, port), out NatMapping? m) ? m : null;

    public NatSession? FindSession(NatMapping mapping, uint remoteAddress, ushort remotePort) =>
        _sessions.TryGetValue(new SessionKey(mapping.Protocol, mapping.OutsideAddress, mapping.OutsidePort, remoteAddress, remotePort), out NatSession? s) ? s : null;

    /// <summary>True when the mapping has a session with <paramref name="remoteAddress"/> the inside endpoint sent to (address-dependent filtering).</summary>
    public static bool HasSentToAddress(NatMapping mapping, uint remoteAddress)
    {
        for (NatSession? s = mapping.Sessions; s is not null; s = s.NextInMapping)
        {
            if (s.RemoteAddress == remoteAddress && s.OutboundSeen)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// The mapping of an inside endpoint, made when it has none (RFC 4787 REQ-1: one mapping for
    /// every destination). Pool first (the host's bound pool address, or a free one; ports kept),
    /// then PAT, keeping the port when it is free (RFC 4787 REQ-3, no parity requirement).
    /// </summary>
    /// <returns>Null when the table is full or no outside port is free.</returns>
    public NatMapping? GetOrCreateMapping(IpProtocol protocol, uint insideAddress, ushort insidePort)
    {
        var inside = new EndpointKey(protocol, insideAddress, insidePort);
        if (_byInside.TryGetValue(inside, out NatMapping? existing))
        {
            return existing;
        }

        if (_byInside.Count >= _options.MaxMappings)
        {
            return null;
        }

        NatMapping mapping;
        if (_poolByInside.TryGetValue(insideAddress, out PoolBinding? binding) || TryBindPool(insideAddress, out binding))
        {
            // RFC 4787 REQ-2 ("paired"): every mapping of one inside host uses its one pool address.
            // The address is the host's alone, so its own port is always free there.
            mapping = new NatMapping(protocol, insideAddress, insidePort, binding.Outside, insidePort, NatMappingKind.Pool);
            binding.Mappings++;
        }
        else if (ChoosePatPort(protocol, insidePort) is { } port)
        {
            mapping = new NatMapping(protocol, insideAddress, insidePort, PatAddress, port, NatMappingKind.Pat);
        }
        else
        {
            return null;
        }

        _byInside.Add(inside, mapping);
        _byOutside.Add(new EndpointKey(protocol, mapping.OutsideAddress, mapping.OutsidePort), mapping);
        MappingsCreated++;
        return mapping;
    }

    /// <summary>The session of <paramref name="mapping"/> with a remote endpoint, made when it has none.</summary>
    /// <returns>Null when the session bound is reached.</returns>
    public NatSession? GetOrCreateSession(NatMapping mapping, uint remoteAddress, ushort remotePort, long nowTicks)
    {
        var key = new SessionKey(mapping.Protocol, mapping.OutsideAddress, mapping.OutsidePort, remoteAddress, remotePort);
        if (_sessions.TryGetValue(key, out NatSession? session))
        {
            return session;
        }

        if (_sessions.Count >= _options.MaxSessions)
        {
            return null;
        }

        session = new NatSession(mapping, remoteAddress, remotePort)
        {
            TimeoutClass = mapping.Protocol switch
            {
                IpProtocol.Udp => NatTimeoutClass.Udp,
                IpProtocol.Icmp => NatTimeoutClass.Icmp,
                _ => NatTimeoutClass.TcpTransitory,
            },
            LastActivityTicks = nowTicks,
        };
        _sessions.Add(key, session);
        session.NextInMapping = mapping.Sessions;
        if (mapping.Sessions is not null)
        {
            mapping.Sessions.PreviousInMapping = session;
        }

        mapping.Sessions = session;
        mapping.SessionCount++;
        Append(session);
        SessionsCreated++;
        return session;
    }

    /// <summary>A packet of the session passed: it moves to the end of its idle list (and to another list when its class changed).</summary>
    public void Touch(NatSession session, NatTimeoutClass timeoutClass, long nowTicks)
    {
        session.LastActivityTicks = nowTicks;
        Unlink(session);
        session.TimeoutClass = timeoutClass;
        Append(session);
    }

    /// <summary>The earliest moment a session can expire, or null when there are none.</summary>
    public long? NextExpiryTicks()
    {
        long? next = null;
        for (int c = 0; c < TimeoutClasses; c++)
        {
            if (_oldest[c] is { } s)
            {
                long due = s.LastActivityTicks + _timeoutTicks[c];
                next = next is { } n && n <= due ? n : due;
            }
        }

        return next;
    }

    /// <summary>Removes every session idle for its class's timeout, and mappings left without sessions.</summary>
    /// <returns>How many sessions expired.</returns>
    public int Expire(long nowTicks, Action<NatSession> onExpired)
    {
        int expired = 0;
        for (int c = 0; c < TimeoutClasses; c++)
        {
            while (_oldest[c] is { } s && s.LastActivityTicks + _timeoutTicks[c] <= nowTicks)
            {
                onExpired(s);
                Remove(s);
                expired++;
            }
        }

        SessionsExpired += expired;
        return expired;
    }

    /// <summary>Every session, for the table view.</summary>
    public IEnumerable<NatSession> Sessions => _sessions.Values;

    /// <summary>The timeout of a class, in ticks.</summary>
    public long TimeoutTicks(NatTimeoutClass timeoutClass) => _timeoutTicks[(int)timeoutClass];

    private void Remove(NatSession session)
    {
        NatMapping mapping = session.Mapping;
        _sessions.Remove(new SessionKey(mapping.Protocol, mapping.OutsideAddress, mapping.OutsidePort, session.RemoteAddress, session.RemotePort));
        Unlink(session);
        if (session.PreviousInMapping is { } previous)
        {
            previous.NextInMapping = session.NextInMapping;
        }
        else
        {
            mapping.Sessions = session.NextInMapping;
        }

        if (session.NextInMapping is { } next)
        {
            next.PreviousInMapping = session.PreviousInMapping;
        }

        mapping.SessionCount--;
        if (mapping.SessionCount > 0)
        {
            return;
        }

        // RFC 4787 4.3: the mapping ends with its last session.
        _byInside.Remove(new EndpointKey(mapping.Protocol, mapping.InsideAddress, mapping.InsidePort));
        _byOutside.Remove(new EndpointKey(mapping.Protocol, mapping.OutsideAddress, mapping.OutsidePort));
        if (mapping.Kind == NatMappingKind.Pool && _poolByInside.TryGetValue(mapping.InsideAddress, out PoolBinding? binding) && --binding.Mappings == 0)
        {
            // The pool address goes back for another host once this one has no flows left.
            _poolByInside.Remove(mapping.InsideAddress);
            _freePool.Enqueue(binding.Outside);
        }
    }

    private bool TryBindPool(uint insideAddress, out PoolBinding binding)
    {
        if (_freePool.TryDequeue(out uint outside))
        {
            binding = new PoolBinding(outside);
            _poolByInside.Add(insideAddress, binding);
            return true;
        }

        binding = null!;
        return false;
    }

    /// <summary>
    /// RFC 4787 REQ-3 / RFC 5382 REQ-2 (port preservation when free, never port overloading): the
    /// inside port if it is free on the PAT address, else a random free port of the same range
    /// (0-1023 or 1024-65535; ICMP identifiers: any). Null when the range is full.
    /// </summary>
    private ushort? ChoosePatPort(IpProtocol protocol, ushort preferred)
    {
        if (!_byOutside.ContainsKey(new EndpointKey(protocol, PatAddress, preferred)) && (preferred != 0 || protocol == IpProtocol.Icmp))
        {
            return preferred;
        }

        (int low, int high) = protocol == IpProtocol.Icmp ? (0, 65535) : preferred < 1024 ? (1, 1023) : (1024, 65535);
        int span = high - low + 1;
        for (int attempt = 0; attempt < 32; attempt++)
        {
            ushort candidate = (ushort)(low + _random.Next(span));
            if (!_byOutside.ContainsKey(new EndpointKey(protocol, PatAddress, candidate)))
            {
                return candidate;
            }
        }

        // Crowded: walk the range once from a random point.
        int start = _random.Next(span);
        for (int i = 0; i < span; i++)
        {
            ushort candidate = (ushort)(low + ((start + i) % span));
            if (!_byOutside.ContainsKey(new EndpointKey(protocol, PatAddress, candidate)))
            {
                return candidate;
            }
        }

        return null;
    }

    private void Append(NatSession session)
    {
        int c = (int)session.TimeoutClass;
        session.Older = _newest[c];
        session.Newer = null;
        if (_newest[c] is { } newest)
        {
            newest.Newer = session;
        }
        else
        {
            _oldest[c] = session;
        }

        _newest[c] = session;
        session.InIdleList = true;
    }

    private void Unlink(NatSession session)
    {
        if (!session.InIdleList)
        {
            return;
        }

        int c = (int)session.TimeoutClass;
        if (session.Older is { } older)
        {
            older.Newer = session.Newer;
        }
        else
        {
            _oldest[c] = session.Newer;
        }

        if (session.Newer is { } newer)
        {
            newer.Older = session.Older;
        }
        else
        {
            _newest[c] = session.Older;
        }

        session.Older = null;
        session.Newer = null;
        session.InIdleList = false;
    }

    private readonly record struct EndpointKey(IpProtocol Protocol, uint Address, ushort Port);

    private readonly record struct SessionKey(IpProtocol Protocol, uint OutsideAddress, ushort OutsidePort, uint RemoteAddress, ushort RemotePort);

    private sealed class PoolBinding(uint outside)
    {
        public uint Outside { get; } = outside;

        public int Mappings { get; set; }
    }
}
