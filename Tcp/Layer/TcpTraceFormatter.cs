using System.Globalization;
using System.Text;
using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Wire;

namespace Protocols.Tcp;

/// <summary>
/// Describes TCP segments for trace lines the way <c>tcpdump -n -S</c> does:
/// <c>Flags [S.], seq 1000, ack 2001, win 65535, options [mss 1460,nop,wscale 7], length 0</c>.
/// <see cref="TcpStackExtensions.UseTcp"/> registers it with the stack's <see cref="NetworkStack.PacketFormatter"/>,
/// so <see cref="TracingDevice"/> lines of TCP traffic read like tcpdump's.
/// </summary>
/// <remarks>Sequence numbers are absolute (tcpdump's <c>-S</c>): the formatter keeps no state. Never throws.</remarks>
public static class TcpTraceFormatter
{
    /// <summary>Registers <see cref="Format"/> for IP protocol 6 with <paramref name="formatter"/>.</summary>
    /// <param name="formatter">The formatter (a stack's <see cref="NetworkStack.PacketFormatter"/>, or one of a tracer's own).</param>
    public static void Register(PacketFormatter formatter)
    {
        ArgumentNullException.ThrowIfNull(formatter);
        formatter.Register(IpProtocol.Tcp, Format);
    }

    /// <summary>The description of one TCP segment (header and data); for one that cannot be read, what is wrong with it.</summary>
    /// <param name="segment">The IP payload.</param>
    /// <returns>The text after <c>IP a.b.c.d.port &gt; e.f.g.h.port: </c>.</returns>
    public static string? Format(ReadOnlySpan<byte> segment)
    {
        if (!TcpHeader.TryRead(segment, out TcpHeader.Reader tcp, out WireError error))
        {
            return string.Create(CultureInfo.InvariantCulture, $"TCP [invalid: {error.ToString()}], length {segment.Length}");
        }

        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder(96);
        TcpFlags flags = tcp.GetFlags();
        text.Append("Flags [");
        AppendFlags(text, flags);
        text.Append(']');

        // tcpdump prints "seq first:last" for segments with data (last = first + data length) and
        // "seq first" otherwise; SYN-only and RST-only segments print it too.
        int length = tcp.Payload.Length;
        uint seq = tcp.SequenceNumber;
        if (length > 0)
        {
            text.Append(inv, $", seq {seq}:{unchecked(seq + (uint)length)}");
        }
        else if ((flags & (TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Rst)) != 0 || (flags & TcpFlags.Ack) == 0)
        {
            text.Append(inv, $", seq {seq}");
        }

        if ((flags & TcpFlags.Ack) != 0)
        {
            text.Append(inv, $", ack {tcp.AcknowledgmentNumber}");
        }

        text.Append(inv, $", win {tcp.Window}");
        if ((flags & TcpFlags.Urg) != 0)
        {
            text.Append(inv, $", urg {tcp.UrgentPointer}");
        }

        if (!tcp.Options.IsEmpty)
        {
            text.Append(", options [");
            AppendOptions(text, tcp.Options);
            text.Append(']');
        }

        text.Append(inv, $", length {length}");
        return text.ToString();
    }

    // tcpdump's order (print-tcp.c tcp_flag_values): F S R P . U E W.
    private static void AppendFlags(StringBuilder text, TcpFlags flags)
    {
        if (flags == TcpFlags.None)
        {
            text.Append("none");
            return;
        }

        if ((flags & TcpFlags.Fin) != 0)
        {
            text.Append('F');
        }

        if ((flags & TcpFlags.Syn) != 0)
        {
            text.Append('S');
        }

        if ((flags & TcpFlags.Rst) != 0)
        {
            text.Append('R');
        }

        if ((flags & TcpFlags.Psh) != 0)
        {
            text.Append('P');
        }

        if ((flags & TcpFlags.Ack) != 0)
        {
            text.Append('.');
        }

        if ((flags & TcpFlags.Urg) != 0)
        {
            text.Append('U');
        }

        if ((flags & TcpFlags.Ece) != 0)
        {
            text.Append('E');
        }

        if ((flags & TcpFlags.Cwr) != 0)
        {
            text.Append('W');
        }
    }

    private static void AppendOptions(StringBuilder text, ReadOnlySpan<byte> region)
    {
        var inv = CultureInfo.InvariantCulture;
        var reader = new TcpOptionReader(region);
        bool first = true;
        while (reader.TryReadNext(out TcpOption option))
        {
            if (!first)
            {
                text.Append(',');
            }

            first = false;
            switch (option.Kind)
            {
                case TcpOptionKind.EndOfOptionList:
                    text.Append("eol");
                    break;
                case TcpOptionKind.NoOperation:
                    text.Append("nop");
                    break;
                case TcpOptionKind.MaximumSegmentSize:
                    text.Append(inv, $"mss {option.Mss}");
                    break;
                case TcpOptionKind.WindowScale:
                    text.Append(inv, $"wscale {option.WindowScaleShift}");
                    break;
                case TcpOptionKind.SackPermitted:
                    text.Append("sackOK");
                    break;
                case TcpOptionKind.Sack:
                    text.Append(inv, $"sack {option.SackBlockCount}");
                    for (int i = 0; i < option.SackBlockCount; i++)
                    {
                        TcpSackBlock block = option.GetSackBlock(i);
                        text.Append(inv, $" {{{block.LeftEdge}:{block.RightEdge}}}");
                    }

                    break;
                case TcpOptionKind.Timestamps:
                    TcpTimestamps ts = option.Timestamps;
                    text.Append(inv, $"TS val {ts.TsVal} ecr {ts.TsEcr}");
                    break;
                default:
                    text.Append(inv, $"unknown-{(byte)option.Kind} len {option.Length}");
                    break;
            }
        }

        if (reader.HasError)
        {
            text.Append(first ? "bad opt" : ",bad opt");
        }
    }
}
