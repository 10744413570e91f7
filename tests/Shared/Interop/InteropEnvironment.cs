using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;

namespace Protocols.Interop;

/// <summary>
/// A fact that needs the Linux kernel as a peer (TEST-NETWORK.md): root, <c>/dev/net/tun</c>,
/// <c>ip</c> with network namespaces, plus the <see cref="Tools"/> it names. When the machine lacks
/// one, the test reports itself skipped with the reason; CI runs as root, so there they run.
/// </summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class InteropFactAttribute : FactAttribute
{
    /// <summary>Extra programs the test runs (looked up on PATH), e.g. <c>ping</c>, <c>socat</c>.</summary>
    public string[] Tools { get; set; } = [];

    /// <inheritdoc/>
    public override string? Skip
    {
        get => base.Skip ?? InteropEnvironment.MissingReason(Tools);
        set => base.Skip = value;
    }
}

/// <summary>A theory with the environment checks of <see cref="InteropFactAttribute"/>.</summary>
[AttributeUsage(AttributeTargets.Method, AllowMultiple = false)]
public sealed class InteropTheoryAttribute : TheoryAttribute
{
    /// <summary>Extra programs the test runs (looked up on PATH).</summary>
    public string[] Tools { get; set; } = [];

    /// <inheritdoc/>
    public override string? Skip
    {
        get => base.Skip ?? InteropEnvironment.MissingReason(Tools);
        set => base.Skip = value;
    }
}

/// <summary>What the interop tests need from the machine, and small helpers to run kernel tools with bounded waits.</summary>
public static class InteropEnvironment
{
    /// <summary>The longest any single tool invocation may take before it is killed.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    /// <summary>Why interop tests cannot run here, or null when they can.</summary>
    public static string? MissingReason(IEnumerable<string> tools)
    {
        if (!OperatingSystem.IsLinux())
        {
            return "interop tests need Linux";
        }

        if (Environment.UserName != "root" && !IsRoot())
        {
            return "interop tests need root (network namespaces, TUN, AF_PACKET)";
        }

        if (!File.Exists("/dev/net/tun"))
        {
            return "interop tests need /dev/net/tun";
        }

        foreach (string tool in tools.Prepend("ip"))
        {
            if (FindOnPath(tool) is null)
            {
                return $"interop tests need '{tool}' on PATH (install it: see .ci/run)";
            }
        }

        return null;
    }

    /// <summary>The full path of <paramref name="tool"/> on PATH, or null.</summary>
    public static string? FindOnPath(string tool)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/sbin:/usr/bin:/sbin:/bin").Split(':').Concat(["/usr/sbin", "/sbin"]))
        {
            string candidate = Path.Combine(dir, tool);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }

    /// <summary>The full path of a bare program name (PATH plus /usr/sbin and /sbin, where <c>ip</c> lives), else the name as given.</summary>
    public static string Resolve(string file) => file.Contains('/', StringComparison.Ordinal) ? file : FindOnPath(file) ?? file;

    /// <summary>Runs a program to completion (killed by pid after <paramref name="timeout"/>); returns exit code and output.</summary>
    public static ToolResult Run(string file, IEnumerable<string> arguments, TimeSpan? timeout = null)
    {
        var info = new ProcessStartInfo(Resolve(file))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {file}");
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        TimeSpan limit = timeout ?? DefaultTimeout;
        if (!process.WaitForExit(limit))
        {
            KillQuietly(process);
            process.WaitForExit(5000);
            throw new TimeoutException($"{file} {string.Join(' ', info.ArgumentList)} did not finish within {limit.TotalSeconds} s; killed pid {process.Id}");
        }

        process.WaitForExit();
        return new ToolResult(process.ExitCode, stdout.Wait(5000) ? stdout.Result : string.Empty, stderr.Wait(5000) ? stderr.Result : string.Empty);
    }

    /// <summary>Runs <paramref name="file"/> and throws unless it exits 0.</summary>
    public static string Check(string file, params string[] arguments)
    {
        ToolResult result = Run(file, arguments);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited {result.ExitCode}: {result.Error.Trim()}");
        }

        return result.Output;
    }

    /// <summary>Kills <paramref name="process"/> (one we started) and its children, ignoring a process that already ended.</summary>
    public static void KillQuietly(Process process)
    {
        try
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }
        catch (InvalidOperationException)
        {
        }
        catch (System.ComponentModel.Win32Exception)
        {
        }
    }

    private static bool IsRoot()
    {
        try
        {
            foreach (string line in File.ReadLines("/proc/self/status"))
            {
                if (line.StartsWith("Uid:", StringComparison.Ordinal))
                {
                    string[] parts = line.Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
                    return parts.Length > 2 && parts[2] == "0";
                }
            }
        }
        catch (IOException)
        {
        }

        return false;
    }
}

/// <summary>The outcome of a tool run.</summary>
/// <param name="ExitCode">The exit code.</param>
/// <param name="Output">Standard output.</param>
/// <param name="Error">Standard error.</param>
public sealed record ToolResult(int ExitCode, string Output, string Error);

/// <summary>
/// A network namespace <c>protocols-RANDOM</c> for one test, removed (with every interface in
/// it) on dispose. Kernel tools run inside with <see cref="Exec"/> or <see cref="Start"/>.
/// </summary>
public sealed class TestNamespace : IDisposable
{
    private readonly List<Process> _started = [];

    /// <summary>Creates the namespace and brings its loopback up.</summary>
    public TestNamespace()
    {
        Name = "protocols-" + Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(4));
        InteropEnvironment.Check("ip", "netns", "add", Name);
        try
        {
            Ip("link", "set", "lo", "up");
        }
        catch
        {
            InteropEnvironment.Run("ip", ["netns", "del", Name]);
            throw;
        }
    }

    /// <summary>The namespace's name (for <c>ip netns exec</c>, <see cref="Protocols.Ip.Devices.Linux.NetworkNamespace"/>).</summary>
    public string Name { get; }

    /// <summary>Runs <c>ip -n NAME ARGS</c> and throws unless it succeeds.</summary>
    public string Ip(params string[] arguments) => InteropEnvironment.Check("ip", ["-n", Name, .. arguments]);

    /// <summary>Runs a program inside the namespace to completion (bounded by <paramref name="timeout"/>).</summary>
    public ToolResult Exec(TimeSpan timeout, string program, params string[] arguments) =>
        InteropEnvironment.Run("ip", ["netns", "exec", Name, program, .. arguments], timeout);

    /// <summary>Starts a program inside the namespace; it is killed by pid on dispose if still running.</summary>
    public Process Start(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(InteropEnvironment.Resolve("ip"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (string a in (string[])["netns", "exec", Name, program, .. arguments])
        {
            info.ArgumentList.Add(a);
        }

        Process process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        lock (_started)
        {
            _started.Add(process);
        }

        return process;
    }

    /// <summary>Kills what this namespace's helpers started, then deletes the namespace.</summary>
    public void Dispose()
    {
        try
        {
            StopProcesses();
        }
        finally
        {
            InteropEnvironment.Run("ip", ["netns", "del", Name], TimeSpan.FromSeconds(10));
        }
    }

    private void StopProcesses()
    {
        lock (_started)
        {
            foreach (Process process in _started)
            {
                try
                {
                    InteropEnvironment.KillQuietly(process);
                    process.WaitForExit(5000);
                }
                catch (InvalidOperationException)
                {
                    // Already disposed by the test.
                }

                process.Dispose();
            }

            _started.Clear();
        }
    }

    /// <summary>
    /// Waits (at most 10 s) until <paramref name="device"/> is operationally up. The kernel's link
    /// watcher activates a new veth's queueing discipline up to a second after <c>up</c>; until
    /// then frames sent on it are dropped and its ARP entries are flushed, so tests wait for it.
    /// </summary>
    public void WaitForOperationalUp(string device)
    {
        DateTime limit = DateTime.UtcNow.AddSeconds(10);
        while (true)
        {
            string[] fields = Ip("-br", "link", "show", "dev", device).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 1 && fields[1] is "UP" or "UNKNOWN")
            {
                return;
            }

            if (DateTime.UtcNow > limit)
            {
                throw new TimeoutException($"{device} in {Name} is not up after 10 s: {string.Join(' ', fields)}");
            }

            Thread.Sleep(20);
        }
    }

    /// <summary>Makes a string of a process's collected output for assertion messages.</summary>
    public static string Describe(ToolResult result)
    {
        var text = new StringBuilder();
        text.Append("exit ").Append(result.ExitCode).AppendLine();
        text.AppendLine(result.Output.Trim());
        text.Append(result.Error.Trim());
        return text.ToString();
    }
}
