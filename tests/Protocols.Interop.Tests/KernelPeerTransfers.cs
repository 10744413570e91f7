using System.Net;
using System.Net.Sockets;
using Protocols.Ip.Devices.Linux;
using Protocols.Tcp;

namespace Protocols.Interop.Tests;

/// <summary>Transfers between a <see cref="KernelPeer"/>'s kernel socket and its stack.</summary>
public static class KernelPeerTransfers
{
    /// <summary>
    /// The kernel's own socket connects to the stack's <paramref name="port"/>, sends
    /// <paramref name="bytes"/> bytes of the pattern byte i = i % 251 and closes; a server on the
    /// stack reads it all and checks its length and SHA-256. Fails on any mismatch or when
    /// <paramref name="limit"/> runs out at any step.
    /// </summary>
    public static async Task KernelSendsPatternToTheStackAsync(KernelPeer peer, ushort port, int bytes, TimeSpan limit)
    {
        await using OurServer sink = OurServer.Start(peer.Stack.Tcp(), port, async (stream, cancellationToken) =>
        {
            (long length, string sha) = await TcpTestData.ReadToEndHashedAsync(stream, cancellationToken);
            Assert.Equal(bytes, length);
            Assert.Equal(TcpTestData.PatternSha256(bytes), sha);
        });
        using (Socket client = NetworkNamespace.Invoke(peer.Kernel.Name, () => new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp)))
        {
            client.SendTimeout = 30_000;
            await client.ConnectAsync(new IPEndPoint(IPAddress.Parse(KernelPeer.StackAddress.ToString()), port)).WaitAsync(limit);
            byte[] pattern = new byte[bytes];
            for (int i = 0; i < pattern.Length; i++)
            {
                pattern[i] = (byte)(i % 251);
            }

            await client.SendAsync(pattern).WaitAsync(limit);
            client.Shutdown(SocketShutdown.Send);
            await sink.WaitForCompletedAsync(1, limit);
        }

        Assert.Empty(sink.Failures);
    }
}
