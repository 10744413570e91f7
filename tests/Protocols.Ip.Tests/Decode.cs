using System.Text;
using Protocols.Wire;

namespace Protocols.Ip.Tests;

/// <summary>
/// Decodes a frame through every codec of this library (Ethernet, ARP, IPv4 + options, ICMP and
/// its typed views and quote), touching every getter. Used by the known-answer, random-bytes and
/// mutation tests, and to build annotated dumps.
/// </summary>
internal static partial class Decode
{
    public static string Frame(ReadOnlySpan<byte> frame, List<HexAnnotation>? annotations = null)
    {
        var sb = new StringBuilder();
        if (!EthernetHeader.TryRead(frame, out EthernetHeader.Reader eth, out WireError error))
        {
            return sb.Append("Ethernet error: ").Append(error).ToString();
        }

        sb.Append(eth.ToString()).Append('\n');
        _ = (eth.Destination, eth.Source, eth.EtherType, eth.DestinationBytes.Length, eth.SourceBytes.Length, eth.ToValue().ToString());
        annotations?.AddRange(Annotations(eth.Header, 0, EthernetHeader.Annotate));
        int at = eth.HeaderLength;
        ReadOnlySpan<byte> payload = eth.Payload;
        switch (eth.EtherType)
        {
            case EtherType.Arp:
                Arp(payload, at, sb, annotations);
                break;
            case EtherType.Ipv4:
                Ipv4(payload, at, sb, annotations);
                break;
            case EtherType.Ipv6:
                Ipv6(payload, at, sb, annotations);
                break;
            default:
                annotations?.Add(new HexAnnotation(at, payload.Length, $"Payload ({payload.Length} bytes)"));
                break;
        }

        return sb.ToString();
    }

    public static void Arp(ReadOnlySpan<byte> bytes, int at, StringBuilder sb, List<HexAnnotation>? annotations)
    {
        if (!ArpPacket.TryRead(bytes, out ArpPacket.Reader arp, out WireError error))
        {
            sb.Append("ARP error: ").Append(error).Append('\n');
            return;
        }

        _ = (arp.HardwareType, arp.ProtocolType, arp.HardwareLength, arp.ProtocolLength, arp.Operation,
            arp.SenderHardwareAddress, arp.SenderProtocolAddress, arp.TargetHardwareAddress, arp.TargetProtocolAddress, arp.ToValue().ToString());
        sb.Append(arp.ToString()).Append('\n');
        annotations?.AddRange(Annotations(arp.Header, at, ArpPacket.Annotate));
        if (!arp.Payload.IsEmpty)
        {
            annotations?.Add(new HexAnnotation(at + arp.HeaderLength, arp.Payload.Length, $"Trailer ({arp.Payload.Length} bytes)"));
        }
    }

    public static void Ipv4(ReadOnlySpan<byte> bytes, int at, StringBuilder sb, List<HexAnnotation>? annotations)
    {
        if (!Ipv4Header.TryRead(bytes, out Ipv4Header.Reader ip, out WireError error))
        {
            sb.Append("IPv4 error: ").Append(error).Append('\n');
            return;
        }

        _ = (ip.Version, ip.Ihl, ip.Dscp, ip.Ecn, ip.TotalLength, ip.Identification, ip.Reserved, ip.DontFragment,
            ip.MoreFragments, ip.FragmentOffset, ip.Ttl, ip.Protocol, ip.HeaderChecksum, ip.Source, ip.Destination, ip.ToValue().ToString());
        sb.Append(ip.ToString()).Append(ip.VerifyChecksum() ? " (checksum ok)" : " (checksum BAD)").Append('\n');
        sb.Append("PseudoHeaderSum=0x").Append(ip.PseudoHeaderSum().ToString("x4")).Append('\n');
        annotations?.AddRange(Annotations(ip.Header[..Ipv4Header.FixedLength], at, Ipv4Header.Annotate));
        var options = ip.GetOptions();
        while (options.TryReadNext(out Ipv4Option o, out _))
        {
            sb.Append(o.ToString()).Append('\n');
        }

        if (options.Error.IsError)
        {
            sb.Append("Options error: ").Append(options.Error).Append('\n');
        }

        Assert.Equal(options.Error.IsError, !Ipv4OptionTests.Exercise(ip.Options));
        if (annotations is not null)
        {
            Ipv4OptionReader.Annotate(ip.Options, at + Ipv4Header.FixedLength, annotations);
        }

        at += ip.HeaderLength;
        if (ip.Protocol == IpProtocol.Icmp && ip.FragmentOffset == 0)
        {
            Icmp(ip.Payload, at, sb, annotations);
        }
        else if (!ip.Payload.IsEmpty)
        {
            annotations?.Add(new HexAnnotation(at, ip.Payload.Length, $"Payload ({ip.Payload.Length} bytes)"));
        }
    }

    public static void Icmp(ReadOnlySpan<byte> bytes, int at, StringBuilder sb, List<HexAnnotation>? annotations)
    {
        if (!IcmpHeader.TryRead(bytes, out IcmpHeader.Reader icmp, out WireError error))
        {
            sb.Append("ICMPv4 error: ").Append(error).Append('\n');
            return;
        }

        _ = (icmp.Type, icmp.Code, icmp.Checksum, icmp.RestOfHeader, icmp.ToValue().ToString());
        bool checksumOk = icmp.VerifyChecksum();
        switch (icmp.Type)
        {
            case IcmpType.EchoRequest or IcmpType.EchoReply:
                {
                    Assert.True(IcmpEchoHeader.TryRead(bytes, out IcmpEchoHeader.Reader echo, out _));
                    _ = (echo.Identifier, echo.SequenceNumber, echo.ToValue().ToString());
                    Assert.Equal(checksumOk, echo.VerifyChecksum());
                    sb.Append(echo.ToString()).Append(Verdict(checksumOk)).Append('\n');
                    annotations?.AddRange(Annotations(echo.Header, at, IcmpEchoHeader.Annotate));
                    if (!echo.Payload.IsEmpty)
                    {
                        annotations?.Add(new HexAnnotation(at + echo.HeaderLength, echo.Payload.Length, $"Echo data ({echo.Payload.Length} bytes)"));
                    }

                    return;
                }

            case IcmpType.DestinationUnreachable:
                {
                    Assert.True(IcmpDestinationUnreachableHeader.TryRead(bytes, out IcmpDestinationUnreachableHeader.Reader du, out _));
                    _ = (du.Code, du.Unused, du.NextHopMtu, du.ToValue().ToString());
                    sb.Append(du.ToString()).Append(Verdict(checksumOk)).Append('\n');
                    annotations?.AddRange(Annotations(du.Header, at, IcmpDestinationUnreachableHeader.Annotate));
                    break;
                }

            case IcmpType.TimeExceeded:
                {
                    Assert.True(IcmpTimeExceededHeader.TryRead(bytes, out IcmpTimeExceededHeader.Reader te, out _));
                    _ = (te.Code, te.Unused, te.ToValue().ToString());
                    sb.Append(te.ToString()).Append(Verdict(checksumOk)).Append('\n');
                    annotations?.AddRange(Annotations(te.Header, at, IcmpTimeExceededHeader.Annotate));
                    break;
                }

            case IcmpType.Redirect:
                {
                    Assert.True(IcmpRedirectHeader.TryRead(bytes, out IcmpRedirectHeader.Reader rd, out _));
                    _ = (rd.Code, rd.Gateway, rd.GatewayBytes.Length, rd.ToValue().ToString());
                    sb.Append(rd.ToString()).Append(Verdict(checksumOk)).Append('\n');
                    annotations?.AddRange(Annotations(rd.Header, at, IcmpRedirectHeader.Annotate));
                    break;
                }

            case IcmpType.ParameterProblem:
                {
                    Assert.True(IcmpParameterProblemHeader.TryRead(bytes, out IcmpParameterProblemHeader.Reader pp, out _));
                    _ = (pp.Code, pp.Pointer, pp.Unused, pp.ToValue().ToString());
                    sb.Append(pp.ToString()).Append(Verdict(checksumOk)).Append('\n');
                    annotations?.AddRange(Annotations(pp.Header, at, IcmpParameterProblemHeader.Annotate));
                    break;
                }

            default:
                sb.Append(icmp.ToString()).Append(Verdict(checksumOk)).Append('\n');
                annotations?.AddRange(Annotations(icmp.Header, at, IcmpHeader.Annotate));
                if (!icmp.Payload.IsEmpty)
                {
                    annotations?.Add(new HexAnnotation(at + icmp.HeaderLength, icmp.Payload.Length, $"Payload ({icmp.Payload.Length} bytes)"));
                }

                return;
        }

        Quote(icmp.Payload, at + IcmpHeader.FixedLength, sb, annotations);
    }

    public static void Quote(ReadOnlySpan<byte> payload, int at, StringBuilder sb, List<HexAnnotation>? annotations)
    {
        if (!IcmpQuotedDatagram.TryRead(payload, out IcmpQuotedDatagram quote, out WireError error))
        {
            sb.Append("Quote error: ").Append(error).Append('\n');
            annotations?.Add(new HexAnnotation(at, payload.Length, "Quote error: " + error));
            return;
        }

        _ = (quote.Options.Length, quote.OriginalPayloadLength, quote.IsTruncated);
        sb.Append("Quoted ").Append(quote.Header.ToString()).Append('\n');
        sb.Append($"Quoted payload {quote.Payload.Length} of {quote.OriginalPayloadLength} bytes\n");
        if (annotations is not null)
        {
            foreach (HexAnnotation a in Annotations(quote.HeaderBytes[..Ipv4Header.FixedLength], at, Ipv4Header.Annotate))
            {
                annotations.Add(a with { Text = "Quoted " + a.Text });
            }

            Ipv4OptionReader.Annotate(quote.Options, at + Ipv4Header.FixedLength, annotations);
            if (!quote.Payload.IsEmpty)
            {
                annotations.Add(new HexAnnotation(at + quote.HeaderBytes.Length, quote.Payload.Length, $"Quoted payload ({quote.Payload.Length} of {quote.OriginalPayloadLength} bytes)"));
            }
        }
    }

    public delegate void Annotator(ReadOnlySpan<byte> header, int baseOffset, ICollection<HexAnnotation> into);

    public static List<HexAnnotation> Annotations(ReadOnlySpan<byte> header, int at, Annotator annotate)
    {
        var list = new List<HexAnnotation>();
        annotate(header, at, list);
        return list;
    }

    /// <summary>The annotated dump snapshots hold: one summary line per layer, then the bytes.</summary>
    public static string Dump(ReadOnlySpan<byte> frame)
    {
        var annotations = new List<HexAnnotation>();
        string summary = Frame(frame, annotations);
        return summary + "\n" + HexDump.Annotated(frame, annotations);
    }

    /// <summary>The same for a bare IPv4 datagram (no Ethernet header).</summary>
    public static string DumpIpv4(ReadOnlySpan<byte> datagram)
    {
        var annotations = new List<HexAnnotation>();
        var sb = new StringBuilder();
        Ipv4(datagram, 0, sb, annotations);
        return sb + "\n" + HexDump.Annotated(datagram, annotations);
    }

    /// <summary>The same for a bare ICMP message.</summary>
    public static string DumpIcmp(ReadOnlySpan<byte> message)
    {
        var annotations = new List<HexAnnotation>();
        var sb = new StringBuilder();
        Icmp(message, 0, sb, annotations);
        return sb + "\n" + HexDump.Annotated(message, annotations);
    }

    /// <summary>The same for a bare ARP packet.</summary>
    public static string DumpArp(ReadOnlySpan<byte> packet)
    {
        var annotations = new List<HexAnnotation>();
        var sb = new StringBuilder();
        Arp(packet, 0, sb, annotations);
        return sb + "\n" + HexDump.Annotated(packet, annotations);
    }

    private static string Verdict(bool ok) => ok ? " (checksum ok)" : " (checksum BAD)";
}
