namespace Protocols.Tcp;

/// <summary>
/// TCP option kinds this library decodes (IANA "TCP Option Kind Numbers"). Any other byte value
/// is a valid, unknown kind: readers report it with its raw number and skip it by its length.
/// </summary>
public enum TcpOptionKind : byte
{
    /// <summary>End of option list (RFC 9293 3.2): one byte, ends the list; what follows is padding.</summary>
    EndOfOptionList = 0,

    /// <summary>No-operation (RFC 9293 3.2): one byte, used to align the following option.</summary>
    NoOperation = 1,

    /// <summary>Maximum segment size (RFC 9293 3.2, 3.7.1): length 4, a 16-bit MSS.</summary>
    MaximumSegmentSize = 2,

    /// <summary>Window scale (RFC 7323 2.2): length 3, a shift count (at most 14, RFC 7323 2.3).</summary>
    WindowScale = 3,

    /// <summary>SACK permitted (RFC 2018 2): length 2, sent on a SYN.</summary>
    SackPermitted = 4,

    /// <summary>Selective acknowledgment (RFC 2018 3): length 2 + 8n, n = 1..4 blocks of two 32-bit edges.</summary>
    Sack = 5,

    /// <summary>Timestamps (RFC 7323 3.2): length 10, TSval and TSecr.</summary>
    Timestamps = 8,
}
