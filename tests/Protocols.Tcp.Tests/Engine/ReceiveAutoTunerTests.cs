using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine;

/// <summary>Dynamic right-sizing: the receiver's RTT estimate (timestamps or window timing) and the buffer it asks for.</summary>
public sealed class ReceiveAutoTunerTests
{
    private const int Mss = 1448;

    [Fact]
    public void With_timestamps_the_rtt_is_the_smoothed_echo_of_full_sized_segments_once_per_echo()
    {
        var tuner = new ReceiveAutoTuner(1 << 24, 10 * Mss);
        tuner.OnData(Mss, Mss, tsEcr: 5, echoRtt: 20_000, new SeqNum(1000), 65536, 100);
        Assert.Equal(20_000, tuner.RttMicros);
        tuner.OnData(Mss, Mss, tsEcr: 5, echoRtt: 60_000, new SeqNum(2448), 65536, 200); // same echo: ignored
        tuner.OnData(100, Mss, tsEcr: 6, echoRtt: 60_000, new SeqNum(2548), 65536, 300); // not full-sized: ignored
        Assert.Equal(20_000, tuner.RttMicros);
        tuner.OnData(Mss, Mss, tsEcr: 6, echoRtt: 28_000, new SeqNum(3996), 65536, 400);
        Assert.Equal(21_000, tuner.RttMicros); // 20 + (28 - 20) / 8
    }

    [Fact]
    public void Without_timestamps_the_rtt_is_the_time_one_window_takes_to_arrive_the_smallest_kept()
    {
        var tuner = new ReceiveAutoTuner(1 << 24, 10 * Mss);
        tuner.OnData(Mss, Mss, null, null, new SeqNum(1000), 10_000, 0); // timing starts: the window ends at 11000
        tuner.OnData(Mss, Mss, null, null, new SeqNum(10_999), 10_000, 30_000);
        Assert.Equal(0, tuner.RttMicros);
        tuner.OnData(Mss, Mss, null, null, new SeqNum(11_000), 10_000, 40_000); // and the next window starts: ends at 21000
        Assert.Equal(40_000, tuner.RttMicros);
        tuner.OnData(Mss, Mss, null, null, new SeqNum(12_000), 10_000, 45_000);
        tuner.OnData(Mss, Mss, null, null, new SeqNum(22_000), 10_000, 70_000); // 30 ms: the next ends at 32000
        Assert.Equal(30_000, tuner.RttMicros);
        tuner.OnData(Mss, Mss, null, null, new SeqNum(23_000), 10_000, 75_000);
        tuner.OnData(Mss, Mss, null, null, new SeqNum(33_000), 10_000, 200_000);
        Assert.Equal(30_000, tuner.RttMicros); // a slower window does not raise it
    }

    [Fact]
    public void Reads_per_round_trip_set_the_buffer_twice_over_with_more_while_the_rate_doubles()
    {
        var tuner = new ReceiveAutoTuner(4 << 20, 10 * Mss);
        Assert.Equal(0, tuner.OnRead(50_000, true, Mss, 0)); // no RTT yet
        tuner.OnData(Mss, Mss, 1, 20_000, new SeqNum(1), 65536, 0);
        Assert.Equal(0, tuner.OnRead(10_000, true, Mss, 1_000)); // the first measurement starts here
        Assert.Equal(0, tuner.OnRead(20_000, true, Mss, 11_000));

        // 20 ms later: 40,000 bytes read (per RTT); first measurement: 2 x 40,000 + 16 MSS, no bonus.
        Assert.Equal((2 * 40_000) + (16 * Mss), tuner.OnRead(10_000, true, Mss, 21_000));

        // The next round trip reads twice as much: three times 2 x 80,000 + 16 MSS.
        Assert.Equal(3 * ((2 * 80_000) + (16 * Mss)), tuner.OnRead(80_000, true, Mss, 41_000));

        // No more than before: nothing asked.
        Assert.Equal(0, tuner.OnRead(60_000, true, Mss, 61_000));

        // A reader that left data behind gets twice its pace, no bonus; 40 ms of reads count per 20 ms.
        Assert.Equal(0, tuner.OnRead(100_000, false, Mss, 71_000));
        Assert.Equal((2 * 100_000) + (16 * Mss), tuner.OnRead(100_000, false, Mss, 101_000));
        Assert.Equal(100_000, tuner.BytesPerRoundTrip);

        // The cap holds.
        Assert.Equal(4 << 20, tuner.OnRead(10 << 20, true, Mss, 121_000));
    }
}
