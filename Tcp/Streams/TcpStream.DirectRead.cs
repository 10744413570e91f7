using Protocols.Ip;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp;

/// <summary>
/// One copy on the receive path: a read that waits takes in-order data straight from the segments
/// (<see cref="IReceiveReader"/>), instead of the receive ring and a second copy out of it.
/// </summary>
/// <remarks>
/// <para>When the read starts to wait (<c>ReadStep</c> finds nothing readable) the stream registers
/// with the control block as its reader. The receiver claims the read (Pending to Busy, the same
/// claim <c>ReadStep</c> makes before it copies), writes the segment's bytes into its buffer and
/// hands back the count. A cancellation or a Dispose on another thread that comes first makes the
/// claim fail and the bytes go to the ring; one that comes after finds the read taken, and it
/// returns the bytes.</para>
/// <para>The claimed read stays open for the rest of the poll: the segments of one receive batch
/// that follow in order go into the rest of its buffer, so a reader with a large buffer takes a
/// whole batch in one copy. It completes when its buffer is full, or when the batch ends
/// (<see cref="TcpLayer.OnReceiveBatchEnd"/>: after the device's last frame of the poll, or where a
/// read posted meanwhile cuts the batch, always before the poll returns, so a loop that stops after it
/// leaves no read half-filled), or when the stream closes; never with 0 bytes, which would mean
/// end of stream. Outside a device's batch (datagrams to ourselves) it completes at once.</para>
/// </remarks>
public sealed partial class TcpStream
{
    // Loop-only: the read that direct data is going into, and how much it holds.
    private ReadOperation? _fillingRead;
    private int _filled;
    private bool _finishQueued;

    /// <summary>Claims the waiting read, or gives the rest of the one being filled. On the loop.</summary>
    Span<byte> IReceiveReader.ClaimRead()
    {
        if (_fillingRead is { } filling)
        {
            return filling.Buffer.Span[_filled..];
        }

        if (_pendingRead is not { } read || _closedOnLoop || _inReadStep || read.Buffer.IsEmpty)
        {
            return default;
        }

        // After the claim a cancellation or Dispose on another thread no longer touches the read:
        // the loop owns its buffer until it completes it.
        if (!read.TryClaim())
        {
            _pendingRead = null; // cancelled, or abandoned by Dispose: the bytes go to the ring
            return default;
        }

        Span<byte> buffer;
        try
        {
            buffer = read.Buffer.Span;
        }
        catch (Exception e)
        {
            // A custom Memory whose owner was disposed: fail the read; the bytes go to the ring.
            _pendingRead = null;
            read.FailAfterInternalError(e);
            return default;
        }

        _pendingRead = null;
        _fillingRead = read;
        _filled = 0;
        return buffer;
    }

    /// <summary>Records the bytes written into the claimed read; completes it now or after the poll's receive batch. On the loop.</summary>
    void IReceiveReader.CompleteRead(int bytes)
    {
        ReadOperation read = _fillingRead!;
        _filled += bytes;
        if (_filled == 0)
        {
            // Nothing went in: the read waits again (a cancellation that came meanwhile is honoured).
            _fillingRead = null;
            read.Unclaim();
            if (read.IsPending)
            {
                _pendingRead = read;
                _connection.Tcb.Reader = this;
            }

            return;
        }

        if (_filled == read.Buffer.Length)
        {
            FinishFill();
            return;
        }

        // Room left: more of this receive batch may follow in order. The layer completes the read
        // when the batch ends, in the same poll; outside a batch (datagrams to ourselves) it
        // completes now.
        if (!_finishQueued)
        {
            if (!_layer.FinishFillAtBatchEnd(this))
            {
                FinishFill();
                return;
            }

            _finishQueued = true;
        }

        _connection.Tcb.Reader = this;
    }

    /// <summary>Completes the read being filled with what it holds (nothing when none is). On the loop.</summary>
    internal void FinishFill()
    {
        _finishQueued = false;
        if (_fillingRead is not { } read)
        {
            return;
        }

        int bytes = _filled;
        _fillingRead = null;
        _filled = 0;
        if (ReferenceEquals(_connection.Tcb.Reader, this) && _pendingRead is null)
        {
            _connection.Tcb.Reader = null;
        }

        read.Complete(bytes);
    }
}
