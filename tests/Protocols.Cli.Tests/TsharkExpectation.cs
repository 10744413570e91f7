using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Protocols.Cli.Tests;

/// <summary>
/// Reads tshark's <c>-T fields</c> output (the committed <c>NAME.tshark.tsv</c> files, or a live
/// run) and turns each row into the values <c>protocols decode --json</c> must print, following
/// the contract in CLI.md. The rules that bridge tshark's text and the contract:
/// <list type="bullet">
/// <item>hex text (ip.id, eth.type, tcp.flags, ipv6.flow, ipv6.fraghdr.ident,
/// icmpv6.echo.identifier) becomes a number; 0/1 of ip.flags.* and ipv6.fraghdr.more a boolean;</item>
/// <item>checksum status 0/1/2 becomes bad/good/unverified, 3 (UDP checksum 0 over IPv4, "not
/// present") unverified, and 4 (UDP checksum 0 over IPv6, "illegal", RFC 8200 8.1) bad;</item>
/// <item>tcp.options.sack_perm (an FT_NONE field, printed as its raw bytes) is true when present;</item>
/// <item>a field printed more than once (the quoted datagram of an ICMP error repeats ip.*) counts
/// by its first, outermost occurrence, except the SACK edge lists which keep every block;</item>
/// <item>in an ICMP error (type 3, 4, 5, 11, 12) or an ICMPv6 error (type 1 to 4) tshark also
/// dissects the quoted transport header; the contract describes the outer packet only, so tcp.*,
/// udp.*, icmp.ident, icmp.seq and icmpv6.echo.* are dropped there;</item>
/// <item>tshark calls the outer type of a TLS 1.3 encrypted record tls.record.opaque_type; the
/// contract's tls.record.content_type is the first record's type either way.</item>
/// </list>
/// </summary>
internal static class TsharkExpectation
{
    /// <summary>The tshark fields, as tshark-expect.sh asks for them.</summary>
    public static readonly string[] Fields =
    [
        "frame.number",
        "eth.src", "eth.dst", "eth.type",
        "arp.opcode", "arp.src.proto_ipv4", "arp.dst.proto_ipv4",
        "ip.version", "ip.hdr_len", "ip.len", "ip.id", "ip.flags.df", "ip.flags.mf", "ip.frag_offset", "ip.ttl", "ip.proto",
        "ip.src", "ip.dst", "ip.checksum.status",
        "tcp.srcport", "tcp.dstport", "tcp.seq_raw", "tcp.ack_raw", "tcp.hdr_len", "tcp.flags", "tcp.window_size_value",
        "tcp.urgent_pointer", "tcp.len", "tcp.checksum.status", "tcp.options.mss_val", "tcp.options.wscale.shift",
        "tcp.options.sack_perm", "tcp.options.sack_le", "tcp.options.sack_re",
        "tcp.options.timestamp.tsval", "tcp.options.timestamp.tsecr",
        "udp.srcport", "udp.dstport", "udp.length", "udp.checksum.status",
        "icmp.type", "icmp.code", "icmp.checksum.status", "icmp.ident", "icmp.seq",
        "ipv6.src", "ipv6.dst", "ipv6.plen", "ipv6.nxt", "ipv6.hlim", "ipv6.flow",
        "ipv6.fraghdr.offset", "ipv6.fraghdr.more", "ipv6.fraghdr.ident",
        "icmpv6.type", "icmpv6.code", "icmpv6.checksum.status", "icmpv6.echo.identifier", "icmpv6.echo.sequence_number",
        "icmpv6.nd.ns.target_address", "icmpv6.nd.na.target_address", "icmpv6.mtu",
        "tls.record.content_type", "tls.record.opaque_type", "tls.handshake.type",
        "tls.handshake.extensions_server_name",
    ];

    /// <summary>The tshark preferences of tshark-expect.sh.</summary>
    public static readonly string[] Preferences =
    [
        "tcp.relative_sequence_numbers:FALSE",
        "tcp.analyze_sequence_numbers:FALSE",
        "ip.check_checksum:TRUE",
        "tcp.check_checksum:TRUE",
        "udp.check_checksum:TRUE",
        "ip.defragment:FALSE",
        "ipv6.defragment:FALSE",
        "tcp.desegment_tcp_streams:FALSE",
        "tls.desegment_ssl_records:FALSE",
        "tls.desegment_ssl_application_data:FALSE",
    ];

    private static readonly HashSet<string> HexFields = ["ip.id", "eth.type", "tcp.flags", "ipv6.flow", "ipv6.fraghdr.ident", "icmpv6.echo.identifier"];

    /// <summary>Parses a whole TSV (header line first) into expected field maps, one per frame.</summary>
    public static List<Dictionary<string, string>> Parse(string tsv)
    {
        string[] lines = tsv.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        string[] header = lines[0].Split('\t');
        var frames = new List<Dictionary<string, string>>();
        foreach (string line in lines.Skip(1))
        {
            string[] cells = line.Split('\t');
            var raw = new Dictionary<string, string>(StringComparer.Ordinal);
            for (int i = 0; i < header.Length && i < cells.Length; i++)
            {
                if (cells[i].Length > 0)
                {
                    raw[header[i]] = cells[i];
                }
            }

            frames.Add(Normalize(raw));
        }

        return frames;
    }

    private static Dictionary<string, string> Normalize(Dictionary<string, string> raw)
    {
        var expected = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach ((string field, string text) in raw)
        {
            switch (field)
            {
                case "tcp.options.sack_le" or "tcp.options.sack_re":
                    expected[field] = text;
                    break;
                case "tcp.options.sack_perm":
                    expected[field] = "true";
                    break;
                case "ip.flags.df" or "ip.flags.mf" or "ipv6.fraghdr.more":
                    expected[field] = First(text) == "1" ? "true" : "false";
                    break;
                case "tls.record.opaque_type":
                    break;
                case var f when f.EndsWith(".checksum.status", StringComparison.Ordinal):
                    expected[field] = First(text) switch
                    {
                        "0" or "4" => "bad",
                        "1" => "good",
                        _ => "unverified",
                    };
                    break;
                case var f when HexFields.Contains(f):
                    expected[field] = long.Parse(First(text).AsSpan(2), NumberStyles.HexNumber, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture);
                    break;
                default:
                    expected[field] = First(text);
                    break;
            }
        }

        if (!expected.ContainsKey("tls.record.content_type") && raw.TryGetValue("tls.record.opaque_type", out string? opaque))
        {
            expected["tls.record.content_type"] = First(opaque);
        }

        bool icmpError = expected.GetValueOrDefault("ip.proto") == "1" && expected.GetValueOrDefault("icmp.type") is "3" or "4" or "5" or "11" or "12";
        bool icmpv6Error = expected.GetValueOrDefault("icmpv6.type") is "1" or "2" or "3" or "4";
        if (icmpError || icmpv6Error)
        {
            foreach (string key in expected.Keys.ToList())
            {
                if (key.StartsWith("tcp.", StringComparison.Ordinal) || key.StartsWith("udp.", StringComparison.Ordinal)
                    || key is "icmp.ident" or "icmp.seq" || key.StartsWith("icmpv6.echo.", StringComparison.Ordinal))
                {
                    expected.Remove(key);
                }
            }
        }

        return expected;
    }

    private static string First(string text)
    {
        int comma = text.IndexOf(',', StringComparison.Ordinal);
        return comma < 0 ? text : text[..comma];
    }

    /// <summary>The JSON object of one frame as the same text form (numbers, true/false, strings, comma-joined arrays).</summary>
    public static Dictionary<string, string> FromJson(string jsonLine)
    {
        using JsonDocument doc = JsonDocument.Parse(jsonLine);
        var actual = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (JsonProperty property in doc.RootElement.EnumerateObject())
        {
            actual[property.Name] = property.Value.ValueKind switch
            {
                JsonValueKind.Number => property.Value.GetRawText(),
                JsonValueKind.True => "true",
                JsonValueKind.False => "false",
                JsonValueKind.String => property.Value.GetString()!,
                JsonValueKind.Array => string.Join(',', property.Value.EnumerateArray().Select(e => e.GetRawText())),
                _ => throw new InvalidDataException($"{property.Name}: unexpected JSON {property.Value.ValueKind}"),
            };
        }

        return actual;
    }

    /// <summary>Every difference between tshark's frames and decode's JSON lines, one line each naming file, frame and field.</summary>
    public static List<string> Compare(string file, IReadOnlyList<Dictionary<string, string>> expected, IReadOnlyList<string> jsonLines)
    {
        var problems = new List<string>();
        if (expected.Count != jsonLines.Count)
        {
            problems.Add($"{file}: tshark has {expected.Count} frames, decode printed {jsonLines.Count}");
        }

        for (int i = 0; i < Math.Min(expected.Count, jsonLines.Count); i++)
        {
            Dictionary<string, string> want = expected[i];
            Dictionary<string, string> have = FromJson(jsonLines[i]);
            string frame = want.GetValueOrDefault("frame.number", (i + 1).ToString(CultureInfo.InvariantCulture));
            foreach ((string field, string value) in want)
            {
                if (!have.TryGetValue(field, out string? got))
                {
                    problems.Add($"{file} frame {frame} field {field}: tshark '{value}', decode has no such field");
                }
                else if (got != value)
                {
                    problems.Add($"{file} frame {frame} field {field}: tshark '{value}', decode '{got}'");
                }
            }

            foreach ((string field, string value) in have)
            {
                if (!want.ContainsKey(field))
                {
                    problems.Add($"{file} frame {frame} field {field}: decode '{value}', tshark has no such field");
                }
            }
        }

        return problems;
    }

    /// <summary>Formats up to 30 problems for an assertion message.</summary>
    public static string Describe(List<string> problems)
    {
        var text = new StringBuilder();
        text.AppendLine(CultureInfo.InvariantCulture, $"{problems.Count} mismatches:");
        foreach (string problem in problems.Take(30))
        {
            text.AppendLine(problem);
        }

        return text.ToString();
    }
}
