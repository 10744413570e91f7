using System.Buffers;

namespace Protocols.Tcp.Engine;

/// <summary>
/// The storage rule both connection buffers share: a ring rented from <see cref="Pool"/> (its
/// first size from a bounded pool of its own, larger ones from <see cref="ArrayPool{T}.Shared"/>), grown by doubling (from <see cref="InitialSize"/>, at most
/// to the buffer's capacity) and given back to the pool when it grows or is released, so idle
/// connections hold no ring (DESIGN.md: pooled buffers). Only the logical size is used for the
/// ring arithmetic: a rented array may be larger.
/// </summary>
internal static class PooledRing
{
    /// <summary>The size of a ring when a buffer first needs one.</summary>
    public const int InitialSize = 4096;

    /// <summary>Rings of <see cref="InitialSize"/> kept for reuse across connections, at most (4 MiB).</summary>
    public const int PooledRings = 1024;

    /// <summary>Where rings come from and go back to.</summary>
    public static readonly RingPool<byte> Pool = new(InitialSize, PooledRings);

    /// <summary>
    /// Makes <paramref name="ring"/> hold at least <paramref name="needed"/> bytes: rents a larger
    /// ring, copies the <paramref name="used"/> bytes that start at <paramref name="start"/>
    /// (wrapping at <paramref name="size"/>) to its beginning, and returns the old one.
    /// </summary>
    /// <returns>True when the ring was replaced (the held bytes now start at 0).</returns>
    public static bool Grow(ref byte[]? ring, ref int size, int needed, int capacity, int start, int used)
    {
        if (size >= needed)
        {
            return false;
        }

        int newSize = Math.Max(size, Math.Min(InitialSize, capacity));
        while (newSize < needed)
        {
            newSize = (int)Math.Min((long)newSize * 2, capacity);
        }

        byte[] grown = Pool.Rent(newSize);
        if (ring is not null)
        {
            int first = Math.Min(used, size - start);
            ring.AsSpan(start, first).CopyTo(grown);
            ring.AsSpan(0, used - first).CopyTo(grown.AsSpan(first));
            Pool.Return(ring);
        }

        ring = grown;
        size = newSize;
        return true;
    }

    /// <summary>Gives the ring back to the pool; the buffer then holds none.</summary>
    public static void Return(ref byte[]? ring, ref int size)
    {
        if (ring is not null)
        {
            Pool.Return(ring);
            ring = null;
            size = 0;
        }
    }
}
