namespace Protocols.Tcp.Engine;

/// <summary>
/// The engine's time: a signed count of microseconds, for instants (microseconds since the Unix
/// epoch of the stack's <see cref="TimeProvider"/>) and for durations alike. It is the only place
/// where <see cref="TimeSpan"/> and <see cref="DateTimeOffset"/> meet the engine's clock.
/// </summary>
/// <remarks>
/// A raw count converts implicitly (callers and tests hand the engine <c>nowMicros</c> counts);
/// getting the count back out is explicit, through <see cref="Value"/>. Arithmetic does not
/// saturate: deadlines are computed from times and durations far below <see cref="long.MaxValue"/>,
/// and <see cref="Never"/> is only compared, never added to.
/// </remarks>
/// <param name="Value">The count of microseconds.</param>
internal readonly record struct Micros(long Value) : IComparable<Micros>
{
    /// <summary>A deadline that never comes: no timer armed.</summary>
    public static readonly Micros Never = new(long.MaxValue);

    /// <summary>Zero.</summary>
    public static readonly Micros Zero = default;

    private const long UnixEpochTicks = 621_355_968_000_000_000; // DateTimeOffset.UnixEpoch.UtcTicks

    // The latest instant a DateTimeOffset can hold, in microseconds since the Unix epoch.
    private const long MaxUnixMicros = (3_155_378_975_999_999_999 - UnixEpochTicks) / TimeSpan.TicksPerMicrosecond;

    /// <summary>Whether this is <see cref="Never"/>.</summary>
    public bool IsNever => Value == long.MaxValue;

    /// <summary>A duration of <paramref name="duration"/>, truncated to whole microseconds.</summary>
    /// <param name="duration">The duration.</param>
    /// <returns>The microseconds.</returns>
    public static Micros FromTimeSpan(TimeSpan duration) => new(duration.Ticks / TimeSpan.TicksPerMicrosecond);

    /// <summary>A duration of <paramref name="milliseconds"/> milliseconds.</summary>
    /// <param name="milliseconds">The milliseconds.</param>
    /// <returns>The microseconds.</returns>
    public static Micros FromMilliseconds(long milliseconds) => new(milliseconds * 1000);

    /// <summary>The engine's clock reading for a wall-clock instant: microseconds since the Unix epoch.</summary>
    /// <param name="instant">The instant (the stack's <c>Now</c>).</param>
    /// <returns>The engine time.</returns>
    public static Micros FromUnixTime(DateTimeOffset instant) => new((instant.UtcTicks - UnixEpochTicks) / TimeSpan.TicksPerMicrosecond);

    /// <summary>The instant this engine time names; times beyond what <see cref="DateTimeOffset"/> holds (such as <see cref="Never"/>) give its maximum.</summary>
    /// <returns>The instant, in UTC.</returns>
    public DateTimeOffset ToUnixTime() => Value < MaxUnixMicros
        ? new DateTimeOffset(UnixEpochTicks + (Value * TimeSpan.TicksPerMicrosecond), TimeSpan.Zero)
        : DateTimeOffset.MaxValue;

    /// <summary>This duration as a <see cref="TimeSpan"/>.</summary>
    /// <returns>The duration.</returns>
    public TimeSpan ToTimeSpan() => TimeSpan.FromTicks(Value * TimeSpan.TicksPerMicrosecond);

    /// <summary>A raw count of microseconds.</summary>
    /// <param name="value">The count.</param>
    public static implicit operator Micros(long value) => new(value);

    /// <summary>The later of two times.</summary>
    /// <param name="a">One.</param>
    /// <param name="b">The other.</param>
    /// <returns>The later.</returns>
    public static Micros Max(Micros a, Micros b) => a.Value >= b.Value ? a : b;

    /// <summary>The earlier of two times.</summary>
    /// <param name="a">One.</param>
    /// <param name="b">The other.</param>
    /// <returns>The earlier.</returns>
    public static Micros Min(Micros a, Micros b) => a.Value <= b.Value ? a : b;

    /// <summary>Sum.</summary>
    public static Micros operator +(Micros a, Micros b) => new(a.Value + b.Value);

    /// <summary>Difference.</summary>
    public static Micros operator -(Micros a, Micros b) => new(a.Value - b.Value);

    /// <summary>Scaling a duration.</summary>
    public static Micros operator *(Micros a, long factor) => new(a.Value * factor);

    /// <summary>Dividing a duration.</summary>
    public static Micros operator /(Micros a, long divisor) => new(a.Value / divisor);

    /// <summary>Earlier than.</summary>
    public static bool operator <(Micros a, Micros b) => a.Value < b.Value;

    /// <summary>Later than.</summary>
    public static bool operator >(Micros a, Micros b) => a.Value > b.Value;

    /// <summary>Not later than.</summary>
    public static bool operator <=(Micros a, Micros b) => a.Value <= b.Value;

    /// <summary>Not earlier than.</summary>
    public static bool operator >=(Micros a, Micros b) => a.Value >= b.Value;

    /// <inheritdoc/>
    public int CompareTo(Micros other) => Value.CompareTo(other.Value);

    /// <summary>e.g. <c>1500us</c>, or <c>never</c>.</summary>
    public override string ToString() => IsNever ? "never" : FormattableString.Invariant($"{Value}us");
}
