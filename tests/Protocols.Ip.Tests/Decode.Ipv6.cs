using System.Text;
using Protocols.Wire;

namespace Protocols.Ip.Tests;

/// <summary>IPv6, its extension headers, ICMPv6, neighbour discovery and MLDv2 through every codec, every getter touched.</summary>
internal static partial class Decode
{
    public static void Ipv6(ReadOnlySpan<byte> bytes, int at, StringBuilder sb, List<HexAnnotation>? annotations)
    {
        if (!Ipv6Header.TryRead(bytes, out Ipv6Header.Reader ip, out WireError error))
        {
            sb.Append("IPv6 error: ").Append(error).Append('\n');
            return;
        }

        _ = (ip.Version, ip.TrafficClass, ip.FlowLabel, ip.PayloadLength, ip.NextHeader, ip.HopLimit, ip.Source, ip.Destination,
            ip.SourceBytes.Length, ip.DestinationBytes.Length, ip.ToValue().ToString());
        sb.Append(ip.ToString()).Append('\n');
        annotations?.AddRange(Annotations(ip.Header, at, Ipv6Header.Annotate));
        Ipv6ExtensionChain chain = ip.GetExtensionChain();
        sb.Append("Chain ").Append(chain.Status).Append(" next=").Append(chain.NextHeader).Append(" at=").Append(chain.PayloadOffset)
            .Append(" headers=").Append(chain.HeaderCount);
        if (chain.Status == Ipv6ChainStatus.Fragment)
        {
            sb.Append($" fragment offset={chain.FragmentOffset} more={chain.MoreFragments} id=0x{chain.Identification:x8}");
        }

        if (chain.Status is Ipv6ChainStatus.Discard or Ipv6ChainStatus.ParameterProblem)
        {
            sb.Append(" problem=").Append(chain.Problem).Append(" code=").Append(chain.ParameterProblemCode).Append(" pointer=").Append(chain.Pointer)
                .Append(" (").Append(chain.Error).Append(')');
        }

        sb.Append('\n');
        ReadOnlySpan<byte> packet = ip.Bytes;
        IpProtocol next = ip.NextHeader;
        int offset = Ipv6Header.FixedLength;
        for (int i = 0; i < 16; i++)
        {
            ReadOnlySpan<byte> rest = packet[offset..];
            if (next is IpProtocol.HopByHop or IpProtocol.Ipv6DestinationOptions && Ipv6OptionsHeader.TryRead(rest, out Ipv6OptionsHeader.Reader o))
            {
                _ = (o.NextHeader, o.HdrExtLen, o.ToValue().ToString());
                sb.Append(next == IpProtocol.HopByHop ? "HopByHop " : "DestinationOptions ").Append(o.ToString()).Append('\n');
                annotations?.AddRange(Annotations(o.Header[..Ipv6OptionsHeader.FixedLength], at + offset, Ipv6OptionsHeader.Annotate));
                if (annotations is not null)
                {
                    Ipv6OptionReader.Annotate(o.Options, at + offset + Ipv6OptionReader.OptionsOffset, annotations);
                }

                foreach (Ipv6Option option in new Ipv6OptionReader(o.Options))
                {
                    _ = (option.Type, option.Data.Length, option.UnknownAction, option.MayChangeEnRoute, option.IsPadding);
                    sb.Append("  ").Append(option.ToString()).Append('\n');
                }

                (next, offset) = (o.NextHeader, offset + o.HeaderLength);
            }
            else if (next == IpProtocol.Ipv6Routing && Ipv6RoutingHeader.TryRead(rest, out Ipv6RoutingHeader.Reader r))
            {
                _ = (r.NextHeader, r.HdrExtLen, r.RoutingType, r.SegmentsLeft, r.ToValue().ToString());
                sb.Append(r.ToString()).Append('\n');
                annotations?.AddRange(Annotations(r.Header[..Ipv6RoutingHeader.FixedLength], at + offset, Ipv6RoutingHeader.Annotate));
                if (!r.Options.IsEmpty)
                {
                    annotations?.Add(new HexAnnotation(at + offset + Ipv6RoutingHeader.FixedLength, r.Options.Length, $"Type-specific data ({r.Options.Length} bytes)"));
                }

                (next, offset) = (r.NextHeader, offset + r.HeaderLength);
            }
            else if (next == IpProtocol.Ipv6Fragment && Ipv6FragmentHeader.TryRead(rest, out Ipv6FragmentHeader.Reader f))
            {
                _ = (f.NextHeader, f.Reserved, f.FragmentOffset, f.Res, f.MoreFragments, f.Identification, f.ToValue().ToString());
                sb.Append(f.ToString()).Append('\n');
                annotations?.AddRange(Annotations(f.Header, at + offset, Ipv6FragmentHeader.Annotate));
                (next, offset) = (f.NextHeader, offset + Ipv6FragmentHeader.FixedLength);
                if (f.FragmentOffset != 0)
                {
                    annotations?.Add(new HexAnnotation(at + offset, packet.Length - offset, $"Fragment data ({packet.Length - offset} bytes)"));
                    return;
                }
            }
            else
            {
                break;
            }
        }

        ReadOnlySpan<byte> upper = packet[offset..];
        if (next == IpProtocol.Icmpv6)
        {
            Icmpv6(upper, at + offset, ip.PseudoHeaderSum(IpProtocol.Icmpv6, upper.Length), sb, annotations);
        }
        else if (!upper.IsEmpty)
        {
            annotations?.Add(new HexAnnotation(at + offset, upper.Length, $"Payload ({upper.Length} bytes)"));
        }
    }

    public static void Icmpv6(ReadOnlySpan<byte> bytes, int at, uint pseudo, StringBuilder sb, List<HexAnnotation>? annotations)
    {
        if (!Icmpv6Header.TryRead(bytes, out Icmpv6Header.Reader icmp, out WireError error))
        {
            sb.Append("ICMPv6 error: ").Append(error).Append('\n');
            return;
        }

        _ = (icmp.Type, icmp.Code, icmp.Checksum, icmp.RestOfHeader, icmp.ToValue().ToString());
        bool ok = icmp.VerifyChecksum(pseudo);
        string verdict = Verdict(ok);
        ReadOnlySpan<byte> header;
        int optionsAt = -1;
        bool quotes = false;
        switch (icmp.Type)
        {
            case Icmpv6Type.EchoRequest or Icmpv6Type.EchoReply:
                {
                    Assert.True(Icmpv6EchoHeader.TryRead(bytes, out Icmpv6EchoHeader.Reader echo, out _));
                    _ = (echo.Identifier, echo.SequenceNumber, echo.ToValue().ToString());
                    Assert.Equal(ok, echo.VerifyChecksum(pseudo));
                    sb.Append(echo.ToString()).Append(verdict).Append('\n');
                    annotations?.AddRange(Annotations(echo.Header, at, Icmpv6EchoHeader.Annotate));
                    if (!echo.Payload.IsEmpty)
                    {
                        annotations?.Add(new HexAnnotation(at + echo.HeaderLength, echo.Payload.Length, $"Echo data ({echo.Payload.Length} bytes)"));
                    }

                    return;
                }

            case Icmpv6Type.DestinationUnreachable when Icmpv6DestinationUnreachableHeader.TryRead(bytes, out Icmpv6DestinationUnreachableHeader.Reader du):
                _ = (du.Code, du.Unused, du.ToValue().ToString());
                sb.Append(du.ToString()).Append(verdict).Append('\n');
                annotations?.AddRange(Annotations(du.Header, at, Icmpv6DestinationUnreachableHeader.Annotate));
                quotes = true;
                break;
            case Icmpv6Type.PacketTooBig when Icmpv6PacketTooBigHeader.TryRead(bytes, out Icmpv6PacketTooBigHeader.Reader ptb):
                _ = (ptb.Code, ptb.Mtu, ptb.ToValue().ToString());
                sb.Append(ptb.ToString()).Append(verdict).Append('\n');
                annotations?.AddRange(Annotations(ptb.Header, at, Icmpv6PacketTooBigHeader.Annotate));
                quotes = true;
                break;
            case Icmpv6Type.TimeExceeded when Icmpv6TimeExceededHeader.TryRead(bytes, out Icmpv6TimeExceededHeader.Reader te):
                _ = (te.Code, te.Unused, te.ToValue().ToString());
                sb.Append(te.ToString()).Append(verdict).Append('\n');
                annotations?.AddRange(Annotations(te.Header, at, Icmpv6TimeExceededHeader.Annotate));
                quotes = true;
                break;
            case Icmpv6Type.ParameterProblem when Icmpv6ParameterProblemHeader.TryRead(bytes, out Icmpv6ParameterProblemHeader.Reader pp):
                _ = (pp.Code, pp.Pointer, pp.ToValue().ToString());
                sb.Append(pp.ToString()).Append(verdict).Append('\n');
                annotations?.AddRange(Annotations(pp.Header, at, Icmpv6ParameterProblemHeader.Annotate));
                quotes = true;
                break;
            case Icmpv6Type.RouterSolicitation when NdpRouterSolicitationHeader.TryRead(bytes, out NdpRouterSolicitationHeader.Reader rs):
                _ = (rs.Reserved, rs.ToValue().ToString());
                sb.Append(rs.ToString()).Append(verdict).Append('\n');
                annotations?.AddRange(Annotations(rs.Header, at, NdpRouterSolicitationHeader.Annotate));
                optionsAt = rs.HeaderLength;
                break;
            case Icmpv6Type.RouterAdvertisement when NdpRouterAdvertisementHeader.TryRead(bytes, out NdpRouterAdvertisementHeader.Reader ra):
                _ = (ra.CurHopLimit, ra.ManagedAddressConfiguration, ra.OtherConfiguration, ra.Flags, ra.RouterLifetime, ra.ReachableTime, ra.RetransTimer, ra.ToValue().ToString());
                sb.Append(ra.ToString()).Append(verdict).Append('\n');
                annotations?.AddRange(Annotations(ra.Header, at, NdpRouterAdvertisementHeader.Annotate));
                optionsAt = ra.HeaderLength;
                break;
            case Icmpv6Type.NeighborSolicitation when NdpNeighborSolicitationHeader.TryRead(bytes, out NdpNeighborSolicitationHeader.Reader ns):
                _ = (ns.Reserved, ns.TargetAddress, ns.TargetAddressBytes.Length, ns.ToValue().ToString());
                sb.Append(ns.ToString()).Append(verdict).Append('\n');
                annotations?.AddRange(Annotations(ns.Header, at, NdpNeighborSolicitationHeader.Annotate));
                optionsAt = ns.HeaderLength;
                break;
            case Icmpv6Type.NeighborAdvertisement when NdpNeighborAdvertisementHeader.TryRead(bytes, out NdpNeighborAdvertisementHeader.Reader na):
                _ = (na.Router, na.Solicited, na.Override, na.Reserved, na.TargetAddress, na.ToValue().ToString());
                sb.Append(na.ToString()).Append(verdict).Append('\n');
                annotations?.AddRange(Annotations(na.Header, at, NdpNeighborAdvertisementHeader.Annotate));
                optionsAt = na.HeaderLength;
                break;
            case Icmpv6Type.Redirect when NdpRedirectHeader.TryRead(bytes, out NdpRedirectHeader.Reader rd):
                _ = (rd.Reserved, rd.TargetAddress, rd.DestinationAddress, rd.ToValue().ToString());
                sb.Append(rd.ToString()).Append(verdict).Append('\n');
                annotations?.AddRange(Annotations(rd.Header, at, NdpRedirectHeader.Annotate));
                optionsAt = rd.HeaderLength;
                break;
            case Icmpv6Type.MulticastListenerReportV2 when Mldv2ReportHeader.TryRead(bytes, out Mldv2ReportHeader.Reader report):
                {
                    _ = (report.Reserved, report.NumberOfRecords, report.ToValue().ToString());
                    sb.Append(report.ToString()).Append(verdict).Append('\n');
                    annotations?.AddRange(Annotations(report.Header, at, Mldv2ReportHeader.Annotate));
                    var records = new MldAddressRecordReader(report);
                    int recordAt = at + Mldv2ReportHeader.FixedLength;
                    while (records.TryReadNext(out MldAddressRecordHeader.Reader record, out ReadOnlySpan<byte> sources, out _))
                    {
                        _ = (record.RecordType, record.AuxDataLen, record.NumberOfSources, record.MulticastAddress, record.ToValue().ToString());
                        sb.Append("  ").Append(record.ToString()).Append('\n');
                        annotations?.AddRange(Annotations(record.Header, recordAt, MldAddressRecordHeader.Annotate));
                        recordAt += record.HeaderLength + sources.Length + (record.AuxDataLen * 4);
                    }

                    if (records.Error.IsError)
                    {
                        sb.Append("  Records error: ").Append(records.Error).Append('\n');
                    }

                    return;
                }

            case Icmpv6Type.MulticastListenerQuery when Mldv2QueryHeader.TryRead(bytes, out Mldv2QueryHeader.Reader query):
                _ = (query.MaximumResponseCode, query.Reserved, query.MulticastAddress, query.Flags, query.SuppressRouterProcessing, query.Qrv, query.Qqic, query.NumberOfSources, query.ToValue().ToString());
                sb.Append(query.ToString()).Append(verdict).Append('\n');
                annotations?.AddRange(Annotations(query.Header, at, Mldv2QueryHeader.Annotate));
                return;
            default:
                sb.Append(icmp.ToString()).Append(verdict).Append('\n');
                annotations?.AddRange(Annotations(icmp.Header, at, Icmpv6Header.Annotate));
                if (!icmp.Payload.IsEmpty)
                {
                    annotations?.Add(new HexAnnotation(at + icmp.HeaderLength, icmp.Payload.Length, $"Payload ({icmp.Payload.Length} bytes)"));
                }

                return;
        }

        if (quotes)
        {
            header = icmp.Payload;
            if (!Icmpv6QuotedPacket.TryRead(header, out Icmpv6QuotedPacket quote, out WireError quoteError))
            {
                sb.Append("Quote error: ").Append(quoteError).Append('\n');
                annotations?.Add(new HexAnnotation(at + Icmpv6Header.FixedLength, header.Length, "Quote error: " + quoteError));
                return;
            }

            sb.Append("Quoted ").Append(quote.Header.ToString()).Append('\n');
            sb.Append(quote.HasUpperLayer ? $"Quoted {quote.UpperLayer}: {quote.UpperLayerBytes.Length} bytes\n" : "Quoted upper layer: none\n");
            if (annotations is not null)
            {
                foreach (HexAnnotation a in Annotations(quote.Header.Header, at + Icmpv6Header.FixedLength, Ipv6Header.Annotate))
                {
                    annotations.Add(a with { Text = "Quoted " + a.Text });
                }

                int rest = header.Length - Ipv6Header.FixedLength;
                if (rest > 0)
                {
                    annotations.Add(new HexAnnotation(at + Icmpv6Header.FixedLength + Ipv6Header.FixedLength, rest, $"Quoted payload ({rest} bytes)"));
                }
            }

            return;
        }

        ReadOnlySpan<byte> options = bytes[optionsAt..];
        var reader = new NdpOptionReader(options, optionsAt);
        while (reader.TryReadNext(out NdpOption option, out _))
        {
            _ = (option.Type, option.Length, option.Offset);
            sb.Append("  ").Append(option.ToString()).Append('\n');
        }

        if (reader.Error.IsError)
        {
            sb.Append("  Options error: ").Append(reader.Error).Append('\n');
        }

        if (annotations is not null)
        {
            NdpOptionReader.Annotate(options, at + optionsAt, annotations);
        }
    }

    /// <summary>An annotated dump of a bare IPv6 packet.</summary>
    public static string DumpIpv6(ReadOnlySpan<byte> packet)
    {
        var annotations = new List<HexAnnotation>();
        var sb = new StringBuilder();
        Ipv6(packet, 0, sb, annotations);
        return sb + "\n" + HexDump.Annotated(packet, annotations);
    }
}
