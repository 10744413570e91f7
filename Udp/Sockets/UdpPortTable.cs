using Protocols.Wire;

namespace Protocols.Udp;

/// <summary>
/// The UDP binding table of one stack: which owner holds which (local address, port), the
/// demultiplexing lookup, and the ephemeral port allocator. Used only on the stack's loop.
/// </summary>
/// <remarks>
/// Rules (BSD/Linux without SO_REUSEADDR): one owner per (address, port); an owner bound to the
/// unspecified address 0.0.0.0 holds the port for every address, so it conflicts with any other
/// binding of the port, and a specific-address binding conflicts with a wildcard one. Lookup
/// prefers the exact (destination address, port) and falls back to the wildcard owner. Both are
/// O(1) dictionary look-ups.
/// <para>
/// Ephemeral ports come from the dynamic range (Linux's default 32768..60999; RFC 6335 6 suggests
/// 49152..65535) with RFC 6056 3.3.5 "random-increments" selection: the next candidate is the
/// previous one plus a random step of 1..<see cref="EphemeralIncrementLimit"/>, probing upward
/// (wrapping) past ports in use. Allocation never collides with any binding of the port, and fails
/// immediately once every port of the range is taken.
/// </para>
/// </remarks>
/// <typeparam name="T">The owner (a socket).</typeparam>
internal sealed class UdpPortTable<T>
    where T : class
{
    /// <summary>RFC 6056 3.3.5's suggested N: the largest random step between ephemeral candidates.</summary>
    public const int EphemeralIncrementLimit = 500;

    private readonly Dictionary<ushort, PortBinding> _ports = new();
    private readonly Random _random;
    private readonly int _ephemeralFirst;
    private readonly int _ephemeralCount;
    private int _ephemeralPortsInUse;
    private int _nextEphemeral;

    /// <summary>Creates an empty table.</summary>
    /// <param name="ephemeralFirst">First port of the dynamic range.</param>
    /// <param name="ephemeralLast">Last port of the dynamic range (inclusive).</param>
    /// <param name="random">The source of the random start and increments (seeded in tests).</param>
    public UdpPortTable(ushort ephemeralFirst, ushort ephemeralLast, Random random)
    {
        ArgumentNullException.ThrowIfNull(random);
        if (ephemeralFirst == 0 || ephemeralLast < ephemeralFirst)
        {
            throw new ArgumentOutOfRangeException(nameof(ephemeralLast), $"Ephemeral range {ephemeralFirst}..{ephemeralLast} is empty or includes port 0.");
        }

        _random = random;
        _ephemeralFirst = ephemeralFirst;
        _ephemeralCount = ephemeralLast - ephemeralFirst + 1;
        _nextEphemeral = _random.Next(_ephemeralCount);
    }

    /// <summary>Number of bindings.</summary>
    public int Count { get; private set; }

    /// <summary>Number of distinct ports of the ephemeral range that have at least one binding.</summary>
    public int EphemeralPortsInUse => _ephemeralPortsInUse;

    /// <summary>Size of the ephemeral range.</summary>
    public int EphemeralRangeSize => _ephemeralCount;

    /// <summary>Binds <paramref name="owner"/> to (<paramref name="local"/>, <paramref name="port"/>); port 0 picks an ephemeral port.</summary>
    /// <param name="local">The local address, or <see cref="Ipv4Address.Any"/> for every address.</param>
    /// <param name="port">The port, or 0 for an ephemeral one.</param>
    /// <param name="owner">The owner.</param>
    /// <param name="boundPort">The port bound.</param>
    /// <returns>Null on success, else why it failed.</returns>
    public UdpError? TryBind(Ipv4Address local, ushort port, T owner, out ushort boundPort)
    {
        ArgumentNullException.ThrowIfNull(owner);
        boundPort = 0;
        if (port == 0)
        {
            if (!TryPickEphemeral(out port))
            {
                return UdpError.AddressNotAvailable;
            }
        }
        else if (_ports.TryGetValue(port, out PortBinding? existing) && existing.Conflicts(local))
        {
            return UdpError.AddressInUse;
        }

        if (!_ports.TryGetValue(port, out PortBinding? binding))
        {
            binding = new PortBinding();
            _ports.Add(port, binding);
            if (IsEphemeral(port))
            {
                _ephemeralPortsInUse++;
            }
        }

        binding.Add(local, owner);
        Count++;
        boundPort = port;
        return null;
    }

    /// <summary>Removes the binding of <paramref name="owner"/> at (<paramref name="local"/>, <paramref name="port"/>).</summary>
    /// <param name="local">The address it was bound with.</param>
    /// <param name="port">The port it was bound to.</param>
    /// <param name="owner">The owner.</param>
    /// <returns>False when <paramref name="owner"/> did not hold that binding.</returns>
    public bool Unbind(Ipv4Address local, ushort port, T owner)
    {
        if (!_ports.TryGetValue(port, out PortBinding? binding) || !binding.Remove(local, owner))
        {
            return false;
        }

        Count--;
        if (binding.IsEmpty)
        {
            _ports.Remove(port);
            if (IsEphemeral(port))
            {
                _ephemeralPortsInUse--;
            }
        }

        return true;
    }

    /// <summary>The owner a datagram to (<paramref name="destination"/>, <paramref name="port"/>) belongs to: exact address first, then wildcard.</summary>
    /// <param name="destination">The datagram's destination address.</param>
    /// <param name="port">The datagram's destination port.</param>
    /// <returns>The owner, or null.</returns>
    public T? Lookup(Ipv4Address destination, ushort port) =>
        _ports.TryGetValue(port, out PortBinding? binding) ? binding.Lookup(destination) : null;

    /// <summary>The wildcard (0.0.0.0) owner of <paramref name="port"/>, for broadcasts.</summary>
    /// <param name="port">The port.</param>
    /// <returns>The owner, or null.</returns>
    public T? LookupWildcard(ushort port) =>
        _ports.TryGetValue(port, out PortBinding? binding) ? binding.Wildcard : null;

    private bool IsEphemeral(ushort port) => (uint)(port - _ephemeralFirst) < (uint)_ephemeralCount;

    private bool TryPickEphemeral(out ushort port)
    {
        port = 0;
        if (_ephemeralPortsInUse >= _ephemeralCount)
        {
            return false;
        }

        // RFC 6056 3.3.5: next_ephemeral += random(1..N), then probe upward until a free port.
        int candidate = (_nextEphemeral + 1 + _random.Next(EphemeralIncrementLimit)) % _ephemeralCount;
        for (int probes = 0; probes < _ephemeralCount; probes++)
        {
            ushort p = (ushort)(_ephemeralFirst + candidate);
            if (!_ports.ContainsKey(p))
            {
                _nextEphemeral = candidate;
                port = p;
                return true;
            }

            candidate = candidate + 1 == _ephemeralCount ? 0 : candidate + 1;
        }

        return false; // unreachable while _ephemeralPortsInUse is exact
    }

    // The bindings of one port: at most one wildcard owner, or any number of specific-address owners.
    private sealed class PortBinding
    {
        private Dictionary<Ipv4Address, T>? _specific;

        public T? Wildcard { get; private set; }

        public bool IsEmpty => Wildcard is null && (_specific is null || _specific.Count == 0);

        public bool Conflicts(Ipv4Address local) =>
            Wildcard is not null
            || (_specific is { Count: > 0 } && (local == Ipv4Address.Any || _specific.ContainsKey(local)));

        public void Add(Ipv4Address local, T owner)
        {
            if (local == Ipv4Address.Any)
            {
                Wildcard = owner;
            }
            else
            {
                (_specific ??= new Dictionary<Ipv4Address, T>())[local] = owner;
            }
        }

        public bool Remove(Ipv4Address local, T owner)
        {
            if (local == Ipv4Address.Any)
            {
                if (!ReferenceEquals(Wildcard, owner))
                {
                    return false;
                }

                Wildcard = null;
                return true;
            }

            if (_specific is null || !_specific.TryGetValue(local, out T? held) || !ReferenceEquals(held, owner))
            {
                return false;
            }

            _specific.Remove(local);
            return true;
        }

        public T? Lookup(Ipv4Address destination) =>
            _specific is { Count: > 0 } && _specific.TryGetValue(destination, out T? exact) ? exact : Wildcard;
    }
}
