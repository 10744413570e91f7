using System.Buffers.Binary;
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
/// IPv6 with fragments, ICMP, ICMPv6 with neighbour discovery and MLD, and UDP and TCP ports. Transports that live above Ip (Udp, Tcp) register a
/// <see cref="TransportFormatter"/> for richer lines; Ip itself decodes only what every transport
/// with ports shares (the two port numbers) and the UDP length field.
/// </summary>
/// <remarks>Never throws on malformed frames: they are described as such.</remarks>
public sealed class PacketFormatter
{
    private const int EthernetHeaderLength = 14;

    // Copy-on-write, indexed by protocol number, so formatting reads it without a lock.
    private volatile TransportFormatter?[] _transports = new TransportFormatter?[256];

    /// <summary>The shared formatter tracers use unless given another; transports register here.</summary>
    public static PacketFormatter Default { get; } = new();

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
        ReadOnlySpan<byte> payload = frame[EthernetHeaderLength..];
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

        if (packet[0] >> 4 == 6)
        {
            AppendIpv6(text, packet);
            return;
        }

        if (!Ipv4Header.TryRead(packet, out Ipv4Header.Reader ip, out WireError error))
        {
            text.Append(CultureInfo.InvariantCulture, $"IP [invalid: {error.ToString()}], length {packet.Length}");
            return;
        }

        ReadOnlySpan<byte> payload = ip.Payload;
        IpProtocol protocol = ip.Protocol;
        int fragmentOffset = ip.FragmentOffset * 8; // RFC 791 3.1: in units of 8 octets
        bool fragment = ip.MoreFragments || fragmentOffset != 0;
        bool hasPorts = protocol is IpProtocol.Tcp or IpProtocol.Udp or IpProtocol.Sctp or IpProtocol.UdpLite;

        text.Append("IP ").Append(ip.Source.ToString());
        if (fragmentOffset == 0 && hasPorts && payload.Length >= 4)
        {
            // Every transport with ports starts with source and destination port (RFC 768, RFC 9293 3.1).
            ushort sourcePort = BinaryPrimitives.ReadUInt16BigEndian(payload);
            ushort destinationPort = BinaryPrimitives.ReadUInt16BigEndian(payload[2..]);
            text.Append(CultureInfo.InvariantCulture, $".{sourcePort} > {ip.Destination.ToString()}.{destinationPort}: ");
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
            switch (protocol)
            {
                case IpProtocol.Icmp:
                    AppendIcmp(text, payload);
                    break;
                case IpProtocol.Udp:
                    AppendUdp(text, payload, fragment);
                    break;
                case IpProtocol.Tcp:
                    AppendTcp(text, payload);
                    break;
                default:
                    text.Append(CultureInfo.InvariantCulture, $"{ProtocolName(protocol)} {payload.Length}");
                    break;
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

    // RFC 768: the length field counts the 8-byte header and the data.
    private static void AppendUdp(StringBuilder text, ReadOnlySpan<byte> segment, bool fragment)
    {
        if (segment.Length < 8)
        {
            text.Append(CultureInfo.InvariantCulture, $"UDP, [|udp] length {segment.Length}");
            return;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(segment[4..]);
        if (length < 8 || (length > segment.Length && !fragment))
        {
            text.Append(CultureInfo.InvariantCulture, $"UDP, bad length {length} > {segment.Length}");
            return;
        }

        text.Append(CultureInfo.InvariantCulture, $"UDP, length {length - 8}");
    }

    // RFC 9293 3.1: the data offset (high nibble of byte 12) counts 32-bit words of header.
    private static void AppendTcp(StringBuilder text, ReadOnlySpan<byte> segment)
    {
        int headerLength = segment.Length >= 13 ? (segment[12] >> 4) * 4 : 0;
        if (headerLength < 20 || headerLength > segment.Length)
        {
            text.Append(CultureInfo.InvariantCulture, $"TCP, [|tcp] length {segment.Length}");
            return;
        }

        text.Append(CultureInfo.InvariantCulture, $"TCP, length {segment.Length - headerLength}");
    }

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
        ReadOnlySpan<byte> body = message[IcmpHeader.FixedLength..];
        switch (icmp.Type)
        {
            case IcmpType.EchoRequest:
            case IcmpType.EchoReply:
                // Same 8 bytes as the common header, which has been read: this cannot fail.
                IcmpEchoHeader.TryRead(message, out IcmpEchoHeader.Reader echo, out _);
                text.Append(CultureInfo.InvariantCulture, $"echo {(icmp.Type == IcmpType.EchoRequest ? "request" : "reply")}, id {echo.Identifier}, seq {echo.SequenceNumber}");
                break;
            case IcmpType.DestinationUnreachable:
                AppendUnreachable(text, code, (ushort)icmp.RestOfHeader, body);
                break;
            case IcmpType.TimeExceeded:
                text.Append(code switch
                {
                    0 => "time exceeded in-transit",
                    1 => "ip reassembly time exceeded",
                    _ => string.Create(CultureInfo.InvariantCulture, $"time exceeded-#{code}"),
                });
                break;
            case IcmpType.Redirect:
                string target = IcmpQuotedDatagram.TryRead(body, out IcmpQuotedDatagram redirected, out _) ? redirected.Header.Destination.ToString() : "?";
                text.Append(CultureInfo.InvariantCulture, $"redirect {target} to host {Ipv4Address.FromUInt32(icmp.RestOfHeader).ToString()}");
                break;
            case IcmpType.ParameterProblem:
                text.Append(CultureInfo.InvariantCulture, $"parameter problem - octet {icmp.RestOfHeader >> 24}");
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
                if (quote.Payload.Length >= 4)
                {
                    ushort port = BinaryPrimitives.ReadUInt16BigEndian(quote.Payload[2..]);
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
        if (fragmentOffset == 0 && hasPorts && payload.Length >= 4)
        {
            ushort sourcePort = BinaryPrimitives.ReadUInt16BigEndian(payload);
            ushort destinationPort = BinaryPrimitives.ReadUInt16BigEndian(payload[2..]);
            text.Append(CultureInfo.InvariantCulture, $".{sourcePort} > {ip.Destination.ToString()}.{destinationPort}: ");
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
            switch (protocol)
            {
                case IpProtocol.Icmpv6:
                    AppendIcmpv6(text, payload);
                    break;
                case IpProtocol.Udp:
                    AppendUdp(text, payload, fragment);
                    break;
                case IpProtocol.Tcp:
                    AppendTcp(text, payload);
                    break;
                default:
                    text.Append(CultureInfo.InvariantCulture, $"{ProtocolName(protocol)} {payload.Length}");
                    break;
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
        uint rest = icmp.RestOfHeader;
        ReadOnlySpan<byte> body = message[Icmpv6Header.FixedLength..];
        switch (icmp.Type)
        {
            case Icmpv6Type.EchoRequest:
            case Icmpv6Type.EchoReply:
                text.Append(CultureInfo.InvariantCulture, $"echo {(icmp.Type == Icmpv6Type.EchoRequest ? "request" : "reply")}, id {rest >> 16}, seq {rest & 0xffff}");
                break;
            case Icmpv6Type.DestinationUnreachable:
                AppendUnreachable6(text, code, body);
                break;
            case Icmpv6Type.PacketTooBig:
                text.Append(CultureInfo.InvariantCulture, $"packet too big, mtu {rest}");
                break;
            case Icmpv6Type.TimeExceeded:
                text.Append(code switch
                {
                    0 => "time exceeded in-transit",
                    1 => "ip6 reassembly time exceeded",
                    _ => string.Create(CultureInfo.InvariantCulture, $"time exceeded-#{code}"),
                });
                break;
            case Icmpv6Type.ParameterProblem:
                string what = code switch
                {
                    0 => "erroneous header field",
                    1 => "unrecognized next header",
                    2 => "unrecognized option",
                    3 => "incomplete header chain",
                    _ => string.Create(CultureInfo.InvariantCulture, $"code-#{code}"),
                };
                text.Append(CultureInfo.InvariantCulture, $"parameter problem, {what} - octet {rest}");
                break;
            case Icmpv6Type.RouterSolicitation:
                text.Append("router solicitation");
                break;
            case Icmpv6Type.RouterAdvertisement:
                text.Append(message.Length >= 8 ? string.Create(CultureInfo.InvariantCulture, $"router advertisement, lifetime {BinaryPrimitives.ReadUInt16BigEndian(message[6..])}s") : "router advertisement");
                break;
            case Icmpv6Type.NeighborSolicitation:
                text.Append(CultureInfo.InvariantCulture, $"neighbor solicitation, who has {Target(body, 0)}");
                break;
            case Icmpv6Type.NeighborAdvertisement:
                text.Append(CultureInfo.InvariantCulture, $"neighbor advertisement, tgt is {Target(body, 0)}");
                break;
            case Icmpv6Type.Redirect:
                text.Append(CultureInfo.InvariantCulture, $"redirect, {Target(body, 16)} to {Target(body, 0)}");
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
                text.Append(CultureInfo.InvariantCulture, $"multicast listener report v2, {rest & 0xffff} group record(s)");
                break;
            default:
                text.Append(CultureInfo.InvariantCulture, $"type-#{(byte)icmp.Type}");
                break;
        }

        text.Append(CultureInfo.InvariantCulture, $", length {message.Length}");
    }

    // The address at offset bytes into the message after its 8-byte header (NS/NA/redirect target 0, redirect destination 16).
    private static string Target(ReadOnlySpan<byte> body, int offset) =>
        body.Length >= offset + 16 ? Ipv6Address.Create(body.Slice(offset, 16)).ToString() : "?";

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
                if (quote.HasUpperLayer && quote.UpperLayerBytes.Length >= 4)
                {
                    ushort port = BinaryPrimitives.ReadUInt16BigEndian(quote.UpperLayerBytes[2..]);
                    text.Append(CultureInfo.InvariantCulture, $"{destination} {ProtocolName(quote.UpperLayer)} port {port} unreachable");
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
