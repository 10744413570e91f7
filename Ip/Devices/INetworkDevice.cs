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

    /// <summary>The device fills transport checksums on send.</summary>
    TransmitChecksumOffload = 2,
}

/// <summary>Receives one frame. The span is valid only during the call.</summary>
/// <param name="frame">The frame (an IP packet for <see cref="DeviceMedium.Ip"/>, an Ethernet frame otherwise).</param>
public delegate void FrameHandler(ReadOnlySpan<byte> frame);

/// <summary>
/// The one small interface every device implements (TUN, AF_PACKET, simulated links) and every
/// wrapper (pcap tap, tracer) composes over. All calls are non-blocking; a stack's loop calls
/// <see cref="Receive"/> and <see cref="TrySend"/> from its one thread, and waits with
/// <see cref="WaitForReceiveAsync"/> when it has nothing else to do.
/// </summary>
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

    /// <summary>Delivers up to <paramref name="maxFrames"/> frames that have arrived to <paramref name="handler"/>, without waiting.</summary>
    /// <returns>The number of frames delivered (0 when none is waiting or the device is closed).</returns>
    int Receive(FrameHandler handler, int maxFrames);

    /// <summary>Queues one frame for sending, without waiting; the bytes are copied before the call returns.</summary>
    /// <returns>False when the device's bounded send queue is full or the device is closed (the caller counts the drop).</returns>
    bool TrySend(ReadOnlySpan<byte> frame);

    /// <summary>Pushes out frames queued by <see cref="TrySend"/> (devices that batch sends); a no-op for others.</summary>
    void Flush();

    /// <summary>Completes when <see cref="Receive"/> may deliver frames, when the device closes, or on cancellation.</summary>
    ValueTask WaitForReceiveAsync(CancellationToken cancellationToken);
}
