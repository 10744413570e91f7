using Protocols.Ip;
using Protocols.Ip.Devices.Linux;
using Protocols.Tcp;

namespace Protocols.Interop.Tests;

/// <summary>
/// The loop on a thread of its own (<see cref="NetworkStackOptions.DedicatedLoopThread"/>): it
/// sleeps in poll(2) over the device and its wake-up descriptor, wakes for frames from the kernel
/// and for posted work, carries a TCP transfer, and ends when cancelled.
/// </summary>
public sealed class LoopThreadTests
{
    private const int Bytes = 4 << 20;
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    public static TheoryData<string> Media => ["tun", "veth"];

    [InteropTheory]
    [MemberData(nameof(Media))]
    public async Task The_dedicated_loop_thread_carries_TCP_and_wakes_for_posted_work(string medium)
    {
        await using KernelPeer peer = await KernelPeer.OpenAsync(medium, stack => stack.UseTcp(), stackOptions: new NetworkStackOptions { DedicatedLoopThread = true });

        // Posted work runs on the loop's own thread (not a thread-pool thread), and a post made
        // while the loop sleeps wakes it: a hundred round trips, each after the loop went idle.
        string? name = await peer.Stack.InvokeAsync(_ => Thread.CurrentThread.Name).WaitAsync(Limit);
        Assert.StartsWith("loop ", name, StringComparison.Ordinal);
        Assert.True(await peer.Stack.InvokeAsync(_ => !Thread.CurrentThread.IsThreadPoolThread).WaitAsync(Limit));
        for (int i = 0; i < 100; i++)
        {
            await Task.Delay(1);
            await peer.Stack.InvokeAsync(_ => 0).WaitAsync(TimeSpan.FromSeconds(1)); // a lost wake-up would cost a 100 ms poll timeout at least once in a hundred
        }

        await KernelPeerTransfers.KernelSendsPatternToTheStackAsync(peer, 6000, Bytes, Limit);
        Assert.True(peer.Stack.Counters.Snapshot().WakeUps > 0);
    }
}
