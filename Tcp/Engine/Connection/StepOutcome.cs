namespace Protocols.Tcp.Engine;

/// <summary>The result of one step of segment processing (RFC 9293 3.10.7) or of one timer.</summary>
internal enum StepOutcome
{
    /// <summary>Go on to the next step.</summary>
    Continue,

    /// <summary>The segment was dealt with (dropped, or answered); the connection lives on.</summary>
    Done,

    /// <summary>The connection was deleted (CLOSED): nothing more may be done for it.</summary>
    Deleted,
}
