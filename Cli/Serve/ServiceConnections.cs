using System.Collections.Concurrent;
using System.Security.Authentication;
using Protocols.Tcp;

namespace Protocols.Cli.Serve;

/// <summary>
/// The connection tasks of <c>serve</c>'s TCP services: each one is tracked from accept to its end,
/// so shutdown can wait for them (<see cref="WaitAsync"/>), and a handler that fails with anything
/// but the expected network errors is counted (<see cref="HandlerFaults"/>) and, with
/// <c>--verbose</c>, reported on one line.
/// </summary>
internal sealed class ServiceConnections
{
    private readonly ConcurrentDictionary<Task, byte> _running = new();
    private readonly TextWriter? _log;
    private long _handlerFaults;

    /// <summary>Creates a tracker; <paramref name="log"/> (with <c>--verbose</c>) gets one line per unexpected handler failure.</summary>
    public ServiceConnections(TextWriter? log = null) => _log = log;

    /// <summary>Connections whose handler is still running.</summary>
    public int Active => _running.Count;

    /// <summary>Handlers that ended with an exception other than the expected ones (<see cref="IsExpected"/>): bugs, to look at.</summary>
    public long HandlerFaults => Interlocked.Read(ref _handlerFaults);

    /// <summary>
    /// True for the ways a connection normally ends badly: the peer reset or timed out
    /// (<see cref="IOException"/>, which <see cref="TcpException"/> is), the service is stopping
    /// (<see cref="OperationCanceledException"/>), or the TLS handshake failed
    /// (<see cref="AuthenticationException"/>, which <c>TlsHandshakeException</c> is).
    /// </summary>
    public static bool IsExpected(Exception e) => e is IOException or OperationCanceledException or AuthenticationException;

    /// <summary>Waits up to <paramref name="grace"/> for every tracked connection to end; false when some are still running.</summary>
    public async Task<bool> WaitAsync(TimeSpan grace)
    {
        using var limit = new CancellationTokenSource(grace);
        while (!_running.IsEmpty)
        {
            try
            {
                await Task.WhenAll(_running.Keys).WaitAsync(limit.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (limit.IsCancellationRequested)
            {
                return _running.IsEmpty;
            }
            catch (Exception)
            {
                // The connection tasks handle their own failures; a faulted one is simply finished.
            }
        }

        return true;
    }

    /// <summary>Runs <paramref name="serve"/> on <paramref name="stream"/> as a tracked task that always disposes it, aborting it on failure.</summary>
    internal void Start(TcpStream stream, Func<Stream, CancellationToken, Task> serve, Action onEnd, CancellationToken cancellationToken)
    {
        Task task = Task.Run(async () =>
        {
            try
            {
                await serve(stream, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception e) when (IsExpected(e) || (e is ObjectDisposedException && cancellationToken.IsCancellationRequested))
            {
                // The peer reset, a handshake failed, the connection timed out, or the service is
                // stopping: this connection ends (with a RST), the service goes on.
                stream.Abort();
            }
            catch (Exception e)
            {
                Interlocked.Increment(ref _handlerFaults);
                _log?.WriteLine($"serve: connection from {stream.RemoteEndPoint} failed: {e.GetType().Name}: {OneLine(e.Message)}");
                stream.Abort();
            }
            finally
            {
                stream.Dispose();
                onEnd();
            }
        }, CancellationToken.None);

        // Added before the removal is scheduled, so a task that already finished is removed too.
        _running.TryAdd(task, 0);
        _ = task.ContinueWith(static (t, state) => ((ConcurrentDictionary<Task, byte>)state!).TryRemove(t, out _), _running, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    private static string OneLine(string message)
    {
        int newline = message.IndexOfAny(['\r', '\n']);
        return newline < 0 ? message : message[..newline];
    }
}
