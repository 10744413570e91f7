using System.Security.Cryptography;
using Protocols.Tcp;

namespace Protocols.Interop.Tests;

/// <summary>
/// A server on the user-space stack for the interop tests: an accept loop that runs
/// <c>handler</c> for every connection on its own task and disposes the stream after it,
/// counting what it accepted, finished and what failed. Disposal stops listening and waits
/// (bounded) for the handlers.
/// </summary>
public sealed class OurServer : IAsyncDisposable
{
    private readonly TcpListener _listener;
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task> _handlers = [];
    private readonly List<Exception> _failures = [];
    private readonly Task _accepting;
    private int _accepted;
    private int _completed;

    private OurServer(TcpListener listener, Func<TcpStream, CancellationToken, Task> handler)
    {
        _listener = listener;
        _accepting = Task.Run(() => AcceptLoop(handler));
    }

    /// <summary>Connections accepted so far.</summary>
    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>Handlers that ran to the end without an exception.</summary>
    public int Completed => Volatile.Read(ref _completed);

    /// <summary>What the handlers threw (empty when all went well).</summary>
    public IReadOnlyList<Exception> Failures
    {
        get
        {
            lock (_failures)
            {
                return [.. _failures];
            }
        }
    }

    /// <summary>Listens on <paramref name="port"/> of the stack's TCP and serves every connection with <paramref name="handler"/>.</summary>
    public static OurServer Start(TcpLayer tcp, ushort port, Func<TcpStream, CancellationToken, Task> handler, int backlog = 128) =>
        new(tcp.Listen(port, backlog), handler);

    /// <summary>Echoes every byte back until the peer's FIN, then closes (FIN) after the last echoed byte.</summary>
    public static Func<TcpStream, CancellationToken, Task> Echo(int bufferSize = 64 * 1024) => async (stream, cancellationToken) =>
    {
        byte[] buffer = new byte[bufferSize];
        int n;
        while ((n = await stream.ReadAsync(buffer, cancellationToken)) > 0)
        {
            await stream.WriteAsync(buffer.AsMemory(0, n), cancellationToken);
        }
    };

    /// <summary>Waits (bounded) until <paramref name="count"/> handlers completed; fails with the handlers' errors.</summary>
    public async Task WaitForCompletedAsync(int count, TimeSpan timeout)
    {
        DateTime limit = DateTime.UtcNow + timeout;
        while (Completed < count)
        {
            Assert.True(Failures.Count == 0, "server handler failed: " + string.Join("; ", Failures.Select(f => f.ToString())));
            Assert.True(DateTime.UtcNow < limit, $"only {Completed} of {count} connections were served within {timeout.TotalSeconds} s (accepted {Accepted})");
            await Task.Delay(20);
        }
    }

    /// <summary>Stops listening, cancels and awaits (at most 10 s) the handlers.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Dispose();
        try
        {
            await _accepting.WaitAsync(TimeSpan.FromSeconds(10));
            Task[] handlers;
            lock (_handlers)
            {
                handlers = [.. _handlers];
            }

            await Task.WhenAll(handlers).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception e) when (e is OperationCanceledException or TimeoutException)
        {
        }
        finally
        {
            _stop.Dispose();
        }
    }

    private async Task AcceptLoop(Func<TcpStream, CancellationToken, Task> handler)
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpStream stream;
            try
            {
                stream = await _listener.AcceptAsync(_stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException || _stop.IsCancellationRequested)
            {
                return;
            }

            Interlocked.Increment(ref _accepted);
            Task task = Task.Run(async () =>
            {
                try
                {
                    await using (stream)
                    {
                        await handler(stream, _stop.Token);
                    }

                    Interlocked.Increment(ref _completed);
                }
                catch (Exception e) when (!_stop.IsCancellationRequested)
                {
                    lock (_failures)
                    {
                        _failures.Add(e);
                    }
                }
                catch (Exception)
                {
                    // Stopping: handlers end by cancellation.
                }
            });
            lock (_handlers)
            {
                _handlers.Add(task);
            }
        }
    }
}
