using Protocols.Ip;
using Protocols.Wire;

namespace Protocols.Interop;

/// <summary>
/// Answers the kernel by hand with the codecs, for device tests that run without a stack: ICMP
/// echo requests to <see cref="Address"/> get replies, ARP requests for it get an ARP reply.
/// </summary>
/// <param name="Address">The address answered for.</param>
/// <param name="Mac">Our hardware address (Ethernet only).</param>
public sealed record HandResponder(Ipv4Address Address, MacAddress Mac)
{
    /// <summary>Echo requests answered.</summary>
    public int EchoesAnswered { get; private set; }

    /// <summary>ARP requests answered.</summary>
    public int ArpAnswered { get; private set; }

    /// <summary>Frames whose Ethernet source was our own address (a looped-back send).</summary>
    public int OwnFramesSeen { get; private set; }

    /// <summary>Writes the reply to the IPv4 packet <paramref name="packet"/> into <paramref name="reply"/>; returns its length or 0.</summary>
    public int AnswerIp(ReadOnlySpan<byte> packet, Span<byte> reply)
    {
        if (!Ipv4Header.TryRead(packet, out Ipv4Header.Reader ip, out _) || ip.Protocol != IpProtocol.Icmp
            || ip.Destination != Address || ip.MoreFragments || ip.FragmentOffset != 0)
        {
            return 0;
        }

        if (!IcmpEchoHeader.TryRead(ip.Payload, out IcmpEchoHeader.Reader echo, out _) || echo.Type != IcmpType.EchoRequest)
        {
            return 0;
        }

        Span<byte> icmp = stackalloc byte[ip.Payload.Length];
        int icmpLength = IcmpMessage.WriteEcho(icmp, IcmpType.EchoReply, echo.Identifier, echo.SequenceNumber, echo.Payload);
        var header = new Ipv4Header
        {
            Ttl = 64,
            Protocol = IpProtocol.Icmp,
            Identification = (ushort)(EchoesAnswered + 1),
            Source = Address,
            Destination = ip.Source,
        };
        EchoesAnswered++;
        return Ipv4Packet.Write(reply, header, default, icmp[..icmpLength]);
    }

    /// <summary>Writes the reply to the Ethernet frame <paramref name="frame"/> (ARP or IPv4) into <paramref name="reply"/>; returns its length or 0.</summary>
    public int AnswerEthernet(ReadOnlySpan<byte> frame, Span<byte> reply)
    {
        if (!EthernetHeader.TryRead(frame, out EthernetHeader.Reader ethernet, out _))
        {
            return 0;
        }

        if (ethernet.Source == Mac)
        {
            OwnFramesSeen++;
            return 0;
        }

        Span<byte> body = reply[EthernetHeader.FixedLength..];
        int length = 0;
        if (ethernet.EtherType == EtherType.Arp)
        {
            if (ArpPacket.TryRead(ethernet.Payload, out ArpPacket.Reader arp, out _) && arp.Operation == ArpOperation.Request && arp.TargetProtocolAddress == Address)
            {
                // RFC 826: swap sender and target, put our addresses in the sender fields, opcode reply.
                length = new ArpPacket
                {
                    Operation = ArpOperation.Reply,
                    SenderHardwareAddress = Mac,
                    SenderProtocolAddress = Address,
                    TargetHardwareAddress = arp.SenderHardwareAddress,
                    TargetProtocolAddress = arp.SenderProtocolAddress,
                }.WriteTo(body);
                ArpAnswered++;
            }
        }
        else if (ethernet.EtherType == EtherType.Ipv4)
        {
            length = AnswerIp(ethernet.Payload, body);
        }

        if (length == 0)
        {
            return 0;
        }

        new EthernetHeader { Destination = ethernet.Source, Source = Mac, EtherType = ethernet.EtherType == EtherType.Arp ? EtherType.Arp : EtherType.Ipv4 }.WriteTo(reply);
        return EthernetHeader.FixedLength + length;
    }
}
