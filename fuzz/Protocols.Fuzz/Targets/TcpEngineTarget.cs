using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Tcp.Engine;
using Protocols.Tcp.Testing;
using Protocols.Wire;

namespace Protocols.Fuzz.Targets;

/// <summary>
/// One TCP connection (the sans-IO <see cref="TcpControlBlock"/>, opened actively) against a
/// fuzzed peer: the input is a script of segments (sequence and acknowledgment numbers relative to
/// the connection's state or raw, any flags, window, timestamps, MSS and window scale, SACK blocks,
/// payload) each followed by an application call or a clock step (send, receive, close, abort,
/// half-close, ICMP errors, timers). After every step the invariants shared with the engine's
/// randomized test hold (<see cref="TcpInvariants"/>), and every segment the TCB sends encodes to
/// bytes that parse back to the same segment with a valid checksum.
/// </summary>
internal static class TcpEngineTarget
{
    private const int MaxSteps = 400;
    private const string Context = "tcp-engine";
    private static readonly byte[] Secret = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
    private static readonly TcpFourTuple Tuple = new(Ipv4Address.Create(10, 0, 0, 1), 40000, Ipv4Address.Create(10, 0, 0, 2), 80);
    private static readonly byte[] Payload = new byte[4096];
    private static readonly byte[] ReadBuffer = new byte[4096];

    public static void Run(ReadOnlySpan<byte> bytes)
    {
        var input = new FuzzInput(bytes);
        byte config = input.Byte();
        var options = TcpConnectionOptions.Default with
        {
            ReceiveBufferSize = 1 + (input.UInt16() * 2),
            SendBufferSize = 1 + (input.UInt16() * 2),
            NoDelay = (config & 1) != 0,
            SackPermitted = (config & 2) != 0,
            Timestamps = (config & 4) == 0,
            WindowScaling = (config & 8) == 0,
            KeepAlive = new TcpKeepAliveOptions { Idle = TimeSpan.FromSeconds(1) },
        };
        var output = new CheckedOutput();
        var env = new TcpEngineEnvironment(output, new IsnGenerator(Secret), new Random(1));
        var tcb = new TcpControlBlock(Tuple, options, env);
        output.Tcb = tcb;
        long now = 1_000_000;
        var peer = new Peer();
        tcb.OpenActive(now);
        if ((config & 0x10) == 0)
        {
            Establish(tcb, output, ref input, ref now, peer);
        }

        var invariants = new TcpInvariants(tcb);
        output.Invariants = invariants;
        for (int step = 0; step < MaxSteps && !input.IsEmpty; step++)
        {
            invariants.BeginStep();
            Segment(tcb, output, ref input, now, peer);
            Action(tcb, invariants, ref input, ref now);
            tcb.TakeEvents();
            _ = tcb.GetInfo(now);
            invariants.EndStep(Context);
        }

        invariants.BeginStep();
        now = invariants.CheckQuiet(now, Context); // every timer eventually ends the connection or goes quiet
        invariants.EndStep(Context);
    }

    /// <summary>Answers the SYN with a SYN-ACK carrying fuzzed options; the connection must then be established.</summary>
    private static void Establish(TcpControlBlock tcb, CheckedOutput output, ref FuzzInput input, ref long now, Peer peer)
    {
        byte flags = input.Byte();
        ushort window = input.UInt16();
        var o = new TcpOptions { Mss = input.UInt16() };
        if ((flags & 1) != 0)
        {
            o.WindowScale = input.Byte();
        }

        if ((flags & 2) != 0 && output.LastTsVal is uint tsEcr)
        {
            o.Timestamps = new TcpTimestamps(peer.TsVal, tsEcr);
        }

        o.SackPermitted = (flags & 4) != 0;
        now += 10_000;
        tcb.OnSegment(new TcpSegment(peer.Iss, tcb.Iss + 1, TcpFlags.Syn | TcpFlags.Ack, window, o, default), now);
        peer.Seq = peer.Iss + 1;
        Check.True(tcb.State == TcpState.Established, $"tcp-engine: a valid SYN-ACK left the connection {tcb.State}");
        tcb.TakeEvents();
    }

    private static void Segment(TcpControlBlock tcb, CheckedOutput output, ref FuzzInput input, long now, Peer peer)
    {
        byte mode = input.Byte();
        SeqNum seq = (mode & 3) switch
        {
            0 => peer.Seq + (short)input.UInt16(),
            1 => new SeqNum(input.UInt32()),
            _ => tcb.RcvNxt,
        };
        int inFlight = Math.Max(tcb.SndMax - tcb.SndUna, 0);
        SeqNum ack = ((mode >> 2) & 3) switch
        {
            0 => tcb.SndUna + (short)input.UInt16(),
            1 => new SeqNum(input.UInt32()),
            _ => tcb.SndUna + (int)(input.UInt16() % (uint)(inFlight + 1)), // acceptable: partial and full ACKs
        };
        var flags = (TcpFlags)input.Byte();
        ushort window = input.UInt16();
        var o = default(TcpOptions);
        if ((mode & 0x10) != 0)
        {
            // RFC 7323: an echo of our last TSval and a peer clock that mostly moves forward.
            byte ts = input.Byte();
            peer.TsVal = (ts & 1) != 0 ? input.UInt32() : peer.TsVal + (uint)(ts >> 1);
            o.Timestamps = new TcpTimestamps(peer.TsVal, (ts & 0x80) != 0 ? input.UInt32() : output.LastTsVal ?? 0);
        }

        if ((mode & 0x20) != 0)
        {
            o.Mss = input.UInt16();
            o.WindowScale = input.Byte();
        }

        if ((mode & 0x40) != 0)
        {
            // RFC 2018 3: blocks near what is in flight.
            int blocks = 1 + (input.Byte() % 3);
            for (int i = 0; i < blocks; i++)
            {
                SeqNum left = tcb.SndUna + (input.UInt16() % (inFlight + 2));
                o.TryAddSackBlock(new TcpSackBlock(left.Value, (left + input.UInt16()).Value));
            }
        }

        int length = (mode & 0x80) != 0 ? input.UInt16() % (Payload.Length + 1) : 0;
        tcb.OnSegment(new TcpSegment(seq, ack, flags, window, o, Payload.AsSpan(0, length)), now);
        if (seq == peer.Seq)
        {
            peer.Seq = seq + length + ((flags & TcpFlags.Syn) != 0 ? 1 : 0) + ((flags & TcpFlags.Fin) != 0 ? 1 : 0);
        }
    }

    private static void Action(TcpControlBlock tcb, TcpInvariants invariants, ref FuzzInput input, ref long now)
    {
        byte action = input.Byte();
        switch (action & 7)
        {
            case 0:
                int sent = tcb.Send(Payload.AsSpan(0, input.UInt16() % (Payload.Length + 1)), now);
                Check.True(sent >= 0, $"tcp-engine: Send returned {sent}");
                break;
            case 1:
                int length = input.UInt16() % (ReadBuffer.Length + 1);
                int read = tcb.Receive(ReadBuffer.AsSpan(0, length), now);
                Check.True(read <= length, $"tcp-engine: Receive returned {read} for a {length}-byte buffer");
                break;
            case 2:
                now = invariants.AdvanceTimers(now, now + (input.UInt16() * 64L), Context);
                break;
            case 3:
                tcb.CompleteWrites(now);
                break;
            case 4 when (action & 0xf0) == 0:
                tcb.Close(now);
                break;
            case 5:
                // From the network: a quoted sequence number near SND.UNA (in or out of the window) or anywhere.
                var type = (IcmpType)((action >> 3) & 1) switch { 0 => IcmpType.DestinationUnreachable, _ => IcmpType.TimeExceeded };
                byte code = input.Byte();
                ushort mtu = input.UInt16();
                if ((action & 0x10) != 0)
                {
                    tcb.OnIcmpError(type, code, mtu, now);
                }
                else
                {
                    SeqNum quoted = (action & 0x20) != 0 ? new SeqNum(input.UInt32()) : tcb.SndUna + ((short)input.UInt16() % 3000);
                    tcb.OnIcmpError(type, code, mtu, quoted, now);
                }

                break;
            case 6 when (action & 0xf0) == 0x10:
                tcb.Abort(now);
                break;
            default:
                break;
        }
    }

    /// <summary>The peer's side of the script: its ISS, next sequence number and timestamp clock.</summary>
    private sealed class Peer
    {
        public SeqNum Iss { get; } = new(5000);

        public SeqNum Seq { get; set; }

        public uint TsVal { get; set; } = 100;
    }

    /// <summary>
    /// Takes what the TCB sends: reports it to the invariants, and checks that it encodes to a TCP
    /// segment that parses back to the same fields with a valid checksum.
    /// </summary>
    private sealed class CheckedOutput : ITcpSegmentOutput
    {
        private readonly byte[] _wire = new byte[TcpHeader.FixedLength + TcpOptions.MaxLength + 65536];

        public TcpControlBlock? Tcb { get; set; }

        public TcpInvariants? Invariants { get; set; }

        public uint? LastTsVal { get; private set; }

        public void Send(in TcpFourTuple tuple, in TcpOutgoingSegment segment, ReadOnlySpan<byte> payload1, ReadOnlySpan<byte> payload2)
        {
            Invariants?.OnSend(segment, payload1.Length + payload2.Length);
            if (segment.Options.Timestamps is TcpTimestamps ts)
            {
                LastTsVal = ts.TsVal;
            }

            int length = segment.Write(_wire, tuple, payload1, payload2);
            ReadOnlySpan<byte> bytes = _wire.AsSpan(0, length);
            Check.True(TcpSegment.TryParse(bytes, out TcpSegment parsed, out TcpHeader.Reader reader), $"tcp-engine: a sent segment does not parse: {segment}");
            uint pseudo = Checksum.PseudoHeaderSum(tuple.LocalAddress, tuple.RemoteAddress, (byte)IpProtocol.Tcp, length);
            Check.True(reader.VerifyChecksum(pseudo), $"tcp-engine: a sent segment has a bad checksum: {segment}");
            Check.True(reader.SourcePort == tuple.LocalPort && reader.DestinationPort == tuple.RemotePort, $"tcp-engine: a sent segment has ports {reader.SourcePort} > {reader.DestinationPort}");
            Check.True(parsed.Seq == segment.Seq && parsed.Ack == segment.Ack && parsed.Flags == segment.Flags && parsed.Window == segment.Window, $"tcp-engine: a sent segment reads back as {parsed.Seq} {parsed.Ack} {parsed.Flags}: {segment}");
            Check.Equal(segment.Options, parsed.Options, "tcp-engine: sent options read back");
            Check.True(parsed.Payload.Length == payload1.Length + payload2.Length && parsed.Payload.StartsWith(payload1) && parsed.Payload[payload1.Length..].SequenceEqual(payload2), "tcp-engine: sent payload read back");
        }
    }
}
