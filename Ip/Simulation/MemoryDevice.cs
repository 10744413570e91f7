using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip.Simulation;

/// <summary>
/// One end of a simulated link, or one port of a simulated segment: an <see cref="INetworkDevice"/>
/// whose frames travel through a <see cref="MemoryNetwork"/>. Made by
/// <see cref="MemoryNetwork.CreateLink"/> and <see cref="MemorySegment.Attach"/>.
/// </summary>
/// <remarks>
/// <see cref="TrySend"/> copies the frame onto the wire and only fails once the device is closed
/// (what happens on the wire is counted by the link, not reported to the sender).
/// <see cref="Receive"/> delivers the frames whose arrival time the network's clock has reached.
/// </remarks>
public sealed class MemoryDevice : INetworkDevice
{
    private readonly LinkDirection? _outbound;
    private readonly MemorySegment? _segment;
    private volatile bool _disposed;

    internal MemoryDevice(string name, DeviceMedium medium, int mtu, MacAddress hardwareAddress, LinkDirection inbound, LinkDirection? outbound, MemorySegment? segment)
    {
        Name = name;
        Medium = medium;
        Mtu = mtu;
        HardwareAddress = hardwareAddress;
        Inbound = inbound;
        _outbound = outbound;
        _segment = segment;
    }

    /// <inheritdoc/>
    public string Name { get; }

    /// <inheritdoc/>
    public DeviceMedium Medium { get; }

    /// <inheritdoc/>
    public int Mtu { get; }

    /// <inheritdoc/>
    public MacAddress HardwareAddress { get; }

    /// <summary>No offloads: the stack computes and verifies every checksum (corruption is caught that way).</summary>
    public DeviceCapabilities Capabilities => DeviceCapabilities.None;

    /// <summary>The direction this device receives from (its counters tell what happened to frames sent to it).</summary>
    public LinkDirection Inbound { get; }

    /// <summary>The direction this device sends into on a point-to-point link; null on a segment (each other port has its own).</summary>
    public LinkDirection? Outbound => _outbound;

    /// <summary>True once disposed.</summary>
    public bool IsClosed => _disposed;

    /// <inheritdoc/>
    public int Receive(FrameHandler handler, int maxFrames)
    {
        ArgumentNullException.ThrowIfNull(handler);
        return _disposed || maxFrames <= 0 ? 0 : Inbound.Receive(handler, maxFrames);
    }

    /// <inheritdoc/>
    public bool TrySend(ReadOnlySpan<byte> frame)
    {
        if (_disposed || frame.IsEmpty)
        {
            return false;
        }

        if (_outbound is not null)
        {
            _outbound.Send(frame);
        }
        else
        {
            _segment!.Forward(this, frame);
        }

        return true;
    }

    /// <summary>Nothing to push: frames are on the wire as soon as <see cref="TrySend"/> returns.</summary>
    public void Flush()
    {
    }

    /// <inheritdoc/>
    public ValueTask WaitForReceiveAsync(CancellationToken cancellationToken) =>
        _disposed ? ValueTask.CompletedTask : Inbound.WaitForDeliveryAsync(cancellationToken);

    /// <summary>Closes the device: frames on their way to it are discarded and later ones dropped and counted.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        Inbound.CloseReceiver();
    }

    /// <inheritdoc/>
    public override string ToString() => Medium == DeviceMedium.Ethernet ? $"{Name} ({HardwareAddress}, mtu {Mtu})" : $"{Name} (mtu {Mtu})";
}
