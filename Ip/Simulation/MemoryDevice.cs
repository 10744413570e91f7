using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Ip.Simulation;

/// <summary>
/// One end of a simulated link, or one port of a simulated segment: an <see cref="INetworkDevice"/>
/// whose frames travel through a <see cref="MemoryNetwork"/>. Made by
/// <see cref="MemoryNetwork.CreateLink"/> and <see cref="MemorySegment.Attach"/>.
/// </summary>
/// <remarks>
/// <see cref="TrySend(ReadOnlySpan{byte})"/> copies the frame onto the wire and only fails once the device is closed
/// (what happens on the wire is counted by the link, not reported to the sender).
/// <see cref="Receive(FrameHandler, int)"/> delivers the frames whose arrival time the network's clock has reached.
/// </remarks>
public sealed class MemoryDevice : INetworkDevice
{
    private readonly LinkDirection? _outbound;
    private readonly MemorySegment? _segment;
    private readonly FrameHandler _forward;
    private OffloadFrameHandler? _offloadHandler;
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
        _forward = Forward;
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

    /// <summary>Delivers frames as ordinary ones: a simulated link offloads nothing (checksums are verified by the stack).</summary>
    /// <returns>The number of frames delivered.</returns>
    public int Receive(OffloadFrameHandler handler, int maxFrames)
    {
        ArgumentNullException.ThrowIfNull(handler);
        if (_disposed || maxFrames <= 0)
        {
            return 0;
        }

        OffloadFrameHandler? outer = _offloadHandler; // a handler may receive again (re-entrantly)
        _offloadHandler = handler;
        try
        {
            return Inbound.Receive(_forward, maxFrames);
        }
        finally
        {
            _offloadHandler = outer;
        }
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

    /// <summary>Sends an ordinary frame; a simulated link takes no offload work (false for any).</summary>
    /// <returns>True when sent.</returns>
    public bool TrySend(ReadOnlySpan<byte> frame, in PacketOffload offload) => offload.IsNone && TrySend(frame);

    /// <summary>Nothing to push: frames are on the wire as soon as <see cref="TrySend(ReadOnlySpan{byte})"/> returns.</summary>
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

    private void Forward(ReadOnlySpan<byte> frame) => _offloadHandler!(frame, default);
}
