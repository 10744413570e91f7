using System.Buffers;
using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine;

public class RingPoolTests
{
    [Fact]
    public void A_returned_ring_is_rented_again_and_the_pool_keeps_no_more_than_its_capacity()
    {
        var pool = new RingPool<byte>(4096, capacity: 2);
        byte[] a = pool.Rent(4096);
        byte[] b = pool.Rent(100);
        byte[] c = pool.Rent(1);
        Assert.Equal(4096, a.Length);
        Assert.Equal(4096, b.Length); // anything up to the ring length gets a whole ring
        Assert.Equal(4096, c.Length);
        Assert.Equal(0, pool.Count);

        pool.Return(a);
        pool.Return(b);
        pool.Return(c); // beyond the capacity: left to the GC
        Assert.Equal(2, pool.Count);

        byte[] again = pool.Rent(4096);
        Assert.True(ReferenceEquals(again, b) || ReferenceEquals(again, a));
        Assert.Equal(1, pool.Count);
        byte[] other = pool.Rent(4096);
        Assert.False(ReferenceEquals(again, other));
        Assert.Equal(0, pool.Count);
        Assert.NotSame(c, pool.Rent(4096)); // c was not kept
    }

    [Fact]
    public void Larger_sizes_come_from_and_go_back_to_the_shared_pool()
    {
        var pool = new RingPool<byte>(4096, capacity: 8);
        byte[] large = pool.Rent(4097);
        Assert.True(large.Length >= 4097);
        pool.Return(large);
        Assert.Equal(0, pool.Count); // not kept here

        // Shared hands it out again (same thread, its thread-local slot).
        Assert.Same(large, ArrayPool<byte>.Shared.Rent(large.Length));
    }

    [Fact]
    public void Rings_are_kept_across_threads_up_to_the_capacity()
    {
        var pool = new RingPool<int>(16, capacity: 64);
        Parallel.For(0, 8, _ =>
        {
            for (int i = 0; i < 1000; i++)
            {
                int[] ring = pool.Rent(16);
                ring[0] = i;
                pool.Return(ring);
            }
        });
        Assert.InRange(pool.Count, 1, 8);
    }
}
