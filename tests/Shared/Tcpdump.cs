using System.Diagnostics;
using Protocols.Wire.Capture;

namespace Protocols.Tests.Shared;

/// <summary>The real tcpdump as an independent reference for trace lines: frames in, its one-line descriptions out.</summary>
public static class Tcpdump
{
    private const string Program = "/usr/bin/tcpdump";

    /// <summary>Whether tcpdump is installed (tests that compare with it pass on their golden strings alone without it).</summary>
    public static bool IsInstalled => File.Exists(Program);

    /// <summary>Writes <paramref name="frames"/> to a temporary pcap file and returns what <c>tcpdump -n -t -r</c> prints, one line per frame.</summary>
    /// <param name="frames">The frames, in order.</param>
    /// <param name="linkType">Their link type (Ethernet, or Raw for bare IP packets).</param>
    /// <returns>tcpdump's lines.</returns>
    public static async Task<string[]> DescribeAsync(IEnumerable<byte[]> frames, LinkType linkType)
    {
        string path = Path.Combine(Path.GetTempPath(), $"protocols-tcpdump-{Environment.ProcessId}-{Guid.NewGuid():n}.pcap");
        try
        {
            using (PcapWriter writer = PcapWriter.Create(path, linkType))
            {
                foreach (byte[] frame in frames)
                {
                    writer.WriteFrame(DateTimeOffset.UnixEpoch, frame);
                }
            }

            var start = new ProcessStartInfo(Program, ["-n", "-t", "-r", path]) { RedirectStandardOutput = true, RedirectStandardError = true };
            using Process process = Process.Start(start)!;
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            Task<string> errors = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await process.WaitForExitAsync(timeout.Token);
            if (process.ExitCode != 0)
            {
                throw new InvalidOperationException($"tcpdump exited with {process.ExitCode}: {await errors}");
            }

            return (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        }
        finally
        {
            File.Delete(path);
        }
    }
}
