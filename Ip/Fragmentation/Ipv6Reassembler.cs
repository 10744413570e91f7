using System.Buffers;
using System.Buffers.Binary;
using Protocols.Wire;

namespace Protocols.Ip.Fragmentation;

/// <summary>Limits and timing of an <see cref="Ipv6Reassembler"/>.</summary>
public sealed class Ipv6ReassemblerOptions
{
    /// <summary>Packets in reassembly at once (default 64).</summary>
    public int MaxDatagrams { get; init; } = 64;

    /// <summary>Bytes of reassembly buffers held at once (default 4 MiB, Linux's ip6frag_high_thresh).</summary>
    public long MaxBytes { get; init; } = 4L * 1024 * 1024;

    /// <summary>Time from a packet's first-arriving fragment until it is abandoned (RFC 8200 4.5: 60 seconds).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Separate runs of received bytes one packet may have; past it the packet is dropped (default 1024).</summary>
    public int MaxRunsPerDatagram { get; init; } = 1024;

    /// <summary>What a limit does: evict the oldest (default) or refuse the newcomer.</summary>
    public ReassemblyLimitPolicy LimitPolicy { get; init; } = ReassemblyLimitPolicy.EvictOldest;
}

/// <summary>
/// A reassembled IPv6 packet (RFC 8200 4.5): the first fragment's per-fragment headers with the
/// Fragment header removed, the last of them naming the first fragment's Next Header, the payload
/// length recomputed, then the fragmentable part in a pooled buffer. Dispose it to return the buffer.
/// </summary>
public sealed class ReassembledPacket : IDisposable
{
    private readonly byte[] _header;
    private byte[]? _payload;
    private readonly int _payloadLength;

    internal ReassembledPacket(byte[] header, byte[] payload, int payloadLength)
    {
        _header = header;
        _payload = payload;
        _payloadLength = payloadLength;
    }

    /// <summary>The per-fragment headers (IPv6 header and extension headers before the Fragment header), rewritten. Empty once disposed.</summary>
    public ReadOnlySpan<byte> Header => _payload is null ? default : _header;

    /// <summary>The fragmentable part. Empty once disposed.</summary>
    public ReadOnlySpan<byte> Payload => _payload is null ? default : _payload.AsSpan(0, _payloadLength);

    /// <summary>The whole packet's length.</summary>
    public int Length => _header.Length + _payloadLength;

    /// <summary>Writes the packet contiguously, as if it had never been fragmented.</summary>
    /// <returns>The bytes written (<see cref="Length"/>).</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small.</exception>
    /// <exception cref="ObjectDisposedException">The packet was disposed.</exception>
    public int CopyTo(Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_payload is null, this);
        if (destination.Length < Length)
        {
            throw new ArgumentException($"The packet needs {Length} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        _header.CopyTo(destination);
        Payload.CopyTo(destination[_header.Length..]);
        return Length;
    }

    /// <summary>Returns the payload buffer to the pool. Safe to call more than once.</summary>
    public void Dispose()
    {
        byte[]? payload = _payload;
        _payload = null;
        if (payload is not null)
        {
            ArrayPool<byte>.Shared.Return(payload);
        }
    }
}

/// <summary>A packet whose reassembly timer ran out, as <see cref="Ipv6Reassembler.Expire"/> reports it. Valid only during the call.</summary>
public readonly ref struct ExpiredPacket
{
    internal ExpiredPacket(Ipv6Address source, Ipv6Address destination, uint identification, ReadOnlySpan<byte> firstHeaders, ReadOnlySpan<byte> firstData)
    {
        Source = source;
        Destination = destination;
        Identification = identification;
        FirstFragmentHeaders = firstHeaders;
        FirstFragmentData = firstData;
    }

    /// <summary>The sender.</summary>
    public Ipv6Address Source { get; }

    /// <summary>The receiver.</summary>
    public Ipv6Address Destination { get; }

    /// <summary>The identification shared by the fragments.</summary>
    public uint Identification { get; }

    /// <summary>True when the fragment at offset 0 arrived: RFC 8200 4.5 then asks for ICMPv6 time exceeded code 1.</summary>
    public bool FirstFragmentSeen => !FirstFragmentHeaders.IsEmpty;

    /// <summary>The first fragment's headers as received, up to and including its Fragment header.</summary>
    public ReadOnlySpan<byte> FirstFragmentHeaders { get; }

    /// <summary>The first fragment's data as received.</summary>
    public ReadOnlySpan<byte> FirstFragmentData { get; }
}

/// <summary>Receives one timed-out packet from <see cref="Ipv6Reassembler.Expire"/>.</summary>
public delegate void ExpiredPacketHandler(in ExpiredPacket packet);

/// <summary>
/// Reassembles IPv6 fragments (RFC 8200 4.5), sans-IO, over the store it shares with
/// <see cref="Ipv4Reassembler"/>: keyed by source, destination and identification; any
/// overlapping fragment abandons the whole packet (RFC 5722), an exact duplicate is ignored; the
/// timer (60 seconds) starts with the first-arriving fragment; limits on packets, bytes and runs.
/// </summary>
/// <remarks>
/// The caller offers packets whose extension chain walk ended in <see cref="Ipv6ChainStatus.Fragment"/>
/// (so the RFC 8200 4.5 length rules and RFC 7112 are already checked); atomic fragments never
/// come here (RFC 6946). The reassembled packet is walked again by the caller.
/// </remarks>
public sealed class Ipv6Reassembler : IDisposable
{
    // The fixed header and the Fragment header: the header length assumed until the first fragment arrives.
    private const int MinimumHeaders = Ipv6Header.FixedLength + Ipv6FragmentHeader.FixedLength;

    private readonly Ipv6ReassemblerOptions _options;
    private readonly FragmentStore<FragmentKey> _store;
    private readonly Action<FragmentStore<FragmentKey>.Entry> _onExpired;
    private ExpiredPacketHandler? _expiredHandler;

    /// <summary>Creates a reassembler with the given limits (defaults when null).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    public Ipv6Reassembler(Ipv6ReassemblerOptions? options = null)
    {
        _options = options ?? new Ipv6ReassemblerOptions();

        // RFC 8200 4.5: the reassembled payload length (everything after the fixed header) is at most 65535.
        _store = new FragmentStore<FragmentKey>(_options.MaxDatagrams, _options.MaxBytes, _options.Timeout, _options.MaxRunsPerDatagram, _options.LimitPolicy, OverlapPolicy.ExactDuplicatesOnly, ushort.MaxValue + MinimumHeaders);
        _onExpired = OnExpired;
    }

    /// <summary>The limits in force.</summary>
    public Ipv6ReassemblerOptions Options => _options;

    /// <summary>Packets in reassembly now.</summary>
    public int Count => _store.Count;

    /// <summary>Bytes of buffer held now.</summary>
    public long BufferedBytes => _store.BufferedBytes;

    /// <summary>When the oldest packet times out; null when none is in reassembly.</summary>
    public DateTimeOffset? NextExpiry => _store.NextExpiry;

    /// <summary>A snapshot of the counters.</summary>
    public ReassemblyCounters Counters => _store.Counters;

    /// <summary>
    /// Offers one fragment: <paramref name="packet"/> from its IPv6 header on (trimmed to its
    /// payload length) and the walk of its extension chain, which ended at its Fragment header.
    /// </summary>
    /// <param name="packet">The fragment packet.</param>
    /// <param name="chain">Its chain walk (status <see cref="Ipv6ChainStatus.Fragment"/>).</param>
    /// <param name="now">The current time.</param>
    /// <param name="packetResult">For <see cref="ReassemblyStatus.Completed"/>: the packet, which the caller disposes.</param>
    /// <param name="reason">For <see cref="ReassemblyStatus.Dropped"/>: why.</param>
    /// <returns>What happened.</returns>
    public ReassemblyStatus Offer(ReadOnlySpan<byte> packet, in Ipv6ExtensionChain chain, DateTimeOffset now, out ReassembledPacket? packetResult, out ReassemblyDropReason reason)
    {
        packetResult = null;
        reason = ReassemblyDropReason.None;
        if (chain.Status != Ipv6ChainStatus.Fragment || packet.Length < chain.PayloadOffset || chain.PayloadOffset < MinimumHeaders)
        {
            return Refuse(ReassemblyDropReason.Malformed, out reason);
        }

        ReadOnlySpan<byte> data = packet[chain.PayloadOffset..];
        int offset = chain.FragmentOffset * 8;

        // RFC 8200 4.5: a fragment with more to come carries a multiple of 8 bytes (the walker
        // checked that); an empty one carries nothing at all.
        if (chain.MoreFragments && data.IsEmpty)
        {
            return Refuse(ReassemblyDropReason.Malformed, out reason);
        }

        var key = new FragmentKey(Ipv6Address.Create(packet[8..]), Ipv6Address.Create(packet[24..]), chain.Identification);
        ReadOnlySpan<byte> firstHeaders = offset == 0 ? packet[..chain.PayloadOffset] : default;
        switch (_store.Offer(key, offset, data, chain.MoreFragments, firstHeaders, MinimumHeaders, now, out reason, out FragmentStore<FragmentKey>.Entry? entry))
        {
            case FragmentOutcome.Completed:
                packetResult = Complete(entry!);
                return ReassemblyStatus.Completed;
            case FragmentOutcome.Dropped:
                return ReassemblyStatus.Dropped;
            default:
                return ReassemblyStatus.Incomplete;
        }
    }

    /// <summary>
    /// Abandons every packet whose timer ran out and reports each to <paramref name="handler"/>,
    /// with the first fragment when it arrived (RFC 8200 4.5: then, and only then, time exceeded code 1).
    /// </summary>
    /// <returns>The number of packets abandoned.</returns>
    public int Expire(DateTimeOffset now, ExpiredPacketHandler? handler)
    {
        _expiredHandler = handler;
        try
        {
            return _store.Expire(now, handler is null ? null : _onExpired);
        }
        finally
        {
            _expiredHandler = null;
        }
    }

    /// <summary>Drops every packet in reassembly (not counted as failures) and returns their buffers.</summary>
    public void Clear() => _store.Clear();

    /// <summary>Returns every buffer to the pool.</summary>
    public void Dispose() => Clear();

    private void OnExpired(FragmentStore<FragmentKey>.Entry entry)
    {
        FragmentKey key = entry.Key;
        var expired = new ExpiredPacket(key.Source, key.Destination, key.Identification, entry.FirstHeader, entry.FirstData);
        _expiredHandler?.Invoke(in expired);
    }

    private ReassemblyStatus Refuse(ReassemblyDropReason why, out ReassemblyDropReason reason)
    {
        _store.CountRefused(why);
        reason = why;
        return ReassemblyStatus.Dropped;
    }

    // The per-fragment headers of the first fragment without its Fragment header (RFC 8200 4.5):
    // the Next Header byte that named the Fragment header now names what the Fragment header did,
    // and the payload length covers the reassembled packet.
    private ReassembledPacket Complete(FragmentStore<FragmentKey>.Entry entry)
    {
        ReadOnlySpan<byte> first = entry.FirstHeader;
        int unfragmentable = first.Length - Ipv6FragmentHeader.FixedLength;
        int nextHeaderField = NextHeaderFieldOfLastHeader(first, unfragmentable);
        byte[] header = first[..unfragmentable].ToArray();
        header[nextHeaderField] = first[unfragmentable];
        int payloadLength = unfragmentable - Ipv6Header.FixedLength + entry.TotalEnd;
        BinaryPrimitives.WriteUInt16BigEndian(header.AsSpan(4), (ushort)payloadLength);
        int dataLength = entry.TotalEnd;
        byte[] payload = _store.TakeBufferAndRelease(entry);
        return new ReassembledPacket(header, payload, dataLength);
    }

    // The offset of the Next Header byte that names the Fragment header: walk the per-fragment
    // headers (validated by the chain walk when the first fragment arrived) to their end.
    private static int NextHeaderFieldOfLastHeader(ReadOnlySpan<byte> headers, int end)
    {
        int field = 6;
        int offset = Ipv6Header.FixedLength;
        while (offset + 2 <= end)
        {
            field = offset;
            offset += (headers[offset + 1] + 1) * 8;
        }

        return field;
    }

    private readonly record struct FragmentKey(Ipv6Address Source, Ipv6Address Destination, uint Identification)
    {
        // HashCode is seeded per process, so crafted keys cannot aim at one bucket.
        public override int GetHashCode() => HashCode.Combine(Source.GetHashCode(), Destination.GetHashCode(), Identification);
    }
}
