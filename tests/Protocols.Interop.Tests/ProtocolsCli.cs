using System.Diagnostics;
using System.Runtime.InteropServices;

namespace Protocols.Interop.Tests;

/// <summary>The real <c>protocols</c> command (built next to this assembly) run as a child process.</summary>
public static partial class ProtocolsCli
{
    private const int SIGTERM = 15;
    private const int SIGINT = 2;

    /// <summary>The <c>dotnet</c> that runs these tests (DOTNET_HOST_PATH under <c>dotnet test</c>).</summary>
    public static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
            ? host
            : InteropEnvironment.FindOnPath("dotnet") ?? throw new InvalidOperationException("dotnet is not on PATH");

    /// <summary>The <c>protocols</c> command built next to this assembly (the project references Cli).</summary>
    public static string ProtocolsDll()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "protocols.dll");
        Assert.True(File.Exists(path), $"{path} is missing: the test project references Cli, which should copy it here");
        return path;
    }

    /// <summary>Runs <c>protocols ARGS</c> inside <paramref name="ns"/> to completion (bounded).</summary>
    public static ToolResult Run(TestNamespace ns, TimeSpan timeout, params string[] arguments) =>
        ns.Exec(timeout, DotnetHost(), [ProtocolsDll(), .. arguments]);

    /// <summary>Sends SIGTERM to a process we started.</summary>
    public static int Terminate(Process process) => Kill(process.Id, SIGTERM);

    /// <summary>
    /// SIGTERM to a long-running verb (<paramref name="name"/>, for messages), then waits at most
    /// <paramref name="exitLimit"/> for its exit and 10 s for the end of <paramref name="output"/>;
    /// returns the exit code and that output.
    /// </summary>
    public static (int ExitCode, string Output) Stop(Process process, OutputTail output, TimeSpan exitLimit, string name)
    {
        Terminate(process);
        int code = KernelTools.WaitForExit(process, exitLimit, name);
        Assert.True(output.WaitForEnd(TimeSpan.FromSeconds(10)), $"the output of {name} did not end within 10 s of its exit");
        return (code, output.Text);
    }

    /// <summary>Sends SIGINT (Ctrl-C) to a process we started.</summary>
    public static int Interrupt(Process process) => Kill(process.Id, SIGINT);

    /// <summary>
    /// SIGINT, as Ctrl-C sends it, unless the process inherited SIGINT ignored (a test run started in
    /// the background of a non-interactive shell passes that on, and an ignored SIGINT stays ignored
    /// across exec): then SIGTERM, which the command handles the same way.
    /// </summary>
    /// <returns>The signal sent, and kill's result.</returns>
    public static (int Signal, int Result) InterruptOrTerminate(Process process)
    {
        int signal = IgnoresSigint(process.Id) ? SIGTERM : SIGINT;
        return (signal, Kill(process.Id, signal));
    }

    private static bool IgnoresSigint(int pid)
    {
        foreach (string line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("SigIgn:", StringComparison.Ordinal))
            {
                ulong mask = ulong.Parse(line.AsSpan(7).Trim(), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
                return (mask & (1UL << (SIGINT - 1))) != 0;
            }
        }

        return false;
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>
/// Where a <c>protocols</c> process and the kernel meet: over TUN (one namespace; <c>ptun0</c>
/// made persistent with <c>ip tuntap add</c> and configured with the kernel's 10.66.0.1/24 before
/// the process attaches, so a client can send at once) or over a veth pair (the process drives
/// <c>pveth0</c> through AF_PACKET in one namespace, the kernel has <c>pveth1</c> with 10.66.0.1/24
/// in another). Disposal deletes the namespaces, which kills what their helpers started.
/// </summary>
public sealed class CliLink : IDisposable
{
    private readonly TestNamespace? _kernelSide;

    private CliLink(TestNamespace stackSide, TestNamespace? kernelSide, string[] deviceArguments)
    {
        StackSide = stackSide;
        _kernelSide = kernelSide;
        DeviceArguments = deviceArguments;
    }

    /// <summary>The namespace the <c>protocols</c> process runs in.</summary>
    public TestNamespace StackSide { get; }

    /// <summary>The namespace of the kernel's tools.</summary>
    public TestNamespace Kernel => _kernelSide ?? StackSide;

    /// <summary><c>--tun ptun0</c> or <c>--raw pveth0</c>, plus <c>--address 10.66.0.2/24</c> (and <c>--address 2001:db8:66::2/64</c> with IPv6).</summary>
    public string[] DeviceArguments { get; }

    /// <summary>Makes the link for <paramref name="medium"/> (<c>tun</c> or <c>raw</c>); with <paramref name="ipv6"/> both ends also get IPv6 addresses (2001:db8:66::1 for the kernel, without DAD, and ::2 for the process).</summary>
    public static CliLink Create(string medium, bool ipv6 = false)
    {
        var stackSide = new TestNamespace();
        TestNamespace? kernelSide = null;
        string[] addresses = ipv6
            ? ["--address", $"{KernelPeer.StackAddress}/24", "--address", $"{KernelPeer.StackAddress6}/64"]
            : ["--address", $"{KernelPeer.StackAddress}/24"];
        try
        {
            if (medium == "tun")
            {
                stackSide.Ip("tuntap", "add", "dev", "ptun0", "mode", "tun");
                stackSide.Ip("addr", "add", $"{KernelPeer.KernelAddress}/24", "dev", "ptun0");
                if (ipv6)
                {
                    stackSide.Ip("-6", "addr", "add", $"{KernelPeer.KernelAddress6}/64", "dev", "ptun0", "nodad");
                }

                stackSide.Ip("link", "set", "ptun0", "up");
                return new CliLink(stackSide, null, ["--tun", "ptun0", .. addresses]);
            }

            kernelSide = new TestNamespace();
            stackSide.Ip("link", "add", "pveth0", "type", "veth", "peer", "name", "pveth1", "netns", kernelSide.Name);
            stackSide.Ip("link", "set", "pveth0", "up");
            kernelSide.Ip("addr", "add", $"{KernelPeer.KernelAddress}/24", "dev", "pveth1");
            if (ipv6)
            {
                kernelSide.Ip("-6", "addr", "add", $"{KernelPeer.KernelAddress6}/64", "dev", "pveth1", "nodad");
            }

            kernelSide.Ip("link", "set", "pveth1", "up");
            stackSide.WaitForOperationalUp("pveth0");
            kernelSide.WaitForOperationalUp("pveth1");
            return new CliLink(stackSide, kernelSide, ["--raw", "pveth0", .. addresses]);
        }
        catch
        {
            kernelSide?.Dispose();
            stackSide.Dispose();
            throw;
        }
    }

    /// <summary>Runs <c>protocols VERB ... DEVICE-ARGS</c> in the stack's namespace to completion (bounded).</summary>
    public ToolResult Run(TimeSpan timeout, params string[] arguments) =>
        ProtocolsCli.Run(StackSide, timeout, [.. arguments, .. DeviceArguments]);

    /// <summary>Starts <c>protocols serve DEVICE-ARGS ARGS</c> and waits (bounded) for its <c>ready</c>.</summary>
    public async Task<ServeProcess> ServeAsync(TimeSpan timeout, params string[] arguments)
    {
        Process process = StackSide.Start(ProtocolsCli.DotnetHost(), [ProtocolsCli.ProtocolsDll(), "serve", .. DeviceArguments, .. arguments]);
        process.StandardInput.Close();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        try
        {
            string? first = await process.StandardOutput.ReadLineAsync().WaitAsync(timeout);
            Assert.True(first == "ready", $"expected 'ready', got '{first}'; stderr: {(process.HasExited ? await stderr : "(running)")}");
            _ = process.StandardOutput.ReadToEndAsync(); // keep stdout drained
            if (_kernelSide is null)
            {
                // A TUN device has a carrier only while a process holds it: wait for it.
                StackSide.WaitForOperationalUp("ptun0");
            }

            return new ServeProcess(process, stderr);
        }
        catch
        {
            InteropEnvironment.KillQuietly(process);
            throw;
        }
    }

    /// <summary>Deletes the namespaces (and with them the devices and what they started).</summary>
    public void Dispose()
    {
        try
        {
            _kernelSide?.Dispose();
        }
        finally
        {
            StackSide.Dispose();
        }
    }
}

/// <summary>A running <c>protocols serve</c>.</summary>
public sealed class ServeProcess : IDisposable
{
    private readonly Task<string> _stderr;

    internal ServeProcess(Process process, Task<string> stderr)
    {
        Process = process;
        _stderr = stderr;
    }

    /// <summary>The process.</summary>
    public Process Process { get; }

    /// <summary>SIGTERM, then waits (at most 15 s) for the exit; returns the exit code and stderr.</summary>
    public (int ExitCode, string Errors) Stop()
    {
        Assert.Equal(0, ProtocolsCli.Terminate(Process));
        int code = KernelTools.WaitForExit(Process, TimeSpan.FromSeconds(15), "protocols serve");
        return (code, _stderr.Wait(5000) ? _stderr.Result : string.Empty);
    }

    /// <summary>Kills the process by pid if it still runs.</summary>
    public void Dispose() => InteropEnvironment.KillQuietly(Process);
}
