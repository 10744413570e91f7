using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>ICMPv6 message types (RFC 4443 2.1; RFC 4861 4 for neighbour discovery; RFC 3810 for MLDv2).</summary>
/// <remarks>Types 0-127 are errors, 128-255 informational (RFC 4443 2.1).</remarks>
public enum Icmpv6Type : byte
{
    /// <summary>1: destination unreachable (codes in <see cref="Icmpv6UnreachableCode"/>).</summary>
    DestinationUnreachable = 1,

    /// <summary>2: packet too big, with the next-hop MTU (RFC 4443 3.2, RFC 8201).</summary>
    PacketTooBig = 2,

    /// <summary>3: time exceeded (codes in <see cref="Icmpv6TimeExceededCode"/>).</summary>
    TimeExceeded = 3,

    /// <summary>4: parameter problem (codes in <see cref="Icmpv6ParameterProblemCode"/>), with a pointer.</summary>
    ParameterProblem = 4,

    /// <summary>128: echo request.</summary>
    EchoRequest = 128,

    /// <summary>129: echo reply.</summary>
    EchoReply = 129,

    /// <summary>130: multicast listener query (RFC 2710, RFC 3810 5.1).</summary>
    MulticastListenerQuery = 130,

    /// <summary>131: version 1 multicast listener report (RFC 2710).</summary>
    MulticastListenerReport = 131,

    /// <summary>132: version 1 multicast listener done (RFC 2710).</summary>
    MulticastListenerDone = 132,

    /// <summary>133: router solicitation (RFC 4861 4.1).</summary>
    RouterSolicitation = 133,

    /// <summary>134: router advertisement (RFC 4861 4.2).</summary>
    RouterAdvertisement = 134,

    /// <summary>135: neighbor solicitation (RFC 4861 4.3).</summary>
    NeighborSolicitation = 135,

    /// <summary>136: neighbor advertisement (RFC 4861 4.4).</summary>
    NeighborAdvertisement = 136,

    /// <summary>137: redirect (RFC 4861 4.5).</summary>
    Redirect = 137,

    /// <summary>143: version 2 multicast listener report (RFC 3810 5.2).</summary>
    MulticastListenerReportV2 = 143,
}

/// <summary>Destination unreachable codes (RFC 4443 3.1; 5-6 RFC 4443; 7 RFC 6554).</summary>
public enum Icmpv6UnreachableCode : byte
{
    /// <summary>0: no route to destination.</summary>
    NoRoute = 0,

    /// <summary>1: communication with destination administratively prohibited.</summary>
    AdministrativelyProhibited = 1,

    /// <summary>2: beyond scope of source address.</summary>
    BeyondScope = 2,

    /// <summary>3: address unreachable (for example, neighbour discovery failed).</summary>
    AddressUnreachable = 3,

    /// <summary>4: port unreachable.</summary>
    PortUnreachable = 4,

    /// <summary>5: source address failed ingress/egress policy.</summary>
    SourcePolicyFailed = 5,

    /// <summary>6: reject route to destination.</summary>
    RejectRoute = 6,

    /// <summary>7: error in source routing header (RFC 6554).</summary>
    SourceRoutingHeaderError = 7,
}

/// <summary>Time exceeded codes (RFC 4443 3.3).</summary>
public enum Icmpv6TimeExceededCode : byte
{
    /// <summary>0: hop limit exceeded in transit.</summary>
    HopLimitExceeded = 0,

    /// <summary>1: fragment reassembly time exceeded.</summary>
    FragmentReassemblyTimeExceeded = 1,
}

/// <summary>
/// The common ICMPv6 header (RFC 4443 2.1): type, code, checksum over the IPv6 pseudo-header
/// (RFC 8200 8.1, next header 58) and the whole message, then 4 type-specific bytes. 8 bytes.
/// </summary>
/// <remarks>
/// The typed views are headers over the same bytes: <see cref="Icmpv6EchoHeader"/>,
/// <see cref="Icmpv6DestinationUnreachableHeader"/>, <see cref="Icmpv6PacketTooBigHeader"/>,
/// <see cref="Icmpv6TimeExceededHeader"/>, <see cref="Icmpv6ParameterProblemHeader"/>, and the
/// neighbour discovery and MLD messages. Error messages quote the invoking packet
/// (<see cref="Icmpv6QuotedPacket"/>). Unlike ICMPv4, the checksum needs the pseudo-header sum.
/// </remarks>
[WireHeader("ICMPv6")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct Icmpv6Header
{
    /// <summary>The message type.</summary>
    public Icmpv6Type Type;

    /// <summary>The subtype; its meaning depends on <see cref="Type"/>.</summary>
    public byte Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>Four type-specific bytes (identifier and sequence, MTU, pointer, reserved...).</summary>
    public uint RestOfHeader;
}

/// <summary>Echo request and reply (RFC 4443 4.1 and 4.2, types 128 and 129): identifier and sequence number, then the data.</summary>
[WireHeader("ICMPv6")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct Icmpv6EchoHeader
{
    /// <summary><see cref="Icmpv6Type.EchoRequest"/> or <see cref="Icmpv6Type.EchoReply"/>.</summary>
    public Icmpv6Type Type;

    /// <summary>Always 0 for echo.</summary>
    public byte Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>Matches replies to requests.</summary>
    public ushort Identifier;

    /// <summary>Matches replies to requests within one identifier.</summary>
    public ushort SequenceNumber;
}

/// <summary>Destination unreachable (RFC 4443 3.1, type 1); the payload quotes as much of the invoking packet as fits in 1280 bytes.</summary>
[WireHeader("ICMPv6")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct Icmpv6DestinationUnreachableHeader
{
    /// <summary>Always <see cref="Icmpv6Type.DestinationUnreachable"/>.</summary>
    [Const(1)]
    public Icmpv6Type Type;

    /// <summary>Why the destination is unreachable.</summary>
    public Icmpv6UnreachableCode Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>Unused: zero when sent, ignored when received.</summary>
    public uint Unused;
}

/// <summary>Packet too big (RFC 4443 3.2, type 2): the MTU of the next-hop link, for path MTU discovery (RFC 8201).</summary>
[WireHeader("ICMPv6")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct Icmpv6PacketTooBigHeader
{
    /// <summary>Always <see cref="Icmpv6Type.PacketTooBig"/>.</summary>
    [Const(2)]
    public Icmpv6Type Type;

    /// <summary>Zero when sent, ignored when received.</summary>
    public byte Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>The maximum transmission unit of the next-hop link.</summary>
    public uint Mtu;
}

/// <summary>Time exceeded (RFC 4443 3.3, type 3); the payload quotes the invoking packet.</summary>
[WireHeader("ICMPv6")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct Icmpv6TimeExceededHeader
{
    /// <summary>Always <see cref="Icmpv6Type.TimeExceeded"/>.</summary>
    [Const(3)]
    public Icmpv6Type Type;

    /// <summary>Hop limit exceeded, or reassembly time exceeded.</summary>
    public Icmpv6TimeExceededCode Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>Unused: zero when sent, ignored when received.</summary>
    public uint Unused;
}

/// <summary>Parameter problem (RFC 4443 3.4, type 4): the offset of the offending byte in the quoted invoking packet.</summary>
[WireHeader("ICMPv6")]
[Checksum(nameof(Checksum), ChecksumCoverage.PseudoHeaderAndMessage)]
public partial struct Icmpv6ParameterProblemHeader
{
    /// <summary>Always <see cref="Icmpv6Type.ParameterProblem"/>.</summary>
    [Const(4)]
    public Icmpv6Type Type;

    /// <summary>What kind of problem.</summary>
    public Icmpv6ParameterProblemCode Code;

    /// <summary>The Internet checksum of the pseudo-header and the whole message.</summary>
    public ushort Checksum;

    /// <summary>The offset of the error in the invoking packet, from its IPv6 header (past the quote when the quote was cut).</summary>
    public uint Pointer;
}
