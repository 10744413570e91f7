using System.Threading.Tasks.Sources;

namespace Protocols.Udp;

/// <summary>
/// A <see cref="ManualResetValueTaskSourceCore{TResult}"/> for socket operations completed on the
/// stack's loop, whose continuations never run inline there (application code must not run inside
/// a poll). A continuation that captured a context (<c>await</c> without <c>ConfigureAwait(false)</c>)
/// is posted to it; any other one to the <see cref="SynchronizationContext"/> of the thread that
/// completed the operation (the loop's thread, or a canceller's), else to the thread pool.
/// </summary>
/// <remarks>
/// The same rule as the TCP layer's completions (docs/tcp.md, "as built: layer notes"): in a
/// <c>Simulation</c> the loop runs on the harness's context, so code over a <see cref="UdpSocket"/>
/// that uses <c>ConfigureAwait(false)</c> stays on the harness thread and runs are deterministic;
/// on a real loop (no context) continuations go to the thread pool, as with
/// <c>RunContinuationsAsynchronously</c>. Completion itself (the result, <c>IsCompleted</c>) is
/// visible at once. No allocation per operation.
/// </remarks>
/// <typeparam name="T">The result.</typeparam>
internal sealed class UdpValueTaskCore<T> : IThreadPoolWorkItem
{
    private static readonly Action<object?> Trampoline = static s => ((UdpValueTaskCore<T>)s!).Dispatch();
    private static readonly Action<object?> RunScheduled = static s => ((UdpValueTaskCore<T>)s!).Invoke();
    private static readonly SendOrPostCallback RunPosted = static s => ((UdpValueTaskCore<T>)s!).Invoke();

    private ManualResetValueTaskSourceCore<T> _core; // not RunContinuationsAsynchronously: Trampoline only dispatches
    private Action<object?>? _continuation;
    private object? _state;
    private object? _scheduler;
    private ExecutionContext? _executionContext;

    /// <summary>The current operation's token.</summary>
    public short Version => _core.Version;

    /// <summary>Completes the operation successfully.</summary>
    public void SetResult(T result) => _core.SetResult(result);

    /// <summary>Completes the operation with an error.</summary>
    public void SetException(Exception exception) => _core.SetException(exception);

    /// <summary>The result, or throws the operation's error.</summary>
    public T GetResult(short token) => _core.GetResult(token);

    /// <summary>The operation's status.</summary>
    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    /// <summary>Prepares for the next operation.</summary>
    public void Reset() => _core.Reset();

    /// <summary>Records where the continuation must run, then lets the core call <see cref="Trampoline"/> on completion.</summary>
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

    void IThreadPoolWorkItem.Execute() => Invoke();

    // Runs inside SetResult/SetException (on the loop or a canceller's thread): only dispatches.
    private void Dispatch()
    {
        switch (_scheduler)
        {
            case SynchronizationContext captured:
                captured.Post(RunPosted, this);
                break;
            case TaskScheduler scheduler:
                _ = Task.Factory.StartNew(RunScheduled, this, CancellationToken.None, TaskCreationOptions.DenyChildAttach, scheduler);
                break;
            default:
                if (SynchronizationContext.Current is { } current)
                {
                    current.Post(RunPosted, this);
                }
                else
                {
                    ThreadPool.UnsafeQueueUserWorkItem(this, preferLocal: false);
                }

                break;
        }
    }

    // Clears the fields first: the continuation may start the next operation on this core.
    private void Invoke()
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
