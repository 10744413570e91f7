using System.Diagnostics.Metrics;
using System.Text;

namespace Protocols.Tcp;

/// <summary>
/// The <c>Protocols.Tcp</c> meter: one observable instrument per <see cref="TcpCounter"/>
/// (<c>protocols.tcp.active_opens</c>, <c>protocols.tcp.segments_retransmitted</c>...), one
/// measurement per live TCP layer, tagged <c>protocols.stack</c> with the layer's
/// <see cref="TcpLayer.StackName"/>. <see cref="TcpCounter.CurrentEstablished"/> is a gauge, the
/// rest are counters. Layers are held weakly, so a dropped stack stops reporting by itself.
/// </summary>
public static class TcpMetrics
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "Protocols.Tcp";

    private static readonly Meter Meter = new(MeterName, "1.0");
    private static readonly List<WeakReference<TcpLayer>> Live = new();
    private static readonly Lock LiveLock = new();

#pragma warning disable CA1823 // the instruments live as long as the meter; kept for readers of this file
    private static readonly object[] Instruments = CreateInstruments();
#pragma warning restore CA1823

    /// <summary>The instrument name of <paramref name="counter"/>: <c>protocols.tcp.</c> and the counter in snake case.</summary>
    /// <param name="counter">The counter.</param>
    /// <returns>The name.</returns>
    public static string InstrumentName(TcpCounter counter)
    {
        string name = counter.ToString();
        var text = new StringBuilder("protocols.tcp.", 14 + name.Length + 4);
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            if (char.IsUpper(c))
            {
                if (i > 0)
                {
                    text.Append('_');
                }

                text.Append(char.ToLowerInvariant(c));
            }
            else
            {
                text.Append(c);
            }
        }

        return text.ToString();
    }

    internal static void Register(TcpLayer layer)
    {
        lock (LiveLock)
        {
            // Drop entries of layers that were collected, so the list stays bounded by live stacks.
            Live.RemoveAll(static w => !w.TryGetTarget(out _));
            Live.Add(new WeakReference<TcpLayer>(layer));
        }
    }

    private static object[] CreateInstruments()
    {
        var instruments = new List<object>();
        foreach (TcpCounter counter in TcpCounters.All)
        {
            TcpCounter c = counter;
            string name = c.ToString();
            string unit = name.StartsWith("Bytes", StringComparison.Ordinal) ? "By"
                : name.Contains("Segments", StringComparison.Ordinal) ? "{segment}"
                : "{event}";
            instruments.Add(c == TcpCounter.CurrentEstablished
                ? Meter.CreateObservableGauge(InstrumentName(c), () => Observe(c), "{connection}", "Connections in ESTABLISHED or CLOSE-WAIT")
                : Meter.CreateObservableCounter(InstrumentName(c), () => Observe(c), unit, c.ToString()));
        }

        return [.. instruments];
    }

    private static List<Measurement<long>> Observe(TcpCounter counter)
    {
        var measurements = new List<Measurement<long>>();
        lock (LiveLock)
        {
            foreach (WeakReference<TcpLayer> weak in Live)
            {
                if (weak.TryGetTarget(out TcpLayer? layer))
                {
                    measurements.Add(new Measurement<long>(
                        layer.Counters[counter],
                        new KeyValuePair<string, object?>("protocols.stack", layer.StackName)));
                }
            }
        }

        return measurements;
    }
}
