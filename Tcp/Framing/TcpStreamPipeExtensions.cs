using System.IO.Pipelines;

namespace Protocols.Tcp.Framing;

/// <summary>System.IO.Pipelines over a <see cref="TcpStream"/>.</summary>
public static class TcpStreamPipeExtensions
{
    /// <summary>
    /// An <see cref="IDuplexPipe"/> over the connection: <see cref="IDuplexPipe.Input"/> completes
    /// at the peer's FIN; completing <see cref="IDuplexPipe.Output"/> (without an error) flushes and
    /// then calls <see cref="TcpStream.CompleteWrites"/> (our FIN). Once both are completed the
    /// stream is disposed unless <paramref name="leaveOpen"/>.
    /// </summary>
    /// <param name="stream">The connection.</param>
    /// <param name="leaveOpen">True to keep the stream open after both sides complete.</param>
    /// <returns>The pipe.</returns>
    public static IDuplexPipe AsDuplexPipe(this TcpStream stream, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(stream);
        return new StreamDuplexPipe(stream, stream.CompleteWrites, leaveOpen);
    }
}
