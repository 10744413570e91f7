using System.Buffers;

namespace Protocols.Tcp.Engine;

/// <summary>
/// Where connections rent their rings: arrays of the one size every connection starts with
/// (<see cref="RingLength"/>) come from a bounded stack of this pool's own; any other size from
/// <see cref="ArrayPool{T}.Shared"/>.
/// </summary>
/// <remarks>
/// <see cref="ArrayPool{T}.Shared"/> keeps a few dozen arrays of a size per core. A host that opens
/// and closes hundreds of connections at once has more first rings out than that, so each new
/// connection would allocate its rings and each closing one drop them to the GC. This pool keeps up
/// to <see cref="Capacity"/> first-size arrays, enough for that churn, and no more: memory held
/// idle is bounded by <c>Capacity * RingLength</c> elements. Thread-safe (stacks on different
/// threads share it); a rent or return is one uncontended lock on a stack's loop.
/// </remarks>
/// <typeparam name="T">The element type.</typeparam>
internal sealed class RingPool<T>
{
    private readonly T[][] _free;
    private readonly Lock _lock = new();
    private int _count;

    /// <summary>A pool of up to <paramref name="capacity"/> arrays of <paramref name="ringLength"/> elements.</summary>
    /// <param name="ringLength">The length of the arrays this pool keeps.</param>
    /// <param name="capacity">How many it keeps at most.</param>
    public RingPool(int ringLength, int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(ringLength);
        ArgumentOutOfRangeException.ThrowIfNegative(capacity);
        RingLength = ringLength;
        _free = new T[capacity][];
    }

    /// <summary>The length of the arrays this pool keeps.</summary>
    public int RingLength { get; }

    /// <summary>How many arrays it keeps at most.</summary>
    public int Capacity => _free.Length;

    /// <summary>Arrays held now, ready to rent.</summary>
    public int Count => Volatile.Read(ref _count);

    /// <summary>
    /// An array of at least <paramref name="minimumLength"/> elements: one of this pool's
    /// <see cref="RingLength"/> arrays when that is enough, else one from <see cref="ArrayPool{T}.Shared"/>.
    /// Its contents are whatever its last user left.
    /// </summary>
    /// <param name="minimumLength">The least length needed.</param>
    /// <returns>The array; give it back with <see cref="Return"/>.</returns>
    public T[] Rent(int minimumLength)
    {
        if (minimumLength > RingLength)
        {
            return ArrayPool<T>.Shared.Rent(minimumLength);
        }

        lock (_lock)
        {
            if (_count > 0)
            {
                T[] array = _free[--_count];
                _free[_count] = null!;
                return array;
            }
        }

        return new T[RingLength];
    }

    /// <summary>Gives back an array from <see cref="Rent"/>: kept when there is room, else left to the GC (or to the shared pool for other sizes).</summary>
    /// <param name="array">The array; the caller must not use it afterwards.</param>
    public void Return(T[] array)
    {
        if (array.Length != RingLength)
        {
            // Only Shared hands out other lengths: Rent asks it for more than RingLength, and it
            // never answers with exactly RingLength then.
            ArrayPool<T>.Shared.Return(array);
            return;
        }

        lock (_lock)
        {
            if (_count < _free.Length)
            {
                _free[_count++] = array;
            }
        }
    }
}
