using System.Net.Sockets;
using System.Collections.Concurrent;
using Protocols.Wire;

namespace Protocols.Udp;

/// <summary>
/// The UDP binding table of one stack: which owner holds which (local address, port), the
/// demultiplexing lookup, and the ephemeral port allocator.
/// </summary>
/// <remarks>
/// Rules (BSD/Linux without SO_REUSEADDR): one owner per (address, port); an owner bound to the
/// unspecified address of a family (0.0.0.0 or ::) holds the port for every address of that
/// family, so it conflicts with any other binding of the port in that family, and a
/// specific-address binding conflicts with a wildcard one of its family. A dual-stack binding holds
/// both families' wildcards (IPV6_V6ONLY off). Lookup prefers the exact (destination address,
/// port) and falls back to the wildcard owner of the destination's family.
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
    /// <param name="local">The local address, or a family's unspecified address for every address of that family.</param>
    /// <param name="port">The port, or 0 for an ephemeral one.</param>
    /// <param name="owner">The owner.</param>
    /// <param name="boundPort">The port bound.</param>
    /// <param name="dualStack">Hold the port for every address of both families (with <paramref name="local"/> ::).</param>
    /// <returns>Null on success, else why it failed.</returns>
    public SocketError? TryBind(IpAddress local, ushort port, T owner, out ushort boundPort, bool dualStack = false)
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
                    return SocketError.AddressNotAvailable;
                }

                existing = null;
            }
            else if (existing is not null && existing.Conflicts(local, dualStack))
            {
                return SocketError.AddressAlreadyInUse;
            }

            if (existing is null && IsEphemeral(port))
            {
                _ephemeralPortsInUse++;
            }

            _ports[port] = PortBinding.With(existing, local, dualStack, owner);
            _count++;
            boundPort = port;
            return null;
        }
    }

    /// <summary>Removes the binding of <paramref name="owner"/> at (<paramref name="local"/>, <paramref name="port"/>). Thread-safe.</summary>
    /// <param name="local">The address it was bound with.</param>
    /// <param name="port">The port it was bound to.</param>
    /// <param name="owner">The owner.</param>
    /// <param name="dualStack">It was bound dual-stack.</param>
    /// <returns>False when <paramref name="owner"/> did not hold that binding.</returns>
    public bool Unbind(IpAddress local, ushort port, T owner, bool dualStack = false)
    {
        lock (_writeLock)
        {
            if (!_ports.TryGetValue(port, out PortBinding? binding) || !binding.Holds(local, dualStack, owner))
            {
                return false;
            }

            PortBinding? rest = binding.Without(local, dualStack);
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

    /// <summary>The owner a datagram to (<paramref name="destination"/>, <paramref name="port"/>) belongs to: exact address first, then the wildcard of its family. Lock-free.</summary>
    /// <param name="destination">The datagram's destination address.</param>
    /// <param name="port">The datagram's destination port.</param>
    /// <returns>The owner, or null.</returns>
    public T? Lookup(IpAddress destination, ushort port) =>
        _ports.TryGetValue(port, out PortBinding? binding) ? binding.Lookup(destination) : null;

    /// <summary>The wildcard owner of <paramref name="port"/> for <paramref name="family"/> (0.0.0.0 or ::). Lock-free.</summary>
    /// <param name="port">The port.</param>
    /// <param name="family">IPv4 or IPv6.</param>
    /// <returns>The owner, or null.</returns>
    public T? LookupWildcard(ushort port, System.Net.Sockets.AddressFamily family = System.Net.Sockets.AddressFamily.InterNetwork) =>
        _ports.TryGetValue(port, out PortBinding? binding) ? (family == System.Net.Sockets.AddressFamily.InterNetworkV6 ? binding.Wildcard6 : binding.Wildcard4) : null;

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

    // The bindings of one port, immutable: a wildcard owner per family (one owner for both when
    // dual-stack), and specific-address owners (one per local address, so as many as the stack has
    // addresses: a short array).
    private sealed class PortBinding
    {
        private readonly (IpAddress Address, T Owner)[] _specific;

        private PortBinding(T? wildcard4, T? wildcard6, (IpAddress Address, T Owner)[] specific)
        {
            Wildcard4 = wildcard4;
            Wildcard6 = wildcard6;
            _specific = specific;
        }

        public T? Wildcard4 { get; }

        public T? Wildcard6 { get; }

        public static PortBinding With(PortBinding? existing, IpAddress local, bool dualStack, T owner)
        {
            T? w4 = existing?.Wildcard4;
            T? w6 = existing?.Wildcard6;
            if (dualStack || local.IsAny)
            {
                if (dualStack || local.IsIpv4)
                {
                    w4 = owner;
                }

                if (dualStack || local.IsIpv6)
                {
                    w6 = owner;
                }

                return new PortBinding(w4, w6, existing?._specific ?? []);
            }

            (IpAddress, T)[] specific = [.. existing?._specific ?? [], (local, owner)];
            return new PortBinding(w4, w6, specific);
        }

        public bool Conflicts(IpAddress local, bool dualStack)
        {
            bool v4 = dualStack || local.IsIpv4;
            bool v6 = dualStack || local.IsIpv6;
            if ((v4 && Wildcard4 is not null) || (v6 && Wildcard6 is not null))
            {
                return true;
            }

            if (dualStack || local.IsAny)
            {
                foreach ((IpAddress address, T _) in _specific)
                {
                    if ((address.IsIpv4 && v4) || (address.IsIpv6 && v6))
                    {
                        return true;
                    }
                }

                return false;
            }

            return IndexOf(local) >= 0;
        }

        public bool Holds(IpAddress local, bool dualStack, T owner)
        {
            if (dualStack)
            {
                return ReferenceEquals(Wildcard4, owner) && ReferenceEquals(Wildcard6, owner);
            }

            if (local.IsAny)
            {
                return ReferenceEquals(local.IsIpv6 ? Wildcard6 : Wildcard4, owner);
            }

            return IndexOf(local) is int i && i >= 0 && ReferenceEquals(_specific[i].Owner, owner);
        }

        // The record without the binding at `local`, or null when nothing is left.
        public PortBinding? Without(IpAddress local, bool dualStack)
        {
            T? w4 = Wildcard4;
            T? w6 = Wildcard6;
            (IpAddress Address, T Owner)[] specific = _specific;
            if (dualStack || local.IsAny)
            {
                if (dualStack || local.IsIpv4)
                {
                    w4 = null;
                }

                if (dualStack || local.IsIpv6)
                {
                    w6 = null;
                }
            }
            else
            {
                int i = IndexOf(local);
                specific = [.. _specific.AsSpan(0, i), .. _specific.AsSpan(i + 1)];
            }

            return w4 is null && w6 is null && specific.Length == 0 ? null : new PortBinding(w4, w6, specific);
        }

        public T? Lookup(IpAddress destination)
        {
            int i = IndexOf(destination);
            return i >= 0 ? _specific[i].Owner : destination.IsIpv6 ? Wildcard6 : Wildcard4;
        }

        private int IndexOf(IpAddress address)
        {
            (IpAddress Address, T Owner)[] specific = _specific;
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
