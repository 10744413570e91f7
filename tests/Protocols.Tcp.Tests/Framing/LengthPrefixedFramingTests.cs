using System.Buffers;
using System.Buffers.Binary;
using Protocols.Tcp.Framing;

namespace Protocols.Tcp.Tests.Framing;

public class LengthPrefixedFramingTests
{
    private static byte[] Encode(IEnumerable<byte[]> messages)
    {
        var output = new MemoryStream();
        var framing = new LengthPrefixedFraming(output);
        foreach (byte[] m in messages)
        {
            framing.WriteMessageAsync(m).AsTask().GetAwaiter().GetResult();
        }

        return output.ToArray();
    }

    private static List<byte[]> RandomMessages(Random rng, int count, int maxLength)
    {
        var list = new List<byte[]>();
        for (int i = 0; i < count; i++)
        {
            byte[] m = new byte[rng.Next(4) == 0 ? 0 : rng.Next(maxLength + 1)];
            rng.NextBytes(m);
            list.Add(m);
        }

        return list;
    }

    [Fact]
    public async Task Wire_format_is_a_big_endian_length_then_the_bytes()
    {
        byte[] wire = Encode([[0xAA, 0xBB, 0xCC], []]);
        Assert.Equal(new byte[] { 0, 0, 0, 3, 0xAA, 0xBB, 0xCC, 0, 0, 0, 0 }, wire);
        var framing = new LengthPrefixedFraming(new MemoryStream(wire));
        Assert.Equal(new byte[] { 0xAA, 0xBB, 0xCC }, await framing.ReadMessageAsync());
        Assert.Equal(Array.Empty<byte>(), await framing.ReadMessageAsync());
        Assert.Null(await framing.ReadMessageAsync());
        Assert.Null(await framing.ReadMessageAsync());
    }

    [Fact]
    public async Task Messages_survive_one_byte_reads()
    {
        var rng = new Random(1);
        List<byte[]> messages = RandomMessages(rng, 50, 300);
        var stream = new ChunkedReadStream(Encode(messages), 1);
        var framing = new LengthPrefixedFraming(stream);
        foreach (byte[] expected in messages)
        {
            Assert.Equal(expected, await framing.ReadMessageAsync());
        }

        Assert.Null(await framing.ReadMessageAsync());
        Assert.True(stream.Reads >= messages.Sum(m => m.Length + 4));
    }

    [Fact]
    public async Task Property_random_messages_round_trip_over_random_chunking_with_both_read_forms()
    {
        var rng = new Random(4987);
        for (int iter = 0; iter < 200; iter++)
        {
            List<byte[]> messages = RandomMessages(rng, rng.Next(1, 20), rng.Next(1, 5000));
            byte[] wire = Encode(messages);
            var framing = new LengthPrefixedFraming(new ChunkedReadStream(wire, () => rng.Next(1, 3000)), 5000);
            var writer = new ArrayBufferWriter<byte>();
            for (int i = 0; i < messages.Count; i++)
            {
                if (i % 2 == 0)
                {
                    Assert.Equal(messages[i], await framing.ReadMessageAsync());
                }
                else
                {
                    writer.ResetWrittenCount();
                    Assert.True(await framing.ReadMessageAsync(writer));
                    Assert.Equal(messages[i], writer.WrittenSpan.ToArray());
                }
            }

            Assert.Null(await framing.ReadMessageAsync());
        }
    }

    [Fact]
    public async Task Property_every_truncation_ends_cleanly_on_a_boundary_or_reports_truncation()
    {
        var rng = new Random(7);
        List<byte[]> messages = RandomMessages(rng, 6, 40);
        byte[] wire = Encode(messages);
        var boundaries = new HashSet<int> { 0 };
        int offset = 0;
        foreach (byte[] m in messages)
        {
            offset += 4 + m.Length;
            boundaries.Add(offset);
        }

        for (int cut = 0; cut <= wire.Length; cut++)
        {
            var framing = new LengthPrefixedFraming(new ChunkedReadStream(wire[..cut], () => rng.Next(1, 9)));
            int complete = 0;
            FramingException? error = null;
            try
            {
                while (await framing.ReadMessageAsync() is { } m)
                {
                    Assert.Equal(messages[complete], m);
                    complete++;
                }
            }
            catch (FramingException e)
            {
                error = e;
            }

            if (boundaries.Contains(cut))
            {
                Assert.Null(error);
            }
            else
            {
                Assert.NotNull(error);
                Assert.Equal(FramingError.TruncatedMessage, error.Error);
            }
        }
    }

    [Fact]
    public async Task An_oversized_prefix_is_a_typed_error_and_the_framer_stays_faulted()
    {
        byte[] wire = new byte[4 + 10];
        BinaryPrimitives.WriteUInt32BigEndian(wire, 11);
        var framing = new LengthPrefixedFraming(new MemoryStream(wire), maxMessageLength: 10);
        FramingException e = await Assert.ThrowsAsync<FramingException>(async () => await framing.ReadMessageAsync());
        Assert.Equal(FramingError.MessageTooLarge, e.Error);
        Assert.Contains("11", e.Message);
        e = await Assert.ThrowsAsync<FramingException>(async () => await framing.ReadMessageAsync(new ArrayBufferWriter<byte>()));
        Assert.Equal(FramingError.MessageTooLarge, e.Error);
    }

    [Fact]
    public async Task A_hostile_four_gigabyte_prefix_allocates_nothing_and_fails()
    {
        var framing = new LengthPrefixedFraming(new MemoryStream([0xFF, 0xFF, 0xFF, 0xFF, 1, 2, 3]));
        long before = GC.GetAllocatedBytesForCurrentThread();
        FramingException e = await Assert.ThrowsAsync<FramingException>(async () => await framing.ReadMessageAsync());
        Assert.Equal(FramingError.MessageTooLarge, e.Error);
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 64 * 1024);
    }

    [Fact]
    public async Task A_maximal_prefix_followed_by_a_few_bytes_does_not_allocate_the_announced_length()
    {
        // Four bytes announcing 1 MiB, ten body bytes, then the end: the framer must not reserve the
        // whole megabyte on the peer's word (it grows the message as bytes arrive).
        byte[] wire = new byte[4 + 10];
        BinaryPrimitives.WriteUInt32BigEndian(wire, LengthPrefixedFraming.DefaultMaxMessageLength);
        var framing = new LengthPrefixedFraming(new MemoryStream(wire));
        long before = GC.GetAllocatedBytesForCurrentThread();
        FramingException e = await Assert.ThrowsAsync<FramingException>(async () => await framing.ReadMessageAsync());
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(FramingError.TruncatedMessage, e.Error);
        Assert.True(allocated < 128 * 1024, $"{allocated} bytes allocated for a 10-byte body announced as 1 MiB");
    }

    [Fact]
    public async Task A_message_larger_than_the_first_allocation_grows_and_round_trips_over_small_reads()
    {
        byte[] message = new byte[LengthPrefixedFraming.InitialBodyAllocation * 3 + 17];
        new Random(5).NextBytes(message);
        var framing = new LengthPrefixedFraming(new ChunkedReadStream(Encode([message]), () => 1000));
        Assert.Equal(message, await framing.ReadMessageAsync());
        Assert.Null(await framing.ReadMessageAsync());
    }

    [Fact]
    public async Task Property_random_bytes_only_ever_yield_messages_end_or_framing_errors()
    {
        var rng = new Random(2);
        for (int iter = 0; iter < 500; iter++)
        {
            byte[] junk = new byte[rng.Next(0, 64)];
            rng.NextBytes(junk);
            if (rng.Next(2) == 0 && junk.Length >= 4)
            {
                BinaryPrimitives.WriteUInt32BigEndian(junk, (uint)rng.Next(0, 80)); // plausible prefixes too
            }

            var framing = new LengthPrefixedFraming(new ChunkedReadStream(junk, () => rng.Next(1, 8)), 100);
            try
            {
                while (await framing.ReadMessageAsync() is { } m)
                {
                    Assert.True(m.Length <= 100);
                }
            }
            catch (FramingException)
            {
            }
        }
    }

    [Fact]
    public async Task Writes_check_the_maximum_and_large_messages_round_trip()
    {
        var framing = new LengthPrefixedFraming(new MemoryStream(), maxMessageLength: 8);
        await Assert.ThrowsAsync<ArgumentException>(async () => await framing.WriteMessageAsync(new byte[9]));

        byte[] big = new byte[200_000];
        new Random(3).NextBytes(big);
        var output = new MemoryStream();
        await new LengthPrefixedFraming(output).WriteMessageAsync(big);
        var reader = new LengthPrefixedFraming(new ChunkedReadStream(output.ToArray(), 1500));
        Assert.Equal(big, await reader.ReadMessageAsync());
        Assert.Null(await reader.ReadMessageAsync());
    }

    [Fact]
    public async Task Reading_into_a_reused_buffer_writer_allocates_nothing_per_message()
    {
        byte[] wire = Encode(RandomMessages(new Random(5), 1500, 8000));
        var framing = new LengthPrefixedFraming(new MemoryStream(wire));
        var writer = new ArrayBufferWriter<byte>(8192);
        for (int i = 0; i < 100; i++)
        {
            writer.ResetWrittenCount();
            Assert.True(await framing.ReadMessageAsync(writer));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 1300; i++)
        {
            writer.ResetWrittenCount();
            bool ok = await framing.ReadMessageAsync(writer);
            Assert.True(ok);
        }

        AllocationAssert.NothingPerMessage(GC.GetAllocatedBytesForCurrentThread() - before, 1300);
    }

    [Fact]
    public async Task Over_a_connection_a_reader_and_a_writer_run_concurrently_and_the_fin_ends_the_reader()
    {
        (DuplexTestStream a, DuplexTestStream b) = DuplexTestStream.CreatePair();
        var sender = new LengthPrefixedFraming(a);
        var receiver = new LengthPrefixedFraming(b);
        List<byte[]> messages = RandomMessages(new Random(6), 300, 2000);
        Task send = Task.Run(async () =>
        {
            foreach (byte[] m in messages)
            {
                await sender.WriteMessageAsync(m);
            }

            a.CompleteWrites();
        });

        int count = 0;
        while (await receiver.ReadMessageAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)) is { } m)
        {
            Assert.Equal(messages[count++], m);
        }

        await send.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(messages.Count, count);
    }

    [Fact]
    public async Task Cancellation_inside_a_message_faults_the_framer()
    {
        (DuplexTestStream a, DuplexTestStream b) = DuplexTestStream.CreatePair();
        await a.WriteAsync(new byte[] { 0, 0, 0, 10, 1, 2 });
        var framing = new LengthPrefixedFraming(b);
        using var cts = new CancellationTokenSource();
        ValueTask<byte[]?> pending = framing.ReadMessageAsync(cts.Token);
        cts.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
        FramingException e = await Assert.ThrowsAsync<FramingException>(async () => await framing.ReadMessageAsync());
        Assert.Equal(FramingError.TruncatedMessage, e.Error);
    }
}
