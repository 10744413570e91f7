using System.IO.Pipelines;

namespace Protocols.AspNetCore;

/// <summary>
/// A <see cref="PipeScheduler"/> that runs continuations on a <see cref="SynchronizationContext"/>:
/// as <see cref="StackTransportOptions.ApplicationScheduler"/> with a simulation's context, Kestrel's
/// reads and flushes continue on the simulation's thread, between its polls.
/// </summary>
/// <param name="context">Where the continuations run.</param>
public sealed class SynchronizationContextPipeScheduler(SynchronizationContext context) : PipeScheduler
{
    private readonly SynchronizationContext _context = context ?? throw new ArgumentNullException(nameof(context));

    /// <inheritdoc/>
    public override void Schedule(Action<object?> action, object? state) =>
        _context.Post(static s => ((Work)s!).Run(), new Work(action, state));

    private sealed record Work(Action<object?> Action, object? State)
    {
        public void Run() => Action(State);
    }
}
