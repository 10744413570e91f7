using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using Protocols.Tests.Shared;
using Protocols.Wire.Capture;

namespace Protocols.Wire.Tests;

/// <summary>Captures made with tcpdump and editcap on loopback (see TestData/README.md).</summary>
public class RealCaptureTests
{
    private static string TestData(string name, [CallerFilePath] string callerFile = "") =>
        Path.Combine(Path.GetDirectoryName(callerFile)!, "TestData", name);

    private static List<(long Number, long EpochNs, long Length, int CapturedLength)> TsharkView()
    {
        var rows = new List<(long, long, long, int)>();
        foreach (string line in File.ReadLines(TestData("loopback.tshark.tsv")))
        {
            if (line.StartsWith('#') || line.Length == 0)
            {
                continue;
            }

            string[] f = line.Split('\t');
            string[] epoch = f[1].Split('.');
            long ns = (long.Parse(epoch[0], CultureInfo.InvariantCulture) * 1_000_000_000)
                + long.Parse(epoch[1].PadRight(9, '0')[..9], CultureInfo.InvariantCulture);
            rows.Add((long.Parse(f[0], CultureInfo.InvariantCulture), ns, long.Parse(f[2], CultureInfo.InvariantCulture), int.Parse(f[3], CultureInfo.InvariantCulture)));
        }

        return rows;
    }

    [Theory]
    [InlineData("loopback.pcap", CaptureFormat.Pcap)]
    [InlineData("loopback-nsec.pcap", CaptureFormat.Pcap)]
    [InlineData("loopback.pcapng", CaptureFormat.PcapNg)]
    public void Readers_agree_with_tshark(string file, CaptureFormat format)
    {
        var expected = TsharkView();
        using CaptureReader reader = CaptureFile.Open(TestData(file));
        Assert.Equal(format, reader.Format);
        var frames = reader.ToList();
        Assert.Equal(expected.Count, frames.Count);
        for (int i = 0; i < frames.Count; i++)
        {
            Assert.Equal(expected[i].Number, frames[i].Index);
            Assert.Equal(expected[i].EpochNs, frames[i].TimestampNanoseconds);
            Assert.Equal(expected[i].Length, frames[i].OriginalLength);
            Assert.Equal(expected[i].CapturedLength, frames[i].CapturedLength);
            Assert.Equal(LinkType.Ethernet, frames[i].LinkType);
        }
    }

    [Fact]
    public void IPv4_and_ICMP_checksums_of_real_frames_verify()
    {
        using CaptureReader reader = CaptureFile.Open(TestData("loopback.pcapng"));
        int icmp = 0;
        foreach (CaptureFrame frame in reader)
        {
            ReadOnlySpan<byte> eth = frame.Data.Span;
            Assert.Equal(0x0800, BinaryPrimitives.ReadUInt16BigEndian(eth[12..]));
            ReadOnlySpan<byte> ip = eth[14..];
            int ihl = (ip[0] & 0x0f) * 4;

            // RFC 791 3.1: the header checksum makes the header sum to all ones.
            Assert.Equal(0xffffu, Checksum.Sum(ip[..ihl]));
            Assert.Equal(0xffffu, Checksum.SumScalar(ip[..ihl]));
            if (ip[9] == 1)
            {
                // RFC 792: the ICMP checksum covers the whole ICMP message.
                int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
                Assert.Equal((ushort)0, Checksum.Compute(ip[ihl..total]));
                icmp++;
            }
        }

        Assert.Equal(4, icmp);
    }

    [Fact]
    public void Writer_reproduces_tcpdump_file_byte_for_byte()
    {
        byte[] original = File.ReadAllBytes(TestData("loopback.pcap"));
        var stream = new MemoryStream();
        using (CaptureReader reader = CaptureFile.Open(TestData("loopback.pcapng")))
        using (var writer = new PcapWriter(stream, LinkType.Ethernet, snapLength: 200, leaveOpen: true))
        {
            foreach (CaptureFrame frame in reader)
            {
                writer.WriteFrame(frame);
            }
        }

        Assert.Equal(original, stream.ToArray());

        byte[] nanoOriginal = File.ReadAllBytes(TestData("loopback-nsec.pcap"));
        stream = new MemoryStream();
        using (CaptureReader reader = CaptureFile.Open(TestData("loopback.pcap")))
        using (var writer = new PcapWriter(stream, LinkType.Ethernet, snapLength: 200, nanosecond: true, leaveOpen: true))
        {
            foreach (CaptureFrame frame in reader)
            {
                writer.WriteFrame(frame);
            }
        }

        Assert.Equal(nanoOriginal, stream.ToArray());
    }

    [ToolFact("/usr/bin/tshark")]
    public void Hand_built_PcapNg_is_read_the_same_by_tshark()
    {
        // Optional cross-check of the test's own pcapng builder against Wireshark; skipped
        // where tshark is absent.
        string path = Path.Combine(Path.GetTempPath(), $"protocols-wire-{Guid.NewGuid():N}.pcapng");
        try
        {
            byte[] file = CaptureTests.SampleNg(bigEndian: true).ToArray();
            File.WriteAllBytes(path, file);
            var psi = new ProcessStartInfo("/usr/bin/tshark", ["-r", path, "-T", "fields", "-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using Process process = Process.Start(psi)!;
            string output = process.StandardOutput.ReadToEnd();
            string errors = process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.True(process.ExitCode == 0, errors + output);
            string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);

            using CaptureReader reader = CaptureFile.Open(new MemoryStream(file));
            var frames = reader.ToList();
            Assert.Equal(frames.Count, lines.Length);
            for (int i = 0; i < frames.Count; i++)
            {
                string[] f = lines[i].Split('\t');
                Assert.Equal(frames[i].OriginalLength.ToString(CultureInfo.InvariantCulture), f[1]);
                Assert.Equal(frames[i].CapturedLength.ToString(CultureInfo.InvariantCulture), f[2]);
                if (frames[i].HasTimestamp)
                {
                    string[] epoch = f[0].Split('.');
                    long ns = (long.Parse(epoch[0], CultureInfo.InvariantCulture) * 1_000_000_000) + long.Parse(epoch[1].PadRight(9, '0')[..9], CultureInfo.InvariantCulture);
                    Assert.Equal(frames[i].TimestampNanoseconds, ns);
                }
            }
        }
        finally
        {
            File.Delete(path);
        }
    }
}
