namespace Protocols.Tcp.Framing;

/// <summary>What went wrong while reading a framed message.</summary>
public enum FramingError
{
    /// <summary>
    /// The message is longer than the framer's maximum: a length prefix above the limit, or more
    /// than the maximum number of bytes without a delimiter.
    /// </summary>
    MessageTooLarge,

    /// <summary>
    /// The stream ended inside a message: in a length prefix, before the announced number of bytes,
    /// or (when trailing data is not accepted) after bytes that no delimiter ended.
    /// </summary>
    TruncatedMessage,
}

/// <summary>
/// A framed message could not be read. The framer is unusable afterwards (the stream's position
/// inside the message sequence is lost); close the connection.
/// </summary>
public sealed class FramingException : IOException
{
    /// <summary>Creates the exception.</summary>
    /// <param name="error">What went wrong.</param>
    /// <param name="message">A one-line description with the numbers involved.</param>
    public FramingException(FramingError error, string message)
        : base(message)
    {
        Error = error;
    }

    /// <summary>What went wrong.</summary>
    public FramingError Error { get; }
}

/// <summary>Argument checks both framers share.</summary>
internal static class FramingChecks
{
    /// <summary>Refuses to write a message longer than the framer's maximum (the reader would refuse it).</summary>
    public static void ThrowIfTooLong(int length, int maxMessageLength, string paramName)
    {
        if (length > maxMessageLength)
        {
            throw new ArgumentException(
                string.Create(System.Globalization.CultureInfo.InvariantCulture, $"the message has {length} bytes, more than the maximum of {maxMessageLength}"),
                paramName);
        }
    }
}
