using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Fuzz.Targets;

/// <summary>The IPv4 (RFC 791 3.1) and TCP (RFC 9293 3.1, RFC 7323, RFC 2018) option walkers and writers.</summary>
internal static class OptionTargets
{
    private static readonly List<HexAnnotation> Annotations = [];

    /// <summary>
    /// Walks an options region (up to 40 bytes as in a header; longer inputs are cut): options are
    /// contiguous from the start, each within the region, and writing each one back with
    /// <see cref="Ipv4OptionWriter"/> gives the bytes walked.
    /// </summary>
    public static void Ipv4Options(ReadOnlySpan<byte> input)
    {
        ReadOnlySpan<byte> region = input[..Math.Min(input.Length, Ipv4OptionWriter.MaxOptionsLength)];
        Span<byte> rewritten = stackalloc byte[Ipv4OptionWriter.MaxOptionsLength];
        var writer = new Ipv4OptionWriter(rewritten);
        var reader = new Ipv4OptionReader(region);
        int expectedOffset = Ipv4OptionReader.OptionsOffset;
        int count = 0;
        while (reader.TryReadNext(out Ipv4Option option, out WireError error))
        {
            Check.True(!error.IsError, "IPv4 options: an option came with an error");
            Check.Equal(expectedOffset, option.Offset, "IPv4 options: option offset");
            Check.True(option.Length >= 1 && Check.Within(region, option.Bytes), "IPv4 options: option outside the region");
            expectedOffset += option.Length;
            count++;
            _ = option.ToString();
            switch (option.Kind)
            {
                case Ipv4OptionKind.EndOfOptionList:
                    writer.WriteEndOfList();
                    break;
                case Ipv4OptionKind.NoOperation:
                    writer.WriteNoOperation();
                    break;
                default:
                    writer.WriteOption(option.Type, option.Bytes[2..]);
                    break;
            }

            if (option.TryGetRoute(out Ipv4RouteOption route))
            {
                Check.True(route.RecordedCount >= 0 && route.RecordedCount <= route.SlotCount, $"IPv4 options: {route.RecordedCount} of {route.SlotCount} route slots recorded");
                for (int i = 0; i < route.SlotCount; i++)
                {
                    _ = route.GetAddress(i);
                }
            }

            if (option.TryGetTimestamp(out Ipv4TimestampOption timestamp))
            {
                Check.True(timestamp.RecordedCount >= 0 && timestamp.RecordedCount <= timestamp.SlotCount, $"IPv4 options: {timestamp.RecordedCount} of {timestamp.SlotCount} timestamp slots recorded");
                for (int i = 0; i < timestamp.SlotCount; i++)
                {
                    _ = timestamp.GetEntry(i);
                }
            }
        }

        Check.True(count <= region.Length, "IPv4 options: more options than bytes");
        int walked = expectedOffset - Ipv4OptionReader.OptionsOffset;
        Check.Equal(region[..walked], writer.Written, "IPv4 options: options written back");
        bool valid = Ipv4OptionReader.Validate(region, out WireError validateError);
        Check.Equal(reader.Error, validateError, "IPv4 options: Validate and the walk disagree");
        if (valid)
        {
            Check.Equal(walked + reader.Padding.Length, region.Length, "IPv4 options: a valid region is options then padding");
        }
        else
        {
            Check.True(validateError.Layer == "IPv4" && validateError.Offset >= Ipv4OptionReader.OptionsOffset + walked, $"IPv4 options: error {validateError} before the first bad option at {walked}");
        }

        Annotations.Clear();
        Ipv4OptionReader.Annotate(region, Ipv4OptionReader.OptionsOffset, Annotations);
    }

    /// <summary>
    /// Walks a TCP options region (up to 40 bytes): options are contiguous, the parsed value form
    /// agrees with the walk, each option written back raw gives the bytes walked, and the value form
    /// written in the canonical layout parses to the same values.
    /// </summary>
    public static void TcpOptions(ReadOnlySpan<byte> input)
    {
        ReadOnlySpan<byte> region = input[..Math.Min(input.Length, Tcp.TcpOptions.MaxLength)];
        Span<byte> rewritten = stackalloc byte[Tcp.TcpOptions.MaxLength];
        var writer = new TcpOptionWriter(rewritten);
        var reader = new TcpOptionReader(region);
        int expectedOffset = 0;
        while (reader.TryReadNext(out TcpOption option, out WireError error))
        {
            Check.True(!error.IsError, "TCP options: an option came with an error");
            Check.Equal(expectedOffset, option.Offset, "TCP options: option offset");
            Check.True(Check.Within(region, option.Bytes), "TCP options: option outside the region");
            expectedOffset += option.Length;
            _ = option.ToString();
            switch (option.Kind)
            {
                case TcpOptionKind.EndOfOptionList:
                    writer.WriteEndOfOptionList();
                    break;
                case TcpOptionKind.NoOperation:
                    writer.WriteNoOperation();
                    break;
                default:
                    writer.WriteOption((byte)option.Kind, option.Data);
                    break;
            }

            for (int i = 0; i < option.SackBlockCount; i++)
            {
                _ = option.GetSackBlock(i);
            }
        }

        Check.Equal(region[..expectedOffset], writer.Written, "TCP options: options written back");
        bool parsed = Tcp.TcpOptions.TryParse(region, out TcpOptions options, out WireError parseError);
        Check.Equal(!reader.HasError, parsed, $"TCP options: TryParse and the walk disagree ({parseError})");
        Check.Equal(reader.Error, parseError, "TCP options: TryParse error");
        Check.Equal(parsed, TcpOptionReader.Validate(region, out _), "TCP options: Validate and TryParse disagree");
        Annotations.Clear();
        TcpOptionReader.Annotate(region, 20, Annotations);
        if (!parsed)
        {
            Check.True(parseError.Layer == "TCP" && parseError.Offset >= expectedOffset, $"TCP options: error {parseError} before the first bad option at {expectedOffset}");
            return;
        }

        _ = options.ToString();
        Span<byte> canonical = stackalloc byte[Tcp.TcpOptions.MaxLength];
        bool fits = options.TryWriteTo(canonical, out int written);
        Check.Equal(options.GetEncodedLength() <= Tcp.TcpOptions.MaxLength, fits, $"TCP options: TryWriteTo of {options.GetEncodedLength()} bytes");
        if (!fits)
        {
            return;
        }

        Check.True(written % 4 == 0, $"TCP options: {written} bytes written, not a multiple of 4");
        Check.True(Tcp.TcpOptions.TryParse(canonical[..written], out TcpOptions again, out WireError againError), $"TCP options: written options do not parse: {againError}");

        // RFC 7323 2.3: a shift above 14 is written as 14; unknown kinds are not written.
        TcpOptions expected = options;
        expected.UnknownOptionCount = 0;
        if (expected.WindowScale > TcpOption.MaxWindowScaleShift)
        {
            expected.WindowScale = TcpOption.MaxWindowScaleShift;
        }

        Check.Equal(expected, again, "TCP options: value form written and read back");
    }
}
