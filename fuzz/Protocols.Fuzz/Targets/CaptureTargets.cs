using Protocols.Wire.Capture;

namespace Protocols.Fuzz.Targets;

/// <summary>The pcap and pcapng readers (draft-ietf-opsawg-pcap, draft-ietf-opsawg-pcapng) on a whole file.</summary>
internal static class CaptureTargets
{
    public static void Pcap(ReadOnlySpan<byte> input) => Capture(input, CaptureFormat.Pcap);

    public static void PcapNg(ReadOnlySpan<byte> input) => Capture(input, CaptureFormat.PcapNg);

    /// <summary>
    /// Reads the file twice (owned frames, then one reused buffer): the only exception is
    /// <see cref="CaptureFormatException"/> at an offset inside the file, both reads give the same
    /// frames, no frame is longer than the file, and the frames written to a new pcap read back equal.
    /// </summary>
    private static void Capture(ReadOnlySpan<byte> input, CaptureFormat format)
    {
        byte[] file = input.ToArray();
        Check.Equal(CaptureFile.Detect(input) == format, IsMagic(input, format), $"{format}: Detect");
        List<CaptureFrame> frames = Read(file, format, reuseBuffer: false, out CaptureFormatException? failure);
        List<CaptureFrame> again = Read(file, format, reuseBuffer: true, out CaptureFormatException? failureAgain);
        Check.Equal(failure?.Message, failureAgain?.Message, $"{format}: reading with a reused buffer failed differently");
        Check.Equal(frames.Count, again.Count, $"{format}: frames read with a reused buffer");
        for (int i = 0; i < frames.Count; i++)
        {
            Same(frames[i], again[i], $"{format}: frame {i} read with a reused buffer");
        }

        RoundTrip(frames, format);
    }

    private static bool IsMagic(ReadOnlySpan<byte> input, CaptureFormat format)
    {
        if (input.Length < 4)
        {
            return false;
        }

        uint magic = BitConverter.ToUInt32(input[..4]);
        return format == CaptureFormat.PcapNg
            ? magic == 0x0A0D0D0A
            : magic is 0xA1B2C3D4 or 0xD4C3B2A1 or 0xA1B23C4D or 0x4D3CB2A1;
    }

    private static List<CaptureFrame> Read(byte[] file, CaptureFormat format, bool reuseBuffer, out CaptureFormatException? failure)
    {
        var frames = new List<CaptureFrame>();
        failure = null;
        var stream = new MemoryStream(file, writable: false);
        try
        {
            using CaptureReader reader = format == CaptureFormat.Pcap
                ? new PcapReader(stream, leaveOpen: false, reuseBuffer)
                : new PcapNgReader(stream, leaveOpen: false, reuseBuffer);
            Check.Equal(format, reader.Format, "capture: format");
            while (reader.TryReadFrame(out CaptureFrame frame))
            {
                Check.True(frame.Data.Length <= file.Length && frame.Data.Length <= CaptureReader.MaxFrameLength, $"{format}: a frame of {frame.Data.Length} bytes from a file of {file.Length}");
                Check.True(frame.OriginalLength >= 0, $"{format}: original length {frame.OriginalLength}");
                Check.True(reader.Position <= file.Length, $"{format}: position {reader.Position} past the end of {file.Length} bytes");
                Check.Equal(reader.FramesRead, frames.Count + 1L, $"{format}: frames read");
                Check.True(frames.Count < file.Length / 12, $"{format}: more frames than the file can hold");
                _ = frame.Timestamp;
                _ = frame.NanosecondOfSecond;
                frames.Add(frame with { Data = frame.Data.ToArray() });
            }
        }
        catch (CaptureFormatException e)
        {
            Check.True(e.Offset >= 0 && e.Offset <= file.Length && e.Message.Length > 0, $"{format}: error at offset {e.Offset} of a {file.Length}-byte file: {e.Message}");
            failure = e;
        }

        return frames;
    }

    /// <summary>Frames with one link type and timestamps pcap can hold, written to a nanosecond pcap, read back the same.</summary>
    private static void RoundTrip(List<CaptureFrame> frames, CaptureFormat format)
    {
        if (frames.Count == 0 || frames.Exists(f => f.LinkType != frames[0].LinkType || f.TimestampNanoseconds < 0 || f.TimestampNanoseconds / 1_000_000_000 > uint.MaxValue || f.OriginalLength > uint.MaxValue))
        {
            return;
        }

        var file = new MemoryStream();
        using (var writer = new PcapWriter(file, frames[0].LinkType, snapLength: CaptureReader.MaxFrameLength, nanosecond: true, leaveOpen: true))
        {
            foreach (CaptureFrame frame in frames)
            {
                writer.WriteFrame(frame);
            }
        }

        file.Position = 0;
        using var reader = new PcapReader(file);
        int i = 0;
        while (reader.TryReadFrame(out CaptureFrame back))
        {
            Check.True(i < frames.Count, $"{format}: more frames read back than written");
            CaptureFrame original = frames[i];
            Check.Equal(original.TimestampNanoseconds, back.TimestampNanoseconds, $"{format}: frame {i} timestamp written and read back");
            Check.Equal(Math.Max(original.OriginalLength, original.Data.Length), back.OriginalLength, $"{format}: frame {i} original length written and read back");
            Check.Equal(original.Data.Span, back.Data.Span, $"{format}: frame {i} written and read back");
            Check.Equal(original.LinkType, back.LinkType, $"{format}: frame {i} link type");
            i++;
        }

        Check.Equal(frames.Count, i, $"{format}: frames read back");
    }

    private static void Same(in CaptureFrame a, in CaptureFrame b, string what)
    {
        Check.True(a.Index == b.Index && a.TimestampNanoseconds == b.TimestampNanoseconds && a.OriginalLength == b.OriginalLength && a.LinkType == b.LinkType && a.InterfaceId == b.InterfaceId && a.HasTimestamp == b.HasTimestamp, what);
        Check.Equal(a.Data.Span, b.Data.Span, what);
    }
}
