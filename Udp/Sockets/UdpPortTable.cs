using System.Collections.Concurrent;
using Protocols.Wire;

namespace Protocols.Udp;

/// <summary>
/// The UDP binding table of one stack: which owner holds which (local address, port), the
/// demultiplexing lookup, and the ephemeral port allocator.
/// </summary>
/// <remarks>
/// Rules (BSD/Linux without SO_REUSEADDR): one owner per (address, port); an owner bound to the
/// unspecified address 0.0.0.0 holds the port for every address, so it conflicts with any other
/// binding of the port, and a specific-address binding conflicts with a wildcard one. Lookup
/// prefers the exact (destination address, port) and falls back to the wildcard owner.
/// <para>
/// Threads: binding is synchronous, like bind(2), so it reports a conflict at once and works
/// before the stack's loop runs. <see cref="TryBind"/> and <see cref="Unbind"/> serialize on a
/// lock that the loop never takes; the loop's <see cref="Lookup"/> is lock-free: a concurrent
/// dictionary read, then an immutable per-port record (replaced, never changed, by writers).
/// </para>
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

    private readonly ConcurrentDictionary<ushort, PortBinding> _ports = new();
    private readonly Lock _writeLock = new();
    private readonly Random _random;
    private readonly int _ephemeralFirst;
    private readonly int _ephemeralCount;
    private int _ephemeralPortsInUse;
    private int _nextEphemeral;
    private int _count;

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
    public int Count => Volatile.Read(ref _count);

    /// <summary>Number of distinct ports of the ephemeral range that have at least one binding.</summary>
    public int EphemeralPortsInUse => Volatile.Read(ref _ephemeralPortsInUse);

    /// <summary>Size of the ephemeral range.</summary>
    public int EphemeralRangeSize => _ephemeralCount;

    /// <summary>Binds <paramref name="owner"/> to (<paramref name="local"/>, <paramref name="port"/>); port 0 picks an ephemeral port. Thread-safe.</summary>
    /// <param name="local">The local address, or <see cref="Ipv4Address.Any"/> for every address.</param>
    /// <param name="port">The port, or 0 for an ephemeral one.</param>
    /// <param name="owner">The owner.</param>
    /// <param name="boundPort">The port bound.</param>
    /// <returns>Null on success, else why it failed.</returns>
    public UdpError? TryBind(Ipv4Address local, ushort port, T owner, out ushort boundPort)
    {
        ArgumentNullException.ThrowIfNull(owner);
        boundPort = 0;
        lock (_writeLock)
        {
            _ports.TryGetValue(port, out PortBinding? existing);
            if (port == 0)
            {
                if (!TryPickEphemeral(out port))
                {
                    return UdpError.AddressNotAvailable;
                }

                existing = null;
            }
            else if (existing is not null && existing.Conflicts(local))
            {
                return UdpError.AddressInUse;
            }

            if (existing is null && IsEphemeral(port))
            {
                _ephemeralPortsInUse++;
            }

            _ports[port] = PortBinding.With(existing, local, owner);
            _count++;
            boundPort = port;
            return null;
        }
    }

    /// <summary>Removes the binding of <paramref name="owner"/> at (<paramref name="local"/>, <paramref name="port"/>). Thread-safe.</summary>
    /// <param name="local">The address it was bound with.</param>
    /// <param name="port">The port it was bound to.</param>
    /// <param name="owner">The owner.</param>
    /// <returns>False when <paramref name="owner"/> did not hold that binding.</returns>
    public bool Unbind(Ipv4Address local, ushort port, T owner)
    {
        lock (_writeLock)
        {
            if (!_ports.TryGetValue(port, out PortBinding? binding) || !binding.Holds(local, owner))
            {
                return false;
            }

            PortBinding? rest = binding.Without(local);
            if (rest is null)
            {
                _ports.TryRemove(port, out _);
                if (IsEphemeral(port))
                {
                    _ephemeralPortsInUse--;
                }
            }
            else
            {
                _ports[port] = rest;
            }

            _count--;
            return true;
        }
    }

    /// <summary>The owner a datagram to (<paramref name="destination"/>, <paramref name="port"/>) belongs to: exact address first, then wildcard. Lock-free.</summary>
    /// <param name="destination">The datagram's destination address.</param>
    /// <param name="port">The datagram's destination port.</param>
    /// <returns>The owner, or null.</returns>
    public T? Lookup(Ipv4Address destination, ushort port) =>
        _ports.TryGetValue(port, out PortBinding? binding) ? binding.Lookup(destination) : null;

    /// <summary>The wildcard (0.0.0.0) owner of <paramref name="port"/>. Lock-free.</summary>
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

    // The bindings of one port, immutable: at most one wildcard owner, or specific-address owners
    // (one per local address, so as many as the stack has addresses: a short array).
    private sealed class PortBinding
    {
        private readonly (Ipv4Address Address, T Owner)[] _specific;

        private PortBinding(T? wildcard, (Ipv4Address Address, T Owner)[] specific)
        {
            Wildcard = wildcard;
            _specific = specific;
        }

        public T? Wildcard { get; }

        public static PortBinding With(PortBinding? existing, Ipv4Address local, T owner)
        {
            if (local == Ipv4Address.Any)
            {
                return new PortBinding(owner, existing?._specific ?? []);
            }

            (Ipv4Address, T)[] specific = [.. existing?._specific ?? [], (local, owner)];
            return new PortBinding(existing?.Wildcard, specific);
        }

        public bool Conflicts(Ipv4Address local) =>
            Wildcard is not null || (_specific.Length > 0 && (local == Ipv4Address.Any || IndexOf(local) >= 0));

        public bool Holds(Ipv4Address local, T owner) =>
            local == Ipv4Address.Any ? ReferenceEquals(Wildcard, owner) : IndexOf(local) is int i && i >= 0 && ReferenceEquals(_specific[i].Owner, owner);

        // The record without the binding at `local`, or null when nothing is left.
        public PortBinding? Without(Ipv4Address local)
        {
            T? wildcard = Wildcard;
            (Ipv4Address Address, T Owner)[] specific = _specific;
            if (local == Ipv4Address.Any)
            {
                wildcard = null;
            }
            else
            {
                int i = IndexOf(local);
                specific = [.. _specific.AsSpan(0, i), .. _specific.AsSpan(i + 1)];
            }

            return wildcard is null && specific.Length == 0 ? null : new PortBinding(wildcard, specific);
        }

        public T? Lookup(Ipv4Address destination)
        {
            int i = IndexOf(destination);
            return i >= 0 ? _specific[i].Owner : Wildcard;
        }

        private int IndexOf(Ipv4Address address)
        {
            (Ipv4Address Address, T Owner)[] specific = _specific;
            for (int i = 0; i < specific.Length; i++)
            {
                if (specific[i].Address == address)
                {
                    return i;
                }
            }

            return -1;
        }
    }
}
