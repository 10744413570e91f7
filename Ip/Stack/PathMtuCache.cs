using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// IPv6 path MTU discovery's memory (RFC 8201 5.2): the MTU learnt from packet too big messages,
/// per destination, bounded in entries and aged out (RFC 8201 4: a lowered path MTU is raised
/// again after a while to detect increases; 10 minutes by default). Never below 1280 (RFC 8200 5).
/// Loop only.
/// </summary>
public sealed class PathMtuCache
{
    private readonly Dictionary<Ipv6Address, (int Mtu, DateTimeOffset Until)> _entries = [];
    private readonly int _capacity;
    private readonly TimeSpan _timeout;

    internal PathMtuCache(int capacity, TimeSpan timeout)
    {
        _capacity = Math.Max(1, capacity);
        _timeout = timeout;
    }

    /// <summary>Destinations with a lowered path MTU.</summary>
    public int Count => _entries.Count;

    /// <summary>The MTU to use towards <paramref name="destination"/>: the lowered one while it lasts, else <paramref name="linkMtu"/>.</summary>
    public int Get(Ipv6Address destination, int linkMtu, DateTimeOffset now)
    {
        if (_entries.Count == 0 || !_entries.TryGetValue(destination, out var entry))
        {
            return linkMtu;
        }

        if (entry.Until <= now)
        {
            _entries.Remove(destination);
            return linkMtu;
        }

        return Math.Min(entry.Mtu, linkMtu);
    }

    /// <summary>The lowered MTU towards <paramref name="destination"/>, or null.</summary>
    public int? Lookup(Ipv6Address destination, DateTimeOffset now) =>
        _entries.TryGetValue(destination, out var entry) && entry.Until > now ? entry.Mtu : null;

    /// <summary>Records <paramref name="mtu"/> (at least 1280) for <paramref name="destination"/> when it is lower than what is known; true when it changed.</summary>
    internal bool Lower(Ipv6Address destination, int mtu, DateTimeOffset now)
    {
        mtu = Math.Max(mtu, Ipv6Packet.MinimumMtu);
        if (_entries.TryGetValue(destination, out var entry) && entry.Until > now && entry.Mtu <= mtu)
        {
            return false;
        }

        if (!_entries.ContainsKey(destination) && _entries.Count >= _capacity)
        {
            // Bounded: the entry closest to expiry makes room.
            Ipv6Address oldest = default;
            DateTimeOffset soonest = DateTimeOffset.MaxValue;
            foreach ((Ipv6Address key, (int _, DateTimeOffset until)) in _entries)
            {
                if (until < soonest)
                {
                    soonest = until;
                    oldest = key;
                }
            }

            _entries.Remove(oldest);
        }

        _entries[destination] = (mtu, now + _timeout);
        return true;
    }
}
