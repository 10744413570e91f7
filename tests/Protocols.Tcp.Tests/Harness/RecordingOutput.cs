using Protocols.Tcp.Engine;
using Protocols.Wire;

namespace Protocols.Tcp.Tests.Harness;

/// <summary>A segment one side sent: its header fields, a copy of its payload, when and by whom.</summary>
internal sealed record SentSegment(bool FromA, long Time, TcpOutgoingSegment Header, byte[] Payload)
{
    public TcpFlags Flags => Header.Flags;

    public uint Seq => Header.Seq.Value;

    public uint Ack => Header.Ack.Value;

    public bool Has(TcpFlags f) => (Header.Flags & f) == f;

    public TcpSegment ToSegment() => new(Header.Seq, Header.Ack, Header.Flags, Header.Window, Header.Options, Payload);

    public override string ToString() => FormattableString.Invariant($"{Time / 1000.0}ms {(FromA ? "A>B" : "B>A")} {Header} len {Payload.Length}");
}

/// <summary>Records what a TCB sends.</summary>
internal sealed class RecordingOutput : ITcpSegmentOutput
{
    private readonly Func<long> _now;
    private readonly bool _fromA;

    public RecordingOutput(Func<long> now, bool fromA = true)
    {
        _now = now;
        _fromA = fromA;
    }

    public List<SentSegment> Sent { get; } = [];

    public Action<SentSegment>? OnSend { get; set; }

    public void Send(in TcpFourTuple tuple, in TcpOutgoingSegment segment, ReadOnlySpan<byte> payload1, ReadOnlySpan<byte> payload2)
    {
        var s = new SentSegment(_fromA, _now(), segment, [.. payload1, .. payload2]);
        Sent.Add(s);
        OnSend?.Invoke(s);
    }

    public List<SentSegment> Take()
    {
        List<SentSegment> copy = [.. Sent];
        Sent.Clear();
        return copy;
    }
}
