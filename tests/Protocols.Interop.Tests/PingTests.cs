using System.Globalization;
using System.Text.RegularExpressions;
using Protocols.Ip;
using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>The kernel's <c>ping</c> against the stack, over TUN and over a veth pair with the raw device.</summary>
public sealed partial class PingTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Media => KernelPeer.Media;

    [InteropTheory(Tools = ["ping"])]
    [MemberData(nameof(Media))]
    public async Task SmallPingsAreAllAnswered(string medium)
    {
        await using KernelPeer peer = await Open(medium);
        ToolResult ping = peer.Exec(Limit, "ping", "-n", "-c", "5", "-i", "0.2", "-w", "20", KernelPeer.StackAddress.ToString());

        Assert.True(ping.ExitCode == 0, TestNamespace.Describe(ping));
        AssertAllAnswered(ping, 5);
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
        AssertAllAnswered(ping, 3);
        Assert.Contains("3008 bytes from", ping.Output, StringComparison.Ordinal);
        StackCountersSnapshot counters = peer.Stack.Counters.Snapshot();
        Assert.True(counters.Reassembled >= 3, counters.ToString()); // 3028-byte requests arrive in 3 fragments each
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
        AssertAllAnswered(flood, 1000);
        StackCountersSnapshot counters = peer.Stack.Counters.Snapshot();
        Assert.Equal(1 + Received(flood), counters.IcmpOutOf(IcmpType.EchoReply));
        Assert.Equal(0, peer.Device.SendsRejected + peer.Device.SendErrors);
        output.WriteLine($"{medium}: {Summary(flood)}; device {peer.Device.ReceivedFrames} frames in, {peer.Device.SentFrames} out; stack dropped {counters.TotalDropped}");
    }

    internal static Task<KernelPeer> Open(string medium, Action<NetworkStack>? configure = null) =>
        KernelPeer.OpenAsync(medium, configure);

    /// <summary>
    /// Every echo request ping sent was answered, and at least <paramref name="count"/> were sent.
    /// With <c>-w</c>, ping stops as soon as <paramref name="count"/> replies arrived, so requests
    /// it sent while replies were delayed may still be in flight: at most <c>pipe - 1</c> of them
    /// (ping reports the most outstanding at once as <c>pipe N</c>), always the last ones. So
    /// the check is that every request up to the last reply was answered (no gap in icmp_seq)
    /// and only that many later ones were left outstanding.
    /// </summary>
    internal static void AssertAllAnswered(ToolResult ping, int count)
    {
        Match m = TransmittedPattern().Match(ping.Output);
        Assert.True(m.Success, TestNamespace.Describe(ping));
        int transmitted = int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture);
        int received = Received(ping);
        Match pipe = PipePattern().Match(ping.Output);
        int inFlight = pipe.Success ? int.Parse(pipe.Groups[1].Value, CultureInfo.InvariantCulture) - 1 : 0;
        int[] answered = [.. SequencePattern().Matches(ping.Output).Select(static s => int.Parse(s.Groups[1].Value, CultureInfo.InvariantCulture)).Distinct().Order()];
        bool noGap = answered.Length == 0 || (answered.Length == received && answered[^1] == received);
        Assert.True(
            received >= count && noGap && transmitted - received <= inFlight,
            $"{transmitted} sent, {received} answered, {count} expected, {inFlight} may be in flight: {TestNamespace.Describe(ping)}");
    }

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

    [GeneratedRegex(@"(\d+) packets transmitted")]
    private static partial Regex TransmittedPattern();

    [GeneratedRegex(@", pipe (\d+)")]
    private static partial Regex PipePattern();

    [GeneratedRegex(@"bytes from [0-9.]+: icmp_seq=(\d+) ")]
    private static partial Regex SequencePattern();
}
