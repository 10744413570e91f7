using System.Buffers;
using System.Runtime.CompilerServices;
using Protocols.Wire;

namespace Protocols.Ip.Fragmentation;

/// <summary>What <see cref="Ipv4Reassembler.Offer"/> did with a fragment.</summary>
public enum ReassemblyStatus
{
    /// <summary>The fragment was stored (or was an exact duplicate); the datagram is not complete yet.</summary>
    Incomplete = 0,

    /// <summary>The fragment completed its datagram: <see cref="ReassemblyResult.Datagram"/> holds it.</summary>
    Completed,

    /// <summary>The fragment was discarded, and with it its datagram when <see cref="ReassemblyResult.Reason"/> says so.</summary>
    Dropped,
}

/// <summary>Why a fragment or a datagram in reassembly was discarded.</summary>
public enum ReassemblyDropReason
{
    /// <summary>Nothing was dropped.</summary>
    None = 0,

    /// <summary>The reassembly timer ran out before every fragment arrived (RFC 791 3.2, RFC 1122 3.3.2). The datagram is dropped.</summary>
    Timeout,

    /// <summary>
    /// Fragments disagree: overlapping bytes that differ, or two different ends of the datagram
    /// (RFC 5722's rule applied to IPv4). The whole datagram is dropped.
    /// </summary>
    Overlap,

    /// <summary>The datagram would exceed 65535 bytes (the "ping of death"). The whole datagram is dropped.</summary>
    TooLarge,

    /// <summary>The limit on datagrams in reassembly was reached: the oldest one was evicted, or the new one refused (see <see cref="ReassemblyLimitPolicy"/>).</summary>
    LimitDatagrams,

    /// <summary>The limit on bytes buffered for reassembly was reached: the oldest datagrams were evicted, or the growing one refused.</summary>
    LimitBytes,

    /// <summary>
    /// The fragment itself is malformed: MF set with a payload that is empty or not a multiple of
    /// 8 bytes (RFC 791 3.2), or a header shorter than 20 bytes. Only this fragment is dropped.
    /// </summary>
    Malformed,

    /// <summary>The datagram was split into more separate runs of received bytes than allowed (a tiny-fragment storm). The whole datagram is dropped.</summary>
    TooManyFragments,
}

/// <summary>What to do when a limit of <see cref="Ipv4ReassemblerOptions"/> is reached.</summary>
public enum ReassemblyLimitPolicy
{
    /// <summary>Evict the oldest datagrams in reassembly to make room (a burst cannot lock reassembly out for a whole timeout).</summary>
    EvictOldest = 0,

    /// <summary>Refuse the newcomer and keep what is in progress (what Linux does above ipfrag_high_thresh).</summary>
    RefuseNew,
}

/// <summary>The outcome of one <see cref="Ipv4Reassembler.Offer"/>.</summary>
public readonly struct ReassemblyResult
{
    internal ReassemblyResult(ReassemblyStatus status, ReassemblyDropReason reason, ReassembledDatagram? datagram)
    {
        Status = status;
        Reason = reason;
        Datagram = datagram;
    }

    /// <summary>Incomplete, Completed or Dropped.</summary>
    public ReassemblyStatus Status { get; }

    /// <summary>For <see cref="ReassemblyStatus.Dropped"/>: why.</summary>
    public ReassemblyDropReason Reason { get; }

    /// <summary>For <see cref="ReassemblyStatus.Completed"/>: the datagram; the caller owns it and disposes it to return its buffer to the pool.</summary>
    public ReassembledDatagram? Datagram { get; }
}

/// <summary>
/// A reassembled IPv4 datagram: the first fragment's header rewritten as an unfragmented one
/// (total length, MF clear, offset 0, checksum filled; options as in the first fragment, RFC 791
/// 3.2) and the payload in a pooled buffer. Dispose it to return the buffer; afterwards the spans
/// are empty.
/// </summary>
public sealed class ReassembledDatagram : IDisposable
{
    private HeaderBytes _header;
    private readonly int _headerLength;
    private byte[]? _payload;
    private readonly int _payloadLength;

    internal ReassembledDatagram(in Ipv4Header fields, ReadOnlySpan<byte> header, byte[] payload, int payloadLength)
    {
        header.CopyTo(_header);
        _headerLength = header.Length;
        _payload = payload;
        _payloadLength = payloadLength;
        Fields = fields;
    }

    /// <summary>The header in value form.</summary>
    public Ipv4Header Fields { get; }

    /// <summary>The sender.</summary>
    public Ipv4Address Source => Fields.Source;

    /// <summary>The receiver.</summary>
    public Ipv4Address Destination => Fields.Destination;

    /// <summary>The payload's protocol.</summary>
    public IpProtocol Protocol => Fields.Protocol;

    /// <summary>The identification shared by the fragments.</summary>
    public ushort Identification => Fields.Identification;

    /// <summary>The first fragment's TTL.</summary>
    public byte Ttl => Fields.Ttl;

    /// <summary>The rebuilt header bytes (20..60), options included; the checksum is valid. Empty once disposed.</summary>
    public ReadOnlySpan<byte> Header => _payload is null ? default : ((ReadOnlySpan<byte>)_header)[.._headerLength];

    /// <summary>The options of the first fragment.</summary>
    public ReadOnlySpan<byte> Options => Header.IsEmpty ? default : Header[Ipv4Header.FixedLength..];

    /// <summary>The reassembled payload. Empty once disposed.</summary>
    public ReadOnlySpan<byte> Payload => _payload is null ? default : _payload.AsSpan(0, _payloadLength);

    /// <summary>The reassembled payload as memory (valid until disposed).</summary>
    public ReadOnlyMemory<byte> PayloadMemory => _payload is null ? default : _payload.AsMemory(0, _payloadLength);

    /// <summary>The length of the whole datagram: header plus payload.</summary>
    public int TotalLength => _headerLength + _payloadLength;

    /// <summary>Writes header and payload contiguously (the datagram as if it had never been fragmented).</summary>
    /// <returns>The bytes written (<see cref="TotalLength"/>).</returns>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is too small.</exception>
    /// <exception cref="ObjectDisposedException">The datagram was disposed.</exception>
    public int CopyTo(Span<byte> destination)
    {
        ObjectDisposedException.ThrowIf(_payload is null, this);
        if (destination.Length < TotalLength)
        {
            throw new ArgumentException($"The datagram needs {TotalLength} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        Header.CopyTo(destination);
        Payload.CopyTo(destination[_headerLength..]);
        return TotalLength;
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

    [InlineArray(Ipv4Packet.MaxHeaderLength)]
    internal struct HeaderBytes
    {
        private byte _element0;
    }
}

/// <summary>
/// A datagram whose reassembly timer ran out, as passed to the handler of
/// <see cref="Ipv4Reassembler.Expire"/>. Valid only during the call.
/// </summary>
public readonly ref struct ExpiredDatagram
{
    internal ExpiredDatagram(Ipv4Address source, Ipv4Address destination, IpProtocol protocol, ushort identification, ReadOnlySpan<byte> firstHeader, ReadOnlySpan<byte> firstData)
    {
        Source = source;
        Destination = destination;
        Protocol = protocol;
        Identification = identification;
        FirstFragmentHeader = firstHeader;
        FirstFragmentData = firstData;
    }

    /// <summary>The sender.</summary>
    public Ipv4Address Source { get; }

    /// <summary>The receiver.</summary>
    public Ipv4Address Destination { get; }

    /// <summary>The payload's protocol.</summary>
    public IpProtocol Protocol { get; }

    /// <summary>The identification shared by the fragments.</summary>
    public ushort Identification { get; }

    /// <summary>
    /// True when the fragment at offset 0 arrived. RFC 792 / RFC 1122 3.2.2.4: send ICMP time
    /// exceeded code 1 (fragment reassembly time exceeded) only then.
    /// </summary>
    public bool FirstFragmentSeen => !FirstFragmentHeader.IsEmpty;

    /// <summary>The first fragment's header exactly as received (MF set, its own total length); empty when it never arrived.</summary>
    public ReadOnlySpan<byte> FirstFragmentHeader { get; }

    /// <summary>The first fragment's payload (at least 8 bytes when it arrived, since it has MF set); quote <c>[..8]</c> or more in the ICMP error.</summary>
    public ReadOnlySpan<byte> FirstFragmentData { get; }
}

/// <summary>Receives one timed-out datagram from <see cref="Ipv4Reassembler.Expire"/>.</summary>
public delegate void ExpiredDatagramHandler(in ExpiredDatagram datagram);

/// <summary>A snapshot of an <see cref="Ipv4Reassembler"/>'s counters (the reassembly lines of <c>netstat -s</c>).</summary>
/// <param name="FragmentsReceived">Every fragment offered.</param>
/// <param name="DatagramsReassembled">Datagrams completed.</param>
/// <param name="Duplicates">Fragments that brought no new byte (ignored).</param>
/// <param name="Timeouts">Datagrams dropped by the timer.</param>
/// <param name="Overlaps">Datagrams dropped for conflicting fragments.</param>
/// <param name="TooLarge">Datagrams (or first fragments of one) dropped for exceeding 65535 bytes.</param>
/// <param name="LimitDatagrams">Datagrams evicted or refused by the datagram limit.</param>
/// <param name="LimitBytes">Datagrams evicted or refused by the byte limit.</param>
/// <param name="Malformed">Malformed fragments dropped.</param>
/// <param name="TooManyFragments">Datagrams dropped for too many separate runs.</param>
/// <param name="CurrentDatagrams">Datagrams in reassembly now.</param>
/// <param name="CurrentBytes">Bytes of buffer held now.</param>
public readonly record struct ReassemblyCounters(
    long FragmentsReceived,
    long DatagramsReassembled,
    long Duplicates,
    long Timeouts,
    long Overlaps,
    long TooLarge,
    long LimitDatagrams,
    long LimitBytes,
    long Malformed,
    long TooManyFragments,
    int CurrentDatagrams,
    long CurrentBytes)
{
    /// <summary>All failures together (every reason).</summary>
    public long Failures => Timeouts + Overlaps + TooLarge + LimitDatagrams + LimitBytes + Malformed + TooManyFragments;

    /// <summary>The failure count for one reason.</summary>
    public long FailuresFor(ReassemblyDropReason reason) => reason switch
    {
        ReassemblyDropReason.Timeout => Timeouts,
        ReassemblyDropReason.Overlap => Overlaps,
        ReassemblyDropReason.TooLarge => TooLarge,
        ReassemblyDropReason.LimitDatagrams => LimitDatagrams,
        ReassemblyDropReason.LimitBytes => LimitBytes,
        ReassemblyDropReason.Malformed => Malformed,
        ReassemblyDropReason.TooManyFragments => TooManyFragments,
        _ => 0,
    };
}

/// <summary>Limits and timing of an <see cref="Ipv4Reassembler"/>.</summary>
public sealed class Ipv4ReassemblerOptions
{
    /// <summary>Datagrams in reassembly at once (default 1024).</summary>
    public int MaxDatagrams { get; init; } = 1024;

    /// <summary>Bytes of reassembly buffers held at once (default 4 MiB, Linux's ipfrag_high_thresh).</summary>
    public long MaxBytes { get; init; } = 4L * 1024 * 1024;

    /// <summary>Time from a datagram's first fragment until it is dropped (default 30 s, Linux's ipfrag_time; RFC 791 suggests 15 s).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Separate runs of received bytes one datagram may have (holes between them); past it the datagram is dropped (default 1024).</summary>
    public int MaxRunsPerDatagram { get; init; } = 1024;

    /// <summary>What a limit does: evict the oldest (default) or refuse the newcomer.</summary>
    public ReassemblyLimitPolicy LimitPolicy { get; init; } = ReassemblyLimitPolicy.EvictOldest;
}
