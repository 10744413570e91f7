using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// A namespace whose default route points into the TUN device of the real <c>protocols forward</c>
/// reaches servers in another namespace: the kernel's clients and servers on both ends.
/// </summary>
public sealed class ForwardProcessTests(ITestOutputHelper output)
{
    private const int Megabytes20 = 20 << 20;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private const string Server = ForwardLink.ServerAddress;

    /// <summary>500 connections at once to nginx, each fetching /small.bin (10 000 bytes); prints how many got it whole.</summary>
    private const string Concurrent = """
        import asyncio
        async def one():
            r, w = await asyncio.wait_for(asyncio.open_connection('10.88.0.2', 8080), 60)
            w.write(b'GET /small.bin HTTP/1.0\r\nHost: x\r\n\r\n')
            data = await asyncio.wait_for(r.read(), 60)
            w.close()
            return data.endswith(b'\x5a' * 10000) and b' 200 ' in data.split(b'\r\n')[0]
        async def main():
            results = await asyncio.gather(*[one() for _ in range(500)], return_exceptions=True)
            print(sum(1 for r in results if r is True))
        asyncio.run(main())
        """;

    /// <summary>Spoofed SYNs (sources 10.66.0.100-249, random ports) to 10.88.0.2:8080 for the given seconds; prints how many.</summary>
    private const string SynFlood = """
        import socket, struct, random, time, sys
        def csum(b):
            if len(b) % 2: b += b'\0'
            s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
            s = (s >> 16) + (s & 0xffff); s += s >> 16
            return ~s & 0xffff
        r = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        dst = socket.inet_aton('10.88.0.2')
        end = time.time() + float(sys.argv[1]); n = 0
        while time.time() < end:
            src = socket.inet_aton('10.66.0.%d' % random.randint(100, 249))
            sport = random.randint(1024, 65535)
            tcp = struct.pack('!HHIIBBHHH', sport, 8080, random.getrandbits(32), 0, 5 << 4, 0x02, 65535, 0, 0)
            tcp = tcp[:16] + struct.pack('!H', csum(src + dst + struct.pack('!BBH', 0, 6, 20) + tcp)) + tcp[18:]
            ip = struct.pack('!BBHHHBBH4s4s', 0x45, 0, 40, random.getrandbits(16), 0, 64, 6, 0, src, dst)
            r.sendto(ip + tcp, ('10.88.0.2', 0)); n += 1
        print(n)
        """;

    /// <summary>A server that accepts one connection on 10.88.0.2:9000 and never reads.</summary>
    private const string Sink = "import socket,time\ns=socket.socket()\ns.setsockopt(socket.SOL_SOCKET,socket.SO_REUSEADDR,1)\ns.bind(('10.88.0.2',9000))\ns.listen()\nc,_=s.accept()\nprint('accepted',flush=True)\ntime.sleep(600)\n";

    /// <summary>A client that fills the connection, waits for a line on stdin, then reads: prints 'reset' when the connection was reset.</summary>
    private const string Filler = """
        import socket, sys
        c = socket.create_connection(('10.88.0.2', 9000), timeout=10)
        c.settimeout(0.5)
        sent = 0
        try:
            while sent < (8 << 20):
                sent += c.send(b'x' * 65536)
        except socket.timeout:
            pass
        print('filled', sent, flush=True)
        sys.stdin.readline()
        c.settimeout(30)
        try:
            while True:
                if not c.recv(65536):
                    print('eof'); break
        except ConnectionResetError:
            print('reset')
        except socket.timeout:
            print('timeout')
        """;

    [InteropFact(Tools = ["curl", "nginx", "python3", "dig", "dnsmasq", "ss"])]
    public async Task A_namespace_reaches_servers_through_the_forwarder()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", Megabytes20);
        File.WriteAllBytes(dir["www/small.bin"], Enumerable.Repeat((byte)0x5a, 10000).ToArray());
        using ForwardLink link = await ForwardLink.StartAsync(Limit);
        using KernelServer nginx = KernelServer.Nginx(link.Server, dir, Server, 8080);
        using Process dns = StartDnsmasq(link.Server, dir);

        // 20 MiB by HTTP through the relay, verified.
        var clock = Stopwatch.StartNew();
        ToolResult curl = link.Client.Exec(Limit, "curl", "-sS", "--fail", "--max-time", "100", "-o", dir["got.bin"], $"http://{Server}:8080/data.bin");
        TimeSpan curlTime = clock.Elapsed;
        Assert.True(curl.ExitCode == 0, TestNamespace.Describe(curl) + link.Errors);
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["got.bin"]));

        // 500 connections at once.
        ToolResult many = link.Client.Exec(Limit, "python3", "-c", Concurrent);
        Assert.True(many.ExitCode == 0 && many.Output.Trim() == "500", TestNamespace.Describe(many) + link.Errors);

        // A DNS query over UDP to the resolver on the server side.
        ToolResult dig = link.Client.Exec(Limit, "dig", "+short", "+time=3", "+tries=2", $"@{Server}", "relay.test");
        Assert.True(dig.ExitCode == 0 && dig.Output.Trim() == Server, TestNamespace.Describe(dig));

        // A refused port comes back refused.
        ToolResult refused = link.Client.Exec(Limit, "curl", "-sSv", "--max-time", "20", $"http://{Server}:81/");
        Assert.Equal(7, refused.ExitCode);
        Assert.Contains("Connection refused", refused.Error, StringComparison.Ordinal);

        InteropEnvironment.KillQuietly(dns);
        (int code, string errors) = link.Stop();
        Assert.True(code == 0, errors);
        output.WriteLine($"curl 20 MiB through protocols forward: {curlTime.TotalSeconds:F2} s ({Megabytes20 * 8 / curlTime.TotalSeconds / 1e6:F0} Mbit/s)");
        output.WriteLine(errors.Trim());
    }

    [InteropFact(Tools = ["iperf3"])]
    public async Task Iperf3_both_directions_through_the_forwarder_with_a_firewall_mark()
    {
        using ForwardLink link = await ForwardLink.StartAsync(Limit, byMark: true);
        Iperf3.BothDirections(link.Client, link.Server, Server, "protocols forward --fwmark", () => link.Errors, output, Limit);
        Assert.Equal(0, link.Stop().ExitCode);
    }

    [InteropFact(Tools = ["curl", "nginx", "dig", "dnsmasq", "danted", "ss"])]
    public async Task The_same_through_a_socks5_proxy()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", Megabytes20);
        using ForwardLink link = await ForwardLink.StartAsync(Limit, false, "--socks5", $"{ForwardLink.ProxyAddress}:1080");
        using KernelServer nginx = KernelServer.Nginx(link.Server, dir, Server, 8080);
        using Process dns = StartDnsmasq(link.Server, dir);
        File.WriteAllText(dir["danted.conf"], $$"""
            logoutput: stderr
            internal: {{ForwardLink.ProxyAddress}} port = 1080
            external: {{Server}}
            clientmethod: none
            socksmethod: none
            user.privileged: root
            user.unprivileged: root
            client pass { from: 0.0.0.0/0 to: 0.0.0.0/0 }
            socks pass { from: 0.0.0.0/0 to: 0.0.0.0/0 command: connect udpassociate udpreply }
            """);
        using KernelServer dante = KernelServer.Start(link.Server, 1080, "danted", "danted", "-f", dir["danted.conf"], "-N", "1");

        ToolResult curl = link.Client.Exec(Limit, "curl", "-sS", "--fail", "--max-time", "100", "-o", dir["got.bin"], $"http://{Server}:8080/data.bin");
        Assert.True(curl.ExitCode == 0, TestNamespace.Describe(curl) + link.Errors + dante.Output);
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["got.bin"]));

        ToolResult dig = link.Client.Exec(Limit, "dig", "+short", "+time=3", "+tries=2", $"@{Server}", "relay.test");
        Assert.True(dig.ExitCode == 0 && dig.Output.Trim() == Server, TestNamespace.Describe(dig) + dante.Output);

        ToolResult refused = link.Client.Exec(Limit, "curl", "-sSv", "--max-time", "20", $"http://{Server}:81/");
        Assert.Equal(7, refused.ExitCode);
        Assert.Contains("Connection refused", refused.Error, StringComparison.Ordinal);

        InteropEnvironment.KillQuietly(dns);
        (int code, string errors) = link.Stop();
        Assert.True(code == 0, errors);
        output.WriteLine(errors.Trim());
    }

    [InteropFact(Tools = ["curl", "nginx", "python3", "ss"])]
    public async Task A_SYN_flood_does_not_stop_legitimate_relays()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", 4 << 20);
        using ForwardLink link = await ForwardLink.StartAsync(Limit);
        using KernelServer nginx = KernelServer.Nginx(link.Server, dir, Server, 8080);
        Process flood = link.Client.Start("python3", "-c", SynFlood, "8");
        flood.StandardInput.Close();
        Thread.Sleep(1500);
        for (int i = 0; i < 3; i++)
        {
            ToolResult curl = link.Client.Exec(Limit, "curl", "-sS", "--fail", "--max-time", "60", "-o", dir[$"got{i}.bin"], $"http://{Server}:8080/data.bin");
            Assert.True(curl.ExitCode == 0, TestNamespace.Describe(curl) + link.Errors);
            Assert.Equal(sha, KernelTools.Sha256OfFile(dir[$"got{i}.bin"]));
        }

        string sent = (await flood.StandardOutput.ReadToEndAsync().WaitAsync(Limit)).Trim();
        KernelTools.WaitForExit(flood, Limit, "the SYN flood");
        Assert.True(int.Parse(sent, CultureInfo.InvariantCulture) > 1000, $"only {sent} SYNs sent");
        Assert.False(link.Process.HasExited);
        (int code, string errors) = link.Stop();
        Assert.Equal(0, code);
        output.WriteLine($"{sent} spoofed SYNs in 8 s; three 4 MiB downloads through it all verified; {errors.Trim()}");
    }

    [InteropFact(Tools = ["python3"])]
    public async Task Killing_the_server_mid_transfer_resets_the_inside_connection()
    {
        using ForwardLink link = await ForwardLink.StartAsync(Limit);
        Process sink = link.Server.Start("python3", "-c", Sink);
        sink.StandardInput.Close();
        var sinkTail = new OutputTail(sink, stdout: false);
        KernelTools.WaitForListener(link.Server, 9000, sink, () => sinkTail.Text);
        Process client = link.Client.Start("python3", "-c", Filler);
        string? filled = await client.StandardOutput.ReadLineAsync().WaitAsync(Limit);
        Assert.StartsWith("filled", filled, StringComparison.Ordinal);
        Assert.Equal("accepted", await sink.StandardOutput.ReadLineAsync().WaitAsync(Limit));

        // SIGKILL with unread data in its socket: the server's kernel resets the connection.
        sink.Kill();
        sink.WaitForExit(10_000);
        await client.StandardInput.WriteLineAsync("go");
        await client.StandardInput.FlushAsync();
        string? result = await client.StandardOutput.ReadLineAsync().WaitAsync(Limit);
        Assert.Equal("reset", result);
        KernelTools.WaitForExit(client, Limit, "the client");
        (int code, string errors) = link.Stop();
        Assert.Equal(0, code);
        output.WriteLine($"client saw: {filled}, then {result}; {errors.Trim()}");
    }

    [InteropFact(Tools = ["dig", "dnsmasq", "ss", "tshark"])]
    public async Task UDP_flows_idle_for_the_timeout_close_and_the_pcap_holds_the_TUN_traffic()
    {
        using var dir = new TempDir();
        using ForwardLink link = await ForwardLink.StartAsync(Limit, byMark: false, "--udp-timeout", "1", "--pcap", dir["forward.pcap"]);
        using Process dns = StartDnsmasq(link.Server, dir);
        ToolResult dig = link.Client.Exec(Limit, "dig", "+short", "+time=3", "+tries=2", $"@{Server}", "relay.test");
        Assert.True(dig.ExitCode == 0 && dig.Output.Trim() == Server, TestNamespace.Describe(dig));

        // --udp-timeout 1: the flow is swept within a second or so of going idle.
        Thread.Sleep(3000);
        InteropEnvironment.KillQuietly(dns);
        (int code, string errors) = link.Stop();
        Assert.True(code == 0, errors);
        Assert.Matches(@"udp flows [1-9]\d* \(open 0, timed out [1-9]\d*\)", errors);

        // --pcap: the TUN device's traffic, the query and its answer between the client and the resolver.
        ToolResult fields = InteropEnvironment.Run("tshark", ["-r", dir["forward.pcap"], "-n", "-T", "fields", "-E", "separator=,", "-e", "ip.src", "-e", "ip.dst", "-e", "dns.qry.name", "udp.port == 53"], Limit);
        Assert.True(fields.ExitCode == 0, TestNamespace.Describe(fields));
        string[] lines = fields.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Contains($"10.66.0.1,{Server},relay.test", lines);
        Assert.Contains($"{Server},10.66.0.1,relay.test", lines);
        output.WriteLine($"{lines.Length} DNS packets captured on the TUN device; {errors.Trim()}");
    }

    private static Process StartDnsmasq(TestNamespace ns, TempDir dir)
    {
        Process dns = ns.Start("dnsmasq", "--no-daemon", "--no-resolv", "--no-hosts", $"--listen-address={Server}", "--bind-interfaces",
            "--except-interface=lo", "--address=/relay.test/" + Server, "--pid-file=" + dir["dnsmasq.pid"], "--user=root");
        dns.StandardInput.Close();
        _ = new OutputTail(dns);
        DateTime limit = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (ns.Exec(TimeSpan.FromSeconds(10), "ss", "-Hlun", "sport = :53").Output.Trim().Length == 0)
        {
            Assert.True(DateTime.UtcNow < limit && !dns.HasExited, "dnsmasq did not start listening");
            Thread.Sleep(50);
        }

        return dns;
    }
}
