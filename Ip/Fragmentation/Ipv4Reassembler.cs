using System.Buffers;
using Protocols.Wire;

namespace Protocols.Ip.Fragmentation;

/// <summary>
/// Reassembles IPv4 fragments into datagrams (RFC 791 3.2, "Reassembly"), sans-IO: the caller
/// offers fragments with the current time and calls <see cref="Expire"/> when
/// <see cref="NextExpiry"/> comes. Single-threaded (it belongs to the stack's loop; no locks).
/// </summary>
/// <remarks>
/// <para>Datagrams are keyed by source, destination, protocol and identification (RFC 791 3.2).
/// Each keeps one growing pooled buffer of its payload and a sorted list of the runs of bytes
/// received so far (a hole list in the spirit of RFC 815, kept as intervals): the
/// family-independent store shared with <see cref="Ipv6Reassembler"/>.</para>
/// <para>Overlap policy (RFC 5722 adapted to IPv4): a fragment whose bytes overlap bytes already
/// received is compared with them. Identical bytes are accepted (exact or partial duplicates, as
/// a retransmission through a different path MTU produces); any differing byte drops the whole
/// datagram, so no receiver-dependent choice of "which copy wins" is ever made. Two different
/// ends (last fragments) or data past a known end drop it too.</para>
/// <para>Bounds: <see cref="Ipv4ReassemblerOptions.MaxDatagrams"/>, <see cref="Ipv4ReassemblerOptions.MaxBytes"/>
/// (counted as the length of the pooled buffers held), <see cref="Ipv4ReassemblerOptions.MaxRunsPerDatagram"/>,
/// and a timeout per datagram fixed when its first fragment arrives (like Linux, not extended by
/// later fragments). Hostile input never throws.</para>
/// </remarks>
public sealed class Ipv4Reassembler : IDisposable
{
    private readonly Ipv4ReassemblerOptions _options;
    private readonly FragmentStore<FragmentKey> _store;
    private readonly Action<FragmentStore<FragmentKey>.Entry> _onExpired;
    private ExpiredDatagramHandler? _expiredHandler;

    /// <summary>Creates a reassembler with the given limits (defaults when null).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A limit is not positive.</exception>
    public Ipv4Reassembler(Ipv4ReassemblerOptions? options = null)
    {
        _options = options ?? new Ipv4ReassemblerOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxDatagrams, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfNegative(_options.MaxBytes, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxRunsPerDatagram, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(_options.Timeout, TimeSpan.Zero, nameof(options));

        // RFC 791 3.1: the total length is 16 bits, header included.
        _store = new FragmentStore<FragmentKey>(_options.MaxDatagrams, _options.MaxBytes, _options.Timeout, _options.MaxRunsPerDatagram, _options.LimitPolicy, OverlapPolicy.IdenticalBytes, ushort.MaxValue);
        _onExpired = OnExpired;
    }

    /// <summary>The limits in force.</summary>
    public Ipv4ReassemblerOptions Options => _options;

    /// <summary>Datagrams in reassembly now.</summary>
    public int Count => _store.Count;

    /// <summary>Bytes of buffer held now.</summary>
    public long BufferedBytes => _store.BufferedBytes;

    /// <summary>When the oldest datagram times out (schedule <see cref="Expire"/> then); null when none is in reassembly.</summary>
    public DateTimeOffset? NextExpiry => _store.NextExpiry;

    /// <summary>A snapshot of the counters.</summary>
    public ReassemblyCounters Counters => _store.Counters;

    /// <summary>
    /// Offers one received fragment (a packet with MF set or a non-zero offset; its header already
    /// validated, e.g. by <c>Ipv4Header.TryRead</c> and its checksum). A packet that is not a
    /// fragment is returned as Completed at once (copied).
    /// </summary>
    /// <param name="fragment">The fragment.</param>
    /// <param name="now">The current time (from the stack's TimeProvider); starts the timer of a new datagram.</param>
    /// <param name="result">The outcome; for Completed, the datagram the caller must dispose.</param>
    /// <returns><paramref name="result"/>'s status.</returns>
    public ReassemblyStatus Offer(in Ipv4Header.Reader fragment, DateTimeOffset now, out ReassemblyResult result)
    {
        if (fragment.Bytes.Length < Ipv4Header.FixedLength || fragment.HeaderLength > fragment.Bytes.Length)
        {
            return Refuse(ReassemblyDropReason.Malformed, out result);
        }

        int offset = fragment.FragmentOffset * 8;
        ReadOnlySpan<byte> data = fragment.Payload;
        bool more = fragment.MoreFragments;
        if (!more && offset == 0)
        {
            _store.CountWhole();
            return Whole(fragment, out result);
        }

        // RFC 791 3.2: every fragment but the last carries a multiple of 8 octets; an empty one
        // with MF set carries nothing and ends nothing.
        if (more && (data.Length == 0 || (data.Length & 7) != 0))
        {
            return Refuse(ReassemblyDropReason.Malformed, out result);
        }

        var key = new FragmentKey(fragment.Source.ToUInt32(), fragment.Destination.ToUInt32(), (byte)fragment.Protocol, fragment.Identification);

        // RFC 791 3.2: the first fragment's header becomes the datagram's header (20 bytes assumed until it arrives).
        ReadOnlySpan<byte> firstHeader = offset == 0 ? fragment.Header : default;
        switch (_store.Offer(key, offset, data, more, firstHeader, Ipv4Header.FixedLength, now, out ReassemblyDropReason reason, out FragmentStore<FragmentKey>.Entry? entry))
        {
            case FragmentOutcome.Completed:
                return Complete(entry!, out result);
            case FragmentOutcome.Dropped:
                result = new ReassemblyResult(ReassemblyStatus.Dropped, reason, null);
                return ReassemblyStatus.Dropped;
            default:
                result = new ReassemblyResult(ReassemblyStatus.Incomplete, ReassemblyDropReason.None, null);
                return ReassemblyStatus.Incomplete;
        }
    }

    /// <summary>
    /// Drops every datagram whose timer ran out by <paramref name="now"/> (RFC 791 3.2) and tells
    /// <paramref name="handler"/> about each, with the first fragment's header and data when it
    /// arrived, so the caller can send ICMP time exceeded code 1 only then (RFC 792, RFC 1122 3.3.2).
    /// </summary>
    /// <param name="now">The current time.</param>
    /// <param name="handler">Called once per expired datagram (may be null). The spans are valid only during the call.</param>
    /// <returns>The number of datagrams expired.</returns>
    public int Expire(DateTimeOffset now, ExpiredDatagramHandler? handler)
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

    /// <summary>Drops every datagram in reassembly (not counted as failures) and returns their buffers.</summary>
    public void Clear() => _store.Clear();

    /// <summary>Returns every buffer to the pool.</summary>
    public void Dispose() => Clear();

    private void OnExpired(FragmentStore<FragmentKey>.Entry entry)
    {
        FragmentKey key = entry.Key;
        var expiredDatagram = new ExpiredDatagram(
            Ipv4Address.FromUInt32(key.Source),
            Ipv4Address.FromUInt32(key.Destination),
            (IpProtocol)key.Protocol,
            key.Identification,
            entry.FirstHeader,
            entry.FirstData);
        _expiredHandler?.Invoke(in expiredDatagram);
    }

    private ReassemblyStatus Refuse(ReassemblyDropReason reason, out ReassemblyResult result)
    {
        _store.CountRefused(reason);
        result = new ReassemblyResult(ReassemblyStatus.Dropped, reason, null);
        return ReassemblyStatus.Dropped;
    }

    // A packet that is not a fragment: handed back whole.
    private static ReassemblyStatus Whole(in Ipv4Header.Reader packet, out ReassemblyResult result)
    {
        ReadOnlySpan<byte> payload = packet.Payload;
        byte[] buffer = ArrayPool<byte>.Shared.Rent(Math.Max(payload.Length, 1));
        payload.CopyTo(buffer);

        // Same contract as a reassembled datagram: the header's checksum is valid.
        Span<byte> header = stackalloc byte[Ipv4Packet.MaxHeaderLength];
        header = header[..packet.HeaderLength];
        packet.Header.CopyTo(header);
        Ipv4Header.FillChecksum(header);
        Ipv4Header fields = packet.ToValue();
        fields.HeaderChecksum = new Ipv4Header.Writer(header).HeaderChecksum;
        result = new ReassemblyResult(ReassemblyStatus.Completed, ReassemblyDropReason.None, new ReassembledDatagram(fields, header, buffer, payload.Length));
        return ReassemblyStatus.Completed;
    }

    private ReassemblyStatus Complete(FragmentStore<FragmentKey>.Entry entry, out ReassemblyResult result)
    {
        // The reassembled datagram's header: the first fragment's, as an unfragmented datagram.
        Span<byte> header = entry.Header.AsSpan(0, entry.HeaderLength);
        int payloadLength = entry.TotalEnd;
        var writer = new Ipv4Header.Writer(header);
        writer.TotalLength = (ushort)(entry.HeaderLength + payloadLength);
        writer.MoreFragments = false;
        writer.FragmentOffset = 0;
        Ipv4Header.FillChecksum(header);
        Ipv4Header fields = default;
        fields.Version = 4;
        fields.Ihl = (byte)(entry.HeaderLength / 4);
        fields.Dscp = writer.Dscp;
        fields.Ecn = writer.Ecn;
        fields.TotalLength = writer.TotalLength;
        fields.Identification = writer.Identification;
        fields.Reserved = writer.Reserved;
        fields.DontFragment = writer.DontFragment;
        fields.Ttl = writer.Ttl;
        fields.Protocol = writer.Protocol;
        fields.HeaderChecksum = writer.HeaderChecksum;
        fields.Source = writer.Source;
        fields.Destination = writer.Destination;

        // The payload buffer moves to the datagram without a copy; the datagram copies the header
        // (the recycled entry's header bytes stay untouched until the next Offer).
        byte[] payload = _store.TakeBufferAndRelease(entry);
        var datagram = new ReassembledDatagram(fields, header, payload, payloadLength);
        result = new ReassemblyResult(ReassemblyStatus.Completed, ReassemblyDropReason.None, datagram);
        return ReassemblyStatus.Completed;
    }

    private readonly record struct FragmentKey(uint Source, uint Destination, byte Protocol, ushort Identification)
    {
        // HashCode is seeded per process, so crafted keys cannot aim at one bucket.
        public override int GetHashCode() => HashCode.Combine(Source, Destination, Protocol, Identification);
    }
}
