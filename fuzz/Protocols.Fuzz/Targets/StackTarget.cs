using System.Buffers.Binary;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Udp;
using Protocols.Wire;

namespace Protocols.Fuzz.Targets;

/// <summary>
/// A whole <see cref="NetworkStack"/> (10.0.0.2, TCP echo on port 80, UDP echo on port 7) on a
/// simulated IP link, under virtual time, fed a script of packets from the peer (10.0.0.1): TCP
/// segments built from the input (ports, flags, window, raw option bytes, payload, fragment fields; sequence and
/// acknowledgment numbers relative to what the stack sent or raw; checksum right or wrong), raw
/// IPv4 packets, UDP datagrams, ICMP errors quoting a TCP segment, and clock steps. Nothing may
/// throw out of the stack's loop, no transport callback may throw (the stack counts those), and
/// every packet the stack sends is valid IPv4 with a correct checksum carrying a valid TCP, UDP or
/// ICMP message with a correct checksum.
/// </summary>
internal static class StackTarget
{
    private const int MaxSteps = 200;
    private static readonly Ipv4Address Peer = Ipv4Address.Create(10, 0, 0, 1);
    private static readonly Ipv4Address Address = Ipv4Address.Create(10, 0, 0, 2);
    private static readonly byte[] Packet = new byte[2048];
    private static readonly byte[] Transport = new byte[2048];

    public static void Run(ReadOnlySpan<byte> bytes)
    {
        var input = new FuzzInput(bytes);
        var sim = new NetworkSimulator(1);
        MemoryLink link = sim.Network.CreateLink(null, null, DeviceMedium.Ip, 1500, "wire");
        using NetworkStack stack = sim.AddStack(clock => new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 1, Name = "dut" }));
        stack.AddInterface(link.B, Address, 24);
        TcpLayer tcp = stack.UseTcp(new TcpStackOptions { Seed = 1, SynQueueLength = 4 });
        stack.UseUdp();
        TcpListener listener = tcp.Listen(80, 4);
        _ = sim.Start(() => AcceptLoop(sim, listener));
        UdpSocket udp = UdpSocket.Bind(stack, 7);
        _ = sim.Start(() => UdpEcho(udp));
        sim.RunPending();

        var state = new PeerState();
        LastRun = state;
        for (int step = 0; step < MaxSteps && !input.IsEmpty; step++)
        {
            int length = Build(ref input, state);
            if (length > 0)
            {
                link.A.TrySend(Packet.AsSpan(0, length));
            }

            sim.RunFor(TimeSpan.FromMilliseconds(input.Byte() * 20));
            Drain(link.A, state);
            Check.Equal(0L, stack.Counters.Snapshot().CallbackExceptions, "stack: a transport threw on the loop");
        }

        sim.RunFor(TimeSpan.FromMinutes(10));
        Drain(link.A, state);
        Check.Equal(0L, stack.Counters.Snapshot().CallbackExceptions, "stack: a transport threw on the loop");
        Check.True(tcp.GetConnections().Count <= 16, $"stack: {tcp.GetConnections().Count} connections from two peer ports");
    }

    private static async Task AcceptLoop(NetworkSimulator sim, TcpListener listener)
    {
        while (true)
        {
            TcpStream stream = await listener.AcceptAsync(CancellationToken.None);
            _ = sim.Start(() => Echo(stream));
        }
    }

    private static async Task Echo(TcpStream stream)
    {
        byte[] buffer = new byte[4096];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer)) > 0)
            {
                await stream.WriteAsync(buffer.AsMemory(0, n));
            }

            stream.CompleteWrites();
        }
        catch (IOException)
        {
            // Reset or timed out by the peer's script: the application sees an error, as it should.
        }
        finally
        {
            await stream.DisposeAsync();
        }
    }

    private static async Task UdpEcho(UdpSocket socket)
    {
        byte[] buffer = new byte[2048];
        while (true)
        {
            UdpReceiveResult received = await socket.ReceiveFromAsync(buffer);
            await socket.SendToAsync(buffer.AsMemory(0, received.BytesReceived), received.RemoteEndpoint);
        }
    }

    /// <summary>Writes the next packet of the script into <see cref="Packet"/>; returns its length (0: none).</summary>
    private static int Build(ref FuzzInput input, PeerState state)
    {
        byte kind = input.Byte();
        switch (kind % 8)
        {
            case 6:
                {
                    // Raw bytes as an IPv4 packet.
                    ReadOnlySpan<byte> raw = input.Bytes(input.UInt16() % 1500);
                    raw.CopyTo(Packet);
                    return raw.Length;
                }

            case 7:
                {
                    // A UDP datagram to the echo port or a closed one.
                    int length = input.UInt16() % 1400;
                    ushort port = (kind & 0x10) != 0 ? (ushort)9 : (ushort)7;
                    var udp = new UdpHeader { SourcePort = 5000, DestinationPort = port, Length = (ushort)(UdpHeader.FixedLength + length) };
                    udp.WriteTo(Transport);
                    Transport.AsSpan(UdpHeader.FixedLength, length).Fill(0x61);
                    if ((kind & 0x20) == 0)
                    {
                        UdpHeader.FillChecksum(Transport.AsSpan(0, UdpHeader.FixedLength + length), Checksum.PseudoHeaderSum(Peer, Address, UdpHeader.IpProtocolNumber, UdpHeader.FixedLength + length));
                    }

                    return Ip(IpProtocol.Udp, Transport.AsSpan(0, UdpHeader.FixedLength + length), (kind & 0x40) != 0 ? input.UInt16() : (ushort)0);
                }

            case 5:
                {
                    // RFC 792/1191: an ICMP error quoting a segment of one of the connections.
                    int tcpLength = Segment(ref input, state, Transport.AsSpan(28));
                    int quoted = Ipv4Packet.Write(Transport.AsSpan(8), new Ipv4Header { Version = 4, Ttl = 64, Protocol = IpProtocol.Tcp, Source = Address, Destination = Peer }, default, Transport.AsSpan(28, Math.Min(tcpLength, 8)).ToArray());
                    BinaryPrimitives.WriteUInt16BigEndian(Transport.AsSpan(10), (ushort)(20 + tcpLength)); // the original datagram's total length
                    Ipv4Header.FillChecksum(Transport.AsSpan(8, 20));
                    byte type = (kind & 0x10) != 0 ? (byte)IcmpType.TimeExceeded : (byte)IcmpType.DestinationUnreachable;
                    new IcmpHeader { Type = (IcmpType)type, Code = input.Byte(), RestOfHeader = input.UInt16() }.WriteTo(Transport);
                    IcmpHeader.FillChecksum(Transport.AsSpan(0, 8 + quoted));
                    return Ip(IpProtocol.Icmp, Transport.AsSpan(0, 8 + quoted), 0);
                }

            default:
                {
                    int tcpLength = Segment(ref input, state, Transport);
                    if ((kind & 0x80) == 0)
                    {
                        TcpHeader.FillChecksum(Transport.AsSpan(0, tcpLength), Checksum.PseudoHeaderSum(Peer, Address, (byte)IpProtocol.Tcp, tcpLength));
                    }

                    return Ip(IpProtocol.Tcp, Transport.AsSpan(0, tcpLength), (kind & 0x40) != 0 ? input.UInt16() : (ushort)0);
                }
        }
    }

    /// <summary>A TCP segment from the peer: from port 40000 or 40001 to 80 or a closed port; numbers relative to the conversation or raw.</summary>
    private static int Segment(ref FuzzInput input, PeerState state, Span<byte> destination)
    {
        byte mode = input.Byte();
        int conversation = mode & 1;
        ushort destinationPort = (mode & 2) != 0 ? (ushort)81 : (ushort)80;
        uint seq = (mode & 4) != 0 ? input.UInt32() : state.NextSeq[conversation] + (uint)(sbyte)input.Byte();
        uint ack = (mode & 8) != 0 ? input.UInt32() : state.StackNext[conversation] + (uint)(sbyte)input.Byte();
        var flags = (TcpFlags)input.Byte();
        ushort window = input.UInt16();
        int optionsLength = (mode & 0x10) != 0 ? (input.Byte() % 11) * 4 : 0;
        int payloadLength = (mode & 0x20) != 0 ? input.UInt16() % 1400 : 0;
        int headerLength = TcpHeader.FixedLength + optionsLength;
        var header = new TcpHeader
        {
            SourcePort = (ushort)(40000 + conversation),
            DestinationPort = destinationPort,
            SequenceNumber = seq,
            AcknowledgmentNumber = ack,
            DataOffset = (byte)(headerLength / 4),
            Window = window,
        };
        header.WriteTo(destination);
        var writer = new TcpHeader.Writer(destination);
        writer.SetFlags(flags);
        ReadOnlySpan<byte> options = input.Bytes(optionsLength);
        options.CopyTo(destination[TcpHeader.FixedLength..]);
        destination[(TcpHeader.FixedLength + options.Length)..headerLength].Clear();
        destination.Slice(headerLength, payloadLength).Fill(0x62);
        if ((mode & 0x40) == 0)
        {
            // The next segment follows this one.
            state.NextSeq[conversation] = seq + (uint)payloadLength + ((flags & TcpFlags.Syn) != 0 ? 1u : 0) + ((flags & TcpFlags.Fin) != 0 ? 1u : 0);
        }

        return headerLength + payloadLength;
    }

    /// <summary>An IPv4 packet around <paramref name="payload"/>; <paramref name="fragment"/> is MF (top bit) and the fragment offset (low 13 bits), as on the wire.</summary>
    private static int Ip(IpProtocol protocol, ReadOnlySpan<byte> payload, ushort fragment)
    {
        var header = new Ipv4Header { Version = 4, Ttl = 64, Protocol = protocol, Source = Peer, Destination = Address, Identification = 1, MoreFragments = (fragment & 0x8000) != 0, FragmentOffset = (ushort)(fragment & 0x1fff) };
        return Ipv4Packet.Write(Packet, header, default, payload);
    }

    /// <summary>Checks every packet the stack sent and remembers where its TCP conversations are.</summary>
    private static void Drain(MemoryDevice device, PeerState state)
    {
        device.Receive(frame => Sent(frame, state), int.MaxValue);
    }

    private static void Sent(ReadOnlySpan<byte> frame, PeerState state)
    {
        Check.True(Ipv4Header.TryRead(frame, out Ipv4Header.Reader ip, out WireError error), $"stack: sent a packet that is not IPv4: {error}");
        Check.True(ip.VerifyChecksum(), "stack: sent an IPv4 header with a bad checksum");
        Check.True(ip.Source == Address && ip.Destination == Peer, $"stack: sent {ip.Source} > {ip.Destination}");
        if (ip.MoreFragments || ip.FragmentOffset != 0)
        {
            return;
        }

        uint pseudo = Checksum.PseudoHeaderSum(ip.Source, ip.Destination, (byte)ip.Protocol, ip.Payload.Length);
        switch (ip.Protocol)
        {
            case IpProtocol.Tcp:
                Check.True(TcpHeader.TryRead(ip.Payload, out TcpHeader.Reader tcp, out WireError tcpError), $"stack: sent a bad TCP header: {tcpError}");
                Check.True(tcp.VerifyChecksum(pseudo), "stack: sent a TCP segment with a bad checksum");
                Check.True(tcp.TryParseOptions(out _, out WireError optionsError), $"stack: sent bad TCP options: {optionsError}");
                int conversation = tcp.DestinationPort - 40000;
                if (conversation is 0 or 1 && tcp.SourcePort == 80)
                {
                    state.StackNext[conversation] = tcp.SequenceNumber + (uint)tcp.Payload.Length + (tcp.Syn ? 1u : 0) + (tcp.Fin ? 1u : 0);
                    if (tcp.Syn && tcp.Ack)
                    {
                        state.NextSeq[conversation] = tcp.AcknowledgmentNumber;
                        state.SynAcks++;
                    }

                    state.TcpPayloadBytes += tcp.Payload.Length;
                }

                break;
            case IpProtocol.Udp:
                UdpParseStatus status = UdpPacket.Parse(ip.Payload, ip.Source, ip.Destination, false, out _);
                Check.True(status is UdpParseStatus.Valid or UdpParseStatus.ValidWithoutChecksum, $"stack: sent a UDP datagram that parses as {status}");
                state.UdpDatagrams++;
                break;
            case IpProtocol.Icmp:
                Check.True(IcmpHeader.TryRead(ip.Payload, out IcmpHeader.Reader icmp, out WireError icmpError), $"stack: sent a bad ICMP message: {icmpError}");
                Check.True(icmp.VerifyChecksum(), "stack: sent an ICMP message with a bad checksum");
                state.IcmpMessages++;
                break;
            default:
                throw new FuzzPropertyException($"stack: sent protocol {ip.Protocol}");
        }
    }

    /// <summary>What the stack sent in the last run (for the harness's own tests: the seeds reach the echo servers).</summary>
    internal static PeerState LastRun { get; private set; } = new();

    internal sealed class PeerState
    {
        public int SynAcks { get; set; }

        public long TcpPayloadBytes { get; set; }

        public int UdpDatagrams { get; set; }

        public int IcmpMessages { get; set; }

        public uint[] NextSeq { get; } = [1000, 2000];

        public uint[] StackNext { get; } = [0, 0];
    }
}
