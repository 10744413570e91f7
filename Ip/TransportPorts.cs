using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// The two port numbers every transport with ports starts with: UDP (RFC 768), TCP (RFC 9293
/// 3.1), SCTP (RFC 9260 3.1), UDP-Lite (RFC 3828). Ip reads them to name flows in traces and in the
/// ICMP errors it quotes, without knowing the rest of any transport's header. 4 bytes.
/// </summary>
[WireHeader("Ports")]
public partial struct TransportPorts
{
    /// <summary>The sending port.</summary>
    public ushort SourcePort;

    /// <summary>The receiving port.</summary>
    public ushort DestinationPort;
}
