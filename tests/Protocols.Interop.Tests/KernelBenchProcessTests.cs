using System.Diagnostics;
using System.Text.Json;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// <c>protocols bench --kernel</c> as a child process: the JSON fields of CLI.md with real figures,
/// and its private namespaces gone afterwards, also after Ctrl-C in the middle of a run.
/// </summary>
public sealed class KernelBenchProcessTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [InteropTheory(Tools = ["ethtool"])]
    [InlineData(false)]
    [InlineData(true)]
    public void JSON_has_the_fields_and_the_namespaces_are_gone(bool raw)
    {
        RunBench(raw, ["--reference"], root =>
        {
            foreach (string field in new[] { "gbps_to_kernel", "gbps_from_kernel", "reference_gbps_offloads_on", "reference_gbps_offloads_off", "cpu_ns_per_byte" })
            {
                Assert.True(root.GetProperty(field).GetDouble() > 0, $"{field} in {root}");
            }

            // The user-mode part of the CPU per byte: the stack's own code runs in user mode, so it is above 0, and part of the whole.
            double user = root.GetProperty("cpu_user_ns_per_byte").GetDouble();
            Assert.InRange(user, double.Epsilon, root.GetProperty("cpu_ns_per_byte").GetDouble());

            Assert.StartsWith("offloads on", root.GetProperty("offloads").GetString(), StringComparison.Ordinal);
            Assert.Equal("ipv4", root.GetProperty("family").GetString());
        });
    }

    /// <summary>--ipv6: the stack's two streams run over IPv6 (on veth after duplicate address detection), with real figures.</summary>
    [InteropTheory]
    [InlineData(false)]
    [InlineData(true)]
    public void IPv6_streams_run_each_way(bool raw)
    {
        RunBench(raw, ["--ipv6"], root =>
        {
            Assert.True(root.GetProperty("gbps_to_kernel").GetDouble() > 0, root.ToString());
            Assert.True(root.GetProperty("gbps_from_kernel").GetDouble() > 0, root.ToString());
            Assert.Equal("ipv6", root.GetProperty("family").GetString());
        });
    }

    [InteropFact]
    public void Ctrl_c_in_the_middle_removes_the_namespaces()
    {
        var start = new ProcessStartInfo(ProtocolsCli.DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { ProtocolsCli.ProtocolsDll(), "bench", "--kernel", "--reference", "--seconds", "30", "--verbose" })
        {
            start.ArgumentList.Add(argument);
        }

        using Process bench = Process.Start(start)!;
        try
        {
            Task<string> errors = bench.StandardError.ReadToEndAsync();

            // Interrupt once its namespaces exist (the first stream is being measured).
            var wait = Stopwatch.StartNew();
            while (!InteropEnvironment.Run("ip", ["netns", "list"]).Output.Contains($"protocols-bench-{bench.Id}-", StringComparison.Ordinal))
            {
                Assert.True(wait.Elapsed < TimeSpan.FromSeconds(30), "bench made no namespace within 30 s");
                Thread.Sleep(100);
            }

            Thread.Sleep(1500);
            (int signal, int sent) = ProtocolsCli.InterruptOrTerminate(bench);
            Assert.Equal(0, sent);
            if (!bench.WaitForExit(TimeSpan.FromSeconds(30)))
            {
                InteropEnvironment.KillQuietly(bench);
                bench.WaitForExit(TimeSpan.FromSeconds(5));
                Assert.Fail($"bench did not stop within 30 s of signal {signal}; its log:\n{(errors.Wait(TimeSpan.FromSeconds(5)) ? errors.Result : "(unread)")}");
            }

            output.WriteLine(errors.Result);
            Assert.Equal(130, bench.ExitCode);
            Assert.DoesNotContain($"protocols-bench-{bench.Id}-", InteropEnvironment.Run("ip", ["netns", "list"]).Output, StringComparison.Ordinal);
        }
        finally
        {
            InteropEnvironment.KillQuietly(bench);

            // A killed bench cannot remove its namespaces: do it for it, so no later test sees them.
            foreach (string name in BenchNamespaces().Where(n => n.StartsWith($"protocols-bench-{bench.Id}-", StringComparison.Ordinal)))
            {
                InteropEnvironment.Run("ip", ["netns", "delete", name]);
            }
        }
    }

    /// <summary>
    /// Runs <c>bench --kernel --seconds 1 --json</c> with <paramref name="options"/> (and --raw),
    /// checks the exit code and the device, hands the JSON to <paramref name="check"/>, and checks
    /// that this run left none of its namespaces behind.
    /// </summary>
    private void RunBench(bool raw, string[] options, Action<JsonElement> check)
    {
        string[] arguments = [ProtocolsCli.ProtocolsDll(), "bench", "--kernel", .. options, "--seconds", "1", "--json", .. raw ? new[] { "--raw" } : []];
        HashSet<string> before = BenchNamespaces();
        ToolResult result = InteropEnvironment.Run(ProtocolsCli.DotnetHost(), arguments, Limit);
        Assert.True(result.ExitCode == 0, TestNamespace.Describe(result));
        output.WriteLine(result.Output);
        using JsonDocument json = JsonDocument.Parse(result.Output);
        Assert.Equal(raw ? "af_packet" : "tun", json.RootElement.GetProperty("device").GetString());
        check(json.RootElement);

        // Only this run's namespaces: another test or process may hold its own at the same time.
        Assert.Empty(BenchNamespaces().Except(before));
    }

    private static HashSet<string> BenchNamespaces() =>
        InteropEnvironment.Run("ip", ["netns", "list"]).Output
            .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(' ')[0])
            .Where(name => name.StartsWith("protocols-bench-", StringComparison.Ordinal))
            .ToHashSet(StringComparer.Ordinal);
}
