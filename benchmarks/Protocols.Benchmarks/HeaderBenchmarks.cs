using System.Buffers.Binary;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Benchmarks;

/// <summary>
/// Parse and write Ethernet + IPv4 + TCP (with a timestamps option) through the generated codecs,
/// side by side with a hand-written <see cref="BinaryPrimitives"/> parser doing the same checks.
/// Every method folds the fields it reads into one number so nothing is optimised away.
/// Parse and write are separate categories, each with its hand-written baseline, so each ratio is
/// against its own reference.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class HeaderBenchmarks
{
    private const int EthernetLength = 14;
    private readonly byte[] _frame = BuildFrame();
    private readonly byte[] _output = new byte[128];

    [BenchmarkCategory("parse")]
    [Benchmark(Baseline = true, Description = "parse: hand-written")]
    public ulong ParseHandWritten() => HandWritten.Parse(_frame);

    [BenchmarkCategory("parse")]
    [Benchmark(Description = "parse: generated")]
    public ulong ParseGenerated()
    {
        ReadOnlySpan<byte> frame = _frame;
        if (!EthernetHeader.TryRead(frame, out EthernetHeader.Reader eth) || eth.EtherType != EtherType.Ipv4)
        {
            return 0;
        }

        if (!Ipv4Header.TryRead(eth.Payload, out Ipv4Header.Reader ip) || ip.Protocol != IpProtocol.Tcp)
        {
            return 0;
        }

        if (!TcpHeader.TryRead(ip.Payload, out TcpHeader.Reader tcp))
        {
            return 0;
        }

        ulong acc = eth.DestinationBytes[5] + (ulong)eth.SourceBytes[5];
        acc += (ulong)ip.TotalLength + ip.Identification + ip.Ttl + ip.FragmentOffset + (ip.DontFragment ? 1UL : 0) + ip.HeaderChecksum;
        acc += ip.Source.ToUInt32() ^ ip.Destination.ToUInt32();
        acc += (ulong)tcp.SourcePort + tcp.DestinationPort + tcp.SequenceNumber + tcp.AcknowledgmentNumber + tcp.Window + (tcp.Ack ? 1UL : 0) + (tcp.Psh ? 1UL : 0);
        // The same option walk as the hand-written parser: every option checked, timestamps read.
        var options = new TcpOptionReader(tcp.Options);
        while (options.TryReadNext(out TcpOption option))
        {
            if (option.Kind == TcpOptionKind.Timestamps)
            {
                TcpTimestamps ts = option.Timestamps;
                acc += ts.TsVal + (ulong)ts.TsEcr;
            }
        }

        if (options.HasError)
        {
            return 0;
        }

        return acc + (ulong)tcp.Payload.Length;
    }

    [BenchmarkCategory("write")]
    [Benchmark(Baseline = true, Description = "write: hand-written")]
    public int WriteHandWritten() => HandWritten.Write(_output);

    [BenchmarkCategory("write")]
    [Benchmark(Description = "write: generated")]
    public int WriteGenerated()
    {
        Span<byte> o = _output;
        var eth = new EthernetHeader.Writer(o)
        {
            EtherType = EtherType.Ipv4,
        };
        eth.DestinationBytes.Fill(0x02);
        eth.SourceBytes.Fill(0x04);

        var ip = new Ipv4Header.Writer(o[EthernetLength..]);
        ip.WriteConstants();
        ip.Ihl = 5;
        ip.Dscp = 0;
        ip.Ecn = 0;
        ip.TotalLength = 20 + 32 + 100;
        ip.Identification = 0x1234;
        ip.Reserved = false;
        ip.DontFragment = true;
        ip.MoreFragments = false;
        ip.FragmentOffset = 0;
        ip.Ttl = 64;
        ip.Protocol = IpProtocol.Tcp;
        ip.HeaderChecksum = 0;
        BinaryPrimitives.WriteUInt32BigEndian(ip.SourceBytes, 0x0a000001);
        BinaryPrimitives.WriteUInt32BigEndian(ip.DestinationBytes, 0x0a000002);

        var tcp = new TcpHeader.Writer(o[(EthernetLength + 20)..]);
        tcp.SourcePort = 40000;
        tcp.DestinationPort = 443;
        tcp.SequenceNumber = 0x01020304;
        tcp.AcknowledgmentNumber = 0x05060708;
        tcp.DataOffset = 8;
        tcp.Reserved = 0;
        tcp.Cwr = false;
        tcp.Ece = false;
        tcp.Urg = false;
        tcp.Ack = true;
        tcp.Psh = true;
        tcp.Rst = false;
        tcp.Syn = false;
        tcp.Fin = false;
        tcp.Window = 502;
        tcp.Checksum = 0;
        tcp.UrgentPointer = 0;

        // The same options as the hand-written writer: NOP, NOP, Timestamps (RFC 7323 3).
        Span<byte> options = tcp.Options;
        options[0] = 1;
        options[1] = 1;
        options[2] = 8;
        options[3] = 10;
        BinaryPrimitives.WriteUInt32BigEndian(options[4..], 0xdeadbeef);
        BinaryPrimitives.WriteUInt32BigEndian(options[8..], 0x01234567);
        return o[EthernetLength + 33];
    }

    [BenchmarkCategory("write")]
    [Benchmark(Description = "write: generated value form")]
    public int WriteGeneratedValue()
    {
        Span<byte> o = _output;
        new EthernetHeader
        {
            Destination = MacAddress.Create(0x02, 0x02, 0x02, 0x02, 0x02, 0x02),
            Source = MacAddress.Create(0x04, 0x04, 0x04, 0x04, 0x04, 0x04),
            EtherType = EtherType.Ipv4,
        }.WriteTo(o);

        new Ipv4Header
        {
            Ihl = 5,
            TotalLength = 20 + 32 + 100,
            Identification = 0x1234,
            DontFragment = true,
            Ttl = 64,
            Protocol = IpProtocol.Tcp,
            Source = Ipv4Address.FromUInt32(0x0a000001),
            Destination = Ipv4Address.FromUInt32(0x0a000002),
        }.WriteTo(o[EthernetLength..]);

        new TcpHeader
        {
            SourcePort = 40000,
            DestinationPort = 443,
            SequenceNumber = 0x01020304,
            AcknowledgmentNumber = 0x05060708,
            DataOffset = 8,
            Ack = true,
            Psh = true,
            Window = 502,
        }.WriteTo(o[(EthernetLength + 20)..]);

        // The same options as the hand-written writer (NOP, NOP, Timestamps), through the option writer.
        var options = new TcpOptionWriter(o.Slice(EthernetLength + 40, 12));
        options.WriteNoOperation();
        options.WriteNoOperation();
        options.WriteTimestamps(0xdeadbeef, 0x01234567);
        return o[EthernetLength + 33];
    }

    /// <summary>
    /// Fails the run when the generated writers and the hand-written one do not produce the same
    /// bytes, so the comparison is of equal work. Each writer starts from a buffer of 0xCC so a
    /// byte it forgets to write shows up too.
    /// </summary>
    [GlobalSetup]
    public void Validate()
    {
        const int length = EthernetLength + 20 + 32;
        byte[] Run(Func<int> write)
        {
            _output.AsSpan().Fill(0xCC);
            write();
            return _output.AsSpan(0, length).ToArray();
        }

        byte[] reference = Run(WriteHandWritten);
        foreach ((string name, Func<int> write) in new (string, Func<int>)[] { ("per-field Writer", WriteGenerated), ("value form", WriteGeneratedValue) })
        {
            byte[] bytes = Run(write);
            if (!bytes.AsSpan().SequenceEqual(reference))
            {
                throw new InvalidOperationException(
                    $"write: generated {name} differs from hand-written:\n{Convert.ToHexString(bytes)}\n{Convert.ToHexString(reference)}");
            }
        }

        if (ParseGenerated() != ParseHandWritten())
        {
            throw new InvalidOperationException("parse: generated and hand-written results differ.");
        }

        _output.AsSpan().Clear();
    }

    internal static byte[] BuildFrame()
    {
        var frame = new byte[EthernetLength + 20 + 32 + 100];
        HandWritten.Write(frame);
        frame.AsSpan(EthernetLength + 20 + 32).Fill(0x61);
        return frame;
    }

    /// <summary>The reference: the same parse and write with BinaryPrimitives, no generated code.</summary>
    internal static class HandWritten
    {
        public static ulong Parse(ReadOnlySpan<byte> frame)
        {
            if (frame.Length < EthernetLength || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != 0x0800)
            {
                return 0;
            }

            ReadOnlySpan<byte> ip = frame[EthernetLength..];
            if (ip.Length < 20 || ip[0] >> 4 != 4)
            {
                return 0;
            }

            int ihl = (ip[0] & 0xf) * 4;
            int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
            if (ihl < 20 || ihl > ip.Length || totalLength < ihl || totalLength > ip.Length || ip[9] != 6)
            {
                return 0;
            }

            ulong acc = frame[5] + (ulong)frame[11];
            ushort flagsFragment = BinaryPrimitives.ReadUInt16BigEndian(ip[6..]);
            acc += (ulong)totalLength + BinaryPrimitives.ReadUInt16BigEndian(ip[4..]) + ip[8] + (ulong)(flagsFragment & 0x1fff)
                + (ulong)((flagsFragment >> 14) & 1) + BinaryPrimitives.ReadUInt16BigEndian(ip[10..]);
            acc += BinaryPrimitives.ReadUInt32BigEndian(ip[12..]) ^ BinaryPrimitives.ReadUInt32BigEndian(ip[16..]);

            ReadOnlySpan<byte> tcp = ip[ihl..totalLength];
            if (tcp.Length < 20)
            {
                return 0;
            }

            int dataOffset = (tcp[12] >> 4) * 4;
            if (dataOffset < 20 || dataOffset > tcp.Length)
            {
                return 0;
            }

            acc += (ulong)BinaryPrimitives.ReadUInt16BigEndian(tcp) + BinaryPrimitives.ReadUInt16BigEndian(tcp[2..])
                + BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]) + BinaryPrimitives.ReadUInt32BigEndian(tcp[8..])
                + BinaryPrimitives.ReadUInt16BigEndian(tcp[14..]) + (ulong)((tcp[13] >> 4) & 1) + (ulong)((tcp[13] >> 3) & 1);

            // RFC 9293 3.2 option walk: EOL ends, NOP is one byte, others carry a length.
            ReadOnlySpan<byte> options = tcp[20..dataOffset];
            int i = 0;
            while (i < options.Length)
            {
                byte kind = options[i];
                if (kind == 0)
                {
                    break;
                }

                if (kind == 1)
                {
                    i++;
                    continue;
                }

                if (i + 1 >= options.Length)
                {
                    return 0;
                }

                int len = options[i + 1];
                if (len < 2 || i + len > options.Length)
                {
                    return 0;
                }

                if (kind == 8)
                {
                    if (len != 10)
                    {
                        return 0;
                    }

                    acc += BinaryPrimitives.ReadUInt32BigEndian(options[(i + 2)..]) + (ulong)BinaryPrimitives.ReadUInt32BigEndian(options[(i + 6)..]);
                }

                i += len;
            }

            return acc + (ulong)(tcp.Length - dataOffset);
        }

        public static int Write(Span<byte> o)
        {
            o[..6].Fill(0x02);
            o[6..12].Fill(0x04);
            BinaryPrimitives.WriteUInt16BigEndian(o[12..], 0x0800);
            Span<byte> ip = o[EthernetLength..];
            ip[0] = 0x45;
            ip[1] = 0;
            BinaryPrimitives.WriteUInt16BigEndian(ip[2..], 20 + 32 + 100);
            BinaryPrimitives.WriteUInt16BigEndian(ip[4..], 0x1234);
            BinaryPrimitives.WriteUInt16BigEndian(ip[6..], 0x4000);
            ip[8] = 64;
            ip[9] = 6;
            BinaryPrimitives.WriteUInt16BigEndian(ip[10..], 0);
            BinaryPrimitives.WriteUInt32BigEndian(ip[12..], 0x0a000001);
            BinaryPrimitives.WriteUInt32BigEndian(ip[16..], 0x0a000002);
            Span<byte> tcp = ip[20..];
            BinaryPrimitives.WriteUInt16BigEndian(tcp, 40000);
            BinaryPrimitives.WriteUInt16BigEndian(tcp[2..], 443);
            BinaryPrimitives.WriteUInt32BigEndian(tcp[4..], 0x01020304);
            BinaryPrimitives.WriteUInt32BigEndian(tcp[8..], 0x05060708);
            tcp[12] = 8 << 4;
            tcp[13] = 0x18;
            BinaryPrimitives.WriteUInt16BigEndian(tcp[14..], 502);
            BinaryPrimitives.WriteUInt16BigEndian(tcp[16..], 0);
            BinaryPrimitives.WriteUInt16BigEndian(tcp[18..], 0);

            // NOP, NOP, Timestamps (RFC 7323 3).
            tcp[20] = 1;
            tcp[21] = 1;
            tcp[22] = 8;
            tcp[23] = 10;
            BinaryPrimitives.WriteUInt32BigEndian(tcp[24..], 0xdeadbeef);
            BinaryPrimitives.WriteUInt32BigEndian(tcp[28..], 0x01234567);
            return o[EthernetLength + 33];
        }
    }
}
