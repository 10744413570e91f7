namespace Protocols.Relay;

/// <summary>Settings of a <see cref="TransparentForwarder"/>.</summary>
public sealed class ForwarderOptions
{
    /// <summary>The most relayed TCP connections at once; past it new connections are refused (RST) and counted.</summary>
    public int MaxConnections { get; init; } = 4096;

    /// <summary>The most UDP flows at once; past it new flows' datagrams are dropped and counted.</summary>
    public int MaxUdpFlows { get; init; } = 4096;

    /// <summary>A UDP flow with no datagram either way for this long is closed (its outbound socket too).</summary>
    public TimeSpan UdpTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The buffer of each direction of a relayed connection: the most read before it is written.</summary>
    public int RelayBufferSize { get; init; } = 256 * 1024;

    /// <summary>Datagrams of one UDP flow waiting for its outbound side to open; more are dropped.</summary>
    public int UdpFlowQueue { get; init; } = 64;

    /// <summary>The accept backlog of the catch-all listener.</summary>
    public int Backlog { get; init; } = 1024;
}
