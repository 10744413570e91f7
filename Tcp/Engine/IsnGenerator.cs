using System.Security.Cryptography;
using Protocols.Wire;

namespace Protocols.Tcp.Engine;

/// <summary>
/// Initial sequence numbers as RFC 6528 3 specifies: ISN = M + F(localip, localport, remoteip,
/// remoteport, secretkey), where M is a timer ticking every 4 microseconds and F a keyed
/// pseudo-random function (here SipHash-2-4, see <see cref="SipHash"/>) of the connection's
/// 4-tuple under a per-stack secret.
/// </summary>
/// <remarks>
/// <para>For one 4-tuple successive ISNs follow the clock, so a new incarnation of a connection
/// starts above the old one's sequence numbers (the property RFC 9293 3.4.1 wants from the ISN
/// clock); across 4-tuples the offset F differs unpredictably, so an off-path attacker who
/// learns the ISN of its own connection learns nothing about another's (RFC 6528 3).</para>
/// <para>Time: <c>nowMicros</c> is microseconds on any monotonic clock the stack keeps (the
/// caller converts its <see cref="TimeProvider"/> timestamp); only differences matter, and M
/// wraps every 2^32 x 4 us, about 4.77 hours, as RFC 9293's ISN clock does.</para>
/// <para>Pure: no clock reads, no allocation, no mutable state; safe to share.</para>
/// </remarks>
public sealed class IsnGenerator
{
    /// <summary>RFC 6528 3 (after RFC 793): M ticks once every 4 microseconds.</summary>
    public const long TickMicroseconds = 4;

    /// <summary>The secret's length: a 128-bit SipHash key.</summary>
    public const int SecretLength = 16;

    private readonly SipHash _f;

    /// <summary>A generator under a given 16-byte secret (tests pass a fixed one for determinism).</summary>
    /// <exception cref="ArgumentException">The secret is not 16 bytes.</exception>
    public IsnGenerator(ReadOnlySpan<byte> secret)
    {
        if (secret.Length != SecretLength)
        {
            throw new ArgumentException($"The ISN secret is {SecretLength} bytes.", nameof(secret));
        }

        _f = new SipHash(secret);
    }

    /// <summary>
    /// A generator under a fresh random secret from the operating system's CSPRNG (RFC 6528 3:
    /// the secret "SHOULD be of at least 128 bits" and not guessable). One per stack.
    /// </summary>
    public static IsnGenerator CreateRandom()
    {
        Span<byte> secret = stackalloc byte[SecretLength];
        RandomNumberGenerator.Fill(secret);
        return new IsnGenerator(secret);
    }

    /// <summary>The ISN for a connection on <paramref name="tuple"/> opened at <paramref name="nowMicros"/>.</summary>
    /// <param name="tuple">The connection's 4-tuple, from this stack's point of view.</param>
    /// <param name="nowMicros">Microseconds on the stack's monotonic clock.</param>
    public SeqNum Next(in TcpFourTuple tuple, long nowMicros) =>
        new(unchecked(Clock(nowMicros) + Offset(tuple)));

    /// <summary>M of RFC 6528 3: the 4-microsecond timer, modulo 2^32.</summary>
    /// <remarks>An arithmetic shift (floor division by 4) keeps the ticks 4 us wide even across 0.</remarks>
    internal static uint Clock(long nowMicros) => unchecked((uint)(nowMicros >> 2));

    /// <summary>F of RFC 6528 3: the keyed hash of the 4-tuple, truncated to 32 bits.</summary>
    internal uint Offset(in TcpFourTuple tuple)
    {
        Span<byte> input = stackalloc byte[TcpFourTuple.MaxEncodedLength];
        int n = tuple.WriteTo(input);
        return unchecked((uint)_f.Hash(input[..n]));
    }
}
