using System.Diagnostics;
using System.Globalization;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// Clients in one namespace reach a server in another through the real <c>protocols nat</c>
/// process (inside over TUN, outside over AF_PACKET on a veth pair): the kernel on both sides.
/// </summary>
public sealed class NatProcessTests(ITestOutputHelper output)
{
    private const int Megabytes20 = 20 << 20;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);
    private const string Server = NatLink.ServerAddress;

    /// <summary>A UDP echo server on 203.0.113.2:7 (python3).</summary>
    private const string UdpEcho = "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('203.0.113.2',7))\nwhile True:\n d,a=s.recvfrom(65535)\n s.sendto(d,a)\n";

    /// <summary>A connected UDP socket to a closed port: prints 'refused' when the ICMP port unreachable came back.</summary>
    private const string UdpRefused = "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.settimeout(5)\ns.connect(('203.0.113.2',9999))\ns.send(b'x')\ntry:\n s.recv(10)\n print('answered')\nexcept ConnectionRefusedError:\n print('refused')\nexcept socket.timeout:\n print('timeout')\n";

    [InteropFact(Tools = ["curl", "ping", "python3", "nginx", "tcpdump", "tshark", "ss"])]
    public async Task Clients_reach_a_server_through_the_NAT()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", Megabytes20);
        using NatLink nat = await NatLink.StartAsync(Limit);
        using Process capture = nat.Server.Start("tcpdump", "-i", "pveth1", "-n", "-U", "-w", dir["outside.pcap"], "ip");
        Thread.Sleep(1000);
        using KernelServer nginx = KernelServer.Nginx(nat.Server, dir, Server, 8080);
        Process echo = nat.Server.Start("python3", "-c", UdpEcho);
        echo.StandardInput.Close();

        // ping through the NAT, and the NAT's own two addresses.
        ToolResult ping = nat.Client.Exec(Limit, "ping", "-c", "3", "-i", "0.2", "-W", "5", Server);
        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
        Assert.Equal(0, nat.Client.Exec(Limit, "ping", "-c", "2", "-i", "0.2", "-W", "5", NatLink.OutsideAddress).ExitCode);
        Assert.Equal(0, nat.Server.Exec(Limit, "ping", "-c", "2", "-i", "0.2", "-W", "5", NatLink.OutsideAddress).ExitCode);

        // Traceroute-style: TTL 1 dies at the NAT, which says so from its inside address.
        ToolResult ttl = nat.Client.Exec(Limit, "ping", "-c", "1", "-W", "5", "-t", "1", Server);
        Assert.Contains($"From {NatLink.InsideAddress} icmp_seq=1 Time to live exceeded", ttl.Output, StringComparison.Ordinal);

        // 20 MiB by HTTP, verified.
        var clock = Stopwatch.StartNew();
        ToolResult curl = nat.Client.Exec(Limit, "curl", "-sS", "--fail", "--max-time", "100", "-o", dir["got.bin"], $"http://{Server}:8080/data.bin");
        TimeSpan curlTime = clock.Elapsed;
        Assert.True(curl.ExitCode == 0, TestNamespace.Describe(curl) + nat.Errors);
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["got.bin"]));

        // UDP echo, and a port-unreachable translated back to the client's socket.
        ToolResult udp = KernelTools.Shell(nat.Client, Limit, $"echo hello-through-nat | socat -t 5 - UDP:{Server}:7");
        Assert.True(udp.ExitCode == 0 && udp.Output.Contains("hello-through-nat", StringComparison.Ordinal), TestNamespace.Describe(udp));
        ToolResult refused = nat.Client.Exec(Limit, "python3", "-c", UdpRefused);
        Assert.Equal("refused", refused.Output.Trim());

        // The table shows the flows with the outside address.
        List<string> table = await nat.TableAsync(TimeSpan.FromSeconds(10));
        Assert.Contains(table, row => row.StartsWith($"tcp {NatLink.ClientAddress}:", StringComparison.Ordinal) && row.Contains($" {NatLink.OutsideAddress}:", StringComparison.Ordinal) && row.Contains($" {Server}:8080 ", StringComparison.Ordinal));
        Assert.Contains(table, row => row.StartsWith($"udp {NatLink.ClientAddress}:", StringComparison.Ordinal) && row.Contains($" {Server}:7 udp ", StringComparison.Ordinal));
        Assert.Contains(table, row => row.StartsWith("icmp ", StringComparison.Ordinal));

        KernelTools.Interrupt(capture);
        KernelTools.WaitForExit(capture, TimeSpan.FromSeconds(10), "tcpdump");
        (int code, string errors) = nat.Stop();
        Assert.True(code == 0, errors);
        InteropEnvironment.KillQuietly(echo);

        // On the outside, only the outside address, and every checksum of what the NAT sent is good
        // (tshark: 1 good, 0 bad, 2 unverified).
        ToolResult fields = InteropEnvironment.Run("tshark", ["-r", dir["outside.pcap"], "-n", "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE", "-o", "udp.check_checksum:TRUE",
            "-T", "fields", "-E", "separator=,", "-e", "ip.src", "-e", "ip.dst", "-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-e", "udp.checksum.status", "-e", "icmp.checksum.status", "-e", "ip.len"], Limit);
        Assert.True(fields.ExitCode == 0, TestNamespace.Describe(fields));
        string[] lines = fields.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        // The ping, three TCP connections and the transfer: the count varies with how the kernels
        // coalesce the transfer into super-segments (93-148 seen), so only a floor well below it.
        Assert.True(lines.Length >= 20, $"{lines.Length} packets captured");
        Assert.DoesNotContain(lines, l => l.Contains("10.0.0.", StringComparison.Ordinal));
        string[] fromNat = [.. lines.Where(l => l.StartsWith(NatLink.OutsideAddress + ",", StringComparison.Ordinal))];
        Assert.True(fromNat.Length > 50, $"{fromNat.Length} packets from the NAT");
        int superSegments = 0;
        foreach (string line in fromNat)
        {
            string[] f = line.Split(',');
            Assert.Equal("1", f[2]);
            if (int.Parse(f[6], CultureInfo.InvariantCulture) > 1500)
            {
                // A TCP super-segment the NAT handed to the veth with TSO: its checksum is partial
                // by design (the receiving kernel trusts it), so only the IP header's is checked.
                superSegments++;
                continue;
            }

            Assert.True(f.Skip(3).Take(3).All(s => s is "" or "1"), $"a checksum the NAT sent is not good: {line}");
        }

        output.WriteLine($"curl 20 MiB through protocols nat: {curlTime.TotalSeconds:F2} s ({Megabytes20 * 8 / curlTime.TotalSeconds / 1e6:F0} Mbit/s); {lines.Length} packets on the outside, {fromNat.Length} from the NAT ({superSegments} TSO super-segments), all checksums good");
        output.WriteLine(errors.Trim());
    }

    [InteropFact(Tools = ["iperf3"])]
    public async Task Iperf3_both_directions_through_the_NAT()
    {
        using NatLink nat = await NatLink.StartAsync(Limit);
        Iperf3.BothDirections(nat.Client, nat.Server, Server, "protocols nat", () => nat.Errors, output, Limit);
        Assert.Equal(0, nat.Stop().ExitCode);
    }

    [InteropFact(Tools = ["python3", "ping"])]
    public async Task The_table_stays_bounded_under_a_flood_of_new_flows()
    {
        using NatLink nat = await NatLink.StartAsync(Limit, "--max-mappings", "200");

        // 3000 new UDP flows (each from its own source port) as fast as python sends them.
        const string flood = "import socket\nfor i in range(3000):\n s=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n s.sendto(b'x',('203.0.113.2',10000+i))\n s.close()\n";
        ToolResult run = nat.Client.Exec(Limit, "python3", "-c", flood);
        Assert.True(run.ExitCode == 0, TestNamespace.Describe(run));
        Thread.Sleep(1000);
        List<string> table = await nat.TableAsync(TimeSpan.FromSeconds(10));
        // Rows are sessions (at most 2 x 200 here); mappings are inside endpoints (at most 200):
        // the kernel reuses a closed socket's port, which adds a session to an existing mapping.
        int mappings = table.Select(row => row.Split(' ')[1]).Distinct().Count();
        Assert.InRange(mappings, 150, 200);
        Assert.InRange(table.Count, mappings, 400);
        Assert.False(nat.Process.HasExited);
        (int code, string errors) = nat.Stop();
        Assert.Equal(0, code);
        Assert.Matches(@"exhausted [1-9]\d{2,}", errors);
        output.WriteLine($"after 3000 new flows with --max-mappings 200: {mappings} mappings, {table.Count} rows; {errors.Trim()}");
    }

    /// <summary>A UDP server on 203.0.113.2:7 that answers each datagram with the address it came from.</summary>
    private const string UdpWhoAmI = "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('203.0.113.2',7))\nwhile True:\n d,a=s.recvfrom(65535)\n s.sendto(a[0].encode(),a)\n";

    [InteropFact(Tools = ["python3", "ping", "socat", "tshark", "ss"])]
    public async Task A_static_entry_the_periodic_table_and_the_captures_through_the_process()
    {
        const string Mapped = "203.0.113.50";
        using var dir = new TempDir();
        using NatLink nat = await NatLink.StartAsync(Limit, "--static", $"{NatLink.ClientAddress}={Mapped}", "--table-every", "1", "--pcap", dir["nat.pcap"]);
        Process whoami = nat.Server.Start("python3", "-c", UdpWhoAmI);
        whoami.StandardInput.Close();
        KernelTools.WaitForUdpListener(nat.Server, 7, whoami);

        // The server sees the client as the static address, not as the PAT address.
        ToolResult seen = KernelTools.Shell(nat.Client, Limit, $"echo who | socat -t 5 - UDP:{Server}:7");
        Assert.True(seen.ExitCode == 0, TestNamespace.Describe(seen) + nat.Errors);
        Assert.Equal(Mapped, seen.Output.Trim());

        // A static entry lets everything in: the server reaches the client by its static address
        // (the NAT answers ARP for it on the outside link).
        ToolResult ping = nat.Server.Exec(Limit, "ping", "-c", "2", "-i", "0.2", "-W", "5", Mapped);
        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping) + nat.Errors);

        // --table-every prints the table without a signal; a static entry is one row of its own
        // (its flows need no sessions).
        List<string> table = await nat.NextTableAsync(TimeSpan.FromSeconds(10));
        Assert.Contains($"ip {NatLink.ClientAddress}:0 {Mapped}:0 0.0.0.0:0 static 0", table);

        InteropEnvironment.KillQuietly(whoami);
        (int code, string errors) = nat.Stop();
        Assert.True(code == 0, errors);

        // --pcap: the outside capture holds the static address and never an inside one; the inside
        // capture (FILE-inside) holds the client's own address.
        string[] outside = TsharkAddresses(dir["nat.pcap"]);
        string[] inside = TsharkAddresses(dir["nat-inside.pcap"]);
        Assert.Contains(outside, l => l.Contains(Mapped, StringComparison.Ordinal));
        Assert.DoesNotContain(outside, l => l.Contains("10.0.0.", StringComparison.Ordinal));
        Assert.Contains(inside, l => l.StartsWith(NatLink.ClientAddress + ",", StringComparison.Ordinal));
        Assert.DoesNotContain(inside, l => l.Contains(Mapped, StringComparison.Ordinal));
        output.WriteLine($"static {NatLink.ClientAddress}={Mapped}: seen as {seen.Output.Trim()}, reached from outside; {table.Count} rows in a periodic table; {outside.Length} packets captured outside, {inside.Length} inside");
    }

    /// <summary>A UDP server on 203.0.113.2:7 that answers each datagram with the address and port it came from.</summary>
    private const string UdpWhoAmIWithPort = "import socket\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\ns.bind(('203.0.113.2',7))\nwhile True:\n d,a=s.recvfrom(65535)\n s.sendto(('%s:%d' % a).encode(),a)\n";

    [InteropFact(Tools = ["python3", "socat", "ss"])]
    public async Task A_pool_address_keeps_the_port_through_the_process()
    {
        // --pool: the inside host gets the pool's first free address while it has flows, and its
        // source port is kept when free (RFC 4787 REQ-3).
        using NatLink nat = await NatLink.StartAsync(Limit, "--pool", "203.0.113.60-203.0.113.61");
        Process whoami = nat.Server.Start("python3", "-c", UdpWhoAmIWithPort);
        whoami.StandardInput.Close();
        KernelTools.WaitForUdpListener(nat.Server, 7, whoami);
        ToolResult seen = KernelTools.Shell(nat.Client, Limit, $"echo who | socat -t 5 - UDP:{Server}:7,sourceport=40000");
        Assert.True(seen.ExitCode == 0, TestNamespace.Describe(seen) + nat.Errors);
        Assert.Equal("203.0.113.60:40000", seen.Output.Trim());
        List<string> table = await nat.TableAsync(TimeSpan.FromSeconds(10));
        Assert.Contains(table, row => row.StartsWith($"udp {NatLink.ClientAddress}:40000 203.0.113.60:40000 {Server}:7 ", StringComparison.Ordinal));
        InteropEnvironment.KillQuietly(whoami);
        Assert.Equal(0, nat.Stop().ExitCode);
    }

    [InteropFact(Tools = ["curl", "ping", "nginx", "socat", "tcpdump", "tshark", "ss"])]
    public async Task A_server_one_router_hop_beyond_the_outside_link_through_the_gateway()
    {
        // The server is not on the outside link: everything to it goes to --gateway (a kernel
        // router namespace), which forwards to the server's own link.
        const string Far = NatLink.FarServerAddress;
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", 4 << 20);
        using NatLink nat = await NatLink.StartBehindRouterAsync(Limit);
        Assert.NotNull(nat.Router);
        using Process capture = nat.Server.Start("tcpdump", "-i", "prout1", "-n", "-U", "-w", dir["far.pcap"], "ip");
        Thread.Sleep(1000);
        using KernelServer nginx = KernelServer.Nginx(nat.Server, dir, Far, 8080);

        ToolResult ping = nat.Client.Exec(Limit, "ping", "-c", "3", "-i", "0.2", "-W", "5", Far);
        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping) + nat.Errors);

        // 4 MiB by HTTP, verified by content.
        ToolResult curl = nat.Client.Exec(Limit, "curl", "-sS", "--fail", "--max-time", "100", "-o", dir["got.bin"], $"http://{Far}:8080/data.bin");
        Assert.True(curl.ExitCode == 0, TestNamespace.Describe(curl) + nat.Errors);
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["got.bin"]));

        // The server's TCP sees the connection come from the NAT's outside address.
        using KernelServer whoami = KernelServer.Socat(nat.Server, Far, 9000, "SYSTEM:echo $SOCAT_PEERADDR");
        ToolResult seen = nat.Client.Exec(Limit, "socat", "-t", "5", "-T", "10", "-u", $"TCP:{Far}:9000", "-");
        Assert.True(seen.ExitCode == 0, TestNamespace.Describe(seen) + nat.Errors);
        Assert.Equal(NatLink.OutsideAddress, seen.Output.Trim());

        List<string> table = await nat.TableAsync(TimeSpan.FromSeconds(10));
        Assert.Contains(table, row => row.StartsWith($"tcp {NatLink.ClientAddress}:", StringComparison.Ordinal) && row.Contains($" {NatLink.OutsideAddress}:", StringComparison.Ordinal) && row.Contains($" {Far}:8080 ", StringComparison.Ordinal));

        KernelTools.Interrupt(capture);
        KernelTools.WaitForExit(capture, TimeSpan.FromSeconds(10), "tcpdump");
        (int code, string errors) = nat.Stop();
        Assert.True(code == 0, errors);

        // On the server's link, every packet is between the server and the NAT's outside address.
        string[] lines = TsharkAddresses(dir["far.pcap"]);
        // The ping, three TCP connections and the transfer: the count varies with how the kernels
        // coalesce the transfer into super-segments (93-148 seen), so only a floor well below it.
        Assert.True(lines.Length >= 20, $"{lines.Length} packets captured");
        Assert.All(lines, l => Assert.True(l == $"{NatLink.OutsideAddress},{Far}" || l == $"{Far},{NatLink.OutsideAddress}", $"a packet on the server's link not between the NAT and the server: {l}"));
        output.WriteLine($"through --gateway {NatLink.RouterOutsideAddress}: ping, 4 MiB by HTTP verified, the server saw {seen.Output.Trim()}; {lines.Length} packets on the server's link, all between {NatLink.OutsideAddress} and {Far}");
    }

    private static string[] TsharkAddresses(string pcap)
    {
        ToolResult fields = InteropEnvironment.Run("tshark", ["-r", pcap, "-n", "-T", "fields", "-E", "separator=,", "-e", "ip.src", "-e", "ip.dst", "ip"], Limit);
        Assert.True(fields.ExitCode == 0, TestNamespace.Describe(fields));
        string[] lines = fields.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.NotEmpty(lines);
        return lines;
    }
}
