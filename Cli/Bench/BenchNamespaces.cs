using System.Diagnostics;
using System.Globalization;

namespace Protocols.Cli.Bench;

/// <summary>
/// The private network namespaces of one <c>bench --kernel</c> run: made with <c>ip netns add</c>,
/// named <c>protocols-bench-PID-N</c>, and removed when the run ends, whichever way it ends: a
/// normal return, an exception, Ctrl-C (the verb cancels and unwinds to <see cref="Dispose"/>) or
/// process exit (a last-chance handler deletes what is left).
/// </summary>
internal sealed class BenchNamespaces : IDisposable
{
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(20);
    private readonly List<string> _names = [];
    private readonly Lock _lock = new();
    private readonly EventHandler _onExit;
    private int _next;

    /// <summary>Registers the last-chance cleanup at process exit.</summary>
    public BenchNamespaces()
    {
        _onExit = (_, _) => Dispose();
        AppDomain.CurrentDomain.ProcessExit += _onExit;
    }

    /// <summary>The namespaces alive now.</summary>
    public IReadOnlyList<string> Names
    {
        get
        {
            lock (_lock)
            {
                return [.. _names];
            }
        }
    }

    /// <summary>Makes a new namespace with its loopback up and returns its name.</summary>
    public string Create()
    {
        string name = string.Create(CultureInfo.InvariantCulture, $"protocols-bench-{Environment.ProcessId}-{Interlocked.Increment(ref _next)}");
        Run("ip", "netns", "add", name);
        lock (_lock)
        {
            _names.Add(name);
        }

        Run("ip", "-n", name, "link", "set", "lo", "up");
        return name;
    }

    /// <summary>Runs <c>ip -n NS ARGS</c>; throws with its error output when it fails.</summary>
    public static void Ip(string ns, params string[] arguments) => Run("ip", ["-n", ns, .. arguments]);

    /// <summary>Runs <paramref name="program"/> inside <paramref name="ns"/> (<c>ip netns exec</c>); returns its exit code and output.</summary>
    public static (int ExitCode, string Output) Exec(string ns, string program, params string[] arguments) =>
        TryRun("ip", ["netns", "exec", ns, program, .. arguments]);

    /// <summary>Runs a program to completion (bounded); throws when it fails.</summary>
    public static void Run(string program, params string[] arguments)
    {
        (int code, string output) = TryRun(program, arguments);
        if (code != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)}: exit {code}: {output.Trim()}");
        }
    }

    /// <summary>Runs a program to completion (bounded by 20 s, then killed); returns its exit code and combined output.</summary>
    public static (int ExitCode, string Output) TryRun(string program, params string[] arguments)
    {
        var start = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start) ?? throw new InvalidOperationException($"{program} did not start");
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(CommandTimeout))
        {
            process.Kill(entireProcessTree: true);
            return (-1, $"{program} timed out after {CommandTimeout.TotalSeconds} s");
        }

        return (process.ExitCode, output.Result + error.Result);
    }

    /// <summary>Deletes every namespace made here (devices and links in them go with them).</summary>
    public void Dispose()
    {
        string[] names;
        lock (_lock)
        {
            names = [.. _names];
            _names.Clear();
        }

        foreach (string name in names)
        {
            _ = TryRun("ip", "netns", "del", name);
        }

        AppDomain.CurrentDomain.ProcessExit -= _onExit;
    }
}
