using System.Security.Cryptography;
using Protocols.Ip;
using Protocols.Udp;

namespace Protocols.Interop.Tests;

/// <summary>UDP between the kernel and the stack's UdpSocket, over TUN and over veth with the raw device.</summary>
public sealed class UdpTests
{
    private const ushort EchoPort = 7;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Media => KernelPeer.Media;

    [InteropTheory(Tools = ["socat"])]
    [MemberData(nameof(Media))]
    public async Task KernelSocatGetsSmallDatagramsEchoed(string medium)
    {
        await using KernelPeer peer = await PingTests.Open(medium);
        using UdpSocket socket = UdpSocket.Bind(peer.Stack, EchoPort);
        using var stop = new CancellationTokenSource(Limit);
        Task echo = Echo(socket, stop.Token);

        for (int i = 0; i < 3; i++)
        {
            string text = $"hello {i} from the kernel";
            ToolResult result = RunSocat(peer, text, $"UDP:{KernelPeer.StackAddress}:{EchoPort}");
            Assert.True(result.ExitCode == 0, TestNamespace.Describe(result));
            Assert.Equal(text, result.Output);
        }

        await stop.CancelAsync();
        await echo.WaitAsync(TimeSpan.FromSeconds(10));
    }

    [InteropTheory(Tools = ["socat"])]
    [MemberData(nameof(Media))]
    public async Task DatagramOf60000BytesIsEchoedThroughFragmentationBothWays(string medium)
    {
        await using KernelPeer peer = await PingTests.Open(medium);
        using UdpSocket socket = UdpSocket.Bind(peer.Stack, EchoPort);
        using var stop = new CancellationTokenSource(Limit);
        Task echo = Echo(socket, stop.Token);
        string input = Path.Combine(Path.GetTempPath(), $"protocols-udp-{Guid.NewGuid():N}.bin");
        string output = input + ".echo";
        byte[] data = RandomNumberGenerator.GetBytes(60000);
        try
        {
            await File.WriteAllBytesAsync(input, data);

            // socat reads the file from stdin in one read (-b covers it), sends it as one datagram and writes the echo to stdout.
            ToolResult result = peer.Exec(Limit, "sh", "-c", $"socat -b 65536 -t 3 - UDP:{KernelPeer.StackAddress}:{EchoPort} < {input} > {output}");
            Assert.True(result.ExitCode == 0, TestNamespace.Describe(result));
            Assert.Equal(data, await File.ReadAllBytesAsync(output));

            StackCountersSnapshot counters = peer.Stack.Counters.Snapshot();
            Assert.True(counters.Reassembled >= 1, counters.ToString());
            Assert.True(counters.FragmentsSent >= 41, counters.ToString()); // 60008 bytes of UDP in 1480-byte pieces
        }
        finally
        {
            File.Delete(input);
            File.Delete(output);
            await stop.CancelAsync();
            await echo.WaitAsync(TimeSpan.FromSeconds(10));
        }
    }

    [InteropTheory(Tools = ["socat"])]
    [MemberData(nameof(Media))]
    public async Task KernelSeesOurPortUnreachable(string medium)
    {
        await using KernelPeer peer = await PingTests.Open(medium, static stack => stack.UseUdp());
        long before = KernelIcmpCounter(peer, "InDestUnreachs");

        // UDP runs but nothing is bound on port 9: the stack answers ICMP port unreachable, which
        // the kernel reports to socat's connected socket as ECONNREFUSED (protocol unreachable
        // would be ENOPROTOOPT, "Protocol not available").
        ToolResult result = RunSocat(peer, "anyone there?", $"UDP:{KernelPeer.StackAddress}:9");
        Assert.NotEqual(0, result.ExitCode);
        Assert.True(result.Error.Contains("Connection refused", StringComparison.Ordinal), TestNamespace.Describe(result));
        Assert.True(KernelIcmpCounter(peer, "InDestUnreachs") > before);
        Assert.True(peer.Stack.Counters.Snapshot().IcmpOutOf(IcmpType.DestinationUnreachable) >= 1);
    }

    [InteropTheory]
    [MemberData(nameof(Media))]
    public async Task OurSocketSeesTheKernelsPortUnreachable(string medium)
    {
        await using KernelPeer peer = await PingTests.Open(medium);
        using UdpSocket socket = UdpSocket.Connect(peer.Stack, new IpEndpoint(KernelPeer.KernelAddress, 9));
        using var limit = new CancellationTokenSource(Limit);

        // The kernel has no socket on port 9 and answers with ICMP port unreachable; like a
        // connected Linux socket, ours reports it as connection refused.
        await socket.SendAsync(new byte[] { 1, 2, 3 }, limit.Token);
        UdpException refused = await Assert.ThrowsAsync<UdpException>(async () => await socket.ReceiveFromAsync(new byte[16], limit.Token));
        Assert.Equal(UdpError.ConnectionRefused, refused.Error);
    }

    private static ToolResult RunSocat(KernelPeer peer, string text, string address) =>
        peer.Exec(Limit, "sh", "-c", $"printf '%s' '{text}' | socat -t 2 - {address}");

    private static long KernelIcmpCounter(KernelPeer peer, string name)
    {
        string[] lines = peer.Exec(Limit, "cat", "/proc/net/snmp").Output.Split('\n');
        for (int i = 0; i + 1 < lines.Length; i++)
        {
            if (lines[i].StartsWith("Icmp:", StringComparison.Ordinal) && lines[i + 1].StartsWith("Icmp:", StringComparison.Ordinal))
            {
                int column = Array.IndexOf(lines[i].Split(' '), name);
                return long.Parse(lines[i + 1].Split(' ')[column], System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        throw new InvalidOperationException("no Icmp lines in /proc/net/snmp");
    }

    /// <summary>Echoes every datagram back to its sender until cancelled.</summary>
    private static Task Echo(UdpSocket socket, CancellationToken cancellationToken) => Task.Run(async () =>
    {
        byte[] buffer = new byte[UdpPacket.MaxPayloadLength];
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                UdpReceiveResult received = await socket.ReceiveFromAsync(buffer, cancellationToken);
                await socket.SendToAsync(buffer.AsMemory(0, received.BytesReceived), received.RemoteEndpoint, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    });
}
