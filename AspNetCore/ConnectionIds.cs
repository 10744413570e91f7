namespace Protocols.AspNetCore;

/// <summary>Connection ids in Kestrel's style: 13 characters of base32 from a process-wide counter.</summary>
internal static class ConnectionIds
{
    private const string Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUV";
    private static readonly long Base = Random.Shared.NextInt64(long.MaxValue / 2);

    /// <summary>The id of the <paramref name="n"/>th connection.</summary>
    public static string Next(long n) => string.Create(13, Base + n, static (span, value) =>
    {
        for (int i = span.Length - 1; i >= 0; i--)
        {
            span[i] = Alphabet[(int)(value & 31)];
            value >>= 5;
        }
    });
}
