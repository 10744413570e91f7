using System.Text;
using System.Security.Cryptography;
using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Tls;
using Protocols.Udp;
using Protocols.Wire;
using Protocols.Wire.Capture;

namespace Protocols.Fuzz;

/// <summary>
/// Writes seed corpora for every target from real captures (tests/captures): each frame is taken
/// apart with the library's own readers and every layer becomes a seed of the target for that
/// layer; the capture files themselves seed the pcap and pcapng targets; the fragments and TCP
/// conversations become scripts for the reassembly and TCP engine targets. Seeds are de-duplicated,
/// the smallest kept, and named after their capture, so running it again gives the same files.
/// </summary>
internal static class SeedExtractor
{
    private const int MaxSeedsPerTarget = 24;
    private const int MaxCaptureSeedBytes = 24 * 1024;

    public static int Run(string capturesDirectory, string corpusDirectory)
    {
        var seeds = new Dictionary<string, SortedDictionary<string, byte[]>>();
        foreach ((string name, _, _) in FuzzTargets.All)
        {
            seeds[name] = new SortedDictionary<string, byte[]>(StringComparer.Ordinal);
        }

        foreach (string path in Directory.GetFiles(capturesDirectory).Where(p => p.EndsWith(".pcap", StringComparison.Ordinal) || p.EndsWith(".pcapng", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
        {
            string capture = Path.GetFileNameWithoutExtension(path);
            byte[] file = File.ReadAllBytes(path);
            Add(seeds, path.EndsWith(".pcapng", StringComparison.Ordinal) ? "pcapng" : "pcap", capture, file.Length <= MaxCaptureSeedBytes ? file : FirstFrames(file));
            var conversation = new Conversation();
            var fragments = new List<byte>();
            using CaptureReader reader = CaptureFile.Open(path);
            foreach (CaptureFrame frame in reader)
            {
                string id = $"{capture}-{frame.Index:D4}";
                ReadOnlySpan<byte> data = frame.Data.Span;
                if (frame.LinkType == LinkType.Ethernet)
                {
                    Add(seeds, "ethernet", id, data);
                    if (!EthernetHeader.TryRead(data, out EthernetHeader.Reader ethernet, out _))
                    {
                        continue;
                    }

                    if (ethernet.EtherType == EtherType.Arp)
                    {
                        Add(seeds, "arp", id, ethernet.Payload);
                        continue;
                    }

                    if (ethernet.EtherType == EtherType.Ipv6)
                    {
                        Ip6(seeds, id, ethernet.Payload);
                        continue;
                    }

                    if (ethernet.EtherType != EtherType.Ipv4)
                    {
                        continue;
                    }

                    data = ethernet.Payload;
                }

                Ip(seeds, id, data, conversation, fragments);
            }

            if (fragments.Count > 0)
            {
                Add(seeds, "ipv4-reassembly", capture, [0x00, .. fragments]);
            }

            if (conversation.Script.Count > 0)
            {
                Add(seeds, "tcp-engine", capture, conversation.Finish());
            }
        }

        Synthetic(seeds);
        StackScripts(seeds);
        foreach ((string target, SortedDictionary<string, byte[]> found) in seeds)
        {
            string directory = Path.Combine(corpusDirectory, target);
            Directory.CreateDirectory(directory);
            foreach (string old in Directory.GetFiles(directory))
            {
                File.Delete(old);
            }

            // De-duplicate by content, keep the smallest few: AFL starts best from small, distinct seeds.
            var kept = found
                .GroupBy(kv => Convert.ToHexString(SHA256.HashData(kv.Value)))
                .Select(g => g.First())
                .OrderBy(kv => kv.Value.Length)
                .ThenBy(kv => kv.Key, StringComparer.Ordinal)
                .Take(MaxSeedsPerTarget)
                .ToList();
            foreach ((string name, byte[] bytes) in kept)
            {
                File.WriteAllBytes(Path.Combine(directory, name), bytes);
            }

            Console.WriteLine($"{target}: {kept.Count} seeds ({found.Count} found)");
        }

        return 0;
    }

    private static void Ip(Dictionary<string, SortedDictionary<string, byte[]>> seeds, string id, ReadOnlySpan<byte> packet, Conversation conversation, List<byte> fragments)
    {
        if (!Ipv4Header.TryReadHeader(packet, out Ipv4Header.Reader ip, out _))
        {
            return;
        }

        Add(seeds, "ipv4", id, ip.Bytes);
        if (!ip.Options.IsEmpty)
        {
            Add(seeds, "ipv4-options", id, ip.Options);
        }

        if (ip.MoreFragments || ip.FragmentOffset != 0)
        {
            // A reassembly script step: datagram (identification), MF, offset, length.
            byte control = (byte)((ip.Identification & 3) | (ip.MoreFragments ? 4 : 0) | (ip.Options.IsEmpty ? 0 : 0x10));
            fragments.AddRange([control, (byte)(ip.FragmentOffset >> 8), (byte)ip.FragmentOffset, (byte)(ip.Payload.Length >> 8), (byte)ip.Payload.Length]);
            if (ip.FragmentOffset != 0)
            {
                return;
            }
        }

        ReadOnlySpan<byte> transport = ip.Payload;
        switch (ip.Protocol)
        {
            case IpProtocol.Icmp:
                Add(seeds, "icmp", id, transport);
                break;
            case IpProtocol.Udp:
                Add(seeds, "udp", id, transport);
                break;
            case IpProtocol.Tcp:
                Add(seeds, "tcp", id, transport);
                if (TcpHeader.TryRead(transport, out TcpHeader.Reader tcp, out _))
                {
                    if (!tcp.Options.IsEmpty)
                    {
                        Add(seeds, "tcp-options", id, tcp.Options);
                    }

                    if (!tcp.Payload.IsEmpty && tcp.Payload[0] is >= 20 and <= 24)
                    {
                        Add(seeds, "tls-records", id, tcp.Payload);
                        if (tcp.Payload.Length > 5 && tcp.Payload[0] == (byte)TlsContentType.Handshake && tcp.Payload[5] == (byte)TlsHandshakeType.ClientHello)
                        {
                            Add(seeds, "tls-clienthello", id, tcp.Payload);
                        }
                    }

                    conversation.Add(ip, tcp);
                }

                break;
        }
    }

    /// <summary>
    /// Seeds the captures lack, written with the library's writers: IPv4 options (none of the
    /// captured datagrams carry any) and ClientHellos of other shapes than the captured one.
    /// </summary>
    private static void Synthetic(Dictionary<string, SortedDictionary<string, byte[]>> seeds)
    {
        Span<byte> buffer = stackalloc byte[Ipv4OptionWriter.MaxOptionsLength];
        var options = new Ipv4OptionWriter(buffer);
        options.WriteRecordRoute(3, [Ipv4Address.Create(192, 0, 2, 1)]);
        options.WriteNoOperation();
        options.WriteOption((byte)Ipv4OptionKind.RouterAlert, [0, 0]);
        options.PadToWord();
        Add(seeds, "ipv4-options", "synthetic-route-alert", options.Written);
        options = new Ipv4OptionWriter(buffer);
        options.WriteTimestamp(Ipv4TimestampFlag.TimestampsOnly, 2, [new Ipv4TimestampEntry(default, 1000)], recorded: 1);
        options.WriteEndOfList();
        options.PadToWord();
        Add(seeds, "ipv4-options", "synthetic-timestamp", options.Written);
        options = new Ipv4OptionWriter(buffer);
        options.WriteTimestamp(Ipv4TimestampFlag.AddressAndTimestamp, 2, [new Ipv4TimestampEntry(Ipv4Address.Create(192, 0, 2, 9), 7)], recorded: 1);
        options.WriteRoute(Ipv4OptionKind.LooseSourceRoute, 1, [Ipv4Address.Create(192, 0, 2, 7)]);
        options.PadToWord();
        Add(seeds, "ipv4-options", "synthetic-timestamp-lsrr", options.Written);

        foreach (string text in (string[])["10.0.0.1", "192.0.2.255", "2001:db8::1", "::ffff:192.0.2.1", "fe80::1:2:3:4", "::", "1:2:3:4:5:6:7:8", "02:00:5e:10:00:01"])
        {
            Add(seeds, "addresses", "synthetic-" + text.Replace(':', '_'), Encoding.ASCII.GetBytes(text));
        }

        var hello = ClientHelloBuilder.Tls13("example.test");
        Add(seeds, "tls-clienthello", "synthetic-tls13", hello.BuildRecords());
        Add(seeds, "tls-clienthello", "synthetic-tls13-fragmented", hello.BuildRecords(TlsVersion.Tls12, maxFragmentLength: 64));
        Add(seeds, "tls-clienthello", "synthetic-tls12-bare", new ClientHelloBuilder().BuildRecords());
        Add(seeds, "tls-records", "synthetic-tls13-fragmented", hello.BuildRecords(TlsVersion.Tls12, maxFragmentLength: 64));
        Add(seeds, "tls-records", "synthetic-serverhello", new ServerHelloBuilder { SelectedVersion = TlsVersion.Tls13, KeyShare = (TlsNamedGroup.X25519, new byte[32]), ApplicationProtocol = "h2" }.BuildRecords());
    }

    /// <summary>
    /// Scripts for the stack target (its format is its own, so none comes from a capture): a TCP
    /// connection to the echo port with data and a close, the same from two ports with a reset, a
    /// UDP echo and a datagram to a closed port, and an ICMP fragmentation-needed for a connection.
    /// </summary>
    private static void StackScripts(Dictionary<string, SortedDictionary<string, byte[]>> seeds)
    {
        byte[] syn = [0x00, 0x10, 0x00, 0x00, 0x02, 0xff, 0xff, 0x01, 0x02, 0x04, 0x05, 0xb4, 0x01];
        byte[] ack = [0x00, 0x00, 0x00, 0x00, 0x10, 0xff, 0xff, 0x01];
        byte[] data = [0x00, 0x20, 0x00, 0x00, 0x18, 0xff, 0xff, 0x00, 0x40, 0x05];
        byte[] fin = [0x00, 0x00, 0x00, 0x00, 0x11, 0xff, 0xff, 0x05];
        byte[] rst = [0x00, 0x01, 0x00, 0x00, 0x04, 0x00, 0x00, 0x01];
        byte[] synOther = [0x00, 0x11, 0x00, 0x00, 0x02, 0xff, 0xff, 0x01, 0x02, 0x04, 0x05, 0xb4, 0x01];
        byte[] ackOther = [0x00, 0x01, 0x00, 0x00, 0x10, 0xff, 0xff, 0x01];
        byte[] udpEcho = [0x07, 0x00, 0x20, 0x01];
        byte[] udpClosed = [0x17, 0x00, 0x08, 0x01];
        byte[] fragNeeded = [0x05, 0x00, 0x00, 0x00, 0x10, 0xff, 0xff, 0x04, 0x02, 0x40, 0x01];
        Add(seeds, "stack", "synthetic-echo-close", [.. syn, .. ack, .. data, .. fin, .. ack]);
        Add(seeds, "stack", "synthetic-two-connections-reset", [.. syn, .. ack, .. synOther, .. ackOther, .. data, .. rst]);
        Add(seeds, "stack", "synthetic-udp", [.. udpEcho, .. udpClosed]);
        Add(seeds, "stack", "synthetic-icmp-frag-needed", [.. syn, .. ack, .. data, .. fragNeeded, .. data]);
    }

    private static void Ip6(Dictionary<string, SortedDictionary<string, byte[]>> seeds, string id, ReadOnlySpan<byte> packet)
    {
        if (!Ipv6Header.TryReadHeader(packet, out Ipv6Header.Reader ip, out _))
        {
            return;
        }

        Add(seeds, "ipv6", id, ip.Bytes);
        Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(ip.Bytes);
        if (chain.Status != Ipv6ChainStatus.UpperLayer || chain.PayloadOffset > ip.Bytes.Length)
        {
            return;
        }

        ReadOnlySpan<byte> upper = ip.Bytes[chain.PayloadOffset..];
        switch (chain.NextHeader)
        {
            case IpProtocol.Icmpv6:
                Add(seeds, "icmpv6", id, upper);
                break;
            case IpProtocol.Udp:
                Add(seeds, "udp", id, upper);
                break;
            case IpProtocol.Tcp:
                Add(seeds, "tcp", id, upper);
                if (TcpHeader.TryRead(upper, out TcpHeader.Reader tcp, out _) && !tcp.Options.IsEmpty)
                {
                    Add(seeds, "tcp-options", id, tcp.Options);
                }

                break;
        }
    }

    private static byte[] FirstFrames(byte[] file)
    {
        // A large capture: its first frames only (pcap: the global header, then whole records).
        int end = PcapReader.FileHeaderLength;
        while (end + PcapReader.RecordHeaderLength <= file.Length)
        {
            int captured = BitConverter.ToInt32(file, end + 8);
            int next = end + PcapReader.RecordHeaderLength + captured;
            if (captured < 0 || next > file.Length || next > MaxCaptureSeedBytes)
            {
                break;
            }

            end = next;
        }

        return file[..end];
    }

    private static void Add(Dictionary<string, SortedDictionary<string, byte[]>> seeds, string target, string name, ReadOnlySpan<byte> bytes)
    {
        if (!bytes.IsEmpty)
        {
            seeds[target].TryAdd(name, bytes.ToArray());
        }
    }

    /// <summary>
    /// Turns the first TCP connection of a capture into a tcp-engine script from the server's side:
    /// the SYN-ACK's window and options establish the connection, then each server segment becomes
    /// a step with in-window numbers (RCV.NXT, an acceptable ACK), its flags, window, timestamps and
    /// payload length, followed by a read of what arrived.
    /// </summary>
    private sealed class Conversation
    {
        private ushort _clientPort;
        private ushort _serverPort;
        private bool _established;

        public List<byte> Script { get; } = [];

        public void Add(in Ipv4Header.Reader ip, in TcpHeader.Reader tcp)
        {
            _ = ip;
            if (!tcp.TryParseOptions(out TcpOptions options, out _))
            {
                return;
            }

            if (_clientPort == 0 && tcp.Syn && !tcp.Ack)
            {
                _clientPort = tcp.SourcePort;
                _serverPort = tcp.DestinationPort;
                return;
            }

            if (tcp.SourcePort != _serverPort || tcp.DestinationPort != _clientPort || _clientPort == 0)
            {
                return;
            }

            if (!_established)
            {
                if (!(tcp.Syn && tcp.Ack))
                {
                    return;
                }

                // Establish: flags (window scale, timestamps, SACK-permitted), window, MSS, shift.
                byte flags = (byte)((options.WindowScale.HasValue ? 1 : 0) | (options.Timestamps.HasValue ? 2 : 0) | (options.SackPermitted ? 4 : 0));
                Script.AddRange([flags, (byte)(tcp.Window >> 8), (byte)tcp.Window, (byte)((options.Mss ?? 536) >> 8), (byte)(options.Mss ?? 536)]);
                if (options.WindowScale is byte shift)
                {
                    Script.Add(shift);
                }

                _established = true;
                return;
            }

            // A step: sequence at RCV.NXT, an acceptable ACK, timestamps, SACK, payload; then a read.
            int sackBlocks = options.SackBlockCount;
            byte mode = (byte)(2 | (3 << 2) | (options.Timestamps.HasValue ? 0x10 : 0) | (sackBlocks > 0 ? 0x40 : 0) | (tcp.Payload.IsEmpty ? 0 : 0x80));
            Script.AddRange([mode, 0xff, 0xff, (byte)(tcp.Syn ? 2 : 0 | (tcp.Fin ? 1 : 0) | (tcp.Rst ? 4 : 0) | (tcp.Psh ? 8 : 0) | (tcp.Ack ? 0x10 : 0)), (byte)(tcp.Window >> 8), (byte)tcp.Window]);
            if (options.Timestamps.HasValue)
            {
                Script.Add(2); // the peer clock moves one tick; the echo is of our last TSval
            }

            if (sackBlocks > 0)
            {
                Script.Add((byte)(sackBlocks - 1));
                for (int i = 0; i < Math.Min(sackBlocks, 3); i++)
                {
                    Script.AddRange([0, (byte)(i + 1), 0x05, 0xb4]);
                }
            }

            if (!tcp.Payload.IsEmpty)
            {
                Script.AddRange([(byte)(tcp.Payload.Length >> 8), (byte)tcp.Payload.Length]);
            }

            Script.AddRange([1, 0x10, 0x00]); // read up to 4096 bytes
        }

        public byte[] Finish()
        {
            // Config: timestamps and window scaling on, SACK on; buffers of 64 KiB.
            return [0x02, 0x7f, 0xff, 0x7f, 0xff, .. Script];
        }
    }
}
