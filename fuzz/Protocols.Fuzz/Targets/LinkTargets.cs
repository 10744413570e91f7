using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Fuzz.Targets;

/// <summary>Ethernet II and ARP (RFC 826) readers.</summary>
internal static class LinkTargets
{
    private static readonly List<HexAnnotation> Annotations = [];

    public static void Ethernet(ReadOnlySpan<byte> input)
    {
        bool ok = EthernetHeader.TryRead(input, out EthernetHeader.Reader r, out WireError e);
        bool fast = EthernetHeader.TryRead(input, out _);
        bool okHeader = EthernetHeader.TryReadHeader(input, out EthernetHeader.Reader h, out WireError eh);
        ReaderChecks.Agree(EthernetHeader.LayerName, EthernetHeader.FixedLength, input, fast,
            new(ok, e, r.Bytes, r.HeaderLength, r.DeclaredLength, r.IsTruncated, r.Header, r.Options, r.Payload),
            new(okHeader, eh, h.Bytes, h.HeaderLength, h.DeclaredLength, h.IsTruncated, h.Header, h.Options, h.Payload));
        if (!ok)
        {
            return;
        }

        Span<byte> written = stackalloc byte[EthernetHeader.FixedLength];
        r.ToValue().WriteTo(written);
        ReaderChecks.RoundTrip(EthernetHeader.LayerName, input, written);
        Check.Equal(r.Source, MacAddress.Create(r.SourceBytes), "Ethernet source address");
        Annotate(r.Header, r.ToString());
    }

    public static void Arp(ReadOnlySpan<byte> input)
    {
        bool ok = ArpPacket.TryRead(input, out ArpPacket.Reader r, out WireError e);
        bool fast = ArpPacket.TryRead(input, out _);
        bool okHeader = ArpPacket.TryReadHeader(input, out ArpPacket.Reader h, out WireError eh);
        ReaderChecks.Agree(ArpPacket.LayerName, ArpPacket.FixedLength, input, fast,
            new(ok, e, r.Bytes, r.HeaderLength, r.DeclaredLength, r.IsTruncated, r.Header, r.Options, r.Payload),
            new(okHeader, eh, h.Bytes, h.HeaderLength, h.DeclaredLength, h.IsTruncated, h.Header, h.Options, h.Payload));
        if (!ok)
        {
            return;
        }

        Span<byte> written = stackalloc byte[ArpPacket.FixedLength];
        r.ToValue().WriteTo(written);
        ReaderChecks.RoundTrip(ArpPacket.LayerName, input, written);
        _ = r.ToString();
        Annotations.Clear();
        ArpPacket.Annotate(r.Header, 0, Annotations);
    }

    private static void Annotate(ReadOnlySpan<byte> header, string text)
    {
        Check.True(text.Length > 0, "empty ToString");
        Annotations.Clear();
        EthernetHeader.Annotate(header, 0, Annotations);
        Check.True(Annotations.Count > 0, "Ethernet: no annotations for a valid header");
    }
}
