using System.Net.Security;
using Protocols.Cli.CommandLine;

namespace Protocols.Cli.Serve;

/// <summary>The validated options of <c>protocols serve</c>.</summary>
/// <param name="Device">The device, the stack's address, gateway and MTU.</param>
/// <param name="UdpEchoPort">The UDP echo server's port, or null.</param>
/// <param name="PcapPath">Where to capture every frame, or null.</param>
/// <param name="HttpPort">The HTTP server's port, or null.</param>
/// <param name="EchoPort">The TCP echo server's port, or null.</param>
/// <param name="HttpsPort">The HTTPS server's port, or null.</param>
/// <param name="Certificate">The HTTPS certificate loaded from --cert/--key, or null for a self-signed one made at start.</param>
internal sealed record ServeSettings(
    DeviceSettings Device,
    ushort? UdpEchoPort,
    string? PcapPath,
    ushort? HttpPort = null,
    ushort? EchoPort = null,
    ushort? HttpsPort = null,
    SslStreamCertificateContext? Certificate = null)
{
    /// <summary>The congestion controller of the TCP services' connections (--cc), or null for the stack's default.</summary>
    public string? CongestionControl { get; init; }
}
