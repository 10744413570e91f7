namespace Protocols.Cli.Decode;

/// <summary>The result of a checksum check, as Wireshark's <c>*.checksum.status</c> reports it.</summary>
internal enum ChecksumStatus
{
    /// <summary>Verified and correct.</summary>
    Good,

    /// <summary>Verified and wrong.</summary>
    Bad,

    /// <summary>Not verifiable: bytes missing (capture length, later fragments) or no checksum sent (UDP 0).</summary>
    Unverified,
}

/// <summary>
/// One frame as decoded by <see cref="FrameDissector"/>: its capture metadata and an ordered list
/// of fields keyed by Wireshark display-filter names (the <c>decode --json</c> contract in CLI.md).
/// Values are <see cref="long"/>, <see cref="string"/>, <see cref="bool"/>,
/// <see cref="ChecksumStatus"/> or <see cref="long"/>[] (SACK edges).
/// </summary>
internal sealed class DecodedFrame
{
    private readonly List<KeyValuePair<string, object>> _fields = [];

    /// <summary>Creates an empty frame.</summary>
    public DecodedFrame(long number, long timestampNanoseconds, int capturedLength, long originalLength, bool hasTimestamp)
    {
        Number = number;
        TimestampNanoseconds = timestampNanoseconds;
        CapturedLength = capturedLength;
        OriginalLength = originalLength;
        HasTimestamp = hasTimestamp;
    }

    /// <summary>The frame number, from 1.</summary>
    public long Number { get; }

    /// <summary>Capture time in nanoseconds since the Unix epoch.</summary>
    public long TimestampNanoseconds { get; }

    /// <summary>False when the file gave no time for the frame.</summary>
    public bool HasTimestamp { get; }

    /// <summary>Bytes captured.</summary>
    public int CapturedLength { get; }

    /// <summary>Bytes on the wire.</summary>
    public long OriginalLength { get; }

    /// <summary>The decoded fields in protocol order.</summary>
    public IReadOnlyList<KeyValuePair<string, object>> Fields => _fields;

    /// <summary>The one-line parse error of a frame (or of its innermost layer) that could not be decoded.</summary>
    public string? Error { get; set; }

    /// <summary>A note for the text form that is not a field (e.g. "IPv6, not decoded").</summary>
    public string? Note { get; set; }

    /// <summary>Adds a field.</summary>
    public void Add(string name, object value) => _fields.Add(new(name, value));

    /// <summary>The value of a field, or null when absent.</summary>
    public object? Get(string name)
    {
        foreach (KeyValuePair<string, object> field in _fields)
        {
            if (field.Key == name)
            {
                return field.Value;
            }
        }

        return null;
    }

    /// <summary>True when the field is present.</summary>
    public bool Has(string name) => Get(name) is not null;

    /// <summary>A numeric field, or <paramref name="fallback"/>.</summary>
    public long Long(string name, long fallback = 0) => Get(name) is long v ? v : fallback;

    /// <summary>A string field, or the empty string.</summary>
    public string Text(string name) => Get(name) as string ?? string.Empty;
}
