using Protocols.Wire;

namespace Protocols.Tcp.Engine;

/// <summary>
/// A received segment as the engine sees it (RFC 9293 3.10.7): the header fields that matter,
/// parsed options and the payload, without copying. The layer builds it with
/// <see cref="TryParse(ReadOnlySpan{byte}, out TcpSegment, out TcpHeader.Reader, out WireError)"/> after checking the checksum; tests build it with the constructor.
/// </summary>
internal readonly ref struct TcpSegment
{
    /// <summary>A segment from its parts.</summary>
    /// <param name="seq">SEG.SEQ.</param>
    /// <param name="ack">SEG.ACK (meaningful with <see cref="TcpFlags.Ack"/>).</param>
    /// <param name="flags">The control bits.</param>
    /// <param name="window">SEG.WND as carried (not scaled).</param>
    /// <param name="options">The parsed options.</param>
    /// <param name="payload">The segment text.</param>
    /// <param name="urgentPointer">The urgent pointer.</param>
    public TcpSegment(SeqNum seq, SeqNum ack, TcpFlags flags, ushort window, TcpOptions options, ReadOnlySpan<byte> payload, ushort urgentPointer = 0)
    {
        Seq = seq;
        Ack = ack;
        Flags = flags;
        Window = window;
        Options = options;
        Payload = payload;
        UrgentPointer = urgentPointer;
    }

    /// <summary>SEG.SEQ: the first sequence number of the segment.</summary>
    public SeqNum Seq { get; }

    /// <summary>SEG.ACK.</summary>
    public SeqNum Ack { get; }

    /// <summary>The control bits.</summary>
    public TcpFlags Flags { get; }

    /// <summary>SEG.WND as carried in the header, before window scaling.</summary>
    public ushort Window { get; }

    /// <summary>The urgent pointer (the engine does not implement urgent data; it is kept for traces).</summary>
    public ushort UrgentPointer { get; }

    /// <summary>The options.</summary>
    public TcpOptions Options { get; }

    /// <summary>The segment text.</summary>
    public ReadOnlySpan<byte> Payload { get; }

    /// <summary>SEG.LEN (RFC 9293 3.4): payload plus one for SYN and one for FIN.</summary>
    public int SegmentLength => Payload.Length + ((Flags & TcpFlags.Syn) != 0 ? 1 : 0) + ((Flags & TcpFlags.Fin) != 0 ? 1 : 0);

    /// <summary>Whether a flag is set.</summary>
    /// <param name="flag">One flag (or several: all must be set).</param>
    /// <returns>True when set.</returns>
    public bool Has(TcpFlags flag) => (Flags & flag) == flag;

    /// <summary>
    /// Reads a segment from the TCP bytes of an IP datagram (header first). Does not verify the
    /// checksum (the layer does, with the pseudo-header). Never throws.
    /// </summary>
    /// <param name="tcpBytes">The TCP header, options and payload.</param>
    /// <param name="segment">The segment, on success.</param>
    /// <param name="reader">The header reader (ports, checksum), on success.</param>
    /// <returns>False when the header or its options are malformed.</returns>
    public static bool TryParse(ReadOnlySpan<byte> tcpBytes, out TcpSegment segment, out TcpHeader.Reader reader) =>
        TryParse(tcpBytes, out segment, out reader, out _);

    /// <summary>
    /// Reads a segment from the TCP bytes of an IP datagram (header first), saying what is wrong
    /// when it cannot. Does not verify the checksum (the layer does, with the pseudo-header). Never throws.
    /// </summary>
    /// <param name="tcpBytes">The TCP header, options and payload.</param>
    /// <param name="segment">The segment, on success.</param>
    /// <param name="reader">The header reader (ports, checksum), on success.</param>
    /// <param name="error">On failure, the header's error (layer TCP, field DataOffset for a bad header length) or the option's (source OptionLength, offset within the header).</param>
    /// <returns>False when the header or its options are malformed.</returns>
    public static bool TryParse(ReadOnlySpan<byte> tcpBytes, out TcpSegment segment, out TcpHeader.Reader reader, out WireError error)
    {
        segment = default;
        if (!TcpHeader.TryRead(tcpBytes, out reader, out error))
        {
            return false;
        }

        if (!TcpOptions.TryParse(reader.Options, out TcpOptions options, out error))
        {
            error = error.WithOffset(TcpHeader.FixedLength);
            return false;
        }

        segment = new TcpSegment(
            new SeqNum(reader.SequenceNumber),
            new SeqNum(reader.AcknowledgmentNumber),
            reader.GetFlags(),
            reader.Window,
            options,
            reader.Payload,
            reader.UrgentPointer);
        return true;
    }

    /// <summary>e.g. <c>[S.] seq 1 ack 2 win 65535 len 0 mss=1460</c>.</summary>
    public override string ToString() => FormattableString.Invariant(
        $"[{TcpOutgoingSegment.FlagString(Flags)}] seq {Seq} ack {Ack} win {Window} len {Payload.Length} {Options}");
}
