using BenchmarkDotNet.Attributes;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Benchmarks;

/// <summary>
/// The receive path of one TCP segment through a whole stack: a frame comes out of a device,
/// the stack checks the link header and the IPv4 header (checksum included), the TCP layer checks
/// the segment (checksum, header, options), finds the connection by its four-tuple and hands the
/// segment to its control block. The segment is a pure ACK of an established connection with a
/// timestamps option, the commonest segment a sender receives; delivering it again and again
/// leaves the connection in the same state, so every operation does the same work.
/// </summary>
/// <remarks>
/// One operation is one frame: each invocation polls the stack once over a batch of
/// <see cref="Batch"/> copies of the frame, so the loop's fixed cost per poll is spread thin.
/// The allocation column must read 0: the steady-state input path allocates nothing.
/// Compare builds (a change against its base) by running this class from both in the same
/// session with benchmarks/compare.sh; on a loaded machine time it by CPU time (<see cref="CpuTimeConfig"/>).
/// </remarks>
[MemoryDiagnoser]
[Config(typeof(CpuTimeConfig))]
public class InputPathBenchmarks
{
    /// <summary>Frames per poll.</summary>
    public const int Batch = 64;

    private static readonly Ipv4Address Peer = Ipv4Address.Parse("10.0.0.1");
    private static readonly Ipv4Address Local = Ipv4Address.Parse("10.0.0.2");
    private static readonly MacAddress PeerMac = MacAddress.Create(2, 0, 0, 0, 0, 1);
    private static readonly MacAddress LocalMac = MacAddress.Create(2, 0, 0, 0, 0, 2);
    private const ushort PeerPort = 40000;
    private const ushort LocalPort = 80;

    private ReplayDevice _device = null!;
    private NetworkStack _stack = null!;
    private byte[] _ack = null!;

    /// <summary>Bare IP packets (a TUN device) or Ethernet frames (AF_PACKET).</summary>
    [Params(DeviceMedium.Ip, DeviceMedium.Ethernet)]
    public DeviceMedium Medium { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _device = new ReplayDevice(Medium, LocalMac);
        _stack = new NetworkStack(new NetworkStackOptions { TimeProvider = new VirtualClock(), Name = "bench", Seed = 1 });
        _stack.AddInterface(_device, Local, 24);
        TcpLayer tcp = _stack.UseTcp(new TcpStackOptions { Seed = 1 });
        tcp.Listen(LocalPort);

        if (Medium == DeviceMedium.Ethernet)
        {
            // The peer asks for our address first, so the stack knows where to send its SYN-ACK.
            byte[] arp = new byte[EthernetHeader.FixedLength + ArpPacket.FixedLength];
            new EthernetHeader { Destination = MacAddress.Broadcast, Source = PeerMac, EtherType = EtherType.Arp }.WriteTo(arp);
            new ArpPacket
            {
                Operation = ArpOperation.Request,
                SenderHardwareAddress = PeerMac,
                SenderProtocolAddress = Peer,
                TargetProtocolAddress = Local,
            }.WriteTo(arp.AsSpan(EthernetHeader.FixedLength));
            Deliver(arp);
        }

        // The three-way handshake, with the options Linux sends.
        const uint peerIsn = 1_000_000;
        const uint peerTsVal = 5_000;
        Deliver(Segment(peerIsn, 0, TcpFlags.Syn, syn: true, peerTsVal, 0));
        if (!TryReadSent(out uint localIsn, out uint localTsVal))
        {
            throw new InvalidOperationException("The stack did not answer the SYN.");
        }

        _ack = Segment(peerIsn + 1, localIsn + 1, TcpFlags.Ack, syn: false, peerTsVal, localTsVal);
        Deliver(_ack);
        _device.Sent.Clear();

        // Steady state: the same pure ACK again must make the stack send nothing.
        Deliver(_ack);
        if (_device.Sent.Count != 0 || _stack.Counters.Snapshot().TotalDropped != 0)
        {
            throw new InvalidOperationException("The repeated ACK is not a no-op for the connection.");
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _stack.Dispose();
        _device.Dispose();
    }

    /// <summary>One frame in, one segment handed to the connection's control block.</summary>
    [Benchmark(OperationsPerInvoke = Batch)]
    public int TcpAckIn()
    {
        _device.Replay(_ack, Batch);
        return _stack.Poll();
    }

    private void Deliver(byte[] frame)
    {
        _device.Replay(frame, 1);
        _stack.Poll();
    }

    private bool TryReadSent(out uint isn, out uint tsVal)
    {
        isn = 0;
        tsVal = 0;
        foreach (byte[] frame in _device.Sent)
        {
            ReadOnlySpan<byte> packet = Medium == DeviceMedium.Ethernet ? frame.AsSpan(EthernetHeader.FixedLength) : frame;
            if (!Ipv4Header.TryRead(packet, out Ipv4Header.Reader ip) || ip.Protocol != IpProtocol.Tcp
                || !TcpHeader.TryRead(ip.Payload, out TcpHeader.Reader tcp) || !tcp.Syn)
            {
                continue;
            }

            isn = tcp.SequenceNumber;
            var options = new TcpOptionReader(tcp.Options);
            while (options.TryReadNext(out TcpOption option))
            {
                if (option.Kind == TcpOptionKind.Timestamps)
                {
                    tsVal = option.Timestamps.TsVal;
                }
            }

            return true;
        }

        return false;
    }

    private byte[] Segment(uint seq, uint ack, TcpFlags flags, bool syn, uint tsVal, uint tsEcr)
    {
        Span<byte> options = stackalloc byte[40];
        var writer = new TcpOptionWriter(options);
        if (syn)
        {
            writer.WriteMss(1460);
            writer.WriteSackPermitted();
            writer.WriteTimestamps(tsVal, tsEcr);
            writer.WriteNoOperation();
            writer.WriteWindowScale(7);
        }
        else
        {
            writer.WriteNoOperation();
            writer.WriteNoOperation();
            writer.WriteTimestamps(tsVal, tsEcr);
        }

        int optionsLength = writer.Complete();
        byte[] segment = new byte[TcpHeader.FixedLength + optionsLength];
        var header = new TcpHeader
        {
            SourcePort = PeerPort,
            DestinationPort = LocalPort,
            SequenceNumber = seq,
            AcknowledgmentNumber = ack,
            DataOffset = (byte)(segment.Length / 4),
            Window = 502,
            Flags = flags,
        };
        header.WriteTo(segment);
        options[..optionsLength].CopyTo(segment.AsSpan(TcpHeader.FixedLength));
        TcpHeader.FillChecksum(segment, Checksum.PseudoHeaderSum(Peer, Local, TcpHeader.IpProtocolNumber, segment.Length));

        int link = Medium == DeviceMedium.Ethernet ? EthernetHeader.FixedLength : 0;
        byte[] frame = new byte[link + Ipv4Header.FixedLength + segment.Length];
        if (link > 0)
        {
            new EthernetHeader { Destination = LocalMac, Source = PeerMac, EtherType = EtherType.Ipv4 }.WriteTo(frame);
        }

        Ipv4Packet.Write(frame.AsSpan(link), new Ipv4Header { Ttl = 64, DontFragment = true, Protocol = IpProtocol.Tcp, Source = Peer, Destination = Local }, default, segment);
        return frame;
    }

    /// <summary>A device whose receive side hands out the same frame a given number of times, and whose send side keeps what the stack sent.</summary>
    private sealed class ReplayDevice(DeviceMedium medium, MacAddress mac) : INetworkDevice
    {
        private byte[] _frame = [];
        private int _pending;

        public List<byte[]> Sent { get; } = [];

        public string Name => "replay0";

        public DeviceMedium Medium => medium;

        public int Mtu => 1500;

        public MacAddress HardwareAddress => medium == DeviceMedium.Ethernet ? mac : default;

        public DeviceCapabilities Capabilities => DeviceCapabilities.None;

        public void Replay(byte[] frame, int count)
        {
            _frame = frame;
            _pending = count;
        }

        public int Receive(FrameHandler handler, int maxFrames)
        {
            int n = Math.Min(maxFrames, _pending);
            for (int i = 0; i < n; i++)
            {
                handler(_frame);
            }

            _pending -= n;
            return n;
        }

        public bool TrySend(ReadOnlySpan<byte> frame)
        {
            Sent.Add(frame.ToArray());
            return true;
        }

        public void Flush()
        {
        }

        public ValueTask WaitForReceiveAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public void Dispose()
        {
        }
    }
}
