namespace Protocols.Tcp.Engine;

/// <summary>
/// The application's read that waits on a connection for data: in-order data that arrives while
/// nothing is unread goes straight into its buffer (one copy from the segment to the application,
/// instead of one into the receive ring and a second out of it). Called on the stack's loop only.
/// </summary>
/// <remarks>
/// The receiver claims the read before it writes into the buffer and completes it after, so a
/// cancellation or a close on another thread either wins before the claim (the bytes then go to
/// the ring, for the next read) or finds the read already taken: the bytes are never lost and
/// never delivered twice.
/// </remarks>
internal interface IReceiveReader
{
    /// <summary>
    /// Claims the waiting read: the free part of its buffer, or empty when no read waits with room
    /// (none, cancelled, closed, or a zero-length read). After a non-empty claim,
    /// <see cref="CompleteRead"/> must follow.
    /// </summary>
    /// <returns>The read's free buffer, or empty.</returns>
    Span<byte> ClaimRead();

    /// <summary>
    /// Hands back the claimed read with <paramref name="bytes"/> bytes written into it. The reader
    /// completes it, at once or, while its buffer has room, after the current receive batch (it
    /// registers again, so the next in-order segment of the batch continues the same read); with
    /// nothing written at all the read goes back to waiting.
    /// </summary>
    /// <param name="bytes">Bytes written into the claimed buffer.</param>
    void CompleteRead(int bytes);
}
