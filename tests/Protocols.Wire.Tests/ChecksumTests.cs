using System.Buffers.Binary;
using System.Runtime.Intrinsics;

namespace Protocols.Wire.Tests;

public class ChecksumTests
{
    public delegate uint SumPath(ReadOnlySpan<byte> data, uint initial);

    /// <summary>Every implementation of the sum, skipping vector widths this CPU lacks.</summary>
    public static TheoryData<string> Paths()
    {
        var data = new TheoryData<string> { "Sum", "Scalar" };
        if (Vector128.IsHardwareAccelerated)
        {
            data.Add("Vector128");
        }

        if (Vector256.IsHardwareAccelerated)
        {
            data.Add("Vector256");
        }

        if (Vector512.IsHardwareAccelerated)
        {
            data.Add("Vector512");
        }

        return data;
    }

    private static SumPath Path(string name) => name switch
    {
        "Sum" => Checksum.Sum,
        "Scalar" => Checksum.SumScalar,
        "Vector128" => Checksum.SumVector128,
        "Vector256" => Checksum.SumVector256,
        "Vector512" => Checksum.SumVector512,
        _ => throw new ArgumentOutOfRangeException(nameof(name)),
    };

    /// <summary>RFC 1071 taken literally: big-endian words, byte by byte, zero pad, end-around carry.</summary>
    private static uint Reference(ReadOnlySpan<byte> data, uint initial = 0)
    {
        ulong sum = initial;
        for (int i = 0; i < data.Length; i++)
        {
            sum += (i % 2 == 0) ? (ulong)data[i] << 8 : data[i];
        }

        while (sum > 0xffff)
        {
            sum = (sum & 0xffff) + (sum >> 16);
        }

        return (uint)sum;
    }

    [Fact]
    public void Vector_paths_are_tested_where_the_CPU_has_them()
    {
        // Documents which paths the other tests exercised on this machine.
        var names = ((IEnumerable<object[]>)Paths()).Select(row => (string)row[0]).ToList();
        Assert.Contains("Scalar", names);
        Assert.Equal(Vector128.IsHardwareAccelerated, names.Contains("Vector128"));
        Assert.Equal(Vector256.IsHardwareAccelerated, names.Contains("Vector256"));
        Assert.Equal(Vector512.IsHardwareAccelerated, names.Contains("Vector512"));
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Random_lengths_and_offsets_match_reference(string path)
    {
        SumPath sum = Path(path);
        var random = new Random(1071);
        byte[] buffer = new byte[9000 + 64];
        random.NextBytes(buffer);
        for (int i = 0; i < 2500; i++)
        {
            int offset = random.Next(0, 64);
            int length = random.Next(0, 9001);
            uint initial = random.Next(4) == 0 ? (uint)random.NextInt64(0, uint.MaxValue + 1L) : 0;
            ReadOnlySpan<byte> data = buffer.AsSpan(offset, length);
            Assert.Equal(Reference(data, initial), sum(data, initial));
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Every_length_up_to_300_at_every_alignment(string path)
    {
        SumPath sum = Path(path);
        var random = new Random(300);
        byte[] buffer = new byte[300 + 8];
        random.NextBytes(buffer);
        for (int offset = 0; offset < 8; offset++)
        {
            for (int length = 0; length <= 300; length++)
            {
                ReadOnlySpan<byte> data = buffer.AsSpan(offset, length);
                Assert.Equal(Reference(data), sum(data, 0));
            }
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void All_ones_and_all_zeros(string path)
    {
        SumPath sum = Path(path);
        foreach (int length in new[] { 0, 1, 2, 3, 31, 64, 255, 1500, 65536, 300_000 })
        {
            byte[] ones = new byte[length];
            Array.Fill(ones, (byte)0xff);
            Assert.Equal(Reference(ones), sum(ones, 0));
            // Whole 0xffff words sum to 0xffff; an odd last byte adds 0xff00, i.e. 0xff00 - 0xffff mod 0xffff.
            Assert.Equal(length == 0 ? 0u : (length % 2 == 1 ? 0xff00u : 0xffffu), sum(ones, 0));
            Assert.Equal(0u, sum(new byte[length], 0));
        }
    }

    [Theory]
    [MemberData(nameof(Paths))]
    public void Long_buffers_past_the_lane_fold_interval(string path)
    {
        // More than 16384 vectors of 64 bytes: the vector paths must fold their lanes in between.
        SumPath sum = Path(path);
        byte[] data = new byte[(3 * 1024 * 1024) + 77];
        Array.Fill(data, (byte)0xff);
        Assert.Equal(0xff00u, sum(data, 0));
        Assert.Equal(0xffffu, sum(data.AsSpan(1), 0));
        new Random(65536).NextBytes(data);
        Assert.Equal(Reference(data), sum(data, 0));
        Assert.Equal(Reference(data.AsSpan(1)), sum(data.AsSpan(1), 0));
    }

    [Fact]
    public void Split_and_combine_at_every_split_point()
    {
        var random = new Random(2);
        foreach (int length in new[] { 0, 1, 2, 7, 64, 301, 1500 })
        {
            byte[] data = new byte[length];
            random.NextBytes(data);
            uint whole = Checksum.Sum(data);
            for (int split = 0; split <= length; split++)
            {
                uint first = Checksum.Sum(data.AsSpan(0, split));
                uint second = Checksum.Sum(data.AsSpan(split));
                Assert.Equal(whole, Checksum.Add(first, second, secondStartsAtOddOffset: split % 2 == 1));
            }
        }

        // Three pieces, the middle one at an odd offset and of odd length.
        byte[] msg = new byte[100];
        random.NextBytes(msg);
        uint a = Checksum.Sum(msg.AsSpan(0, 33));
        uint b = Checksum.Sum(msg.AsSpan(33, 44));
        uint c = Checksum.Sum(msg.AsSpan(77));
        Assert.Equal(Checksum.Sum(msg), Checksum.Add(Checksum.Add(a, b, true), c, true));
        // An initial sum chains pieces that start at even offsets.
        Assert.Equal(Checksum.Sum(msg), Checksum.Sum(msg.AsSpan(32), Checksum.Sum(msg.AsSpan(0, 32))));
    }

    [Fact]
    public void RFC_1071_example()
    {
        // RFC 1071 3: bytes 00 01 f2 03 f4 f5 f6 f7 sum to ddf2 (big-endian words).
        byte[] data = [0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7];
        Assert.Equal(0xddf2u, Checksum.Sum(data));
        Assert.Equal(0xddf2u, Checksum.SumScalar(data));
        Assert.Equal((ushort)0x220d, Checksum.Compute(data));
        Assert.Equal(0x2ddf0u, 0x0001u + 0xf203 + 0xf4f5 + 0xf6f7); // the RFC's intermediate sum
        Assert.Equal(0xddf2u, Checksum.Fold(0x2ddf0));
    }

    [Fact]
    public void Real_IPv4_header()
    {
        // A captured IPv4 header (192.168.0.1 -> 192.168.0.199, TCP) whose checksum is 0xb861.
        byte[] header =
        [
            0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11, 0xb8, 0x61,
            0xc0, 0xa8, 0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7,
        ];
        Assert.Equal(0xffffu, Checksum.Sum(header)); // a valid header sums to all ones
        Assert.Equal((ushort)0, Checksum.Compute(header));
        header[10] = 0;
        header[11] = 0;
        Assert.Equal((ushort)0xb861, Checksum.Compute(header));
    }

    [Fact]
    public void PseudoHeaderSum_matches_hand_built_pseudo_header()
    {
        var random = new Random(768);
        for (int i = 0; i < 500; i++)
        {
            byte[] src = new byte[4], dst = new byte[4];
            random.NextBytes(src);
            random.NextBytes(dst);
            byte protocol = (byte)random.Next(256);
            int length = random.Next(0, 65536);

            // RFC 768 / RFC 793 3.1: source, destination, zero, protocol, length.
            byte[] pseudo = [.. src, .. dst, 0, protocol, (byte)(length >> 8), (byte)length];
            uint expected = Reference(pseudo);
            uint actual = Checksum.PseudoHeaderSum(
                Ipv4Address.Create(src),
                Ipv4Address.Create(dst),
                protocol,
                length);
            Assert.Equal(expected, actual);
        }
    }

    [Fact]
    public void Update_equals_recompute_for_random_word_changes()
    {
        var random = new Random(1624);
        for (int i = 0; i < 5000; i++)
        {
            byte[] data = new byte[2 * random.Next(2, 30)];
            random.NextBytes(data);
            if (random.Next(8) == 0)
            {
                Array.Fill(data, (byte)0);
                data[0] = (byte)random.Next(1, 256);
            }

            ushort before = Checksum.Compute(data);
            int word = random.Next(data.Length / 2) * 2;
            ushort oldWord = BinaryPrimitives.ReadUInt16BigEndian(data.AsSpan(word));
            ushort newWord = (ushort)random.Next(65536);
            BinaryPrimitives.WriteUInt16BigEndian(data.AsSpan(word), newWord);
            if (Checksum.Sum(data) == 0)
            {
                continue; // all-zero data: no checksum identity to keep
            }

            Assert.Equal(Checksum.Compute(data), Checksum.Update(before, oldWord, newWord));

            // 32-bit form: rewrite an aligned 4-byte field (a NAT address).
            int field = random.Next(data.Length / 4) * 4;
            before = Checksum.Compute(data);
            uint oldValue = BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(field));
            uint newValue = (uint)random.NextInt64(0, uint.MaxValue + 1L);
            BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(field), newValue);
            if (Checksum.Sum(data) == 0)
            {
                continue;
            }

            Assert.Equal(Checksum.Compute(data), Checksum.Update(before, oldValue, newValue));
        }
    }

    [Fact]
    public void Update_RFC_1624_corner_case()
    {
        // RFC 1624 3: HC = 0xDD2F, m = 0x5555 -> m' = 0x3285. Eqn 3 gives 0x0000, the value a
        // full recomputation gives; RFC 1141's form (HC + m + ~m') gives 0xFFFF, which no
        // sender could compute for these data.
        byte[] data = [0x55, 0x55, 0xcd, 0x7a];
        Assert.Equal((ushort)0xdd2f, Checksum.Compute(data));
        ushort updated = Checksum.Update(0xdd2f, (ushort)0x5555, (ushort)0x3285);
        data[0] = 0x32;
        data[1] = 0x85;
        Assert.Equal((ushort)0x0000, Checksum.Compute(data));
        Assert.Equal((ushort)0x0000, updated);
        ushort rfc1141 = (ushort)Checksum.Fold(0xdd2fu + 0x5555u + (0x3285u ^ 0xffffu));
        Assert.Equal((ushort)0xffff, rfc1141);
    }

    [Fact]
    public void Add_and_fold_properties()
    {
        Assert.Equal(0u, Checksum.Fold(0));
        Assert.Equal(0xffffu, Checksum.Fold(0xffff));
        Assert.Equal(0xffffu, Checksum.Fold(ulong.MaxValue));
        Assert.Equal(1u, Checksum.Fold(0x10000));
        Assert.Equal(0x3412u, Checksum.Add(0, 0x1234, secondStartsAtOddOffset: true));
        Assert.Equal((ushort)0xffff, Checksum.Finish(0));
        Assert.Equal((ushort)0x0000, Checksum.Finish(0xffff));
    }
}
