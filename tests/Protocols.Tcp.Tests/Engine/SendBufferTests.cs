using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine;

public class SendBufferTests
{
    private static byte[] Bytes(int start, int count) => Enumerable.Range(start, count).Select(i => (byte)(i * 7 + 3)).ToArray();

    private static SeqNum S(uint value) => new(value);

    private static byte[] Segment(SendBuffer buffer, uint from, int max)
    {
        int n = buffer.GetSegment(S(from), max, out ReadOnlySpan<byte> first, out ReadOnlySpan<byte> second);
        Assert.Equal(n, first.Length + second.Length);
        return [.. first, .. second];
    }

    [Fact]
    public void Write_accepts_up_to_capacity_then_nothing()
    {
        var buffer = new SendBuffer(S(1000), capacity: 10);
        Assert.Equal(10, buffer.Free);
        Assert.Equal(6, buffer.Write(Bytes(0, 6)));
        Assert.Equal(4, buffer.Write(Bytes(6, 6)));
        Assert.Equal(0, buffer.Write(Bytes(12, 1)));
        Assert.Equal(0, buffer.Free);
        Assert.Equal(10, buffer.Buffered);
        Assert.Equal(10, buffer.Unsent);
        Assert.Equal(0, buffer.InFlight);
        Assert.Equal(Bytes(0, 10), Segment(buffer, 1000, 100));
    }

    [Fact]
    public void Acknowledge_frees_space_and_partial_acks_move_una()
    {
        var buffer = new SendBuffer(S(1000), capacity: 10);
        buffer.Write(Bytes(0, 10));
        buffer.MarkSent(S(1008));
        Assert.Equal(8, buffer.InFlight);
        Assert.Equal(2, buffer.Unsent);

        Assert.True(buffer.Acknowledge(S(1003), out int freed));
        Assert.Equal(3, freed);
        Assert.Equal(1003u, buffer.SndUna.Value);
        Assert.Equal(3, buffer.Free);
        Assert.Equal(5, buffer.InFlight);
        Assert.Equal(Bytes(3, 7), Segment(buffer, 1003, 100));

        // A duplicate or old ACK changes nothing (RFC 9293 3.10.7.4).
        Assert.True(buffer.Acknowledge(S(1003), out freed));
        Assert.Equal(0, freed);
        Assert.True(buffer.Acknowledge(S(999), out freed));
        Assert.Equal(0, freed);
        Assert.Equal(1003u, buffer.SndUna.Value);

        // An ACK of something never sent is refused and changes nothing.
        Assert.False(buffer.Acknowledge(S(1009), out freed));
        Assert.Equal(0, freed);
        Assert.Equal(1003u, buffer.SndUna.Value);
        Assert.Equal(5, buffer.InFlight);
    }

    [Fact]
    public void Ring_wraps_and_segments_come_back_as_two_spans()
    {
        var buffer = new SendBuffer(S(0), capacity: 10);
        buffer.Write(Bytes(0, 7));
        buffer.MarkSent(S(7));
        buffer.Acknowledge(S(5), out _);
        Assert.Equal(8, buffer.Write(Bytes(7, 20))); // ring index 7..9 then 0..4
        Assert.Equal(10, buffer.Buffered);

        int n = buffer.GetSegment(S(6), 6, out ReadOnlySpan<byte> first, out ReadOnlySpan<byte> second);
        Assert.Equal(6, n);
        Assert.Equal(4, first.Length); // ring indices 6..9
        Assert.Equal(2, second.Length); // ring indices 0..1
        Assert.Equal(Bytes(6, 6), first.ToArray().Concat(second.ToArray()).ToArray());

        var copy = new byte[20];
        Assert.Equal(10, buffer.CopyTo(S(5), copy));
        Assert.Equal(Bytes(5, 10), copy[..10]);
        Assert.Equal(0, buffer.CopyTo(S(15), copy));
    }

    [Fact]
    public void Sequence_numbers_wrap_past_two_to_the_32()
    {
        uint start = uint.MaxValue - 3;
        var buffer = new SendBuffer(S(start), capacity: 16);
        buffer.Write(Bytes(0, 12));
        buffer.MarkSent(S(start + 10)); // 6 after the wrap
        Assert.Equal(6u, buffer.SndMax.Value);
        Assert.Equal(10, buffer.InFlight);

        Assert.Equal(Bytes(4, 8), Segment(buffer, 0, 100)); // sequence 0 is the fifth byte
        Assert.True(buffer.Acknowledge(S(2), out int freed));
        Assert.Equal(6, freed);
        Assert.Equal(2u, buffer.SndUna.Value);
        Assert.False(buffer.Acknowledge(S(7), out _));
        buffer.CompleteWrites();
        Assert.Equal(8u, buffer.FinSequence.Value);
        buffer.MarkSent(S(9));
        Assert.True(buffer.IsFinSent);
        Assert.True(buffer.Acknowledge(S(9), out freed));
        Assert.Equal(6, freed);
        Assert.True(buffer.IsFinAcknowledged);
        Assert.Equal(8u, buffer.FinSequence.Value);
    }

    [Fact]
    public void Fin_takes_one_sequence_number_after_the_data()
    {
        var buffer = new SendBuffer(S(100), capacity: 8);
        buffer.Write(Bytes(0, 5));
        buffer.CompleteWrites();
        buffer.CompleteWrites(); // idempotent
        Assert.True(buffer.IsWriteCompleted);
        Assert.Equal(0, buffer.Free);
        Assert.Throws<InvalidOperationException>(() => buffer.Write(Bytes(0, 1)));
        Assert.Equal(105u, buffer.FinSequence.Value);
        Assert.Equal(106u, buffer.SequenceEnd.Value);

        buffer.MarkSent(S(105));
        Assert.False(buffer.IsFinSent);
        Assert.Equal(0, buffer.Unsent);
        Assert.False(buffer.Acknowledge(S(106), out _)); // the FIN was not sent yet
        buffer.MarkSent(S(106));
        Assert.True(buffer.IsFinSent);
        Assert.Equal(6, buffer.InFlight);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.MarkSent(S(107)));

        Assert.True(buffer.Acknowledge(S(105), out int freed)); // all data, not the FIN
        Assert.Equal(5, freed);
        Assert.False(buffer.IsFinAcknowledged);
        Assert.Equal(1, buffer.InFlight);
        Assert.True(buffer.Acknowledge(S(106), out freed));
        Assert.Equal(0, freed);
        Assert.True(buffer.IsFinAcknowledged);
        Assert.Equal(0, buffer.InFlight);
        Assert.Equal(106u, buffer.SequenceEnd.Value);
    }

    [Fact]
    public void Fin_without_data_is_acknowledged_on_its_own()
    {
        var buffer = new SendBuffer(S(uint.MaxValue), capacity: 4);
        buffer.CompleteWrites();
        Assert.Equal(uint.MaxValue, buffer.FinSequence.Value);
        buffer.MarkSent(S(0));
        Assert.True(buffer.Acknowledge(S(0), out int freed));
        Assert.Equal(0, freed);
        Assert.True(buffer.IsFinAcknowledged);
    }

    [Fact]
    public void Out_of_range_requests_throw()
    {
        var buffer = new SendBuffer(S(50), capacity: 8);
        buffer.Write(Bytes(0, 4));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.GetSegment(S(49), 1, out _, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.GetSegment(S(55), 1, out _, out _));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.MarkSent(S(55)));
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.MarkSent(S(49)));
        Assert.Throws<ArgumentOutOfRangeException>(() => new SendBuffer(S(0), capacity: 0));
        Assert.Equal(0, buffer.GetSegment(S(54), 10, out _, out _));
    }

    [Fact]
    public void Retransmission_below_snd_max_keeps_snd_max()
    {
        var buffer = new SendBuffer(S(10), capacity: 32);
        buffer.Write(Bytes(0, 30));
        buffer.MarkSent(S(30));
        buffer.MarkSent(S(15)); // a go-back-N retransmission from SND.UNA
        Assert.Equal(30u, buffer.SndMax.Value);
        Assert.Equal(20, buffer.InFlight);
        Assert.Equal(10, buffer.Unsent);
        Assert.Equal(Bytes(0, 5), Segment(buffer, 10, 5));
    }

    [Fact]
    public void Reset_restarts_at_a_new_sequence_number()
    {
        var buffer = new SendBuffer(S(10), capacity: 8);
        buffer.Write(Bytes(0, 8));
        buffer.CompleteWrites();
        buffer.Reset(S(500));
        Assert.Equal(500u, buffer.SndUna.Value);
        Assert.Equal(0, buffer.Buffered);
        Assert.False(buffer.IsWriteCompleted);
        Assert.Equal(3, buffer.Write(Bytes(0, 3)));
        Assert.Equal(Bytes(0, 3), Segment(buffer, 500, 8));
    }

    [Theory]
    [InlineData(1, 7u)]
    [InlineData(2, uint.MaxValue - 5000)]
    [InlineData(3, 0x7FFF_F000u)]
    public void Random_operations_match_a_reference_model(int seed, uint iss)
    {
        var random = new Random(seed);
        const int capacity = 1000;
        var buffer = new SendBuffer(S(iss), capacity);
        var model = new List<byte>(); // data from SND.UNA on
        uint una = iss;
        uint max = iss;
        bool fin = false;
        bool finAcked = false;
        int produced = 0;

        for (int op = 0; op < 20_000; op++)
        {
            int end = model.Count + (fin && !finAcked ? 1 : 0); // sequence space held, from una
            switch (random.Next(6))
            {
                case 0:
                case 1:
                    if (fin)
                    {
                        Assert.Throws<InvalidOperationException>(() => buffer.Write([1]));
                        break;
                    }

                    byte[] data = Bytes(produced, random.Next(0, 400));
                    int accepted = buffer.Write(data);
                    Assert.Equal(Math.Min(data.Length, capacity - model.Count), accepted);
                    model.AddRange(data[..accepted]);
                    produced += accepted;
                    break;
                case 2:
                    {
                        int offset = random.Next(0, end + 1);
                        buffer.MarkSent(S(una + (uint)offset));
                        if (offset > (int)(max - una))
                        {
                            max = una + (uint)offset;
                        }

                        break;
                    }

                case 3:
                    {
                        int offset = random.Next(-50, (int)(max - una) + 20);
                        bool ok = buffer.Acknowledge(S(una + (uint)offset), out int freed);
                        if (offset > (int)(max - una))
                        {
                            Assert.False(ok);
                            Assert.Equal(0, freed);
                        }
                        else if (offset <= 0)
                        {
                            Assert.True(ok);
                            Assert.Equal(0, freed);
                        }
                        else
                        {
                            Assert.True(ok);
                            int data2 = Math.Min(offset, model.Count);
                            Assert.Equal(data2, freed);
                            model.RemoveRange(0, data2);
                            if (offset > data2)
                            {
                                finAcked = true;
                            }

                            una += (uint)offset;
                        }

                        break;
                    }

                case 4:
                    {
                        int offset = random.Next(0, model.Count + 1);
                        var destination = new byte[random.Next(0, 300)];
                        int n = buffer.CopyTo(S(una + (uint)offset), destination);
                        int expected = Math.Min(destination.Length, model.Count - offset);
                        Assert.Equal(expected, n);
                        Assert.True(model.GetRange(offset, expected).SequenceEqual(destination[..n]));
                        break;
                    }

                default:
                    if (random.Next(200) == 0)
                    {
                        fin = true;
                        buffer.CompleteWrites();
                    }

                    break;
            }

            Assert.Equal(una, buffer.SndUna.Value);
            Assert.Equal(max, buffer.SndMax.Value);
            Assert.Equal(model.Count, buffer.Buffered);
            Assert.Equal(fin ? 0 : capacity - model.Count, buffer.Free);
            Assert.Equal((int)(max - una), buffer.InFlight);
            Assert.Equal(model.Count - Math.Min(model.Count, (int)(max - una)), buffer.Unsent);
            Assert.Equal(finAcked, buffer.IsFinAcknowledged);

            if (finAcked)
            {
                // Start a new connection's worth of traffic on the same buffer.
                iss = (uint)random.Next() * 2;
                buffer.Reset(S(iss));
                una = max = iss;
                fin = finAcked = false;
                model.Clear();
            }
        }
    }

    [Fact]
    public void Steady_state_does_not_allocate()
    {
        uint start = uint.MaxValue - 50_000;
        var buffer = new SendBuffer(S(start), capacity: 10_000);
        byte[] data = new byte[1400];
        byte[] destination = new byte[1460];
        uint next = start;
        long total = 0;

        void Round()
        {
            while (buffer.Write(data) > 0)
            {
            }

            while (buffer.Unsent > 0)
            {
                int n = buffer.GetSegment(S(next), 1460, out ReadOnlySpan<byte> first, out ReadOnlySpan<byte> second);
                next += (uint)(first.Length + second.Length);
                total += n;
                buffer.MarkSent(S(next));
            }

            buffer.CopyTo(buffer.SndUna, destination); // a retransmission
            buffer.Acknowledge(S(next - 700), out _);
        }

        Round(); // allocates the ring once
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 200; i++)
        {
            Round();
        }

        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
        Assert.Equal(next - 700, buffer.SndUna.Value);
        Assert.Equal(next - start, (uint)total);
    }
}
