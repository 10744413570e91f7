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
/// One-line, tcpdump-style (<c>tcpdump -n</c>) descriptions of frames: Ethernet, ARP, IPv4 with
/// fragments, ICMP, and the ports of transports that have them. Transports that live above Ip
/// (Udp, Tcp) register a <see cref="TransportFormatter"/> for their own lines; Ip itself decodes
/// only what every transport with ports shares (<see cref="TransportPorts"/>), so without one a
/// segment reads <c>udp 20</c> (protocol and IP payload length). Every header is read by its
/// generated reader.
/// </summary>
/// <remarks>Never throws on malformed frames: they are described as such.</remarks>
public sealed class PacketFormatter
{
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
                text.Append(CultureInfo.InvariantCulture, $"IP6, length {payload.Length}");
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
            text.Append(error is { Kind: WireErrorKind.InvalidValue, Field: nameof(Ipv4Header.Version), Actual: 6 }
                ? string.Create(CultureInfo.InvariantCulture, $"IP6, length {packet.Length}")
                : string.Create(CultureInfo.InvariantCulture, $"IP [invalid: {error.ToString()}], length {packet.Length}"));
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
}
