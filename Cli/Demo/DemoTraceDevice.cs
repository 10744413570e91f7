using System.Buffers.Binary;
using Protocols.Ip.Devices;
using Protocols.Tcp;
using Protocols.Wire;

namespace Protocols.Cli.Demo;

/// <summary>
/// The demo's packet tap on the client's link end: every frame is described like tcpdump, but a
/// bulk transfer would print hundreds of alike lines, so after the first few full-sized data
/// segments (and their ACKs) it counts instead of printing, and says how many lines it skipped
/// when something worth showing comes by again (a SYN, FIN or RST, a small segment, one of the
/// first retransmissions).
/// </summary>
internal sealed class DemoTraceDevice : FrameObservingDevice
{
    private const int ShownFullSegments = 4;
    private const int ShownRetransmissions = 3;
    private const int FullSegmentBytes = 1000;

    private readonly DemoConsole _console;
    private readonly Lock _lock = new();
    private int _fullSegments;
    private int _retransmissions;
    private long _skippedFrames;
    private long _skippedBytes;
    private uint _highestSeqOut;
    private uint _highestSeqIn;
    private bool _seenOut;
    private bool _seenIn;
    private bool _closing;

    public DemoTraceDevice(INetworkDevice inner, DemoConsole console)
        : base(inner)
    {
        _console = console;
    }

    /// <summary>Frames shown and skipped so far.</summary>
    public long Frames { get; private set; }

    protected override void OnFrame(ReadOnlySpan<byte> frame, bool outbound) => Trace(frame, outbound);

    /// <summary>Prints the count of frames skipped since the last line shown, if any.</summary>
    public void FlushSkipped()
    {
        lock (_lock)
        {
            WriteSkipped();
        }
    }

    private void Trace(ReadOnlySpan<byte> frame, bool outbound)
    {
        lock (_lock)
        {
            Frames++;
            bool show = true;
            string note = string.Empty;
            if (TryReadTcp(frame, out TcpFlags flags, out uint seq, out int payload))
            {
                ref uint highest = ref outbound ? ref _highestSeqOut : ref _highestSeqIn;
                ref bool seen = ref outbound ? ref _seenOut : ref _seenIn;
                bool retransmission = payload > 0 && seen && (int)(seq - highest) < 0;
                uint end = seq + (uint)payload;
                if (!seen || (int)(end - highest) > 0)
                {
                    highest = end;
                    seen = true;
                }

                bool control = (flags & (TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Rst)) != 0;
                _closing |= (flags & (TcpFlags.Fin | TcpFlags.Rst)) != 0;
                if (_closing)
                {
                    // The close is short and worth every line.
                    show = true;
                }
                else if (retransmission)
                {
                    show = control || ++_retransmissions <= ShownRetransmissions;
                    note = "  <- retransmission";
                }
                else if (!control && payload >= FullSegmentBytes)
                {
                    show = ++_fullSegments <= ShownFullSegments;
                }
                else if (!control)
                {
                    // Once the bulk flows, small segments (record tails) and pure ACKs are part of it.
                    show = _fullSegments < ShownFullSegments;
                }

                if (!show)
                {
                    _skippedFrames++;
                    _skippedBytes += payload;
                    return;
                }
            }

            WriteSkipped();
            _console.Packet(outbound, PacketFormatter.Default.Format(frame, Medium) + note);
        }
    }

    private void WriteSkipped()
    {
        if (_skippedFrames > 0)
        {
            _console.Note($"... {_skippedFrames} more segments ({DemoConsole.Bytes(_skippedBytes)} of payload) not shown ...");
            _skippedFrames = 0;
            _skippedBytes = 0;
        }
    }

    private bool TryReadTcp(ReadOnlySpan<byte> frame, out TcpFlags flags, out uint seq, out int payload)
    {
        flags = default;
        seq = 0;
        payload = 0;
        ReadOnlySpan<byte> ip = Medium == DeviceMedium.Ethernet ? (frame.Length > 14 ? frame[14..] : default) : frame;

        // RFC 791 3.1: version/IHL, total length, protocol; RFC 9293 3.1: seq at 4, data offset and flags at 12-13.
        if (ip.Length < 20 || ip[0] >> 4 != 4 || ip[9] != 6)
        {
            return false;
        }

        int ihl = (ip[0] & 0x0f) * 4;
        int total = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        if (ihl < 20 || total > ip.Length || total < ihl + 20)
        {
            return false;
        }

        ReadOnlySpan<byte> tcp = ip[ihl..total];
        int dataOffset = (tcp[12] >> 4) * 4;
        if (dataOffset < 20 || dataOffset > tcp.Length)
        {
            return false;
        }

        seq = BinaryPrimitives.ReadUInt32BigEndian(tcp[4..]);
        flags = (TcpFlags)tcp[13];
        payload = tcp.Length - dataOffset;
        return true;
    }
}
