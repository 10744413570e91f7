using Microsoft.Extensions.Logging;

namespace Protocols.Tls;

/// <summary>Sends <see cref="TlsRecordEvent"/>s to an <see cref="ILogger"/>, next to the stack's packet trace.</summary>
public static partial class TlsTraceLog
{
    /// <summary>
    /// A record callback (for <see cref="TlsClientOptions.Trace"/>, <see cref="TlsServerOptions.Trace"/>
    /// or a <see cref="TlsTracingStream"/>) that logs one line per record:
    /// <c>TLS conn1 &gt; Handshake ClientHello, SNI example.com, ..., length 512</c>.
    /// </summary>
    /// <param name="logger">Where the lines go.</param>
    /// <param name="connection">A name for the connection in the lines (e.g. its endpoints).</param>
    /// <param name="level">The level of every line.</param>
    public static Action<TlsRecordEvent> To(ILogger logger, string connection, LogLevel level = LogLevel.Information)
    {
        ArgumentNullException.ThrowIfNull(logger);
        ArgumentNullException.ThrowIfNull(connection);
        return record =>
        {
            if (logger.IsEnabled(level))
            {
                LogRecord(logger, level, connection, record.Direction == TlsTraceDirection.Sent ? ">" : "<", record);
            }
        };
    }

    [LoggerMessage(Message = "TLS {Connection} {Direction} {Record}")]
    private static partial void LogRecord(ILogger logger, LogLevel level, string connection, string direction, TlsRecordEvent record);
}
