using System.Diagnostics;
using Protocols.Interop;
using Protocols.Ip.Devices;
using Protocols.Ip.Devices.Linux;
using Protocols.Ip.Simulation;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Devices;

/// <summary>
/// Steady state allocates nothing per frame on every device: a stack driven by <see cref="NetworkStack.Poll"/>
/// on the test thread answers a ping flood from the kernel (TUN and AF_PACKET, each with offloads
/// and in plain mode) or from another stack (the simulated link); every frame crosses the
/// device's receive path, the stack's IP and ICMP input and output, and the device's send path
/// (batched sendmmsg on AF_PACKET; on plain TUN the ring of the device's transmit thread, or with
/// that thread off a write from this thread). The bytes this thread allocated meanwhile must stay below one
/// per frame: any per-frame allocation (even one small object) is at least 24 bytes each time.
/// </summary>
public sealed class DeviceAllocationTests
{
    private const int Frames = 2000;

    public static TheoryData<string> KernelDevices => ["tun", "tun-plain", "tun-plain-inline", "af_packet", "af_packet-plain"];

    [InteropTheory(Tools = ["ping"])]
    [MemberData(nameof(KernelDevices))]
    public void Answering_a_ping_flood_allocates_nothing_per_frame(string kind)
    {
        using var kernel = new TestNamespace();
        using TestNamespace? stackSide = kind.StartsWith("af_packet", StringComparison.Ordinal) ? new TestNamespace() : null;
        bool offloads = !kind.Contains("-plain", StringComparison.Ordinal);
        bool transmitThread = kind == "tun-plain";
        LinuxDevice device;
        if (stackSide is null)
        {
            device = NetworkNamespace.Invoke(kernel.Name, () => TunDevice.Open("ptun9", new TunDeviceOptions { Offloads = offloads, TransmitThread = transmitThread }));
            kernel.Ip("addr", "add", "10.68.0.1/24", "dev", "ptun9");
            kernel.Ip("link", "set", "ptun9", "up");
        }
        else
        {
            stackSide.Ip("link", "add", "pveth0", "type", "veth", "peer", "name", "pveth1", "netns", kernel.Name);
            stackSide.Ip("link", "set", "pveth0", "up");
            kernel.Ip("addr", "add", "10.68.0.1/24", "dev", "pveth1");
            kernel.Ip("link", "set", "pveth1", "up");
            stackSide.WaitForOperationalUp("pveth0");
            kernel.WaitForOperationalUp("pveth1");
            device = NetworkNamespace.Invoke(stackSide.Name, () => RawPacketDevice.Open("pveth0", new RawPacketDeviceOptions { Offloads = offloads }));
        }

        using (device)
        {
            Assert.Equal(offloads ? OffloadMode.On : OffloadMode.Disabled, device.OffloadStatus.Mode);
            Assert.Equal(transmitThread, device is TunDevice { HasTransmitThread: true });
            using var stack = new NetworkStack(new NetworkStackOptions { Name = "alloc-" + kind });
            stack.AddInterface(device, Ipv4Address.Parse("10.68.0.2"), 24);

            // ping -f sends the next request as soon as a reply comes (or every 10 ms): a steady
            // stream of 1400-byte requests that the stack must read, answer and flush.
            using Process ping = kernel.Start("ping", "-n", "-q", "-f", "-c", (3 * Frames).ToString(System.Globalization.CultureInfo.InvariantCulture), "-s", "1400", "10.68.0.2");
            try
            {
                PollUntil(stack, device, Frames / 2); // warm-up: JIT, ARP, first-use paths
                long framesBefore = device.ReceivedFrames + device.SentFrames;
                long before = GC.GetAllocatedBytesForCurrentThread();
                PollUntil(stack, device, Frames);
                long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
                long frames = device.ReceivedFrames + device.SentFrames - framesBefore;
                Assert.True(frames >= Frames, $"{frames} frames crossed the device");
                Assert.True(allocated < frames, $"{allocated} bytes allocated for {frames} frames ({(double)allocated / frames:0.00} per frame) on {device}");
                Assert.Equal(0, device.MalformedHeaders);
            }
            finally
            {
                InteropEnvironment.KillQuietly(ping);
            }
        }
    }

    [Fact]
    public void Echoes_over_the_simulated_link_allocate_nothing_per_frame()
    {
        var clock = new VirtualClock();
        var network = new MemoryNetwork(1, clock);
        (MemoryDevice a, MemoryDevice b) = network.CreateLink(new LinkOptions());
        using var client = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 1 });
        using var server = new NetworkStack(new NetworkStackOptions { TimeProvider = clock, Seed = 2 });
        client.AddInterface(a, Ipv4Address.Parse("10.0.0.1"), 24);
        server.AddInterface(b, Ipv4Address.Parse("10.0.0.2"), 24);
        var replies = new ReplyCounter();
        client.RegisterTransport(replies);
        byte[] echo = new byte[8 + 1400];
        echo[0] = (byte)IcmpType.EchoRequest;
        ushort sum = Checksum.Compute(echo);
        echo[2] = (byte)(sum >> 8);
        echo[3] = (byte)sum;
        var request = new IpSendRequest(Ipv4Address.Parse("10.0.0.2"), IpProtocol.Icmp);

        void Exchange(int count)
        {
            int refused = 0;
            for (int i = 0; i < count; i++)
            {
                refused += client.SendDatagram(in request, echo) == IpSendResult.Sent ? 0 : 1;
                client.Poll();
                server.Poll();
                client.Poll();
            }

            Assert.Equal(0, refused);
        }

        Exchange(200);
        long before = GC.GetAllocatedBytesForCurrentThread();
        Exchange(Frames);
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(replies.Count >= Frames, $"{replies.Count} replies");
        Assert.True(allocated < 2 * Frames, $"{allocated} bytes allocated for {2 * Frames} frames");
    }

    [Fact]
    public void A_device_with_only_the_plain_receive_overload_costs_no_allocation_per_poll()
    {
        // A user's device implements Receive(FrameHandler) only; polled one frame at a time, so a
        // per-poll allocation (an adapter delegate and its closure) would show as 88 bytes a frame.
        using var device = new PlainOnlyDevice();
        using var stack = new NetworkStack(new NetworkStackOptions { TimeProvider = new VirtualClock(), Seed = 1 });
        stack.AddInterface(device, Ipv4Address.Parse("10.0.0.2"), 24);
        byte[] frame = new byte[Ipv4Header.FixedLength + 8];
        Ipv4Packet.Write(frame, new Ipv4Header { Ttl = 64, Protocol = IpProtocol.Udp, Source = Ipv4Address.Parse("10.0.0.1"), Destination = Ipv4Address.Parse("10.0.0.9") }, default, new byte[8]);
        device.Frame = frame;

        for (int i = 0; i < 200; i++)
        {
            device.Armed = true;
            stack.Poll();
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < Frames; i++)
        {
            device.Armed = true;
            stack.Poll();
        }

        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(200 + Frames, device.Delivered);
        Assert.True(allocated < Frames, $"{allocated} bytes allocated for {Frames} polls of one frame each");
    }

    private static void PollUntil(NetworkStack stack, LinuxDevice device, long frames)
    {
        long start = device.ReceivedFrames + device.SentFrames;
        var limit = Stopwatch.StartNew();
        while (device.ReceivedFrames + device.SentFrames - start < frames)
        {
            if (limit.Elapsed > TimeSpan.FromSeconds(60))
            {
                Assert.Fail($"only {device.ReceivedFrames + device.SentFrames - start} frames in 60 s on {device}");
            }

            if (stack.Poll() == 0)
            {
                Thread.Sleep(0);
            }
        }
    }

    /// <summary>A device that implements only the plain receive overload and hands up one frame per call.</summary>
    private sealed class PlainOnlyDevice : INetworkDevice
    {
        public byte[] Frame { get; set; } = [];

        public int Delivered { get; private set; }

        /// <summary>Set to hand up one frame on the next receive.</summary>
        public bool Armed { get; set; }

        public string Name => "plain0";

        public DeviceMedium Medium => DeviceMedium.Ip;

        public int Mtu => 1500;

        public MacAddress HardwareAddress => default;

        public DeviceCapabilities Capabilities => DeviceCapabilities.None;

        public int Receive(FrameHandler handler, int maxFrames)
        {
            if (!Armed || maxFrames <= 0)
            {
                return 0;
            }

            Armed = false;
            handler(Frame);
            Delivered++;
            return 1;
        }

        public bool TrySend(ReadOnlySpan<byte> frame) => true;

        public void Flush()
        {
        }

        public ValueTask WaitForReceiveAsync(CancellationToken cancellationToken) => ValueTask.CompletedTask;

        public void Dispose()
        {
        }
    }

    private sealed class ReplyCounter : IIpTransport
    {
        public int Count { get; private set; }

        public IpProtocol Protocol => IpProtocol.Icmp;

        public void OnDatagram(NetworkStack stack, in IpDatagram datagram) => Count++;

        public void OnIcmpError(NetworkStack stack, in IcmpErrorInfo error)
        {
        }
    }
}
