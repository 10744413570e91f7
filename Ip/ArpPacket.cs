using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>The ARP opcode (RFC 826 "ar$op").</summary>
public enum ArpOperation : ushort
{
    /// <summary>ares_op$REQUEST: who has the target protocol address?</summary>
    Request = 1,

    /// <summary>ares_op$REPLY: the sender hardware address answers for the sender protocol address.</summary>
    Reply = 2,
}

/// <summary>
/// An ARP packet for IPv4 over Ethernet (RFC 826): hardware type 1 (Ethernet), protocol type
/// 0x0800 (IPv4), 6-byte hardware and 4-byte protocol addresses. 28 bytes. Other hardware or
/// protocol combinations are rejected by <c>TryRead</c> as invalid constant values.
/// </summary>
[WireHeader("ARP")]
public partial struct ArpPacket
{
    /// <summary>ar$hrd: 1 for Ethernet (RFC 826, IANA hardware types).</summary>
    [Const(1)]
    public ushort HardwareType;

    /// <summary>ar$pro: the EtherType of the protocol, 0x0800 for IPv4.</summary>
    [Const(0x0800)]
    public ushort ProtocolType;

    /// <summary>ar$hln: 6, the length of a MAC address.</summary>
    [Const(6)]
    public byte HardwareLength;

    /// <summary>ar$pln: 4, the length of an IPv4 address.</summary>
    [Const(4)]
    public byte ProtocolLength;

    /// <summary>ar$op: request or reply.</summary>
    public ArpOperation Operation;

    /// <summary>ar$sha: the sender's MAC address.</summary>
    public MacAddress SenderHardwareAddress;

    /// <summary>ar$spa: the sender's IPv4 address.</summary>
    public Ipv4Address SenderProtocolAddress;

    /// <summary>ar$tha: the target's MAC address (zero, or ignored, in a request).</summary>
    public MacAddress TargetHardwareAddress;

    /// <summary>ar$tpa: the target's IPv4 address.</summary>
    public Ipv4Address TargetProtocolAddress;
}
