using System.Text;
using Protocols.Wire;

namespace Protocols.Tcp.Engine;

/// <summary>
/// The header fields of a segment the engine sends (the payload travels separately, as up to two
/// spans of the send ring). <see cref="Write"/> encodes the complete segment.
/// </summary>
internal struct TcpOutgoingSegment
{
    /// <summary>SEG.SEQ.</summary>
    public SeqNum Seq;

    /// <summary>SEG.ACK (meaningful with ACK set).</summary>
    public SeqNum Ack;

    /// <summary>The control bits.</summary>
    public TcpFlags Flags;

    /// <summary>The window field, already scaled down (RFC 7323 2.3).</summary>
    public ushort Window;

    /// <summary>The options to send (MSS, window scale, SACK-permitted on a SYN; timestamps; SACK blocks).</summary>
    public TcpOptions Options;

    /// <summary>The header length with options: 20 plus the options padded to 4 bytes.</summary>
    public readonly int HeaderLength => TcpHeader.FixedLength + Options.GetEncodedLength();

    /// <summary>
    /// The reset that answers <paramref name="segment"/> when no connection (or a closed one) owns
    /// it, RFC 9293 3.10.7.1: with ACK on, <c>&lt;SEQ=SEG.ACK&gt;&lt;CTL=RST&gt;</c>; with ACK off,
    /// <c>&lt;SEQ=0&gt;&lt;ACK=SEG.SEQ+SEG.LEN&gt;&lt;CTL=RST,ACK&gt;</c>. False for a RST: a reset is
    /// never answered with a reset. Shared by the layer (closed ports) and the control block.
    /// </summary>
    public static bool TryCreateResetFor(in TcpSegment segment, out TcpOutgoingSegment reset)
    {
        if ((segment.Flags & TcpFlags.Rst) != 0)
        {
            reset = default;
            return false;
        }

        reset = (segment.Flags & TcpFlags.Ack) != 0
            ? new TcpOutgoingSegment { Seq = segment.Ack, Flags = TcpFlags.Rst }
            : new TcpOutgoingSegment { Seq = default, Ack = segment.Seq + segment.SegmentLength, Flags = TcpFlags.Rst | TcpFlags.Ack };
        return true;
    }

    /// <summary>
    /// Writes the whole segment: header, options, <paramref name="payload1"/> then
    /// <paramref name="payload2"/>, and the checksum over the IPv4 pseudo-header
    /// (<see cref="Checksum.PseudoHeaderSum(IpAddress, IpAddress, byte, int)"/>, RFC 9293 3.1). Source is the tuple's local end.
    /// </summary>
    /// <param name="destination">Room for <see cref="HeaderLength"/> plus the payload.</param>
    /// <param name="tuple">The connection (local = source, remote = destination).</param>
    /// <param name="payload1">The first part of the payload.</param>
    /// <param name="payload2">Its continuation (may be empty).</param>
    /// <param name="partialChecksum">Leave the checksum partial (the pseudo-header sum only) for a device that completes it, as it must for a super-segment it cuts.</param>
    /// <returns>The segment length in bytes.</returns>
    /// <exception cref="ArgumentException">The destination is too small.</exception>
    public readonly int Write(Span<byte> destination, in TcpFourTuple tuple, ReadOnlySpan<byte> payload1, ReadOnlySpan<byte> payload2, bool partialChecksum = false)
    {
        int headerLength = HeaderLength;
        int length = headerLength + payload1.Length + payload2.Length;
        if (destination.Length < length)
        {
            throw new ArgumentException($"The segment needs {length} bytes; the destination has {destination.Length}.", nameof(destination));
        }

        Span<byte> segment = destination[..length];
        var w = new TcpHeader.Writer(segment)
        {
            SourcePort = tuple.LocalPort,
            DestinationPort = tuple.RemotePort,
            SequenceNumber = Seq.Value,
            AcknowledgmentNumber = Ack.Value,
            DataOffset = (byte)(headerLength / 4),
            Reserved = 0,
            Window = Window,
            Checksum = 0,
            UrgentPointer = 0,
        };
        w.SetFlags(Flags);
        Options.TryWriteTo(segment[TcpHeader.FixedLength..headerLength], out _);
        payload1.CopyTo(segment[headerLength..]);
        payload2.CopyTo(segment[(headerLength + payload1.Length)..]);
        uint pseudo = Checksum.PseudoHeaderSum(tuple.LocalAddress, tuple.RemoteAddress, TcpHeader.IpProtocolNumber, length);
        if (partialChecksum)
        {
            // virtio 1.2 5.1.6.2: the field holds the pseudo-header sum, not complemented; the device adds the rest.
            System.Buffers.Binary.BinaryPrimitives.WriteUInt16BigEndian(segment[16..], (ushort)Checksum.Fold(pseudo));
        }
        else
        {
            TcpHeader.FillChecksum(segment, pseudo);
        }

        return length;
    }

    /// <summary>tcpdump's flag letters: S, F, R, P, U, E, W, and '.' for ACK.</summary>
    /// <param name="flags">The flags.</param>
    /// <returns>e.g. <c>S.</c> for SYN-ACK.</returns>
    public static string FlagString(TcpFlags flags)
    {
        var sb = new StringBuilder(8);
        if ((flags & TcpFlags.Syn) != 0)
        {
            sb.Append('S');
        }

        if ((flags & TcpFlags.Fin) != 0)
        {
            sb.Append('F');
        }

        if ((flags & TcpFlags.Rst) != 0)
        {
            sb.Append('R');
        }

        if ((flags & TcpFlags.Psh) != 0)
        {
            sb.Append('P');
        }

        if ((flags & TcpFlags.Urg) != 0)
        {
            sb.Append('U');
        }

        if ((flags & TcpFlags.Ece) != 0)
        {
            sb.Append('E');
        }

        if ((flags & TcpFlags.Cwr) != 0)
        {
            sb.Append('W');
        }

        if ((flags & TcpFlags.Ack) != 0)
        {
            sb.Append('.');
        }

        return sb.Length == 0 ? "none" : sb.ToString();
    }

    /// <summary>e.g. <c>[S.] seq 1 ack 2 win 65535 mss=1460</c>.</summary>
    public override readonly string ToString() => FormattableString.Invariant(
        $"[{FlagString(Flags)}] seq {Seq} ack {Ack} win {Window} {Options}");
}

/// <summary>Where the engine's segments go: the layer (IP) in the stack, a recorder in tests.</summary>
internal interface ITcpSegmentOutput
{
    /// <summary>Sends one segment; the payload is <paramref name="payload1"/> followed by <paramref name="payload2"/>. The spans are valid only during the call.</summary>
    /// <param name="tuple">The connection (local = source).</param>
    /// <param name="segment">The header fields.</param>
    /// <param name="payload1">The first part of the payload.</param>
    /// <param name="payload2">Its continuation (may be empty).</param>
    void Send(in TcpFourTuple tuple, in TcpOutgoingSegment segment, ReadOnlySpan<byte> payload1, ReadOnlySpan<byte> payload2);
}
