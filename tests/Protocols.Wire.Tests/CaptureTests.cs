using System.Diagnostics;
using Protocols.Tests.Shared;
using Protocols.Wire.Capture;

namespace Protocols.Wire.Tests;

public class CaptureTests
{
    private const long Ns = 1_000_000_000;

    private static List<CaptureFrame> ReadAll(byte[] file, bool reuseBuffer = false)
    {
        using CaptureReader reader = CaptureFile.Open(new MemoryStream(file), reuseBuffer: reuseBuffer);
        return reuseBuffer ? [.. reader.Select(f => f with { Data = f.Data.ToArray() })] : [.. reader];
    }

    [Theory]
    [InlineData(false, LinkType.Ethernet)]
    [InlineData(true, LinkType.Ethernet)]
    [InlineData(false, LinkType.Raw)]
    [InlineData(true, LinkType.Ipv4)]
    public void Write_then_read_round_trips(bool nanosecond, LinkType linkType)
    {
        var random = new Random(nanosecond ? 11 : 12);
        const int snap = 1000;
        var written = new List<(long Ns, byte[] Data, long Original)>();
        var stream = new MemoryStream();
        using (var writer = new PcapWriter(stream, linkType, snap, nanosecond, leaveOpen: true))
        {
            for (int i = 0; i < 200; i++)
            {
                long ts = random.NextInt64(0, uint.MaxValue * Ns);
                byte[] data = new byte[random.Next(0, 1600)];
                random.NextBytes(data);
                long original = random.Next(3) == 0 ? data.Length + random.Next(1, 100) : -1;
                writer.WriteFrame(ts, data, original);
                written.Add((ts, data, original == -1 ? data.Length : original));
            }

            Assert.Equal(200, writer.FramesWritten);
        }

        stream.Position = 0;
        using var reader = (PcapReader)CaptureFile.Open(stream);
        Assert.Equal(CaptureFormat.Pcap, reader.Format);
        Assert.Equal(nanosecond, reader.IsNanosecond);
        Assert.False(reader.IsBigEndian);
        Assert.Equal(linkType, reader.LinkType);
        Assert.Equal((uint)snap, reader.SnapLength);
        Assert.Equal(2, reader.VersionMajor);
        Assert.Equal(4, reader.VersionMinor);

        var frames = reader.ToList();
        Assert.Equal(written.Count, frames.Count);
        for (int i = 0; i < frames.Count; i++)
        {
            (long ts, byte[] data, long original) = written[i];
            CaptureFrame f = frames[i];
            Assert.Equal(i + 1, f.Index);
            Assert.Equal(nanosecond ? ts : ts / 1000 * 1000, f.TimestampNanoseconds);
            Assert.Equal(DateTimeOffset.UnixEpoch.AddTicks(f.TimestampNanoseconds / 100), f.Timestamp);
            Assert.Equal(f.TimestampNanoseconds % Ns, f.NanosecondOfSecond);
            Assert.Equal(data.AsSpan(0, Math.Min(snap, data.Length)).ToArray(), f.Data.ToArray());
            Assert.Equal(original, f.OriginalLength);
            Assert.Equal(linkType, f.LinkType);
            Assert.Equal(original > f.CapturedLength, f.IsTruncated);
        }

        Assert.Equal(stream.Length, reader.Position);
    }

    [Fact]
    public void Writer_date_time_offset_and_frame_overloads_and_argument_checks()
    {
        var stream = new MemoryStream();
        var when = new DateTimeOffset(2024, 5, 6, 7, 8, 9, TimeSpan.Zero).AddTicks(1234567);
        using (var writer = new PcapWriter(stream, LinkType.Ethernet, nanosecond: true, leaveOpen: true))
        {
            writer.WriteFrame(when, [1, 2, 3]);
            writer.WriteFrame(new CaptureFrame(1, 5 * Ns + 7, 10, LinkType.Raw, new byte[] { 9 }));
            Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteFrame(-1, [1]));
            Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteFrame(((long)uint.MaxValue + 1) * Ns, [1]));
            Assert.Throws<ArgumentOutOfRangeException>(() => writer.WriteFrame(0, [1, 2], originalLength: 1));
            writer.Flush();
        }

        Assert.Throws<ArgumentOutOfRangeException>(() => new PcapWriter(new MemoryStream(), LinkType.Raw, snapLength: 0));
        var frames = ReadAll(stream.ToArray());
        Assert.Equal(2, frames.Count);
        Assert.Equal(when, frames[0].Timestamp);
        Assert.Equal([1, 2, 3], frames[0].Data.ToArray());
        Assert.Equal((5 * Ns) + 7, frames[1].TimestampNanoseconds);
        Assert.Equal(10, frames[1].OriginalLength);
    }

    [Fact]
    public void Writer_is_thread_safe()
    {
        var stream = new MemoryStream();
        using (var writer = new PcapWriter(stream, LinkType.Raw, leaveOpen: true))
        {
            Parallel.For(0, 400, i => writer.WriteFrame(i * 1000L, new byte[i % 50 + 1].AsSpan()));
        }

        var frames = ReadAll(stream.ToArray());
        Assert.Equal(400, frames.Count);
        Assert.Equal(Enumerable.Range(0, 400).Select(i => i * 1000L).Order(), frames.Select(f => f.TimestampNanoseconds).Order());
        Assert.All(frames, f => Assert.Equal(f.TimestampNanoseconds / 1000 % 50 + 1, f.CapturedLength));
    }

    [Fact]
    public void Writer_file_round_trip_and_dispose()
    {
        string path = Path.Combine(Path.GetTempPath(), $"protocols-wire-{Guid.NewGuid():N}.pcap");
        try
        {
            using (PcapWriter writer = PcapWriter.Create(path, LinkType.Ethernet))
            {
                writer.WriteFrame(Ns, new byte[60]);
                writer.Dispose();
                Assert.Throws<ObjectDisposedException>(() => writer.WriteFrame(0, [1]));
            }

            using CaptureReader reader = CaptureFile.Open(path);
            CaptureFrame frame = Assert.Single(reader);
            Assert.Equal(60, frame.CapturedLength);
            Assert.Equal(Ns, frame.TimestampNanoseconds);
            reader.Dispose();
            Assert.Throws<ObjectDisposedException>(() => reader.TryReadFrame(out _));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [ToolFact("/usr/bin/tcpdump")]
    public void Writer_output_is_read_by_tcpdump()
    {
        // Optional cross-check against libpcap; skipped where tcpdump is absent.
        string path = Path.Combine(Path.GetTempPath(), $"protocols-wire-{Guid.NewGuid():N}.pcap");
        try
        {
            using (PcapWriter writer = PcapWriter.Create(path, LinkType.Raw, nanosecond: true))
            {
                // A minimal IPv4/UDP datagram 10.0.0.1:1000 -> 10.0.0.2:2000, 4 bytes of payload.
                byte[] ip =
                [
                    0x45, 0, 0, 32, 0, 1, 0, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
                    0x03, 0xe8, 0x07, 0xd0, 0, 12, 0, 0, 1, 2, 3, 4,
                ];
                ushort check = Checksum.Compute(ip.AsSpan(0, 20));
                ip[10] = (byte)(check >> 8);
                ip[11] = (byte)check;
                writer.WriteFrame((1_700_000_000 * Ns) + 123_456_789, ip);
                writer.WriteFrame((1_700_000_001 * Ns) + 1, ip);
            }

            var psi = new ProcessStartInfo("/usr/bin/tcpdump", ["-nn", "-tt", "--nano", "-r", path])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            using Process process = Process.Start(psi)!;
            string output = process.StandardOutput.ReadToEnd();
            process.StandardError.ReadToEnd();
            process.WaitForExit();
            Assert.Equal(0, process.ExitCode);
            string[] lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
            Assert.Equal(2, lines.Length);
            Assert.StartsWith("1700000000.123456789 IP 10.0.0.1.1000 > 10.0.0.2.2000: UDP, length 4", lines[0]);
            Assert.StartsWith("1700000001.000000001 ", lines[1]);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void Hand_built_pcap_both_byte_orders(bool bigEndian, bool nanosecond)
    {
        byte[] file = PcapFile.Header(bigEndian, nanosecond, snapLength: 96, linkType: 0x0400_0001 | (2u << 28))
            .Record(1_600_000_000, 999_999, [0xaa, 0xbb], original: 1500)
            .Record(0, 1, [])
            .Record(uint.MaxValue, 5, [1, 2, 3, 4, 5])
            .ToArray();

        Assert.Equal(bigEndian ? 0xa1 : (nanosecond ? 0x4d : 0xd4), file[0]);
        Assert.Equal(CaptureFormat.Pcap, CaptureFile.Detect(file));
        using var reader = new PcapReader(new MemoryStream(file));
        Assert.Equal(bigEndian, reader.IsBigEndian);
        Assert.Equal(nanosecond, reader.IsNanosecond);
        Assert.Equal(96u, reader.SnapLength);
        Assert.Equal(LinkType.Ethernet, reader.LinkType);
        Assert.Equal(4, reader.FcsLength);
        var frames = reader.ToList();
        Assert.Equal(3, frames.Count);
        long unit = nanosecond ? 1 : 1000;
        Assert.Equal((1_600_000_000 * Ns) + (999_999 * unit), frames[0].TimestampNanoseconds);
        Assert.Equal([0xaa, 0xbb], frames[0].Data.ToArray());
        Assert.Equal(1500, frames[0].OriginalLength);
        Assert.True(frames[0].IsTruncated);
        Assert.Equal(unit, frames[1].TimestampNanoseconds);
        Assert.Equal(0, frames[1].CapturedLength);
        Assert.Equal((uint.MaxValue * Ns) + (5 * unit), frames[2].TimestampNanoseconds);
        Assert.Equal(3, frames[2].Index);
        Assert.Equal(new DateTimeOffset(2106, 2, 7, 6, 28, 15, TimeSpan.Zero), frames[2].Timestamp.AddTicks(-frames[2].Timestamp.Ticks % TimeSpan.TicksPerSecond));
    }

    internal static PcapNgFile SampleNg(bool bigEndian)
    {
        byte[] eth = [.. Enumerable.Range(0, 61).Select(i => (byte)i)];
        return new PcapNgFile()
            .Section(bigEndian)
            .Interface(bigEndian, 1, 0) // Ethernet, no snap limit, default microseconds
            .Unknown(bigEndian, 0x0BAD_F00D, 10)
            .Interface(bigEndian, 101, 64, tsResol: 9, name: "lo0") // raw IP, nanoseconds
            .Enhanced(bigEndian, 0, 1_700_000_000_123_456UL, eth, withOption: true)
            .Enhanced(bigEndian, 1, 1_700_000_000_987_654_321UL, [0x45, 0, 0, 20], original: 40)
            .Simple(bigEndian, 100, [.. Enumerable.Repeat((byte)7, 100)])
            .Block(bigEndian, 5, w => w.U32(0).U32(0).U32(0)) // an interface statistics block: skipped
            .Section(!bigEndian, sectionLength: 1024) // a second section, other byte order
            .Interface(!bigEndian, 228, 16, tsResol: 0x8A, tsOffset: -3600) // 2^-10 s, one hour back
            .Enhanced(!bigEndian, 0, (1_700_000_000UL << 10) + 512, [1, 2, 3])
            .Simple(!bigEndian, 20, [.. Enumerable.Range(0, 16).Select(i => (byte)i)]); // cut to the snap length
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Hand_built_PcapNg_sections_interfaces_and_blocks(bool bigEndian)
    {
        byte[] file = SampleNg(bigEndian).ToArray();
        Assert.Equal(CaptureFormat.PcapNg, CaptureFile.Detect(file));
        using var reader = (PcapNgReader)CaptureFile.Open(new MemoryStream(file));
        Assert.Equal(bigEndian, reader.IsBigEndian);
        Assert.Equal(1, reader.SectionCount);
        Assert.Equal(-1, reader.SectionLength);
        var frames = reader.ToList();
        Assert.Equal(2, reader.SectionCount);
        Assert.Equal(!bigEndian, reader.IsBigEndian);
        Assert.Equal(1024, reader.SectionLength);
        Assert.Equal(5, frames.Count);
        Assert.Equal([1, 2, 3, 4, 5], frames.Select(f => f.Index));

        CaptureFrame epb0 = frames[0];
        Assert.Equal(LinkType.Ethernet, epb0.LinkType);
        Assert.Equal(0, epb0.InterfaceId);
        Assert.Equal(1_700_000_000_123_456_000L, epb0.TimestampNanoseconds);
        Assert.Equal(61, epb0.CapturedLength);
        Assert.Equal(60, epb0.Data.Span[60]);

        CaptureFrame epb1 = frames[1];
        Assert.Equal(LinkType.Raw, epb1.LinkType);
        Assert.Equal(1, epb1.InterfaceId);
        Assert.Equal(1_700_000_000_987_654_321L, epb1.TimestampNanoseconds);
        Assert.Equal(987_654_321, epb1.NanosecondOfSecond);
        Assert.Equal(new byte[] { 0x45, 0, 0, 20 }, epb1.Data.ToArray());
        Assert.Equal(40, epb1.OriginalLength);

        // SPB: first interface (Ethernet, no snap) -> min(original 100, room 100).
        CaptureFrame spb0 = frames[2];
        Assert.False(spb0.HasTimestamp);
        Assert.Equal(LinkType.Ethernet, spb0.LinkType);
        Assert.Equal(100, spb0.CapturedLength);
        Assert.Equal(100, spb0.OriginalLength);

        // Second section: 2^-10 s units, 512/1024 = 0.5 s, minus one hour.
        CaptureFrame epb2 = frames[3];
        Assert.Equal(LinkType.Ipv4, epb2.LinkType);
        Assert.Equal(((1_700_000_000L - 3600) * Ns) + 500_000_000, epb2.TimestampNanoseconds);

        // SPB limited by the interface snap length 16.
        CaptureFrame spb1 = frames[4];
        Assert.Equal(16, spb1.CapturedLength);
        Assert.Equal(20, spb1.OriginalLength);
        Assert.Equal(15, spb1.Data.Span[15]);

        CaptureInterface iface = Assert.Single(reader.Interfaces);
        Assert.Equal(LinkType.Ipv4, iface.LinkType);
        Assert.Equal(1024UL, iface.UnitsPerSecond);
        Assert.Equal(-3600, iface.TimestampOffsetSeconds);
    }

    [Fact]
    public void PcapNg_interface_name_and_resolutions()
    {
        byte[] file = new PcapNgFile()
            .Section(false)
            .Interface(false, 1, 0, tsResol: 3, name: "eth0") // milliseconds
            .Interface(false, 1, 0, tsResol: 0x94) // 2^-20 s
            .Interface(false, 1, 0, tsResol: 12) // picoseconds: rounded down to ns
            .Interface(false, 1, 0, tsResol: 0) // whole seconds
            .Enhanced(false, 0, 1_700_000_000_123UL, [1])
            .Enhanced(false, 1, (5UL << 20) + (1UL << 19) + 1, [1])
            .Enhanced(false, 2, 1_700_000_123_456_789_012UL, [1])
            .Enhanced(false, 3, 42, [1])
            .ToArray();
        using var reader = new PcapNgReader(new MemoryStream(file));
        var frames = reader.ToList();
        Assert.Equal("eth0", reader.Interfaces[0].Name);
        Assert.Null(reader.Interfaces[1].Name);
        Assert.Equal(1_700_000_000_123_000_000L, frames[0].TimestampNanoseconds);
        Assert.Equal((5 * Ns) + 500_000_000 + 953, frames[1].TimestampNanoseconds); // 2^-20 s = 953.67 ns
        Assert.Equal((1_700_000 * Ns) + 123_456_789, frames[2].TimestampNanoseconds);
        Assert.Equal(42 * Ns, frames[3].TimestampNanoseconds);
    }

    [Fact]
    public void Simple_packet_captured_length_is_the_minimum_of_original_snap_and_block()
    {
        byte[] file = new PcapNgFile()
            .Section(false)
            .Interface(false, 1, 16)
            .Simple(false, 20, [.. Enumerable.Range(0, 20).Select(i => (byte)i)]) // more than the snap length in the block
            .Simple(false, 2, [9, 8]) // padded to 4: the original length wins
            .Simple(false, 1000, [1, 2, 3, 4, 5, 6, 7, 8]) // block shorter than both
            .ToArray();
        var frames = ReadAll(file);
        Assert.Equal([16, 2, 8], frames.Select(f => f.CapturedLength));
        Assert.Equal([20L, 2, 1000], frames.Select(f => f.OriginalLength));
        Assert.Equal([9, 8], frames[1].Data.ToArray());
        Assert.All(frames, f => Assert.False(f.HasTimestamp));
    }

    [Fact]
    public void ReuseBuffer_shares_one_buffer_and_keeps_content()
    {
        byte[] file = SampleNg(false).ToArray();
        Assert.Equal(ReadAll(file).Select(f => f.Data.ToArray()), ReadAll(file, reuseBuffer: true).Select(f => f.Data.ToArray()));

        using CaptureReader reader = CaptureFile.Open(new MemoryStream(file), reuseBuffer: true);
        Assert.True(reader.TryReadFrame(out CaptureFrame a));
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(a.Data, out ArraySegment<byte> segA));
        Assert.True(reader.TryReadFrame(out CaptureFrame b));
        Assert.True(System.Runtime.InteropServices.MemoryMarshal.TryGetArray(b.Data, out ArraySegment<byte> segB));
        Assert.Same(segA.Array, segB.Array);

        byte[] pcap = PcapFile.Header(false, false, 100, 1).Record(1, 1, [1, 2]).Record(2, 2, [3, 4, 5]).ToArray();
        Assert.Equal([[1, 2], [3, 4, 5]], ReadAll(pcap, reuseBuffer: true).Select(f => f.Data.ToArray()));
    }

    [Fact]
    public void Non_seekable_stream_reads_and_skips()
    {
        byte[] file = SampleNg(true).ToArray();
        using CaptureReader reader = CaptureFile.Open(new NonSeekableStream(new MemoryStream(file)));
        Assert.Equal(5, reader.Count());

        byte[] truncated = file[..^7];
        using CaptureReader bad = CaptureFile.Open(new NonSeekableStream(new MemoryStream(truncated)));
        var ex = Assert.Throws<CaptureFormatException>(() => bad.ToList());
        Assert.Contains("truncated", ex.Message);

        byte[] bigSkip = new PcapNgFile().Section(false).Unknown(false, 0x77, 70_000).ToArray();
        using CaptureReader skipper = CaptureFile.Open(new NonSeekableStream(new MemoryStream(bigSkip[..^100])));
        ex = Assert.Throws<CaptureFormatException>(() => skipper.ToList());
        Assert.Equal("truncated block of type 0x00000077 at offset 28: need 70012 bytes, have 69912", ex.Message);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Non_seekable_stream_large_frames_grow_their_buffer_and_lying_lengths_do_not_allocate(bool reuseBuffer)
    {
        var random = new Random(256);
        byte[] big = new byte[(3 * 1024 * 1024) + 5];
        random.NextBytes(big);
        byte[] pcap = PcapFile.Header(false, true, uint.MaxValue, 1).Record(1, 2, [1, 2, 3]).Record(3, 4, big).Record(5, 6, [4]).ToArray();
        byte[] ng = new PcapNgFile().Section(true).Interface(true, 1, 0).Enhanced(true, 0, 7, big).Enhanced(true, 0, 8, [5]).ToArray();
        foreach (byte[] file in new[] { pcap, ng })
        {
            using CaptureReader reader = CaptureFile.Open(new NonSeekableStream(new MemoryStream(file), maxRead: 4096), reuseBuffer: reuseBuffer);
            var sizes = new List<int>();
            foreach (CaptureFrame frame in reader)
            {
                sizes.Add(frame.CapturedLength);
                if (frame.CapturedLength == big.Length)
                {
                    Assert.True(frame.Data.Span.SequenceEqual(big));
                }
            }

            Assert.Contains(big.Length, sizes);
            Assert.Equal(file == pcap ? 3 : 2, sizes.Count);
        }

        // A record claiming 200 MiB in a 60-byte pipe: a clean error, and no 200 MiB buffer.
        byte[] liar = PcapFile.Header(false, false, uint.MaxValue, 1).U32(0).U32(0).U32(200 << 20).U32(200 << 20).Bytes(new byte[20]).ToArray();
        long before = GC.GetAllocatedBytesForCurrentThread();
        using CaptureReader lying = CaptureFile.Open(new NonSeekableStream(new MemoryStream(liar)), reuseBuffer: reuseBuffer);
        CaptureFormatException e = Assert.Throws<CaptureFormatException>(() => lying.TryReadFrame(out _));
        Assert.Equal("truncated packet data at offset 40: need 209715200 bytes, have 20", e.Message);
        Assert.InRange(GC.GetAllocatedBytesForCurrentThread() - before, 0, 8 << 20);
    }

    [Fact]
    public void Growing_file_frames_appended_after_the_end_are_read_later()
    {
        // Like reading a file a live capture is still writing: the end is not final.
        var stream = new MemoryStream();
        using var writer = new PcapWriter(stream, LinkType.Raw, leaveOpen: true);
        writer.WriteFrame(1000, [1]);
        stream.Position = 0;
        using CaptureReader reader = CaptureFile.Open(stream, leaveOpen: true);
        Assert.True(reader.TryReadFrame(out CaptureFrame first));
        Assert.False(reader.TryReadFrame(out _));

        long readPosition = stream.Position;
        stream.Position = stream.Length;
        writer.WriteFrame(2000, new byte[5000]);
        stream.Position = readPosition;
        Assert.True(reader.TryReadFrame(out CaptureFrame second));
        Assert.Equal(5000, second.CapturedLength);
        Assert.Equal(2, second.Index);
        Assert.Equal(1000, first.TimestampNanoseconds);
        Assert.Equal(2000, second.TimestampNanoseconds);
    }

    [Fact]
    public void Error_messages_name_offset_and_problem()
    {
        byte[] pcap = PcapFile.Header(false, false, 65535, 1).Record(1, 2, new byte[10]).ToArray();
        Assert.Equal("truncated record header at offset 50: need 16 bytes, have 7",
            Error([.. pcap, .. new byte[7]]).Message);
        Assert.Equal("truncated packet data at offset 40: need 10 bytes, have 3", Error(pcap[..43]).Message);
        Assert.Equal("truncated pcap file header at offset 0: need 24 bytes, have 10", Error(pcap[..10]).Message);
        Assert.Equal("truncated file magic number at offset 0: need 4 bytes, have 2", Error(pcap[..2]).Message);
        Assert.StartsWith("unknown magic number 00112233 at offset 0", Error([0x00, 0x11, 0x22, 0x33, 0, 0]).Message);

        byte[] huge = PcapFile.Header(true, false, 65535, 1).U32(0).U32(0).U32(300_000).U32(300_000).ToArray();
        CaptureFormatException e = Error(huge);
        Assert.Equal("record at offset 24: captured length 300000 exceeds the bound 262144 (snap length 65535)", e.Message);
        Assert.Equal(32, e.Offset);

        byte[] v3 = PcapFile.Header(false, false, 65535, 1).ToArray();
        v3[4] = 3;
        Assert.StartsWith("unsupported pcap version 3.4 at offset 4", Error(v3).Message);

        var ng = new PcapNgFile().Section(false).Interface(false, 1, 0);
        byte[] ngBytes = ng.ToArray();
        int at = ngBytes.Length;
        byte[] bad13 = [.. ngBytes, .. new ByteWriter(false).U32(6).U32(13).Bytes(new byte[20]).ToArray()];
        e = Error(bad13);
        Assert.Equal($"block length 13 at offset {at} is not a multiple of 4 (enhanced packet block)", e.Message);
        Assert.Equal(at + 4, e.Offset);

        byte[] mismatch = new PcapNgFile().Section(false).Interface(false, 1, 0).Enhanced(false, 0, 0, [1, 2, 3, 4]).ToArray();
        mismatch[^4] = 0x99;
        Assert.Equal($"enhanced packet block at offset {at}: block length 36 does not match the trailing copy 153", Error(mismatch).Message);

        byte[] noIface = new PcapNgFile().Section(false).Interface(false, 1, 0).Enhanced(false, 3, 0, [1]).ToArray();
        Assert.Equal($"enhanced packet block at offset {at}: interface id 3 is not described (the section has 1 interface description blocks)", Error(noIface).Message);

        byte[] noIdb = new PcapNgFile().Section(false).Simple(false, 4, [1, 2, 3, 4]).ToArray();
        Assert.Contains("interface id 0 is not described", Error(noIdb).Message);

        byte[] overrun = new PcapNgFile().Section(false).Interface(false, 1, 0).Block(false, 6, w => w.U32(0).U32(0).U32(0).U32(9).U32(9).U32(0)).ToArray();
        Assert.Equal($"enhanced packet block at offset {at}: captured length 9 does not fit in the block (4 bytes for data and options)", Error(overrun).Message);

        byte[] tooSmall = [.. ngBytes, .. new ByteWriter(false).U32(1).U32(16).U32(0).U32(16).ToArray()];
        Assert.Equal($"block length 16 at offset {at} is below the minimum 20 of a interface description block", Error(tooSmall).Message);

        byte[] beyond = [.. ngBytes, .. new ByteWriter(false).U32(0x99).U32(0xFFFF_FFF0).U32(0).ToArray()];
        Assert.Equal($"truncated block of type 0x00000099 at offset {at}: need 4294967280 bytes, have 12", Error(beyond).Message);

        byte[] badMagic = new PcapNgFile().Block(false, 0x0A0D0D0A, w => w.U32(0x12345678).U16(1).U16(0).U64(ulong.MaxValue)).ToArray();
        Assert.Equal("section header block at offset 0: byte-order magic 78563412 is neither 1a2b3c4d nor 4d3c2b1a", Error(badMagic).Message);

        byte[] v2 = new PcapNgFile().Section(true, major: 2).ToArray();
        Assert.Equal("section header block at offset 0: unsupported pcapng version 2.0", Error(v2).Message);

        byte[] badOption = new PcapNgFile().Section(false).Block(false, 1, w => w.U16(1).U16(0).U32(0).U16(9).U16(40).U32(0)).ToArray();
        Assert.Equal("interface description block at offset 28: option 9 at offset 44 has length 40, only 4 bytes left in the block", Error(badOption).Message);

        byte[] badResol = new PcapNgFile().Section(false).Interface(false, 1, 0, tsResol: 0xC0).ToArray();
        Assert.Contains("if_tsresol 0xc0 is finer than", Error(badResol).Message);

        byte[] farFuture = new PcapNgFile().Section(false).Interface(false, 1, 0, tsResol: 0).Enhanced(false, 0, ulong.MaxValue, []).ToArray();
        Assert.Contains("beyond the years 1677..2262", Error(farFuture).Message);
    }

    [Fact]
    public void Every_truncation_gives_capture_error_or_clean_end()
    {
        byte[] pcap = PcapFile.Header(true, true, 200, 1).Record(1, 2, new byte[13]).Record(3, 4, []).Record(5, 6, new byte[40]).ToArray();
        int[] pcapEnds = [24, 24 + 29, 24 + 29 + 16, pcap.Length];
        CheckTruncations(pcap, pcapEnds);

        PcapNgFile ng = SampleNg(false);
        int firstBlock = 28;
        CheckTruncations(ng.ToArray(), [.. ng.BlockEnds.Where(e => e >= firstBlock)]);
    }

    private static void CheckTruncations(byte[] file, int[] cleanEnds)
    {
        int fullCount = ReadAll(file).Count;
        for (int length = 0; length < file.Length; length++)
        {
            byte[] prefix = file[..length];
            if (cleanEnds.Contains(length))
            {
                Assert.True(ReadAll(prefix).Count < fullCount);
                continue;
            }

            CaptureFormatException e = Error(prefix);
            Assert.Contains("truncated", e.Message);
            Assert.Contains($"at offset {e.Offset}:", e.Message);
            Assert.InRange(e.Offset, 0, length);
        }
    }

    [Fact]
    public void Random_garbage_only_throws_capture_errors()
    {
        var random = new Random(1071);
        byte[][] magics = [[0xd4, 0xc3, 0xb2, 0xa1], [0xa1, 0xb2, 0x3c, 0x4d], [0x0a, 0x0d, 0x0d, 0x0a]];
        for (int i = 0; i < 3000; i++)
        {
            byte[] file = new byte[random.Next(0, 400)];
            random.NextBytes(file);
            if (file.Length >= 4 && random.Next(4) != 0)
            {
                magics[random.Next(magics.Length)].CopyTo(file, 0);
            }

            if (file.Length >= 14 && file[0] == 0x0a && random.Next(2) == 0)
            {
                // A plausible byte-order magic and version so the fuzzing reaches later blocks.
                new ByteWriter(false).U32(0x1A2B3C4D).U16(1).ToArray().CopyTo(file, 8);
            }

            ReadTolerant(file, pipe: i % 2 == 1);
        }
    }

    [Fact]
    public void Random_bit_flips_only_throw_capture_errors()
    {
        var random = new Random(1624);
        byte[][] valid =
        [
            SampleNg(false).ToArray(),
            SampleNg(true).ToArray(),
            PcapFile.Header(false, false, 64, 1).Record(1, 2, new byte[70]).Record(3, 4, [1, 2]).ToArray(),
            PcapFile.Header(true, true, 64, 228).Record(1, 2, new byte[7]).Record(3, 4, [1, 2]).ToArray(),
        ];
        int errors = 0;
        for (int i = 0; i < 4000; i++)
        {
            byte[] file = (byte[])valid[i % valid.Length].Clone();
            int flips = random.Next(1, 4);
            for (int f = 0; f < flips; f++)
            {
                int bit = random.Next(file.Length * 8);
                file[bit / 8] ^= (byte)(1 << (bit % 8));
            }

            if (i % 3 == 0)
            {
                // Also cut, insert or delete a few bytes: shifts every later length.
                int at = random.Next(file.Length);
                file = random.Next(3) switch
                {
                    0 => file[..at],
                    1 => [.. file[..at], .. new byte[random.Next(1, 9)], .. file[at..]],
                    _ => [.. file[..at], .. file[Math.Min(file.Length, at + random.Next(1, 9))..]],
                };
            }

            errors += ReadTolerant(file, pipe: i % 2 == 1) ? 0 : 1;
        }

        // Flipping bits of small files must often be detected (lengths, magics, trailers).
        Assert.InRange(errors, 1000, 4000);
    }

    private static bool ReadTolerant(byte[] file, bool pipe = false)
    {
        try
        {
            using CaptureReader reader = CaptureFile.Open(pipe ? new NonSeekableStream(new MemoryStream(file), maxRead: 7) : new MemoryStream(file));
            foreach (CaptureFrame frame in reader)
            {
                Assert.InRange(frame.CapturedLength, 0, file.Length);
                _ = frame.Timestamp;
            }

            return true;
        }
        catch (CaptureFormatException e)
        {
            Assert.Contains("offset", e.Message);
            Assert.InRange(e.Offset, 0, (long)file.Length + uint.MaxValue);
            return false;
        }
    }

    private static CaptureFormatException Error(byte[] file) =>
        Assert.Throws<CaptureFormatException>(() =>
        {
            using CaptureReader reader = CaptureFile.Open(new MemoryStream(file));
            while (reader.TryReadFrame(out _))
            {
            }
        });
}
