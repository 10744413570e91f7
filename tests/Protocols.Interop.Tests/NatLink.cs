using System.Diagnostics;

namespace Protocols.Interop.Tests;

/// <summary>
/// Two namespaces with <c>protocols nat</c> between them: in the client's namespace the kernel has
/// <c>pin0</c> (TUN, 10.0.0.10/24, default route via the NAT's 10.0.0.1) and the NAT process runs
/// there, driving <c>pveth0</c> through AF_PACKET as its outside device (203.0.113.1/24, no kernel
/// address); the server's namespace has the other end <c>pveth1</c> with 203.0.113.2/24.
/// Disposal stops the process and deletes the namespaces.
/// Behind a router (<see cref="StartBehindRouterAsync"/>), the server is one kernel hop further:
/// a router namespace holds <c>pveth1</c> (203.0.113.254/24) and <c>prout0</c> (198.51.100.1/24)
/// and forwards between them; the server's namespace has <c>prout1</c> (198.51.100.2/24) and
/// routes the NAT's outside address via the router; the NAT is given the router as <c>--gateway</c>.
/// </summary>
public sealed class NatLink : IDisposable
{
    public const string ClientAddress = "10.0.0.10";
    public const string InsideAddress = "10.0.0.1";
    public const string OutsideAddress = "203.0.113.1";
    public const string ServerAddress = "203.0.113.2";
    public const string RouterOutsideAddress = "203.0.113.254";
    public const string RouterFarAddress = "198.51.100.1";
    public const string FarServerAddress = "198.51.100.2";

    private readonly Process _process;
    private readonly OutputTail _stderr;
    private readonly StreamReader _stdout;

    private NatLink(TestNamespace client, TestNamespace server, TestNamespace? router, Process process, StreamReader stdout, OutputTail stderr)
    {
        Client = client;
        Server = server;
        Router = router;
        _process = process;
        _stdout = stdout;
        _stderr = stderr;
    }

    /// <summary>The namespace of the inside client (and of the NAT process).</summary>
    public TestNamespace Client { get; }

    /// <summary>The namespace of the outside server.</summary>
    public TestNamespace Server { get; }

    /// <summary>The router between the outside link and the server's link (null when the server is on the outside link).</summary>
    public TestNamespace? Router { get; }

    /// <summary>The NAT process.</summary>
    public Process Process => _process;

    /// <summary>What the process wrote on stderr (the last few KiB).</summary>
    public string Errors => _stderr.Text;

    /// <summary>Makes the namespaces and starts <c>protocols nat</c> with <paramref name="extra"/>; waits (bounded) for <c>ready</c>.</summary>
    public static Task<NatLink> StartAsync(TimeSpan timeout, params string[] extra) => StartAsync(timeout, behindRouter: false, extra);

    /// <summary>
    /// As <see cref="StartAsync(TimeSpan, string[])"/>, with the server at <see cref="FarServerAddress"/>
    /// one router hop beyond the outside link and <c>--gateway</c> <see cref="RouterOutsideAddress"/>.
    /// </summary>
    public static Task<NatLink> StartBehindRouterAsync(TimeSpan timeout, params string[] extra) => StartAsync(timeout, behindRouter: true, extra);

    private static async Task<NatLink> StartAsync(TimeSpan timeout, bool behindRouter, string[] extra)
    {
        var client = new TestNamespace();
        TestNamespace? server = null;
        TestNamespace? router = null;
        Process? process = null;
        try
        {
            server = new TestNamespace();
            TestNamespace outsidePeer = server;
            if (behindRouter)
            {
                router = new TestNamespace();
                outsidePeer = router;
            }

            client.Ip("tuntap", "add", "dev", "pin0", "mode", "tun");
            client.Ip("addr", "add", $"{ClientAddress}/24", "dev", "pin0");
            client.Ip("link", "set", "pin0", "up");
            client.Ip("link", "add", "pveth0", "type", "veth", "peer", "name", "pveth1", "netns", outsidePeer.Name);
            client.Ip("link", "set", "pveth0", "up");
            outsidePeer.Ip("addr", "add", $"{(behindRouter ? RouterOutsideAddress : ServerAddress)}/24", "dev", "pveth1");
            outsidePeer.Ip("link", "set", "pveth1", "up");
            string[] gateway = [];
            if (router is not null)
            {
                router.Ip("link", "add", "prout0", "type", "veth", "peer", "name", "prout1", "netns", server.Name);
                router.Ip("addr", "add", $"{RouterFarAddress}/24", "dev", "prout0");
                router.Ip("link", "set", "prout0", "up");
                server.Ip("addr", "add", $"{FarServerAddress}/24", "dev", "prout1");
                server.Ip("link", "set", "prout1", "up");
                server.Ip("route", "add", $"{OutsideAddress}/32", "via", RouterFarAddress);
                ToolResult forwarding = router.Exec(TimeSpan.FromSeconds(10), "sysctl", "-qw", "net.ipv4.ip_forward=1");
                Assert.True(forwarding.ExitCode == 0, TestNamespace.Describe(forwarding));
                router.WaitForOperationalUp("prout0");
                server.WaitForOperationalUp("prout1");
                gateway = ["--gateway", RouterOutsideAddress];
            }

            client.WaitForOperationalUp("pveth0");
            outsidePeer.WaitForOperationalUp("pveth1");
            process = client.Start(ProtocolsCli.DotnetHost(), [ProtocolsCli.ProtocolsDll(), "nat",
                "--inside", "tun:pin0", "--inside-address", $"{InsideAddress}/24",
                "--outside", "raw:pveth0", "--outside-address", $"{OutsideAddress}/24", .. gateway, .. extra]);
            process.StandardInput.Close();
            var stderr = new OutputTail(process, stdout: false);
            string? first = await process.StandardOutput.ReadLineAsync().WaitAsync(timeout);
            Assert.True(first == "ready", $"expected 'ready', got '{first}'; stderr: {stderr.Text}");
            client.WaitForOperationalUp("pin0");
            client.Ip("route", "add", "default", "via", InsideAddress, "dev", "pin0");
            return new NatLink(client, server, router, process, process.StandardOutput, stderr);
        }
        catch
        {
            if (process is not null)
            {
                InteropEnvironment.KillQuietly(process);
            }

            router?.Dispose();
            server?.Dispose();
            client.Dispose();
            throw;
        }
    }

    /// <summary>Sends SIGUSR1 and reads the table the process prints (<c># N rows</c> then N lines), bounded.</summary>
    public Task<List<string>> TableAsync(TimeSpan timeout)
    {
        Assert.Equal(0, KernelTools.Signal(_process, 10));
        return NextTableAsync(timeout);
    }

    /// <summary>Reads the next table the process prints (on SIGUSR1 or every <c>--table-every</c> seconds), bounded.</summary>
    public async Task<List<string>> NextTableAsync(TimeSpan timeout)
    {
        string? header = await _stdout.ReadLineAsync().WaitAsync(timeout);
        Assert.NotNull(header);
        Assert.StartsWith("# ", header, StringComparison.Ordinal);
        int count = int.Parse(header.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
        var rows = new List<string>(count);
        for (int i = 0; i < count; i++)
        {
            rows.Add(await _stdout.ReadLineAsync().WaitAsync(timeout) ?? string.Empty);
        }

        return rows;
    }

    /// <summary>SIGTERM, then waits (at most 15 s) for the exit and (at most 10 s) for the end of its stderr; returns the exit code and stderr.</summary>
    public (int ExitCode, string Errors) Stop() => ProtocolsCli.Stop(_process, _stderr, TimeSpan.FromSeconds(15), "protocols nat");

    /// <summary>Kills the process if it still runs and deletes the namespaces.</summary>
    public void Dispose()
    {
        InteropEnvironment.KillQuietly(_process);
        try
        {
            try
            {
                Router?.Dispose();
            }
            finally
            {
                Server.Dispose();
            }
        }
        finally
        {
            Client.Dispose();
        }
    }
}
