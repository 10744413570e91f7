using BenchmarkDotNet.Attributes;
using Protocols.Wire;

namespace Protocols.Benchmarks;

/// <summary>
/// The Internet checksum against copying the same buffer (memcpy) in the same run: the checksum
/// reads every byte once, the copy reads and writes it, so memcpy is the bar to reach half of.
/// </summary>
[MemoryDiagnoser]
public class ChecksumBenchmarks
{
    private byte[] _source = [];
    private byte[] _destination = [];

    /// <summary>Buffer size in bytes: a bare IPv4 header, an Ethernet-MTU packet, a 64 KiB segment.</summary>
    [Params(20, 1500, 65536)]
    public int Size { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var random = new Random(42);
        _source = new byte[Size];
        _destination = new byte[Size];
        random.NextBytes(_source);
    }

    [Benchmark(Baseline = true, Description = "memcpy")]
    public int Copy()
    {
        _source.AsSpan().CopyTo(_destination);
        return _destination[0];
    }

    [Benchmark(Description = "Checksum.Sum")]
    public uint Sum() => Checksum.Sum(_source);
}
