using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Protocols.Ip;
using Protocols.Tcp.Tests.Harness;
using Protocols.Tests.Shared;
using Xunit.Abstractions;
using static Protocols.Tcp.TcpFlags;
using static Protocols.Tcp.Tests.Harness.ScriptedPeer;

namespace Protocols.Tcp.Tests.Scripted;

/// <summary>
/// TIME-WAIT once the control block is gone: the layer's compact record answers the 4-tuple
/// (retransmitted FIN, PAWS, D-SACK, RFC 6191 SYNs) segment for segment as the control block did,
/// ignores every RST as the control block does (RFC 1337), restarts and ends the 2 MSL timeout,
/// frees the 4-tuple when it ends, keeps a held stream's state in step, and its table is bounded.
/// </summary>
public class TimeWaitRecordTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Ms = TimeSpan.FromMilliseconds(1);

    // Passive open with timestamps (peer TSval 100, 101), the server closes, the peer's FIN (TSval 102) puts it in TIME-WAIT.
    private static (TcpBed Bed, uint Iss, CapturedSegment TimeWaitAck, TcpListener Listener) TimeWaitWithTimestamps(ITestOutputHelper output, TcpStackOptions? stackOptions = null)
    {
        (TcpBed bed, uint iss, CapturedSegment ack, TcpListener listener, _) = TimeWaitWithTimestamps(output, holdStream: false);
        return (bed, iss, ack, listener);
    }

    // The same; with holdStream the server half-closes and keeps its stream (read to its end), else disposes it.
    private static (TcpBed Bed, uint Iss, CapturedSegment TimeWaitAck, TcpListener Listener, TcpStream Server) TimeWaitWithTimestamps(ITestOutputHelper output, bool holdStream, TcpStackOptions? stackOptions = null)
    {
        var bed = new TcpBed(output, stackOptions: stackOptions);
        (TcpStream server, CapturedSegment synAck, TcpListener listener) = bed.PassiveOpen(synOptions: Options(mss: Family.Mss, ws: 7, ts: (100, 0)), tsVal: 101);
        uint iss = synAck.Seq;
        Task<byte[]>? end = null;
        if (holdStream)
        {
            end = bed.Read(server);
            server.CompleteWrites();
        }
        else
        {
            server.Dispose();
        }

        CapturedSegment fin = bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero);
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 2, options: Options(ts: (102, fin.TsVal)));
        CapturedSegment ack = bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, at: TimeSpan.Zero, options: o => o.Timestamps is { TsEcr: 102 });
        if (end is not null)
        {
            Assert.Empty(bed.Complete(end));
        }

        return (bed, iss, ack, listener, server);
    }

    [Fact]
    public void The_record_re_acks_a_retransmitted_fin_as_the_control_block_did_and_restarts_two_msl()
    {
        (TcpBed bed, uint iss, CapturedSegment first, _) = TimeWaitWithTimestamps(output);
        Assert.Equal(1, bed.Tcp.TimeWaitCount); // the control block is gone: the record holds TIME-WAIT
        Assert.Equal(1, bed.Tcp.ConnectionCount);
        TcpConnectionInfo row = bed.Connection!;
        Assert.Equal(TcpState.TimeWait, row.State);
        Assert.Equal("timewait", row.ActiveTimer);
        Assert.Equal(TimeSpan.FromSeconds(60), row.ActiveTimerRemaining);

        // RFC 9293 3.10.7.4: the retransmitted FIN is unacceptable (below RCV.NXT), so TS.Recent
        // stays 102; it is acknowledged with the same window and our clock 30 s later.
        bed.RunFor(TimeSpan.FromSeconds(30));
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 2, options: Options(ts: (30_102, first.TsVal)));
        CapturedSegment again = bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, window: first.Window, length: 0, at: TimeSpan.Zero, options: o => o.Timestamps is { TsEcr: 102 });
        Assert.Equal(first.TsVal + 30_000, again.TsVal);

        // The 2 MSL timeout restarted with the retransmitted FIN.
        bed.RunFor(TimeSpan.FromSeconds(60) - Ms);
        Assert.Equal(TcpState.TimeWait, bed.State);
        bed.RunFor(Ms);
        Assert.Equal(TcpState.Closed, bed.State);
        Assert.Equal(0, bed.Tcp.TimeWaitCount);
        Assert.Equal(0, bed.Tcp.ConnectionCount);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(1), "leaving TIME_WAIT is silent");

        // The 4-tuple is free: the listener answers a stray ACK with a RST (RFC 9293 3.10.7.2).
        bed.Peer.Send(Ack, seq: 1002, ack: iss + 2, options: Options(ts: (90_000, again.TsVal)));
        bed.Peer.Expect(Rst, seq: iss + 2, at: TimeSpan.Zero);
    }

    [Fact]
    public void Paws_in_the_record_acks_old_data_and_drops_an_old_pure_ack()
    {
        (TcpBed bed, uint iss, CapturedSegment first, _) = TimeWaitWithTimestamps(output);
        long paws = bed.Tcp.Counters.PawsRejected;

        // RFC 7323 5.3 R1: TSval 50 is older than TS.Recent 102.
        bed.Peer.Send(Ack, seq: 1002, ack: iss + 2, options: Options(ts: (50, first.TsVal)), payload: "old"u8);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, length: 0, at: TimeSpan.Zero, options: o => o.Timestamps is { TsEcr: 102 });
        bed.Peer.Send(Ack, seq: 1002, ack: iss + 2, options: Options(ts: (50, first.TsVal)));
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(1), "an old pure ACK is dropped");
        Assert.Equal(paws + 2, bed.Tcp.Counters.PawsRejected);
        Assert.Equal(TcpState.TimeWait, bed.State);
    }

    [Fact]
    public void Every_reset_is_ignored_in_time_wait_so_none_can_end_it_early()
    {
        (TcpBed bed, uint iss, CapturedSegment first, _) = TimeWaitWithTimestamps(output);
        TcpCounters counters = bed.Tcp.Counters;
        (long challenges, long resets) = (counters.ChallengeAcksSent, counters.ResetsReceived);

        // RFC 1337 3 (TW1): at RCV.NXT (RFC 9293 alone would delete the connection), in the window
        // (RFC 5961 alone would draw a challenge ACK), outside it, and with a newer timestamp: no
        // answer, no change.
        bed.RunFor(TimeSpan.FromSeconds(10));
        bed.Peer.Send(Rst, seq: 1002);
        bed.Peer.Send(Rst | Ack, seq: 1002, ack: iss + 2, options: Options(ts: (9_000, first.TsVal)));
        bed.Peer.Send(Rst, seq: 1002 + 100);
        bed.Peer.Send(Rst, seq: 1002 + (1u << 30));
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(1), "a reset in TIME-WAIT is never answered");
        Assert.Equal(1, bed.Tcp.TimeWaitCount);
        TcpConnectionInfo row = bed.Connection!;
        Assert.Equal(TcpState.TimeWait, row.State);
        Assert.Equal(TimeSpan.FromSeconds(49), row.ActiveTimerRemaining); // the 2 MSL deadline did not move
        Assert.Equal(challenges, counters.ChallengeAcksSent);
        Assert.Equal(resets, counters.ResetsReceived);

        // The record still answers as before: TS.Recent is still 102 (the resets' TSval 9000 was not taken).
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 2, options: Options(ts: (11_102, first.TsVal)));
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, window: first.Window, length: 0, at: TimeSpan.Zero, options: o => o.Timestamps is { TsEcr: 102 });
    }

    [Fact]
    public void A_control_block_still_in_time_wait_ignores_a_reset_as_the_record_does()
    {
        // The server closes first; the peer's data and FIN arrive unread, so the control block
        // keeps TIME-WAIT (nothing is handed to a record while the application has data to read).
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen();
        uint iss = synAck.Seq;
        server.CompleteWrites();
        bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero);
        bed.Peer.Send(Fin | Ack | Psh, seq: 1001, ack: iss + 2, payload: "hello"u8);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1007, at: TimeSpan.Zero);
        Assert.Equal(TcpState.TimeWait, server.State);
        Assert.Equal(0, bed.Tcp.TimeWaitCount);
        long resets = bed.Tcp.Counters.ResetsReceived;

        // RFC 1337 3 (TW1): a reset at RCV.NXT, and one in the window, change nothing and get no answer.
        bed.Peer.Send(Rst, seq: 1007);
        bed.Peer.Send(Rst, seq: 1007 + 100);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(1), "a reset in TIME-WAIT is never answered");
        Assert.Equal(TcpState.TimeWait, server.State);
        Assert.Equal(TcpState.TimeWait, bed.State);
        Assert.Equal(resets, bed.Tcp.Counters.ResetsReceived);
        Assert.Equal("hello"u8.ToArray(), bed.Complete(bed.Read(server)));
    }

    [Fact]
    public void The_row_of_a_record_shows_the_connections_mss_and_zero_for_what_time_wait_does_not_keep()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: Options(mss: 1000, ws: 7));
        uint iss = synAck.Seq;
        Assert.Equal(1000, bed.Connection!.Mss);
        server.Dispose();
        bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1001, at: TimeSpan.Zero);
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 2);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, at: TimeSpan.Zero);
        Assert.Equal(1, bed.Tcp.TimeWaitCount);

        TcpConnectionInfo row = bed.Connection!;
        Assert.Equal(TcpState.TimeWait, row.State);
        Assert.Equal(1000, row.Mss);
        Assert.True(row.ReceiveWindow > 0);
        Assert.Equal((TimeSpan.Zero, TimeSpan.Zero, 0L, 0, 0), (row.Rto, row.SmoothedRtt, row.CongestionWindow, row.SendQueue, row.ReceiveQueue));
        Assert.StartsWith("TIME-WAIT 0 0 ", row.ToString(), StringComparison.Ordinal);
        Assert.Contains(" timer:(timewait,60000ms) ", row.ToString(), StringComparison.Ordinal);
        Assert.Contains(" mss:1000 ", row.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void A_held_stream_reads_time_wait_as_long_as_the_record_lasts_when_a_retransmitted_fin_restarts_it()
    {
        (TcpBed bed, uint iss, CapturedSegment first, _, TcpStream server) = TimeWaitWithTimestamps(output, holdStream: true);
        Assert.Equal(1, bed.Tcp.TimeWaitCount);

        // 30 s in, the peer's FIN again: the record's 2 MSL restart (RFC 9293 3.10.7.4), and the stream's with it.
        bed.RunFor(TimeSpan.FromSeconds(30));
        bed.Peer.Send(Fin | Ack, seq: 1001, ack: iss + 2, options: Options(ts: (30_102, first.TsVal)));
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, at: TimeSpan.Zero);
        bed.RunFor(TimeSpan.FromSeconds(60) - Ms);
        Assert.Equal(1, bed.Tcp.TimeWaitCount);
        Assert.Equal(TcpState.TimeWait, server.State);
        bed.RunFor(Ms);
        Assert.Equal(0, bed.Tcp.TimeWaitCount);
        Assert.Equal(TcpState.Closed, server.State);
        server.Dispose();
    }

    [Fact]
    public void A_held_stream_reads_closed_once_a_new_syn_replaces_its_record()
    {
        (TcpBed bed, _, _, TcpListener listener, TcpStream server) = TimeWaitWithTimestamps(output, holdStream: true);
        Assert.Equal(TcpState.TimeWait, server.State);

        // RFC 6191 2: a newer timestamp opens a new connection on the 4-tuple; the old incarnation is over.
        Task<TcpStream> accept = bed.Start(async () => await listener.AcceptAsync(CancellationToken.None));
        bed.Peer.Send(Syn, seq: 7, options: Options(mss: Family.Mss, ws: 7, ts: (5000, 0)));
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, ack: 8, at: TimeSpan.Zero);
        Assert.Equal(0, bed.Tcp.TimeWaitCount);
        Assert.Equal(TcpState.Closed, server.State);
        bed.Peer.Send(Ack, seq: 8, ack: synAck.Seq + 1, options: Options(ts: (5001, synAck.TsVal)));
        using TcpStream next = bed.Complete(accept);
        Assert.Equal(TcpState.Established, next.State);
        Assert.Equal(TcpState.Closed, server.State);
        server.Dispose();
    }

    [Fact]
    public void Data_that_comes_again_in_time_wait_is_acked_with_a_dsack_block()
    {
        var bed = new TcpBed(output);
        (TcpStream server, CapturedSegment synAck, _) = bed.PassiveOpen(synOptions: Options(mss: Family.Mss, ws: 7, sackOk: true));
        uint iss = synAck.Seq;
        Task<byte[]> read = bed.Read(server);
        bed.Peer.Send(Ack | Psh, seq: 1001, ack: iss + 1, payload: "hello"u8);
        bed.Peer.Expect(Ack, seq: iss + 1, ack: 1006, length: 0, at: TimeSpan.Zero);
        Assert.Equal("hello"u8.ToArray(), bed.Complete(read));
        server.Dispose();
        bed.Peer.Expect(Fin | Ack, seq: iss + 1, ack: 1006, at: TimeSpan.Zero);
        bed.Peer.Send(Fin | Ack, seq: 1006, ack: iss + 2);
        CapturedSegment first = bed.Peer.Expect(Ack, seq: iss + 2, ack: 1007, at: TimeSpan.Zero, options: o => o.SackBlockCount == 0);
        Assert.Equal(1, bed.Tcp.TimeWaitCount);
        long dsacks = bed.Tcp.Counters[TcpCounter.DsacksSent];

        // The peer missed our ACKs and resends the data with its FIN: RFC 2883 4's D-SACK names the duplicate.
        bed.Peer.Send(Fin | Ack | Psh, seq: 1001, ack: iss + 2, payload: "hello"u8);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1007, window: first.Window, at: TimeSpan.Zero, options: o => o.SackBlocks.Length == 1 && o.SackBlocks[0] == new TcpSackBlock(1001, 1006));
        Assert.Equal(dsacks + 1, bed.Tcp.Counters[TcpCounter.DsacksSent]);

        // A pure duplicate ACK gets nothing; one acknowledging beyond what we sent gets a challenge ACK (RFC 5961 5.2).
        bed.Peer.Send(Ack, seq: 1007, ack: iss + 2);
        bed.Peer.ExpectNothing(TimeSpan.FromSeconds(1));
        bed.Peer.Send(Ack, seq: 1007, ack: iss + 100);
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1007, at: TimeSpan.Zero, options: o => o.SackBlockCount == 0);
    }

    [Fact]
    public void A_syn_with_a_newer_timestamp_replaces_the_record_and_an_in_window_old_one_gets_a_challenge_ack()
    {
        (TcpBed bed, uint iss, CapturedSegment first, TcpListener listener) = TimeWaitWithTimestamps(output);

        // Timestamp not newer, sequence number in the window: RFC 5961 4.2's challenge ACK.
        bed.Peer.Send(Syn, seq: 1002 + 10, options: Options(mss: Family.Mss, ws: 7, ts: (102, 0)));
        bed.Peer.Expect(Ack, seq: iss + 2, ack: 1002, at: TimeSpan.Zero, options: o => o.Timestamps is { TsEcr: 102 });
        Assert.Equal(1, bed.Tcp.TimeWaitCount);

        // RFC 6191 2: a newer timestamp opens a new connection on the 4-tuple.
        Task<TcpStream> accept = bed.Start(async () => await listener.AcceptAsync(CancellationToken.None));
        bed.Peer.Send(Syn, seq: 7, options: Options(mss: Family.Mss, ws: 7, ts: (5000, 0)));
        CapturedSegment synAck = bed.Peer.Expect(Syn | Ack, ack: 8, at: TimeSpan.Zero, options: o => o.Timestamps is { TsEcr: 5000 });
        Assert.Equal(0, bed.Tcp.TimeWaitCount);
        bed.Peer.Send(Ack, seq: 8, ack: synAck.Seq + 1, options: Options(ts: (5001, synAck.TsVal)));
        bed.Complete(accept);
        Assert.Equal(TcpState.Established, bed.State);
        Assert.Equal(1, bed.Tcp.Counters.TimeWaitRecycled);
    }

    [Fact]
    public void The_table_holds_at_most_max_time_wait_records_and_past_it_a_connection_closes_at_once()
    {
        var net = new TcpStackPair(seed: 91, tcpB: new TcpStackOptions { Seed = 92, Name = "tw-bound", MaxTimeWait = 2 });
        using TcpListener listener = net.TcpB.Listen(80);
        var servers = new List<TcpStream>();
        net.Run(async () =>
        {
            for (int i = 0; i < 4; i++)
            {
                Task<TcpStream> accept = listener.AcceptAsync();
                TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 80));
                TcpStream server = await accept;
                server.CompleteWrites(); // the server closes first and would keep TIME-WAIT; it keeps its stream
                Assert.Equal(0, await client.ReadAsync(new byte[1]));
                client.Dispose();
                Assert.Equal(0, await server.ReadAsync(new byte[1]));
                servers.Add(server);
                await Task.Delay(TimeSpan.FromSeconds(1), net.Sim.Clock);
            }
        });

        // The first two are in the table; the other two closed at once.
        Assert.Equal([TcpState.TimeWait, TcpState.TimeWait, TcpState.Closed, TcpState.Closed], servers.Select(s => s.State));
        servers.ForEach(s => s.Dispose());
        net.Settle();

        Assert.Equal(2, net.TcpB.TimeWaitCount);
        Assert.Equal(2, net.TcpB.Counters.TimeWaitOverflows);
        Assert.Equal(2, net.TcpB.ConnectionCount);
        Assert.Equal(2, net.TcpB.GetConnections().Count(r => r.State == TcpState.TimeWait));
        Assert.Equal(0, net.TcpA.ConnectionCount);
    }

    [Fact]
    public void A_record_keeps_its_ephemeral_port_until_two_msl_have_passed()
    {
        var net = new TcpStackPair(seed: 93, tcpA: new TcpStackOptions { Seed = 94, Name = "tw-port", EphemeralPortFirst = 40000, EphemeralPortLast = 40000 });
        using TcpListener listener = net.TcpB.Listen(80);
        var remote = new IpEndpoint(TcpStackPair.AddressB, 80);
        net.Run(async () =>
        {
            Task<TcpStream> accept = listener.AcceptAsync();
            TcpStream client = await net.TcpA.ConnectAsync(remote);
            TcpStream server = await accept;
            client.Dispose(); // the client closes first and keeps TIME-WAIT
            Assert.Equal(0, await server.ReadAsync(new byte[1]));
            server.Dispose();
            await Task.Delay(TimeSpan.FromSeconds(1), net.Sim.Clock);
            Assert.Equal(1, net.TcpA.TimeWaitCount);

            // The only ephemeral port is held by the record.
            TcpException e = await Assert.ThrowsAsync<TcpException>(() => net.TcpA.ConnectAsync(remote));
            Assert.Equal(SocketError.AddressNotAvailable, e.SocketErrorCode);

            // 2 MSL after the last FIN the port is free again.
            await Task.Delay(TimeSpan.FromSeconds(60), net.Sim.Clock);
            Assert.Equal(0, net.TcpA.TimeWaitCount);
            accept = listener.AcceptAsync();
            TcpStream again = await net.TcpA.ConnectAsync(remote);
            Assert.Equal(40000, again.LocalEndPoint.Port);
            (await accept).Dispose();
            again.Dispose();
        },
        TimeSpan.FromMinutes(5));
    }

    [Fact]
    public void Once_time_wait_is_a_record_the_control_block_is_garbage_and_a_held_stream_reads_closed_after_two_msl()
    {
        var net = new TcpStackPair(seed: 95);
        using TcpListener listener = net.TcpB.Listen(80);
        TcpStream? held = null;
        WeakReference controlBlock = OpenAndClose(net, listener, s => held = s);
        Assert.Equal(1, net.TcpB.TimeWaitCount);

        // The server's stream was disposed: nothing but the record remembers the connection.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(controlBlock.IsAlive, "the TIME-WAIT record keeps no reference to the control block");

        // The client keeps its stream: it reads CLOSED, as the control block did.
        Assert.Equal(TcpState.Closed, held!.State);
        Assert.Equal(0, net.TcpA.ConnectionCount);
    }

    [Fact]
    public void A_stream_held_into_time_wait_then_disposed_leaves_its_control_block_to_the_garbage_collector()
    {
        var net = new TcpStackPair(seed: 96);
        using TcpListener listener = net.TcpB.Listen(80);
        WeakReference controlBlock = HoldIntoTimeWaitThenDispose(net, listener);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(controlBlock.IsAlive, "the record keeps the control block only while its stream is open");
        Assert.Equal(1, net.TcpB.TimeWaitCount);
    }

    // The server closes first and keeps its stream until its connection is a TIME-WAIT record, then disposes it.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference HoldIntoTimeWaitThenDispose(TcpStackPair net, TcpListener listener) => net.Run(async () =>
    {
        TcpStream server = await ServerHeldIntoTimeWaitAsync(net, listener);
        var weak = new WeakReference(server.Connection.Tcb);
        server.Dispose();
        await Task.Delay(Ms, net.Sim.Clock);
        return weak;
    });

    // The server closes first but keeps its stream, which then sits in TIME-WAIT.
    private static async Task<TcpStream> ServerHeldIntoTimeWaitAsync(TcpStackPair net, TcpListener listener)
    {
        Task<TcpStream> accept = listener.AcceptAsync();
        TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 80));
        TcpStream server = await accept;
        server.CompleteWrites();
        Assert.Equal(0, await client.ReadAsync(new byte[1]));
        client.Dispose();
        Assert.Equal(0, await server.ReadAsync(new byte[1]));
        await Task.Delay(TimeSpan.FromSeconds(1), net.Sim.Clock);
        Assert.Equal(1, net.TcpB.TimeWaitCount);
        Assert.Equal(TcpState.TimeWait, server.State);
        return server;
    }

    // The server closes first and its stream is disposed; the client's stream is handed to keep.
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static WeakReference OpenAndClose(TcpStackPair net, TcpListener listener, Action<TcpStream> keep) => net.Run(async () =>
    {
        Task<TcpStream> accept = listener.AcceptAsync();
        TcpStream client = await net.TcpA.ConnectAsync(new IpEndpoint(TcpStackPair.AddressB, 80));
        TcpStream server = await accept;
        var weak = new WeakReference(server.Connection.Tcb);
        server.Dispose();
        Assert.Equal(0, await client.ReadAsync(new byte[1]));
        client.Dispose();
        await Task.Delay(TimeSpan.FromSeconds(1), net.Sim.Clock);
        keep(client);
        return weak;
    });

    [Fact]
    public void A_stream_still_held_in_time_wait_reads_time_wait_until_two_msl_then_closed()
    {
        var net = new TcpStackPair(seed: 97);
        using TcpListener listener = net.TcpB.Listen(80);
        net.Run(async () =>
        {
            TcpStream server = await ServerHeldIntoTimeWaitAsync(net, listener);
            await Task.Delay(TimeSpan.FromSeconds(59) + Ms, net.Sim.Clock);
            Assert.Equal(TcpState.Closed, server.State);
            Assert.Equal(0, net.TcpB.TimeWaitCount);
            Assert.Equal(0, await server.ReadAsync(new byte[1]));
            await Assert.ThrowsAnyAsync<Exception>(async () => await server.WriteAsync(new byte[1]));
            server.Dispose();
        },
        TimeSpan.FromMinutes(3));
    }
}
