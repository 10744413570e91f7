namespace Protocols.Cli.Serve;

/// <summary>
/// The idle timeout of one connection: a token cancelled when no read or write made progress for
/// the timeout (each operation calls <see cref="Restart"/> first), or when the server stops.
/// </summary>
internal sealed class IdleDeadline : IDisposable
{
    private readonly TimeSpan _timeout;
    private readonly TimeProvider _timeProvider;
    private CancellationTokenSource _source;
    private CancellationTokenRegistration _outer;

    public IdleDeadline(TimeSpan timeout, TimeProvider timeProvider, CancellationToken stopping)
    {
        _timeout = timeout;
        _timeProvider = timeProvider;
        Stopping = stopping;
        (_source, _outer) = Create();
    }

    /// <summary>Cancelled at the deadline or when the server stops.</summary>
    public CancellationToken Token => _source.Token;

    /// <summary>The server's own stop token.</summary>
    public CancellationToken Stopping { get; }

    /// <summary>True when the token fired because of the deadline rather than a stop.</summary>
    public bool Expired => _source.IsCancellationRequested && !Stopping.IsCancellationRequested;

    /// <summary>Moves the deadline to now plus the timeout (or <paramref name="timeout"/>).</summary>
    public void Restart(TimeSpan? timeout = null)
    {
        if (!_source.IsCancellationRequested)
        {
            _source.CancelAfter(timeout ?? _timeout);
        }
    }

    /// <summary>After the deadline fired: a fresh token for a last response (a 408). False when the server is stopping.</summary>
    public bool Renew()
    {
        if (Stopping.IsCancellationRequested)
        {
            return false;
        }

        if (_source.IsCancellationRequested)
        {
            _outer.Dispose();
            _source.Dispose();
            (_source, _outer) = Create();
        }

        return true;
    }

    public void Dispose()
    {
        _outer.Dispose();
        _source.Dispose();
    }

    private (CancellationTokenSource, CancellationTokenRegistration) Create()
    {
        var source = new CancellationTokenSource(Timeout.InfiniteTimeSpan, _timeProvider);
        return (source, Stopping.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), source));
    }
}
