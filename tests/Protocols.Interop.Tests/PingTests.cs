using System.Globalization;
using System.Text.RegularExpressions;
using Protocols.Ip;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>The kernel's <c>ping</c> against the stack, over TUN and over a veth pair with the raw device.</summary>
public sealed partial class PingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Media => ["tun", "veth"];

    [InteropTheory(Tools = ["ping"])]
    [MemberData(nameof(Media))]
    public async Task SmallPingsAreAllAnswered(string medium)
    {
        await using KernelPeer peer = await Open(medium);
        ToolResult ping = peer.Exec(Limit, "ping", "-n", "-c", "5", "-i", "0.2", "-w", "20", KernelPeer.StackAddress.ToString());

        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
        Assert.Equal(5, Received(ping));
        Assert.Contains("ttl=64", ping.Output, StringComparison.Ordinal);
        Assert.True(peer.Stack.Counters.Snapshot().IcmpOutOf(IcmpType.EchoReply) >= 5);
    }

    [InteropTheory(Tools = ["ping"])]
    [MemberData(nameof(Media))]
    public async Task PingOf3000BytesNeedsFragmentationBothWays(string medium)
    {
        await using KernelPeer peer = await Open(medium);
        ToolResult ping = peer.Exec(Limit, "ping", "-n", "-c", "3", "-i", "0.2", "-w", "20", "-s", "3000", KernelPeer.StackAddress.ToString());

        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
        Assert.Equal(3, Received(ping));
        Assert.Contains("3008 bytes from", ping.Output, StringComparison.Ordinal);
        StackCountersSnapshot counters = peer.Stack.Counters.Snapshot();
        Assert.Equal(3, counters.Reassembled);       // 3028-byte requests arrive in 3 fragments each
        Assert.True(counters.FragmentsSent >= 6, counters.ToString()); // and the replies leave in 3 too
        output.WriteLine($"{medium}: fragments received {counters.FragmentsReceived}, sent {counters.FragmentsSent}, reassembled {counters.Reassembled}");
    }

    [InteropTheory(Tools = ["ping"])]
    [MemberData(nameof(Media))]
    public async Task FloodOf1000PingsIsAnsweredInFull(string medium)
    {
        await using KernelPeer peer = await Open(medium);

        // Warm up (ARP, JIT) so the flood measures the steady state.
        Assert.Equal(0, peer.Exec(Limit, "ping", "-n", "-c", "1", "-w", "10", KernelPeer.StackAddress.ToString()).ExitCode);
        ToolResult flood = peer.Exec(Limit, "ping", "-n", "-f", "-c", "1000", "-w", "50", KernelPeer.StackAddress.ToString());

        Assert.True(flood.ExitCode == 0, TestNamespace.Describe(flood));
        Assert.Equal(1000, Received(flood));
        StackCountersSnapshot counters = peer.Stack.Counters.Snapshot();
        Assert.Equal(1001, counters.IcmpOutOf(IcmpType.EchoReply));
        Assert.Equal(0, peer.Device.SendsRejected + peer.Device.SendErrors);
        output.WriteLine($"{medium}: {Summary(flood)}; device {peer.Device.ReceivedFrames} frames in, {peer.Device.SentFrames} out; stack dropped {counters.TotalDropped}");
    }

    internal static Task<KernelPeer> Open(string medium, Action<NetworkStack>? configure = null) =>
        medium == "tun" ? KernelPeer.OnTunAsync(configure) : KernelPeer.OnVethAsync(configure);

    internal static int Received(ToolResult ping)
    {
        Match m = ReceivedPattern().Match(ping.Output);
        Assert.True(m.Success, TestNamespace.Describe(ping));
        return int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
    }

    private static string Summary(ToolResult ping) =>
        string.Join("; ", ping.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).TakeLast(2));

    [GeneratedRegex(@"(\d+) (?:packets )?received")]
    private static partial Regex ReceivedPattern();
}
