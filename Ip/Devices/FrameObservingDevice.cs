using Protocols.Wire;

namespace Protocols.Ip.Devices;

/// <summary>
/// The plumbing of a device wrapper that looks at every frame going through (the pcap tap, the
/// tracer, the CLI demo's trace): it forwards everything to the inner device and calls
/// <see cref="OnFrame"/> for each frame received (before the stack sees it) and for each frame
/// the inner device accepted for sending. Disposing the wrapper disposes the inner device.
/// </summary>
public abstract class FrameObservingDevice : INetworkDevice
{
    private readonly FrameHandler _observeReceived;
    private readonly OffloadFrameHandler _observeReceivedWithOffload;
    private FrameHandler? _handler;
    private OffloadFrameHandler? _offloadHandler;

    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The device to observe.</param>
    protected FrameObservingDevice(INetworkDevice inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
        _observeReceived = OnReceived;
        _observeReceivedWithOffload = OnReceived;
    }

    /// <summary>The wrapped device.</summary>
    public INetworkDevice Inner { get; }

    /// <inheritdoc/>
    public string Name => Inner.Name;

    /// <inheritdoc/>
    public DeviceMedium Medium => Inner.Medium;

    /// <inheritdoc/>
    public int Mtu => Inner.Mtu;

    /// <inheritdoc/>
    public MacAddress HardwareAddress => Inner.HardwareAddress;

    /// <inheritdoc/>
    public DeviceCapabilities Capabilities => Inner.Capabilities;

    /// <inheritdoc/>
    public DeviceOffloadStatus OffloadStatus => Inner.OffloadStatus;

    /// <inheritdoc/>
    public DeviceStatistics? Statistics => Inner.Statistics;

    /// <inheritdoc/>
    public int Receive(FrameHandler handler, int maxFrames)
    {
        ArgumentNullException.ThrowIfNull(handler);
        FrameHandler? outer = _handler; // a handler may receive again (re-entrantly): restore the caller's
        _handler = handler;
        try
        {
            return Inner.Receive(_observeReceived, maxFrames);
        }
        finally
        {
            _handler = outer;
        }
    }

    /// <inheritdoc/>
    public int Receive(OffloadFrameHandler handler, int maxFrames)
    {
        ArgumentNullException.ThrowIfNull(handler);
        OffloadFrameHandler? outer = _offloadHandler;
        _offloadHandler = handler;
        try
        {
            return Inner.Receive(_observeReceivedWithOffload, maxFrames);
        }
        finally
        {
            _offloadHandler = outer;
        }
    }

    /// <inheritdoc/>
    public bool TrySend(ReadOnlySpan<byte> frame) => TrySend(frame, default);

    /// <inheritdoc/>
    public bool TrySend(ReadOnlySpan<byte> frame, in PacketOffload offload)
    {
        if (!Inner.TrySend(frame, offload))
        {
            return false; // only frames the inner device accepted are observed as sent
        }

        // A super-segment is observed as it crossed the device (as tcpdump shows it on a TSO device).
        OnFrame(frame, outbound: true);
        return true;
    }

    /// <inheritdoc/>
    public Span<byte> GetTransmitBuffer() => Inner.GetTransmitBuffer();

    /// <inheritdoc/>
    public virtual void Flush() => Inner.Flush();

    /// <inheritdoc/>
    public ValueTask WaitForReceiveAsync(CancellationToken cancellationToken) => Inner.WaitForReceiveAsync(cancellationToken);

    /// <summary>Disposes the inner device (and what the derived class owns).</summary>
    public void Dispose()
    {
        Dispose(disposing: true);
        GC.SuppressFinalize(this);
    }

    /// <summary>Disposes the inner device; derived classes add what they own.</summary>
    /// <param name="disposing">True from <see cref="Dispose()"/>.</param>
    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Inner.Dispose();
        }
    }

    /// <summary>Called on the caller's thread (the stack's loop) for every frame received or sent; keep it cheap.</summary>
    /// <param name="frame">The frame, valid only during the call.</param>
    /// <param name="outbound">True for a frame sent, false for one received.</param>
    protected abstract void OnFrame(ReadOnlySpan<byte> frame, bool outbound);

    private void OnReceived(ReadOnlySpan<byte> frame)
    {
        OnFrame(frame, outbound: false);
        _handler!(frame);
    }

    private void OnReceived(ReadOnlySpan<byte> frame, in PacketOffload offload)
    {
        OnFrame(frame, outbound: false);
        _offloadHandler!(frame, offload);
    }
}
