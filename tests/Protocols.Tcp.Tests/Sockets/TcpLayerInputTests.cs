using System.Diagnostics.Metrics;
using System.Net.Sockets;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Engine;
using Protocols.Tests.Shared;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>The layer's input path without a connection: resets for closed ports, checksums, listeners' table, the trace formatter, the meter.</summary>
public class TcpLayerInputTests
{
    private static string Ip => Family.Ipv6 ? "IP6" : "IP";

    private static IpAddress A => TcpStackPair.AddressA;

    private static IpAddress B => TcpStackPair.AddressB;

    [Fact]
    public void A_SYN_to_a_closed_port_is_answered_with_RST_ACK_acknowledging_it()
    {
        var net = new TcpStackPair(seed: 11, traceB: true);
        net.InjectTowardsB(40000, 80, new TcpOutgoingSegment { Seq = new SeqNum(1000), Flags = TcpFlags.Syn, Window = 65535, Options = new TcpOptions { Mss = 1460 } });
        net.Settle();

        // RFC 9293 3.10.7.1: ACK off -> <SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>.
        Assert.Equal(2, net.Lines.Count);
        Assert.EndsWith($"In  {Ip} {A}.40000 > {B}.80: Flags [S], seq 1000, win 65535, options [mss 1460], length 0", net.Lines[0]);
        Assert.EndsWith($"Out {Ip} {B}.80 > {A}.40000: Flags [R.], seq 0, ack 1001, win 0, length 0", net.Lines[1]);
        Assert.Equal(1, net.TcpB.Counters.ResetsSent);
        Assert.Equal(1, net.TcpB.Counters.SegmentsReceived);
        Assert.Equal(1, net.TcpB.Counters.SegmentsSent);

        // A's stack got the RST for a connection it does not have: never a RST for a RST.
        Assert.Equal(0, net.TcpA.Counters.ResetsSent);
    }

    [Fact]
    public void Data_with_FIN_to_a_closed_port_is_acknowledged_in_the_RST_by_its_whole_length()
    {
        var net = new TcpStackPair(seed: 12, traceB: true);
        net.InjectTowardsB(40001, 81, new TcpOutgoingSegment { Seq = new SeqNum(uint.MaxValue - 1), Flags = TcpFlags.Fin | TcpFlags.Psh, Window = 100 }, "hello"u8);
        net.Settle();

        // SEG.LEN counts the data and the FIN, modulo 2^32: 0xFFFFFFFE + 6 = 4.
        Assert.EndsWith($"Out {Ip} {B}.81 > {A}.40001: Flags [R.], seq 0, ack 4, win 0, length 0", net.Lines[^1]);
    }

    [Fact]
    public void An_ACK_to_a_closed_port_is_answered_with_a_RST_at_its_acknowledgment_number()
    {
        var net = new TcpStackPair(seed: 13, traceB: true);
        net.InjectTowardsB(40002, 82, new TcpOutgoingSegment { Seq = new SeqNum(5), Ack = new SeqNum(777), Flags = TcpFlags.Ack, Window = 100 });
        net.Settle();

        // RFC 9293 3.10.7.1: ACK on -> <SEQ=SEG.ACK><CTL=RST>.
        Assert.EndsWith($"Out {Ip} {B}.82 > {A}.40002: Flags [R], seq 777, win 0, length 0", net.Lines[^1]);
    }

    [Fact]
    public void A_RST_to_a_closed_port_is_never_answered()
    {
        var net = new TcpStackPair(seed: 14, traceB: true);
        net.InjectTowardsB(40003, 83, new TcpOutgoingSegment { Seq = new SeqNum(5), Flags = TcpFlags.Rst });
        net.InjectTowardsB(40003, 83, new TcpOutgoingSegment { Seq = new SeqNum(5), Ack = new SeqNum(9), Flags = TcpFlags.Rst | TcpFlags.Ack });
        net.Settle();

        Assert.Equal(2, net.Lines.Count);
        Assert.All(net.Lines, line => Assert.Contains(" In ", line));
        Assert.Equal(0, net.TcpB.Counters.ResetsSent);
        Assert.Equal(2, net.TcpB.Counters.SegmentsReceived);
    }

    [Fact]
    public void A_segment_with_a_bad_checksum_is_counted_and_dropped_without_a_reset()
    {
        var net = new TcpStackPair(seed: 15, traceB: true);
        net.InjectTowardsB(40004, 84, new TcpOutgoingSegment { Seq = new SeqNum(1), Flags = TcpFlags.Syn }, corruptChecksum: true);
        net.Settle();

        Assert.Single(net.Lines);
        Assert.Equal(1, net.TcpB.Counters.BadSegments);
        Assert.Equal(1, net.TcpB.Counters[TcpCounter.BadSegmentsChecksum]);
        Assert.Equal(0, net.TcpB.Counters.ResetsSent);
    }

    [Fact]
    public void Truncated_headers_and_malformed_options_are_bad_segments()
    {
        var net = new TcpStackPair(seed: 16);
        TcpLayer tcp = net.TcpB;
        NetworkInterface nic = net.B.Interfaces[0];
        var random = new Random(16);
        for (int length = 0; length < 40; length++)
        {
            var bytes = new byte[length];
            random.NextBytes(bytes);
            if (length >= 13)
            {
                bytes[12] = 0xf0; // data offset 60 bytes: longer than any of these
            }

            var datagram = new IpDatagram(nic, default, bytes, TcpStackPair.AddressA, TcpStackPair.AddressB, IpProtocol.Tcp, 64, 1, false, checksumsVerifiedByDevice: true);
            tcp.OnDatagram(net.B, in datagram);
        }

        Assert.Equal(40, tcp.Counters.BadSegments);
        Assert.Equal(20, tcp.Counters[TcpCounter.BadSegmentsTruncated]); // 0..19 bytes: no fixed header
        Assert.Equal(20, tcp.Counters[TcpCounter.BadSegmentsDataOffset]); // 20..39 bytes: the header runs past them
        Assert.Equal(0, tcp.Counters.ResetsSent);
    }

    public static TheoryData<string, TcpCounter, string> BadSegmentCases => new()
    {
        { "short", TcpCounter.BadSegmentsTruncated, "TCP segment from {A} dropped (BadSegmentsTruncated): TCP.DataOffset: need 20 bytes, have 12 (limited by buffer) at offset 0" },
        { "offset4", TcpCounter.BadSegmentsDataOffset, "TCP segment from {A} dropped (BadSegmentsDataOffset): TCP.DataOffset: length 16 is below the minimum 20 (data offset) at offset 12" },
        { "option", TcpCounter.BadSegmentsOptions, "TCP segment from {A} dropped (BadSegmentsOptions): TCP.MaximumSegmentSize: malformed (need 4, have 3, option length) at offset 20" },
        { "checksum", TcpCounter.BadSegmentsChecksum, "TCP segment from {A} dropped (BadSegmentsChecksum): checksum does not verify" },
    };

    /// <summary>Each kind of unreadable segment has its own counter besides BadSegments, and a Debug line saying what was wrong ({A}: the sender).</summary>
    [Theory]
    [MemberData(nameof(BadSegmentCases))]
    public void Bad_segments_are_counted_and_logged_by_what_is_wrong(string kind, TcpCounter detail, string line)
    {
        var logger = new ListLogger();
        var sim = new NetworkSimulator(18);
        var (a, _) = sim.Network.CreateLink();
        var stack = new NetworkStack(new NetworkStackOptions { TimeProvider = sim.Clock, Logger = logger });
        NetworkInterface nic = stack.AddInterface(a, new InterfaceConfiguration { Addresses = [new InterfaceAddress(B, Family.PrefixLength)] });
        TcpLayer tcp = stack.UseTcp();

        byte[] segment = new byte[24];
        new TcpHeader { SourcePort = 1, DestinationPort = 2, DataOffset = 6, Syn = true }.WriteTo(segment);
        segment[20] = (byte)TcpOptionKind.MaximumSegmentSize;
        segment[21] = kind == "option" ? (byte)3 : (byte)4;
        if (kind == "offset4")
        {
            segment[12] = 0x40;
        }

        TcpHeader.FillChecksum(segment, Checksum.PseudoHeaderSum(TcpStackPair.AddressA, TcpStackPair.AddressB, TcpHeader.IpProtocolNumber, segment.Length));
        if (kind == "checksum")
        {
            segment[16] ^= 1;
        }

        byte[] bytes = kind == "short" ? segment[..12] : segment;
        var datagram = new IpDatagram(nic, default, bytes, TcpStackPair.AddressA, TcpStackPair.AddressB, IpProtocol.Tcp, 64, 1, false, checksumsVerifiedByDevice: false);
        tcp.OnDatagram(stack, in datagram);

        Assert.Equal(1, tcp.Counters.BadSegments);
        Assert.Equal(1, tcp.Counters[detail]);
        Assert.Equal(line.Replace("{A}", A.ToString(), StringComparison.Ordinal), Assert.Single(logger.Lines));
    }

    private sealed class ListLogger : Microsoft.Extensions.Logging.ILogger
    {
        public List<string> Lines { get; } = [];

        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(Microsoft.Extensions.Logging.LogLevel logLevel) => true;

        public void Log<TState>(Microsoft.Extensions.Logging.LogLevel logLevel, Microsoft.Extensions.Logging.EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Lines.Add(formatter(state, exception));
    }

    [Fact]
    public void Listening_twice_on_a_port_fails_with_AddressAlreadyInUse_until_the_first_listener_is_disposed()
    {
        var net = new TcpStackPair(seed: 17);
        TcpListener any = net.TcpB.Listen(80);
        Assert.Equal(SocketError.AddressAlreadyInUse, Assert.Throws<TcpException>(() => net.TcpB.Listen(80)).SocketErrorCode);
        TcpException e = Assert.Throws<TcpException>(() => net.TcpB.Listen(new IpEndpoint(TcpStackPair.AddressB, 80)));
        Assert.Equal(SocketError.AddressAlreadyInUse, e.SocketErrorCode);
        Assert.Equal(SocketError.AddressAlreadyInUse, Assert.IsType<SocketException>(e.InnerException).SocketErrorCode);
        Assert.Equal(SocketError.AddressNotAvailable, Assert.Throws<TcpException>(() => net.TcpB.Listen(new IpEndpoint(TcpStackPair.AddressA, 81))).SocketErrorCode);

        TcpListener other = net.TcpB.Listen(new IpEndpoint(TcpStackPair.AddressB, 81), backlog: 7);
        Assert.Equal(2, net.TcpB.ListenerCount);
        Assert.Equal(7, other.Backlog);
        any.Dispose();
        using TcpListener again = net.TcpB.Listen(new IpEndpoint(TcpStackPair.AddressB, 80));
        other.Dispose();
        Assert.Equal(1, net.TcpB.ListenerCount);
        Assert.Throws<ObjectDisposedException>(() => { _ = other.AcceptAsync(); });
    }

    [Fact]
    public void Invalid_connection_options_fail_Listen_and_ConnectAsync_at_once()
    {
        var net = new TcpStackPair(seed: 20);
        var remote = new IpEndpoint(TcpStackPair.AddressB, 80);
        Assert.Throws<ArgumentOutOfRangeException>(() => net.TcpB.Listen(80, options: TcpConnectionOptions.Default with { ReceiveBufferSize = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => { _ = net.TcpA.ConnectAsync(remote, TcpConnectionOptions.Default with { SynRetries = -1 }, null); });
        Assert.Throws<ArgumentException>(() => { _ = net.TcpA.ConnectAsync(remote, TcpConnectionOptions.Default with { CongestionControl = "nope" }, null); });
        Assert.Throws<ArgumentOutOfRangeException>(() => net.TcpB.Listen(80, backlog: 0));
        Assert.Equal(0, net.TcpB.ListenerCount);
    }

    [Fact]
    public void UseTcp_is_idempotent_and_Tcp_finds_the_layer()
    {
        var net = new TcpStackPair(seed: 18);
        Assert.Same(net.TcpA, net.A.UseTcp());
        Assert.Same(net.TcpA, net.A.Tcp());
        using var bare = new NetworkStack();
        Assert.Throws<InvalidOperationException>(() => bare.Tcp());
    }

    [Fact]
    public void The_trace_formatter_writes_tcpdump_lines()
    {
        var tuple = new TcpFourTuple(TcpStackPair.AddressA, 40000, TcpStackPair.AddressB, 80);
        var options = new TcpOptions { Mss = 1460, SackPermitted = true, Timestamps = new TcpTimestamps(1, 0), WindowScale = 7 };
        var segment = new TcpOutgoingSegment { Seq = new SeqNum(1), Ack = new SeqNum(2), Flags = TcpFlags.Syn | TcpFlags.Ack, Window = 65535, Options = options };
        var bytes = new byte[100];
        int n = segment.Write(bytes, tuple, default, default);
        Assert.Equal("Flags [S.], seq 1, ack 2, win 65535, options [mss 1460,sackOK,TS val 1 ecr 0,nop,wscale 7], length 0", TcpTraceFormatter.Format(bytes.AsSpan(0, n)));

        segment = new TcpOutgoingSegment { Seq = new SeqNum(100), Ack = new SeqNum(5), Flags = TcpFlags.Psh | TcpFlags.Ack | TcpFlags.Fin, Window = 501 };
        n = segment.Write(bytes, tuple, "abc"u8, "de"u8);
        Assert.Equal("Flags [FP.], seq 100:105, ack 5, win 501, length 5", TcpTraceFormatter.Format(bytes.AsSpan(0, n)));

        Assert.Equal("TCP [invalid: TCP.UrgentPointer: need 20 bytes, have 19 (limited by buffer) at offset 0], length 19", TcpTraceFormatter.Format(bytes.AsSpan(0, 19)));

        // A malformed option list is described, never thrown.
        bytes[12] = 0x60;
        bytes[20] = 2;
        bytes[21] = 9;
        Assert.Contains("bad opt", TcpTraceFormatter.Format(bytes.AsSpan(0, 24)));
    }

    [Fact]
    public void The_meter_reports_the_counters_tagged_with_the_stack_name()
    {
        var net = new TcpStackPair(seed: 19);
        net.InjectTowardsB(40005, 85, new TcpOutgoingSegment { Seq = new SeqNum(1), Flags = TcpFlags.Syn });
        net.Settle();

        var seen = new Dictionary<string, long>();
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == TcpMetrics.MeterName)
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "protocols.stack" && (string?)tag.Value == "sim19-b")
                {
                    seen[instrument.Name] = value;
                }
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();

        Assert.Equal(1, seen["protocols.tcp.resets_sent"]);
        Assert.Equal(1, seen["protocols.tcp.segments_received"]);
        Assert.Equal(0, seen["protocols.tcp.current_established"]);
        Assert.Equal("protocols.tcp.syn_cookies_failed", TcpMetrics.InstrumentName(TcpCounter.SynCookiesFailed));
    }
}
