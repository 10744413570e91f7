namespace Protocols.Relay;

/// <summary>What a <see cref="TransparentForwarder"/> did. Thread-safe.</summary>
public sealed class ForwarderCounters
{
    internal long TcpRelayed;
    internal long TcpActive;
    internal long TcpRefused;
    internal long TcpUnreachable;
    internal long TcpReset;
    internal long TcpOverLimit;
    internal long TcpAcceptedByCookie;
    internal long BytesUp;
    internal long BytesDown;
    internal long UdpFlowsOpened;
    internal long UdpFlowsActive;
    internal long UdpFlowsExpired;
    internal long UdpDatagramsUp;
    internal long UdpDatagramsDown;
    internal long UdpDropped;
    internal long UdpRefused;

    /// <summary>TCP connections relayed (outbound connected and inside accepted).</summary>
    public long ConnectionsRelayed => Volatile.Read(ref TcpRelayed);

    /// <summary>TCP relays running now.</summary>
    public long ConnectionsActive => Volatile.Read(ref TcpActive);

    /// <summary>TCP connections refused because the destination refused (the client got a RST).</summary>
    public long ConnectionsRefused => Volatile.Read(ref TcpRefused);

    /// <summary>TCP connections answered with ICMP unreachable (destination unreachable or timed out).</summary>
    public long ConnectionsUnreachable => Volatile.Read(ref TcpUnreachable);

    /// <summary>Relays ended by a reset on either side.</summary>
    public long ConnectionsReset => Volatile.Read(ref TcpReset);

    /// <summary>Connections refused because <see cref="ForwarderOptions.MaxConnections"/> relays were running.</summary>
    public long ConnectionsOverLimit => Volatile.Read(ref TcpOverLimit);

    /// <summary>Connections the stack accepted at once with SYN cookies (under a SYN flood) and relayed after.</summary>
    public long ConnectionsAcceptedByCookie => Volatile.Read(ref TcpAcceptedByCookie);

    /// <summary>Bytes relayed from the clients to their destinations.</summary>
    public long BytesToDestinations => Volatile.Read(ref BytesUp);

    /// <summary>Bytes relayed from the destinations to the clients.</summary>
    public long BytesToClients => Volatile.Read(ref BytesDown);

    /// <summary>UDP flows opened.</summary>
    public long UdpFlowsOpenedCount => Volatile.Read(ref UdpFlowsOpened);

    /// <summary>UDP flows open now.</summary>
    public long UdpFlowsOpen => Volatile.Read(ref UdpFlowsActive);

    /// <summary>UDP flows closed by the idle timeout.</summary>
    public long UdpFlowsTimedOut => Volatile.Read(ref UdpFlowsExpired);

    /// <summary>Datagrams relayed from the clients.</summary>
    public long UdpDatagramsToDestinations => Volatile.Read(ref UdpDatagramsUp);

    /// <summary>Datagrams relayed to the clients.</summary>
    public long UdpDatagramsToClients => Volatile.Read(ref UdpDatagramsDown);

    /// <summary>Datagrams dropped (flow limit, full flow queue, a flow that could not open).</summary>
    public long UdpDatagramsDropped => Volatile.Read(ref UdpDropped);

    /// <summary>Port unreachables passed back to clients.</summary>
    public long UdpPortUnreachables => Volatile.Read(ref UdpRefused);

    /// <inheritdoc/>
    public override string ToString() =>
        $"tcp relayed {ConnectionsRelayed} (active {ConnectionsActive}, refused {ConnectionsRefused}, unreachable {ConnectionsUnreachable}, reset {ConnectionsReset}, over limit {ConnectionsOverLimit}, by cookie {ConnectionsAcceptedByCookie}), " +
        $"bytes up {BytesToDestinations} down {BytesToClients}; udp flows {UdpFlowsOpenedCount} (open {UdpFlowsOpen}, timed out {UdpFlowsTimedOut}), datagrams up {UdpDatagramsToDestinations} down {UdpDatagramsToClients} dropped {UdpDatagramsDropped}, port unreachable {UdpPortUnreachables}";
}
