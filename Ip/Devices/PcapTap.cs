using Protocols.Wire;
using Protocols.Wire.Capture;

namespace Protocols.Ip.Devices;

/// <summary>
/// Wraps any device and writes every frame it receives and every frame it sends to a pcap
/// capture Wireshark and tcpdump open: link type Ethernet for an Ethernet device, RAW (101) or
/// IPV4 (228) for an IP device. Timestamps come from a <see cref="TimeProvider"/>, so a simulated
/// capture carries virtual time.
/// </summary>
/// <remarks>
/// Only frames the inner device accepted are written as sent. A failing capture (disk full, a
/// closed stream) stops capturing and is counted in <see cref="CaptureErrors"/>; it never breaks
/// the device. Disposing the tap disposes the inner device, and the writer when the tap owns it.
/// </remarks>
public sealed class PcapTap : FrameObservingDevice
{
    private readonly PcapWriter _writer;
    private readonly TimeProvider _time;
    private readonly bool _ownsWriter;
    private volatile bool _failed;
    private long _captureErrors;

    /// <summary>Wraps <paramref name="inner"/>, writing to <paramref name="writer"/>.</summary>
    /// <param name="inner">The device to tap.</param>
    /// <param name="writer">The capture; its link type must match the device's medium (see <see cref="LinkTypeFor"/>).</param>
    /// <param name="timeProvider">Where timestamps come from (default: the system clock).</param>
    /// <param name="ownsWriter">Dispose <paramref name="writer"/> with the tap.</param>
    /// <exception cref="ArgumentException">The writer's link type does not fit the device's medium.</exception>
    public PcapTap(INetworkDevice inner, PcapWriter writer, TimeProvider? timeProvider = null, bool ownsWriter = false)
        : base(inner)
    {
        ArgumentNullException.ThrowIfNull(writer);
        bool fits = inner.Medium == DeviceMedium.Ethernet
            ? writer.LinkType == LinkType.Ethernet
            : writer.LinkType is LinkType.Raw or LinkType.Ipv4;
        if (!fits)
        {
            throw new ArgumentException($"A {inner.Medium} device cannot be captured as link type {writer.LinkType}.", nameof(writer));
        }

        _writer = writer;
        _time = timeProvider ?? TimeProvider.System;
        _ownsWriter = ownsWriter;
    }

    /// <summary>Wraps <paramref name="inner"/>, capturing to a new pcap file at <paramref name="path"/> (nanosecond timestamps).</summary>
    /// <param name="inner">The device to tap.</param>
    /// <param name="path">The capture file (overwritten).</param>
    /// <param name="timeProvider">Where timestamps come from (default: the system clock).</param>
    public static PcapTap Create(INetworkDevice inner, string path, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(inner);
        PcapWriter writer = PcapWriter.Create(path, LinkTypeFor(inner.Medium), nanosecond: true);
        return new PcapTap(inner, writer, timeProvider, ownsWriter: true);
    }

    /// <summary>The pcap link type for a medium: <see cref="LinkType.Ethernet"/> or <see cref="LinkType.Raw"/>.</summary>
    /// <param name="medium">The device's medium.</param>
    public static LinkType LinkTypeFor(DeviceMedium medium) => medium == DeviceMedium.Ethernet ? LinkType.Ethernet : LinkType.Raw;

    /// <summary>Frames written to the capture.</summary>
    public long FramesCaptured => _writer.FramesWritten;

    /// <summary>Capture writes that failed (capturing stops after the first).</summary>
    public long CaptureErrors => Interlocked.Read(ref _captureErrors);



    /// <inheritdoc/>
    public override void Flush()
    {
        Inner.Flush();
        if (!_failed)
        {
            try
            {
                _writer.Flush();
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException)
            {
                Fail();
            }
        }
    }

    /// <summary>Disposes the inner device, and the writer when owned (flushing the capture).</summary>
    /// <param name="disposing">True from Dispose().</param>
    protected override void Dispose(bool disposing)
    {
        base.Dispose(disposing);
        if (disposing && _ownsWriter)
        {
            try
            {
                _writer.Dispose();
            }
            catch (IOException)
            {
                Fail();
            }
        }
    }

    /// <inheritdoc/>
    protected override void OnFrame(ReadOnlySpan<byte> frame, bool outbound) => Capture(frame);

    private void Capture(ReadOnlySpan<byte> frame)
    {
        if (_failed)
        {
            return;
        }

        try
        {
            _writer.WriteFrame(_time.GetUtcNow(), frame);
        }
        catch (Exception e) when (e is IOException or ObjectDisposedException or ArgumentOutOfRangeException)
        {
            // ArgumentOutOfRange: a time pcap cannot represent (before 1970 or after 2106).
            Fail();
        }
    }

    private void Fail()
    {
        _failed = true;
        Interlocked.Increment(ref _captureErrors);
    }
}
