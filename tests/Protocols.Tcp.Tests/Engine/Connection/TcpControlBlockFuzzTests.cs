using Protocols.Tcp.Engine;
using Protocols.Tcp.Testing;

namespace Protocols.Tcp.Tests.Engine.Connection;

public class TcpControlBlockFuzzTests
{

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Hostile_segments_never_throw_in_any_state(int seed)
    {
        var random = new Random(seed);
        var payload = new byte[3000];
        TcpFlags[] interesting = [TcpFlags.Ack, TcpFlags.Ack | TcpFlags.Psh, TcpFlags.Syn, TcpFlags.Syn | TcpFlags.Ack, TcpFlags.Rst, TcpFlags.Rst | TcpFlags.Ack, TcpFlags.Fin | TcpFlags.Ack, TcpFlags.None, (TcpFlags)0xff];
        for (int round = 0; round < 40; round++)
        {
            var p = new EngineRecorder(TcpConnectionOptions.Default with { ReceiveBufferSize = 1 + random.Next(100_000), SendBufferSize = 1 + random.Next(100_000), KeepAlive = new TcpKeepAliveOptions { Idle = TimeSpan.FromSeconds(1) } });
            if (random.Next(4) > 0)
            {
                p.Establish(window: (ushort)random.Next(65536), mss: (ushort)random.Next(65536), windowScale: random.Next(3) == 0 ? (byte)random.Next(256) : null, timestamps: random.Next(2) == 0, sack: random.Next(3) > 0);
            }
            else
            {
                p.Tcb.OpenActive(p.Now);
            }

            // The invariants are shared with the tcp-engine fuzz target (fuzz/Protocols.Fuzz).
            var invariants = new TcpInvariants(p.Tcb);
            p.Output.OnSend = s => invariants.OnSend(s.Header, s.Payload.Length);
            for (int i = 0; i < 300; i++)
            {
                invariants.BeginStep();
                SeqNum seq = random.Next(3) switch
                {
                    0 => p.PeerSeq + random.Next(-70_000, 70_000),
                    1 => new SeqNum((uint)random.NextInt64(0, 1L << 32)),
                    _ => p.Tcb.RcvNxt,
                };
                SeqNum ack = random.Next(3) switch
                {
                    0 => p.Tcb.SndUna + random.Next(-70_000, 70_000),
                    1 => new SeqNum((uint)random.NextInt64(0, 1L << 32)),
                    _ => p.Tcb.SndUna + random.Next(Math.Max(p.Tcb.SndMax - p.Tcb.SndUna, 0) + 1), // acceptable: partial and full ACKs
                };
                TcpFlags flags = interesting[random.Next(interesting.Length)];
                var o = default(TcpOptions);
                if (random.Next(2) == 0)
                {
                    o.Timestamps = new TcpTimestamps((uint)random.NextInt64(0, 1L << 32), (uint)random.NextInt64(0, 1L << 32));
                }

                if (random.Next(5) == 0)
                {
                    o.Mss = (ushort)random.Next(65536);
                    o.WindowScale = (byte)random.Next(256);
                }

                // SACK blocks (RFC 2018): plausible ones over what was sent, D-SACK-like ones below
                // SND.UNA, and lies (inverted, beyond SND.MAX, anywhere).
                for (int b = random.Next(3) == 0 ? random.Next(5) : 0; b > 0; b--)
                {
                    int inFlight = Math.Max(p.Tcb.SndMax - p.Tcb.SndUna, 1);
                    SeqNum left = random.Next(4) switch
                    {
                        0 => p.Tcb.SndUna + random.Next(inFlight),
                        1 => p.Tcb.SndUna - random.Next(1, 5000),
                        2 => p.Tcb.SndMax + random.Next(-100, 5000),
                        _ => new SeqNum((uint)random.NextInt64(0, 1L << 32)),
                    };
                    SeqNum right = random.Next(5) == 0 ? left - random.Next(1, 3000) : left + random.Next(1, inFlight + 3000);
                    o.TryAddSackBlock(new TcpSackBlock(left.Value, right.Value));
                }

                int length = random.Next(4) == 0 ? random.Next(payload.Length) : 0;
                p.Tcb.OnSegment(new TcpSegment(seq, ack, flags, (ushort)random.Next(65536), o, payload.AsSpan(0, length)), p.Now);
                switch (random.Next(8))
                {
                    case 0:
                        p.Tcb.Send(payload.AsSpan(0, random.Next(payload.Length)), p.Now);
                        break;
                    case 1:
                        p.Tcb.Receive(payload.AsSpan(0, random.Next(payload.Length)), p.Now);
                        break;
                    case 2:
                        p.Now = invariants.AdvanceTimers(p.Now, p.Now + random.Next(3_000_000), Where(seed, round));
                        break;
                    case 3 when random.Next(20) == 0:
                        p.Tcb.CompleteWrites(p.Now);
                        break;
                    case 4 when random.Next(50) == 0:
                        p.Tcb.Close(p.Now);
                        break;
                    case 5 when random.Next(10) == 0:
                        p.Tcb.OnIcmpError(Protocols.Ip.IcmpType.DestinationUnreachable, (byte)random.Next(16), (ushort)random.Next(65536), p.Now);
                        // From the network: a quoted sequence number near SND.UNA (in or out of the window) or anywhere.
                        SeqNum quoted = random.Next(2) == 0 ? p.Tcb.SndUna + random.Next(-3, 3000) : new SeqNum((uint)random.NextInt64(1L << 32));
                        p.Tcb.OnIcmpError(Protocols.Ip.IcmpType.DestinationUnreachable, (byte)random.Next(16), (ushort)random.Next(65536), quoted, p.Now);
                        break;
                    default:
                        break;
                }

                p.Tcb.TakeEvents();
                p.Tcb.GetInfo(p.Now);
                p.Output.Take();
                invariants.EndStep(Where(seed, round));
            }

            p.Now = invariants.CheckQuiet(p.Now, Where(seed, round)); // every timer eventually ends the connection or goes quiet
        }
    }

    private static string Where(int seed, int round) => $"seed {seed} round {round}";
}
