using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Protocols.Ip;
using Protocols.Tcp;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// TCP between the Linux kernel and the stack's TcpLayer running in this process, over TUN and
/// over a veth pair with the raw device (TEST-NETWORK.md): kernel tools (socat, curl, nginx,
/// python's http.server) against our listeners and our TcpStream against theirs.
/// </summary>
public sealed class TcpKernelTests(ITestOutputHelper output)
{
    private const ushort EchoPort = 7;
    private const int Megabytes20 = 20 << 20;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private static readonly string Kernel = KernelPeer.KernelAddress.ToString();
    private static readonly string Stack = KernelPeer.StackAddress.ToString();

    public static TheoryData<string> Media => KernelPeer.Media;

    public static TheoryData<string, string> MediaAndFamilies => PingTests.MediaAndFamilies;

    [InteropTheory(Tools = ["socat"])]
    [MemberData(nameof(MediaAndFamilies))]
    public async Task Kernel_socat_sends_20_megabytes_through_our_echo_and_gets_them_back(string medium, string family)
    {
        await using KernelPeer peer = await Open(medium, family);
        string stack = KernelPeer.Host(peer.StackIp);
        await using OurServer echo = OurServer.Start(peer.Stack.Tcp(), EchoPort, OurServer.Echo());
        using var dir = new TempDir();
        string sha = dir.WriteRandomFile("in.bin", Megabytes20);

        // socat sends the file, shuts down its write side at EOF (our echo sees FIN and closes
        // after the last echoed byte) and writes what comes back; -t bounds its wait for our FIN.
        var clock = Stopwatch.StartNew();
        ToolResult socat = KernelTools.Shell(peer.Kernel, Limit, $"socat -b 65536 -t 60 - TCP:{stack}:{EchoPort} < {dir["in.bin"]} > {dir["out.bin"]}");
        clock.Stop();

        Assert.True(socat.ExitCode == 0, TestNamespace.Describe(socat));
        Assert.Equal(Megabytes20, new FileInfo(dir["out.bin"]).Length);
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["out.bin"]));
        await echo.WaitForCompletedAsync(1, TimeSpan.FromSeconds(10));
        Report(peer, $"{medium} {family}: socat -> our echo, 20 MiB each way", clock.Elapsed, 2L * Megabytes20);
    }

    [InteropTheory(Tools = ["socat"])]
    [MemberData(nameof(MediaAndFamilies))]
    public async Task Our_client_sends_20_megabytes_to_socat_and_receives_20_megabytes_from_it(string medium, string family)
    {
        await using KernelPeer peer = await Open(medium, family);
        using var dir = new TempDir();
        string upSha = dir.WriteRandomFile("up.bin", Megabytes20);
        string downSha = dir.WriteRandomFile("down.bin", Megabytes20);
        string kernel = KernelPeer.Host(peer.KernelIp);
        using KernelServer sink = KernelServer.Socat(peer.Kernel, kernel, 9001, $"CREATE:{dir["received.bin"]}", "-u");
        using KernelServer source = KernelServer.Socat(peer.Kernel, kernel, 9002, $"OPEN:{dir["down.bin"]},rdonly", "-U");
        using var limit = new CancellationTokenSource(Limit);

        // Up: write everything, CompleteWrites (FIN); socat writes the file and closes, we read its FIN.
        var clock = Stopwatch.StartNew();
        await using (TcpStream up = await peer.Stack.Tcp().ConnectAsync(new IpEndpoint(peer.KernelIp, 9001), limit.Token))
        {
            await TcpTestData.SendFileAsync(up, dir["up.bin"], limit.Token);
            up.CompleteWrites();
            Assert.Equal(0, await up.ReadAsync(new byte[1], limit.Token));
        }

        Assert.Equal(0, sink.WaitForExit(TimeSpan.FromSeconds(30)));
        TimeSpan upTime = clock.Elapsed;
        Assert.Equal(upSha, KernelTools.Sha256OfFile(dir["received.bin"]));

        // Down: socat sends the file and closes; we read to its FIN.
        clock.Restart();
        await using (TcpStream down = await peer.Stack.Tcp().ConnectAsync(new IpEndpoint(peer.KernelIp, 9002), limit.Token))
        {
            (long length, string sha) = await TcpTestData.ReadToEndHashedAsync(down, limit.Token);
            Assert.Equal(Megabytes20, length);
            Assert.Equal(downSha, sha);
        }

        Assert.Equal(0, source.WaitForExit(TimeSpan.FromSeconds(30)));
        Report(peer, $"{medium} {family}: our client -> socat 20 MiB", upTime, Megabytes20);
        Report(peer, $"{medium} {family}: socat -> our client 20 MiB", clock.Elapsed, Megabytes20);
    }

    [InteropTheory(Tools = ["nginx", "python3", "ss"])]
    [MemberData(nameof(MediaAndFamilies))]
    public async Task Our_client_gets_20_megabytes_from_nginx_and_python_HTTP_server(string medium, string family)
    {
        await using KernelPeer peer = await Open(medium, family);
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", Megabytes20);
        string kernel = KernelPeer.Host(peer.KernelIp);
        using KernelServer nginx = KernelServer.Nginx(peer.Kernel, dir, kernel, 8080);
        using KernelServer python = KernelServer.PythonHttp(peer.Kernel, dir, peer.KernelIp.ToString(), 8000);

        foreach ((string name, ushort port, string status) in new[] { ("nginx", (ushort)8080, "HTTP/1.1 200 OK"), ("python3 -m http.server", (ushort)8000, "HTTP/1.0 200 OK") })
        {
            using var limit = new CancellationTokenSource(Limit);
            var clock = Stopwatch.StartNew();
            HttpResult result;
            await using (TcpStream stream = await peer.Stack.Tcp().ConnectAsync(new IpEndpoint(peer.KernelIp, port), limit.Token))
            {
                result = await TcpTestData.HttpGetAsync(stream, kernel, "/data.bin", limit.Token);
            }

            Assert.Equal(status, result.Status);
            Assert.Equal(Megabytes20, result.ContentLength);
            Assert.Equal(Megabytes20, result.BodyLength);
            Assert.Equal(sha, result.BodySha256);
            Report(peer, $"{medium} {family}: {name} -> our client, GET 20 MiB", clock.Elapsed, Megabytes20);
        }
    }

    [InteropTheory(Tools = ["socat"])]
    [MemberData(nameof(Media))]
    public async Task Our_sender_waits_out_the_kernels_zero_window_and_resumes(string medium)
    {
        await using KernelPeer peer = await Open(medium);
        using var dir = new TempDir();
        string sha = dir.WriteRandomFile("up.bin", 2 << 20);

        // socat's child reads nothing for 3 s: the pipe and the small socket buffer fill, the
        // kernel advertises a zero window, and we must probe it until it opens (RFC 9293 3.8.6.1).
        using KernelServer sink = KernelServer.Socat(peer.Kernel, Kernel, 9003, $"SYSTEM:'sleep 3; exec cat > {dir["received.bin"]}'", "-u");
        using var limit = new CancellationTokenSource(Limit);
        var clock = Stopwatch.StartNew();
        await using (TcpStream up = await peer.Stack.Tcp().ConnectAsync(new IpEndpoint(KernelPeer.KernelAddress, 9003), limit.Token))
        {
            await TcpTestData.SendFileAsync(up, dir["up.bin"], limit.Token);
            up.CompleteWrites();
            Assert.Equal(0, await up.ReadAsync(new byte[1], limit.Token));
        }

        Assert.Equal(0, sink.WaitForExit(TimeSpan.FromSeconds(30)));
        clock.Stop();
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["received.bin"]));
        TcpCounters counters = peer.Stack.Tcp().Counters.Snapshot();
        output.WriteLine($"{medium}: 2 MiB to a reader that starts after 3 s: {clock.Elapsed.TotalSeconds:F2} s; {Compact(counters)}");
        // 2 MiB cannot fit in the kernel's buffers and socat's pipe, so the window closed until the
        // reader woke; then we must resume at once on the kernel's window update (or on the next
        // probe: the persist timer backs off from the RTO, which a cold first handshake inflates).
        Assert.True(clock.Elapsed >= TimeSpan.FromSeconds(3), "the reader slept 3 s");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(9), $"took {clock.Elapsed.TotalSeconds:F2} s");
    }

    /// <summary>Both media and families with the loss each is tested at: 2% over IPv4, 3% over IPv6.</summary>
    public static TheoryData<string, string, int> LossCases => new() { { "tun", "v4", 2 }, { "tun", "v6", 3 }, { "veth", "v4", 2 }, { "veth", "v6", 3 } };

    [InteropTheory(Tools = ["socat", "nginx", "nft", "ss", "ethtool", "sysctl"])]
    [MemberData(nameof(LossCases))]
    public async Task Twenty_megabytes_each_way_survive_random_loss(string medium, string family, int percent)
    {
        // The kernel's tools sit one router away, and the router drops `percent`% of the TCP packets
        // it forwards each way (an nftables inet table): losses both TCPs see only by their absence.
        await using KernelPeer peer = await Open(medium, family);
        peer.RouteThroughRouter();
        string far = KernelPeer.Host(peer.RemoteIp);
        string stack = KernelPeer.Host(peer.StackIp);
        await using OurServer echo = OurServer.Start(peer.Stack.Tcp(), EchoPort, OurServer.Echo());
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", Megabytes20);
        using KernelServer nginx = KernelServer.Nginx(peer.Kernel, dir, far, 8080);
        KernelTools.AddRandomLoss(peer.Router, dir, percent, peer.StackIp);

        // The kernel sends 20 MiB to our echo and gets them back.
        var clock = Stopwatch.StartNew();
        ToolResult socat = KernelTools.Shell(peer.Kernel, Limit, $"socat -b 65536 -t 60 - TCP:{stack}:{EchoPort} < {dir["www/data.bin"]} > {dir["echo.bin"]}");
        TimeSpan echoTime = clock.Elapsed;
        Assert.True(socat.ExitCode == 0, TestNamespace.Describe(socat));
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["echo.bin"]));
        await echo.WaitForCompletedAsync(1, TimeSpan.FromSeconds(10));
        (long echoFromStack, long echoToStack) = KernelTools.LossDrops(peer.Router);
        long kernelRetransmitted = KernelTools.KernelTcpCounter(peer.Kernel, "RetransSegs");
        TcpCounters afterEcho = peer.Stack.Tcp().Counters.Snapshot();
        Report(peer, $"{medium} {family}, {percent}% loss: socat -> our echo, 20 MiB each way (router dropped {echoFromStack} of ours, {echoToStack} of the kernel's; kernel retransmitted {kernelRetransmitted})", echoTime, 2L * Megabytes20);

        // Our client downloads 20 MiB from nginx through the same loss.
        using var limit = new CancellationTokenSource(Limit);
        clock.Restart();
        HttpResult result;
        await using (TcpStream stream = await peer.Stack.Tcp().ConnectAsync(new IpEndpoint(peer.RemoteIp, 8080), limit.Token))
        {
            result = await TcpTestData.HttpGetAsync(stream, far, "/data.bin", limit.Token);
        }

        Assert.Equal(Megabytes20, result.BodyLength);
        Assert.Equal(sha, result.BodySha256);
        (long fromStack, long toStack) = KernelTools.LossDrops(peer.Router);
        TcpCounters end = peer.Stack.Tcp().Counters.Snapshot();
        Report(peer, $"{medium} {family}, {percent}% loss: nginx -> our client, GET 20 MiB (router dropped {fromStack - echoFromStack} of ours, {toStack - echoToStack} of the kernel's; kernel retransmitted {KernelTools.KernelTcpCounter(peer.Kernel, "RetransSegs") - kernelRetransmitted}; out-of-order segments we queued {end.OutOfOrderQueued - afterEcho.OutOfOrderQueued})", clock.Elapsed, Megabytes20);

        // The router really dropped both ways; we repaired our losses and queued around the kernel's.
        Assert.True(fromStack > 0 && toStack > 0, $"the router dropped {fromStack} from the stack and {toStack} to it");
        Assert.True(afterEcho.SegmentsRetransmitted > 0, Compact(afterEcho));
        Assert.True(end.OutOfOrderQueued > 0, Compact(end));
    }

    [InteropTheory(Tools = ["socat", "nft", "ethtool", "sysctl"])]
    [MemberData(nameof(Media))]
    public async Task OurPacedBbrClientSends20MegabytesToSocatThroughTwoPercentLoss(string medium)
    {
        // BBR on our side, chosen by the stack's connection defaults: the sender paces on the real
        // loop's timers, the router drops 2% of the TCP packets each way.
        var options = new TcpStackOptions { Defaults = new TcpConnectionOptions { CongestionControl = "bbr" } };
        await using KernelPeer peer = await PingTests.Open(medium, stack => stack.UseTcp(options), false);
        peer.RouteThroughRouter();
        string far = KernelPeer.Host(peer.RemoteIp);
        using var dir = new TempDir();
        string sha = dir.WriteRandomFile("up.bin", Megabytes20);
        using KernelServer sink = KernelServer.Socat(peer.Kernel, far, 9001, $"CREATE:{dir["received.bin"]}", "-u");
        KernelTools.AddRandomLoss(peer.Router, dir, 2, peer.StackIp);
        using var limit = new CancellationTokenSource(Limit);

        var clock = Stopwatch.StartNew();
        await using (TcpStream up = await peer.Stack.Tcp().ConnectAsync(new IpEndpoint(peer.RemoteIp, 9001), limit.Token))
        {
            await TcpTestData.SendFileAsync(up, dir["up.bin"], limit.Token);
            up.CompleteWrites();
            Assert.Equal(0, await up.ReadAsync(new byte[1], limit.Token));
        }

        Assert.Equal(0, sink.WaitForExit(TimeSpan.FromSeconds(30)));
        TimeSpan upTime = clock.Elapsed;
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["received.bin"]));
        (long fromStack, _) = KernelTools.LossDrops(peer.Router);
        TcpCounters counters = peer.Stack.Tcp().Counters.Snapshot();
        Report(peer, $"{medium}, 2% loss, bbr: our client -> socat 20 MiB (router dropped {fromStack} of ours)", upTime, Megabytes20);
        Assert.True(fromStack > 0, "the router dropped nothing");
        Assert.True(counters[TcpCounter.PacingWaits] > 0, Compact(counters));
        Assert.True(counters[TcpCounter.SackRecoveries] > 0, Compact(counters));
    }

    [InteropTheory(Tools = ["socat", "nft", "tcpdump", "tshark", "ethtool", "sysctl"])]
    [MemberData(nameof(Media))]
    public async Task SACK_is_negotiated_and_used_both_ways_under_three_percent_loss(string medium)
    {
        // The kernel echoes 8 MiB through our echo across a router that drops 3% each way; the
        // capture on the stack's side of the router shows both SYNs offering SACK, SACK blocks from
        // both TCPs (RFC 2018), no block outside the receiver's window, and no data beyond it.
        await using KernelPeer peer = await Open(medium);
        peer.RouteThroughRouter();
        await using OurServer echo = OurServer.Start(peer.Stack.Tcp(), EchoPort, OurServer.Echo());
        using var dir = new TempDir();
        string sha = dir.WriteRandomFile("in.bin", 8 << 20);
        KernelTools.AddRandomLoss(peer.Router, dir, 3);
        string device = medium.StartsWith("tun", StringComparison.Ordinal) ? "ptun0" : "pveth1";
        var clock = Stopwatch.StartNew();
        using (PacketCapture capture = PacketCapture.Start(peer.Router, device, dir["sack.pcap"], $"tcp port {EchoPort}"))
        {
            ToolResult socat = KernelTools.Shell(peer.Kernel, Limit, $"socat -b 65536 -t 60 - TCP:{Stack}:{EchoPort} < {dir["in.bin"]} > {dir["out.bin"]}");
            Assert.True(socat.ExitCode == 0, TestNamespace.Describe(socat));
            await echo.WaitForCompletedAsync(1, TimeSpan.FromSeconds(10));
            capture.Stop();
        }

        TimeSpan took = clock.Elapsed;
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["out.bin"]));
        string file = dir["sack.pcap"];
        string far = peer.RemoteAddress.ToString();
        int synsWithSack = PacketCapture.Count(file, "tcp.flags.syn == 1 && tcp.options.sack_perm");
        int oursWithSack = PacketCapture.Count(file, $"tcp.options.sack_le && ip.src == {Stack}");
        int theirsWithSack = PacketCapture.Count(file, $"tcp.options.sack_le && ip.src == {far}");
        int beyondWindow = DataBeyondTheWindow(file);
        int outside = 0;
        foreach (string line in PacketCapture.Fields(file, "tcp.options.sack_le", "ip.src", "tcp.ack", "tcp.window_size", "tcp.options.sack_le", "tcp.options.sack_re", "tcp.window_size_scalefactor"))
        {
            string[] f = line.Split('|');
            long ack = long.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture);
            // RFC 7323 2.3/2.4 and Appendix F: a scaled window is exact only to the scale factor, so
            // its edge may step back by less than that as the ACK moves; a block up to that edge is
            // inside the window the receiver really offered.
            long window = long.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture) + Math.Max(long.Parse(f[5], System.Globalization.CultureInfo.InvariantCulture), 1) - 1;
            string[] lefts = f[3].Split(',');
            string[] rights = f[4].Split(',');
            for (int i = 0; i < lefts.Length; i++)
            {
                long left = long.Parse(lefts[i], System.Globalization.CultureInfo.InvariantCulture);
                long right = long.Parse(rights[i], System.Globalization.CultureInfo.InvariantCulture);
                long fromAck = (right - ack) & 0xFFFF_FFFF;
                bool dsack = ((left - ack) & 0x8000_0000) != 0; // RFC 2883: below the ACK
                if (!dsack && fromAck > window)
                {
                    outside++;
                    output.WriteLine($"SACK block {left}-{right} beyond ACK {ack} + window {window} from {f[0]}");
                }
            }
        }

        (long fromStack, long toStack) = KernelTools.LossDrops(peer.Router);
        TcpCounters counters = peer.Stack.Tcp().Counters.Snapshot();
        output.WriteLine($"{medium}, 3% loss: 8 MiB each way in {took.TotalSeconds:F2} s; router dropped {fromStack} of ours, {toStack} of the kernel's; " +
            $"SYNs offering SACK {synsWithSack}, segments with SACK blocks: ours {oursWithSack}, the kernel's {theirsWithSack}; blocks outside the window {outside}; window exceeded {beyondWindow}; {Compact(counters)}");

        Assert.True(PacketCapture.Count(file, $"tcp.flags.syn == 1 && tcp.flags.ack == 0 && tcp.options.sack_perm && ip.src == {far}") > 0, "the kernel's SYN offered no SACK");
        Assert.True(PacketCapture.Count(file, $"tcp.flags.syn == 1 && tcp.flags.ack == 1 && tcp.options.sack_perm && ip.src == {Stack}") > 0, "our SYN-ACK offered no SACK");
        Assert.True(oursWithSack > 0, "we sent no SACK blocks");
        Assert.True(theirsWithSack > 0, "the kernel sent no SACK blocks");
        Assert.Equal(0, outside);
        Assert.Equal(0, beyondWindow);
        Assert.True(counters[TcpCounter.SackRecoveries] > 0, Compact(counters));
    }

    [InteropTheory]
    [MemberData(nameof(Media))]
    public async Task The_kernels_reset_refuses_our_connect(string medium)
    {
        await using KernelPeer peer = await Open(medium);
        using var limit = new CancellationTokenSource(Limit);

        // Nothing listens on the kernel's port 9: its RST fails our connect with ConnectionRefused.
        TcpException refused = await Assert.ThrowsAsync<TcpException>(() => peer.Stack.Tcp().ConnectAsync(new IpEndpoint(KernelPeer.KernelAddress, 9), limit.Token));
        Assert.Equal(SocketError.ConnectionRefused, refused.SocketErrorCode);
        Assert.True(peer.Stack.Tcp().Counters.ResetsReceived >= 1, peer.Stack.Tcp().Counters.ToString());
    }

    [InteropTheory(Tools = ["socat", "curl"])]
    [MemberData(nameof(Media))]
    public async Task Our_reset_refuses_curl_and_socat(string medium)
    {
        await using KernelPeer peer = await Open(medium);

        // Nothing listens on our port 9: our RST makes curl and socat report "Connection refused".
        ToolResult curl = peer.Exec(Limit, "curl", "-sSv", "--max-time", "20", $"http://{Stack}:9/");
        Assert.Equal(7, curl.ExitCode); // CURLE_COULDNT_CONNECT
        Assert.True(curl.Error.Contains("Connection refused", StringComparison.Ordinal), TestNamespace.Describe(curl));
        ToolResult socat = KernelTools.Shell(peer.Kernel, Limit, $"printf x | socat -T 20 - TCP:{Stack}:9");
        Assert.NotEqual(0, socat.ExitCode);
        Assert.True(socat.Error.Contains("Connection refused", StringComparison.Ordinal), TestNamespace.Describe(socat));
        Assert.True(peer.Stack.Tcp().Counters.ResetsSent >= 2, peer.Stack.Tcp().Counters.ToString());
        output.WriteLine($"{medium}: {curl.Error.Trim().Split('\n')[^1]}; {socat.Error.Trim().Split('\n')[^1]}");
    }

    [InteropTheory(Tools = ["socat"])]
    [MemberData(nameof(Media))]
    public async Task Half_close_both_ways(string medium)
    {
        await using KernelPeer peer = await Open(medium);

        // The kernel shuts its write side first: we read its bytes and then 0 (FIN), and only
        // after that send our answer, which socat still receives (our side is in CLOSE-WAIT).
        TcpState stateAtFin = TcpState.Closed;
        await using OurServer server = OurServer.Start(peer.Stack.Tcp(), 5000, async (stream, cancellationToken) =>
        {
            (long length, _) = await TcpTestData.ReadToEndHashedAsync(stream, cancellationToken);
            stateAtFin = stream.State;
            await stream.WriteAsync(Encoding.ASCII.GetBytes($"got {length} bytes, then your FIN\n"), cancellationToken);
        });
        ToolResult socat = KernelTools.Shell(peer.Kernel, Limit, $"head -c 100000 /dev/zero | socat -t 20 - TCP:{Stack}:5000");
        Assert.True(socat.ExitCode == 0, TestNamespace.Describe(socat));
        Assert.Equal("got 100000 bytes, then your FIN\n", socat.Output);
        await server.WaitForCompletedAsync(1, TimeSpan.FromSeconds(10));
        Assert.Equal(TcpState.CloseWait, stateAtFin);

        // We shut our write side first (CompleteWrites): the kernel's `wc -c` sees EOF, and its
        // answer written after our FIN still reaches us before its own FIN.
        using KernelServer counter = KernelServer.Socat(peer.Kernel, Kernel, 9100, "SYSTEM:'wc -c; echo after your FIN'", "-t", "20");
        using var limit = new CancellationTokenSource(Limit);
        await using TcpStream client = await peer.Stack.Tcp().ConnectAsync(new IpEndpoint(KernelPeer.KernelAddress, 9100), limit.Token);
        await client.WriteAsync(new byte[123456], limit.Token);
        client.CompleteWrites();
        byte[] answer = new byte[256];
        int held = 0;
        int n;
        while ((n = await client.ReadAsync(answer.AsMemory(held), limit.Token)) > 0)
        {
            held += n;
        }

        Assert.Equal("123456\nafter your FIN\n", Encoding.ASCII.GetString(answer, 0, held));
        Assert.Equal(0, counter.WaitForExit(TimeSpan.FromSeconds(30)));
    }

    [InteropTheory(Tools = ["python3"])]
    [MemberData(nameof(Media))]
    public async Task A_thousand_concurrent_kernel_connections_are_accepted_and_served(string medium)
    {
        const int Count = 1000;
        await using KernelPeer peer = await Open(medium);
        await using OurServer echo = OurServer.Start(peer.Stack.Tcp(), EchoPort, OurServer.Echo(4096), backlog: Count);
        using var dir = new TempDir();
        File.WriteAllText(dir["clients.py"], TcpTestData.ConcurrentClientScript);

        var clock = Stopwatch.StartNew();
        ToolResult clients = peer.Exec(Limit, "python3", dir["clients.py"], Stack, EchoPort.ToString(System.Globalization.CultureInfo.InvariantCulture), Count.ToString(System.Globalization.CultureInfo.InvariantCulture), "echo");
        clock.Stop();

        Assert.True(clients.ExitCode == 0, TestNamespace.Describe(clients));
        Assert.Contains($"connected {Count}/{Count}", clients.Output, StringComparison.Ordinal);
        Assert.Contains($"answered {Count}/{Count}", clients.Output, StringComparison.Ordinal);
        await echo.WaitForCompletedAsync(Count, TimeSpan.FromSeconds(30));
        Assert.Equal(Count, echo.Accepted);
        var counters = peer.Stack.Tcp().Counters.Snapshot();
        Assert.True(counters.PassiveOpens >= Count, counters.ToString());
        output.WriteLine($"{medium}: {Count} concurrent connections from the kernel served in {clock.Elapsed.TotalSeconds:F2} s; {Compact(counters)}");
    }

    [InteropTheory(Tools = ["socat", "tcpdump", "tshark"])]
    [MemberData(nameof(Media))]
    public async Task Capture_of_an_exchange_has_good_checksums_and_no_zero_window(string medium)
    {
        await using KernelPeer peer = await Open(medium);
        await using OurServer echo = OurServer.Start(peer.Stack.Tcp(), EchoPort, OurServer.Echo());
        using var dir = new TempDir();
        string sha = dir.WriteRandomFile("in.bin", 2 << 20);
        string device = medium.StartsWith("tun", StringComparison.Ordinal) ? "ptun0" : "pveth1";
        string summary;
        using (PacketCapture capture = PacketCapture.Start(peer.Kernel, device, dir["echo.pcap"], $"tcp port {EchoPort}"))
        {
            ToolResult socat = KernelTools.Shell(peer.Kernel, Limit, $"socat -b 65536 -t 30 - TCP:{Stack}:{EchoPort} < {dir["in.bin"]} > {dir["out.bin"]}");
            Assert.True(socat.ExitCode == 0, TestNamespace.Describe(socat));
            await echo.WaitForCompletedAsync(1, TimeSpan.FromSeconds(10));
            summary = capture.Stop();
        }

        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["out.bin"]));
        string file = dir["echo.pcap"];
        IReadOnlyList<CapturedSegment> segments = PacketCapture.Segments(file);
        CapturedSegment[] ours = [.. segments.Where(static s => s.Source == Stack)];

        // The kernel's own segments are captured before its checksum offload fills them in (veth,
        // and TUN with offloads on: they reach us with partial checksums), so only ours are checked,
        // except on a plain TUN, where both directions are final.
        // With offloads on, our own super-segments (more than one MSS of payload) leave with a partial
        // checksum for the kernel to complete as it cuts them (TSO), so only our ordinary ones are checked.
        bool offloads = peer.Device.OffloadStatus.Mode == Ip.Devices.OffloadMode.On;
        CapturedSegment[] verified = !offloads && medium.StartsWith("tun", StringComparison.Ordinal) ? [.. segments]
            : offloads ? [.. ours.Where(static s => s.Length <= 1460)]
            : ours;
        CapturedSegment[] bad = [.. verified.Where(static s => !s.IpChecksumGood || !s.TcpChecksumGood)];
        // Flow control may close a window for a moment (the echo reads 64 KiB, then waits for its
        // write while our congestion window grows), but nobody may have to probe a closed window.
        int probes = PacketCapture.Count(file, "tcp.analysis.zero_window_probe");
        (TimeSpan longestZeroWindow, int zeroWindows) = PacketCapture.ZeroWindowPeriods(segments);
        int retransmitted = PacketCapture.Count(file, $"tcp.analysis.retransmission && ip.src == {Stack}");
        output.WriteLine($"{medium}: {summary.Replace('\n', ' ')}; {segments.Count} TCP frames ({ours.Length} ours, {ours.Sum(static s => (long)s.Length)} payload bytes), "
            + $"{verified.Length - bad.Length}/{verified.Length} checked with good checksums, {zeroWindows} zero-window advertisements (longest closed {longestZeroWindow.TotalMilliseconds:F1} ms), {probes} zero-window probes, {retransmitted} of ours retransmitted");

        Assert.True(ours.Length > (offloads ? 20 : 100), $"{ours.Length} frames from the stack");
        Assert.Empty(bad);
        Assert.Equal(0, probes);
        Assert.True(longestZeroWindow < TimeSpan.FromMilliseconds(200), $"a window stayed closed for {longestZeroWindow.TotalMilliseconds} ms");
        Assert.True(ours.Sum(static s => (long)s.Length) >= 2L << 20, "the echo carries every byte");
        Assert.Equal(2, segments.Count(static s => s.Syn));
        Assert.Equal(2, segments.Count(static s => s.Fin));
        Assert.DoesNotContain(segments, static s => s.Reset);
    }

    // Data segments whose end lies beyond the right edge (ACK + window) the other side had advertised
    // so far (RFC 9293 3.8.6): the edge never moves back, so the latest maximum is the limit.
    private int DataBeyondTheWindow(string file)
    {
        var edge = new Dictionary<string, long>();
        int beyond = 0;
        foreach (string line in PacketCapture.Fields(file, "tcp && tcp.flags.syn == 0", "ip.src", "tcp.seq", "tcp.len", "tcp.ack", "tcp.window_size", "tcp.window_size_scalefactor"))
        {
            string[] f = line.Split('|');
            long seq = long.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture);
            long length = long.Parse(f[2], System.Globalization.CultureInfo.InvariantCulture);
            long rightEdge = long.Parse(f[3], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(f[4], System.Globalization.CultureInfo.InvariantCulture)
                + Math.Max(long.Parse(f[5], System.Globalization.CultureInfo.InvariantCulture), 1) - 1; // exact only to the scale factor (RFC 7323 2.4)
            edge[f[0]] = edge.TryGetValue(f[0], out long known) && ((rightEdge - known) & 0x8000_0000) != 0 ? known : rightEdge;
            string other = edge.Keys.FirstOrDefault(k => k != f[0]) ?? string.Empty;
            if (length > 0 && edge.TryGetValue(other, out long limit) && (((limit - (seq + length)) & 0x8000_0000) != 0))
            {
                beyond++;
                output.WriteLine($"data {seq}+{length} from {f[0]} beyond the edge {limit}");
            }
        }

        return beyond;
    }

    private static Task<KernelPeer> Open(string medium, string family = "v4") => PingTests.Open(medium, static stack => stack.UseTcp(), KernelPeer.IsIpv6(family));

    private void Report(KernelPeer peer, string what, TimeSpan elapsed, long bytes)
    {
        var counters = peer.Stack.Tcp().Counters.Snapshot();
        output.WriteLine($"{what}: {elapsed.TotalSeconds:F2} s, {bytes * 8 / elapsed.TotalSeconds / 1e6:F0} Mbit/s; stack retransmitted {counters.SegmentsRetransmitted} segments so far ({Compact(counters)})");
    }

    /// <summary>The non-zero counters on one line.</summary>
    internal static string Compact(TcpCounters counters) =>
        string.Join(", ", TcpCounters.All.Where(c => counters[c] != 0).Select(c => $"{c} {counters[c]}"));
}
