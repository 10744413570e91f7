using System.Diagnostics;
using System.Text.Json;
using Protocols.Cli.Decode;
using Protocols.Wire.Capture;

namespace Protocols.Cli.Tests;

public sealed class DecodeTests
{
    public static TheoryData<string> AllCaptures() => Captures.All();

    [Fact]
    public void Every_capture_kind_is_committed()
    {
        string[] names = Captures.Names().ToArray();
        Assert.Contains("tcp-handshake.pcap", names);
        Assert.Contains("tcp-sack-loss.pcap", names);
        Assert.Contains("ip-fragments.pcap", names);
        Assert.Contains("icmp.pcap", names);
        Assert.Contains("udp.pcap", names);
        Assert.Contains("tls-hello.pcap", names);
        Assert.Contains("ping-nano.pcap", names);
        Assert.Contains("raw-tun.pcap", names);
        Assert.Contains("raw-ipv4.pcap", names);
        Assert.Contains("udp-bigendian.pcap", names);
        Assert.Contains("echo-udp.pcapng", names);
        Assert.Contains("ipv6-ping.pcap", names);
        Assert.Contains("ipv6-ndp.pcap", names);
        Assert.Contains("ipv6-tcp.pcap", names);
        Assert.Contains("ipv6-udp.pcap", names);
        Assert.Contains("ipv6-too-big.pcap", names);
        foreach (string name in names)
        {
            Assert.True(File.Exists(Captures.TsvOf(name)), $"{name} has no committed tshark TSV");
        }
    }

    [Theory]
    [MemberData(nameof(AllCaptures))]
    public void JSON_matches_committed_tshark_fields(string name)
    {
        (int code, string stdout, string stderr) = Captures.Run("decode", Captures.PathOf(name), "--json");
        Assert.True(code == 0, $"decode {name} exited {code}: {stderr}");
        Assert.Equal(string.Empty, stderr);
        List<Dictionary<string, string>> expected = TsharkExpectation.Parse(File.ReadAllText(Captures.TsvOf(name)));
        Assert.NotEmpty(expected);
        List<string> problems = TsharkExpectation.Compare(name, expected, Captures.Lines(stdout));
        Assert.True(problems.Count == 0, TsharkExpectation.Describe(problems));
    }

    [TsharkTheory]
    [MemberData(nameof(AllCaptures))]
    public async Task JSON_matches_live_tshark(string name)
    {
        var start = new ProcessStartInfo(TsharkTheoryAttribute.Tshark!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string arg in new[] { "-n", "-r", Captures.PathOf(name) })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (string preference in TsharkExpectation.Preferences)
        {
            start.ArgumentList.Add("-o");
            start.ArgumentList.Add(preference);
        }

        foreach (string arg in new[] { "-T", "fields", "-E", "header=y", "-E", "separator=/t", "-E", "occurrence=a" })
        {
            start.ArgumentList.Add(arg);
        }

        foreach (string field in TsharkExpectation.Fields)
        {
            start.ArgumentList.Add("-e");
            start.ArgumentList.Add(field);
        }

        using Process process = Process.Start(start)!;
        Task<string> stdoutTask = process.StandardOutput.ReadToEndAsync();
        Task<string> stderrTask = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        string tsv = await stdoutTask;
        string errors = await stderrTask;
        Assert.True(process.ExitCode == 0, $"tshark failed: {errors}");

        (int code, string stdout, string stderr) = Captures.Run("decode", Captures.PathOf(name), "--json");
        Assert.True(code == 0, stderr);
        List<string> problems = TsharkExpectation.Compare(name + " (live tshark)", TsharkExpectation.Parse(tsv), Captures.Lines(stdout));
        Assert.True(problems.Count == 0, TsharkExpectation.Describe(problems));
    }

    [Theory]
    [MemberData(nameof(AllCaptures))]
    public void Text_decode_prints_one_line_per_frame(string name)
    {
        (int code, string stdout, string stderr) = Captures.Run("decode", Captures.PathOf(name));
        Assert.True(code == 0, stderr);
        int frames = TsharkExpectation.Parse(File.ReadAllText(Captures.TsvOf(name))).Count;
        string[] lines = Captures.Lines(stdout);
        Assert.Equal(frames, lines.Length);
        Assert.DoesNotContain(lines, l => l.Contains("[error:", StringComparison.Ordinal));
    }

    [Fact]
    public void Text_lines_show_IPv6_extension_headers_ICMPv6_and_NDP()
    {
        string ping = Captures.Run("decode", Captures.PathOf("ipv6-ping.pcap")).Out;
        Assert.Contains("ICMP6, neighbor solicitation, who has 2001:db8:77::2 (hlim 255, plen 32)", ping, StringComparison.Ordinal);
        Assert.Contains("ICMP6, echo request, id 17647, seq 1", ping, StringComparison.Ordinal);
        Assert.Contains("next-header 44 (hlim 64, flowlabel 0x6a5b9, plen 1456, frag 0x3a03d988:@1448+)", ping, StringComparison.Ordinal);
        string tooBig = Captures.Run("decode", Captures.PathOf("ipv6-too-big.pcap")).Out;
        Assert.Contains("ICMP6, packet too big, mtu 1280, quoting ICMP6 2001:db8:77::1 > 2001:db8:78::2", tooBig, StringComparison.Ordinal);
        Assert.Contains("ICMP6, time exceeded in-transit", tooBig, StringComparison.Ordinal);
        string udp = Captures.Run("decode", Captures.PathOf("ipv6-udp.pcap")).Out;
        Assert.Contains("UDP, length 23 [bad udp cksum]", udp, StringComparison.Ordinal);
        Assert.Contains("ICMP6, parameter problem (unrecognized option), quoting UDP 2001:db8:77::1.40002 > 2001:db8:77::2.7000", udp, StringComparison.Ordinal);
        string tcp = Captures.Run("decode", Captures.PathOf("ipv6-tcp.pcap")).Out;
        Assert.Contains("IP6 2001:db8:77::1.", tcp, StringComparison.Ordinal);
        Assert.Contains("options [mss 1440,sackOK,TS val", tcp, StringComparison.Ordinal);
    }

    [Fact]
    public void Text_lines_show_TCP_options_TLS_and_ICMP()
    {
        string handshake = Captures.Run("decode", Captures.PathOf("tcp-handshake.pcap")).Out;
        Assert.Contains("Flags [S], seq 3643829367, win 64240, options [mss 1460,sackOK,TS val 835757029 ecr 0,wscale 10], length 0", handshake, StringComparison.Ordinal);
        Assert.Contains("Flags [R.], seq 0, ack 2916030175", handshake, StringComparison.Ordinal);
        Assert.Contains("ARP, Request who-has 10.77.0.2 tell 10.77.0.1", handshake, StringComparison.Ordinal);

        string tls = Captures.Run("decode", Captures.PathOf("tls-hello.pcap")).Out;
        Assert.Contains("TLS Handshake ClientHello SNI example.test", tls, StringComparison.Ordinal);
        Assert.Contains("TLS Handshake ServerHello", tls, StringComparison.Ordinal);

        string icmp = Captures.Run("decode", Captures.PathOf("icmp.pcap")).Out;
        Assert.Contains("ICMP destination unreachable (port unreachable)", icmp, StringComparison.Ordinal);
        Assert.Contains("ICMP destination unreachable (port unreachable), length 56, quoting UDP 10.77.0.1.46900 > 10.77.0.2.9", icmp, StringComparison.Ordinal);
        Assert.Contains("ICMP time exceeded in transit, length 92, quoting Icmp 10.77.0.1 > 10.78.0.2", icmp, StringComparison.Ordinal);

        string sack = Captures.Run("decode", Captures.PathOf("tcp-sack-loss.pcap")).Out;
        Assert.Contains("sack 3 {", sack, StringComparison.Ordinal);
        Assert.Contains("(truncated by capture)", sack, StringComparison.Ordinal);

        string nano = Captures.Run("decode", Captures.PathOf("echo-udp.pcapng")).Out;
        Assert.Matches(@"^1 \d\d:\d\d:\d\d\.\d{9} IP 10\.77\.0\.1 > 10\.77\.0\.2: ICMP echo request", nano);
    }

    [Fact]
    public void SACK_capture_has_one_two_and_three_blocks()
    {
        string stdout = Captures.Run("decode", Captures.PathOf("tcp-sack-loss.pcap"), "--json").Out;
        var counts = new HashSet<int>();
        foreach (string line in Captures.Lines(stdout))
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            if (doc.RootElement.TryGetProperty("tcp.options.sack_le", out JsonElement le))
            {
                counts.Add(le.GetArrayLength());
            }
        }

        Assert.Equal([1, 2, 3], counts.Order().ToArray());
    }

    [Fact]
    public void Corrupted_checksums_are_reported_bad()
    {
        // The first TCP segment with data, the first UDP datagram with a checksum, the first ICMP message.
        List<byte[]> frames = ReadFrames("tcp-handshake.pcap").Concat(ReadFrames("udp.pcap")).Concat(ReadFrames("icmp.pcap")).ToList();
        foreach (string layer in new[] { "tcp", "udp", "icmp" })
        {
            byte[] original = frames.First(f =>
            {
                DecodedFrame d = Decode(f);
                return d.Get($"{layer}.checksum.status") is ChecksumStatus.Good && (layer != "tcp" || d.Long("tcp.len") > 0);
            });

            // Flip one bit of the last payload byte: the transport checksum breaks, the IPv4 one does not.
            byte[] frame = (byte[])original.Clone();
            frame[^1] ^= 0x01;
            DecodedFrame decoded = Decode(frame);
            Assert.Equal(ChecksumStatus.Bad, decoded.Get($"{layer}.checksum.status"));
            Assert.Equal(ChecksumStatus.Good, decoded.Get("ip.checksum.status"));
            Assert.Contains($"[bad {layer} cksum]", TextFrameWriter.Format(decoded), StringComparison.Ordinal);

            // Flip a bit of the IPv4 TTL instead.
            frame = (byte[])original.Clone();
            frame[14 + 8] ^= 0x01;
            Assert.Equal(ChecksumStatus.Bad, Decode(frame).Get("ip.checksum.status"));
        }
    }

    [Fact]
    public void Every_truncation_of_every_frame_decodes_without_throwing()
    {
        foreach (string name in Captures.Names())
        {
            using CaptureReader reader = CaptureFile.Open(Captures.PathOf(name));
            foreach (CaptureFrame frame in reader.Take(40))
            {
                for (int length = 0; length <= frame.CapturedLength; length++)
                {
                    CaptureFrame cut = frame with { Data = frame.Data[..length], OriginalLength = length };
                    DecodedFrame decoded = FrameDissector.Decode(cut);
                    Assert.Equal(frame.Index, decoded.Long("frame.number"));
                }
            }
        }
    }

    [Fact]
    public void Random_bytes_never_throw_and_errors_are_one_line()
    {
        var random = new Random(20261121);
        var json = new StringWriter();
        using var writer = new JsonFrameWriter(json);
        foreach (LinkType linkType in new[] { LinkType.Ethernet, LinkType.Raw, LinkType.Ipv4, (LinkType)147 })
        {
            for (int i = 0; i < 3000; i++)
            {
                byte[] data = new byte[random.Next(0, 200)];
                random.NextBytes(data);
                if (data.Length > 14 && linkType == LinkType.Ethernet && random.Next(2) == 0)
                {
                    data[12] = 0x08;
                    data[13] = 0x00;
                    data[14] = (byte)(0x45 + random.Next(3));
                }
                else if (data.Length > 0 && linkType != LinkType.Ethernet && random.Next(2) == 0)
                {
                    data[0] = (byte)(0x45 + random.Next(3));
                }

                DecodedFrame decoded = FrameDissector.Decode(new CaptureFrame(i + 1, 0, data.Length, linkType, data));
                if (decoded.Error is not null)
                {
                    Assert.DoesNotContain('\n', decoded.Error);
                }

                writer.Write(decoded);
                Assert.NotEmpty(TextFrameWriter.Format(decoded));
            }
        }

        foreach (string line in Captures.Lines(json.ToString()))
        {
            using JsonDocument doc = JsonDocument.Parse(line);
            Assert.Equal(JsonValueKind.Object, doc.RootElement.ValueKind);
        }
    }

    [Fact]
    public void Undecodable_frame_gets_error_and_decoding_goes_on()
    {
        // An Ethernet frame announcing IPv4 with IHL 3, then a good frame.
        byte[] good = ReadFrames("tcp-handshake.pcap")[9];
        byte[] bad = (byte[])good.Clone();
        bad[14] = 0x43;
        string path = WritePcap(bad, good);
        try
        {
            (int code, string stdout, string stderr) = Captures.Run("decode", path, "--json");
            Assert.True(code == 0, stderr);
            string[] lines = Captures.Lines(stdout);
            Assert.Equal(2, lines.Length);
            using JsonDocument first = JsonDocument.Parse(lines[0]);
            Assert.Contains("IPv4.Ihl", first.RootElement.GetProperty("error").GetString(), StringComparison.Ordinal);
            using JsonDocument second = JsonDocument.Parse(lines[1]);
            Assert.False(second.RootElement.TryGetProperty("error", out _));
            Assert.Equal(37392, second.RootElement.GetProperty("tcp.srcport").GetInt32());
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Truncated_capture_file_exits_one_naming_the_offset()
    {
        byte[] whole = File.ReadAllBytes(Captures.PathOf("tcp-handshake.pcap"));
        string path = Path.Combine(Path.GetTempPath(), $"protocols-cli-{Guid.NewGuid():N}.pcap");
        try
        {
            // Cut in the middle of the third record's data.
            File.WriteAllBytes(path, whole[..300]);
            (int code, string stdout, string stderr) = Captures.Run("decode", path);
            Assert.Equal(1, code);
            string[] errors = Captures.Lines(stderr);
            Assert.Single(errors);
            Assert.StartsWith("error: ", errors[0], StringComparison.Ordinal);
            Assert.Contains("offset", errors[0], StringComparison.Ordinal);
            Assert.Equal(2, Captures.Lines(stdout).Length);

            // A file that is no capture at all.
            File.WriteAllBytes(path, "GET / HTTP/1.1\r\n\r\n"u8.ToArray());
            (code, _, stderr) = Captures.Run("decode", path, "--json");
            Assert.Equal(1, code);
            Assert.Single(Captures.Lines(stderr));
            Assert.Contains("offset", stderr, StringComparison.Ordinal);

            // A header cut short.
            File.WriteAllBytes(path, whole[..10]);
            (code, _, stderr) = Captures.Run("decode", path);
            Assert.Equal(1, code);
            Assert.Single(Captures.Lines(stderr));
            Assert.Contains("offset", stderr, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Missing_file_exits_one()
    {
        (int code, string stdout, string stderr) = Captures.Run("decode", "/nonexistent/protocols-test.pcap");
        Assert.Equal(1, code);
        Assert.Equal(string.Empty, stdout);
        Assert.Equal("error: /nonexistent/protocols-test.pcap: no such file\n", stderr);
    }

    private static DecodedFrame Decode(byte[] ethernetFrame) =>
        FrameDissector.Decode(new CaptureFrame(1, 0, ethernetFrame.Length, LinkType.Ethernet, ethernetFrame));

    private static List<byte[]> ReadFrames(string name)
    {
        using CaptureReader reader = CaptureFile.Open(Captures.PathOf(name));
        return reader.Select(f => f.Data.ToArray()).ToList();
    }

    private static string WritePcap(params byte[][] frames)
    {
        string path = Path.Combine(Path.GetTempPath(), $"protocols-cli-{Guid.NewGuid():N}.pcap");
        using PcapWriter writer = PcapWriter.Create(path, LinkType.Ethernet);
        long t = 1_700_000_000_000_000_000;
        foreach (byte[] frame in frames)
        {
            writer.WriteFrame(t, frame);
            t += 1000;
        }

        return path;
    }
}
