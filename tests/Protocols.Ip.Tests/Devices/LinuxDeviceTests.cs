using System.Text.RegularExpressions;
using Protocols.Interop;
using Protocols.Ip.Devices;
using Protocols.Ip.Devices.Linux;
using Protocols.Wire;

namespace Protocols.Ip.Tests.Devices;

/// <summary>
/// TunDevice and RawPacketDevice against the Linux kernel, each test in its own network
/// namespace(s); the kernel's ping is answered by hand with the codecs (no stack involved).
/// </summary>
public sealed partial class LinuxDeviceTests
{
    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(30);

    [Theory]
    [InlineData("")]
    [InlineData("a-name-of-16-chr")]
    [InlineData("has space")]
    [InlineData("with/slash")]
    [InlineData("with:colon")]
    [InlineData("..")]
    [InlineData("ünicode")]
    public void Invalid_interface_names_are_rejected_before_any_system_call(string name)
    {
        Assert.Throws<ArgumentException>(() => TunDevice.Open(name));
        Assert.Throws<ArgumentException>(() => RawPacketDevice.Open(name));
    }

    [Theory]
    [InlineData(67)]
    [InlineData(65536)]
    public void MTU_outside_IPv4_limits_is_rejected(int mtu)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TunDevice.Open("tun0", mtu));
    }

    [InteropFact]
    public void TUN_created_in_namespace_exists_while_open_and_disappears_on_dispose()
    {
        using var ns = new TestNamespace();
        TunDevice tun = NetworkNamespace.Invoke(ns.Name, () => TunDevice.Open("ptun%d"));
        try
        {
            Assert.Equal("ptun0", tun.Name);
            Assert.False(tun.Attached);
            Assert.Equal(DeviceMedium.Ip, tun.Medium);
            Assert.Equal(1500, tun.Mtu);
            Assert.Equal(default, tun.HardwareAddress);
            Assert.Contains("ptun0", ns.Ip("link", "show", "ptun0"), StringComparison.Ordinal);

            // Only inside the namespace: the host has no such interface.
            Assert.NotEqual(0, InteropEnvironment.Run("ip", ["link", "show", "ptun0"]).ExitCode);
        }
        finally
        {
            tun.Dispose();
        }

        Assert.True(tun.IsClosed);
        Assert.NotEqual(0, InteropEnvironment.Run("ip", ["-n", ns.Name, "link", "show", "ptun0"]).ExitCode);
    }

    [InteropFact]
    public void TUN_attaches_to_persistent_device_and_reads_its_MTU()
    {
        using var ns = new TestNamespace();
        ns.Ip("tuntap", "add", "dev", "ptun1", "mode", "tun");
        ns.Ip("link", "set", "ptun1", "mtu", "1400");
        using (TunDevice tun = NetworkNamespace.Invoke(ns.Name, () => TunDevice.Open("ptun1")))
        {
            Assert.True(tun.Attached);
            Assert.Equal(1400, tun.Mtu);
        }

        // Persistent: still there after we close it, and a given MTU overrides the interface's.
        Assert.Contains("ptun1", ns.Ip("link", "show", "ptun1"), StringComparison.Ordinal);
        using TunDevice again = NetworkNamespace.Invoke(ns.Name, () => TunDevice.Open("ptun1", mtu: 1280));
        Assert.Equal(1280, again.Mtu);
    }

    [InteropFact]
    public void TUN_on_tap_or_busy_device_fails_with_a_clear_error()
    {
        using var ns = new TestNamespace();
        ns.Ip("tuntap", "add", "dev", "ptap0", "mode", "tap");
        NetworkDeviceException tap = Assert.Throws<NetworkDeviceException>(() => NetworkNamespace.Invoke(ns.Name, () => TunDevice.Open("ptap0")));
        Assert.Contains("ptap0", tap.Message, StringComparison.Ordinal);
        Assert.Equal(22, tap.Errno); // EINVAL

        using TunDevice first = NetworkNamespace.Invoke(ns.Name, () => TunDevice.Open("ptun2"));
        NetworkDeviceException busy = Assert.Throws<NetworkDeviceException>(() => NetworkNamespace.Invoke(ns.Name, () => TunDevice.Open("ptun2")));
        Assert.Equal(16, busy.Errno); // EBUSY
        Assert.Contains("already open", busy.Message, StringComparison.Ordinal);
    }

    [InteropFact]
    public void Missing_namespace_or_interface_is_a_clear_error()
    {
        NetworkDeviceException ns = Assert.Throws<NetworkDeviceException>(() => NetworkNamespace.Invoke("protocols-does-not-exist", () => 0));
        Assert.Contains("protocols-does-not-exist", ns.Message, StringComparison.Ordinal);

        using var space = new TestNamespace();
        NetworkDeviceException missing = Assert.Throws<NetworkDeviceException>(() => NetworkNamespace.Invoke(space.Name, () => RawPacketDevice.Open("nosuch0")));
        Assert.Contains("nosuch0", missing.Message, StringComparison.Ordinal);
        NetworkDeviceException loopback = Assert.Throws<NetworkDeviceException>(() => NetworkNamespace.Invoke(space.Name, () => RawPacketDevice.Open("lo")));
        Assert.Contains("not an Ethernet interface", loopback.Message, StringComparison.Ordinal);
    }

    [InteropFact]
    public async Task TUN_wait_completes_on_dispose_and_on_cancellation()
    {
        using var ns = new TestNamespace();
        TunDevice tun = NetworkNamespace.Invoke(ns.Name, () => TunDevice.Open("ptun3"));

        // Nothing arrives on a device that is down: the wait is pending until cancelled.
        using (var cts = new CancellationTokenSource())
        {
            ValueTask pending = tun.WaitForReceiveAsync(cts.Token);
            Assert.False(pending.IsCompleted);
            cts.CancelAfter(50);
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending.AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
        }

        // The waiter is reusable after a cancellation, and dispose releases it.
        Task waiting = tun.WaitForReceiveAsync(CancellationToken.None).AsTask();
        await Task.Delay(50);
        Assert.False(waiting.IsCompleted);
        tun.Dispose();
        await waiting.WaitAsync(TimeSpan.FromSeconds(5));

        Assert.False(tun.TrySend(new byte[20]));
        Assert.Equal(0, tun.Receive(_ => Assert.Fail("closed devices deliver nothing"), 8));
        Assert.True(tun.WaitForReceiveAsync(CancellationToken.None).IsCompleted);
    }

    [InteropFact(Tools = ["ping"])]
    public async Task Wait_completes_when_the_kernel_sends_a_packet()
    {
        using var ns = new TestNamespace();
        using TunDevice tun = NetworkNamespace.Invoke(ns.Name, () => TunDevice.Open("ptun5"));
        ns.Ip("addr", "add", "10.66.0.1/24", "dev", "ptun5");
        ns.Ip("link", "set", "ptun5", "up");
        while (tun.Receive(_ => { }, 64) > 0)
        {
            // Drain whatever the kernel sent when the link came up (IPv6 solicitations).
        }

        for (int round = 0; round < 3; round++)
        {
            using var limit = new CancellationTokenSource(ToolTimeout);
            ValueTask wait = tun.WaitForReceiveAsync(limit.Token);
            Task<ToolResult> ping = Task.Run(() => ns.Exec(ToolTimeout, "ping", "-n", "-c", "1", "-W", "1", "10.66.0.2"));
            int echoes = 0;
            while (echoes == 0)
            {
                // Only the poll thread completes these waits: nothing cancels them before the limit.
                await wait;
                Assert.False(limit.IsCancellationRequested);
                tun.Receive(frame => echoes += Ipv4Header.TryRead(frame, out Ipv4Header.Reader ip, out _) && ip.Protocol == IpProtocol.Icmp ? 1 : 0, 64);
                wait = echoes == 0 ? tun.WaitForReceiveAsync(limit.Token) : default;
            }

            Assert.Equal(1, echoes);
            await ping; // unanswered: exits 1 after its one-second wait
        }
    }

    [InteropFact(Tools = ["ping"])]
    public async Task Kernel_pings_over_TUN_and_the_test_answers_by_hand()
    {
        using var ns = new TestNamespace();
        using TunDevice tun = NetworkNamespace.Invoke(ns.Name, () => TunDevice.Open("ptun4"));
        ns.Ip("addr", "add", "10.66.0.1/24", "dev", "ptun4");
        ns.Ip("link", "set", "ptun4", "up");
        var responder = new HandResponder(Ipv4Address.Parse("10.66.0.2"), default);

        Task<ToolResult> ping = Task.Run(() => ns.Exec(ToolTimeout, "ping", "-n", "-c", "5", "-i", "0.2", "-w", "15", "-s", "1400", "10.66.0.2"));
        await ServeUntil(tun, ping, (frame, reply) => responder.AnswerIp(frame, reply));

        ToolResult result = await ping;
        Assert.True(result.ExitCode == 0, TestNamespace.Describe(result));
        AssertEveryPingAnswered(result.Output, responder.EchoesAnswered);
        Assert.Equal(responder.EchoesAnswered, tun.SentFrames);
        Assert.True(tun.ReceivedFrames >= 5);
        Assert.Equal(0, tun.SendErrors + tun.SendsRejected + tun.ReceiveErrors);
    }

    [InteropFact(Tools = ["ping"])]
    public async Task Kernel_pings_over_veth_through_AF_packet_with_ARP_answered_by_hand()
    {
        using var stackSide = new TestNamespace();
        using var kernelSide = new TestNamespace();
        stackSide.Ip("link", "add", "pveth0", "type", "veth", "peer", "name", "pveth1", "netns", kernelSide.Name);
        stackSide.Ip("link", "set", "pveth0", "up");
        kernelSide.Ip("addr", "add", "10.67.0.1/24", "dev", "pveth1");
        kernelSide.Ip("link", "set", "pveth1", "up");

        using RawPacketDevice raw = NetworkNamespace.Invoke(stackSide.Name, () => RawPacketDevice.Open("pveth0"));
        Assert.Equal(DeviceMedium.Ethernet, raw.Medium);
        Assert.Equal(1500, raw.Mtu);
        Match mac = MacPattern().Match(stackSide.Ip("-br", "link", "show", "pveth0"));
        Assert.True(mac.Success);
        Assert.Equal(mac.Value, raw.HardwareAddress.ToString());

        var responder = new HandResponder(Ipv4Address.Parse("10.67.0.2"), raw.HardwareAddress);
        stackSide.WaitForOperationalUp("pveth0");
        kernelSide.WaitForOperationalUp("pveth1");
        Task<ToolResult> ping = Task.Run(() => kernelSide.Exec(ToolTimeout, "ping", "-n", "-c", "5", "-i", "0.2", "-w", "15", "10.67.0.2"));
        await ServeUntil(raw, ping, (frame, reply) => responder.AnswerEthernet(frame, reply));

        ToolResult result = await ping;
        Assert.True(result.ExitCode == 0, TestNamespace.Describe(result));
        AssertEveryPingAnswered(result.Output, responder.EchoesAnswered);
        Assert.True(responder.ArpAnswered >= 1);
        Assert.Equal(0, responder.OwnFramesSeen); // our own sends are not read back
        Assert.Equal(responder.EchoesAnswered + responder.ArpAnswered, raw.SentFrames);
    }

    /// <summary>Runs a device loop (wait, drain, answer) until <paramref name="until"/> completes or 30 s pass.</summary>
    private static async Task ServeUntil(INetworkDevice device, Task until, Answer answer)
    {
        byte[] reply = new byte[65536];
        using var deadline = new CancellationTokenSource(ToolTimeout);
        while (!until.IsCompleted && !deadline.IsCancellationRequested)
        {
            using (var step = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token))
            {
                step.CancelAfter(200);
                try
                {
                    await device.WaitForReceiveAsync(step.Token);
                }
                catch (OperationCanceledException)
                {
                }
            }

            device.Receive(
                frame =>
                {
                    int length = answer(frame, reply);
                    if (length > 0)
                    {
                        Assert.True(device.TrySend(reply.AsSpan(0, length)));
                    }
                },
                64);
            device.Flush(); // a batching device (AF_PACKET's sendmmsg) sends what was queued now
        }
    }

    private delegate int Answer(ReadOnlySpan<byte> frame, Span<byte> reply);

    // `ping -c 5 -w 15` sends until 5 replies came back: when the machine stalls, it sends more
    // (and counts late replies), so the totals can exceed 5. Every request must be answered,
    // except those still in flight when ping stopped (at most its pipe).
    private static void AssertEveryPingAnswered(string output, int echoesAnswered)
    {
        Match m = PingTotals().Match(output);
        Assert.True(m.Success, output);
        int transmitted = int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture);
        int received = int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture);
        Assert.True(received >= 5, output);
        Assert.InRange(echoesAnswered, received, transmitted);
        Match pipe = PingPipe().Match(output);
        int inFlight = pipe.Success ? int.Parse(pipe.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 5;
        Assert.True(transmitted - received <= Math.Max(5, inFlight), output);
    }

    [GeneratedRegex(@"pipe (\d+)")]
    private static partial Regex PingPipe();

    [GeneratedRegex(@"(\d+) packets transmitted, (\d+) received")]
    private static partial Regex PingTotals();

    [GeneratedRegex("[0-9a-f]{2}(:[0-9a-f]{2}){5}")]
    private static partial Regex MacPattern();
}
