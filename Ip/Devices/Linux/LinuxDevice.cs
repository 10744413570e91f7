using System.Runtime.InteropServices;
using Protocols.Wire;

namespace Protocols.Ip.Devices.Linux;

/// <summary>
/// What the Linux devices share: a non-blocking descriptor drained in batches, sends that never
/// wait (a full kernel queue is a counted drop), a wait that sleeps in poll(2) on a dedicated
/// thread instead of a thread-pool thread, and a dispose that wakes the waiter and closes the
/// descriptor once no call is using it.
/// </summary>
public abstract unsafe class LinuxDevice : INetworkDevice
{
    /// <summary>Room for the largest IPv4 datagram plus an Ethernet header and VLAN tags.</summary>
    private protected const int BufferLength = 65536 + 64;

    private readonly FileDescriptorHandle _descriptor;
    private readonly ReadinessWaiter _waiter;
    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(BufferLength, pinned: true);
    private long _receivedFrames;
    private long _receivedBytes;
    private long _sentFrames;
    private long _sentBytes;
    private long _sendsRejected;
    private long _sendErrors;
    private long _receiveErrors;
    private long _receivesDiscarded;
    private volatile bool _disposed;

    private protected LinuxDevice(FileDescriptorHandle descriptor, string name, int mtu, MacAddress hardwareAddress)
    {
        _descriptor = descriptor;
        Name = name;
        Mtu = mtu;
        HardwareAddress = hardwareAddress;
        try
        {
            _waiter = new ReadinessWaiter(descriptor, name);
        }
        catch
        {
            descriptor.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public abstract DeviceMedium Medium { get; }

    /// <inheritdoc/>
    public int Mtu { get; }

    /// <inheritdoc/>
    public MacAddress HardwareAddress { get; }

    /// <inheritdoc/>
    public DeviceCapabilities Capabilities => DeviceCapabilities.None;

    /// <summary>Frames delivered by <see cref="Receive"/>.</summary>
    public long ReceivedFrames => Interlocked.Read(ref _receivedFrames);

    /// <summary>Bytes of the frames delivered by <see cref="Receive"/>.</summary>
    public long ReceivedBytes => Interlocked.Read(ref _receivedBytes);

    /// <summary>Frames the kernel accepted from <see cref="TrySend"/>.</summary>
    public long SentFrames => Interlocked.Read(ref _sentFrames);

    /// <summary>Bytes of the frames the kernel accepted.</summary>
    public long SentBytes => Interlocked.Read(ref _sentBytes);

    /// <summary>Sends refused because the kernel's queue was full (EAGAIN, ENOBUFS).</summary>
    public long SendsRejected => Interlocked.Read(ref _sendsRejected);

    /// <summary>Sends that failed for another reason (device down, frame too large, closed).</summary>
    public long SendErrors => Interlocked.Read(ref _sendErrors);

    /// <summary>Reads that failed with an error other than "nothing to read".</summary>
    public long ReceiveErrors => Interlocked.Read(ref _receiveErrors);

    /// <summary>Frames read but not delivered (truncated, or our own frames looped back).</summary>
    public long ReceivesDiscarded => Interlocked.Read(ref _receivesDiscarded);

    /// <summary>True once <see cref="Dispose()"/> has run.</summary>
    public bool IsClosed => _disposed;

    /// <inheritdoc/>
    public int Receive(FrameHandler handler, int maxFrames)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (_disposed || maxFrames <= 0)
        {
            return 0;
        }

        int delivered = 0;
        fixed (byte* buffer = _buffer)
        {
            // Bounded: at most maxFrames reads per call, whether or not each one is delivered.
            for (int attempt = 0; attempt < maxFrames; attempt++)
            {
                int length;
                try
                {
                    length = ReadFrame(_descriptor, buffer, BufferLength, out bool discard);
                    if (discard)
                    {
                        Interlocked.Increment(ref _receivesDiscarded);
                        continue;
                    }
                }
                catch (ObjectDisposedException)
                {
                    break;
                }

                if (length < 0)
                {
                    int errno = -length;
                    if (errno == LinuxNative.EINTR)
                    {
                        continue;
                    }

                    if (errno != LinuxNative.EAGAIN)
                    {
                        Interlocked.Increment(ref _receiveErrors);
                    }

                    break;
                }

                Interlocked.Increment(ref _receivedFrames);
                Interlocked.Add(ref _receivedBytes, length);
                delivered++;
                handler(new ReadOnlySpan<byte>(buffer, length));
            }
        }

        return delivered;
    }

    /// <inheritdoc/>
    public bool TrySend(ReadOnlySpan<byte> frame)
    {
        if (_disposed || frame.IsEmpty)
        {
            Interlocked.Increment(ref _sendErrors);
            return false;
        }

        nint written;
        int errno;
        try
        {
            do
            {
                fixed (byte* data = frame)
                {
                    written = WriteFrame(_descriptor, data, frame.Length);
                }

                errno = written < 0 ? LinuxNative.LastError : 0;
            }
            while (errno == LinuxNative.EINTR);
        }
        catch (ObjectDisposedException)
        {
            Interlocked.Increment(ref _sendErrors);
            return false;
        }

        if (written == frame.Length)
        {
            Interlocked.Increment(ref _sentFrames);
            Interlocked.Add(ref _sentBytes, frame.Length);
            return true;
        }

        Interlocked.Increment(ref errno is LinuxNative.EAGAIN or LinuxNative.ENOBUFS ? ref _sendsRejected : ref _sendErrors);
        return false;
    }

    /// <inheritdoc/>
    public void Flush()
    {
        // Every TrySend is one write(2): nothing is held back.
    }

    /// <inheritdoc/>
    public ValueTask WaitForReceiveAsync(CancellationToken cancellationToken) => _waiter.WaitAsync(cancellationToken);

    /// <summary>Stops the poll thread, completes a pending wait and closes the descriptor.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{GetType().Name} {Name} (MTU {Mtu})";

    /// <summary>Releases the descriptor and the poll thread.</summary>
    /// <param name="disposing">True from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        if (disposing)
        {
            _waiter.Dispose();
            _descriptor.Dispose();
        }
    }

    /// <summary>Reads one frame; returns its length, or minus the errno.</summary>
    private protected abstract int ReadFrame(SafeHandle descriptor, byte* buffer, int length, out bool discard);

    /// <summary>Writes one frame; returns the bytes written or -1 with the errno in <see cref="LinuxNative.LastError"/>.</summary>
    private protected abstract nint WriteFrame(SafeHandle descriptor, byte* frame, int length);

    /// <summary>Reads ifr_mtu for <paramref name="name"/> through <paramref name="socket"/> (any socket in the interface's namespace).</summary>
    private protected static int QueryMtu(SafeHandle socket, string name)
    {
        LinuxNative.InterfaceRequest request = LinuxNative.CreateRequest(name);
        if (LinuxNative.Ioctl(socket, LinuxNative.SIOCGIFMTU, &request) < 0)
        {
            throw NetworkDeviceException.FromErrno($"{name}: reading the MTU (SIOCGIFMTU)", LinuxNative.LastError);
        }

        return request.Value;
    }

    /// <summary>Checks a caller-given MTU: RFC 791 (every host must take 68-byte datagrams) to 65535.</summary>
    private protected static void ValidateMtu(int? mtu)
    {
        if (mtu is < 68 or > 65535)
        {
            throw new ArgumentOutOfRangeException(nameof(mtu), mtu, "an IPv4 MTU is 68 to 65535 bytes (RFC 791)");
        }
    }
}
