using Microsoft.Extensions.Logging;

namespace Protocols.Cli.CommandLine;

/// <summary>
/// What <c>--verbose</c> gives a verb's stack: its Debug entries (frames and segments dropped with
/// the layer, field and reason, ICMP errors sent, ARP failures) as one line each on a writer
/// (standard error), prefixed with <c>debug: </c>. Safe to call from the stack's loop and other threads.
/// </summary>
internal sealed class VerboseLogger(TextWriter writer) : ILogger
{
    private readonly Lock _lock = new();

    /// <inheritdoc/>
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    /// <inheritdoc/>
    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

    /// <inheritdoc/>
    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!IsEnabled(logLevel))
        {
            return;
        }

        string line = $"{(logLevel == LogLevel.Debug ? "debug" : logLevel.ToString().ToLowerInvariant())}: {formatter(state, exception)}";
        lock (_lock)
        {
            writer.WriteLine(line);
            writer.Flush();
        }
    }
}
