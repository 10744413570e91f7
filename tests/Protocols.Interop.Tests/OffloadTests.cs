using System.Buffers.Binary;
using System.Net;
using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Devices.Linux;
using Protocols.Tcp;
using Protocols.Wire;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// Segmentation offload against the real kernel: the super-segments the kernel hands up through
/// TUN and AF_PACKET carry exactly the bytes its socket sent, a super-segment handed down is cut
/// and delivered by the kernel, a GSO size over the MTU is refused on the way down, and a refused
/// TUNSETOFFLOAD leaves the device in plain mode and says so.
/// </summary>
public sealed class OffloadTests(ITestOutputHelper output)
{
    private const int PatternBytes = 4 << 20;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static TheoryData<string> OffloadMedia => ["tun", "veth"];

    [InteropTheory]
    [MemberData(nameof(OffloadMedia))]
    public async Task Super_segments_from_the_kernel_carry_its_bytes_in_order(string medium)
    {
        Recorder? recorder = null;
        await using KernelPeer peer = await KernelPeer.OpenAsync(medium, stack => stack.UseTcp(), device => recorder = new Recorder(device));
        Assert.Equal(OffloadMode.On, peer.Device.OffloadStatus.Mode);
        Assert.Equal(OffloadMode.On, peer.Stack.Interfaces[0].Offloads.Mode);
        // The kernel's own socket sends byte i = i % 251 and closes; the stack reads it all. Whether
        // the sender builds GSO packets depends on its pacing rate and window, which a loaded
        // machine can keep at one segment for a whole transfer, so up to three transfers (each a
        // new connection: the recorder follows its SYN) are made until one super-segment is seen.
        Recorder r = recorder!;
        for (int transfer = 0; transfer < 3 && r.SuperSegments == 0; transfer++)
        {
            await KernelPeerTransfers.KernelSendsPatternToTheStackAsync(peer, (ushort)(6000 + (10 * transfer)), PatternBytes, Limit);
        }

        output.WriteLine($"{medium}: {r.SuperSegments} super-segments of {r.SuperSegmentBytes} payload bytes (largest {r.Largest}, segment size {r.SegmentSize}); {r.Checked} bytes compared with the pattern; malformed headers {peer.Device.MalformedHeaders}");
        Assert.True(r.SuperSegments > 0, "the kernel handed up no super-segment");
        Assert.True(r.Largest > peer.Device.Mtu, $"largest super-segment payload {r.Largest}");
        Assert.InRange(r.SegmentSize, 536, peer.Device.Mtu - 40);
        Assert.True(r.Checked >= r.SuperSegmentBytes && r.Checked > 0, $"{r.Checked} of {r.SuperSegmentBytes} compared");
        Assert.Equal(0, r.Mismatches);
        Assert.Equal(0, peer.Device.MalformedHeaders);
    }

    [InteropTheory]
    [MemberData(nameof(OffloadMedia))]
    public async Task A_super_segment_handed_down_is_cut_and_delivered_by_the_kernel(string medium)
    {
        Recorder? recorder = null;
        await using KernelPeer peer = await KernelPeer.OpenAsync(medium, stack => stack.UseTcp(), device => recorder = new Recorder(device));
        Assert.True((peer.Device.Capabilities & DeviceCapabilities.TcpSegmentationV4) != 0);
        using Socket listener = NetworkNamespace.Invoke(peer.Kernel.Name, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp));
        listener.Bind(new IPEndPoint(IPAddress.Parse(KernelPeer.KernelAddress.ToString()), 6001));
        listener.Listen(1);
        Task<Socket> accepted = listener.AcceptAsync();
        using var limit = new CancellationTokenSource(Limit);
        await using TcpStream stream = await peer.Stack.Tcp().ConnectAsync(new IpEndpoint(KernelPeer.KernelAddress, 6001), limit.Token);
        using Socket server = await accepted.WaitAsync(Limit);
        await Task.Delay(200); // the handshake's last ACK has gone out: the recorder knows SND.NXT and RCV.NXT

        // 30,000 bytes in one TCP/IPv4 super-segment with a partial checksum and gso_size 1448, in
        // sequence after the handshake: the kernel cuts it (or takes it whole, as GRO would) and its
        // socket reads the bytes.
        const int Payload = 30_000;
        byte[] frame = recorder!.BuildSuperSegment(Payload, out int transportStart);
        var tso = new PacketOffload
        {
            Checksum = ChecksumState.Partial,
            ChecksumStart = (ushort)transportStart,
            ChecksumOffset = 16,
            Segmentation = SegmentationKind.TcpV4,
            SegmentSize = 1448,
        };
        Assert.True(await peer.Stack.InvokeAsync(_ => peer.Device.TrySend(frame, tso) && Flush(peer.Device)));

        // A segment size over the MTU is refused before it reaches the kernel, and counted.
        long errors = peer.Device.SendErrors;
        Assert.False(await peer.Stack.InvokeAsync(_ => peer.Device.TrySend(frame, tso with { SegmentSize = (ushort)(peer.Device.Mtu - 39) })));
        Assert.Equal(errors + 1, peer.Device.SendErrors);

        byte[] received = new byte[Payload];
        int held = 0;
        server.ReceiveTimeout = 10_000;
        while (held < Payload)
        {
            int n = server.Receive(received, held, Payload - held, SocketFlags.None);
            Assert.True(n > 0, $"the kernel's socket closed after {held} bytes");
            held += n;
        }

        for (int i = 0; i < Payload; i++)
        {
            Assert.True(received[i] == (byte)(i % 251), $"byte {i}");
        }

        output.WriteLine($"{medium}: the kernel's socket read all {Payload} bytes of one super-segment (gso_size 1448)");
        stream.Abort();
    }

    [InteropTheory(Tools = ["tshark"])]
    [MemberData(nameof(OffloadMedia))]
    public async Task The_pcap_tap_writes_super_segments_as_they_cross_the_device_and_tshark_decodes_them(string medium)
    {
        using var dir = new TempDir();
        PcapTap? tap = null;
        await using KernelPeer peer = await KernelPeer.OpenAsync(medium, stack => stack.UseTcp(), device => tap = PcapTap.Create(device, dir["tap.pcap"]));
        await using OurServer sink = OurServer.Start(peer.Stack.Tcp(), 6002, async (stream, cancellationToken) =>
        {
            (long length, _) = await TcpTestData.ReadToEndHashedAsync(stream, cancellationToken);
            Assert.Equal(PatternBytes, length);
        });
        using (Socket client = NetworkNamespace.Invoke(peer.Kernel.Name, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)))
        {
            await client.ConnectAsync(new IPEndPoint(IPAddress.Parse(KernelPeer.StackAddress.ToString()), 6002)).WaitAsync(Limit);
            await client.SendAsync(new byte[PatternBytes]).WaitAsync(Limit);
            client.Shutdown(SocketShutdown.Send);
            await sink.WaitForCompletedAsync(1, Limit);
        }

        await peer.Stack.InvokeAsync(_ => tap!.Flush());
        string file = dir["tap.pcap"];
        IReadOnlyList<CapturedSegment> segments = PacketCapture.Segments(file);
        CapturedSegment[] fromKernel = [.. segments.Where(static s => s.Source == KernelPeer.KernelAddress.ToString())];
        int largest = fromKernel.Max(static s => s.Length);
        int malformed = PacketCapture.Count(file, "_ws.malformed");
        output.WriteLine($"{medium}: {tap!.FramesCaptured} frames captured, {segments.Count} TCP frames decoded by tshark, kernel payload {fromKernel.Sum(static s => (long)s.Length)} bytes ({CoveredBytes(fromKernel)} of sequence space), largest {largest}, {malformed} malformed");
        // Sequence space covered, not bytes sent: on a loaded machine the kernel may resend a segment
        // (a tail loss probe when our ACK is late), and the capture holds both copies.
        Assert.Equal(PatternBytes, CoveredBytes(fromKernel));
        Assert.True(largest > peer.Device.Mtu, $"largest frame payload {largest}: no super-segment in the capture");
        Assert.Equal(0, malformed);
        Assert.Equal(0, tap.CaptureErrors);

        // Ours leave with complete checksums; the kernel's come up partial (only the pseudo-header sum), as on any offloading device.
        Assert.All(segments.Where(static s => s.Source == KernelPeer.StackAddress.ToString()), static s => Assert.True(s.IpChecksumGood && s.TcpChecksumGood));
    }

    [InteropFact]
    public async Task Refused_offloads_fall_back_to_plain_mode_and_say_so()
    {
        await using KernelPeer peer = await KernelPeer.OpenAsync("tun-refused");
        DeviceOffloadStatus status = peer.Stack.Interfaces[0].Offloads;
        output.WriteLine(status.Description);
        Assert.Equal(OffloadMode.Refused, status.Mode);
        Assert.Equal(DeviceCapabilities.None, peer.Device.Capabilities);
        Assert.False(peer.Device.HasVirtioHeader);
        Assert.Contains("TUNSETOFFLOAD", status.Description, StringComparison.Ordinal);
        Assert.Contains("Invalid argument", status.Description, StringComparison.Ordinal);

        // Plain mode refuses offload work it cannot do, and carries ordinary frames.
        Assert.False(await peer.Stack.InvokeAsync(_ => peer.Device.TrySend(new byte[40], PacketOffload.PartialTcp(20))));
        ToolResult ping = peer.Exec(Limit, "ping", "-n", "-c", "3", "-i", "0.2", "-w", "10", KernelPeer.StackAddress.ToString());
        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
    }

    private static bool Flush(INetworkDevice device)
    {
        device.Flush();
        return true;
    }

    /// <summary>
    /// Wraps the stack's device: records the kernel's SYN (its initial sequence number), the
    /// stack's last ACK (SND.NXT, RCV.NXT), and compares every super-segment's payload with the
    /// pattern the kernel sends, by its sequence number.
    /// </summary>
    private sealed class Recorder(INetworkDevice inner) : INetworkDevice
    {
        private OffloadFrameHandler? _handler;
        private byte[] _lastOutgoing = [];
        private uint _kernelIsn;

        public int SuperSegments { get; private set; }

        public long SuperSegmentBytes { get; private set; }

        public int Largest { get; private set; }

        public int SegmentSize { get; private set; }

        public long Checked { get; private set; }

        public long Mismatches { get; private set; }

        public string Name => inner.Name;

        public DeviceMedium Medium => inner.Medium;

        public int Mtu => inner.Mtu;

        public MacAddress HardwareAddress => inner.HardwareAddress;

        public DeviceCapabilities Capabilities => inner.Capabilities;

        public DeviceOffloadStatus OffloadStatus => inner.OffloadStatus;

        public int Receive(FrameHandler handler, int maxFrames) => inner.Receive(handler, maxFrames);

        public int Receive(OffloadFrameHandler handler, int maxFrames)
        {
            _handler = handler;
            return inner.Receive(Observe, maxFrames);
        }

        public bool TrySend(ReadOnlySpan<byte> frame) => TrySend(frame, default);

        public bool TrySend(ReadOnlySpan<byte> frame, in PacketOffload offload)
        {
            if (Locate(frame, out int ip, out int tcp, out _) && (frame[tcp + 13] & 0x10) != 0)
            {
                _lastOutgoing = frame.ToArray();
            }

            return inner.TrySend(frame, offload);
        }

        public void Flush() => inner.Flush();

        public ValueTask WaitForReceiveAsync(CancellationToken cancellationToken) => inner.WaitForReceiveAsync(cancellationToken);

        public void Dispose() => inner.Dispose();

        /// <summary>A TCP/IPv4 super-segment continuing the stack's last ACK, with a pattern payload and a partial checksum.</summary>
        public byte[] BuildSuperSegment(int payload, out int transportStart)
        {
            byte[] last = _lastOutgoing;
            Assert.True(Locate(last, out int ip, out int tcp, out _), "no ACK from the stack recorded");
            int link = ip;
            var frame = new byte[link + 20 + 20 + payload];
            last.AsSpan(0, link).CopyTo(frame); // the Ethernet header, if any, as the stack addressed it
            transportStart = link + 20;
            Span<byte> header = frame.AsSpan(link, 20);
            header[0] = 0x45;
            BinaryPrimitives.WriteUInt16BigEndian(header[2..], (ushort)(40 + payload));
            BinaryPrimitives.WriteUInt16BigEndian(header[4..], 0x1234);
            header[6] = 0x40; // DF
            header[8] = 64;
            header[9] = (byte)IpProtocol.Tcp;
            last.AsSpan(ip + 12, 8).CopyTo(header[12..]);
            ushort ipSum = Checksum.Compute(header);
            BinaryPrimitives.WriteUInt16BigEndian(header[10..], ipSum);
            Span<byte> segment = frame.AsSpan(transportStart);
            last.AsSpan(tcp, 16).CopyTo(segment); // ports, SEQ = SND.NXT, ACK = RCV.NXT, window
            segment[12] = 5 << 4;
            segment[13] = 0x18; // PSH, ACK
            for (int i = 0; i < payload; i++)
            {
                segment[20 + i] = (byte)(i % 251);
            }

            uint pseudo = Checksum.PseudoHeaderSum(Ipv4Address.Create(header.Slice(12, 4)), Ipv4Address.Create(header.Slice(16, 4)), (byte)IpProtocol.Tcp, 20 + payload);
            BinaryPrimitives.WriteUInt16BigEndian(segment[16..], (ushort)Checksum.Fold(pseudo)); // partial: the pseudo-header sum only
            return frame;
        }

        private static bool Locate(ReadOnlySpan<byte> frame, out int ip, out int tcp, out int payload)
        {
            ip = tcp = payload = 0;
            if (frame.Length >= 14 && frame[0] >> 4 != 4)
            {
                if (BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != 0x0800)
                {
                    return false;
                }

                ip = 14;
            }

            if (frame.Length < ip + 40 || frame[ip] >> 4 != 4 || frame[ip + 9] != (byte)IpProtocol.Tcp)
            {
                return false;
            }

            tcp = ip + ((frame[ip] & 0xf) * 4);
            int total = BinaryPrimitives.ReadUInt16BigEndian(frame[(ip + 2)..]);
            payload = tcp + ((frame[tcp + 12] >> 4) * 4);
            return payload <= ip + total && ip + total <= frame.Length;
        }

        private void Observe(ReadOnlySpan<byte> frame, in PacketOffload offload)
        {
            if (Locate(frame, out int ip, out int tcp, out int payload))
            {
                uint seq = BinaryPrimitives.ReadUInt32BigEndian(frame[(tcp + 4)..]);
                if ((frame[tcp + 13] & 0x02) != 0)
                {
                    _kernelIsn = seq;
                }
                else if (offload.Segmentation == SegmentationKind.TcpV4)
                {
                    int end = ip + BinaryPrimitives.ReadUInt16BigEndian(frame[(ip + 2)..]);
                    int length = end - payload;
                    SuperSegments++;
                    SuperSegmentBytes += length;
                    Largest = Math.Max(Largest, length);
                    SegmentSize = offload.SegmentSize;
                    long offset = (uint)(seq - _kernelIsn - 1);
                    for (int i = 0; i < length; i++)
                    {
                        Mismatches += frame[payload + i] == (byte)((offset + i) % 251) ? 0 : 1;
                    }

                    Checked += length;
                }
            }

            _handler!(frame, offload);
        }
    }

    // The union of [seq, seq + length) over the segments (tshark's relative sequence numbers).
    private static long CoveredBytes(IEnumerable<CapturedSegment> segments)
    {
        long covered = 0;
        long end = long.MinValue;
        foreach (CapturedSegment s in segments.Where(static s => s.Length > 0).OrderBy(static s => s.Sequence))
        {
            long start = Math.Max(s.Sequence, end);
            long stop = s.Sequence + s.Length;
            if (stop > start)
            {
                covered += stop - start;
                end = stop;
            }
        }

        return covered;
    }
}
