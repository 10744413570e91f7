namespace Protocols.Wire.Capture;

/// <summary>One captured frame of a pcap or pcapng file.</summary>
/// <param name="Index">1-based position of the frame in the file (counting frames only, not other blocks).</param>
/// <param name="TimestampNanoseconds">
/// Capture time in nanoseconds since the Unix epoch (1970-01-01T00:00:00Z), at full precision.
/// Zero for pcapng simple packet blocks, which carry no time (see <see cref="HasTimestamp"/>).
/// </param>
/// <param name="OriginalLength">Length of the frame on the wire; at least <see cref="CapturedLength"/> unless the writer was sloppy.</param>
/// <param name="LinkType">The link-layer header type of <see cref="Data"/>.</param>
/// <param name="Data">The captured bytes, starting with the link-layer header.</param>
/// <param name="InterfaceId">The pcapng interface the frame was captured on (always 0 for pcap).</param>
/// <param name="HasTimestamp">False when the file gave no time for this frame (pcapng simple packet block).</param>
public readonly record struct CaptureFrame(
    long Index,
    long TimestampNanoseconds,
    long OriginalLength,
    LinkType LinkType,
    ReadOnlyMemory<byte> Data,
    int InterfaceId = 0,
    bool HasTimestamp = true)
{
    private const long NanosecondsPerTick = 100;

    /// <summary>Number of bytes captured (the length of <see cref="Data"/>).</summary>
    public int CapturedLength => Data.Length;

    /// <summary>True when fewer bytes were captured than were on the wire (snap length reached).</summary>
    public bool IsTruncated => OriginalLength > Data.Length;

    /// <summary>Time since the Unix epoch, rounded down to the 100 ns tick of <see cref="TimeSpan"/>.</summary>
    public TimeSpan SinceEpoch => TimeSpan.FromTicks(FloorDiv(TimestampNanoseconds, NanosecondsPerTick));

    /// <summary>The capture time in UTC, rounded down to 100 ns; <see cref="TimestampNanoseconds"/> keeps the rest.</summary>
    public DateTimeOffset Timestamp => DateTimeOffset.UnixEpoch + SinceEpoch;

    /// <summary>Nanoseconds within the second (0..999,999,999), at full precision.</summary>
    public int NanosecondOfSecond => (int)(TimestampNanoseconds - (FloorDiv(TimestampNanoseconds, 1_000_000_000) * 1_000_000_000));

    private static long FloorDiv(long a, long b)
    {
        long q = a / b;
        return (a % b != 0 && a < 0) ? q - 1 : q;
    }
}
