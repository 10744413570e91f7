using System.Threading.Tasks.Sources;

namespace Protocols.Ip;

/// <summary>
/// Where completions of socket operations (UDP, TCP) run their continuations. Never inline on the stack's
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
public static class LoopCompletion
{
    private static readonly SendOrPostCallback RunPosted = static s => ((IThreadPoolWorkItem)s!).Execute();

    /// <summary>Runs <paramref name="work"/> soon, on the current thread's context or the thread pool; never inline.</summary>
    /// <param name="work">The work item.</param>
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
/// <see cref="LoopCompletion"/>: completion (the result, <c>IsCompleted</c>) is visible at once,
/// the continuation runs later and elsewhere. No allocation per operation.
/// </summary>
/// <typeparam name="T">The result.</typeparam>
public sealed class LoopValueTaskSourceCore<T> : IThreadPoolWorkItem
{
    private static readonly Action<object?> Trampoline = static s => ((LoopValueTaskSourceCore<T>)s!).OnCoreCompleted();
    private static readonly Action<object?> RunWithContext = static s => ((LoopValueTaskSourceCore<T>)s!).InvokeContinuation();

    private ManualResetValueTaskSourceCore<T> _core; // RunContinuationsAsynchronously = false: the trampoline only dispatches
    private Action<object?>? _continuation;
    private object? _state;
    private object? _scheduler;
    private ExecutionContext? _executionContext;

    /// <summary>The current operation's token.</summary>
    public short Version => _core.Version;

    /// <summary>Completes the operation successfully; the continuation is dispatched, never run inline.</summary>
    /// <param name="result">The result.</param>
    public void SetResult(T result) => _core.SetResult(result);

    /// <summary>Completes the operation with an error; the continuation is dispatched, never run inline.</summary>
    /// <param name="exception">The error.</param>
    public void SetException(Exception exception) => _core.SetException(exception);

    /// <summary>The result, or throws the operation's error.</summary>
    /// <param name="token">The operation's token.</param>
    /// <returns>The result.</returns>
    public T GetResult(short token) => _core.GetResult(token);

    /// <summary>The operation's status.</summary>
    /// <param name="token">The operation's token.</param>
    /// <returns>The status.</returns>
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <summary>Prepares for the next operation.</summary>
    public void Reset() => _core.Reset();

    /// <summary>Records where the continuation must run (its captured context or scheduler, when asked to use it).</summary>
    /// <param name="continuation">The continuation.</param>
    /// <param name="state">Its state.</param>
    /// <param name="token">The operation's token.</param>
    /// <param name="flags">Whether to use the scheduling context and flow the execution context.</param>
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
                LoopCompletion.Dispatch(this);
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
