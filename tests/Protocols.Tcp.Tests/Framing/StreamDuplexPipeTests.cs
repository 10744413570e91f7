using System.Buffers;
using System.IO.Pipelines;
using Protocols.Tcp.Framing;

namespace Protocols.Tcp.Tests.Framing;

public class StreamDuplexPipeTests
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(30);

    [Fact]
    public async Task Completing_the_output_flushes_then_half_closes_and_the_peer_reads_to_the_end()
    {
        (DuplexTestStream a, DuplexTestStream b) = DuplexTestStream.CreatePair();
        var pipe = new StreamDuplexPipe(a, a.CompleteWrites);
        pipe.Output.GetSpan(5)[..5].Fill(7);
        pipe.Output.Advance(5);
        await pipe.Output.WriteAsync(new byte[] { 1, 2, 3 });
        await pipe.Output.CompleteAsync();
        await pipe.Output.CompleteAsync(); // idempotent

        Assert.Equal(1, a.CompleteWritesCalls);
        var received = new MemoryStream();
        await b.CopyToAsync(received).WaitAsync(Limit);
        Assert.Equal(new byte[] { 7, 7, 7, 7, 7, 1, 2, 3 }, received.ToArray());
        Assert.False(a.Disposed); // the input is still open: the peer may still send
    }

    [Fact]
    public async Task The_input_completes_at_the_peer_fin_and_both_sides_done_disposes_the_stream()
    {
        (DuplexTestStream a, DuplexTestStream b) = DuplexTestStream.CreatePair();
        var pipe = new StreamDuplexPipe(a, a.CompleteWrites);
        byte[] data = new byte[100_000];
        new Random(8).NextBytes(data);
        Task peer = Task.Run(async () =>
        {
            await b.WriteAsync(data);
            b.CompleteWrites();
        });

        var received = new List<byte>();
        while (true)
        {
            ReadResult result = await pipe.Input.ReadAsync().AsTask().WaitAsync(Limit);
            foreach (ReadOnlyMemory<byte> segment in result.Buffer)
            {
                received.AddRange(segment.ToArray());
            }

            pipe.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                break;
            }
        }

        await peer.WaitAsync(Limit);
        Assert.Equal(data, received.ToArray());
        await pipe.Input.CompleteAsync();
        Assert.False(a.Disposed);
        pipe.Output.Complete();
        Assert.Equal(1, a.CompleteWritesCalls);
        Assert.True(a.Disposed);
    }

    [Fact]
    public async Task Completing_the_output_with_an_error_does_not_half_close_and_leave_open_is_honoured()
    {
        (DuplexTestStream a, _) = DuplexTestStream.CreatePair();
        var pipe = new StreamDuplexPipe(a, a.CompleteWrites, leaveOpen: true);
        await pipe.Output.CompleteAsync(new InvalidOperationException("app failed"));
        await pipe.Input.CompleteAsync();
        Assert.Equal(0, a.CompleteWritesCalls);
        Assert.False(a.Disposed);
    }

    [Fact]
    public async Task Framing_over_the_pipe_streams_of_both_ends_round_trips()
    {
        (DuplexTestStream a, DuplexTestStream b) = DuplexTestStream.CreatePair();
        var pipeA = new StreamDuplexPipe(a, a.CompleteWrites);
        var framing = new LengthPrefixedFraming(b);
        Task reader = Task.Run(async () =>
        {
            Assert.Equal(new byte[] { 9, 8 }, await framing.ReadMessageAsync());
            Assert.Null(await framing.ReadMessageAsync());
        });

        Span<byte> span = pipeA.Output.GetSpan(6);
        span[..6].CopyTo(span);
        new byte[] { 0, 0, 0, 2, 9, 8 }.CopyTo(span);
        pipeA.Output.Advance(6);
        await pipeA.Output.FlushAsync();
        await pipeA.Output.CompleteAsync();
        await reader.WaitAsync(Limit);
    }
}
