using Protocols.Wire;

namespace Protocols.Ip.Devices;

/// <summary>What a device carries.</summary>
public enum DeviceMedium
{
    /// <summary>Bare IP packets (a TUN device, an IP-level simulated link).</summary>
    Ip = 0,

    /// <summary>Ethernet II frames (AF_PACKET, a simulated Ethernet segment); the stack adds framing and ARP.</summary>
    Ethernet = 1,
}

/// <summary>Work the device (or the kernel behind it) does so the stack need not.</summary>
[Flags]
public enum DeviceCapabilities
{
    /// <summary>The stack computes and verifies every checksum.</summary>
    None = 0,

    /// <summary>Received IPv4/TCP/UDP checksums were already verified by the device.</summary>
    ReceiveChecksumsVerified = 1,

    /// <summary>The device completes transport checksums left partial on send (<see cref="ChecksumState.Partial"/>).</summary>
    TransmitChecksumOffload = 2,

    /// <summary>The device cuts TCP/IPv4 super-segments into wire-sized segments (TSO; <see cref="SegmentationKind.TcpV4"/>).</summary>
    TcpSegmentationV4 = 4,

    /// <summary>The device cuts TCP/IPv6 super-segments into wire-sized segments (TSO6; <see cref="SegmentationKind.TcpV6"/>).</summary>
    TcpSegmentationV6 = 8,

    /// <summary>The device cuts UDP/IPv4 super-datagrams into datagrams (USO; <see cref="SegmentationKind.UdpV4"/>).</summary>
    UdpSegmentationV4 = 16,

    /// <summary>
    /// The device may hand up TCP super-segments larger than the MTU (the kernel's coalescing, GRO/LRO),
    /// with their wire segment size in <see cref="PacketOffload.SegmentSize"/>.
    /// </summary>
    ReceiveCoalescing = 32,

    /// <summary>Received frames carry a per-frame checksum state (<see cref="PacketOffload.Checksum"/>): partial or verified TCP/UDP checksums are trusted for that frame only.</summary>
    ReceiveChecksumOffload = 64,
}

/// <summary>Receives one frame. The span is valid only during the call.</summary>
/// <param name="frame">The frame (an IP packet for <see cref="DeviceMedium.Ip"/>, an Ethernet frame otherwise).</param>
public delegate void FrameHandler(ReadOnlySpan<byte> frame);

/// <summary>Receives one frame with what the device says about it (checksum state, coalescing). The span is valid only during the call.</summary>
/// <param name="frame">The frame (an IP packet for <see cref="DeviceMedium.Ip"/>, an Ethernet frame otherwise).</param>
/// <param name="offload">The frame's checksum state and segmentation; default for an ordinary frame.</param>
public delegate void OffloadFrameHandler(ReadOnlySpan<byte> frame, in PacketOffload offload);

/// <summary>What a device counts about its own work: frames, bytes, and the system calls and wake-ups they cost.</summary>
/// <param name="FramesReceived">Frames delivered to the stack.</param>
/// <param name="BytesReceived">Their bytes.</param>
/// <param name="FramesSent">Frames accepted for sending.</param>
/// <param name="BytesSent">Their bytes.</param>
/// <param name="ReceiveCalls">System calls made to receive (read, recvmsg, recvmmsg), those that found nothing included.</param>
/// <param name="SendCalls">System calls made to send (write, send, sendmmsg).</param>
/// <param name="Malformed">Frames dropped because the device's own header (virtio-net) was malformed or not allowed.</param>
/// <param name="Dropped">Frames read but not delivered for other reasons (truncated, looped back) or not sent (queue full, errors).</param>
public readonly record struct DeviceStatistics(
    long FramesReceived,
    long BytesReceived,
    long FramesSent,
    long BytesSent,
    long ReceiveCalls,
    long SendCalls,
    long Malformed,
    long Dropped)
{
    /// <summary>Adds two devices' counts.</summary>
    public static DeviceStatistics operator +(DeviceStatistics a, DeviceStatistics b) => new(
        a.FramesReceived + b.FramesReceived,
        a.BytesReceived + b.BytesReceived,
        a.FramesSent + b.FramesSent,
        a.BytesSent + b.BytesSent,
        a.ReceiveCalls + b.ReceiveCalls,
        a.SendCalls + b.SendCalls,
        a.Malformed + b.Malformed,
        a.Dropped + b.Dropped);
}

/// <summary>
/// The one small interface every device implements (TUN, AF_PACKET, simulated links) and every
/// wrapper (pcap tap, tracer) composes over. All calls are non-blocking; a stack's loop calls
/// <see cref="Receive(FrameHandler, int)"/> and <see cref="TrySend(ReadOnlySpan{byte})"/> from its one thread, and waits with
/// <see cref="WaitForReceiveAsync"/> when it has nothing else to do.
/// </summary>
/// <remarks>
/// Batching: the loop drains up to N frames per wake-up with one Receive call, processes them,
/// then calls <see cref="Flush"/> once; a device that batches system calls (recvmmsg, sendmmsg)
/// does so inside those calls. Offloads: a device says what it does in <see cref="Capabilities"/>
/// and <see cref="OffloadStatus"/>; frames then carry a <see cref="PacketOffload"/> both ways
/// (<see cref="Receive(OffloadFrameHandler, int)"/>, <see cref="TrySend(ReadOnlySpan{byte}, in PacketOffload)"/>).
/// </remarks>
public interface INetworkDevice : IDisposable
{
    /// <summary>A name for traces and errors (e.g. <c>tun0</c>).</summary>
    string Name { get; }

    /// <summary>What the device carries.</summary>
    DeviceMedium Medium { get; }

    /// <summary>The largest IP packet the device carries, in bytes (Ethernet: excluding the 14-byte header).</summary>
    int Mtu { get; }

    /// <summary>The device's own hardware address (Ethernet medium); default for IP medium.</summary>
    MacAddress HardwareAddress { get; }

    /// <summary>Offloads the device performs.</summary>
    DeviceCapabilities Capabilities { get; }

    /// <summary>The offload mode (on, refused, disabled, unsupported), the largest super-segment and a description.</summary>
    DeviceOffloadStatus OffloadStatus => DeviceOffloadStatus.None;

    /// <summary>The device's own counts (system calls, malformed headers), or null when it keeps none.</summary>
    DeviceStatistics? Statistics => null;

    /// <summary>Delivers up to <paramref name="maxFrames"/> frames that have arrived to <paramref name="handler"/>, without waiting.</summary>
    /// <returns>The number of frames delivered (0 when none is waiting or the device is closed).</returns>
    int Receive(FrameHandler handler, int maxFrames);

    /// <summary>
    /// Like <see cref="Receive(FrameHandler, int)"/>, with each frame's checksum state and coalescing.
    /// The stack calls it for devices whose <see cref="Capabilities"/> include
    /// <see cref="DeviceCapabilities.ReceiveCoalescing"/> or <see cref="DeviceCapabilities.ReceiveChecksumOffload"/>,
    /// and the plain overload otherwise. The default adapts the plain overload (ordinary frames, one
    /// small allocation per call), so a device that sets those capabilities implements it directly.
    /// </summary>
    /// <returns>The number of frames delivered.</returns>
    int Receive(OffloadFrameHandler handler, int maxFrames)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return Receive(frame => handler(frame, default), maxFrames);
    }

    /// <summary>Queues one frame for sending, without waiting; the bytes are copied before the call returns.</summary>
    /// <returns>False when the device's bounded send queue is full or the device is closed (the caller counts the drop).</returns>
    bool TrySend(ReadOnlySpan<byte> frame);

    /// <summary>
    /// Queues one frame with offload work for the device: a partial checksum to complete, a
    /// super-segment to cut. The caller asks only for what <see cref="Capabilities"/> promise.
    /// </summary>
    /// <returns>False when the queue is full, the device is closed, or the offload asked for is not one the device does.</returns>
    bool TrySend(ReadOnlySpan<byte> frame, in PacketOffload offload) => offload.IsNone && TrySend(frame);

    /// <summary>
    /// Space in the device's own transmit memory where the next frame may be built in place, so
    /// <see cref="TrySend(ReadOnlySpan{byte}, in PacketOffload)"/> of a frame built at its start sends it
    /// without another copy. The same space is returned until the next send or flush. Empty when
    /// the device has none (it copies what it is given).
    /// </summary>
    Span<byte> GetTransmitBuffer() => default;

    /// <summary>Pushes out frames queued by <see cref="TrySend(ReadOnlySpan{byte})"/> (devices that batch sends); a no-op for others.</summary>
    void Flush();

    /// <summary>Completes when <see cref="Receive(FrameHandler, int)"/> may deliver frames, when the device closes, or on cancellation.</summary>
    ValueTask WaitForReceiveAsync(CancellationToken cancellationToken);
}
