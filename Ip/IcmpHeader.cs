using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>ICMPv4 message types (RFC 792; RFC 1256 for router discovery).</summary>
public enum IcmpType : byte
{
    /// <summary>0: echo reply.</summary>
    EchoReply = 0,

    /// <summary>3: destination unreachable (codes in <see cref="IcmpUnreachableCode"/>).</summary>
    DestinationUnreachable = 3,

    /// <summary>4: source quench (deprecated by RFC 6633).</summary>
    SourceQuench = 4,

    /// <summary>5: redirect.</summary>
    Redirect = 5,

    /// <summary>8: echo request.</summary>
    EchoRequest = 8,

    /// <summary>9: router advertisement (RFC 1256).</summary>
    RouterAdvertisement = 9,

    /// <summary>10: router solicitation (RFC 1256).</summary>
    RouterSolicitation = 10,

    /// <summary>11: time exceeded (codes in <see cref="IcmpTimeExceededCode"/>).</summary>
    TimeExceeded = 11,

    /// <summary>12: parameter problem.</summary>
    ParameterProblem = 12,

    /// <summary>13: timestamp request.</summary>
    TimestampRequest = 13,

    /// <summary>14: timestamp reply.</summary>
    TimestampReply = 14,

    /// <summary>15: information request (obsolete).</summary>
    InformationRequest = 15,

    /// <summary>16: information reply (obsolete).</summary>
    InformationReply = 16,
}

/// <summary>Destination unreachable codes (RFC 792; 6-12 RFC 1122 3.2.2.1; 13-15 RFC 1812 5.2.7.1).</summary>
public enum IcmpUnreachableCode : byte
{
    /// <summary>0: net unreachable.</summary>
    NetUnreachable = 0,

    /// <summary>1: host unreachable.</summary>
    HostUnreachable = 1,

    /// <summary>2: protocol unreachable.</summary>
    ProtocolUnreachable = 2,

    /// <summary>3: port unreachable.</summary>
    PortUnreachable = 3,

    /// <summary>4: fragmentation needed and DF set; the next-hop MTU is in the header (RFC 1191 4).</summary>
    FragmentationNeeded = 4,

    /// <summary>5: source route failed.</summary>
    SourceRouteFailed = 5,

    /// <summary>6: destination network unknown.</summary>
    DestinationNetworkUnknown = 6,

    /// <summary>7: destination host unknown.</summary>
    DestinationHostUnknown = 7,

    /// <summary>8: source host isolated.</summary>
    SourceHostIsolated = 8,

    /// <summary>9: communication with the destination network administratively prohibited.</summary>
    NetworkAdministrativelyProhibited = 9,

    /// <summary>10: communication with the destination host administratively prohibited.</summary>
    HostAdministrativelyProhibited = 10,

    /// <summary>11: network unreachable for the type of service.</summary>
    NetworkUnreachableForTos = 11,

    /// <summary>12: host unreachable for the type of service.</summary>
    HostUnreachableForTos = 12,

    /// <summary>13: communication administratively prohibited (filtering).</summary>
    CommunicationAdministrativelyProhibited = 13,

    /// <summary>14: host precedence violation.</summary>
    HostPrecedenceViolation = 14,

    /// <summary>15: precedence cutoff in effect.</summary>
    PrecedenceCutoff = 15,
}

/// <summary>Time exceeded codes (RFC 792).</summary>
public enum IcmpTimeExceededCode : byte
{
    /// <summary>0: time to live exceeded in transit.</summary>
    TtlExceeded = 0,

    /// <summary>1: fragment reassembly time exceeded.</summary>
    FragmentReassemblyTimeExceeded = 1,
}

/// <summary>
/// The common ICMPv4 header (RFC 792): type, code, checksum over the whole message, and the
/// 32-bit "rest of header" whose meaning depends on the type. 8 bytes.
/// </summary>
/// <remarks>
/// The typed views are separate headers over the same 8 bytes, so each field has its own name
/// in readers, writers and dumps: <see cref="IcmpEchoHeader"/> (types 0 and 8),
/// <see cref="IcmpDestinationUnreachableHeader"/> (type 3), <see cref="IcmpRedirectHeader"/> (type 5),
/// <see cref="IcmpTimeExceededHeader"/> (type 11) and <see cref="IcmpParameterProblemHeader"/> (type 12). Dispatch on <c>IcmpHeader.Reader.Type</c>, then read the typed header from the same
/// bytes. Error messages quote the offending datagram: see <see cref="IcmpQuotedDatagram"/>.
/// </remarks>
[WireHeader("ICMPv4")]
[Checksum(nameof(Checksum), ChecksumCoverage.Message)]
public partial struct IcmpHeader
{
    /// <summary>The message type.</summary>
    public IcmpType Type;

    /// <summary>The subtype; its meaning depends on <see cref="Type"/>.</summary>
    public byte Code;

    /// <summary>The Internet checksum of the whole ICMP message.</summary>
    public ushort Checksum;

    /// <summary>Four type-specific bytes (identifier and sequence, next-hop MTU, pointer, gateway...).</summary>
    public uint RestOfHeader;
}

/// <summary>Echo request and echo reply (RFC 792, types 8 and 0): identifier and sequence number, then the echoed data.</summary>
[WireHeader("ICMPv4")]
[Checksum(nameof(Checksum), ChecksumCoverage.Message)]
public partial struct IcmpEchoHeader
{
    /// <summary><see cref="IcmpType.EchoRequest"/> or <see cref="IcmpType.EchoReply"/>.</summary>
    public IcmpType Type;

    /// <summary>Always 0 for echo.</summary>
    public byte Code;

    /// <summary>The Internet checksum of the whole ICMP message.</summary>
    public ushort Checksum;

    /// <summary>Matches replies to requests (Linux ping: its socket's port or process id).</summary>
    public ushort Identifier;

    /// <summary>Matches replies to requests within one identifier.</summary>
    public ushort SequenceNumber;
}

/// <summary>
/// Destination unreachable (RFC 792, type 3), with the next-hop MTU of RFC 1191 4 for code 4
/// (fragmentation needed); the payload quotes the offending datagram's IP header and at least
/// 8 bytes of its data.
/// </summary>
[WireHeader("ICMPv4")]
[Checksum(nameof(Checksum), ChecksumCoverage.Message)]
public partial struct IcmpDestinationUnreachableHeader
{
    /// <summary>Always <see cref="IcmpType.DestinationUnreachable"/>.</summary>
    [Const(3)]
    public IcmpType Type;

    /// <summary>Why the destination is unreachable.</summary>
    public IcmpUnreachableCode Code;

    /// <summary>The Internet checksum of the whole ICMP message.</summary>
    public ushort Checksum;

    /// <summary>Unused, zero (RFC 1191 4).</summary>
    public ushort Unused;

    /// <summary>For <see cref="IcmpUnreachableCode.FragmentationNeeded"/>: the MTU of the next hop (RFC 1191 4); zero from old routers.</summary>
    public ushort NextHopMtu;
}

/// <summary>Time exceeded (RFC 792, type 11); the payload quotes the offending datagram.</summary>
[WireHeader("ICMPv4")]
[Checksum(nameof(Checksum), ChecksumCoverage.Message)]
public partial struct IcmpTimeExceededHeader
{
    /// <summary>Always <see cref="IcmpType.TimeExceeded"/>.</summary>
    [Const(11)]
    public IcmpType Type;

    /// <summary>TTL exceeded in transit, or reassembly timeout.</summary>
    public IcmpTimeExceededCode Code;

    /// <summary>The Internet checksum of the whole ICMP message.</summary>
    public ushort Checksum;

    /// <summary>Unused, zero.</summary>
    public uint Unused;
}

/// <summary>Redirect codes (RFC 792).</summary>
public enum IcmpRedirectCode : byte
{
    /// <summary>0: redirect datagrams for the network.</summary>
    Network = 0,

    /// <summary>1: redirect datagrams for the host.</summary>
    Host = 1,

    /// <summary>2: redirect datagrams for the type of service and network.</summary>
    TosAndNetwork = 2,

    /// <summary>3: redirect datagrams for the type of service and host.</summary>
    TosAndHost = 3,
}

/// <summary>Redirect (RFC 792, type 5): the gateway to use for the quoted datagram's destination.</summary>
[WireHeader("ICMPv4")]
[Checksum(nameof(Checksum), ChecksumCoverage.Message)]
public partial struct IcmpRedirectHeader
{
    /// <summary>Always <see cref="IcmpType.Redirect"/>.</summary>
    [Const(5)]
    public IcmpType Type;

    /// <summary>What the redirect applies to.</summary>
    public IcmpRedirectCode Code;

    /// <summary>The Internet checksum of the whole ICMP message.</summary>
    public ushort Checksum;

    /// <summary>The gateway traffic for the quoted destination should be sent to.</summary>
    public Ipv4Address Gateway;
}

/// <summary>Parameter problem codes (RFC 792; 1 from RFC 1108; 2 from RFC 1812).</summary>
public enum IcmpParameterProblemCode : byte
{
    /// <summary>0: the pointer indicates the offending octet.</summary>
    PointerIndicatesError = 0,

    /// <summary>1: a required option is missing (RFC 1108).</summary>
    MissingRequiredOption = 1,

    /// <summary>2: bad length.</summary>
    BadLength = 2,
}

/// <summary>
/// Parameter problem (RFC 792, type 12): code 0 with a pointer to the offending octet of the
/// quoted datagram's header; code 1 (RFC 1108) a missing required option; code 2 (RFC 1812) bad length.
/// </summary>
[WireHeader("ICMPv4")]
[Checksum(nameof(Checksum), ChecksumCoverage.Message)]
public partial struct IcmpParameterProblemHeader
{
    /// <summary>Always <see cref="IcmpType.ParameterProblem"/>.</summary>
    [Const(12)]
    public IcmpType Type;

    /// <summary>0: the pointer indicates the error; 1: missing a required option; 2: bad length.</summary>
    public IcmpParameterProblemCode Code;

    /// <summary>The Internet checksum of the whole ICMP message.</summary>
    public ushort Checksum;

    /// <summary>For code 0: the offset of the octet in the quoted header where the error was found.</summary>
    public byte Pointer;

    /// <summary>Unused, zero.</summary>
    [Bits(24)]
    public uint Unused;
}
