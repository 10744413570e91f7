using System.Text.Json;
using Protocols.Cli.CommandLine;

namespace Protocols.Cli.Tests.Verbs;

public sealed class ServeGetBenchArgumentTests
{
    [Theory]
    [InlineData("--http", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--http", "0")]
    [InlineData("--http", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--http", "70000")]
    [InlineData("--http", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--http", "x")]
    [InlineData("--echo", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--echo", "99999")]
    [InlineData("--echo", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--http", "80", "--echo", "80")]
    [InlineData("--https", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--https", "70000")]
    [InlineData("--https", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--http", "80", "--https", "80")]
    [InlineData("--key", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--https", "443", "--cert", "c.pem")]
    [InlineData("--cert", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--https", "443", "--key", "k.pem")]
    [InlineData("--cert", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--cert", "c.pem", "--key", "k.pem")]
    [InlineData("--cert", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--https", "443", "--cert", "/nonexistent.pem", "--key", "/nonexistent.key")]
    [InlineData("--address", "serve", "--tun", "t0", "--http", "80")]
    [InlineData("--tun or --raw", "get", "http://10.0.0.2/", "--address", "10.0.0.1/24")]
    [InlineData("URL", "get", "--tun", "t0", "--address", "10.0.0.1/24")]
    [InlineData("URL", "get", "ftp://10.0.0.2/", "--tun", "t0", "--address", "10.0.0.1/24")]
    [InlineData("URL", "get", "not a url", "--tun", "t0", "--address", "10.0.0.1/24")]
    [InlineData("URL", "get", "http://example.test/", "--tun", "t0", "--address", "10.0.0.1/24")]
    [InlineData("--resolve", "get", "http://example.test/", "--resolve", "example.test", "--tun", "t0", "--address", "10.0.0.1/24")]
    [InlineData("--resolve", "get", "http://example.test/", "--resolve", "example.test:1.2.3", "--tun", "t0", "--address", "10.0.0.1/24")]
    [InlineData("--timeout", "get", "http://10.0.0.2/", "--timeout", "0", "--tun", "t0", "--address", "10.0.0.1/24")]
    [InlineData("--timeout", "get", "http://10.0.0.2/", "--timeout", "100000", "--tun", "t0", "--address", "10.0.0.1/24")]
    [InlineData("--insecure", "get", "http://10.0.0.2/", "--insecure", "--tun", "t0", "--address", "10.0.0.1/24")]
    [InlineData("--cacert", "get", "https://10.0.0.2/", "--cacert", "/nonexistent.pem", "--tun", "t0", "--address", "10.0.0.1/24")]
    [InlineData("-o", "get", "http://10.0.0.2/", "-o")]
    [InlineData("http://10.0.0.3/", "get", "http://10.0.0.2/", "http://10.0.0.3/", "--tun", "t0", "--address", "10.0.0.1/24")]
    [InlineData("--seconds", "bench", "--seconds", "0")]
    [InlineData("--seconds", "bench", "--seconds", "-1")]
    [InlineData("--seconds", "bench", "--seconds", "5000")]
    [InlineData("--mtu", "bench", "--mtu", "100")]
    [InlineData("--mtu", "bench", "--mtu", "70000")]
    [InlineData("--loss", "bench", "--loss", "1")]
    [InlineData("--loss", "bench", "--loss", "2")]
    [InlineData("--rtt", "bench", "--rtt", "0")]
    [InlineData("--rtt", "bench", "--rtt", "abc")]
    [InlineData("--json", "bench", "--json=yes")]
    [InlineData("--bogus", "bench", "--bogus")]
    [InlineData("--clients", "bench", "--clients", "10")]
    [InlineData("--clients", "bench", "--connections", "--clients", "0")]
    [InlineData("--gro-run", "bench", "--gro-run", "1")]
    [InlineData("--gro-run", "bench", "--gro-run", "65")]
    [InlineData("--kernel", "bench", "--connections", "--kernel")]
    [InlineData("--mtu", "bench", "--connections", "--mtu", "9000")]
    [InlineData("--no-offloads", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--no-offloads=yes")]
    [InlineData("--rate", "bench", "--rate", "0")]
    [InlineData("--rate", "bench", "--rate", "fast")]
    [InlineData("--queue", "bench", "--rate", "100", "--queue", "0")]
    [InlineData("--queue", "bench", "--queue", "100")]
    [InlineData("--cc", "bench", "--cc", "vegas")]
    [InlineData("--cc", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--http", "80", "--cc", "vegas")]
    [InlineData("--cc", "serve", "--tun", "t0", "--address", "10.0.0.2/24", "--http", "80", "--cc")]
    [InlineData("--cc", "get", "http://10.0.0.2/", "--tun", "t0", "--address", "10.0.0.1/24", "--cc", "reno")]
    [InlineData("--bytes", "bench", "--bytes", "0")]
    [InlineData("--bytes", "bench", "--bytes", "-5")]
    [InlineData("--reorder", "bench", "--reorder", "1")]
    [InlineData("--jitter", "bench", "--jitter", "-1")]
    [InlineData("--matrix", "bench", "--matrix=yes")]
    public void Bad_arguments_exit_two_with_one_line_naming_the_flag(string flag, params string[] args)
    {
        (int code, string stdout, string stderr) = Captures.Run(args);
        Assert.Equal(CliApp.UsageError, code);
        Assert.Equal(string.Empty, stdout);
        string line = Assert.Single(Captures.Lines(stderr));
        Assert.StartsWith($"error: {flag}", line, StringComparison.Ordinal);
    }

    [Fact]
    public void Bench_json_is_exactly_the_contract_object_and_data_moved()
    {
        (int code, string stdout, string stderr) = Captures.Run("bench", "--seconds", "0.3", "--mtu", "9000", "--loss", "0.01", "--rtt", "2", "--json");
        Assert.True(code == 0, stderr);
        string line = Assert.Single(Captures.Lines(stdout));
        using JsonDocument json = JsonDocument.Parse(line);
        JsonElement root = json.RootElement;
        string[] contract = ["gbps", "bytes", "seconds", "retransmissions", "mtu", "loss", "simulated_seconds", "simulated_gbps"];
        Assert.Equal(contract, root.EnumerateObject().Select(p => p.Name).Take(contract.Length));
        foreach (string name in contract)
        {
            Assert.Equal(JsonValueKind.Number, root.GetProperty(name).ValueKind);
        }

        Assert.Equal("cubic", root.GetProperty("cc").GetString());
        double simulated = root.GetProperty("simulated_seconds").GetDouble();
        Assert.True(simulated > 0, "virtual time passes on the link");

        long bytes = root.GetProperty("bytes").GetInt64();
        double seconds = root.GetProperty("seconds").GetDouble();
        Assert.True(bytes > 1_000_000, $"only {bytes} bytes moved");
        Assert.InRange(seconds, 0.3, 30);
        Assert.Equal(bytes * 8 / seconds / 1e9, root.GetProperty("gbps").GetDouble(), 3);
        Assert.Equal(9000, root.GetProperty("mtu").GetInt32());
        Assert.Equal(0.01, root.GetProperty("loss").GetDouble());
        Assert.True(root.GetProperty("retransmissions").GetInt64() > 0, "1% loss must cause retransmissions");
    }

    [Fact]
    public void Bench_text_output_is_one_line_with_the_goodput()
    {
        (int code, string stdout, string stderr) = Captures.Run("bench", "--seconds", "0.2");
        Assert.True(code == 0, stderr);
        string line = Assert.Single(Captures.Lines(stdout));
        Assert.Matches(@"^bench: [1-9]\d* bytes in \d+\.\d{3} s = \d+\.\d{3} Gbit/s goodput", line);
        Assert.Contains("mtu 1500, loss 0, rtt 1 ms, cubic (fixed 256 KiB buffers), 0 retransmissions", line, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("cubic")]
    [InlineData("newreno")]
    [InlineData("bbr")]
    public void Bench_moves_a_fixed_size_through_a_bottleneck_and_reports_simulated_goodput(string cc)
    {
        // 20 Mbit/s, 20 ms, 2 % loss each way, a 40-packet queue: the simulated goodput is bounded by
        // the bottleneck, the transfer verifies, and the link's drops are counted.
        (int code, string stdout, string stderr) = Captures.Run("bench", "--rate", "20", "--queue", "40", "--rtt", "20", "--loss", "0.02", "--bytes", "2M", "--cc", cc.ToUpperInvariant(), "--seed", "3", "--json");
        Assert.True(code == 0, stderr);
        using JsonDocument json = JsonDocument.Parse(Assert.Single(Captures.Lines(stdout)));
        JsonElement root = json.RootElement;
        Assert.Equal(2L << 20, root.GetProperty("bytes").GetInt64());
        Assert.True(root.GetProperty("sha256_verified").GetBoolean());
        Assert.Equal(cc, root.GetProperty("cc").GetString());
        Assert.Equal(40, root.GetProperty("queue_packets").GetInt32());
        double simulatedSeconds = root.GetProperty("simulated_seconds").GetDouble();
        double simulatedGbps = root.GetProperty("simulated_gbps").GetDouble();
        Assert.Equal((2L << 20) * 8 / simulatedSeconds / 1e9, simulatedGbps, 4);
        Assert.InRange(simulatedGbps, 0.0005, 0.02);
        long lost = root.GetProperty("data_frames_lost").GetInt64();
        Assert.True(lost > 10, $"2 % of about 1450 frames should be lost, not {lost}");
        Assert.True(root.GetProperty("retransmissions").GetInt64() >= lost);
    }

    [Fact]
    public void Bench_queue_defaults_to_one_bandwidth_delay_product()
    {
        (int code, string stdout, string stderr) = Captures.Run("bench", "--rate", "100", "--rtt", "20", "--bytes", "1M", "--json");
        Assert.True(code == 0, stderr);
        using JsonDocument json = JsonDocument.Parse(Assert.Single(Captures.Lines(stdout)));
        Assert.Equal(167, json.RootElement.GetProperty("queue_packets").GetInt32()); // 100 Mbit/s x 20 ms / 1500 bytes
        Assert.Equal(0, json.RootElement.GetProperty("data_frames_lost").GetInt64());
    }

    [Fact]
    public void Bench_matrix_prints_every_row_verified_with_its_targets()
    {
        (int code, string stdout, string stderr) = Captures.Run("bench", "--matrix", "--json");
        Assert.True(code == 0, stderr);
        string[] lines = Captures.Lines(stdout);
        Assert.Equal(["loss 0%", "loss 0.1%", "loss 1%", "loss 3%", "loss 5%", "loss 10%", "reorder 5% + jitter"], lines.Select(l => JsonDocument.Parse(l).RootElement.GetProperty("row").GetString()));
        foreach (string line in lines)
        {
            using JsonDocument row = JsonDocument.Parse(line);
            Assert.True(row.RootElement.GetProperty("sha256_verified").GetBoolean(), line);
            Assert.Equal(32L << 20, row.RootElement.GetProperty("bytes").GetInt64());
            Assert.InRange(row.RootElement.GetProperty("simulated_gbps").GetDouble(), 0.0001, 0.1);
        }

        // Loss costs goodput, row after row.
        double[] goodput = lines.Take(6).Select(l => JsonDocument.Parse(l).RootElement.GetProperty("simulated_gbps").GetDouble()).ToArray();
        for (int i = 1; i < goodput.Length; i++)
        {
            Assert.True(goodput[i] < goodput[i - 1], $"row {i}: {goodput[i]} vs {goodput[i - 1]}");
        }
    }

    [Fact]
    public void Bench_connections_json_has_its_fields_and_connections_were_made()
    {
        (int code, string stdout, string stderr) = Captures.Run("bench", "--connections", "--clients", "4", "--seconds", "0.3", "--json");
        Assert.True(code == 0, stderr);
        string line = Assert.Single(Captures.Lines(stdout));
        using JsonDocument json = JsonDocument.Parse(line);
        JsonElement root = json.RootElement;
        Assert.Equal(["connections_per_second", "connections", "seconds", "cpu_us_per_connection", "bytes_allocated_per_connection", "failures", "clients"], root.EnumerateObject().Select(p => p.Name));
        long connections = root.GetProperty("connections").GetInt64();
        Assert.True(connections > 10, $"only {connections} connections");
        Assert.Equal(0, root.GetProperty("failures").GetInt64());
        Assert.Equal(4, root.GetProperty("clients").GetInt32());
        // The rate is printed to 0.1 and the seconds to 1e-6, so the two agree within 0.1.
        Assert.Equal(connections / root.GetProperty("seconds").GetDouble(), root.GetProperty("connections_per_second").GetDouble(), tolerance: 0.1);
    }
}
