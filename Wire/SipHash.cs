using System.Buffers.Binary;
using System.Numerics;

namespace Protocols.Wire;

/// <summary>
/// SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast short-input PRF", 2012): a keyed
/// 64-bit pseudo-random function built for short inputs, the keyed hash behind TCP's ISN
/// generator (RFC 6528 3 asks for a PRF such as MD5 with a secret; Linux moved from MD5 to
/// SipHash in 4.11) and SYN cookies, IPv6 flow labels (RFC 6437) and fragment identifications
/// (RFC 7739). Hashing a 16-40 byte tuple costs a few tens of nanoseconds and allocates nothing,
/// where HMAC-SHA256 through System.Security.Cryptography would cost roughly ten times that.
/// </summary>
public readonly struct SipHash
{
    // The initialization constants of the paper (section 2): "somepseudorandomlygeneratedbytes".
    private const ulong C0 = 0x736f6d6570736575UL;
    private const ulong C1 = 0x646f72616e646f6dUL;
    private const ulong C2 = 0x6c7967656e657261UL;
    private const ulong C3 = 0x7465646279746573UL;

    private readonly ulong _k0;
    private readonly ulong _k1;

    /// <summary>The key as two little-endian 64-bit words, as the paper reads the 16 key bytes.</summary>
    public SipHash(ulong k0, ulong k1)
    {
        _k0 = k0;
        _k1 = k1;
    }

    /// <summary>The key from 16 bytes (the paper's byte order: k0 is bytes 0-7 little-endian).</summary>
    public SipHash(ReadOnlySpan<byte> key)
    {
        if (key.Length != 16)
        {
            throw new ArgumentException("A SipHash key is 16 bytes.", nameof(key));
        }

        _k0 = BinaryPrimitives.ReadUInt64LittleEndian(key);
        _k1 = BinaryPrimitives.ReadUInt64LittleEndian(key[8..]);
    }

    /// <summary>SipHash-2-4 of <paramref name="data"/>: 2 compression rounds per word, 4 finalization rounds.</summary>
    public ulong Hash(ReadOnlySpan<byte> data)
    {
        ulong v0 = C0 ^ _k0, v1 = C1 ^ _k1, v2 = C2 ^ _k0, v3 = C3 ^ _k1;

        int whole = data.Length & ~7;
        for (int i = 0; i < whole; i += 8)
        {
            ulong m = BinaryPrimitives.ReadUInt64LittleEndian(data.Slice(i, 8));
            v3 ^= m;
            Round(ref v0, ref v1, ref v2, ref v3);
            Round(ref v0, ref v1, ref v2, ref v3);
            v0 ^= m;
        }

        // The last word: the remaining 0-7 bytes little-endian, the length mod 256 in the top byte.
        ulong last = (ulong)data.Length << 56;
        for (int i = whole; i < data.Length; i++)
        {
            last |= (ulong)data[i] << (8 * (i - whole));
        }

        v3 ^= last;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        v0 ^= last;

        v2 ^= 0xff;
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        Round(ref v0, ref v1, ref v2, ref v3);
        return v0 ^ v1 ^ v2 ^ v3;
    }

    // SipRound, section 2 of the paper.
    private static void Round(ref ulong v0, ref ulong v1, ref ulong v2, ref ulong v3)
    {
        v0 += v1;
        v1 = BitOperations.RotateLeft(v1, 13);
        v1 ^= v0;
        v0 = BitOperations.RotateLeft(v0, 32);
        v2 += v3;
        v3 = BitOperations.RotateLeft(v3, 16);
        v3 ^= v2;
        v0 += v3;
        v3 = BitOperations.RotateLeft(v3, 21);
        v3 ^= v0;
        v2 += v1;
        v1 = BitOperations.RotateLeft(v1, 17);
        v1 ^= v2;
        v2 = BitOperations.RotateLeft(v2, 32);
    }
}
