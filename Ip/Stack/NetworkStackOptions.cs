using Microsoft.Extensions.Logging;

namespace Protocols.Ip;

/// <summary>Configuration of a <see cref="NetworkStack"/>: its clock, its bounds and its protocol constants.</summary>
public sealed class NetworkStackOptions
{
    /// <summary>The source of time for every timer and timestamp (a virtual clock in simulations).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>The stack's name (the <c>protocols.stack</c> tag of its metrics); null for <c>ip-N</c>.</summary>
    public string? Name { get; init; }

    /// <summary>Trace and diagnostic output; the null logger by default.</summary>
    public ILogger? Logger { get; init; }

    /// <summary>
    /// Seeds the stack's randomness (the secret behind IP identifications). Null: a random seed.
    /// Simulations set it so runs repeat exactly.
    /// </summary>
    public int? Seed { get; init; }

    /// <summary>
    /// Forwarding (RFC 1812): datagrams that arrive for another host are routed on (TTL decremented,
    /// fragmented or answered with fragmentation needed, martians dropped, ICMP errors sent) instead
    /// of being dropped as a host must (RFC 1122 3.3.4). Off by default.
    /// </summary>
    public bool Forwarding { get; init; }

    /// <summary>The bound of the queue of requests from <see cref="NetworkStack.Post"/>; past it Post throws.</summary>
    public int RequestQueueCapacity { get; init; } = 4096;

    /// <summary>
    /// Run <see cref="NetworkStack.RunAsync"/> on a thread of its own sleeping in poll(2) over the
    /// devices' descriptors and a wake-up eventfd, instead of as a task on the thread pool (Linux,
    /// the system clock, descriptor-backed devices only; otherwise the task is used). Off by
    /// default: every hand-off between the loop and the application then crosses threads (a
    /// wake-up each way), which on a busy machine costs a scheduling delay per hand-off;
    /// docs/devices.md has the measurements.
    /// </summary>
    public bool DedicatedLoopThread { get; init; }

    /// <summary>The most frames taken from one device in one <see cref="NetworkStack.Poll"/> (fairness between devices and timers).</summary>
    public int ReceiveBatchLimit { get; init; } = 256;

    /// <summary>
    /// Receive coalescing in the stack (GRO) for devices that do not coalesce themselves: within one
    /// poll batch, the transport may merge consecutive segments of one flow before its input
    /// (<see cref="IpDatagram.CoalescingKey"/>, <see cref="IIpTransport.OnReceiveBatchEnd"/>). Off
    /// by default: merging copies each merged byte once more (into the run's buffer), and with runs
    /// short enough to keep an ACK for every second full-sized segment it saves no measurable CPU;
    /// longer runs (TCP's <c>CoalescedRunSegments</c>) do, with stretch ACKs (docs/devices.md).
    /// Devices with <c>DeviceCapabilities.ReceiveCoalescing</c> are never coalesced again.
    /// </summary>
    public bool ReceiveCoalescing { get; init; }

    /// <summary>The TTL of datagrams we originate (RFC 1122 3.2.1.7; IANA recommends 64, RFC 1700).</summary>
    public byte DefaultTtl { get; init; } = 64;

    /// <summary>How long a resolved ARP entry is used before it is resolved again (Linux: base_reachable_time 30 s, randomised up to 45 s, then stale).</summary>
    public TimeSpan ArpReachableTime { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The interval between ARP requests for one address (RFC 1122 2.3.2.1: at most one per second).</summary>
    public TimeSpan ArpRetransmitInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>How many ARP requests are sent before resolution fails (Linux: mcast_solicit 3).</summary>
    public int ArpMaxRequests { get; init; } = 3;

    /// <summary>The most packets waiting for the resolution of one address (RFC 1122 2.3.2.2: SHOULD keep at least one). Enough for a fragmented 64 KiB datagram at MTU 1500.</summary>
    public int ArpPendingPerAddress { get; init; } = 64;

    /// <summary>The most bytes waiting for the resolution of one address (Linux: unres_qlen_bytes, 212992); one datagram is always kept, however large (RFC 1122 2.3.2.2).</summary>
    public int ArpPendingBytesPerAddress { get; init; } = 212_992;

    /// <summary>The most packets waiting for ARP resolution on one interface, all addresses together.</summary>
    public int ArpPendingTotal { get; init; } = 1024;

    /// <summary>The most entries in one interface's ARP cache (resolved and resolving).</summary>
    public int ArpCacheCapacity { get; init; } = 1024;

    /// <summary>ICMP errors we may send per second on average (token bucket refill). Linux limits errors to 1/s per peer and 1000/s globally; this sits between.</summary>
    public double IcmpErrorsPerSecond { get; init; } = 10;

    /// <summary>The token bucket's depth: how many ICMP errors may go out in a burst (Linux icmp_msgs_burst: 50).</summary>
    public int IcmpErrorBurst { get; init; } = 50;

    /// <summary>How many bytes of the offending datagram an ICMP error quotes at most (RFC 1812 4.3.2.3: as much as keeps the error within 576 bytes).</summary>
    public int IcmpErrorQuoteLimit { get; init; } = 576 - 20 - 8;

    /// <summary>The most datagrams sent to our own addresses waiting for the loop to deliver them.</summary>
    public int LoopbackQueueCapacity { get; init; } = 256;

    /// <summary>Reassembly: how long the fragments of one datagram are kept (RFC 1122 3.3.2 suggests 60 to 120 s; Linux ipfrag_time is 30 s).</summary>
    public TimeSpan ReassemblyTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Reassembly: the most datagrams being reassembled at once.</summary>
    public int ReassemblyMaxDatagrams { get; init; } = 64;

    /// <summary>Reassembly: the most bytes held by datagrams being reassembled (Linux ipfrag_high_thresh: 4 MiB), per family.</summary>
    public int ReassemblyMaxBytes { get; init; } = 4 * 1024 * 1024;

    /// <summary>IPv6 reassembly: how long the fragments of one packet are kept (RFC 8200 4.5: 60 seconds).</summary>
    public TimeSpan Ipv6ReassemblyTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>The bounds of the IPv6 extension header walk (headers, bytes, options per header).</summary>
    public Ipv6ChainLimits ExtensionHeaderLimits { get; init; } = new();

    /// <summary>Neighbour solicitations sent for duplicate address detection (RFC 4862 5.1 DupAddrDetectTransmits, default 1; 0 turns DAD off).</summary>
    public int DupAddrDetectTransmits { get; init; } = 1;

    /// <summary>Time between neighbour solicitations unless a router advertises another (RFC 4861 10 RETRANS_TIMER: 1 s).</summary>
    public TimeSpan Ipv6RetransTimer { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>The base of the randomized ReachableTime unless a router advertises another (RFC 4861 10 REACHABLE_TIME: 30 s).</summary>
    public TimeSpan Ipv6BaseReachableTime { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a neighbour stays in DELAY before probing (RFC 4861 10 DELAY_FIRST_PROBE_TIME: 5 s).</summary>
    public TimeSpan Ipv6DelayFirstProbeTime { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Multicast solicitations before address resolution fails (RFC 4861 10 MAX_MULTICAST_SOLICIT: 3).</summary>
    public int Ipv6MaxMulticastSolicit { get; init; } = 3;

    /// <summary>Unicast probes before a neighbour is deemed unreachable (RFC 4861 10 MAX_UNICAST_SOLICIT: 3).</summary>
    public int Ipv6MaxUnicastSolicit { get; init; } = 3;

    /// <summary>The most entries in one interface's neighbour cache.</summary>
    public int NeighborCacheCapacity { get; init; } = 1024;

    /// <summary>The most packets waiting for the resolution of one neighbour.</summary>
    public int NeighborPendingPerAddress { get; init; } = 64;

    /// <summary>The most packets waiting for neighbour resolution on one interface.</summary>
    public int NeighborPendingTotal { get; init; } = 1024;

    /// <summary>The most default routers remembered per interface from router advertisements.</summary>
    public int MaxDefaultRouters { get; init; } = 8;

    /// <summary>The most advertised on-link prefixes remembered per interface.</summary>
    public int MaxOnLinkPrefixes { get; init; } = 16;

    /// <summary>The most addresses autoconfigured per interface from advertised prefixes.</summary>
    public int MaxAutoconfiguredAddresses { get; init; } = 16;

    /// <summary>The most DNS servers remembered per interface from router advertisements (RFC 8106).</summary>
    public int MaxDnsServers { get; init; } = 8;

    /// <summary>The most destinations whose path MTU is remembered (RFC 8201 5.2).</summary>
    public int PathMtuCacheCapacity { get; init; } = 1024;

    /// <summary>How long a lowered path MTU is kept before the link MTU is tried again (RFC 8201 4: at least 5 minutes, 10 recommended).</summary>
    public TimeSpan PathMtuTimeout { get; init; } = TimeSpan.FromMinutes(10);
}
