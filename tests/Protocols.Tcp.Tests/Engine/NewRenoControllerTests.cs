using System.Globalization;
using Protocols.Tcp.Engine.CongestionControl;

namespace Protocols.Tcp.Tests.Engine;

public class NewRenoControllerTests
{
    /// <summary>
    /// Plays a trace against a controller. Each line is an event, <c>=&gt;</c>, then the expected
    /// cwnd, ssthresh (<c>inf</c> for the initial value) and optionally <c>FR</c> when in fast recovery:
    /// <code>
    /// established SMSS          OnConnectionEstablished
    /// ack N flight F            OnAck (N bytes newly acknowledged, F still outstanding)
    /// enter flight F            OnEnterFastRecovery (third duplicate ACK)
    /// dupack                    OnDuplicateAck
    /// partial N flight F        OnPartialAck
    /// full N flight F           OnExitFastRecovery
    /// rto flight F              OnRetransmissionTimeout, first timer resend of the segment
    /// rto-again flight F        OnRetransmissionTimeout, the segment was already resent by the timer
    /// idle                      OnRestartAfterIdle
    /// </code>
    /// </summary>
    private static void Play(ICongestionController cc, string trace)
    {
        long now = 0;
        int lineNumber = 0;
        foreach (string raw in trace.Split('\n'))
        {
            lineNumber++;
            string line = raw.Trim();
            if (line.Length == 0 || line.StartsWith('#'))
            {
                continue;
            }

            now += 10_000;
            string[] halves = line.Split("=>");
            string[] e = halves[0].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            string[] x = halves[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
            long Arg(int i) => long.Parse(e[i], CultureInfo.InvariantCulture);

            switch (e[0])
            {
                case "established": cc.OnConnectionEstablished((int)Arg(1), now); break;
                case "ack": cc.OnAck(new CongestionAck(Arg(1), Arg(3), null, now)); break;
                case "enter": cc.OnEnterFastRecovery(Arg(2), now); break;
                case "dupack": cc.OnDuplicateAck(now); break;
                case "partial": cc.OnPartialAck(new CongestionAck(Arg(1), Arg(3), null, now)); break;
                case "full": cc.OnExitFastRecovery(new CongestionAck(Arg(1), Arg(3), null, now)); break;
                case "rto": cc.OnRetransmissionTimeout(Arg(2), false, now); break;
                case "rto-again": cc.OnRetransmissionTimeout(Arg(2), true, now); break;
                case "idle": cc.OnRestartAfterIdle(now); break;
                default: throw new InvalidOperationException($"line {lineNumber}: unknown event '{e[0]}'");
            }

            long cwnd = long.Parse(x[0], CultureInfo.InvariantCulture);
            long ssthresh = x[1] == "inf" ? NewRenoController.InitialSlowStartThreshold : long.Parse(x[1], CultureInfo.InvariantCulture);
            bool recovery = x.Length > 2 && x[2] == "FR";
            string actual = $"cwnd={cc.CongestionWindow} ssthresh={cc.SlowStartThreshold} fr={cc.InFastRecovery}";
            string expected = $"cwnd={cwnd} ssthresh={ssthresh} fr={recovery}";
            Assert.True(expected == actual, $"line {lineNumber} '{line}': expected {expected}, got {actual}");
        }
    }

    [Theory]
    [InlineData(InitialWindowRule.Rfc5681, 536, 2144)] // 4 segments
    [InlineData(InitialWindowRule.Rfc5681, 1095, 4380)]
    [InlineData(InitialWindowRule.Rfc5681, 1096, 3288)] // 3 segments
    [InlineData(InitialWindowRule.Rfc5681, 1460, 4380)]
    [InlineData(InitialWindowRule.Rfc5681, 2190, 6570)]
    [InlineData(InitialWindowRule.Rfc5681, 2191, 4382)] // 2 segments
    [InlineData(InitialWindowRule.Rfc5681, 8960, 17920)]
    [InlineData(InitialWindowRule.Rfc6928, 536, 5360)] // 10 * SMSS below 1460
    [InlineData(InitialWindowRule.Rfc6928, 1460, 14600)]
    [InlineData(InitialWindowRule.Rfc6928, 1500, 14600)] // 14600 caps above 1460
    [InlineData(InitialWindowRule.Rfc6928, 8960, 17920)] // but never below 2 * SMSS
    public void Initial_window_follows_the_rfc_rules(InitialWindowRule rule, int smss, long expected)
    {
        Assert.Equal(expected, NewRenoController.ComputeInitialWindow(rule, smss));

        var cc = new NewRenoController(new NewRenoOptions { InitialWindow = rule });
        cc.OnConnectionEstablished(smss, 0);
        Assert.Equal(expected, cc.CongestionWindow);
        Assert.Equal(expected, cc.InitialWindow);
        Assert.Equal(smss, cc.Smss);
    }

    [Fact]
    public void A_new_controller_uses_iw10_with_infinite_ssthresh()
    {
        var cc = new NewRenoController();

        Assert.Equal("newreno", cc.Name);
        Assert.Equal(5360, cc.CongestionWindow); // IW10 for the default SMSS 536
        Assert.Equal(int.MaxValue, cc.SlowStartThreshold);
        Assert.True(cc.InSlowStart);
        Assert.False(cc.InFastRecovery);
        Assert.Equal("newreno cwnd=5360 ssthresh=2147483647 smss=536", cc.ToString());
    }

    [Fact]
    public void Slow_start_doubles_cwnd_per_round_trip_when_every_segment_is_acked()
    {
        var cc = new NewRenoController();
        cc.OnConnectionEstablished(1000, 0);
        long flight = 0;
        for (int rtt = 1; rtt <= 5; rtt++)
        {
            long window = cc.CongestionWindow;
            flight = window;
            for (long acked = 0; acked < window; acked += 1000)
            {
                flight -= 1000;
                cc.OnAck(new CongestionAck(1000, flight, 50_000, rtt * 50_000L));
            }

            Assert.Equal(10_000L << rtt, cc.CongestionWindow);
        }
    }

    [Fact]
    public void Slow_start_with_delayed_acks_doubles_with_l2_and_grows_half_with_l1()
    {
        // RFC 3465 2.2: one ACK for every two segments.
        var l2 = new NewRenoController();
        var l1 = new NewRenoController(new NewRenoOptions { SlowStartByteCountingLimit = 1 });
        l2.OnConnectionEstablished(1000, 0);
        l1.OnConnectionEstablished(1000, 0);
        for (int i = 0; i < 5; i++)
        {
            l2.OnAck(new CongestionAck(2000, 0, null, 0));
            l1.OnAck(new CongestionAck(2000, 0, null, 0));
        }

        Assert.Equal(20_000, l2.CongestionWindow);
        Assert.Equal(15_000, l1.CongestionWindow); // RFC 5681 equation (2): min(N, SMSS)
    }

    [Fact]
    public void Slow_start_limits_a_stretch_ack_and_stops_at_ssthresh()
    {
        var cc = new NewRenoController();
        Play(cc, """
            established 1000          => 10000 inf
            # a stretch ACK of 10 segments grows cwnd by L * SMSS only (RFC 3465 2.2)
            ack 10000 flight 10000    => 12000 inf
            ack 0 flight 10000        => 12000 inf
            # the timer: ssthresh = 20000 / 2, cwnd = LW = 1 SMSS (RFC 5681 3.1)
            rto flight 20000          => 1000 10000
            ack 1000 flight 0         => 2000 10000
            ack 2000 flight 0         => 4000 10000
            ack 2000 flight 2000      => 6000 10000
            ack 2000 flight 4000      => 8000 10000
            # growth stops exactly at ssthresh
            ack 3000 flight 5000      => 10000 10000
            # cwnd == ssthresh: congestion avoidance, 2000 of 10000 bytes counted
            ack 2000 flight 8000      => 10000 10000
            """);
        Assert.False(cc.InSlowStart);
    }

    [Fact]
    public void Congestion_avoidance_grows_one_smss_per_window_of_acked_bytes()
    {
        var cc = new NewRenoController();
        Play(cc, """
            established 1000          => 10000 inf
            # reach cwnd = ssthresh = 10000 through a recovery episode
            enter flight 20000        => 13000 10000 FR
            full 1000 flight 10000    => 10000 10000
            ack 1000 flight 9000      => 10000 10000
            ack 1000 flight 9000      => 10000 10000
            ack 1000 flight 9000      => 10000 10000
            ack 1000 flight 9000      => 10000 10000
            ack 1000 flight 9000      => 10000 10000
            ack 1000 flight 9000      => 10000 10000
            ack 1000 flight 9000      => 10000 10000
            ack 1000 flight 9000      => 10000 10000
            ack 1000 flight 9000      => 10000 10000
            # the tenth: a full cwnd of bytes acknowledged, one round trip
            ack 1000 flight 9000      => 11000 10000
            # delayed ACKs: 11000 more bytes for the next SMSS
            ack 2000 flight 9000      => 11000 10000
            ack 2000 flight 9000      => 11000 10000
            ack 2000 flight 9000      => 11000 10000
            ack 2000 flight 9000      => 11000 10000
            ack 2000 flight 9000      => 11000 10000
            ack 2000 flight 9000      => 12000 10000
            """);

        // Linear: 20 more round trips of 12000, 13000, ... bytes grow cwnd by 20 SMSS.
        for (int rtt = 0; rtt < 20; rtt++)
        {
            long window = cc.CongestionWindow;
            for (long acked = 0; acked < window; acked += 1000)
            {
                cc.OnAck(new CongestionAck(1000, window, null, 0));
            }
        }

        // The 1000 bytes left over from the 12000 step carry into the next window, never more than one SMSS per window.
        Assert.Equal(32_000, cc.CongestionWindow);
    }

    [Fact]
    public void Congestion_avoidance_by_equation_3_adds_smss_squared_over_cwnd_per_ack()
    {
        var options = new NewRenoOptions { CongestionAvoidanceByteCounting = false, ExitRecoveryLimitedByFlightSize = false };
        Play(new NewRenoController(options), """
            established 1000          => 10000 inf
            enter flight 20000        => 13000 10000 FR
            # option (2): cwnd = ssthresh
            full 1000 flight 1000     => 10000 10000
            # 1000 * 1000 / 10000 = 100; / 10100 = 99; / 10199 = 98
            ack 1000 flight 9000      => 10100 10000
            ack 1000 flight 9000      => 10199 10000
            ack 1000 flight 9000      => 10297 10000
            """);

        // When SMSS * SMSS / cwnd rounds to 0, cwnd still grows by 1 byte (RFC 5681 3.1).
        Play(new NewRenoController(options), """
            established 100           => 1000 inf
            enter flight 30000        => 15300 15000 FR
            full 100 flight 100       => 15000 15000
            ack 100 flight 100        => 15001 15000
            """);
    }

    [Fact]
    public void Three_duplicate_acks_halve_flight_size_and_partial_acks_deflate()
    {
        var cc = new NewRenoController();
        Play(cc, """
            established 1000          => 10000 inf
            ack 2000 flight 18000     => 12000 inf
            ack 2000 flight 18000     => 14000 inf
            ack 2000 flight 18000     => 16000 inf
            ack 2000 flight 18000     => 18000 inf
            ack 2000 flight 18000     => 20000 inf
            # third duplicate ACK: ssthresh = 20000 / 2, cwnd = ssthresh + 3 SMSS (RFC 5681 3.2 steps 2-3)
            enter flight 20000        => 13000 10000 FR
            # each further duplicate ACK inflates by one SMSS (step 4)
            dupack                    => 14000 10000 FR
            dupack                    => 15000 10000 FR
            dupack                    => 16000 10000 FR
            # ordinary ACK processing is off during recovery
            ack 1000 flight 19000     => 16000 10000 FR
            # partial ACK of 3000: deflate by 3000, add back one SMSS (RFC 6582 3.2 step 5)
            partial 3000 flight 16000 => 14000 10000 FR
            # partial ACK below one SMSS: deflate only
            partial 500 flight 15500  => 13500 10000 FR
            dupack                    => 14500 10000 FR
            # full ACK, option (1): min(ssthresh, max(FlightSize, SMSS) + SMSS) = min(10000, 5000)
            full 11500 flight 4000    => 5000 10000
            # back in slow start below ssthresh
            ack 2000 flight 4000      => 7000 10000
            """);
    }

    [Theory]
    [InlineData(true, 0, 2000)] // max(0, SMSS) + SMSS
    [InlineData(true, 4000, 5000)]
    [InlineData(true, 9500, 10000)] // capped by ssthresh
    [InlineData(true, 30000, 10000)]
    [InlineData(false, 0, 10000)] // option (2): ssthresh
    [InlineData(false, 4000, 10000)]
    public void A_full_ack_ends_recovery_with_either_rfc6582_option(bool limitedByFlightSize, long flightSize, long expectedCwnd)
    {
        var cc = new NewRenoController(new NewRenoOptions { ExitRecoveryLimitedByFlightSize = limitedByFlightSize });
        cc.OnConnectionEstablished(1000, 0);
        cc.OnEnterFastRecovery(20_000, 0);
        Assert.True(cc.InFastRecovery);

        cc.OnExitFastRecovery(new CongestionAck(20_000 - flightSize, flightSize, null, 1));

        Assert.False(cc.InFastRecovery);
        Assert.Equal(expectedCwnd, cc.CongestionWindow);
        Assert.Equal(10_000, cc.SlowStartThreshold);
    }

    [Fact]
    public void Loss_thresholds_never_fall_below_two_segments()
    {
        Play(new NewRenoController(), """
            established 1000          => 10000 inf
            # max(3000 / 2, 2 * SMSS) = 2000; cwnd = 2000 + 3 SMSS
            enter flight 3000         => 5000 2000 FR
            rto flight 1000           => 1000 2000
            """);
        Assert.Equal(2000, CongestionRules.HalvedSlowStartThreshold(1000, 1000));
        Assert.Equal(5000, CongestionRules.HalvedSlowStartThreshold(10_001, 1000));
    }

    [Fact]
    public void Partial_ack_deflation_never_drops_below_one_segment()
    {
        Play(new NewRenoController(), """
            established 1000          => 10000 inf
            enter flight 3000         => 5000 2000 FR
            partial 9000 flight 0     => 1000 2000 FR
            """);
    }

    [Fact]
    public void A_timeout_collapses_to_one_segment_and_holds_ssthresh_on_repeats()
    {
        Play(new NewRenoController(), """
            established 1000          => 10000 inf
            ack 10000 flight 20000    => 12000 inf
            # RFC 5681 3.1: ssthresh = max(FlightSize / 2, 2 SMSS), cwnd = LW = 1 SMSS
            rto flight 20000          => 1000 10000
            # the same segment times out again: ssthresh is held, not recomputed from 8000
            rto-again flight 8000     => 1000 10000
            ack 1000 flight 7000      => 2000 10000
            # a later, different segment's first timeout halves again
            rto flight 8000           => 1000 4000
            """);
    }

    [Fact]
    public void A_timeout_during_recovery_ends_it()
    {
        Play(new NewRenoController(), """
            established 1000          => 10000 inf
            enter flight 20000        => 13000 10000 FR
            dupack                    => 14000 10000 FR
            rto flight 20000          => 1000 10000
            # recovery events after the timeout are ignored
            dupack                    => 1000 10000
            partial 1000 flight 0     => 1000 10000
            full 1000 flight 0        => 1000 10000
            ack 1000 flight 0         => 2000 10000
            """);
    }

    [Fact]
    public void Recovery_events_outside_recovery_are_ignored()
    {
        Play(new NewRenoController(), """
            established 1000          => 10000 inf
            dupack                    => 10000 inf
            dupack                    => 10000 inf
            partial 2000 flight 0     => 10000 inf
            full 2000 flight 0        => 10000 inf
            """);
    }

    [Fact]
    public void Restart_after_idle_reduces_cwnd_to_the_initial_window()
    {
        Play(new NewRenoController(), """
            established 1000          => 10000 inf
            ack 2000 flight 0         => 12000 inf
            ack 2000 flight 0         => 14000 inf
            # RFC 5681 4.1: cwnd = min(IW, cwnd); ssthresh is kept
            idle                      => 10000 inf
            rto flight 30000          => 1000 15000
            # cwnd below IW stays
            idle                      => 1000 15000
            """);

        Assert.False(CongestionRules.IsRestartAfterIdle(lastSendMicros: 1_000, nowMicros: 201_000, rtoMicros: 200_000));
        Assert.True(CongestionRules.IsRestartAfterIdle(lastSendMicros: 1_000, nowMicros: 201_001, rtoMicros: 200_000));
    }

    [Fact]
    public void Establishing_again_restarts_with_the_new_smss()
    {
        var cc = new NewRenoController();
        Play(cc, """
            established 1460          => 14600 inf
            enter flight 29200        => 18980 14600 FR
            established 1000          => 10000 inf
            """);
        Assert.Equal(1000, cc.Smss);
    }

    [Fact]
    public void Invariants_hold_under_random_event_sequences()
    {
        var random = new Random(5681);
        for (int run = 0; run < 200; run++)
        {
            int smss = random.Next(1, 9001);
            var cc = new NewRenoController(new NewRenoOptions
            {
                InitialWindow = random.Next(2) == 0 ? InitialWindowRule.Rfc5681 : InitialWindowRule.Rfc6928,
                SlowStartByteCountingLimit = random.Next(1, 4),
                CongestionAvoidanceByteCounting = random.Next(2) == 0,
                ExitRecoveryLimitedByFlightSize = random.Next(2) == 0,
            });
            cc.OnConnectionEstablished(smss, 0);
            for (int step = 0; step < 500; step++)
            {
                long before = cc.CongestionWindow;
                long ssthreshBefore = cc.SlowStartThreshold;
                bool wasInRecovery = cc.InFastRecovery;
                long flight = random.NextInt64(0, (4 * before) + 1);
                long acked = random.NextInt64(0, (2L * smss) + 1);
                switch (random.Next(8))
                {
                    case 0:
                    case 1:
                    case 2:
                        cc.OnAck(new CongestionAck(acked, flight, null, step));
                        Assert.True(cc.CongestionWindow >= before);
                        // Slow start adds at most min(N, L * SMSS) with L <= 3; avoidance at most one SMSS.
                        Assert.True(
                            wasInRecovery || acked == 0
                                ? cc.CongestionWindow == before
                                : cc.CongestionWindow - before <= Math.Max(acked * 3, smss),
                            $"ack {acked} grew cwnd from {before} to {cc.CongestionWindow}");
                        break;
                    case 3:
                        if (!wasInRecovery)
                        {
                            cc.OnEnterFastRecovery(flight, step);
                            Assert.Equal(Math.Max(flight / 2, 2L * smss), cc.SlowStartThreshold);
                            Assert.Equal(cc.SlowStartThreshold + (3L * smss), cc.CongestionWindow);
                        }

                        break;
                    case 4:
                        cc.OnDuplicateAck(step);
                        Assert.Equal(wasInRecovery ? before + smss : before, cc.CongestionWindow);
                        break;
                    case 5:
                        cc.OnPartialAck(new CongestionAck(acked, flight, null, step));
                        Assert.True(cc.InFastRecovery == wasInRecovery);
                        break;
                    case 6:
                        cc.OnExitFastRecovery(new CongestionAck(acked, flight, null, step));
                        Assert.False(cc.InFastRecovery);
                        Assert.True(!wasInRecovery || cc.CongestionWindow <= cc.SlowStartThreshold);
                        break;
                    default:
                        bool again = random.Next(2) == 0;
                        cc.OnRetransmissionTimeout(flight, again, step);
                        Assert.Equal(smss, cc.CongestionWindow);
                        Assert.Equal(again ? ssthreshBefore : Math.Max(flight / 2, 2L * smss), cc.SlowStartThreshold);
                        break;
                }

                Assert.True(cc.CongestionWindow >= smss, cc.ToString());
                Assert.True(cc.SlowStartThreshold >= 2L * smss || cc.SlowStartThreshold == NewRenoController.InitialSlowStartThreshold, cc.ToString());
            }
        }
    }

    [Fact]
    public void Options_are_validated()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new NewRenoController(new NewRenoOptions { SlowStartByteCountingLimit = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new NewRenoController().OnConnectionEstablished(0, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => NewRenoController.ComputeInitialWindow((InitialWindowRule)7, 1000));
    }
}
