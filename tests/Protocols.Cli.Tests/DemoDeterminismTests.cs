using System.Diagnostics;
using Protocols.Wire.Capture;

namespace Protocols.Cli.Tests;

/// <summary>
/// The demo's time is the network's: virtual time moves only when every task waits, so a segment
/// and its answer are exactly the link's delay apart, and one seed gives one TCP trace although
/// every run makes new TLS keys. Each run is its own process, so other tests' thread-pool work
/// does not count as the demo's.
/// </summary>
public sealed class DemoDeterminismTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    /// <summary>Runs <c>protocols demo ARGS --pcap FILE --quiet</c> in a new process; returns its frames.</summary>
    private static List<CaptureFrame> RunDemo(string pcap, params string[] args)
    {
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host : "dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (string arg in (string[])[Path.Combine(AppContext.BaseDirectory, "protocols.dll"), "demo", .. args, "--pcap", pcap, "--quiet"])
        {
            start.ArgumentList.Add(arg);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> errors = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(Limit))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("the demo did not finish");
        }

        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {output.Result} {errors.Result}");
        using CaptureReader reader = CaptureFile.Open(File.OpenRead(pcap), leaveOpen: false, reuseBuffer: false);
        var frames = new List<CaptureFrame>();
        while (reader.TryReadFrame(out CaptureFrame frame))
        {
            frames.Add(frame with { Data = frame.Data.ToArray() });
        }

        return frames;
    }

    /// <summary>The TCP-level view of a frame: time, IPv4 and TCP headers with checksums zeroed, and the payload length (its bytes, TLS ciphertext, masked).</summary>
    private static string TcpView(CaptureFrame frame)
    {
        byte[] data = frame.Data.ToArray();
        int ihl = (data[0] & 0xf) * 4;
        int dataOffset = (data[ihl + 12] >> 4) * 4;
        data[10] = data[11] = 0;                       // IPv4 header checksum (covers the identification, kept)
        data[ihl + 16] = data[ihl + 17] = 0;           // TCP checksum (covers the payload)
        return $"{frame.TimestampNanoseconds} {Convert.ToHexString(data, 0, ihl + dataOffset)} +{data.Length - ihl - dataOffset}";
    }

    [Fact]
    public void One_seed_gives_one_tcp_trace_with_tls_payload_masked()
    {
        string dir = Directory.CreateTempSubdirectory("protocols-demo-").FullName;
        try
        {
            string[] args = ["--seed", "11", "--loss", "0.03", "--bytes", "300k"];
            List<string> first = [.. RunDemo(Path.Combine(dir, "a.pcap"), args).Select(TcpView)];
            List<string> second = [.. RunDemo(Path.Combine(dir, "b.pcap"), args).Select(TcpView)];
            Assert.True(first.Count > 200, $"only {first.Count} frames");
            for (int i = 0; i < Math.Min(first.Count, second.Count); i++)
            {
                Assert.True(first[i] == second[i], $"frame {i + 1} differs:\n{first[i]}\n{second[i]}");
            }

            Assert.Equal(first.Count, second.Count);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Without_loss_every_answer_comes_one_round_trip_of_the_link_later()
    {
        string dir = Directory.CreateTempSubdirectory("protocols-demo-").FullName;
        try
        {
            List<CaptureFrame> frames = RunDemo(Path.Combine(dir, "a.pcap"), "--seed", "2", "--bytes", "64k");

            // The client's end of a link with 1 ms each way: the SYN-ACK 2 ms after the SYN, the
            // server's first TLS flight 2 ms after the ClientHello (CPU time costs no virtual time).
            static byte Flags(CaptureFrame f) => f.Data.Span[((f.Data.Span[0] & 0xf) * 4) + 13];
            static int Payload(CaptureFrame f) => f.Data.Length - ((f.Data.Span[0] & 0xf) * 4) - ((f.Data.Span[((f.Data.Span[0] & 0xf) * 4) + 12] >> 4) * 4);
            CaptureFrame syn = frames.First(f => Flags(f) == 0x02);
            CaptureFrame synAck = frames.First(f => Flags(f) == 0x12);
            Assert.Equal(2_000_000, synAck.TimestampNanoseconds - syn.TimestampNanoseconds);
            int hello = frames.FindIndex(f => Payload(f) > 0);
            CaptureFrame serverFlight = frames.Skip(hello + 1).First(f => Payload(f) > 0 && f.Data.Span[12..16].SequenceEqual(synAck.Data.Span[12..16]));
            Assert.Equal(2_000_000, serverFlight.TimestampNanoseconds - frames[hello].TimestampNanoseconds);
            Assert.All(frames, f => Assert.Equal(0, f.TimestampNanoseconds % 1_000_000)); // everything happens on the link's millisecond grid
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }
}
