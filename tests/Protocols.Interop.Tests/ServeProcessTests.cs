using System.Diagnostics;

namespace Protocols.Interop.Tests;

/// <summary>
/// The real <c>protocols serve</c> as a child process inside a namespace (CLI.md): it prints
/// <c>ready</c>, answers the kernel's ping and UDP, and exits 0 with the device closed on SIGTERM.
/// </summary>
public sealed class ServeProcessTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [InteropTheory(Tools = ["ping", "socat"])]
    [InlineData("tun", true)]
    [InlineData("tun", false)]
    [InlineData("raw", true)]
    [InlineData("raw", false)]
    public async Task Serve_answers_ping_and_UDP_and_exits_cleanly_on_SIGTERM(string medium, bool offloads)
    {
        // tun: serve creates ptun0 in one namespace, the kernel side is configured after 'ready'.
        // raw: a veth pair, serve drives pveth0 (no address) and the kernel has pveth1 in a second namespace.
        using var stackSide = new TestNamespace();
        using TestNamespace? kernelSide = medium == "raw" ? new TestNamespace() : null;
        TestNamespace kernel = kernelSide ?? stackSide;
        if (kernelSide is not null)
        {
            stackSide.Ip("link", "add", "pveth0", "type", "veth", "peer", "name", "pveth1", "netns", kernelSide.Name);
            stackSide.Ip("link", "set", "pveth0", "up");
            kernelSide.Ip("addr", "add", "10.66.0.1/24", "dev", "pveth1");
            kernelSide.Ip("link", "set", "pveth1", "up");
            stackSide.WaitForOperationalUp("pveth0");
            kernelSide.WaitForOperationalUp("pveth1");
        }

        string pcap = Path.Combine(Path.GetTempPath(), $"protocols-serve-{Guid.NewGuid():N}.pcap");
        string[] device = medium == "raw" ? ["--raw", "pveth0"] : ["--tun", "ptun0"];
        string[] mode = offloads ? [] : ["--no-offloads"];
        Process serve = stackSide.Start(ProtocolsCli.DotnetHost(), [ProtocolsCli.ProtocolsDll(), "serve", .. device, .. mode, "--address", "10.66.0.2/24", "--udp-echo", "7", "--pcap", pcap, "--verbose"]);
        try
        {
            Task<string> stderr = serve.StandardError.ReadToEndAsync();
            string? first = await serve.StandardOutput.ReadLineAsync().WaitAsync(Limit);
            Assert.True(first == "ready", $"expected 'ready', got '{first}'; stderr: {(serve.HasExited ? await stderr : "(running)")}");

            if (kernelSide is null)
            {
                stackSide.Ip("addr", "add", "10.66.0.1/24", "dev", "ptun0");
                stackSide.Ip("link", "set", "ptun0", "up");
            }

            ToolResult ping = kernel.Exec(Limit, "ping", "-n", "-c", "3", "-i", "0.2", "-w", "20", "10.66.0.2");
            Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
            PingTests.AssertAllAnswered(ping, 3);

            ToolResult udp = kernel.Exec(Limit, "sh", "-c", "printf 'echo me' | socat -t 2 - UDP:10.66.0.2:7");
            Assert.True(udp.ExitCode == 0, TestNamespace.Describe(udp));
            Assert.Equal("echo me", udp.Output);

            Assert.Equal(0, ProtocolsCli.Terminate(serve));
            Assert.True(serve.WaitForExit(TimeSpan.FromSeconds(15)), "serve did not exit within 15 s of SIGTERM");
            Assert.Equal(0, serve.ExitCode);
            string log = await stderr.WaitAsync(Limit);
            Assert.Contains("serve: stopped", log, StringComparison.Ordinal);

            // --verbose names the device's offload mode: on by default, off as asked with --no-offloads.
            Assert.Contains($"{device[1]}: {(offloads ? "offloads on" : "offloads off")}", log, StringComparison.Ordinal);
            Assert.True(new FileInfo(pcap).Length > 24 + (3 * 2 * (16 + 84)), "the pcap holds at least the pings");

            // serve created the TUN device, so closing it removed the interface; the veth stays.
            Assert.Equal(medium == "raw", InteropEnvironment.Run("ip", ["-n", stackSide.Name, "link", "show", device[1]]).ExitCode == 0);
        }
        finally
        {
            InteropEnvironment.KillQuietly(serve); // the namespace also kills and disposes it
            File.Delete(pcap);
        }
    }

    [Theory]
    [InlineData("--tun a --raw b --address 10.0.0.1/24", "--raw")]
    [InlineData("--address 10.0.0.1/24", "--tun or --raw")]
    [InlineData("--tun a", "--address")]
    [InlineData("--tun a --address 10.0.0.1", "--address")]
    [InlineData("--tun a --address 10.0.0.1/33", "--address")]
    [InlineData("--tun a --address 127.0.0.1/8", "--address")]
    [InlineData("--tun this-name-is-too-long --address 10.0.0.1/24", "--tun")]
    [InlineData("--tun a --address 10.0.0.1/24 --gateway 10.0.1.1", "--gateway")]
    [InlineData("--tun a --address 10.0.0.1/24 --mtu 67", "--mtu")]
    [InlineData("--tun a --address 10.0.0.1/24 --udp-echo 65536", "--udp-echo")]
    [InlineData("--tun a --address 10.0.0.1/24 --bogus", "--bogus")]
    public void Bad_arguments_exit_2_with_one_line_naming_the_flag(string arguments, string named)
    {
        ToolResult result = InteropEnvironment.Run(ProtocolsCli.DotnetHost(), [ProtocolsCli.ProtocolsDll(), "serve", .. arguments.Split(' ')], Limit);
        Assert.Equal(2, result.ExitCode);
        Assert.Equal(string.Empty, result.Output);
        Assert.Single(result.Error.Trim().Split('\n'));
        Assert.Contains(named, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public void Help_and_an_unopenable_device()
    {
        ToolResult help = InteropEnvironment.Run(ProtocolsCli.DotnetHost(), [ProtocolsCli.ProtocolsDll(), "serve", "--help"], Limit);
        Assert.Equal(0, help.ExitCode);
        Assert.Contains("Usage:\n  protocols serve [options]", help.Output, StringComparison.Ordinal);
        Assert.Contains("--tun <NAME>", help.Output, StringComparison.Ordinal);
        Assert.Contains("--address <ADDR/LEN>", help.Output, StringComparison.Ordinal);

        // A device that cannot be opened is a failure (exit 1) with a one-line reason, never 'ready'.
        ToolResult missing = InteropEnvironment.Run(ProtocolsCli.DotnetHost(), [ProtocolsCli.ProtocolsDll(), "serve", "--raw", "nosuch0", "--address", "10.0.0.1/24"], Limit);
        Assert.Equal(1, missing.ExitCode);
        Assert.DoesNotContain("ready", missing.Output, StringComparison.Ordinal);
        Assert.Contains("nosuch0", missing.Error, StringComparison.Ordinal);
        Assert.Single(missing.Error.Trim().Split('\n'));
    }
}
