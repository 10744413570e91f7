using System.Globalization;
using System.Text;
using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Harness;

/// <summary>
/// One IPv4 or IPv6 packet the scripted peer received from the stack under test (or sent to it), decoded
/// with the project's own codecs: the TCP segment when it carries one, otherwise an ICMP, ICMPv6
/// or other packet described in one line.
/// </summary>
internal sealed class CapturedPacket
{
    private CapturedPacket(TimeSpan at, byte[] bytes)
    {
        At = at;
        Bytes = bytes;
    }

    /// <summary>Virtual time since the start of the simulation when the packet arrived (or was sent).</summary>
    public TimeSpan At { get; }

    /// <summary>The whole packet.</summary>
    public byte[] Bytes { get; }

    /// <summary>The source address.</summary>
    public IpAddress Source { get; private set; }

    /// <summary>The destination address.</summary>
    public IpAddress Destination { get; private set; }

    /// <summary>The IPv4 protocol, or the IPv6 upper-layer protocol after the extension headers.</summary>
    public IpProtocol Protocol { get; private set; }

    /// <summary>The IPv4 Don't Fragment bit; always true for IPv6 (routers never fragment it).</summary>
    public bool DontFragment { get; private set; }

    /// <summary>The decoded TCP segment, or null when the packet is not a (readable) TCP segment.</summary>
    public CapturedSegment? Segment { get; private set; }

    /// <summary>ICMP type, when the packet is ICMP.</summary>
    public IcmpType? IcmpType { get; private set; }

    /// <summary>ICMPv6 type, when the packet is ICMPv6.</summary>
    public Icmpv6Type? Icmpv6Type { get; private set; }

    /// <summary>ICMP (or ICMPv6) code, when the packet is ICMP (ICMPv6).</summary>
    public byte IcmpCode { get; private set; }

    /// <summary>Why the packet could not be decoded, or null.</summary>
    public string? DecodeError { get; private set; }

    /// <summary>Decodes an IPv4 or IPv6 packet. Never throws: what cannot be read is described in <see cref="DecodeError"/>.</summary>
    public static CapturedPacket Decode(TimeSpan at, ReadOnlySpan<byte> packet)
    {
        var captured = new CapturedPacket(at, packet.ToArray());
        if (packet.Length > 0 && packet[0] >> 4 == 6)
        {
            DecodeIpv6(captured, at, packet);
            return captured;
        }

        if (!Ipv4Header.TryRead(packet, out Ipv4Header.Reader ip, out WireError error))
        {
            captured.DecodeError = "unreadable IPv4: " + error;
            return captured;
        }

        captured.Source = ip.Source;
        captured.Destination = ip.Destination;
        captured.Protocol = ip.Protocol;
        captured.DontFragment = ip.DontFragment;
        if (ip.MoreFragments || ip.FragmentOffset != 0)
        {
            captured.DecodeError = "IPv4 fragment";
            return captured;
        }

        switch (ip.Protocol)
        {
            case IpProtocol.Tcp:
                DecodeTcp(captured, at, ip.Source, ip.Destination, ip.Payload, ip.PseudoHeaderSum());
                break;
            case IpProtocol.Icmp when ip.Payload.Length >= IcmpHeader.FixedLength:
                captured.IcmpType = (IcmpType)ip.Payload[0];
                captured.IcmpCode = ip.Payload[1];
                break;
        }

        return captured;
    }

    // The TCP segment of either family: its fields, options, payload and whether its checksum verifies against pseudoHeaderSum.
    private static void DecodeTcp(CapturedPacket captured, TimeSpan at, IpAddress source, IpAddress destination, ReadOnlySpan<byte> segment, uint pseudoHeaderSum)
    {
        if (!TcpHeader.TryRead(segment, out TcpHeader.Reader tcp, out WireError error))
        {
            captured.DecodeError = "unreadable TCP header: " + error;
        }
        else if (!tcp.TryParseOptions(out TcpOptions options, out error))
        {
            captured.DecodeError = "malformed TCP options: " + error;
        }
        else
        {
            captured.Segment = new CapturedSegment(
                at,
                new IpEndpoint(source, tcp.SourcePort),
                new IpEndpoint(destination, tcp.DestinationPort),
                tcp.SequenceNumber,
                tcp.AcknowledgmentNumber,
                tcp.GetFlags(),
                tcp.Window,
                tcp.UrgentPointer,
                options,
                tcp.Payload.ToArray(),
                tcp.VerifyChecksum(pseudoHeaderSum));
        }
    }

    private static void DecodeIpv6(CapturedPacket captured, TimeSpan at, ReadOnlySpan<byte> packet)
    {
        if (!Ipv6Header.TryRead(packet, out Ipv6Header.Reader ip, out WireError error))
        {
            captured.DecodeError = "unreadable IPv6: " + error;
            return;
        }

        captured.Source = ip.Source;
        captured.Destination = ip.Destination;
        captured.DontFragment = true;
        Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(ip.Bytes);
        captured.Protocol = chain.NextHeader;
        if (chain.Status != Ipv6ChainStatus.UpperLayer)
        {
            captured.DecodeError = "IPv6 " + chain.Status;
            return;
        }

        ReadOnlySpan<byte> payload = ip.Bytes[chain.PayloadOffset..];
        switch (chain.NextHeader)
        {
            case IpProtocol.Tcp:
                DecodeTcp(captured, at, ip.Source, ip.Destination, payload, Checksum.PseudoHeaderSum(ip.Source, ip.Destination, (byte)IpProtocol.Tcp, payload.Length));
                break;
            case IpProtocol.Icmpv6 when payload.Length >= Icmpv6Header.FixedLength:
                captured.Icmpv6Type = (Icmpv6Type)payload[0];
                captured.IcmpCode = payload[1];
                break;
        }
    }

    /// <summary>A tcpdump-like line: time, addresses, and the segment or packet.</summary>
    public override string ToString()
    {
        string time = FormatTime(At);
        if (Segment is not null)
        {
            return Segment.ToString();
        }

        if (DecodeError is not null)
        {
            return $"{time} {Source} > {Destination}: {Protocol} ({DecodeError}), length {Bytes.Length}";
        }

        return IcmpType is IcmpType type
            ? $"{time} {Source} > {Destination}: ICMP {type} code {IcmpCode}, length {Bytes.Length}"
            : Icmpv6Type is Icmpv6Type type6
            ? $"{time} {Source} > {Destination}: ICMP6 {type6} code {IcmpCode}, length {Bytes.Length}"
            : $"{time} {Source} > {Destination}: {Protocol}, length {Bytes.Length}";
    }

    internal static string FormatTime(TimeSpan at) => "+" + at.TotalSeconds.ToString("0.000000", CultureInfo.InvariantCulture) + "s";
}

/// <summary>A decoded TCP segment, with the time it was seen.</summary>
/// <param name="At">Virtual time since the start of the simulation.</param>
/// <param name="From">Source address and port.</param>
/// <param name="To">Destination address and port.</param>
/// <param name="Seq">Sequence number.</param>
/// <param name="Ack">Acknowledgment number (meaningful with ACK).</param>
/// <param name="Flags">The eight control bits.</param>
/// <param name="Window">The raw (unscaled) window field.</param>
/// <param name="UrgentPointer">The urgent pointer field.</param>
/// <param name="Options">The options.</param>
/// <param name="Payload">The data.</param>
/// <param name="ChecksumValid">Whether the checksum over the pseudo-header verified.</param>
internal sealed record CapturedSegment(
    TimeSpan At,
    IpEndpoint From,
    IpEndpoint To,
    uint Seq,
    uint Ack,
    TcpFlags Flags,
    ushort Window,
    ushort UrgentPointer,
    TcpOptions Options,
    byte[] Payload,
    bool ChecksumValid)
{
    /// <summary>The sequence space the segment occupies: payload, plus one for SYN and one for FIN.</summary>
    public int SegmentLength => Payload.Length + ((Flags & TcpFlags.Syn) != 0 ? 1 : 0) + ((Flags & TcpFlags.Fin) != 0 ? 1 : 0);

    /// <summary>The sequence number after this segment (Seq + SegmentLength, modulo 2^32).</summary>
    public uint End => unchecked(Seq + (uint)SegmentLength);

    /// <summary>The timestamp value, or throws when the segment carries no timestamps.</summary>
    public uint TsVal => Options.Timestamps?.TsVal ?? throw new InvalidOperationException($"The segment carries no timestamps: {this}");

    /// <summary>tcpdump's flag letters in tcpdump's order (F S R P . U E W), e.g. <c>S.</c>.</summary>
    public static string FlagLetters(TcpFlags flags)
    {
        var sb = new StringBuilder();
        if ((flags & TcpFlags.Fin) != 0)
        {
            sb.Append('F');
        }

        if ((flags & TcpFlags.Syn) != 0)
        {
            sb.Append('S');
        }

        if ((flags & TcpFlags.Rst) != 0)
        {
            sb.Append('R');
        }

        if ((flags & TcpFlags.Psh) != 0)
        {
            sb.Append('P');
        }

        if ((flags & TcpFlags.Ack) != 0)
        {
            sb.Append('.');
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

        return sb.Length == 0 ? "none" : sb.ToString();
    }

    /// <summary>tcpdump-like: <c>+0.000000s 10.0.0.2.80 &gt; 10.0.0.1.40000: Flags [S.], seq 7, ack 1001, win 65535, options [mss=1460 wscale=7], length 0</c>.</summary>
    public override string ToString()
    {
        var sb = new StringBuilder();
        var inv = CultureInfo.InvariantCulture;
        sb.Append(inv, $"{CapturedPacket.FormatTime(At)} {From.Address}.{From.Port} > {To.Address}.{To.Port}: Flags [{FlagLetters(Flags)}], seq {Seq}");
        if (SegmentLength > 1)
        {
            sb.Append(inv, $":{End}");
        }

        if ((Flags & TcpFlags.Ack) != 0)
        {
            sb.Append(inv, $", ack {Ack}");
        }

        sb.Append(inv, $", win {Window}");
        if ((Flags & TcpFlags.Urg) != 0)
        {
            sb.Append(inv, $", urg {UrgentPointer}");
        }

        if (Options != default)
        {
            sb.Append(inv, $", options [{Options}]");
        }

        sb.Append(inv, $", length {Payload.Length}");
        if (!ChecksumValid)
        {
            sb.Append(" (BAD CHECKSUM)");
        }

        return sb.ToString();
    }
}
