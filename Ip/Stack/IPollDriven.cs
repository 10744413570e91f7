namespace Protocols.Ip;

/// <summary>
/// Something driven by polling instead of a thread of its own: a stack, a scripted peer, a traffic
/// generator. Its driver (a loop thread, the simulation) calls <see cref="Poll"/> until it reports
/// no work, then waits for input or for <see cref="NextDeadline"/>.
/// </summary>
public interface IPollDriven
{
    /// <summary>Does the work that is ready at the current time (received frames, due timers, queued requests).</summary>
    /// <returns>How much work was done; 0 means idle.</returns>
    int Poll();

    /// <summary>When this needs to be polled again even if nothing arrives (its earliest timer), or null.</summary>
    DateTimeOffset? NextDeadline { get; }
}
