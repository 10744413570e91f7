using System.Diagnostics;

namespace Protocols.Interop.Tests;

/// <summary>
/// A client namespace whose default route points into the TUN device of a running
/// <c>protocols forward</c> (<c>ptun0</c>: the kernel 10.66.0.1/24, the stack 10.66.0.2), and a server
/// namespace reached over a veth pair (<c>pfw0</c> 10.77.0.1/24 in the client's namespace,
/// <c>pfw1</c> 10.77.0.2/24 and the servers' 10.88.0.2/24 in the server's). The forwarder's own
/// sockets leave through <c>pfw0</c>: bound to it (<c>--outbound-interface</c>, with <c>ip rule oif
/// pfw0 lookup 100</c>) or marked (<c>--fwmark 7</c>, with <c>ip rule fwmark 7 lookup 100</c>); table
/// 100 routes 10.88.0.0/24 via 10.77.0.2. Without that they would loop into the TUN device.
/// Disposal stops the process and deletes both namespaces.
/// </summary>
public sealed class ForwardLink : IDisposable
{
    public const string ServerAddress = "10.88.0.2";
    public const string ProxyAddress = "10.77.0.2";

    private readonly Process _process;
    private readonly OutputTail _output;

    private ForwardLink(TestNamespace client, TestNamespace server, Process process, OutputTail output)
    {
        Client = client;
        Server = server;
        _process = process;
        _output = output;
    }

    /// <summary>The client's namespace (also the forwarder's).</summary>
    public TestNamespace Client { get; }

    /// <summary>The servers' namespace.</summary>
    public TestNamespace Server { get; }

    /// <summary>The forwarder process.</summary>
    public Process Process => _process;

    /// <summary>What the process wrote (the last few KiB).</summary>
    public string Errors => _output.Text;

    /// <summary>Makes the namespaces and starts <c>protocols forward</c>; <paramref name="byMark"/> picks <c>--fwmark</c> over <c>--outbound-interface</c>.</summary>
    public static async Task<ForwardLink> StartAsync(TimeSpan timeout, bool byMark = false, params string[] extra)
    {
        var client = new TestNamespace();
        TestNamespace? server = null;
        Process? process = null;
        try
        {
            server = new TestNamespace();
            client.Ip("tuntap", "add", "dev", "ptun0", "mode", "tun");
            client.Ip("addr", "add", "10.66.0.1/24", "dev", "ptun0");
            client.Ip("link", "set", "ptun0", "up");
            client.Ip("link", "add", "pfw0", "type", "veth", "peer", "name", "pfw1", "netns", server.Name);
            client.Ip("addr", "add", "10.77.0.1/24", "dev", "pfw0");
            client.Ip("link", "set", "pfw0", "up");
            server.Ip("addr", "add", "10.77.0.2/24", "dev", "pfw1");
            server.Ip("addr", "add", $"{ServerAddress}/24", "dev", "pfw1");
            server.Ip("link", "set", "pfw1", "up");
            client.WaitForOperationalUp("pfw0");
            server.WaitForOperationalUp("pfw1");
            client.Ip("route", "add", "10.88.0.0/24", "via", ProxyAddress, "dev", "pfw0", "table", "100");
            client.Ip("route", "add", "10.77.0.0/24", "dev", "pfw0", "table", "100");
            client.Ip("rule", "add", byMark ? "fwmark" : "oif", byMark ? "7" : "pfw0", "lookup", "100");
            string[] outbound = byMark ? ["--fwmark", "7"] : ["--outbound-interface", "pfw0"];
            process = client.Start(ProtocolsCli.DotnetHost(), [ProtocolsCli.ProtocolsDll(), "forward", "--tun", "ptun0", "--address", "10.66.0.2/24", .. outbound, .. extra]);
            process.StandardInput.Close();
            string? first = await process.StandardOutput.ReadLineAsync().WaitAsync(timeout);
            var output = new OutputTail(process);
            Assert.True(first == "ready", $"expected 'ready', got '{first}'; {output.Text}");
            client.WaitForOperationalUp("ptun0");

            // Everything else goes into the forwarder (the servers' 10.88.0.0/24 included).
            client.Ip("route", "add", "default", "dev", "ptun0");
            return new ForwardLink(client, server, process, output);
        }
        catch
        {
            if (process is not null)
            {
                InteropEnvironment.KillQuietly(process);
            }

            server?.Dispose();
            client.Dispose();
            throw;
        }
    }

    /// <summary>SIGTERM, then waits (at most 15 s) for the exit; returns the exit code and what it wrote.</summary>
    public (int ExitCode, string Errors) Stop() => ProtocolsCli.Stop(_process, _output, TimeSpan.FromSeconds(20), "protocols forward");

    /// <summary>Kills the process if it still runs and deletes the namespaces.</summary>
    public void Dispose()
    {
        InteropEnvironment.KillQuietly(_process);
        try
        {
            Server.Dispose();
        }
        finally
        {
            Client.Dispose();
        }
    }
}
