using Microsoft.Extensions.Logging;
using Protocols.Wire;

namespace Protocols.Ip.Devices;

/// <summary>
/// Wraps any device and reports one tcpdump-style line per frame received and sent to a sink,
/// e.g. <c>12:00:00.000100 sim0 Out IP 10.0.0.1 &gt; 10.0.0.2: ICMP echo request, id 1, seq 1, length 64</c>.
/// </summary>
/// <remarks>
/// Lines are built only for frames that pass through, with the time from the given
/// <see cref="TimeProvider"/> (virtual time in a simulation). Only frames the inner device
/// accepted are reported as sent. The sink runs on the caller's thread (the stack's loop):
/// keep it cheap. Disposing the tracer disposes the inner device.
/// </remarks>
public sealed class TracingDevice : FrameObservingDevice
{
    private readonly Action<string> _sink;
    private readonly TimeProvider _time;
    private readonly bool _ownFormatter;
    private PacketFormatter _formatter;
    private readonly bool _showDirection;
    private readonly Func<bool>? _enabled;

    /// <summary>Wraps <paramref name="inner"/>, writing lines to <paramref name="sink"/>.</summary>
    /// <param name="inner">The device to trace.</param>
    /// <param name="sink">Receives one line per frame (e.g. <c>ILogger.LogTrace</c>, <c>Console.WriteLine</c>, a test's list).</param>
    /// <param name="timeProvider">Where the time of day comes from (default: the system clock).</param>
    /// <param name="formatter">How frames are described; null for the <see cref="NetworkStack.PacketFormatter"/> of the stack the tracer is added to (IP and ICMP only until then).</param>
    /// <param name="showDirection">Put the device name and <c>In</c>/<c>Out</c> after the time, as <c>tcpdump -i any</c> does; false gives plain tcpdump lines.</param>
    public TracingDevice(INetworkDevice inner, Action<string> sink, TimeProvider? timeProvider = null, PacketFormatter? formatter = null, bool showDirection = true)
        : base(inner)
    {
        ArgumentNullException.ThrowIfNull(sink);
        _sink = sink;
        _time = timeProvider ?? TimeProvider.System;
        _ownFormatter = formatter is not null;
        _formatter = formatter ?? new PacketFormatter();
        _showDirection = showDirection;
    }

    /// <summary>Wraps <paramref name="inner"/>, writing lines to <paramref name="logger"/> (e.g. <see cref="NetworkStack.Logger"/>).</summary>
    /// <param name="inner">The device to trace.</param>
    /// <param name="logger">Receives one entry per frame; nothing is formatted while <paramref name="level"/> is disabled.</param>
    /// <param name="level">The level of the entries (default <see cref="LogLevel.Information"/>: a tracer is wrapped to be seen).</param>
    /// <param name="timeProvider">Where the time of day comes from (default: the system clock).</param>
    /// <param name="formatter">How frames are described; null for the <see cref="NetworkStack.PacketFormatter"/> of the stack the tracer is added to (IP and ICMP only until then).</param>
    /// <param name="showDirection">Put the device name and <c>In</c>/<c>Out</c> after the time.</param>
    public TracingDevice(INetworkDevice inner, ILogger logger, LogLevel level = LogLevel.Information, TimeProvider? timeProvider = null, PacketFormatter? formatter = null, bool showDirection = true)
        : this(inner, LogTo(logger, level), timeProvider, formatter, showDirection)
    {
        _enabled = () => logger.IsEnabled(level);
    }


    /// <summary>How this tracer describes frames.</summary>
    public PacketFormatter Formatter => _formatter;

    /// <summary>Called when the tracer (or a device wrapping it) becomes a stack's interface: a tracer made without a formatter of its own takes the stack's.</summary>
    /// <param name="stackFormatter">The stack's formatter.</param>
    internal void UseStackFormatter(PacketFormatter stackFormatter)
    {
        if (!_ownFormatter)
        {
            _formatter = stackFormatter;
        }
    }

    /// <summary>Formats one line as this tracer would (without the time when <paramref name="time"/> is null).</summary>
    /// <param name="frame">The frame.</param>
    /// <param name="outbound">True for a sent frame.</param>
    /// <param name="time">The time to print.</param>
    public string FormatLine(ReadOnlySpan<byte> frame, bool outbound, DateTimeOffset? time)
    {
        string summary = _formatter.Format(frame, Inner.Medium);
        string prefix = time is DateTimeOffset t ? PacketFormatter.FormatTime(t) + " " : "";
        return _showDirection
            ? $"{prefix}{Inner.Name} {(outbound ? "Out" : "In ")} {summary}"
            : prefix + summary;
    }


    private static Action<string> LogTo(ILogger logger, LogLevel level)
    {
        ArgumentNullException.ThrowIfNull(logger);
        return line => logger.Log(level, default, line, null, static (state, _) => state);
    }

    /// <inheritdoc/>
    protected override void OnFrame(ReadOnlySpan<byte> frame, bool outbound)
    {
        if (_enabled?.Invoke() != false)
        {
            _sink(FormatLine(frame, outbound, _time.GetUtcNow()));
        }
    }
}
