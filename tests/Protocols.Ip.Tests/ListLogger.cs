using Microsoft.Extensions.Logging;

namespace Protocols.Ip.Tests;

/// <summary>A logger that keeps every entry at or above <paramref name="minimum"/>, for asserting on log output.</summary>
internal sealed class ListLogger(LogLevel minimum) : ILogger
{
    public List<(LogLevel Level, string Message)> Entries { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= minimum;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
        Entries.Add((logLevel, formatter(state, exception)));
}
