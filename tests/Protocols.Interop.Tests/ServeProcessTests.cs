using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Protocols.Interop.Tests;

/// <summary>
/// The real <c>protocols serve</c> as a child process inside a namespace (CLI.md): it prints
/// <c>ready</c>, answers the kernel's ping and UDP, and exits 0 with the device closed on SIGTERM.
/// </summary>
public sealed partial class ServeProcessTests
{
    private const int SIGTERM = 15;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [InteropFact(Tools = ["ping", "socat"])]
    public async Task ServeOnTunAnswersPingAndUdpAndExitsCleanlyOnSigterm()
    {
        using var ns = new TestNamespace();
        string pcap = Path.Combine(Path.GetTempPath(), $"protocols-serve-{Guid.NewGuid():N}.pcap");
        Process serve = ns.Start(DotnetHost(), ProtocolsDll(), "serve", "--tun", "ptun0", "--address", "10.66.0.2/24", "--udp-echo", "7", "--pcap", pcap);
        try
        {
            Task<string> stderr = serve.StandardError.ReadToEndAsync();
            string? first = await serve.StandardOutput.ReadLineAsync().WaitAsync(Limit);
            Assert.True(first == "ready", $"expected 'ready', got '{first}'; stderr: {(serve.HasExited ? await stderr : "(running)")}");

            ns.Ip("addr", "add", "10.66.0.1/24", "dev", "ptun0");
            ns.Ip("link", "set", "ptun0", "up");
            ToolResult ping = ns.Exec(Limit, "ping", "-n", "-c", "3", "-i", "0.2", "-w", "20", "10.66.0.2");
            Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
            Assert.Equal(3, PingTests.Received(ping));

            ToolResult udp = ns.Exec(Limit, "sh", "-c", "printf 'echo me' | socat -t 2 - UDP:10.66.0.2:7");
            Assert.True(udp.ExitCode == 0, TestNamespace.Describe(udp));
            Assert.Equal("echo me", udp.Output);

            Assert.Equal(0, Kill(serve.Id, SIGTERM));
            Assert.True(serve.WaitForExit(TimeSpan.FromSeconds(15)), "serve did not exit within 15 s of SIGTERM");
            Assert.Equal(0, serve.ExitCode);
            Assert.Contains("serve: stopped", await stderr.WaitAsync(Limit), StringComparison.Ordinal);

            // It created the TUN device, so closing it removed the interface; the capture holds the exchange.
            Assert.NotEqual(0, InteropEnvironment.Run("ip", ["-n", ns.Name, "link", "show", "ptun0"]).ExitCode);
            Assert.True(new FileInfo(pcap).Length > 24 + (3 * 2 * (16 + 84)), "the pcap holds at least the pings");
        }
        finally
        {
            InteropEnvironment.KillQuietly(serve); // ns also kills and disposes it
            File.Delete(pcap);
        }
    }

    [InteropFact]
    public void ServeRejectsBadArgumentsWithExit2()
    {
        ToolResult both = InteropEnvironment.Run(DotnetHost(), [ProtocolsDll(), "serve", "--tun", "a", "--raw", "b", "--address", "10.0.0.1/24"], Limit);
        Assert.Equal(2, both.ExitCode);
        Assert.Contains("--raw", both.Error, StringComparison.Ordinal);

        ToolResult http = InteropEnvironment.Run(DotnetHost(), [ProtocolsDll(), "serve", "--tun", "a", "--address", "10.0.0.1/24", "--http", "80"], Limit);
        Assert.Equal(2, http.ExitCode);
        Assert.Contains("not supported yet", http.Error, StringComparison.Ordinal);

        // A device that cannot be opened is a failure (exit 1) with a one-line reason.
        ToolResult missing = InteropEnvironment.Run(DotnetHost(), [ProtocolsDll(), "serve", "--raw", "nosuch0", "--address", "10.0.0.1/24"], Limit);
        Assert.Equal(1, missing.ExitCode);
        Assert.Contains("nosuch0", missing.Error, StringComparison.Ordinal);
        Assert.Single(missing.Error.Trim().Split('\n'));
    }

    /// <summary>The <c>dotnet</c> that runs these tests (DOTNET_HOST_PATH under <c>dotnet test</c>).</summary>
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : InteropEnvironment.FindOnPath("dotnet") ?? throw new InvalidOperationException("dotnet is not on PATH");

    /// <summary>The <c>protocols</c> command built next to this assembly (the project references Cli).</summary>
    private static string ProtocolsDll()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "protocols.dll");
        Assert.True(File.Exists(path), $"{path} is missing: the test project references Cli, which should copy it here");
        return path;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
