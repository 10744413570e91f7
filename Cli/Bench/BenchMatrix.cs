using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Protocols.Cli.CommandLine;

namespace Protocols.Cli.Bench;

/// <summary>
/// <c>bench --matrix</c>: the loss matrix of the README. One simulated link, 100 Mbit/s bottleneck
/// each way, 20 ms RTT, a drop-tail queue of one bandwidth-delay product (167 packets of 1500
/// bytes), MTU 1500; 32 MiB from A to B per row, SHA-256 checked, fixed seeds. Rows: random loss
/// of 0, 0.1, 1, 3, 5 and 10 % on both directions, and 5 % reordering (2 ms) with 0.5 ms jitter.
/// Each row is judged against the targets it has (see <see cref="Judge"/>).
/// </summary>
internal static class BenchMatrix
{
    /// <summary>The bottleneck rate in Mbit/s.</summary>
    public const double RateMbit = 100;

    /// <summary>Bytes per row.</summary>
    public const long BytesPerRow = 32L << 20;

    /// <summary>The round-trip time.</summary>
    public static readonly TimeSpan Rtt = TimeSpan.FromMilliseconds(20);

    /// <summary>The rows: a label and the link's impairments.</summary>
    public static IReadOnlyList<(string Label, double Loss, double Reordering)> Rows { get; } =
    [
        ("loss 0%", 0, 0),
        ("loss 0.1%", 0.001, 0),
        ("loss 1%", 0.01, 0),
        ("loss 3%", 0.03, 0),
        ("loss 5%", 0.05, 0),
        ("loss 10%", 0.10, 0),
        ("reorder 5% + jitter", 0, 0.05),
    ];

    /// <summary>The settings of one row.</summary>
    public static BenchSettings Settings(double loss, double reordering, string? cc, int seed, long bytes = BytesPerRow) =>
        new(TimeSpan.FromMinutes(10), 1500, loss, Rtt, seed)
        {
            RateMbit = RateMbit,
            CongestionControl = cc,
            Bytes = bytes,
            Reordering = reordering,
            ReorderDelay = TimeSpan.FromMilliseconds(2),
            Jitter = reordering > 0 ? TimeSpan.FromMilliseconds(0.5) : TimeSpan.Zero,
        };

    /// <summary>
    /// The Mathis et al. bound on Reno's goodput in bit/s: MSS / RTT × 1.22 / sqrt(p), for an MSS of
    /// MTU - 52 (IPv4, TCP and the timestamp option).
    /// </summary>
    public static double MathisBitsPerSecond(int mtu, TimeSpan rtt, double loss) =>
        (mtu - 52) * 8 / rtt.TotalSeconds * 1.22 / Math.Sqrt(loss);

    /// <summary>Runs every row, prints the table (or JSON lines), returns the exit code (1 when a transfer did not verify).</summary>
    public static int Run(VerbConsole console, bool json, string? cc, int seed)
    {
        bool allVerified = true;
        if (!json)
        {
            console.Out.WriteLine("| link (both directions) | goodput | second half | retransmissions | data segments lost (queue) | ACKs lost | RTOs | targets |");
            console.Out.WriteLine("|---|---:|---:|---:|---:|---:|---:|---|");
        }

        foreach ((string label, double loss, double reordering) in Rows)
        {
            BenchResult r = TransferBench.Run(Settings(loss, reordering, cc, seed));
            allVerified &= r.Sha256Verified == true;
            string targets = Judge(label, r);
            if (json)
            {
                JsonNode node = JsonNode.Parse(BenchVerb.ToJson(r))!;
                node["row"] = label;
                node["targets"] = targets;
                console.Out.WriteLine(node.ToJsonString());
            }
            else
            {
                console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"| {label} | {r.SimulatedGbps * 1000:0.0} Mbit/s | {r.SecondHalfGbps * 1000:0.0} Mbit/s | {r.Retransmissions} | {r.DataFramesLost} ({r.QueueDrops}) | {r.AckFramesLost} | {r.Timeouts} | {targets}{(r.Sha256Verified == true ? string.Empty : " SHA-256 MISMATCH")} |"));
            }
        }

        if (!json)
        {
            console.Out.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"\n{RateMbit} Mbit/s bottleneck each way, {Rtt.TotalMilliseconds} ms RTT, queue {Settings(0, 0, cc, seed).EffectiveQueuePackets} packets (one BDP), MTU 1500, {BytesPerRow >> 20} MiB per row (SHA-256 verified), seed {seed}, {cc ?? "default"} congestion control; goodput in simulated time."));
        }

        return allVerified ? CliApp.Success : CliApp.Failure;
    }

    /// <summary>
    /// The issue's targets that apply to a row, each with its measure and ✓/✗: retransmissions at most
    /// 1.05 × data segments lost and at most one RTO per 100 lost (0-5 % loss); at 0 % no more than 10
    /// segments lost (slow start into the queue); at 0.1 % at least 80 % of the bottleneck past slow
    /// start (the second half); at 1 % at least 1.5 × the Mathis bound; with reordering, retransmissions
    /// (all spurious: nothing is lost) at most 1 % of the segments sent.
    /// </summary>
    public static string Judge(string label, BenchResult r)
    {
        var parts = new List<string>();
        double loss = r.Settings.Loss;
        static string Mark(bool ok) => ok ? "✓" : "✗";
        if (r.Settings.Reordering > 0)
        {
            double share = r.SegmentsSent == 0 ? 0 : (double)r.Retransmissions / r.SegmentsSent;
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"spurious {share:P2} of sent (≤ 1%) {Mark(share <= 0.01)}"));
            return string.Join("; ", parts);
        }

        if (loss == 0)
        {
            parts.Add($"lost in slow start {r.DataFramesLost} (≤ 10) {Mark(r.DataFramesLost <= 10)}");
        }

        if (loss <= 0.05)
        {
            double lost = Math.Max(r.DataFramesLost, 1);
            double ratio = r.Retransmissions / lost;
            double rtoPer100 = r.Timeouts * 100.0 / lost;
            if (r.DataFramesLost > 0)
            {
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"retx/lost {ratio:0.00} (≤ 1.05) {Mark(ratio <= 1.05)}"));
                parts.Add(string.Create(CultureInfo.InvariantCulture, $"RTOs/100 lost {rtoPer100:0.0} (≤ 1) {Mark(rtoPer100 <= 1)}"));
            }
            else
            {
                parts.Add($"retransmissions {r.Retransmissions}, RTOs {r.Timeouts} with nothing lost {Mark(r.Retransmissions == 0 && r.Timeouts == 0)}");
            }
        }

        if (Math.Abs(loss - 0.001) < 1e-9 && r.SecondHalfGbps is double steady)
        {
            double share = steady * 1000 / RateMbit;
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"past slow start {share:P0} of the bottleneck (≥ 80%) {Mark(share >= 0.8)}"));
        }

        if (Math.Abs(loss - 0.01) < 1e-9)
        {
            double mathis = MathisBitsPerSecond(r.Settings.Mtu, r.Settings.Rtt, loss);
            double times = r.SimulatedGbps * 1e9 / mathis;
            parts.Add(string.Create(CultureInfo.InvariantCulture, $"{times:0.00} × Mathis {mathis / 1e6:0.0} Mbit/s (≥ 1.5) {Mark(times >= 1.5)}"));
        }

        return string.Join("; ", parts);
    }
}
