using Protocols.Tcp.Engine;

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
            var p = new ScriptedPeer(TcpConnectionOptions.Default with { ReceiveBufferSize = 1 + random.Next(100_000), SendBufferSize = 1 + random.Next(100_000), KeepAlive = new TcpKeepAliveOptions { Idle = TimeSpan.FromSeconds(1) } });
            if (random.Next(4) > 0)
            {
                p.Establish(window: (ushort)random.Next(65536), mss: (ushort)random.Next(65536), windowScale: random.Next(3) == 0 ? (byte)random.Next(256) : null, timestamps: random.Next(2) == 0, sack: random.Next(3) > 0);
            }
            else
            {
                p.Tcb.OpenActive(p.Now);
            }

            // RFC 9293 3.10.7: every ACK we send acknowledges RCV.NXT as it is at that moment.
            var violations = new List<string>();
            p.Output.OnSend = s =>
            {
                if (!s.Has(TcpFlags.Rst) && s.Has(TcpFlags.Ack) && s.Header.Ack != p.Tcb.RcvNxt)
                {
                    violations.Add($"ACK {s.Header.Ack} sent while RCV.NXT = {p.Tcb.RcvNxt}: {s}");
                }
            };
            SeqNum? lastRcvNxt = null;
            for (int i = 0; i < 300; i++)
            {
                bool closedBefore = p.Tcb.State == TcpState.Closed;
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
                        AdvanceChecked(p, p.Now + random.Next(3_000_000));
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
                List<SentSegment> sent = p.Output.Take();
                string where = $"seed {seed} round {round} step {i}: {p.Tcb}";
                Assert.True(violations.Count == 0, $"{where}: {string.Join("; ", violations)}");

                // The send sequence space stays ordered (RFC 9293 3.3.1): SND.UNA <= SND.NXT <= SND.MAX.
                Assert.True(p.Tcb.SndUna <= p.Tcb.SndNxt && p.Tcb.SndNxt <= p.Tcb.SndMax, where);

                // Nothing but a RST goes beyond what was sent: SEG.SEQ + SEG.LEN <= SND.MAX.
                foreach (SentSegment s in sent.Where(s => !s.Has(TcpFlags.Rst)))
                {
                    int sentLength = s.Payload.Length + (s.Has(TcpFlags.Syn) ? 1 : 0) + (s.Has(TcpFlags.Fin) ? 1 : 0);
                    Assert.True(s.Header.Seq + sentLength <= p.Tcb.SndMax, $"{where}: {s}");
                }

                // A closed TCB only answers segments with RSTs (RFC 9293 3.10.7.1); its timers are gone.
                if (closedBefore)
                {
                    Assert.All(sent, s => Assert.True(s.Has(TcpFlags.Rst), $"{where}: {s}"));
                    Assert.Equal(long.MaxValue, p.Tcb.NextDeadlineMicros);
                }

                // RCV.NXT never moves backwards once the peer's ISN is known.
                if (p.Tcb.State is not (TcpState.Closed or TcpState.SynSent))
                {
                    SeqNum rcvNxt = p.Tcb.RcvNxt;
                    Assert.True(lastRcvNxt is not SeqNum last || rcvNxt >= last, $"{where}: RCV.NXT {lastRcvNxt} -> {rcvNxt}");
                    lastRcvNxt = rcvNxt;
                }

                // Unacknowledged data always has a retransmission or persist timer (RFC 6298 5.1).
                if (p.Tcb.State != TcpState.Closed && p.Tcb.SndMax != p.Tcb.SndUna)
                {
                    Assert.True(p.Tcb.SendTimerDeadlineMicros != long.MaxValue, $"{where}: data in flight and no timer");
                }
            }

            AdvanceChecked(p, p.Now + 1_000_000_000); // every timer eventually ends the connection or goes quiet
            Assert.True(p.Tcb.State is TcpState.Closed or TcpState.Established or TcpState.CloseWait or TcpState.FinWait2, p.Tcb.State.ToString());
        }
    }

    // Fires due timers up to `time`; after each OnTimer(t) no deadline may still be at or before t,
    // and a TCB that was closed emits nothing from its timers.
    private static void AdvanceChecked(ScriptedPeer p, long time)
    {
        while (p.Tcb.NextDeadlineMicros <= time)
        {
            p.Now = Math.Max(p.Now, p.Tcb.NextDeadlineMicros);
            bool closed = p.Tcb.State == TcpState.Closed;
            int before = p.Output.Sent.Count;
            p.Tcb.OnTimer(p.Now);
            Assert.True(p.Tcb.NextDeadlineMicros > p.Now, $"timer overdue after OnTimer({p.Now}): {p.Tcb.NextDeadlineMicros}, {p.Tcb}");
            Assert.True(!closed || p.Output.Sent.Count == before, $"a closed TCB sent from a timer: {p.Tcb}");
        }

        p.Now = time;
    }
}
