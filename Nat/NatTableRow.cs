using System.Globalization;
using Protocols.Ip;

namespace Protocols.Nat;

/// <summary>
/// One row of the translation table, the <c>ss</c> of the NAT: a session (or a static entry, whose
/// remote and ports are 0).
/// </summary>
/// <param name="Protocol">TCP, UDP or ICMP (a static entry: <see cref="IpProtocol.HopByHop"/>, shown as "ip").</param>
/// <param name="Kind">Static, pool or PAT.</param>
/// <param name="Inside">The inside endpoint (for ICMP the port is the query identifier).</param>
/// <param name="Outside">The outside endpoint it is translated to.</param>
/// <param name="Remote">The remote endpoint of the session.</param>
/// <param name="State">The TCP state, "udp", "icmp" or "static".</param>
/// <param name="Idle">Time since the session's last packet (zero for static entries).</param>
public readonly record struct NatTableRow(IpProtocol Protocol, NatMappingKind Kind, IpEndpoint Inside, IpEndpoint Outside, IpEndpoint Remote, string State, TimeSpan Idle)
{
    /// <summary>The protocol's name as the table prints it.</summary>
    public string ProtocolName => Kind == NatMappingKind.Static ? "ip" : Protocol switch
    {
        IpProtocol.Tcp => "tcp",
        IpProtocol.Udp => "udp",
        IpProtocol.Icmp => "icmp",
        _ => ((byte)Protocol).ToString(CultureInfo.InvariantCulture),
    };

    /// <summary>One line: protocol, inside, outside, remote, state, idle seconds.</summary>
    public override string ToString() =>
        string.Create(CultureInfo.InvariantCulture, $"{ProtocolName} {Inside} {Outside} {Remote} {State} {(long)Idle.TotalSeconds}");
}
