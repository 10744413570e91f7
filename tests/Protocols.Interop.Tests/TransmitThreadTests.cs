using Protocols.Ip.Devices;
using Protocols.Ip.Devices.Linux;
using Protocols.Tcp;

namespace Protocols.Interop.Tests;

/// <summary>
/// Plain TUN with sends written by the device's transmit thread (<see cref="TunDeviceOptions.TransmitThread"/>):
/// the kernel's socat sends 20 MiB through our echo and gets every byte back, in order, with the
/// frames the stack sent written by the thread without a failed write. (A ring that stays full for
/// its bounded wait drops a frame, as a full device queue does; TCP resends it, so the test does
/// not require that none was dropped on a loaded machine.)
/// </summary>
public sealed class TransmitThreadTests
{
    private const ushort EchoPort = 7;
    private const int Megabytes20 = 20 << 20;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(120);

    [InteropFact(Tools = ["socat"])]
    public async Task Plain_TUN_with_the_transmit_thread_carries_20_megabytes_each_way_to_socat()
    {
        var options = new TunDeviceOptions { OffloadFlags = KernelPeer.RefusedFlags, TransmitThread = true };
        await using KernelPeer peer = await KernelPeer.OnTunAsync(stack => stack.UseTcp(), options);
        var tun = Assert.IsType<TunDevice>(peer.Device);
        Assert.Equal(OffloadMode.Refused, tun.OffloadStatus.Mode);
        Assert.True(tun.HasTransmitThread);

        await using OurServer echo = OurServer.Start(peer.Stack.Tcp(), EchoPort, OurServer.Echo());
        using var dir = new TempDir();
        string sha = dir.WriteRandomFile("in.bin", Megabytes20);
        ToolResult socat = KernelTools.Shell(peer.Kernel, Limit, $"socat -b 65536 -t 60 - TCP:{KernelPeer.StackAddress}:{EchoPort} < {dir["in.bin"]} > {dir["out.bin"]}");

        Assert.True(socat.ExitCode == 0, TestNamespace.Describe(socat));
        Assert.Equal(Megabytes20, new FileInfo(dir["out.bin"]).Length);
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["out.bin"]));
        await echo.WaitForCompletedAsync(1, TimeSpan.FromSeconds(10));
        Assert.True(tun.SentBytes > Megabytes20, $"{tun.SentBytes} bytes written");
        Assert.Equal(0, tun.SendErrors);
    }
}
