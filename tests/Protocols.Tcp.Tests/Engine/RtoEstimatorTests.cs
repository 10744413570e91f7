using Protocols.Tcp.Engine;

namespace Protocols.Tcp.Tests.Engine;

public class RtoEstimatorTests
{
    private const long Ms = 1_000;
    private const long S = 1_000_000;

    [Fact]
    public void Before_any_sample_the_rto_is_one_second()
    {
        var rto = new RtoEstimator();

        Assert.False(rto.HasSample);
        Assert.Equal(1 * S, rto.Rto); // RFC 6298 2.1
        Assert.Equal(0, rto.SmoothedRtt);
        Assert.Equal(0, rto.RttVariation);
        Assert.Equal(0, rto.BackoffCount);
    }

    [Fact]
    public void Samples_follow_the_rfc6298_formulas_step_by_step()
    {
        var rto = new RtoEstimator();

        // 2.2: SRTT = R = 100 ms, RTTVAR = R/2 = 50 ms, RTO = 100 + max(1, 4*50) = 300 ms.
        rto.AddSample(100 * Ms);
        Assert.True(rto.HasSample);
        Assert.Equal(100_000, rto.SmoothedRtt);
        Assert.Equal(50_000, rto.RttVariation);
        Assert.Equal(300_000, rto.Rto);

        // 2.3 with R' = 60 ms: RTTVAR = 3/4*50000 + 1/4*|100000-60000| = 37500 + 10000 = 47500;
        // SRTT = 7/8*100000 + 1/8*60000 = 87500 + 7500 = 95000; RTO = 95000 + 4*47500 = 285000.
        rto.AddSample(60 * Ms);
        Assert.Equal(47_500, rto.RttVariation);
        Assert.Equal(95_000, rto.SmoothedRtt);
        Assert.Equal(285_000, rto.Rto);

        // R' = 200 ms: RTTVAR = 3/4*47500 + 1/4*|95000-200000| = 35625 + 26250 = 61875;
        // SRTT = 7/8*95000 + 1/8*200000 = 83125 + 25000 = 108125; RTO = 108125 + 247500 = 355625.
        rto.AddSample(200 * Ms);
        Assert.Equal(61_875, rto.RttVariation);
        Assert.Equal(108_125, rto.SmoothedRtt);
        Assert.Equal(355_625, rto.Rto);

        Assert.Equal(200_000, rto.LatestRtt);
        Assert.Equal(60_000, rto.MinimumRtt);
        Assert.Equal("srtt=108125us rttvar=61875us rto=355625us backoff=0", rto.ToString());
    }

    [Fact]
    public void Integer_arithmetic_tracks_the_real_valued_formulas()
    {
        var random = new Random(6298);
        var rto = new RtoEstimator(minimumRtoMicros: 1);
        double srtt = 0;
        double rttvar = 0;
        for (int i = 0; i < 5_000; i++)
        {
            long r = random.Next(1, 2_000) * Ms + random.Next(0, 1000);
            if (i == 0)
            {
                srtt = r;
                rttvar = r / 2.0;
            }
            else
            {
                rttvar = (0.75 * rttvar) + (0.25 * Math.Abs(srtt - r));
                srtt = (0.875 * srtt) + (0.125 * r);
            }

            rto.AddSample(r);

            // Each step truncates by under 1 us; the smoothing bounds the accumulated error.
            Assert.InRange(rto.SmoothedRtt, srtt - 10, srtt + 10);
            Assert.InRange(rto.RttVariation, rttvar - 20, rttvar + 20);
            double expected = Math.Min(srtt + Math.Max(1000, 4 * rttvar), 120 * S);
            Assert.InRange(rto.Rto, expected - 100, expected + 100);
        }
    }

    [Theory]
    [InlineData(1_000, 11_000)] // RTO = SRTT + G once RTTVAR has decayed (K*RTTVAR < G).
    [InlineData(50_000, 60_000)]
    public void Clock_granularity_is_the_floor_of_the_variance_term(long granularity, long expectedRto)
    {
        var rto = new RtoEstimator(clockGranularityMicros: granularity, minimumRtoMicros: 1);
        for (int i = 0; i < 100; i++)
        {
            rto.AddSample(10 * Ms);
        }

        Assert.Equal(10_000, rto.SmoothedRtt);
        Assert.True(4 * rto.RttVariation < 1_000);
        Assert.Equal(expectedRto, rto.Rto);
    }

    [Fact]
    public void Small_rtts_are_raised_to_the_minimum()
    {
        // 10 ms gives 10 + 4*5 = 30 ms, below both bounds.
        var linuxLike = new RtoEstimator();
        linuxLike.AddSample(10 * Ms);
        Assert.Equal(200 * Ms, linuxLike.Rto);

        var rfc = new RtoEstimator(minimumRtoMicros: RtoEstimator.Rfc6298MinimumRtoMicros);
        rfc.AddSample(10 * Ms);
        Assert.Equal(1 * S, rfc.Rto); // RFC 6298 2.4

        // A zero (or negative, clamped to zero) sample leaves only G, still raised to the minimum.
        var zero = new RtoEstimator();
        zero.AddSample(-5);
        Assert.Equal(0, zero.SmoothedRtt);
        Assert.Equal(200 * Ms, zero.Rto);
    }

    [Fact]
    public void Large_rtts_are_capped_at_the_maximum()
    {
        // 50 s gives 50 + 4*25 = 150 s.
        var linuxLike = new RtoEstimator();
        linuxLike.AddSample(50 * S);
        Assert.Equal(120 * S, linuxLike.Rto);

        var rfcMinimumCap = new RtoEstimator(maximumRtoMicros: 60 * S);
        rfcMinimumCap.AddSample(50 * S);
        Assert.Equal(60 * S, rfcMinimumCap.Rto); // RFC 6298 2.5
    }

    [Fact]
    public void Backoff_doubles_up_to_the_maximum()
    {
        var rto = new RtoEstimator();
        long[] expected = [2 * S, 4 * S, 8 * S, 16 * S, 32 * S, 64 * S, 120 * S, 120 * S, 120 * S];
        for (int i = 0; i < expected.Length; i++)
        {
            rto.BackOff(); // RFC 6298 5.5
            Assert.Equal(expected[i], rto.Rto);
            Assert.Equal(i + 1, rto.BackoffCount);
        }
    }

    [Fact]
    public void Backoff_applies_to_a_measured_rto_and_a_new_sample_ends_it()
    {
        var rto = new RtoEstimator();
        rto.AddSample(100 * Ms); // RTO 300 ms
        rto.BackOff();
        rto.BackOff();
        Assert.Equal(1_200 * Ms, rto.Rto);
        Assert.Equal(2, rto.BackoffCount);

        // The next valid sample recomputes the RTO from SRTT/RTTVAR (RFC 6298 3, 5.5):
        // RTTVAR = 37500 + 0 = 37500, SRTT = 100000, RTO = 100000 + 150000 = 250000.
        rto.AddSample(100 * Ms);
        Assert.Equal(0, rto.BackoffCount);
        Assert.Equal(250_000, rto.Rto);
    }

    [Fact]
    public void Backoff_near_the_maximum_does_not_overflow()
    {
        var rto = new RtoEstimator(maximumRtoMicros: long.MaxValue);
        for (int i = 0; i < 100; i++)
        {
            rto.BackOff();
        }

        Assert.Equal(long.MaxValue, rto.Rto);
        Assert.Equal(100, rto.BackoffCount);
    }

    [Fact]
    public void Karns_rule_rejects_samples_of_retransmitted_segments_unless_from_timestamps()
    {
        Assert.True(RtoEstimator.IsSampleUsable(segmentWasRetransmitted: false, fromTimestamps: false));
        Assert.False(RtoEstimator.IsSampleUsable(segmentWasRetransmitted: true, fromTimestamps: false)); // RFC 6298 3
        Assert.True(RtoEstimator.IsSampleUsable(segmentWasRetransmitted: true, fromTimestamps: true)); // RFC 7323 4.1
        Assert.True(RtoEstimator.IsSampleUsable(segmentWasRetransmitted: false, fromTimestamps: true));
    }

    [Theory]
    [InlineData(1000u, 900u, 1000L, true, 100_000L)]
    [InlineData(1000u, 1000u, 1000L, true, 0L)]
    [InlineData(5u, 4294967291u, 1000L, true, 10_000L)] // the timestamp clock wrapped
    [InlineData(100u, 101u, 1000L, false, 0L)] // TSecr from the future
    [InlineData(77u, 70u, 4L, true, 28L)]
    public void Timestamp_samples_are_modular_differences(uint now, uint ecr, long microsPerTick, bool ok, long expected)
    {
        Assert.Equal(ok, RtoEstimator.TryGetTimestampSample(now, ecr, microsPerTick, out long rtt));
        Assert.Equal(expected, rtt);
    }

    [Theory]
    [InlineData(0L, 1)]
    [InlineData(1L, 1)]
    [InlineData(2920L, 1)]
    [InlineData(2921L, 2)]
    [InlineData(14600L, 5)]
    [InlineData(14601L, 6)]
    public void Expected_samples_per_window_assume_an_ack_per_two_segments(long flightSize, int expected)
    {
        Assert.Equal(expected, RtoEstimator.ExpectedSamplesPerWindow(flightSize, 1460));
    }

    [Fact]
    public void Per_window_gains_divide_alpha_and_beta()
    {
        var rto = new RtoEstimator();
        rto.AddSample(100 * Ms);

        // RFC 7323 Appendix G with 5 samples per window: alpha' = 1/40, beta' = 1/20.
        // RTTVAR = 50000 + (40000 - 50000)/20 = 49500; SRTT = 100000 + (60000 - 100000)/40 = 99000.
        rto.AddSample(60 * Ms, expectedSamplesPerWindow: 5);
        Assert.Equal(49_500, rto.RttVariation);
        Assert.Equal(99_000, rto.SmoothedRtt);
        Assert.Equal(99_000 + (4 * 49_500), rto.Rto);
    }

    [Fact]
    public void A_lost_syn_without_a_sample_starts_data_at_three_seconds()
    {
        var rto = new RtoEstimator();
        rto.BackOff();
        rto.OnHandshakeCompletedAfterSynLoss(); // RFC 6298 5.7
        Assert.Equal(3 * S, rto.Rto);
        Assert.Equal(0, rto.BackoffCount);

        var measured = new RtoEstimator();
        measured.AddSample(100 * Ms);
        measured.OnHandshakeCompletedAfterSynLoss();
        Assert.Equal(300 * Ms, measured.Rto);
    }

    [Fact]
    public void Settings_outside_the_rfc_bounds_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RtoEstimator(clockGranularityMicros: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RtoEstimator(minimumRtoMicros: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RtoEstimator(maximumRtoMicros: (60 * S) - 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RtoEstimator(initialRtoMicros: 100 * Ms));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RtoEstimator(initialRtoMicros: 121 * S));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RtoEstimator(minimumRtoMicros: 61 * S, initialRtoMicros: 61 * S, maximumRtoMicros: 60 * S));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RtoEstimator().AddSample(1, expectedSamplesPerWindow: 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RtoEstimator.ExpectedSamplesPerWindow(1, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => RtoEstimator.TryGetTimestampSample(1, 1, 0, out _));

        var custom = new RtoEstimator(2_000, 3 * S, 1 * S, 60 * S);
        Assert.Equal(2_000, custom.ClockGranularityMicros);
        Assert.Equal(3 * S, custom.InitialRtoMicros);
        Assert.Equal(1 * S, custom.MinimumRtoMicros);
        Assert.Equal(60 * S, custom.MaximumRtoMicros);
        Assert.Equal(3 * S, custom.Rto);
    }
}
