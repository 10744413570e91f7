using System.Diagnostics;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Wire;
using Protocols.Wire.Capture;

namespace Protocols.Ip.Tests.Simulation;

public sealed class PcapTapTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("protocols-pcaptap-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    // An ARP exchange and three pings over a simulated Ethernet link with 1 ms of delay,
    // tapped at both ends: every frame appears once in each end's capture.
    private (string PathA, string PathB, List<byte[]> Sent) Exchange(DeviceMedium medium)
    {
        var sim = new NetworkSimulator(1);
        var (a, b) = sim.Network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) }, medium: medium);
        string pathA = Path.Combine(_directory, $"a-{medium}.pcap");
        string pathB = Path.Combine(_directory, $"b-{medium}.pcap");
        var sent = new List<byte[]>();
        using (PcapTap tapA = PcapTap.Create(a, pathA, sim.Clock))
        using (PcapTap tapB = PcapTap.Create(b, pathB, sim.Clock))
        {
            sim.Register(() => tapB.Receive(frame => tapB.TrySend(frame), 8)); // B echoes
            int echoed = 0;
            sim.Register(() => tapA.Receive(_ => echoed++, 8));

            byte[] Frame(byte[] ip) => medium == DeviceMedium.Ethernet
                ? TestPackets.Ethernet(b.HardwareAddress, a.HardwareAddress, EtherType.Ipv4, ip)
                : ip;

            if (medium == DeviceMedium.Ethernet)
            {
                sent.Add(TestPackets.ArpRequest(a.HardwareAddress, TestPackets.A, TestPackets.B));
            }

            for (ushort seq = 1; seq <= 3; seq++)
            {
                sent.Add(Frame(TestPackets.Echo(IcmpType.EchoRequest, 9, seq, 56)));
            }

            foreach (byte[] frame in sent)
            {
                Assert.True(tapA.TrySend(frame));
                sim.RunFor(TimeSpan.FromMilliseconds(10));
            }

            Assert.Equal(sent.Count, echoed);
            Assert.Equal(2 * sent.Count, tapA.FramesCaptured);
            Assert.Equal(0, tapA.CaptureErrors);
        }

        return (pathA, pathB, sent);
    }

    [Theory]
    [InlineData(DeviceMedium.Ethernet, LinkType.Ethernet)]
    [InlineData(DeviceMedium.Ip, LinkType.Raw)]
    public void Captures_every_frame_in_and_out_with_virtual_timestamps(DeviceMedium medium, LinkType linkType)
    {
        var (pathA, _, sent) = Exchange(medium);

        using var reader = new PcapReader(File.OpenRead(pathA));
        Assert.Equal(linkType, reader.LinkType);
        CaptureFrame[] frames = [.. reader];
        Assert.Equal(2 * sent.Count, frames.Length);
        for (int i = 0; i < sent.Count; i++)
        {
            // Sent at 10 ms steps, echoed back 2 ms later.
            DateTimeOffset sentAt = VirtualClock.DefaultStart + TimeSpan.FromMilliseconds(10 * i);
            Assert.Equal(sentAt, frames[2 * i].Timestamp);
            Assert.Equal(sentAt + TimeSpan.FromMilliseconds(2), frames[(2 * i) + 1].Timestamp);
            Assert.Equal(sent[i], frames[2 * i].Data.ToArray());
            Assert.Equal(sent[i], frames[(2 * i) + 1].Data.ToArray());
        }
    }

    [Fact]
    public async Task Tshark_opens_the_capture()
    {
        const string tshark = "/usr/bin/tshark";
        if (!File.Exists(tshark))
        {
            return; // the PcapReader test above covers the format; tshark is the independent check when present
        }

        var (pathA, pathB, sent) = Exchange(DeviceMedium.Ethernet);
        foreach (string path in new[] { pathA, pathB })
        {
            var start = new ProcessStartInfo(tshark, ["-n", "-r", path, "-T", "fields", "-e", "frame.protocols"])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using Process process = Process.Start(start)!;
            Task<string> output = process.StandardOutput.ReadToEndAsync();
            Task<string> errors = process.StandardError.ReadToEndAsync();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill();
                Assert.Fail("tshark did not finish within 60 s");
            }

            Assert.True(process.ExitCode == 0, await errors);
            string[] lines = (await output).Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2 * sent.Count, lines.Length);
            Assert.Equal(2, lines.Count(l => l == "eth:ethertype:arp"));
            Assert.Equal(6, lines.Count(l => l == "eth:ethertype:ip:icmp:data"));
        }
    }

    [Fact]
    public void Refuses_a_link_type_that_does_not_fit_the_medium()
    {
        var net = new MemoryNetwork(1, new VirtualClock());
        var (ethernet, _) = net.CreateLink(medium: DeviceMedium.Ethernet);
        var (ip, _) = net.CreateLink();
        using var raw = new PcapWriter(new MemoryStream(), LinkType.Raw);
        using var eth = new PcapWriter(new MemoryStream(), LinkType.Ethernet);
        using var ipv4 = new PcapWriter(new MemoryStream(), LinkType.Ipv4);

        Assert.Throws<ArgumentException>(() => new PcapTap(ethernet, raw));
        Assert.Throws<ArgumentException>(() => new PcapTap(ip, eth));
        using var tap = new PcapTap(ip, ipv4);
        Assert.Equal(ip.Name, tap.Name);
    }

    [Fact]
    public void A_failing_capture_never_breaks_the_device()
    {
        var sim = new NetworkSimulator(1);
        var (a, b) = sim.Network.CreateLink();
        var stream = new MemoryStream();
        var writer = new PcapWriter(stream, LinkType.Raw);
        using var tap = new PcapTap(a, writer, sim.Clock);
        writer.Dispose(); // the capture goes away under the tap

        Assert.True(tap.TrySend(TestPackets.Echo(IcmpType.EchoRequest, 1, 1, 8)));
        Assert.True(tap.TrySend(TestPackets.Echo(IcmpType.EchoRequest, 1, 2, 8)));
        tap.Flush();
        Assert.Equal(1, tap.CaptureErrors);
        Assert.Equal(2, b.Receive(_ => { }, 8));
    }
}
