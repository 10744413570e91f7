namespace Protocols.Ip.Simulation;

/// <summary>
/// The context async code inside a <see cref="NetworkSimulator"/> continues on: posted callbacks wait
/// in a bounded FIFO queue until the harness runs them, on its thread, between polls.
/// </summary>
internal sealed class SimulationSynchronizationContext : SynchronizationContext
{
    /// <summary>The most callbacks waiting at once.</summary>
    public const int MaxQueued = 1_000_000;

    private readonly Queue<(SendOrPostCallback Callback, object? State)> _queue = new();
    private readonly Lock _lock = new();

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException">More than <see cref="MaxQueued"/> callbacks are waiting.</exception>
    public override void Post(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        lock (_lock)
        {
            if (_queue.Count >= MaxQueued)
            {
                throw new InvalidOperationException($"Simulation continuation queue full ({MaxQueued}).");
            }

            _queue.Enqueue((d, state));
        }
    }

    /// <summary>Runs <paramref name="d"/> at once when called inside the simulation (this context is current); otherwise unsupported (it would block virtual time).</summary>
    public override void Send(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        if (Current != this)
        {
            throw new NotSupportedException("Synchronous Send into a simulation from another thread would block virtual time; use Post.");
        }

        d(state);
    }

    /// <inheritdoc/>
    public override SynchronizationContext CreateCopy() => this;

    /// <summary>Runs the callbacks queued before the call (those they post wait for the next call).</summary>
    /// <param name="settle">Called after each callback (see <see cref="NetworkSimulator.Settle"/>); null = not called.</param>
    /// <returns>How many ran.</returns>
    public int RunQueued(Action? settle = null)
    {
        int count;
        lock (_lock)
        {
            count = _queue.Count;
        }

        for (int i = 0; i < count; i++)
        {
            (SendOrPostCallback callback, object? state) item;
            lock (_lock)
            {
                item = _queue.Dequeue();
            }

            item.callback(item.state);
            settle?.Invoke();
        }

        return count;
    }
}
