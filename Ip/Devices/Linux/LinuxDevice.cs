using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Protocols.Wire;

namespace Protocols.Ip.Devices.Linux;

/// <summary>
/// What the Linux devices share: a non-blocking descriptor drained in batches, sends that never
/// wait (a full kernel queue is a counted drop), a wait that sleeps in poll(2) on a dedicated
/// thread instead of a thread-pool thread, a dispose that wakes the waiter and closes the
/// descriptor once no call is using it, and the virtio-net header (<see cref="VirtioNetCodec"/>)
/// in front of every packet when the device runs with offloads.
/// </summary>
/// <remarks>
/// Each counter of the data path is written by one thread (the loop's, or for sends the device's
/// transmit thread when it has one) and read from any thread (64-bit reads and writes are atomic
/// on the supported platforms): no interlocked operation on the data path. The send-failure
/// counters, which both may write, are updated with interlocked operations (a failure is rare).
/// </remarks>
public abstract unsafe class LinuxDevice : INetworkDevice, IDescriptorDevice
{
    /// <summary>Room for the largest IPv4 datagram plus an Ethernet header, VLAN tags and a virtio-net header.</summary>
    private protected const int BufferLength = 65536 + 64 + VirtioNetCodec.HeaderLength;

    private readonly FileDescriptorHandle _descriptor;
    private readonly ReadinessWaiter _waiter;
    private long _receivedFrames;
    private long _receivedBytes;
    private long _sentFrames;
    private long _sentBytes;
    private long _sendsRejected;
    private long _sendErrors;
    private long _receiveErrors;
    private long _receivesDiscarded;
    private long _receiveCalls;
    private long _sendCalls;
    private long _malformed;
    private volatile bool _disposed;

    private protected LinuxDevice(FileDescriptorHandle descriptor, string name, int mtu, MacAddress hardwareAddress, DeviceOffloadStatus offloads)
    {
        _descriptor = descriptor;
        Name = name;
        Mtu = mtu;
        HardwareAddress = hardwareAddress;
        OffloadStatus = offloads;
        HasVirtioHeader = offloads.Mode == OffloadMode.On;
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
    public DeviceCapabilities Capabilities => OffloadStatus.Capabilities;

    /// <inheritdoc/>
    public DeviceOffloadStatus OffloadStatus { get; }

    /// <summary>True when every packet carries a virtio-net header (offloads on).</summary>
    public bool HasVirtioHeader { get; }

    /// <inheritdoc/>
    public DeviceStatistics? Statistics => new DeviceStatistics(
        ReceivedFrames,
        ReceivedBytes,
        SentFrames,
        SentBytes,
        Volatile.Read(ref _receiveCalls),
        Volatile.Read(ref _sendCalls),
        MalformedHeaders,
        ReceivesDiscarded + SendsRejected + SendErrors);

    /// <summary>Frames delivered by <see cref="Receive(FrameHandler, int)"/>.</summary>
    public long ReceivedFrames => Volatile.Read(ref _receivedFrames);

    /// <summary>Bytes of the frames delivered (without the virtio-net header).</summary>
    public long ReceivedBytes => Volatile.Read(ref _receivedBytes);

    /// <summary>Frames the kernel accepted.</summary>
    public long SentFrames => Volatile.Read(ref _sentFrames);

    /// <summary>Bytes of the frames the kernel accepted (without the virtio-net header).</summary>
    public long SentBytes => Volatile.Read(ref _sentBytes);

    /// <summary>Sends refused because the kernel's queue was full (EAGAIN, ENOBUFS).</summary>
    public long SendsRejected => Volatile.Read(ref _sendsRejected);

    /// <summary>Sends that failed for another reason (device down, frame too large, closed, an offload not granted or a GSO size over the MTU).</summary>
    public long SendErrors => Volatile.Read(ref _sendErrors);

    /// <summary>Reads that failed with an error other than "nothing to read".</summary>
    public long ReceiveErrors => Volatile.Read(ref _receiveErrors);

    /// <summary>Frames read but not delivered (truncated, or our own frames looped back).</summary>
    public long ReceivesDiscarded => Volatile.Read(ref _receivesDiscarded);

    /// <summary>Frames read with a malformed or unasked-for virtio-net header (dropped; <see cref="LastMalformedReason"/> says why).</summary>
    public long MalformedHeaders => Volatile.Read(ref _malformed);

    /// <summary>Why the last malformed virtio-net header was refused.</summary>
    public VirtioHeaderError LastMalformedReason { get; private set; }

    /// <summary>True once <see cref="Dispose()"/> has run.</summary>
    public bool IsClosed => _disposed;

    private protected SafeHandle Descriptor => _descriptor;

    /// <inheritdoc/>
    SafeHandle? IDescriptorDevice.ReceiveDescriptor => _disposed ? null : _descriptor;

    private protected bool Disposed => _disposed;

    /// <inheritdoc/>
    public int Receive(FrameHandler handler, int maxFrames)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return _disposed || maxFrames <= 0 ? 0 : ReceiveBatch(new FrameSink(handler, null), maxFrames);
    }

    /// <inheritdoc/>
    public int Receive(OffloadFrameHandler handler, int maxFrames)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return _disposed || maxFrames <= 0 ? 0 : ReceiveBatch(new FrameSink(null, handler), maxFrames);
    }

    /// <inheritdoc/>
    public bool TrySend(ReadOnlySpan<byte> frame) => TrySend(frame, default);

    /// <inheritdoc/>
    public bool TrySend(ReadOnlySpan<byte> frame, in PacketOffload offload)
    {
        if (_disposed || frame.IsEmpty)
        {
            Interlocked.Increment(ref _sendErrors);
            return false;
        }

        Span<byte> header = stackalloc byte[VirtioNetCodec.HeaderLength];
        if (HasVirtioHeader)
        {
            if (VirtioNetCodec.Encode(offload, frame, Medium, Mtu, Capabilities, header) != VirtioHeaderError.None)
            {
                Interlocked.Increment(ref _sendErrors); // an offload not granted, or a GSO size over the MTU: refused, never sent malformed
                return false;
            }
        }
        else if (!offload.IsNone)
        {
            Interlocked.Increment(ref _sendErrors); // plain mode takes only complete, ordinary frames
            return false;
        }

        try
        {
            return Send(HasVirtioHeader ? header : default, frame);
        }
        catch (ObjectDisposedException)
        {
            Interlocked.Increment(ref _sendErrors);
            return false;
        }
    }

    /// <summary>Pushes out frames held for a batched send (AF_PACKET's sendmmsg); nothing for TUN, whose sends go out at once.</summary>
    public virtual void Flush()
    {
    }

    /// <inheritdoc/>
    public virtual Span<byte> GetTransmitBuffer() => default;

    /// <inheritdoc/>
    public ValueTask WaitForReceiveAsync(CancellationToken cancellationToken) => _waiter.WaitAsync(cancellationToken);

    /// <summary>Stops the poll thread, completes a pending wait and closes the descriptor.</summary>
    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{GetType().Name} {Name} (MTU {Mtu}, {OffloadStatus.Description})";

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

    /// <summary>Reads up to <paramref name="maxFrames"/> frames and hands each to <see cref="Deliver"/>; returns how many were delivered.</summary>
    private protected abstract int ReceiveBatch(FrameSink sink, int maxFrames);

    /// <summary>Sends (or queues for <see cref="Flush"/>) one frame behind its virtio-net header (empty in plain mode), counting the outcome.</summary>
    private protected abstract bool Send(ReadOnlySpan<byte> header, ReadOnlySpan<byte> frame);

    /// <summary>Counts one receive system call.</summary>
    private protected void CountReceiveCall() => _receiveCalls++;

    /// <summary>Counts one send system call.</summary>
    private protected void CountSendCall() => _sendCalls++;

    /// <summary>Counts a read that failed with <paramref name="errno"/> (nothing to read is not a failure).</summary>
    private protected void CountReceiveError(int errno)
    {
        if (errno is not (LinuxNative.EAGAIN or LinuxNative.EINTR))
        {
            _receiveErrors++;
        }
    }

    /// <summary>Counts a frame read but not delivered.</summary>
    private protected void CountDiscarded() => _receivesDiscarded++;

    /// <summary>Counts frames the kernel accepted.</summary>
    private protected void CountSent(int frames, long bytes)
    {
        _sentFrames += frames;
        _sentBytes += bytes;
    }

    /// <summary>Counts frames the kernel refused: queue full (EAGAIN, ENOBUFS) or another error.</summary>
    private protected void CountSendFailure(int errno, int frames = 1)
    {
        if (errno is LinuxNative.EAGAIN or LinuxNative.ENOBUFS)
        {
            Interlocked.Add(ref _sendsRejected, frames);
        }
        else
        {
            Interlocked.Add(ref _sendErrors, frames);
        }
    }

    /// <summary>
    /// Delivers one packet as read from the descriptor: the virtio-net header (when the device has
    /// one) is checked against the packet and turned into a <see cref="PacketOffload"/>; a
    /// malformed one is counted and the packet dropped.
    /// </summary>
    /// <returns>True when the frame was delivered.</returns>
    private protected bool Deliver(in FrameSink sink, Span<byte> packet)
    {
        PacketOffload offload = default;
        Span<byte> frame = packet;
        if (HasVirtioHeader)
        {
            if (packet.Length <= VirtioNetCodec.HeaderLength)
            {
                Malformed(VirtioHeaderError.Truncated);
                return false;
            }

            frame = packet[VirtioNetCodec.HeaderLength..];
            VirtioHeaderError error = VirtioNetCodec.Decode(packet[..VirtioNetCodec.HeaderLength], frame, Medium, Mtu, Capabilities, out offload);
            if (error != VirtioHeaderError.None)
            {
                Malformed(error);
                return false;
            }
        }

        _receivedFrames++;
        _receivedBytes += frame.Length;
        sink.Deliver(frame, offload);
        return true;
    }

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

    private void Malformed(VirtioHeaderError error)
    {
        _malformed++;
        LastMalformedReason = error;
    }

    /// <summary>
    /// The caller of Receive: a plain handler gets complete frames (a partial checksum is finished
    /// here first), an offload-aware handler gets the frame as it is with its <see cref="PacketOffload"/>.
    /// </summary>
    private protected readonly struct FrameSink(FrameHandler? plain, OffloadFrameHandler? withOffload)
    {
        public void Deliver(Span<byte> frame, in PacketOffload offload)
        {
            if (withOffload is not null)
            {
                withOffload(frame, offload);
                return;
            }

            if (offload.Checksum == ChecksumState.Partial)
            {
                SoftwareChecksum.CompletePartial(frame, offload.ChecksumStart, offload.ChecksumOffset);
            }

            plain!(frame);
        }
    }
}
