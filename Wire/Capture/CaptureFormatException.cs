namespace Protocols.Wire.Capture;

/// <summary>
/// A capture file is truncated or corrupt. The message names the byte offset and what was wrong,
/// e.g. <c>truncated record header at offset 1234: need 16 bytes, have 7</c>.
/// </summary>
public sealed class CaptureFormatException : Exception
{
    /// <summary>Creates the exception for a problem found at <paramref name="offset"/>.</summary>
    /// <param name="offset">Byte offset in the file (from where reading started) of the structure at fault.</param>
    /// <param name="message">What was wrong, including the offset.</param>
    public CaptureFormatException(long offset, string message)
        : base(message) => Offset = offset;

    /// <summary>Byte offset of the structure at fault, counted from where reading started.</summary>
    public long Offset { get; }
}
