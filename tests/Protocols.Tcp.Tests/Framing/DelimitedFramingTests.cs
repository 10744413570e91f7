using System.Buffers;
using System.Text;
using Protocols.Tcp.Framing;

namespace Protocols.Tcp.Tests.Framing;

public class DelimitedFramingTests
{
    private static async Task<List<string>> ReadAll(DelimitedFraming framing)
    {
        var list = new List<string>();
        while (await framing.ReadMessageAsync() is { } m)
        {
            list.Add(Encoding.ASCII.GetString(m));
        }

        return list;
    }

    private static Stream Text(string s, int chunk = int.MaxValue) => new ChunkedReadStream(Encoding.ASCII.GetBytes(s), chunk);

    [Fact]
    public async Task Crlf_lines_read_one_byte_at_a_time_with_the_delimiter_split_across_reads()
    {
        using var framing = new DelimitedFraming(Text("GET / HTTP/1.1\r\nHost: x\r\n\r\n", 1), "\r\n"u8);
        Assert.Equal(["GET / HTTP/1.1", "Host: x", ""], await ReadAll(framing));
    }

    [Fact]
    public async Task Lines_keep_a_carriage_return_and_return_a_final_unterminated_line()
    {
        using var framing = DelimitedFraming.Lines(Text("a\r\nb\n\nlast"));
        Assert.Equal(["a\r", "b", "", "last"], await ReadAll(framing));
    }

    [Fact]
    public async Task Trailing_bytes_without_a_delimiter_are_rejected_by_default()
    {
        using var framing = new DelimitedFraming(Text("one\ntwo", 2), "\n"u8);
        Assert.Equal("one"u8.ToArray(), await framing.ReadMessageAsync());
        FramingException e = await Assert.ThrowsAsync<FramingException>(async () => await framing.ReadMessageAsync());
        Assert.Equal(FramingError.TruncatedMessage, e.Error);
        await Assert.ThrowsAsync<FramingException>(async () => await framing.ReadMessageAsync());
    }

    [Fact]
    public async Task A_message_of_exactly_the_maximum_passes_and_one_more_byte_fails()
    {
        using (var ok = new DelimitedFraming(Text("12345\r\n", 1), "\r\n"u8, maxMessageLength: 5))
        {
            Assert.Equal(["12345"], await ReadAll(ok));
        }

        using var tooLong = new DelimitedFraming(Text("123456\r\n"), "\r\n"u8, maxMessageLength: 5);
        FramingException e = await Assert.ThrowsAsync<FramingException>(async () => await tooLong.ReadMessageAsync());
        Assert.Equal(FramingError.MessageTooLarge, e.Error);
    }

    [Fact]
    public async Task An_endless_message_is_cut_off_at_the_bound_without_buffering_more()
    {
        var rng = new Random(11);
        byte[] flood = new byte[1 << 20];
        Array.Fill(flood, (byte)'x');
        var stream = new ChunkedReadStream(flood, () => rng.Next(1, 70_000));
        using var framing = new DelimitedFraming(stream, "\r\n"u8, maxMessageLength: 8192);
        FramingException e = await Assert.ThrowsAsync<FramingException>(async () => await framing.ReadMessageAsync());
        Assert.Equal(FramingError.MessageTooLarge, e.Error);
        Assert.True(framing.BufferedBytes <= 8192 + 2, $"buffered {framing.BufferedBytes}");
    }

    [Fact]
    public async Task A_cancelled_read_keeps_its_buffered_bytes_and_can_be_retried()
    {
        (DuplexTestStream a, DuplexTestStream b) = DuplexTestStream.CreatePair();
        using var framing = new DelimitedFraming(b, "\r\n"u8);
        await a.WriteAsync("first\r\nsec"u8.ToArray());
        Assert.Equal("first"u8.ToArray(), await framing.ReadMessageAsync());
        using (var cts = new CancellationTokenSource())
        {
            ValueTask<byte[]?> pending = framing.ReadMessageAsync(cts.Token);
            cts.Cancel();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await pending);
        }

        Assert.Equal(3, framing.BufferedBytes);
        await a.WriteAsync("ond\r"u8.ToArray());
        await a.WriteAsync("\n"u8.ToArray());
        Assert.Equal("second"u8.ToArray(), await framing.ReadMessageAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
        a.CompleteWrites();
        Assert.Null(await framing.ReadMessageAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30)));
    }

    [Fact]
    public async Task Self_overlapping_delimiters_are_found_across_reads()
    {
        using var framing = new DelimitedFraming(Text("aaabxaabaab", 1), "aab"u8, trailingData: TrailingDataHandling.ReturnAsMessage);
        Assert.Equal(["a", "x", ""], await ReadAll(framing));
    }

    [Fact]
    public async Task Writes_append_the_delimiter_and_refuse_messages_that_contain_it()
    {
        var output = new MemoryStream();
        using var framing = new DelimitedFraming(output, "\r\n"u8, maxMessageLength: 10);
        await framing.WriteMessageAsync("hello"u8.ToArray());
        Assert.Equal("hello\r\n"u8.ToArray(), output.ToArray());
        await Assert.ThrowsAsync<ArgumentException>(async () => await framing.WriteMessageAsync("a\r\nb"u8.ToArray()));
        await Assert.ThrowsAsync<ArgumentException>(async () => await framing.WriteMessageAsync(new byte[11]));
        await framing.WriteMessageAsync("a\rb\nc"u8.ToArray()); // the parts alone are fine
    }

    [Theory]
    [InlineData("\n")]
    [InlineData("\r\n")]
    [InlineData("\0")]
    [InlineData("END")]
    public async Task Property_random_messages_round_trip_over_random_chunking(string delimiterText)
    {
        byte[] delimiter = Encoding.ASCII.GetBytes(delimiterText);
        var rng = new Random(delimiter.Length * 31 + delimiter[0]);
        for (int iter = 0; iter < 150; iter++)
        {
            var messages = new List<byte[]>();
            var output = new MemoryStream();
            using (var writer = new DelimitedFraming(output, delimiter, 3000))
            {
                for (int i = rng.Next(1, 15); i > 0; i--)
                {
                    byte[] m = new byte[rng.Next(4) == 0 ? 0 : rng.Next(3001)];
                    for (int j = 0; j < m.Length; j++)
                    {
                        m[j] = (byte)"abcdENDxyz\r\n\0"[rng.Next(13)];
                    }

                    if (m.AsSpan().IndexOf(delimiter) >= 0)
                    {
                        continue;
                    }

                    messages.Add(m);
                    await writer.WriteMessageAsync(m);
                }
            }

            using var reader = new DelimitedFraming(new ChunkedReadStream(output.ToArray(), () => rng.Next(1, 400)), delimiter, 3000);
            var sink = new ArrayBufferWriter<byte>();
            for (int i = 0; i < messages.Count; i++)
            {
                if (i % 2 == 0)
                {
                    Assert.Equal(messages[i], await reader.ReadMessageAsync());
                }
                else
                {
                    sink.ResetWrittenCount();
                    Assert.True(await reader.ReadMessageAsync(sink));
                    Assert.Equal(messages[i], sink.WrittenSpan.ToArray());
                }
            }

            Assert.Null(await reader.ReadMessageAsync());
        }
    }

    [Fact]
    public async Task Property_random_bytes_split_into_messages_that_rebuild_the_input()
    {
        var rng = new Random(12);
        for (int iter = 0; iter < 400; iter++)
        {
            byte[] input = new byte[rng.Next(0, 300)];
            for (int j = 0; j < input.Length; j++)
            {
                input[j] = (byte)"ab\r\n"[rng.Next(4)];
            }

            using var framing = new DelimitedFraming(new ChunkedReadStream(input, () => rng.Next(1, 20)), "\r\n"u8, 64, TrailingDataHandling.ReturnAsMessage);
            var rebuilt = new List<byte>();
            bool tooLong = false;
            try
            {
                while (await framing.ReadMessageAsync() is { } m)
                {
                    Assert.True(m.Length <= 64);
                    rebuilt.AddRange(m);
                    rebuilt.AddRange("\r\n"u8.ToArray());
                }
            }
            catch (FramingException e)
            {
                Assert.Equal(FramingError.MessageTooLarge, e.Error);
                tooLong = true;
            }

            if (!tooLong)
            {
                bool endsWithDelimiter = input.AsSpan().EndsWith("\r\n"u8);
                if (!endsWithDelimiter && rebuilt.Count > 0)
                {
                    rebuilt.RemoveRange(rebuilt.Count - 2, 2); // the last message had no delimiter
                }

                Assert.Equal(input, rebuilt.ToArray());
            }
        }
    }

    [Fact]
    public async Task Reading_into_a_reused_buffer_writer_allocates_nothing_per_message()
    {
        var text = new StringBuilder();
        for (int i = 0; i < 3000; i++)
        {
            text.Append("line number ").Append(i).Append('.', 2000).Append("\r\n");
        }

        using var framing = new DelimitedFraming(new MemoryStream(Encoding.ASCII.GetBytes(text.ToString())), "\r\n"u8);
        var sink = new ArrayBufferWriter<byte>(4096);
        for (int i = 0; i < 100; i++)
        {
            sink.ResetWrittenCount();
            Assert.True(await framing.ReadMessageAsync(sink));
        }

        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 2800; i++)
        {
            sink.ResetWrittenCount();
            bool ok = await framing.ReadMessageAsync(sink);
            Assert.True(ok);
        }

        AllocationAssert.NothingPerMessage(GC.GetAllocatedBytesForCurrentThread() - before, 2800);
    }
}
