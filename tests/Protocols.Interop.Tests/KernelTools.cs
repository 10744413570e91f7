using System.Diagnostics;
using System.Globalization;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;

namespace Protocols.Interop.Tests;

/// <summary>
/// A private temporary directory for one test (data files, tool configs, captures), deleted on
/// dispose. Mode 0700 like <see cref="Directory.CreateTempSubdirectory(string?)"/>: the kernel
/// tools started here run as root, so they can read it.
/// </summary>
public sealed class TempDir : IDisposable
{
    /// <summary>Creates <c>/tmp/protocols-interop-XXXX</c>.</summary>
    public TempDir() => Path = Directory.CreateTempSubdirectory("protocols-interop-").FullName;

    /// <summary>The directory.</summary>
    public string Path { get; }

    /// <summary>A path inside the directory.</summary>
    public string this[string name] => System.IO.Path.Combine(Path, name);

    /// <summary>Writes <paramref name="length"/> random bytes to <paramref name="name"/>; returns the file's SHA-256 (hex, lower case).</summary>
    public string WriteRandomFile(string name, int length)
    {
        byte[] data = RandomNumberGenerator.GetBytes(length);
        File.WriteAllBytes(this[name], data);
        return Convert.ToHexStringLower(SHA256.HashData(data));
    }

    /// <summary>Deletes the directory and everything in it.</summary>
    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>Helpers for kernel tools that run inside a test's namespace.</summary>
public static partial class KernelTools
{
    private const int SIGINT = 2;

    /// <summary>The SHA-256 (hex, lower case) of a file.</summary>
    public static string Sha256OfFile(string path)
    {
        using FileStream file = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(file));
    }

    /// <summary>
    /// Waits until something in <paramref name="ns"/> listens on TCP <paramref name="port"/>
    /// (<c>ss -ltn</c>), at most <paramref name="timeout"/>; throws with the process's stderr when
    /// <paramref name="process"/> ended first.
    /// </summary>
    public static void WaitForListener(TestNamespace ns, int port, Process? process = null, Func<string>? errors = null, TimeSpan? timeout = null)
    {
        DateTime limit = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(15));
        while (true)
        {
            ToolResult ss = ns.Exec(TimeSpan.FromSeconds(10), "ss", "-Hltn", $"sport = :{port}");
            if (ss.ExitCode == 0 && ss.Output.Trim().Length > 0)
            {
                return;
            }

            if (process is { HasExited: true })
            {
                throw new InvalidOperationException($"the server for port {port} exited with {process.ExitCode} before listening: {errors?.Invoke() ?? string.Empty}");
            }

            if (DateTime.UtcNow > limit)
            {
                throw new TimeoutException($"nothing listens on TCP port {port} in {ns.Name} after {(timeout ?? TimeSpan.FromSeconds(15)).TotalSeconds} s");
            }

            Thread.Sleep(50);
        }
    }

    /// <summary>Waits (at most 15 s) until something in <paramref name="ns"/> has UDP <paramref name="port"/> bound (<c>ss -lun</c>).</summary>
    public static void WaitForUdpListener(TestNamespace ns, int port, Process? process = null)
    {
        DateTime limit = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (true)
        {
            ToolResult ss = ns.Exec(TimeSpan.FromSeconds(10), "ss", "-Hlun", $"sport = :{port}");
            if (ss.ExitCode == 0 && ss.Output.Trim().Length > 0)
            {
                return;
            }

            if (process is { HasExited: true })
            {
                throw new InvalidOperationException($"the server for UDP port {port} exited with {process.ExitCode} before binding");
            }

            if (DateTime.UtcNow > limit)
            {
                throw new TimeoutException($"nothing has UDP port {port} bound in {ns.Name} after 15 s");
            }

            Thread.Sleep(50);
        }
    }

    /// <summary>Waits (bounded) for a process we started to exit; kills it by pid and fails when it does not.</summary>
    public static int WaitForExit(Process process, TimeSpan timeout, string what)
    {
        if (!process.WaitForExit(timeout))
        {
            InteropEnvironment.KillQuietly(process);
            throw new TimeoutException($"{what} (pid {process.Id}) did not exit within {timeout.TotalSeconds} s; killed");
        }

        process.WaitForExit();
        return process.ExitCode;
    }

    /// <summary>Sends <paramref name="signal"/> to a process we started (by pid).</summary>
    public static int Signal(Process process, int signal) => process.HasExited ? -1 : Kill(process.Id, signal);

    /// <summary>Sends SIGINT to a process we started (by pid), so it can flush and exit.</summary>
    public static void Interrupt(Process process)
    {
        if (!process.HasExited)
        {
            _ = Kill(process.Id, SIGINT);
        }
    }

    /// <summary>
    /// nftables in <paramref name="router"/>'s forward chain that drops <paramref name="percent"/>%
    /// of the TCP packets it forwards from and to the stack at random, each rule with a counter
    /// (TEST-NETWORK.md: netem is not available). See <see cref="KernelPeer.RouteThroughRouter"/>.
    /// </summary>
    /// <param name="router">The forwarding namespace.</param>
    /// <param name="dir">Where the rules file goes.</param>
    /// <param name="percent">The drop rate of each direction.</param>
    /// <param name="stack">The stack's address the rules match (its family picks <c>ip</c> or <c>ip6</c>); 10.66.0.2 by default.</param>
    public static void AddRandomLoss(TestNamespace router, TempDir dir, int percent, Protocols.Wire.IpAddress? stack = null)
    {
        Protocols.Wire.IpAddress address = stack ?? KernelPeer.StackAddress;
        string family = address.IsIpv6 ? "ip6" : "ip";
        string rules = $$"""
            table inet protocols_loss {
              chain forward {
                type filter hook forward priority -300; policy accept;
                {{family}} saddr {{address}} meta l4proto tcp numgen random mod 100 < {{percent}} counter drop
                {{family}} daddr {{address}} meta l4proto tcp numgen random mod 100 < {{percent}} counter drop
              }
            }
            """;
        string file = dir["loss.nft"];
        File.WriteAllText(file, rules);
        ToolResult result = router.Exec(TimeSpan.FromSeconds(10), "nft", "-f", file);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException("nft -f failed: " + TestNamespace.Describe(result));
        }
    }

    /// <summary>Packets the loss rules dropped so far: (from the stack, to the stack).</summary>
    public static (long FromStack, long ToStack) LossDrops(TestNamespace router)
    {
        ToolResult list = router.Exec(TimeSpan.FromSeconds(10), "nft", "list", "chain", "inet", "protocols_loss", "forward");
        MatchCollection m = CounterPattern().Matches(list.Output);
        if (list.ExitCode != 0 || m.Count != 2)
        {
            throw new InvalidOperationException("nft list failed: " + TestNamespace.Describe(list));
        }

        return (long.Parse(m[0].Groups[1].Value, CultureInfo.InvariantCulture), long.Parse(m[1].Groups[1].Value, CultureInfo.InvariantCulture));
    }

    /// <summary>A counter of the kernel's TCP MIB in <paramref name="ns"/> (the <c>Tcp:</c> lines of /proc/net/snmp, e.g. <c>RetransSegs</c>).</summary>
    public static long KernelTcpCounter(TestNamespace ns, string name)
    {
        string[] lines = ns.Exec(TimeSpan.FromSeconds(10), "cat", "/proc/net/snmp").Output.Split('\n');
        for (int i = 0; i + 1 < lines.Length; i++)
        {
            if (lines[i].StartsWith("Tcp:", StringComparison.Ordinal) && lines[i + 1].StartsWith("Tcp:", StringComparison.Ordinal))
            {
                int column = Array.IndexOf(lines[i].Split(' '), name);
                if (column > 0)
                {
                    return long.Parse(lines[i + 1].Split(' ')[column], CultureInfo.InvariantCulture);
                }
            }
        }

        throw new InvalidOperationException($"no Tcp counter {name} in /proc/net/snmp");
    }

    /// <summary>Runs a shell command line inside <paramref name="ns"/> (bounded).</summary>
    public static ToolResult Shell(TestNamespace ns, TimeSpan timeout, string commandLine) =>
        ns.Exec(timeout, "sh", "-c", commandLine);

    [GeneratedRegex(@"counter packets (\d+)")]
    private static partial Regex CounterPattern();

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}

/// <summary>
/// A kernel-side server process in the test's namespace (nginx, python's http.server, socat),
/// killed by pid on dispose (the namespace also kills it when it goes).
/// </summary>
public sealed class KernelServer : IDisposable
{
    private readonly OutputTail _output;

    private KernelServer(Process process, OutputTail output, int port, string name)
    {
        Process = process;
        _output = output;
        Port = port;
        Name = name;
    }

    /// <summary>The process (started through <c>ip netns exec</c>, which execs it: same pid).</summary>
    public Process Process { get; }

    /// <summary>The TCP port it listens on.</summary>
    public int Port { get; }

    /// <summary>What runs, for messages.</summary>
    public string Name { get; }

    /// <summary>The last few KiB the process wrote to stdout and stderr.</summary>
    public string Output => _output.Text;

    /// <summary>
    /// nginx with a configuration in <paramref name="dir"/> serving <paramref name="dir"/>/www on
    /// <paramref name="address"/>:<paramref name="port"/>: no master (one root process, so killing
    /// its pid ends it), no daemon, logs and temp files in the directory.
    /// </summary>
    public static KernelServer Nginx(TestNamespace ns, TempDir dir, string address, int port)
    {
        string conf = WriteNginxConfig(dir, "nginx", workerConnections: 2048, $$"""
              sendfile on;
              server {
                listen {{address}}:{{port}};
                root {{dir["www"]}};
              }
            """);
        return Start(ns, port, "nginx", "nginx", "-c", conf, "-p", dir.Path, "-e", dir["nginx-error.log"]);
    }

    /// <summary><c>python3 -m http.server</c> (HTTP/1.0, threading) serving <paramref name="dir"/>/www.</summary>
    public static KernelServer PythonHttp(TestNamespace ns, TempDir dir, string address, int port) =>
        Start(ns, port, "python3 -m http.server", "python3", "-m", "http.server", port.ToString(CultureInfo.InvariantCulture), "--bind", address, "--directory", dir["www"]);

    /// <summary>
    /// socat listening once on <paramref name="port"/>, connected to <paramref name="other"/> (a
    /// socat address such as <c>SYSTEM:...</c>); with option <c>-u</c> it only reads the connection
    /// (a sink into <paramref name="other"/>), with <c>-U</c> it only writes it (a source).
    /// </summary>
    /// <remarks>An IPv6 <paramref name="address"/> is given in brackets (<c>[2001:db8:66::1]</c>): socat then listens with TCP6-LISTEN.</remarks>
    public static KernelServer Socat(TestNamespace ns, string address, int port, string other, params string[] options) =>
        Start(ns, port, "socat " + other, "socat", [.. options, $"{(address.StartsWith('[') ? "TCP6-LISTEN" : "TCP-LISTEN")}:{port},bind={address},reuseaddr", other]);

    /// <summary>Waits (bounded) for the process to end by itself; returns its exit code.</summary>
    public int WaitForExit(TimeSpan timeout) => KernelTools.WaitForExit(Process, timeout, Name);

    /// <summary>Kills the process by pid if it still runs.</summary>
    public void Dispose()
    {
        InteropEnvironment.KillQuietly(Process);
        Process.WaitForExit(5000);
        Process.Dispose();
    }

    /// <summary>
    /// Writes <paramref name="dir"/>/<paramref name="name"/>.conf for an nginx that runs as one root
    /// process (no master, no daemon, so killing its pid ends it) with its pid, error log and temp
    /// files in <paramref name="dir"/>, and <paramref name="http"/> inside its <c>http</c> block
    /// after the common settings. Returns the file's path.
    /// </summary>
    public static string WriteNginxConfig(TempDir dir, string name, int workerConnections, string http)
    {
        string conf = dir[name + ".conf"];
        File.WriteAllText(conf, $$"""
            daemon off;
            master_process off;
            worker_processes 1;
            pid {{dir[name + ".pid"]}};
            error_log {{dir[name + "-error.log"]}} warn;
            events { worker_connections {{workerConnections}}; }
            http {
              access_log off;
              client_body_temp_path {{dir["nginx-body"]}};
              proxy_temp_path {{dir["nginx-proxy"]}};
              fastcgi_temp_path {{dir["nginx-fastcgi"]}};
              uwsgi_temp_path {{dir["nginx-uwsgi"]}};
              scgi_temp_path {{dir["nginx-scgi"]}};
              types { application/octet-stream bin; }
            {{http}}
            }
            """);
        return conf;
    }

    /// <summary>Starts <paramref name="program"/> in <paramref name="ns"/> and waits (bounded) until it listens on <paramref name="port"/>.</summary>
    public static KernelServer Start(TestNamespace ns, int port, string name, string program, params string[] arguments)
    {
        Process process = ns.Start(program, arguments);
        process.StandardInput.Close();
        var output = new OutputTail(process);
        try
        {
            KernelTools.WaitForListener(ns, port, process, () => output.Text);
            return new KernelServer(process, output, port, name);
        }
        catch
        {
            InteropEnvironment.KillQuietly(process);
            throw;
        }
    }
}

/// <summary>
/// Drains a started process's stdout and stderr (so a chatty server never blocks on a full pipe)
/// and keeps the last 8 KiB for failure messages.
/// </summary>
public sealed class OutputTail
{
    private const int Keep = 8192;
    private readonly StringBuilder _text = new();
    private readonly Task _drained;

    /// <summary>Starts draining both streams of <paramref name="process"/>.</summary>
    public OutputTail(Process process, bool stdout = true)
    {
        Task error = Drain(process.StandardError);
        _drained = stdout ? Task.WhenAll(Drain(process.StandardOutput), error) : error;
    }

    /// <summary>
    /// Waits (at most <paramref name="timeout"/>) until the drained streams reached their end, so
    /// <see cref="Text"/> holds the last lines of a process that has exited; false on timeout.
    /// </summary>
    public bool WaitForEnd(TimeSpan timeout) => _drained.Wait(timeout);

    /// <summary>What was kept so far.</summary>
    public string Text
    {
        get
        {
            lock (_text)
            {
                return _text.ToString();
            }
        }
    }

    private async Task Drain(StreamReader reader)
    {
        try
        {
            while (await reader.ReadLineAsync() is { } line)
            {
                lock (_text)
                {
                    _text.AppendLine(line);
                    if (_text.Length > Keep)
                    {
                        _text.Remove(0, _text.Length - Keep);
                    }
                }
            }
        }
        catch (ObjectDisposedException)
        {
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>
/// <c>tcpdump -U -w FILE</c> on a device in a namespace, stopped with SIGINT, then checked with
/// <c>tshark</c> (checksums verified, TCP analysis flags counted).
/// </summary>
public sealed class PacketCapture : IDisposable
{
    private readonly Process _tcpdump;
    private readonly Task<string> _stderr;

    private PacketCapture(Process tcpdump, Task<string> stderr, string file)
    {
        _tcpdump = tcpdump;
        _stderr = stderr;
        File = file;
    }

    /// <summary>The pcap file.</summary>
    public string File { get; }

    /// <summary>Starts tcpdump on <paramref name="device"/> with a capture filter and waits (bounded) until it listens.</summary>
    public static PacketCapture Start(TestNamespace ns, string device, string file, string filter)
    {
        Process process = ns.Start("tcpdump", "-i", device, "-n", "-B", "16384", "-U", "-s", "0", "-w", file, filter);
        process.StandardInput.Close();
        var stderr = new StringBuilder();
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<string> all = Task.Run(async () =>
        {
            while (await process.StandardError.ReadLineAsync() is { } line)
            {
                lock (stderr)
                {
                    stderr.AppendLine(line);
                }

                if (line.Contains("listening on", StringComparison.Ordinal))
                {
                    listening.TrySetResult();
                }
            }

            listening.TrySetResult();
            lock (stderr)
            {
                return stderr.ToString();
            }
        });
        if (!listening.Task.Wait(TimeSpan.FromSeconds(15)) || process.HasExited)
        {
            InteropEnvironment.KillQuietly(process);
            throw new InvalidOperationException($"tcpdump did not start: {(all.Wait(2000) ? all.Result : "(no output)")}");
        }

        return new PacketCapture(process, all, file);
    }

    /// <summary>Stops tcpdump with SIGINT (bounded) and returns its summary ("N packets captured").</summary>
    public string Stop()
    {
        // tcpdump -U writes each packet as it reads it, but it reads the kernel's ring in blocks
        // handed over when full or after its 1 s timeout, and on SIGINT it stops without draining
        // them: wait (at most 10 s) until the file did not grow for longer than that timeout.
        long size = -1;
        for (int i = 0; i < 8; i++)
        {
            long now = new FileInfo(File).Length;
            if (now == size)
            {
                break;
            }

            size = now;
            Thread.Sleep(1250);
        }

        KernelTools.Interrupt(_tcpdump);
        KernelTools.WaitForExit(_tcpdump, TimeSpan.FromSeconds(10), "tcpdump");
        return _stderr.Wait(5000) ? _stderr.Result.Trim() : string.Empty;
    }

    /// <summary>How many frames of a capture file match a tshark display filter.</summary>
    public static int Count(string file, string displayFilter) =>
        Tshark(file, ["-Y", displayFilter, "-T", "fields", "-e", "frame.number"]).Length;

    /// <summary>
    /// Fields of the frames matching a display filter, one line per frame, the fields separated by
    /// '|' (values of a field that occurs several times, e.g. SACK edges, by ','), with absolute
    /// sequence numbers.
    /// </summary>
    public static string[] Fields(string file, string displayFilter, params string[] fields) =>
        Tshark(file, ["-o", "tcp.relative_sequence_numbers:FALSE", "-Y", displayFilter, "-T", "fields", "-E", "separator=|", "-E", "aggregator=,", .. fields.SelectMany(static f => new[] { "-e", f })]);

    /// <summary>Every TCP frame of a capture file as tshark sees it with IP and TCP checksum verification on.</summary>
    public static IReadOnlyList<CapturedSegment> Segments(string file) =>
        [.. Tshark(file, ["-Y", "tcp", "-T", "fields", "-E", "separator=,", "-e", "ip.src", "-e", "ip.checksum.status", "-e", "tcp.checksum.status", "-e", "tcp.flags.syn", "-e", "tcp.flags.fin", "-e", "tcp.flags.reset", "-e", "tcp.len", "-e", "frame.time_relative", "-e", "tcp.window_size", "-e", "tcp.seq"])
            .Select(static line => line.Split(','))
            .Select(static f => new CapturedSegment(
                f[0], f[1] == "1", f[2] == "1", f[3] == "1", f[4] == "1", f[5] == "1", int.Parse(f[6], CultureInfo.InvariantCulture),
                TimeSpan.FromSeconds(double.Parse(f[7], CultureInfo.InvariantCulture)), long.Parse(f[8], CultureInfo.InvariantCulture),
                f.Length > 9 && long.TryParse(f[9], CultureInfo.InvariantCulture, out long sequence) ? sequence : 0))];

    /// <summary>
    /// The longest time any sender of <paramref name="segments"/> kept advertising a zero window
    /// (from its first zero-window segment to its next segment with an open window, or the end of
    /// the capture), and how many zero-window segments there were.
    /// </summary>
    public static (TimeSpan Longest, int Advertisements) ZeroWindowPeriods(IReadOnlyList<CapturedSegment> segments)
    {
        var since = new Dictionary<string, TimeSpan>();
        TimeSpan longest = TimeSpan.Zero;
        int advertisements = 0;
        foreach (CapturedSegment s in segments)
        {
            if (s.Syn || s.Reset)
            {
                continue;
            }

            if (s.Window == 0)
            {
                advertisements++;
                since.TryAdd(s.Source, s.Time);
            }
            else if (since.Remove(s.Source, out TimeSpan start))
            {
                longest = TimeSpan.FromTicks(Math.Max(longest.Ticks, (s.Time - start).Ticks));
            }
        }

        TimeSpan end = segments.Count > 0 ? segments[^1].Time : TimeSpan.Zero;
        foreach (TimeSpan start in since.Values)
        {
            longest = TimeSpan.FromTicks(Math.Max(longest.Ticks, (end - start).Ticks));
        }

        return (longest, advertisements);
    }

    private static string[] Tshark(string file, string[] arguments)
    {
        ToolResult result = InteropEnvironment.Run(
            "tshark",
            ["-n", "-r", file, "-o", "tcp.check_checksum:TRUE", "-o", "ip.check_checksum:TRUE", .. arguments],
            TimeSpan.FromSeconds(60));
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"tshark {string.Join(' ', arguments)} failed: {TestNamespace.Describe(result)}");
        }

        return result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>Kills tcpdump if it still runs.</summary>
    public void Dispose()
    {
        InteropEnvironment.KillQuietly(_tcpdump);
        _tcpdump.WaitForExit(5000);
        _tcpdump.Dispose();
    }
}

/// <summary>One TCP frame of a capture as tshark decoded it.</summary>
/// <param name="Source">The IP source address.</param>
/// <param name="IpChecksumGood">tshark verified the IP header checksum.</param>
/// <param name="TcpChecksumGood">tshark verified the TCP checksum.</param>
/// <param name="Syn">SYN set.</param>
/// <param name="Fin">FIN set.</param>
/// <param name="Reset">RST set.</param>
/// <param name="Length">Payload bytes.</param>
/// <param name="Time">Time since the capture's first frame.</param>
/// <param name="Window">The advertised window in bytes (scaled, as tshark computes it from the handshake).</param>
public sealed record CapturedSegment(string Source, bool IpChecksumGood, bool TcpChecksumGood, bool Syn, bool Fin, bool Reset, int Length, TimeSpan Time, long Window, long Sequence = 0);
