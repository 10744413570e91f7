using System.IO.Pipelines;
using System.Text;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Simulation;
using Protocols.Tcp.Framing;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Framing;

/// <summary>
/// The framers and the pipe adapter over real TcpStreams between two stacks running their own loops
/// (RunAsync) on a real-time in-memory link. Real time, because library code awaits with
/// ConfigureAwait(false) and so continues on the thread pool, which a single-threaded virtual-time
/// simulation cannot follow.
/// </summary>
public class TcpStreamFramingTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(0.02)]
    public async Task Messages_and_lines_cross_a_lossy_connection_and_the_pipe_ends_at_fin_both_ways(double loss)
    {
        var network = new MemoryNetwork(17, TimeProvider.System);
        MemoryLink link = network.CreateLink(new LinkOptions { Loss = loss, Delay = TimeSpan.FromMilliseconds(1) }, null, DeviceMedium.Ip, 1500);
        using var a = new NetworkStack(new NetworkStackOptions { Name = "framing-a", Seed = 1 });
        using var b = new NetworkStack(new NetworkStackOptions { Name = "framing-b", Seed = 2 });
        a.AddInterface(link.A, Ipv4Address.Parse("10.8.0.1"), 24);
        b.AddInterface(link.B, Ipv4Address.Parse("10.8.0.2"), 24);
        TcpLayer tcpA = a.UseTcp(new TcpStackOptions { Seed = 1 });
        TcpLayer tcpB = b.UseTcp(new TcpStackOptions { Seed = 2 });
        using var stop = new CancellationTokenSource();
        Task loops = Task.WhenAll(a.RunAsync(stop.Token), b.RunAsync(stop.Token));
        using TcpListener listener = tcpB.Listen(7000);
        Task<TcpStream> accept = listener.AcceptAsync();
        TcpStream client = await tcpA.ConnectAsync(new IpEndpoint(Ipv4Address.Parse("10.8.0.2"), 7000)).WaitAsync(TimeSpan.FromSeconds(30));
        TcpStream server = await accept.WaitAsync(TimeSpan.FromSeconds(30));
        var rng = new Random(5);
        var messages = new List<byte[]>();
        for (int i = 0; i < 200; i++)
        {
            byte[] m = new byte[rng.Next(0, 3000)];
            rng.NextBytes(m);
            messages.Add(m);
        }

        var received = new List<byte[]>();
        var lines = new List<string>();
        await Run().WaitAsync(TimeSpan.FromSeconds(60));
        stop.Cancel();
        try
        {
            await loops.WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (OperationCanceledException)
        {
            // RunAsync may end either way when stopped.
        }

        async Task Run()
        {
            IDuplexPipe pipe = client.AsDuplexPipe();
            var serverFraming = new LengthPrefixedFraming(server);
            Task serverSide = ServeAsync();
            foreach (byte[] m in messages)
            {
                Span<byte> prefix = pipe.Output.GetSpan(4);
                System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(prefix, m.Length);
                pipe.Output.Advance(4);
                await pipe.Output.WriteAsync(m);
            }

            await pipe.Output.CompleteAsync(); // our FIN

            // The server answers with lines and then its FIN: the pipe's input completes.
            var text = new StringBuilder();
            while (true)
            {
                ReadResult result = await pipe.Input.ReadAsync();
                foreach (ReadOnlyMemory<byte> segment in result.Buffer)
                {
                    text.Append(Encoding.ASCII.GetString(segment.Span));
                }

                pipe.Input.AdvanceTo(result.Buffer.End);
                if (result.IsCompleted)
                {
                    break;
                }
            }

            await pipe.Input.CompleteAsync();
            lines.AddRange(text.ToString().Split("\r\n", StringSplitOptions.RemoveEmptyEntries));
            await serverSide;

            async Task ServeAsync()
            {
                using var writer = new DelimitedFraming(server, "\r\n"u8);
                while (await serverFraming.ReadMessageAsync() is { } m)
                {
                    received.Add(m);
                    await writer.WriteMessageAsync(Encoding.ASCII.GetBytes($"got {m.Length}"));
                }

                server.CompleteWrites();
            }
        }

        Assert.Equal(messages.Count, received.Count);
        for (int i = 0; i < messages.Count; i++)
        {
            Assert.Equal(messages[i], received[i]);
        }

        Assert.Equal(messages.Select(m => $"got {m.Length}"), lines);
        server.Dispose();
        client.Dispose();
    }
}
