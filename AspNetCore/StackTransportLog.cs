using System.Net;
using Microsoft.Extensions.Logging;

namespace Protocols.AspNetCore;

/// <summary>The transport's log messages (category <c>Protocols.AspNetCore.StackTransport</c>).</summary>
internal static partial class StackTransportLog
{
    [LoggerMessage(10, LogLevel.Information, "Listening on {EndPoint} through the user-space stack '{Stack}'.")]
    public static partial void Bound(ILogger logger, EndPoint endPoint, string stack);

    [LoggerMessage(11, LogLevel.Debug, "Accept on {EndPoint} retried: {Reason}")]
    public static partial void AcceptRetry(ILogger logger, EndPoint endPoint, string reason);
}
