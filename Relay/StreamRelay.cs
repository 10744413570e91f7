using System.Buffers;
using Protocols.Tcp;

namespace Protocols.Relay;

/// <summary>
/// Copies one accepted connection and its outbound connection into each other until both
/// directions end. Each direction reads at most one bounded buffer and writes all of it before it
/// reads again, so nothing is read faster than it is written: a slow reader on one side closes
/// the windows of the other (backpressure). A FIN on one side becomes a FIN on the other
/// (half-close, both ways); a reset on either side resets the other.
/// </summary>
internal static class StreamRelay
{
    /// <summary>Relays until both directions have ended; false when it ended by a reset (of either side) or by cancellation.</summary>
    public static async Task<bool> RunAsync(TcpStream inside, OutboundConnection outside, int bufferSize, ForwarderCounters counters, CancellationToken cancellationToken)
    {
        using var failed = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        Task up = PumpUpAsync(inside, outside, bufferSize, counters, failed);
        Task down = PumpDownAsync(outside, inside, bufferSize, counters, failed);
        try
        {
            await Task.WhenAll(up, down).ConfigureAwait(false);
            return true;
        }
        catch
        {
            // One side reset (or the forwarder stops): reset both.
            inside.Abort();
            outside.Abort();
            return false;
        }
    }

    private static async Task PumpUpAsync(TcpStream from, OutboundConnection to, int bufferSize, ForwarderCounters counters, CancellationTokenSource failed)
    {
        try
        {
            while (true)
            {
                // Wait for data without holding a buffer: an idle relay costs no relay memory.
                await from.ReadAsync(Memory<byte>.Empty, failed.Token).ConfigureAwait(false);
                byte[] buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
                try
                {
                    int n = await from.ReadAsync(buffer.AsMemory(0, bufferSize), failed.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        // The client's FIN: half-close towards the destination, keep reading its answer.
                        to.CompleteWrites();
                        return;
                    }

                    await to.WriteAsync(buffer.AsMemory(0, n), failed.Token).ConfigureAwait(false);
                    Interlocked.Add(ref counters.BytesUp, n);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch
        {
            await failed.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task PumpDownAsync(OutboundConnection from, TcpStream to, int bufferSize, ForwarderCounters counters, CancellationTokenSource failed)
    {
        try
        {
            while (true)
            {
                await from.ReadAsync(Memory<byte>.Empty, failed.Token).ConfigureAwait(false);
                byte[] buffer = ArrayPool<byte>.Shared.Rent(bufferSize);
                try
                {
                    int n = await from.ReadAsync(buffer.AsMemory(0, bufferSize), failed.Token).ConfigureAwait(false);
                    if (n == 0)
                    {
                        to.CompleteWrites();
                        return;
                    }

                    await to.WriteAsync(buffer.AsMemory(0, n), failed.Token).ConfigureAwait(false);
                    Interlocked.Add(ref counters.BytesDown, n);
                }
                finally
                {
                    ArrayPool<byte>.Shared.Return(buffer);
                }
            }
        }
        catch
        {
            await failed.CancelAsync().ConfigureAwait(false);
            throw;
        }
    }
}
