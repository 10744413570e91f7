using Protocols.Ip;
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
    private readonly PacketFormatter _formatter;
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

    public DemoTraceDevice(INetworkDevice inner, DemoConsole console, PacketFormatter formatter)
        : base(inner)
    {
        _console = console;
        _formatter = formatter;
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
            _console.Packet(outbound, _formatter.Format(frame, Medium) + note);
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
        ReadOnlySpan<byte> packet = frame;
        if (Medium == DeviceMedium.Ethernet)
        {
            if (!EthernetHeader.TryRead(frame, out EthernetHeader.Reader ethernet) || ethernet.EtherType != EtherType.Ipv4)
            {
                return false;
            }

            packet = ethernet.Payload;
        }

        if (!Ipv4Header.TryRead(packet, out Ipv4Header.Reader ip) || ip.Protocol != IpProtocol.Tcp
            || !TcpHeader.TryRead(ip.Payload, out TcpHeader.Reader tcp))
        {
            return false;
        }

        seq = tcp.SequenceNumber;
        flags = tcp.GetFlags();
        payload = tcp.Payload.Length;
        return true;
    }
}
