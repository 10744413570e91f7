using System.Globalization;
using System.Text;
using Protocols.Wire;

namespace Protocols.Ip.Devices;

/// <summary>
/// Describes a transport segment for a trace line: what follows <c>IP a.b.c.d.port &gt; e.f.g.h.port: </c>,
/// e.g. <c>Flags [S], seq 1, win 65535, length 0</c>. Return null to fall back to the default description.
/// </summary>
/// <param name="segment">The IP payload: transport header and data (only the first part for a first fragment).</param>
public delegate string? TransportFormatter(ReadOnlySpan<byte> segment);

/// <summary>
/// One-line, tcpdump-style (<c>tcpdump -n</c>) descriptions of frames: Ethernet, ARP, IPv4 and
/// IPv6 with fragments, ICMP, ICMPv6 with neighbour discovery and MLD, and the ports of transports
/// that have them. Transports that live above Ip (Udp, Tcp) register a
/// <see cref="TransportFormatter"/> for their own lines with the formatter of the stack they run on
/// (<see cref="NetworkStack.PacketFormatter"/>); Ip itself decodes only what every transport
/// with ports shares (<see cref="TransportPorts"/>), so without one a segment reads <c>udp 20</c>
/// (protocol and IP payload length). Every header is read by its generated reader.
/// </summary>
/// <remarks>Never throws on malformed frames: they are described as such.</remarks>
public sealed class PacketFormatter
{
    // Copy-on-write, indexed by protocol number, so formatting reads it without a lock.
    private volatile TransportFormatter?[] _transports = new TransportFormatter?[256];

    /// <summary>Start Ethernet frames with <c>src &gt; dst, ethertype IPv4 (0x0800), length N: </c> (tcpdump -e).</summary>
    public bool ShowLinkLayer { get; init; }

    /// <summary>Registers (or replaces) the description of one transport protocol's segments.</summary>
    /// <param name="protocol">The IP protocol number.</param>
    /// <param name="formatter">The description, or null to remove it.</param>
    public void Register(IpProtocol protocol, TransportFormatter? formatter)
    {
        while (true)
        {
            TransportFormatter?[] current = _transports;
            TransportFormatter?[] next = (TransportFormatter?[])current.Clone();
            next[(byte)protocol] = formatter;
            if (Interlocked.CompareExchange(ref _transports, next, current) == current)
            {
                return;
            }
        }
    }

    /// <summary>Describes a frame of a device of <paramref name="medium"/>.</summary>
    /// <param name="frame">An Ethernet frame or a bare IP packet.</param>
    /// <param name="medium">Which.</param>
    public string Format(ReadOnlySpan<byte> frame, DeviceMedium medium)
    {
        var text = new StringBuilder(96);
        if (medium == DeviceMedium.Ethernet)
        {
            AppendEthernet(text, frame);
        }
        else
        {
            AppendIp(text, frame);
        }

        return text.ToString();
    }

    /// <summary>Writes the time of day of <paramref name="time"/> as tcpdump does: <c>HH:mm:ss.ffffff</c>.</summary>
    /// <param name="time">The time (its UTC time of day is written).</param>
    public static string FormatTime(DateTimeOffset time) =>
        time.UtcDateTime.ToString("HH:mm:ss.ffffff", CultureInfo.InvariantCulture);

    private void AppendEthernet(StringBuilder text, ReadOnlySpan<byte> frame)
    {
        if (!EthernetHeader.TryRead(frame, out EthernetHeader.Reader ethernet, out _))
        {
            text.Append(CultureInfo.InvariantCulture, $"[|ether] length {frame.Length}");
            return;
        }

        EtherType type = ethernet.EtherType;
        ReadOnlySpan<byte> payload = ethernet.Payload;
        if (ShowLinkLayer)
        {
            string name = type switch
            {
                EtherType.Ipv4 => "IPv4",
                EtherType.Arp => "ARP",
                EtherType.Ipv6 => "IPv6",
                EtherType.Vlan => "802.1Q",
                _ => "Unknown",
            };
            text.Append(CultureInfo.InvariantCulture, $"{ethernet.Source.ToString()} > {ethernet.Destination.ToString()}, ethertype {name} (0x{(ushort)type:x4}), length {frame.Length}: ");
        }

        switch (type)
        {
            case EtherType.Ipv4:
                AppendIp(text, payload);
                break;
            case EtherType.Arp:
                AppendArp(text, payload);
                break;
            case EtherType.Ipv6:
                AppendIpv6(text, payload);
                break;
            default:
                text.Append(CultureInfo.InvariantCulture, $"ethertype 0x{(ushort)type:x4}, length {frame.Length}");
                break;
        }
    }

    // RFC 826.
    private static void AppendArp(StringBuilder text, ReadOnlySpan<byte> packet)
    {
        if (!ArpPacket.TryRead(packet, out ArpPacket.Reader arp, out _))
        {
            text.Append(CultureInfo.InvariantCulture, $"ARP, malformed, length {packet.Length}");
            return;
        }

        switch (arp.Operation)
        {
            case ArpOperation.Request:
                text.Append(CultureInfo.InvariantCulture, $"ARP, Request who-has {arp.TargetProtocolAddress.ToString()}");
                if (arp.TargetHardwareAddressBytes.ContainsAnyExcept((byte)0))
                {
                    text.Append(CultureInfo.InvariantCulture, $" ({arp.TargetHardwareAddress.ToString()})");
                }

                text.Append(CultureInfo.InvariantCulture, $" tell {arp.SenderProtocolAddress.ToString()}");
                break;
            case ArpOperation.Reply:
                text.Append(CultureInfo.InvariantCulture, $"ARP, Reply {arp.SenderProtocolAddress.ToString()} is-at {arp.SenderHardwareAddress.ToString()}");
                break;
            default:
                text.Append(CultureInfo.InvariantCulture, $"ARP, op {(ushort)arp.Operation}");
                break;
        }

        text.Append(CultureInfo.InvariantCulture, $", length {packet.Length}");
    }

    private void AppendIp(StringBuilder text, ReadOnlySpan<byte> packet)
    {
        if (packet.IsEmpty)
        {
            text.Append("[|ip] length 0");
            return;
        }

        if (!Ipv4Header.TryRead(packet, out Ipv4Header.Reader ip, out WireError error))
        {
            // The version is the reader's first field check: an IPv6 packet fails it with version 6.
            if (error is { Kind: WireErrorKind.InvalidValue, Field: nameof(Ipv4Header.Version), Actual: 6 })
            {
                AppendIpv6(text, packet);
                return;
            }

            text.Append(CultureInfo.InvariantCulture, $"IP [invalid: {error.ToString()}], length {packet.Length}");
            return;
        }

        ReadOnlySpan<byte> payload = ip.Payload;
        IpProtocol protocol = ip.Protocol;
        int fragmentOffset = ip.FragmentOffset * 8; // RFC 791 3.1: in units of 8 octets
        bool fragment = ip.MoreFragments || fragmentOffset != 0;
        bool hasPorts = protocol is IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Sctp or IpProtocol.UdpLite;

        text.Append("IP ").Append(ip.Source.ToString());
        if (fragmentOffset == 0 && hasPorts && TransportPorts.TryRead(payload, out TransportPorts.Reader ports))
        {
            text.Append(CultureInfo.InvariantCulture, $".{ports.SourcePort} > {ip.Destination.ToString()}.{ports.DestinationPort}: ");
        }
        else
        {
            text.Append(" > ").Append(ip.Destination.ToString()).Append(": ");
        }

        if (fragmentOffset != 0)
        {
            // A later fragment: no transport header to read.
            text.Append(ProtocolName(protocol));
        }
        else if (_transports[(byte)protocol]?.Invoke(payload) is string described)
        {
            text.Append(described);
        }
        else
        {
            if (protocol == IpProtocol.Icmp)
            {
                AppendIcmp(text, payload);
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"{ProtocolName(protocol)} {payload.Length}");
            }
        }

        if (fragment)
        {
            // The classic tcpdump fragment note: (frag id:size@offset[+]).
            text.Append(CultureInfo.InvariantCulture, $" (frag {ip.Identification}:{payload.Length}@{fragmentOffset}{(ip.MoreFragments ? "+" : "")})");
        }
    }

    private static string ProtocolName(IpProtocol protocol) => protocol switch
    {
        IpProtocol.Icmp => "icmp",
        IpProtocol.Tcp => "tcp",
        IpProtocol.Udp => "udp",
        _ => string.Create(CultureInfo.InvariantCulture, $"ip-proto-{(byte)protocol}"),
    };

    // RFC 792 (types), RFC 1191 4 (next-hop MTU).
    private static void AppendIcmp(StringBuilder text, ReadOnlySpan<byte> message)
    {
        if (!IcmpHeader.TryRead(message, out IcmpHeader.Reader icmp, out _))
        {
            text.Append(CultureInfo.InvariantCulture, $"ICMP [|icmp], length {message.Length}");
            return;
        }

        text.Append("ICMP ");
        byte code = icmp.Code;
        ReadOnlySpan<byte> body = icmp.Payload;
        switch (icmp.Type)
        {
            case IcmpType.EchoRequest:
            case IcmpType.EchoReply:
                // Same 8 bytes as the common header, which has been read: this cannot fail.
                IcmpEchoHeader.TryRead(message, out IcmpEchoHeader.Reader echo, out _);
                text.Append(CultureInfo.InvariantCulture, $"echo {(icmp.Type == IcmpType.EchoRequest ? "request" : "reply")}, id {echo.Identifier}, seq {echo.SequenceNumber}");
                break;
            case IcmpType.DestinationUnreachable:
                AppendUnreachable(text, code, IcmpDestinationUnreachableHeader.TryRead(message, out IcmpDestinationUnreachableHeader.Reader unreachable) ? unreachable.NextHopMtu : (ushort)0, body);
                break;
            case IcmpType.TimeExceeded:
                text.Append((IcmpTimeExceededCode)code switch
                {
                    IcmpTimeExceededCode.TtlExceeded => "time exceeded in-transit",
                    IcmpTimeExceededCode.FragmentReassemblyTimeExceeded => "ip reassembly time exceeded",
                    _ => string.Create(CultureInfo.InvariantCulture, $"time exceeded-#{code}"),
                });
                break;
            case IcmpType.Redirect:
                string target = IcmpQuotedDatagram.TryRead(body, out IcmpQuotedDatagram redirected, out _) ? redirected.Header.Destination.ToString() : "?";
                string gateway = IcmpRedirectHeader.TryRead(message, out IcmpRedirectHeader.Reader redirect) ? redirect.Gateway.ToString() : "?";
                text.Append(CultureInfo.InvariantCulture, $"redirect {target} to host {gateway}");
                break;
            case IcmpType.ParameterProblem:
                string octet = IcmpParameterProblemHeader.TryRead(message, out IcmpParameterProblemHeader.Reader problem) ? problem.Pointer.ToString(CultureInfo.InvariantCulture) : "?";
                text.Append(CultureInfo.InvariantCulture, $"parameter problem - octet {octet}");
                break;
            case IcmpType.SourceQuench:
                text.Append("source quench");
                break;
            case IcmpType.TimestampRequest:
                text.Append("time stamp request");
                break;
            case IcmpType.TimestampReply:
                text.Append("time stamp reply");
                break;
            default:
                text.Append(CultureInfo.InvariantCulture, $"type-#{(byte)icmp.Type}");
                break;
        }

        text.Append(CultureInfo.InvariantCulture, $", length {message.Length}");
    }

    private static void AppendUnreachable(StringBuilder text, byte code, ushort nextHopMtu, ReadOnlySpan<byte> quoted)
    {
        if (!IcmpQuotedDatagram.TryRead(quoted, out IcmpQuotedDatagram quote, out _))
        {
            text.Append(CultureInfo.InvariantCulture, $"unreachable - code {code} [|quote]");
            return;
        }

        string destination = quote.Header.Destination.ToString();
        IpProtocol protocol = quote.Header.Protocol;
        switch ((IcmpUnreachableCode)code)
        {
            case IcmpUnreachableCode.NetUnreachable:
                text.Append(CultureInfo.InvariantCulture, $"net {destination} unreachable");
                break;
            case IcmpUnreachableCode.HostUnreachable:
                text.Append(CultureInfo.InvariantCulture, $"host {destination} unreachable");
                break;
            case IcmpUnreachableCode.ProtocolUnreachable:
                text.Append(CultureInfo.InvariantCulture, $"{destination} protocol {(byte)protocol} unreachable");
                break;
            case IcmpUnreachableCode.PortUnreachable:
                if (TransportPorts.TryRead(quote.Payload, out TransportPorts.Reader ports))
                {
                    ushort port = ports.DestinationPort;
                    string name = protocol switch
                    {
                        IpProtocol.Udp => "udp port",
                        IpProtocol.Tcp => "tcp port",
                        _ => string.Create(CultureInfo.InvariantCulture, $"protocol {(byte)protocol} port"),
                    };
                    text.Append(CultureInfo.InvariantCulture, $"{destination} {name} {port} unreachable");
                }
                else
                {
                    text.Append(CultureInfo.InvariantCulture, $"{destination} port unreachable");
                }

                break;
            case IcmpUnreachableCode.FragmentationNeeded:
                text.Append(CultureInfo.InvariantCulture, $"{destination} unreachable - need to frag");
                if (nextHopMtu != 0)
                {
                    text.Append(CultureInfo.InvariantCulture, $" (mtu {nextHopMtu})");
                }

                break;
            case IcmpUnreachableCode.SourceRouteFailed:
                text.Append(CultureInfo.InvariantCulture, $"{destination} unreachable - source route failed");
                break;
            case IcmpUnreachableCode.CommunicationAdministrativelyProhibited:
                text.Append(CultureInfo.InvariantCulture, $"host {destination} unreachable - admin prohibited filter");
                break;
            default:
                text.Append(CultureInfo.InvariantCulture, $"{destination} unreachable - code {code}");
                break;
        }
    }

    // RFC 8200: the fixed header, then the extension chain (walked with the default limits) to the upper layer.
    private void AppendIpv6(StringBuilder text, ReadOnlySpan<byte> packet)
    {
        if (!Ipv6Header.TryRead(packet, out Ipv6Header.Reader ip, out WireError error))
        {
            text.Append(CultureInfo.InvariantCulture, $"IP6 [invalid: {error.ToString()}], length {packet.Length}");
            return;
        }

        ReadOnlySpan<byte> bytes = ip.Bytes;
        Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(bytes);
        text.Append("IP6 ").Append(ip.Source.ToString());
        if (chain.Status is Ipv6ChainStatus.Discard or Ipv6ChainStatus.ParameterProblem)
        {
            text.Append(CultureInfo.InvariantCulture, $" > {ip.Destination.ToString()}: [bad extension headers: {chain.Problem.ToString()}], length {ip.PayloadLength}");
            return;
        }

        if (chain.Status == Ipv6ChainStatus.NoNextHeader)
        {
            text.Append(CultureInfo.InvariantCulture, $" > {ip.Destination.ToString()}: no next header, length {ip.PayloadLength}");
            return;
        }

        bool fragment = chain.Status == Ipv6ChainStatus.Fragment;
        int fragmentOffset = fragment ? chain.FragmentOffset * 8 : 0;
        IpProtocol protocol = chain.NextHeader;
        ReadOnlySpan<byte> payload = bytes[chain.PayloadOffset..];
        bool hasPorts = protocol is IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Sctp or IpProtocol.UdpLite;
        if (fragmentOffset == 0 && hasPorts && TransportPorts.TryRead(payload, out TransportPorts.Reader ports))
        {
            text.Append(CultureInfo.InvariantCulture, $".{ports.SourcePort} > {ip.Destination.ToString()}.{ports.DestinationPort}: ");
        }
        else
        {
            text.Append(" > ").Append(ip.Destination.ToString()).Append(": ");
        }

        if (fragmentOffset != 0)
        {
            text.Append(protocol == IpProtocol.Icmpv6 ? "icmp6" : ProtocolName(protocol));
        }
        else if (_transports[(byte)protocol]?.Invoke(payload) is string described)
        {
            text.Append(described);
        }
        else
        {
            if (protocol == IpProtocol.Icmpv6)
            {
                AppendIcmpv6(text, payload);
            }
            else
            {
                text.Append(CultureInfo.InvariantCulture, $"{ProtocolName(protocol)} {payload.Length}");
            }
        }

        if (fragment)
        {
            text.Append(CultureInfo.InvariantCulture, $" (frag {chain.Identification}:{payload.Length}@{fragmentOffset}{(chain.MoreFragments ? "+" : "")})");
        }
    }

    // RFC 4443 (errors and echo), RFC 4861 (neighbour discovery), RFC 3810 (MLDv2), in tcpdump's words.
    private static void AppendIcmpv6(StringBuilder text, ReadOnlySpan<byte> message)
    {
        if (!Icmpv6Header.TryRead(message, out Icmpv6Header.Reader icmp, out _))
        {
            text.Append(CultureInfo.InvariantCulture, $"ICMP6 [|icmp6], length {message.Length}");
            return;
        }

        text.Append("ICMP6, ");
        byte code = icmp.Code;
        ReadOnlySpan<byte> body = icmp.Payload;
        switch (icmp.Type)
        {
            case Icmpv6Type.EchoRequest:
            case Icmpv6Type.EchoReply:
                // Same 8 bytes as the common header, which has been read: this cannot fail.
                Icmpv6EchoHeader.TryRead(message, out Icmpv6EchoHeader.Reader echo);
                text.Append(CultureInfo.InvariantCulture, $"echo {(icmp.Type == Icmpv6Type.EchoRequest ? "request" : "reply")}, id {echo.Identifier}, seq {echo.SequenceNumber}");
                break;
            case Icmpv6Type.DestinationUnreachable:
                AppendUnreachable6(text, code, body);
                break;
            case Icmpv6Type.PacketTooBig:
                string mtu = Icmpv6PacketTooBigHeader.TryRead(message, out Icmpv6PacketTooBigHeader.Reader tooBig) ? tooBig.Mtu.ToString(CultureInfo.InvariantCulture) : "?";
                text.Append(CultureInfo.InvariantCulture, $"packet too big, mtu {mtu}");
                break;
            case Icmpv6Type.TimeExceeded:
                text.Append((Icmpv6TimeExceededCode)code switch
                {
                    Icmpv6TimeExceededCode.HopLimitExceeded => "time exceeded in-transit",
                    Icmpv6TimeExceededCode.FragmentReassemblyTimeExceeded => "ip6 reassembly time exceeded",
                    _ => string.Create(CultureInfo.InvariantCulture, $"time exceeded-#{code}"),
                });
                break;
            case Icmpv6Type.ParameterProblem:
                string what = (Icmpv6ParameterProblemCode)code switch
                {
                    Icmpv6ParameterProblemCode.ErroneousHeaderField => "erroneous header field",
                    Icmpv6ParameterProblemCode.UnrecognizedNextHeader => "unrecognized next header",
                    Icmpv6ParameterProblemCode.UnrecognizedOption => "unrecognized option",
                    Icmpv6ParameterProblemCode.IncompleteHeaderChain => "incomplete header chain",
                    _ => string.Create(CultureInfo.InvariantCulture, $"code-#{code}"),
                };
                string octet = Icmpv6ParameterProblemHeader.TryRead(message, out Icmpv6ParameterProblemHeader.Reader problem) ? problem.Pointer.ToString(CultureInfo.InvariantCulture) : "?";
                text.Append(CultureInfo.InvariantCulture, $"parameter problem, {what} - octet {octet}");
                break;
            case Icmpv6Type.RouterSolicitation:
                text.Append("router solicitation");
                break;
            case Icmpv6Type.RouterAdvertisement:
                text.Append(NdpRouterAdvertisementHeader.TryRead(message, out NdpRouterAdvertisementHeader.Reader advertisement)
                    ? string.Create(CultureInfo.InvariantCulture, $"router advertisement, lifetime {advertisement.RouterLifetime}s")
                    : "router advertisement");
                break;
            case Icmpv6Type.NeighborSolicitation:
                string sought = NdpNeighborSolicitationHeader.TryRead(message, out NdpNeighborSolicitationHeader.Reader solicitation) ? solicitation.TargetAddress.ToString() : "?";
                text.Append(CultureInfo.InvariantCulture, $"neighbor solicitation, who has {sought}");
                break;
            case Icmpv6Type.NeighborAdvertisement:
                string advertised = NdpNeighborAdvertisementHeader.TryRead(message, out NdpNeighborAdvertisementHeader.Reader neighbor) ? neighbor.TargetAddress.ToString() : "?";
                text.Append(CultureInfo.InvariantCulture, $"neighbor advertisement, tgt is {advertised}");
                break;
            case Icmpv6Type.Redirect:
                text.Append(NdpRedirectHeader.TryRead(message, out NdpRedirectHeader.Reader redirect)
                    ? string.Create(CultureInfo.InvariantCulture, $"redirect, {redirect.DestinationAddress.ToString()} to {redirect.TargetAddress.ToString()}")
                    : "redirect, ? to ?");
                break;
            case Icmpv6Type.MulticastListenerQuery:
                text.Append(message.Length > 24 ? "multicast listener query v2" : "multicast listener query");
                break;
            case Icmpv6Type.MulticastListenerReport:
                text.Append("multicast listener report");
                break;
            case Icmpv6Type.MulticastListenerDone:
                text.Append("multicast listener done");
                break;
            case Icmpv6Type.MulticastListenerReportV2:
                string records = Mldv2ReportHeader.TryRead(message, out Mldv2ReportHeader.Reader report) ? report.NumberOfRecords.ToString(CultureInfo.InvariantCulture) : "?";
                text.Append(CultureInfo.InvariantCulture, $"multicast listener report v2, {records} group record(s)");
                break;
            default:
                text.Append(CultureInfo.InvariantCulture, $"type-#{(byte)icmp.Type}");
                break;
        }

        text.Append(CultureInfo.InvariantCulture, $", length {message.Length}");
    }

    private static void AppendUnreachable6(StringBuilder text, byte code, ReadOnlySpan<byte> quoted)
    {
        text.Append("destination unreachable, ");
        if (!Icmpv6QuotedPacket.TryRead(quoted, out Icmpv6QuotedPacket quote, out _))
        {
            text.Append(CultureInfo.InvariantCulture, $"code {code} [|quote]");
            return;
        }

        string destination = quote.Header.Destination.ToString();
        switch ((Icmpv6UnreachableCode)code)
        {
            case Icmpv6UnreachableCode.NoRoute:
                text.Append(CultureInfo.InvariantCulture, $"no route to {destination}");
                break;
            case Icmpv6UnreachableCode.AdministrativelyProhibited:
                text.Append(CultureInfo.InvariantCulture, $"{destination} unreachable prohibited");
                break;
            case Icmpv6UnreachableCode.AddressUnreachable:
                text.Append(CultureInfo.InvariantCulture, $"unreachable address {destination}");
                break;
            case Icmpv6UnreachableCode.PortUnreachable:
                if (quote.HasUpperLayer && TransportPorts.TryRead(quote.UpperLayerBytes, out TransportPorts.Reader ports))
                {
                    text.Append(CultureInfo.InvariantCulture, $"{destination} {ProtocolName(quote.UpperLayer)} port {ports.DestinationPort} unreachable");
                }
                else
                {
                    text.Append(CultureInfo.InvariantCulture, $"{destination} port unreachable");
                }

                break;
            default:
                text.Append(CultureInfo.InvariantCulture, $"{destination} unreachable - code {code}");
                break;
        }
    }
}
