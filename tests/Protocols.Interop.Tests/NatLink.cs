using System.Diagnostics;

namespace Protocols.Interop.Tests;

/// <summary>
/// Two namespaces with <c>protocols nat</c> between them: in the client's namespace the kernel has
/// <c>pin0</c> (TUN, 10.0.0.10/24, default route via the NAT's 10.0.0.1) and the NAT process runs
/// there, driving <c>pveth0</c> through AF_PACKET as its outside device (203.0.113.1/24, no kernel
/// address); the server's namespace has the other end <c>pveth1</c> with 203.0.113.2/24.
/// Disposal stops the process and deletes both namespaces.
/// </summary>
public sealed class NatLink : IDisposable
{
    public const string ClientAddress = "10.0.0.10";
    public const string InsideAddress = "10.0.0.1";
    public const string OutsideAddress = "203.0.113.1";
    public const string ServerAddress = "203.0.113.2";

    private readonly Process _process;
    private readonly OutputTail _stderr;
    private readonly StreamReader _stdout;

    private NatLink(TestNamespace client, TestNamespace server, Process process, StreamReader stdout, OutputTail stderr)
    {
        Client = client;
        Server = server;
        _process = process;
        _stdout = stdout;
        _stderr = stderr;
    }

    /// <summary>The namespace of the inside client (and of the NAT process).</summary>
    public TestNamespace Client { get; }

    /// <summary>The namespace of the outside server.</summary>
    public TestNamespace Server { get; }

    /// <summary>The NAT process.</summary>
    public Process Process => _process;

    /// <summary>What the process wrote on stderr (the last few KiB).</summary>
    public string Errors => _stderr.Text;

    /// <summary>Makes the namespaces and starts <c>protocols nat</c> with <paramref name="extra"/>; waits (bounded) for <c>ready</c>.</summary>
    public static async Task<NatLink> StartAsync(TimeSpan timeout, params string[] extra)
    {
        var client = new TestNamespace();
        TestNamespace? server = null;
        Process? process = null;
        try
        {
            server = new TestNamespace();
            client.Ip("tuntap", "add", "dev", "pin0", "mode", "tun");
            client.Ip("addr", "add", $"{ClientAddress}/24", "dev", "pin0");
            client.Ip("link", "set", "pin0", "up");
            client.Ip("link", "add", "pveth0", "type", "veth", "peer", "name", "pveth1", "netns", server.Name);
            client.Ip("link", "set", "pveth0", "up");
            server.Ip("addr", "add", $"{ServerAddress}/24", "dev", "pveth1");
            server.Ip("link", "set", "pveth1", "up");
            client.WaitForOperationalUp("pveth0");
            server.WaitForOperationalUp("pveth1");
            process = client.Start(ProtocolsCli.DotnetHost(), [ProtocolsCli.ProtocolsDll(), "nat",
                "--inside", "tun:pin0", "--inside-address", $"{InsideAddress}/24",
                "--outside", "raw:pveth0", "--outside-address", $"{OutsideAddress}/24", .. extra]);
            process.StandardInput.Close();
            var stderr = new OutputTail(process, stdout: false);
            string? first = await process.StandardOutput.ReadLineAsync().WaitAsync(timeout);
            Assert.True(first == "ready", $"expected 'ready', got '{first}'; stderr: {stderr.Text}");
            client.WaitForOperationalUp("pin0");
            client.Ip("route", "add", "default", "via", InsideAddress, "dev", "pin0");
            return new NatLink(client, server, process, process.StandardOutput, stderr);
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

    /// <summary>SIGTERM, then waits (at most 15 s) for the exit; returns the exit code and stderr.</summary>
    public (int ExitCode, string Errors) Stop()
    {
        ProtocolsCli.Terminate(_process);
        int code = KernelTools.WaitForExit(_process, TimeSpan.FromSeconds(15), "protocols nat");
        Thread.Sleep(200);
        return (code, _stderr.Text);
    }

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
