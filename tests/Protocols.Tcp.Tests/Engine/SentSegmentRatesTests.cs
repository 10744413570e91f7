using System.Runtime.CompilerServices;
using Protocols.Tcp.Engine;
using Protocols.Tcp.Engine.Recovery;
using SentSegment = Protocols.Tcp.Engine.Recovery.SentSegment;

namespace Protocols.Tcp.Tests.Engine;

/// <summary>
/// The delivery stamps of <see cref="SentSegments"/>: kept in a ring beside the segments only for a
/// controller that takes rate samples, following each segment through growth, retransmission,
/// splitting and delivery; a log without rates has entries without stamp fields.
/// </summary>
public sealed class SentSegmentRatesTests
{
    private const int Mss = 1000;

    [Fact]
    public void A_segment_entry_holds_no_delivery_stamp()
    {
        // Start, End (4 + 4), SentAt, Order (8 + 8), State (1, padded to 4), two time links (4 + 4).
        Assert.Equal(40, Unsafe.SizeOf<SentSegment>());
    }

    [Fact]
    public void A_log_with_rates_delivers_each_segment_with_the_stamp_of_its_last_transmission()
    {
        var log = new SentSegments(1 << 20, withRates: true);
        const int count = 40; // beyond the first ring (16 entries): it grows twice
        for (int i = 0; i < count; i++)
        {
            log.Append(Seq(i), Seq(i + 1), new Micros(i), Stamp(i));
        }

        log.OnRetransmitted(3, new Micros(100), Stamp(1000));
        Assert.True(log.Split(5, Seq(5) + (Mss / 2)));
        Assert.Equal(count + 1, log.Count);

        var seen = new Recorder(new List<(SeqNum, DeliveryStamp)>());
        log.RemoveAcknowledged(Seq(count), ref seen);
        Assert.Equal(count + 1, seen.Delivered.Count);
        Assert.Equal(0, log.Count);
        foreach ((SeqNum start, DeliveryStamp stamp) in seen.Delivered)
        {
            int i = (start - Seq(0)) / Mss;
            DeliveryStamp expected = i == 3 ? Stamp(1000) : Stamp(i); // both halves of 5 keep its stamp
            Assert.Equal(expected, stamp);
        }

        log.Release();
    }

    [Fact]
    public void A_log_without_rates_reports_empty_stamps()
    {
        var log = new SentSegments(1 << 20);
        for (int i = 0; i < 20; i++)
        {
            log.Append(Seq(i), Seq(i + 1), new Micros(i), Stamp(i));
        }

        Assert.Equal(default, log.RateAt(7));
        var seen = new Recorder(new List<(SeqNum, DeliveryStamp)>());
        log.RemoveAcknowledged(Seq(20), ref seen);
        Assert.Equal(20, seen.Delivered.Count);
        Assert.All(seen.Delivered, d => Assert.Equal(default, d.Stamp));
        log.Release();
    }

    private static SeqNum Seq(int segment) => new((uint)(5000 + (segment * Mss)));

    private static DeliveryStamp Stamp(int i) => new()
    {
        Delivered = (i + 1) * 10L,
        DeliveredTime = new Micros(i + 2),
        FirstSentTime = new Micros(i + 3),
        AppLimited = i % 2 == 0,
    };

    private readonly record struct Recorder(List<(SeqNum Start, DeliveryStamp Stamp)> Delivered) : IDeliveryVisitor
    {
        public void OnDelivered(in SentSegment segment, in DeliveryStamp rate) => Delivered.Add((segment.Start, rate));
    }
}
