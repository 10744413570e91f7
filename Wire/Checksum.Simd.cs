using System.Buffers.Binary;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Protocols.Wire;

// The fast paths of Checksum.Sum.
//
// RFC 1071 2(B), byte-order independence: summing the data as little-endian 16-bit words and
// byte-swapping the folded result gives the same sum as summing big-endian words. So the loops
// below add the bytes as they lie in memory (no shuffles) and swap once at the end.
//
// RFC 1071 2(C), parallel summation: the words may be added in any grouping, in wider lanes, with
// the carries folded back in at the end. The vector loops split every 32-bit lane into its two
// 16-bit halves and add both into a 32-bit lane accumulator; the scalar loop splits 64-bit reads
// into two 32-bit halves and adds them into 64-bit accumulators. Folding a wide value keeps it
// congruent modulo 0xFFFF and never turns a non-zero sum into zero, so every path gives exactly
// the result of the naive word-by-word sum.
public static partial class Checksum
{
    // Below 128 bytes the scalar loop is as fast as any vector width (measured on an AVX-512
    // x64: 12 GB/s for every path at 128 B, scalar ahead below, vectors ahead above).
    internal const int Vector512Threshold = 128;
    internal const int Vector256Threshold = 128;
    internal const int Vector128Threshold = 128;

    // Each vector added puts at most 2 * 0xFFFF into a 32-bit lane; after this many vectors into
    // one accumulator the lanes are folded before they could overflow (16384 * 0x1FFFE < 2^32).
    private const int VectorsPerFold = 16384;

    /// <summary><see cref="Sum"/> through the scalar path only.</summary>
    internal static uint SumScalar(ReadOnlySpan<byte> data, uint initial = 0) =>
        FromLittleEndianAccumulator(AccumulateScalar(data), initial);

    /// <summary><see cref="Sum"/> through the 128-bit vector path (the caller checks <see cref="Vector128.IsHardwareAccelerated"/>).</summary>
    internal static uint SumVector128(ReadOnlySpan<byte> data, uint initial = 0) =>
        FromLittleEndianAccumulator(AccumulateVector128(data), initial);

    /// <summary><see cref="Sum"/> through the 256-bit vector path (the caller checks <see cref="Vector256.IsHardwareAccelerated"/>).</summary>
    internal static uint SumVector256(ReadOnlySpan<byte> data, uint initial = 0) =>
        FromLittleEndianAccumulator(AccumulateVector256(data), initial);

    /// <summary><see cref="Sum"/> through the 512-bit vector path (the caller checks <see cref="Vector512.IsHardwareAccelerated"/>).</summary>
    internal static uint SumVector512(ReadOnlySpan<byte> data, uint initial = 0) =>
        FromLittleEndianAccumulator(AccumulateVector512(data), initial);

    /// <summary>Turns a sum of little-endian words into the big-endian partial sum and adds <paramref name="initial"/>.</summary>
    private static uint FromLittleEndianAccumulator(ulong acc, uint initial)
    {
        uint folded = Fold(acc);
        uint swapped = ((folded & 0xff) << 8) | (folded >> 8);
        return Fold((ulong)swapped + initial);
    }

    /// <summary>Sum of <paramref name="data"/> as little-endian words (odd last byte = low byte), unfolded.</summary>
    internal static ulong AccumulateScalar(ReadOnlySpan<byte> data)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint i = 0;
        ulong a0 = 0, a1 = 0;

        // 32 bytes per iteration over two independent accumulators; each add is at most
        // 2 * (2^32 - 1), so a 64-bit accumulator cannot overflow for any span length.
        for (; i + 32 <= length; i += 32)
        {
            ulong x0 = ReadLittleEndian64(ref start, i);
            ulong x1 = ReadLittleEndian64(ref start, i + 8);
            ulong x2 = ReadLittleEndian64(ref start, i + 16);
            ulong x3 = ReadLittleEndian64(ref start, i + 24);
            a0 += (uint)x0 + (x0 >> 32) + (uint)x2 + (x2 >> 32);
            a1 += (uint)x1 + (x1 >> 32) + (uint)x3 + (x3 >> 32);
        }

        for (; i + 8 <= length; i += 8)
        {
            ulong x = ReadLittleEndian64(ref start, i);
            a0 += (uint)x + (x >> 32);
        }

        if (i + 4 <= length)
        {
            uint x = Unsafe.ReadUnaligned<uint>(ref Unsafe.Add(ref start, i));
            a1 += BitConverter.IsLittleEndian ? x : BinaryPrimitives.ReverseEndianness(x);
            i += 4;
        }

        if (i + 2 <= length)
        {
            a0 += (uint)Unsafe.Add(ref start, i) | ((uint)Unsafe.Add(ref start, i + 1) << 8);
            i += 2;
        }

        // RFC 1071 4.1: an odd last byte is padded with zero; little-endian, it is the low byte.
        if (i < length)
        {
            a1 += Unsafe.Add(ref start, i);
        }

        // Fold each before adding so the sum of the two cannot overflow.
        return (ulong)Fold(a0) + Fold(a1);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong ReadLittleEndian64(ref byte start, nuint offset)
    {
        ulong x = Unsafe.ReadUnaligned<ulong>(ref Unsafe.Add(ref start, offset));
        return BitConverter.IsLittleEndian ? x : BinaryPrimitives.ReverseEndianness(x);
    }

    /// <summary>Little-endian word sum with 512-bit vectors; the tail goes to the scalar loop.</summary>
    internal static ulong AccumulateVector512(ReadOnlySpan<byte> data)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint size = (nuint)Vector512<byte>.Count;
        nuint i = 0;
        ulong total = 0;
        Vector512<uint> low = Vector512.Create(0xFFFFu);

        while (length - i >= size)
        {
            nuint end = i + Math.Min((length - i) / size, (nuint)VectorsPerFold) * size;
            Vector512<uint> a0 = Vector512<uint>.Zero, a1 = a0, a2 = a0, a3 = a0;
            for (; i + (4 * size) <= end; i += 4 * size)
            {
                Vector512<uint> v0 = Vector512.LoadUnsafe(ref start, i).AsUInt32();
                Vector512<uint> v1 = Vector512.LoadUnsafe(ref start, i + size).AsUInt32();
                Vector512<uint> v2 = Vector512.LoadUnsafe(ref start, i + (2 * size)).AsUInt32();
                Vector512<uint> v3 = Vector512.LoadUnsafe(ref start, i + (3 * size)).AsUInt32();
                a0 += (v0 & low) + (v0 >> 16);
                a1 += (v1 & low) + (v1 >> 16);
                a2 += (v2 & low) + (v2 >> 16);
                a3 += (v3 & low) + (v3 >> 16);
            }

            for (; i < end; i += size)
            {
                Vector512<uint> v = Vector512.LoadUnsafe(ref start, i).AsUInt32();
                a0 += (v & low) + (v >> 16);
            }

            // Fold every lane to at most 17 bits; 64 such values cannot overflow 32 bits.
            Vector512<uint> folded = (a0 & low) + (a0 >> 16) + (a1 & low) + (a1 >> 16)
                + (a2 & low) + (a2 >> 16) + (a3 & low) + (a3 >> 16);
            total += Vector512.Sum(folded);
        }

        return total + AccumulateScalar(data[(int)i..]);
    }

    /// <summary>Little-endian word sum with 256-bit vectors; the tail goes to the scalar loop.</summary>
    internal static ulong AccumulateVector256(ReadOnlySpan<byte> data)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint size = (nuint)Vector256<byte>.Count;
        nuint i = 0;
        ulong total = 0;
        Vector256<uint> low = Vector256.Create(0xFFFFu);

        while (length - i >= size)
        {
            nuint end = i + Math.Min((length - i) / size, (nuint)VectorsPerFold) * size;
            Vector256<uint> a0 = Vector256<uint>.Zero, a1 = a0, a2 = a0, a3 = a0;
            for (; i + (4 * size) <= end; i += 4 * size)
            {
                Vector256<uint> v0 = Vector256.LoadUnsafe(ref start, i).AsUInt32();
                Vector256<uint> v1 = Vector256.LoadUnsafe(ref start, i + size).AsUInt32();
                Vector256<uint> v2 = Vector256.LoadUnsafe(ref start, i + (2 * size)).AsUInt32();
                Vector256<uint> v3 = Vector256.LoadUnsafe(ref start, i + (3 * size)).AsUInt32();
                a0 += (v0 & low) + (v0 >> 16);
                a1 += (v1 & low) + (v1 >> 16);
                a2 += (v2 & low) + (v2 >> 16);
                a3 += (v3 & low) + (v3 >> 16);
            }

            for (; i < end; i += size)
            {
                Vector256<uint> v = Vector256.LoadUnsafe(ref start, i).AsUInt32();
                a0 += (v & low) + (v >> 16);
            }

            Vector256<uint> folded = (a0 & low) + (a0 >> 16) + (a1 & low) + (a1 >> 16)
                + (a2 & low) + (a2 >> 16) + (a3 & low) + (a3 >> 16);
            total += Vector256.Sum(folded);
        }

        return total + AccumulateScalar(data[(int)i..]);
    }

    /// <summary>Little-endian word sum with 128-bit vectors; the tail goes to the scalar loop.</summary>
    internal static ulong AccumulateVector128(ReadOnlySpan<byte> data)
    {
        ref byte start = ref MemoryMarshal.GetReference(data);
        nuint length = (nuint)data.Length;
        nuint size = (nuint)Vector128<byte>.Count;
        nuint i = 0;
        ulong total = 0;
        Vector128<uint> low = Vector128.Create(0xFFFFu);

        while (length - i >= size)
        {
            nuint end = i + Math.Min((length - i) / size, (nuint)VectorsPerFold) * size;
            Vector128<uint> a0 = Vector128<uint>.Zero, a1 = a0, a2 = a0, a3 = a0;
            for (; i + (4 * size) <= end; i += 4 * size)
            {
                Vector128<uint> v0 = Vector128.LoadUnsafe(ref start, i).AsUInt32();
                Vector128<uint> v1 = Vector128.LoadUnsafe(ref start, i + size).AsUInt32();
                Vector128<uint> v2 = Vector128.LoadUnsafe(ref start, i + (2 * size)).AsUInt32();
                Vector128<uint> v3 = Vector128.LoadUnsafe(ref start, i + (3 * size)).AsUInt32();
                a0 += (v0 & low) + (v0 >> 16);
                a1 += (v1 & low) + (v1 >> 16);
                a2 += (v2 & low) + (v2 >> 16);
                a3 += (v3 & low) + (v3 >> 16);
            }

            for (; i < end; i += size)
            {
                Vector128<uint> v = Vector128.LoadUnsafe(ref start, i).AsUInt32();
                a0 += (v & low) + (v >> 16);
            }

            Vector128<uint> folded = (a0 & low) + (a0 >> 16) + (a1 & low) + (a1 >> 16)
                + (a2 & low) + (a2 >> 16) + (a3 & low) + (a3 >> 16);
            total += Vector128.Sum(folded);
        }

        return total + AccumulateScalar(data[(int)i..]);
    }
}
