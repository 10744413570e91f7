using System.Threading.Tasks.Sources;

namespace Protocols.Tcp;

/// <summary>
/// Where completions of socket operations run their continuations. Never inline on the stack's
/// loop (application code must not run inside a poll): a continuation that captured a context
/// (<c>await</c> without <c>ConfigureAwait(false)</c>) goes to it; any other continuation goes to
/// the <see cref="SynchronizationContext"/> of the thread that completed the operation (the
/// loop's thread, or the thread that cancelled), or to the thread pool when it has none.
/// </summary>
/// <remarks>
/// In a simulation the loop runs on the harness's context, so even continuations of library code
/// that uses <c>ConfigureAwait(false)</c> (SslStream, Stream.ReadExactlyAsync, pipelines) stay on
/// the harness thread and the run stays deterministic. On a real loop (<c>RunAsync</c>, no
/// context) they run on the thread pool, as with <c>RunContinuationsAsynchronously</c>.
/// </remarks>
internal static class TcpCompletion
{
    private static readonly SendOrPostCallback RunPosted = static s => ((IThreadPoolWorkItem)s!).Execute();

    /// <summary>Runs <paramref name="work"/> soon, on the current thread's context or the thread pool; never inline.</summary>
    public static void Dispatch(IThreadPoolWorkItem work)
    {
        if (SynchronizationContext.Current is { } context)
        {
            context.Post(RunPosted, work);
        }
        else
        {
            ThreadPool.UnsafeQueueUserWorkItem(work, preferLocal: false);
        }
    }
}

/// <summary>
/// A <see cref="ManualResetValueTaskSourceCore{TResult}"/> whose continuations are dispatched by
/// <see cref="TcpCompletion"/>: completion (the result, <c>IsCompleted</c>) is visible at once,
/// the continuation runs later and elsewhere. No allocation per operation.
/// </summary>
internal sealed class TcpValueTaskCore<T> : IThreadPoolWorkItem
{
    private static readonly Action<object?> Trampoline = static s => ((TcpValueTaskCore<T>)s!).OnCoreCompleted();
    private static readonly Action<object?> RunWithContext = static s => ((TcpValueTaskCore<T>)s!).InvokeContinuation();

    private ManualResetValueTaskSourceCore<T> _core; // RunContinuationsAsynchronously = false: the trampoline only dispatches
    private Action<object?>? _continuation;
    private object? _state;
    private object? _scheduler;
    private ExecutionContext? _executionContext;

    public short Version => _core.Version;

    public void SetResult(T result) => _core.SetResult(result);

    public void SetException(Exception exception) => _core.SetException(exception);

    public T GetResult(short token) => _core.GetResult(token);

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void Reset() => _core.Reset();

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags)
    {
        _continuation = continuation;
        _state = state;
        _scheduler = null;
        if ((flags & ValueTaskSourceOnCompletedFlags.UseSchedulingContext) != 0)
        {
            SynchronizationContext? context = SynchronizationContext.Current;
            if (context is not null && context.GetType() != typeof(SynchronizationContext))
            {
                _scheduler = context;
            }
            else if (TaskScheduler.Current != TaskScheduler.Default)
            {
                _scheduler = TaskScheduler.Current;
            }
        }

        _executionContext = (flags & ValueTaskSourceOnCompletedFlags.FlowExecutionContext) != 0 ? ExecutionContext.Capture() : null;
        _core.OnCompleted(Trampoline, this, token, ValueTaskSourceOnCompletedFlags.None);
    }

    void IThreadPoolWorkItem.Execute() => InvokeContinuation();

    // Runs where SetResult/SetException was called (the loop, a canceller): dispatch only.
    private void OnCoreCompleted()
    {
        switch (_scheduler)
        {
            case SynchronizationContext context:
                context.Post(static s => ((IThreadPoolWorkItem)s!).Execute(), this);
                break;
            case TaskScheduler scheduler:
                Task.Factory.StartNew(RunWithContext, this, CancellationToken.None, TaskCreationOptions.DenyChildAttach, scheduler);
                break;
            default:
                TcpCompletion.Dispatch(this);
                break;
        }
    }

    private void InvokeContinuation()
    {
        Action<object?>? continuation = _continuation;
        object? state = _state;
        ExecutionContext? executionContext = _executionContext;
        _continuation = null;
        _state = null;
        _scheduler = null;
        _executionContext = null;
        if (continuation is null)
        {
            return;
        }

        if (executionContext is null)
        {
            continuation(state);
        }
        else
        {
            ExecutionContext.Run(executionContext, static s => { var (c, st) = ((Action<object?>, object?))s!; c(st); }, (continuation, state));
        }
    }
}

/// <summary>
/// A task completion source for connect and accept: the loop (or a canceller) claims it first,
/// synchronously, then the task is completed through <see cref="TcpCompletion"/>, so the
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
        TcpCompletion.Dispatch(this);
        return true;
    }

    public bool TryFail(Exception exception)
    {
        if (!TryClaim())
        {
            return false;
        }

        _exception = exception;
        TcpCompletion.Dispatch(this);
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
        TcpCompletion.Dispatch(this);
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
