using System.Buffers;
using System.Collections.Concurrent;
using System.IO.Pipelines;
using System.Threading.Channels;
using Protocols.Ip;

namespace Protocols.Relay.Tests;

/// <summary>
/// An outbound side in memory: each destination is refused, unreachable, never answered, or
/// accepted; an accepted connection's far end (<see cref="FakeServer"/>) is handed to the test.
/// Both directions are pipes that pause their writer past 64 KiB, like a socket's buffer.
/// </summary>
internal sealed class FakeOutbound : IOutboundConnector
{
    public Func<IpEndpoint, OutboundError?> Decide { get; set; } = _ => null;

    /// <summary>Destinations whose connect never completes (until cancelled).</summary>
    public Func<IpEndpoint, bool> Hang { get; set; } = _ => false;

    public Channel<FakeServer> Servers { get; } = Channel.CreateUnbounded<FakeServer>();

    public ConcurrentQueue<IpEndpoint> Attempts { get; } = new();

    /// <summary>UDP: answers each datagram with its reversal, or refuses when <see cref="Decide"/> says so.</summary>
    public ConcurrentQueue<FakeFlow> Flows { get; } = new();

    public async Task<OutboundConnection> ConnectAsync(IpEndpoint destination, CancellationToken cancellationToken)
    {
        Attempts.Enqueue(destination);
        if (Hang(destination))
        {
            await Task.Delay(Timeout.Infinite, cancellationToken);
        }

        if (Decide(destination) is { } error)
        {
            throw new OutboundException(error, $"{destination}: {error}");
        }

        var up = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024));
        var down = new Pipe(new PipeOptions(pauseWriterThreshold: 64 * 1024, resumeWriterThreshold: 32 * 1024));
        var server = new FakeServer(destination, up.Reader, down.Writer);
        await Servers.Writer.WriteAsync(server, cancellationToken);
        return new FakeConnection(up.Writer, down.Reader, server);
    }

    public Task<OutboundDatagramFlow> OpenUdpAsync(IpEndpoint destination, CancellationToken cancellationToken)
    {
        var flow = new FakeFlow(destination, Decide(destination));
        Flows.Enqueue(flow);
        return Task.FromResult<OutboundDatagramFlow>(flow);
    }

    private sealed class FakeConnection(PipeWriter up, PipeReader down, FakeServer server) : OutboundConnection
    {
        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken)
        {
            ReadResult result;
            try
            {
                result = await down.ReadAsync(cancellationToken);
            }
            catch (OutboundException)
            {
                throw;
            }

            if (result.Buffer.IsEmpty && result.IsCompleted)
            {
                down.AdvanceTo(result.Buffer.Start);
                return 0;
            }

            if (buffer.IsEmpty)
            {
                // A zero-byte read: data is there; consume nothing.
                down.AdvanceTo(result.Buffer.Start);
                return 0;
            }

            int n = (int)Math.Min(buffer.Length, result.Buffer.Length);
            result.Buffer.Slice(0, n).CopyTo(buffer.Span);
            down.AdvanceTo(result.Buffer.GetPosition(n));
            return n;
        }

        public override async ValueTask WriteAsync(ReadOnlyMemory<byte> data, CancellationToken cancellationToken)
        {
            if (server.WasReset)
            {
                throw new OutboundException(OutboundError.Reset, "reset by the fake server");
            }

            await up.WriteAsync(data, cancellationToken);
        }

        public override void CompleteWrites() => up.Complete();

        public override void Abort()
        {
            server.ClientAborted = true;
            up.Complete(new OutboundException(OutboundError.Reset, "aborted by the relay"));
            down.Complete();
        }

        public override ValueTask DisposeAsync()
        {
            up.Complete();
            down.Complete();
            return ValueTask.CompletedTask;
        }
    }
}

/// <summary>The destination's end of an accepted fake connection.</summary>
internal sealed class FakeServer(IpEndpoint destination, PipeReader fromClient, PipeWriter toClient)
{
    public IpEndpoint Destination { get; } = destination;

    public bool ClientAborted { get; set; }

    public bool WasReset { get; private set; }

    /// <summary>Reads until the relay's FIN (or throws on its reset); returns the bytes.</summary>
    public async Task<byte[]> ReadToEndAsync(CancellationToken cancellationToken = default)
    {
        var all = new MemoryStream();
        while (true)
        {
            ReadResult r = await fromClient.ReadAsync(cancellationToken);
            foreach (ReadOnlyMemory<byte> segment in r.Buffer)
            {
                all.Write(segment.Span);
            }

            fromClient.AdvanceTo(r.Buffer.End);
            if (r.IsCompleted)
            {
                return all.ToArray();
            }
        }
    }

    public async Task WriteAsync(byte[] data) => await toClient.WriteAsync(data);

    public Task CompleteAsync() => toClient.CompleteAsync().AsTask();

    /// <summary>The destination resets the connection.</summary>
    public void Reset()
    {
        WasReset = true;
        toClient.Complete(new OutboundException(OutboundError.Reset, "the fake server reset the connection"));
        fromClient.Complete();
    }
}

/// <summary>A fake UDP flow: answers each datagram with its bytes reversed, or reports port unreachable.</summary>
internal sealed class FakeFlow(IpEndpoint destination, OutboundError? error) : OutboundDatagramFlow
{
    private readonly Channel<byte[]> _replies = Channel.CreateUnbounded<byte[]>();

    public IpEndpoint Destination { get; } = destination;

    public bool Disposed { get; private set; }

    public int Sent { get; private set; }

    public override ValueTask SendAsync(ReadOnlyMemory<byte> datagram, CancellationToken cancellationToken)
    {
        Sent++;
        byte[] reply = datagram.ToArray();
        Array.Reverse(reply);
        _replies.Writer.TryWrite(reply);
        return ValueTask.CompletedTask;
    }

    public override async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        byte[] reply = await _replies.Reader.ReadAsync(cancellationToken);
        if (error is { } e)
        {
            throw new OutboundException(e, "port unreachable");
        }

        reply.CopyTo(buffer);
        return reply.Length;
    }

    public override void Dispose()
    {
        Disposed = true;
        _replies.Writer.TryComplete();
    }
}
