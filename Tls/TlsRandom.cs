using System.Runtime.CompilerServices;

namespace Protocols.Tls;

/// <summary>The 32-byte random of a ClientHello or ServerHello (RFC 8446 4.1.2).</summary>
[InlineArray(Length)]
public struct TlsRandom
{
    /// <summary>Size in bytes.</summary>
    public const int Length = 32;

    private byte _element0;

    /// <summary>
    /// The special ServerHello.random that marks a HelloRetryRequest: SHA-256 of
    /// "HelloRetryRequest" (RFC 8446 4.1.3).
    /// </summary>
    public static ReadOnlySpan<byte> HelloRetryRequestMagic =>
    [
        0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
        0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
    ];

    /// <summary>A random copied from <paramref name="bytes"/> (exactly 32 bytes).</summary>
    /// <exception cref="ArgumentException">The span is not 32 bytes long.</exception>
    public static TlsRandom From(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length != Length)
        {
            throw new ArgumentException($"A TLS random is {Length} bytes, got {bytes.Length}.", nameof(bytes));
        }

        TlsRandom r = default;
        bytes.CopyTo(r);
        return r;
    }

    /// <summary>Lower-case hex of the 32 bytes.</summary>
    public override readonly string ToString() => Convert.ToHexStringLower(this);
}
