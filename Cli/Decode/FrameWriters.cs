using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Protocols.Ip;

namespace Protocols.Cli.Decode;

/// <summary>
/// Writes a <see cref="DecodedFrame"/> as one JSON object on one line (the <c>decode --json</c>
/// contract of CLI.md): numbers as JSON numbers, booleans, checksum statuses as strings, SACK
/// edges as arrays, and <c>error</c> last when the frame could not be fully decoded.
/// </summary>
internal sealed class JsonFrameWriter : IDisposable
{
    private readonly TextWriter _output;
    private readonly ArrayBufferWriter<byte> _buffer = new(1024);
    private readonly Utf8JsonWriter _json;

    /// <summary>Writes to <paramref name="output"/>.</summary>
    public JsonFrameWriter(TextWriter output)
    {
        _output = output;
        _json = new Utf8JsonWriter(_buffer, new JsonWriterOptions { Indented = false, SkipValidation = false });
    }

    /// <summary>Writes one frame and a newline.</summary>
    public void Write(DecodedFrame frame)
    {
        _buffer.ResetWrittenCount();
        _json.Reset(_buffer);
        _json.WriteStartObject();
        foreach (KeyValuePair<string, object> field in frame.Fields)
        {
            _json.WritePropertyName(field.Key);
            switch (field.Value)
            {
                case long number:
                    _json.WriteNumberValue(number);
                    break;
                case bool flag:
                    _json.WriteBooleanValue(flag);
                    break;
                case string text:
                    _json.WriteStringValue(text);
                    break;
                case ChecksumStatus status:
                    _json.WriteStringValue(StatusName(status));
                    break;
                case long[] numbers:
                    _json.WriteStartArray();
                    foreach (long n in numbers)
                    {
                        _json.WriteNumberValue(n);
                    }

                    _json.WriteEndArray();
                    break;
                default:
                    throw new InvalidOperationException($"field {field.Key} has an unsupported value type {field.Value.GetType().Name}");
            }
        }

        if (frame.Error is not null)
        {
            _json.WriteString("error", frame.Error);
        }

        _json.WriteEndObject();
        _json.Flush();
        _output.WriteLine(Encoding.UTF8.GetString(_buffer.WrittenSpan));
    }

    /// <summary>The contract's spelling of a checksum status.</summary>
    public static string StatusName(ChecksumStatus status) => status switch
    {
        ChecksumStatus.Good => "good",
        ChecksumStatus.Bad => "bad",
        _ => "unverified",
    };

    /// <inheritdoc/>
    public void Dispose() => _json.Dispose();
}

/// <summary>
/// Writes a <see cref="DecodedFrame"/> as one tcpdump-style line: time, addresses and ports,
/// flags, sequence numbers, options, lengths, ICMP type, TLS handshake and SNI, errors.
/// </summary>
internal static class TextFrameWriter
{
    /// <summary>Formats one frame.</summary>
    public static string Format(DecodedFrame f)
    {
        var line = new StringBuilder(160);
        line.Append(f.Number.ToString(CultureInfo.InvariantCulture)).Append(' ');
        line.Append(FormatTime(f)).Append(' ');
        if (f.Has("arp.opcode"))
        {
            FormatArp(f, line);
        }
        else if (f.Long("ip.version") == 4)
        {
            FormatIpv4(f, line);
        }
        else if (f.Has("ipv6.src"))
        {
            FormatIpv6(f, line);
        }
        else if (f.Has("eth.type"))
        {
            line.Append(f.Text("eth.src")).Append(" > ").Append(f.Text("eth.dst"))
                .Append(CultureInfo.InvariantCulture, $", ethertype 0x{f.Long("eth.type"):x4}");
            if (f.Note is not null)
            {
                line.Append(" (").Append(f.Note).Append(')');
            }
        }
        else if (f.Note is not null)
        {
            line.Append(f.Note);
        }

        line.Append(CultureInfo.InvariantCulture, $", frame {f.CapturedLength}");
        if (f.OriginalLength != f.CapturedLength)
        {
            line.Append(CultureInfo.InvariantCulture, $" of {f.OriginalLength} bytes (truncated by capture)");
        }
        else
        {
            line.Append(" bytes");
        }

        if (f.Error is not null)
        {
            line.Append(" [error: ").Append(f.Error).Append(']');
        }

        return line.ToString();
    }

    private static string FormatTime(DecodedFrame f)
    {
        if (!f.HasTimestamp)
        {
            return "--:--:--";
        }

        long ns = f.TimestampNanoseconds;
        long seconds = Math.DivRem(ns, 1_000_000_000, out long fraction);
        if (fraction < 0)
        {
            seconds--;
            fraction += 1_000_000_000;
        }

        DateTimeOffset time = DateTimeOffset.UnixEpoch.AddSeconds(seconds);
        string clock = time.ToString("HH:mm:ss", CultureInfo.InvariantCulture);
        return fraction % 1000 == 0
            ? $"{clock}.{fraction / 1000:D6}"
            : $"{clock}.{fraction:D9}";
    }

    private static void FormatArp(DecodedFrame f, StringBuilder line)
    {
        long op = f.Long("arp.opcode");
        line.Append("ARP, ");
        if (op == 1)
        {
            line.Append("Request who-has ").Append(f.Text("arp.dst.proto_ipv4")).Append(" tell ").Append(f.Text("arp.src.proto_ipv4"));
        }
        else if (op == 2)
        {
            line.Append("Reply ").Append(f.Text("arp.src.proto_ipv4")).Append(" is-at ").Append(f.Note ?? f.Text("eth.src"));
        }
        else
        {
            line.Append(CultureInfo.InvariantCulture, $"opcode {op}");
        }
    }

    private static void FormatIpv4(DecodedFrame f, StringBuilder line)
    {
        string src = f.Text("ip.src");
        string dst = f.Text("ip.dst");
        bool fragment = f.Get("ip.flags.mf") is true || f.Long("ip.frag_offset") != 0;
        line.Append("IP ");
        if (f.Has("tcp.srcport"))
        {
            line.Append(CultureInfo.InvariantCulture, $"{src}.{f.Long("tcp.srcport")} > {dst}.{f.Long("tcp.dstport")}: ");
            FormatTcp(f, line);
        }
        else if (f.Has("udp.srcport"))
        {
            line.Append(CultureInfo.InvariantCulture, $"{src}.{f.Long("udp.srcport")} > {dst}.{f.Long("udp.dstport")}: UDP, length {f.Long("udp.length") - 8}");
            AppendChecksum(f, "udp", line);
        }
        else if (f.Has("icmp.type"))
        {
            line.Append(src).Append(" > ").Append(dst).Append(": ");
            FormatIcmp(f, line);
        }
        else
        {
            line.Append(src).Append(" > ").Append(dst).Append(CultureInfo.InvariantCulture, $": proto {f.Long("ip.proto")}");
        }

        line.Append(CultureInfo.InvariantCulture, $" (ttl {f.Long("ip.ttl")}, id {f.Long("ip.id")}, len {f.Long("ip.len")}");
        if (f.Get("ip.flags.df") is true)
        {
            line.Append(", DF");
        }

        if (fragment)
        {
            long offset = f.Long("ip.frag_offset") * 8;
            long length = f.Long("ip.len") - f.Long("ip.hdr_len");
            line.Append(CultureInfo.InvariantCulture, $", frag {f.Long("ip.id")}:{length}@{offset}{(f.Get("ip.flags.mf") is true ? "+" : string.Empty)}");
        }

        if (f.Get("ip.checksum.status") is ChecksumStatus.Bad)
        {
            line.Append(", bad ip cksum");
        }

        line.Append(')');
    }

    // tcpdump's IPv6 line: "IP6 src.port > dst.port: ..." then hop limit, flow label, payload length, fragment.
    private static void FormatIpv6(DecodedFrame f, StringBuilder line)
    {
        string src = f.Text("ipv6.src");
        string dst = f.Text("ipv6.dst");
        line.Append("IP6 ");
        if (f.Has("tcp.srcport"))
        {
            line.Append(CultureInfo.InvariantCulture, $"{src}.{f.Long("tcp.srcport")} > {dst}.{f.Long("tcp.dstport")}: ");
            FormatTcp(f, line);
        }
        else if (f.Has("udp.srcport"))
        {
            line.Append(CultureInfo.InvariantCulture, $"{src}.{f.Long("udp.srcport")} > {dst}.{f.Long("udp.dstport")}: UDP, length {f.Long("udp.length") - 8}");
            AppendChecksum(f, "udp", line);
        }
        else if (f.Has("icmpv6.type"))
        {
            line.Append(src).Append(" > ").Append(dst).Append(": ");
            FormatIcmpv6(f, line);
        }
        else
        {
            line.Append(src).Append(" > ").Append(dst).Append(CultureInfo.InvariantCulture, $": next-header {f.Long("ipv6.nxt")}");
        }

        line.Append(CultureInfo.InvariantCulture, $" (hlim {f.Long("ipv6.hlim")}");
        if (f.Long("ipv6.flow") != 0)
        {
            line.Append(CultureInfo.InvariantCulture, $", flowlabel 0x{f.Long("ipv6.flow"):x5}");
        }

        line.Append(CultureInfo.InvariantCulture, $", plen {f.Long("ipv6.plen")}");
        if (f.Has("ipv6.fraghdr.ident"))
        {
            line.Append(CultureInfo.InvariantCulture, $", frag 0x{f.Long("ipv6.fraghdr.ident"):x8}:@{f.Long("ipv6.fraghdr.offset") * 8}{(f.Get("ipv6.fraghdr.more") is true ? "+" : string.Empty)}");
        }

        line.Append(')');
    }

    // RFC 4443 and RFC 4861 message types, in tcpdump's words.
    private static void FormatIcmpv6(DecodedFrame f, StringBuilder line)
    {
        long type = f.Long("icmpv6.type");
        long code = f.Long("icmpv6.code");
        line.Append("ICMP6, ");
        switch ((Icmpv6Type)type)
        {
            case Icmpv6Type.EchoRequest or Icmpv6Type.EchoReply:
                line.Append((Icmpv6Type)type == Icmpv6Type.EchoRequest ? "echo request" : "echo reply")
                    .Append(CultureInfo.InvariantCulture, $", id {f.Long("icmpv6.echo.identifier")}, seq {f.Long("icmpv6.echo.sequence_number")}");
                break;
            case Icmpv6Type.DestinationUnreachable:
                line.Append(CultureInfo.InvariantCulture, $"destination unreachable ({(Icmpv6UnreachableCode)code switch { Icmpv6UnreachableCode.NoRoute => "no route", Icmpv6UnreachableCode.AdministrativelyProhibited => "prohibited", Icmpv6UnreachableCode.AddressUnreachable => "address unreachable", Icmpv6UnreachableCode.PortUnreachable => "port unreachable", _ => $"code {code}" }})");
                break;
            case Icmpv6Type.PacketTooBig:
                line.Append(CultureInfo.InvariantCulture, $"packet too big, mtu {f.Long("icmpv6.mtu")}");
                break;
            case Icmpv6Type.TimeExceeded:
                line.Append((Icmpv6TimeExceededCode)code == Icmpv6TimeExceededCode.HopLimitExceeded ? "time exceeded in-transit" : "fragment reassembly time exceeded");
                break;
            case Icmpv6Type.ParameterProblem:
                line.Append(CultureInfo.InvariantCulture, $"parameter problem ({(Icmpv6ParameterProblemCode)code switch { Icmpv6ParameterProblemCode.ErroneousHeaderField => "erroneous header field", Icmpv6ParameterProblemCode.UnrecognizedNextHeader => "unrecognized next header", Icmpv6ParameterProblemCode.UnrecognizedOption => "unrecognized option", Icmpv6ParameterProblemCode.IncompleteHeaderChain => "incomplete header chain", _ => $"code {code}" }})");
                break;
            case Icmpv6Type.RouterSolicitation:
                line.Append("router solicitation");
                break;
            case Icmpv6Type.RouterAdvertisement:
                line.Append("router advertisement");
                break;
            case Icmpv6Type.NeighborSolicitation:
                line.Append("neighbor solicitation, who has ").Append(f.Text("icmpv6.nd.ns.target_address"));
                break;
            case Icmpv6Type.NeighborAdvertisement:
                line.Append("neighbor advertisement, tgt is ").Append(f.Text("icmpv6.nd.na.target_address"));
                break;
            case Icmpv6Type.Redirect:
                line.Append("redirect");
                break;
            case Icmpv6Type.MulticastListenerQuery or Icmpv6Type.MulticastListenerReport or Icmpv6Type.MulticastListenerDone or Icmpv6Type.MulticastListenerReportV2:
                line.Append((Icmpv6Type)type switch
                {
                    Icmpv6Type.MulticastListenerReportV2 => "multicast listener report v2",
                    Icmpv6Type.MulticastListenerQuery => "multicast listener query",
                    Icmpv6Type.MulticastListenerReport => "multicast listener report",
                    _ => "multicast listener done",
                });
                break;
            default:
                line.Append(CultureInfo.InvariantCulture, $"type {type} code {code}");
                break;
        }

        AppendChecksum(f, "icmpv6", line);
        if (f.Note is not null)
        {
            line.Append(", ").Append(f.Note);
        }
    }

    private static void FormatTcp(DecodedFrame f, StringBuilder line)
    {
        long flags = f.Long("tcp.flags");
        line.Append("Flags [");
        // RFC 9293 3.1 control bits, printed in tcpdump's letters (ECE/CWR as E/W, RFC 3168).
        (long Bit, char Letter)[] letters = [(0x02, 'S'), (0x01, 'F'), (0x04, 'R'), (0x08, 'P'), (0x20, 'U'), (0x40, 'E'), (0x80, 'W')];
        foreach ((long bit, char letter) in letters)
        {
            if ((flags & bit) != 0)
            {
                line.Append(letter);
            }
        }

        if ((flags & 0x10) != 0)
        {
            line.Append('.');
        }

        if (flags == 0)
        {
            line.Append("none");
        }

        line.Append("], seq ").Append(f.Long("tcp.seq_raw").ToString(CultureInfo.InvariantCulture));
        if ((flags & 0x10) != 0)
        {
            line.Append(", ack ").Append(f.Long("tcp.ack_raw").ToString(CultureInfo.InvariantCulture));
        }

        line.Append(", win ").Append(f.Long("tcp.window_size_value").ToString(CultureInfo.InvariantCulture));
        var options = new List<string>();
        if (f.Has("tcp.options.mss_val"))
        {
            options.Add($"mss {f.Long("tcp.options.mss_val")}");
        }

        if (f.Has("tcp.options.sack_perm"))
        {
            options.Add("sackOK");
        }

        if (f.Has("tcp.options.timestamp.tsval"))
        {
            options.Add($"TS val {f.Long("tcp.options.timestamp.tsval")} ecr {f.Long("tcp.options.timestamp.tsecr")}");
        }

        if (f.Has("tcp.options.wscale.shift"))
        {
            options.Add($"wscale {f.Long("tcp.options.wscale.shift")}");
        }

        if (f.Get("tcp.options.sack_le") is long[] le && f.Get("tcp.options.sack_re") is long[] re)
        {
            var blocks = new StringBuilder();
            for (int i = 0; i < le.Length && i < re.Length; i++)
            {
                blocks.Append(CultureInfo.InvariantCulture, $"{{{le[i]}:{re[i]}}}");
            }

            options.Add($"sack {le.Length} {blocks}");
        }

        if (options.Count > 0)
        {
            line.Append(", options [").AppendJoin(',', options).Append(']');
        }

        line.Append(", length ").Append(f.Long("tcp.len").ToString(CultureInfo.InvariantCulture));
        AppendChecksum(f, "tcp", line);
        if (f.Has("tls.record.content_type"))
        {
            line.Append(": TLS ").Append(ContentTypeName(f.Long("tls.record.content_type")));
            if (f.Has("tls.handshake.type"))
            {
                line.Append(' ').Append(HandshakeName(f.Long("tls.handshake.type")));
            }

            if (f.Has("tls.handshake.extensions_server_name"))
            {
                line.Append(" SNI ").Append(f.Text("tls.handshake.extensions_server_name"));
            }
        }
    }

    private static void FormatIcmp(DecodedFrame f, StringBuilder line)
    {
        long type = f.Long("icmp.type");
        long code = f.Long("icmp.code");
        line.Append("ICMP ");

        // RFC 792 message types.
        switch ((IcmpType)type)
        {
            case IcmpType.EchoReply or IcmpType.EchoRequest:
                line.Append((IcmpType)type == IcmpType.EchoRequest ? "echo request" : "echo reply")
                    .Append(CultureInfo.InvariantCulture, $", id {f.Long("icmp.ident")}, seq {f.Long("icmp.seq")}");
                break;
            case IcmpType.DestinationUnreachable:
                line.Append(CultureInfo.InvariantCulture, $"destination unreachable ({UnreachableName(code)})");
                break;
            case IcmpType.TimeExceeded:
                line.Append((IcmpTimeExceededCode)code == IcmpTimeExceededCode.TtlExceeded ? "time exceeded in transit" : "fragment reassembly time exceeded");
                break;
            default:
                line.Append(CultureInfo.InvariantCulture, $"type {type} code {code}");
                break;
        }

        line.Append(CultureInfo.InvariantCulture, $", length {f.Long("ip.len") - f.Long("ip.hdr_len")}");
        AppendChecksum(f, "icmp", line);
        if (f.Note is not null)
        {
            line.Append(", ").Append(f.Note);
        }
    }

    private static string UnreachableName(long code) => (IcmpUnreachableCode)code switch
    {
        IcmpUnreachableCode.NetUnreachable => "net unreachable",
        IcmpUnreachableCode.HostUnreachable => "host unreachable",
        IcmpUnreachableCode.ProtocolUnreachable => "protocol unreachable",
        IcmpUnreachableCode.PortUnreachable => "port unreachable",
        IcmpUnreachableCode.FragmentationNeeded => "fragmentation needed",
        _ => $"code {code}",
    };

    private static void AppendChecksum(DecodedFrame f, string layer, StringBuilder line)
    {
        if (f.Get($"{layer}.checksum.status") is ChecksumStatus.Bad)
        {
            line.Append(CultureInfo.InvariantCulture, $" [bad {layer} cksum]");
        }
    }

    // RFC 8446 B.1 content types and B.3 handshake types.
    private static string ContentTypeName(long type) => type switch
    {
        20 => "ChangeCipherSpec",
        21 => "Alert",
        22 => "Handshake",
        23 => "ApplicationData",
        24 => "Heartbeat",
        _ => $"type {type}",
    };

    private static string HandshakeName(long type) => type switch
    {
        1 => "ClientHello",
        2 => "ServerHello",
        4 => "NewSessionTicket",
        8 => "EncryptedExtensions",
        11 => "Certificate",
        13 => "CertificateRequest",
        15 => "CertificateVerify",
        20 => "Finished",
        _ => $"type {type}",
    };
}
