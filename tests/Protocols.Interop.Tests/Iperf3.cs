using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>iperf3 between two namespaces, one stream each way.</summary>
public static class Iperf3
{
    /// <summary>
    /// Runs an iperf3 server in <paramref name="server"/> on <paramref name="address"/>:5201 and a
    /// three-second client in <paramref name="client"/>, client to server and then server to client
    /// (<c>-R</c>); each direction must move more than 1 Mbit/s. The rates go to
    /// <paramref name="output"/> as lines naming <paramref name="through"/>;
    /// <paramref name="errors"/> gives what to add to a failure message.
    /// </summary>
    public static void BothDirections(TestNamespace client, TestNamespace server, string address, string through, Func<string> errors, ITestOutputHelper output, TimeSpan limit)
    {
        Process process = server.Start("iperf3", "-s", "-B", address, "-p", "5201");
        try
        {
            process.StandardInput.Close();
            var tail = new OutputTail(process);
            KernelTools.WaitForListener(server, 5201, process, () => tail.Text);
            foreach (string[] direction in new[] { Array.Empty<string>(), ["-R"] })
            {
                ToolResult run = client.Exec(limit, "iperf3", ["-c", address, "-p", "5201", "-t", "3", "-J", .. direction]);
                Assert.True(run.ExitCode == 0, TestNamespace.Describe(run) + errors());
                using JsonDocument json = JsonDocument.Parse(run.Output);
                double bps = json.RootElement.GetProperty("end").GetProperty("sum_received").GetProperty("bits_per_second").GetDouble();
                Assert.True(bps > 1e6, $"{bps} bit/s");
                output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"iperf3 {(direction.Length == 0 ? "client to server" : "server to client (-R)")} through {through}: {bps / 1e6:F0} Mbit/s"));
            }
        }
        finally
        {
            InteropEnvironment.KillQuietly(process);
        }
    }
}
