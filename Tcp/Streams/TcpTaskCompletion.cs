using Protocols.Ip;

namespace Protocols.Tcp;

/// <summary>
/// A task completion source for connect and accept: the loop (or a canceller) claims it first,
/// synchronously, then the task is completed through <see cref="LoopCompletion"/>, so the
/// awaiting code never runs inline on the loop and stays on the simulation's thread in tests.
/// </summary>
/// <typeparam name="T">The result.</typeparam>
internal class TcpTaskCompletion<T> : IThreadPoolWorkItem
{
    private readonly TaskCompletionSource<T> _source = new();
    private int _claimed;
    private T? _result;
    private Exception? _exception;
    private CancellationToken _cancelledBy;
    private bool _cancelled;

    public Task<T> Task => _source.Task;

    /// <summary>Neither completed nor claimed.</summary>
    public bool IsPending => Volatile.Read(ref _claimed) == 0;

    public bool TrySucceed(T result)
    {
        if (!TryClaim())
        {
            return false;
        }

        _result = result;
        LoopCompletion.Dispatch(this);
        return true;
    }

    public bool TryFail(Exception exception)
    {
        if (!TryClaim())
        {
            return false;
        }

        _exception = exception;
        LoopCompletion.Dispatch(this);
        return true;
    }

    public bool TryCancel(CancellationToken cancellationToken)
    {
        if (!TryClaim())
        {
            return false;
        }

        _cancelled = true;
        _cancelledBy = cancellationToken;
        LoopCompletion.Dispatch(this);
        return true;
    }

    void IThreadPoolWorkItem.Execute()
    {
        // Complete without a context current: .NET runs ConfigureAwait(false) continuations inline
        // only then (elsewhere it queues them to the thread pool, which would leave the
        // simulation's thread); continuations that captured a context are posted to it.
        SynchronizationContext? previous = SynchronizationContext.Current;
        SynchronizationContext.SetSynchronizationContext(null);
        try
        {
            if (_cancelled)
            {
                _source.TrySetCanceled(_cancelledBy);
            }
            else if (_exception is not null)
            {
                _source.TrySetException(_exception);
            }
            else
            {
                _source.TrySetResult(_result!);
            }
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }

    protected virtual void OnClaimed()
    {
    }

    private bool TryClaim()
    {
        if (Interlocked.Exchange(ref _claimed, 1) != 0)
        {
            return false;
        }

        OnClaimed();
        return true;
    }
}
