using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Protocols.Ip.Devices;
using Protocols.Ip.Fragmentation;
using Protocols.Wire;

namespace Protocols.Ip;

/// <summary>
/// A user-space IPv4 and IPv6 host: interfaces over devices, routing (on-link or through a
/// gateway, longest prefix, per family), IPv4 and IPv6 input and output with fragmentation and
/// reassembly, ICMP and ICMPv6, ARP and neighbour discovery (address resolution, unreachability
/// detection, duplicate address detection, router discovery and autoconfiguration), path MTU
/// discovery for IPv6, a registry of transports by protocol number, timers and counters. One loop owns all of its state: received frames, timers and requests posted from
/// other threads all run there, so protocol code takes no locks. Drive it with <see cref="Poll"/>
/// (simulations, single-threaded, virtual time) or <see cref="RunAsync"/> (real devices).
/// </summary>
/// <remarks>
/// It is a host (RFC 1122, RFC 8504) unless <see cref="NetworkStackOptions.Forwarding"/> makes it an IPv4 router (RFC 1812); it never
/// forwards IPv6. It uses the weak host model (RFC 1122 3.3.4.2): a datagram for any of its addresses is accepted on any interface.
/// </remarks>
public sealed partial class NetworkStack : IPollDriven, IDisposable
{
    private readonly List<NetworkInterface> _interfaces = [];
    private readonly IIpTransport?[] _transports = new IIpTransport?[256];
    private readonly List<IIpTransport> _registeredTransports = [];
    private bool _coalescingBatch;
    private bool _coalescingKeyGiven;
    private bool _inReceiveBatch;
    private bool _batchEndRequested;
    private int _betweenFrameRequests; // requests posted to run between two frames of a batch
    private readonly ConcurrentQueue<Action<NetworkStack>> _requests = new();
    private readonly Meter _meter;
    private static readonly TimeSpan IdleBackoff = TimeSpan.FromMilliseconds(10);
    private static readonly TimeSpan MaxWait = TimeSpan.FromHours(1);
    private static int s_stacks;
    private int _pendingRequests;
    private int _polling;
    private int _running;
    private TaskCompletionSource? _wake;

    /// <summary>Makes a stack with no interfaces.</summary>
    public NetworkStack(NetworkStackOptions? options = null)
    {
        Options = options ?? new NetworkStackOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.RequestQueueCapacity, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.ReceiveBatchLimit, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.ArpMaxRequests, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.ArpPendingPerAddress, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.ArpPendingBytesPerAddress, 1, nameof(options));
        ArgumentOutOfRangeException.ThrowIfLessThan(Options.IcmpErrorBurst, 0, nameof(options));
        TimeProvider = Options.TimeProvider ?? throw new ArgumentException("A TimeProvider is required.", nameof(options));
        Logger = Options.Logger ?? NullLogger.Instance;
        Timers = new TimerQueue(this);
        _meter = new Meter("Protocols.Ip");
        Name = Options.Name ?? $"ip-{Interlocked.Increment(ref s_stacks)}";
        Counters = new StackCounters(_meter, Name, _interfaces);
        var random = Options.Seed is { } seed ? new Random(seed) : new Random();
        Random = random;
        _identSecret = (uint)random.Next() ^ ((uint)random.Next() << 16);
        _flowHash = new SipHash(DrawSecret(16));
        _fragmentIdHash = new SipHash(DrawSecret(16));
        _reassembler6 = new Ipv6Reassembler(new Ipv6ReassemblerOptions
        {
            Timeout = Options.Ipv6ReassemblyTimeout,
            MaxDatagrams = Options.ReassemblyMaxDatagrams,
            MaxBytes = Options.ReassemblyMaxBytes,
        });
        _onExpired6 = OnReassemblyExpired6;
        _pathMtu = new PathMtuCache(Options.PathMtuCacheCapacity, Options.PathMtuTimeout);
        _icmpv6Tokens = Options.IcmpErrorBurst;
        _identCounters = new ushort[IdentBuckets];
        for (int i = 0; i < _identCounters.Length; i++)
        {
            _identCounters[i] = (ushort)random.Next(0, 65536);
        }

        _reassembler = new Ipv4Reassembler(new Ipv4ReassemblerOptions
        {
            Timeout = Options.ReassemblyTimeout,
            MaxDatagrams = Options.ReassemblyMaxDatagrams,
            MaxBytes = Options.ReassemblyMaxBytes,
        });
        _onExpired = OnReassemblyExpired;
        _icmpTokens = Options.IcmpErrorBurst;
        _icmpTokensAt = TimeProvider.GetUtcNow();
        _icmpv6TokensAt = _icmpTokensAt;
    }

    /// <summary>The stack's name in logs and in the <c>protocols.stack</c> tag of its metrics.</summary>
    public string Name { get; }

    /// <summary>The options the stack was made with.</summary>
    public NetworkStackOptions Options { get; }

    /// <summary>
    /// How this stack's frames are described in traces. Its transports register the description
    /// of their segments here (<c>UseTcp</c>, <c>UseUdp</c>), so another stack in the same process
    /// is not affected; a <see cref="TracingDevice"/> made without a formatter of its own uses this
    /// one once it is added as an interface.
    /// </summary>
    public PacketFormatter PacketFormatter { get; } = new();

    /// <summary>The stack's clock.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>The current time: <c>TimeProvider.GetUtcNow()</c>.</summary>
    public DateTimeOffset Now => TimeProvider.GetUtcNow();

    /// <summary>The timers, used on the loop only.</summary>
    public TimerQueue Timers { get; }

    /// <summary>The counters (snapshot with <see cref="StackCounters.Snapshot"/>; also instruments on the <c>Protocols.Ip</c> meter).</summary>
    public StackCounters Counters { get; }

    /// <summary>The meter the stack's instruments live on; transports may add theirs next to it.</summary>
    public Meter Meter => _meter;

    /// <summary>Where the stack and its tracer write (the null logger unless configured).</summary>
    public ILogger Logger { get; }

    /// <summary>The interfaces, in the order added.</summary>
    public IReadOnlyList<NetworkInterface> Interfaces => _interfaces;

    /// <summary>True when at least one interface runs IPv6.</summary>
    public bool HasIpv6
    {
        get
        {
            foreach (NetworkInterface nic in _interfaces)
            {
                if (nic.HasIpv6)
                {
                    return true;
                }
            }

            return false;
        }
    }

    /// <summary>The earliest timer's due time, or null when no timer is armed.</summary>
    public DateTimeOffset? NextDeadline => Timers.NextDue;

    /// <summary>
    /// Adds an IPv4-only interface. Call before the loop runs (or on it).
    /// </summary>
    /// <param name="device">The device; the caller keeps owning (and disposing) it.</param>
    /// <param name="address">The interface's IPv4 address.</param>
    /// <param name="prefixLength">The prefix length of the attached subnet, 0..32.</param>
    /// <param name="gateway">A gateway on that subnet for everything off-link, or null.</param>
    /// <param name="mtu">The interface MTU; null for the device's. At least 68 (RFC 791 3.2).</param>
    public NetworkInterface AddInterface(INetworkDevice device, Ipv4Address address, int prefixLength, Ipv4Address? gateway = null, int? mtu = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(prefixLength, 0);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(prefixLength, 32);
        return AddInterface(device, new InterfaceConfiguration
        {
            Addresses = [new InterfaceAddress(address, prefixLength)],
            Gateways = gateway is { } g ? [g] : [],
            Mtu = mtu,
        });
    }

    /// <summary>
    /// Adds an interface with addresses of either family (IPv6 runs on it when an IPv6 address is
    /// given or <see cref="InterfaceConfiguration.Ipv6"/> is set). Call before the loop runs (or on
    /// it). IPv6 addresses start tentative on Ethernet devices: duplicate address detection runs
    /// when the loop starts (<see cref="WaitForAddressesAsync"/>).
    /// </summary>
    /// <param name="device">The device; the caller keeps owning (and disposing) it.</param>
    /// <param name="configuration">Addresses, gateways, MTU and IPv6 settings.</param>
    /// <exception cref="ArgumentException">An invalid address, two IPv4 addresses, a gateway off the subnets, or an MTU too small.</exception>
    public NetworkInterface AddInterface(INetworkDevice device, InterfaceConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(device);
        ArgumentNullException.ThrowIfNull(configuration);
        InterfaceAddress? ipv4 = null;
        var ipv6 = new List<InterfaceAddress>();
        foreach (InterfaceAddress a in configuration.Addresses)
        {
            if (a.Address.TryGetIpv4(out Ipv4Address v4))
            {
                if (ipv4 is not null)
                {
                    throw new ArgumentException("An interface has at most one IPv4 address.", nameof(configuration));
                }

                ArgumentOutOfRangeException.ThrowIfGreaterThan(a.PrefixLength, 32, nameof(configuration));
                if (!IsValidUnicast(v4.ToUInt32()))
                {
                    throw new ArgumentException($"{v4} is not a unicast host address.", nameof(configuration));
                }

                ipv4 = a;
            }
            else
            {
                Ipv6Address v6 = a.Address.ToIpv6();
                ArgumentOutOfRangeException.ThrowIfGreaterThan(a.PrefixLength, 128, nameof(configuration));
                if (!IsValidUnicast6(v6) || v6.IsLinkLocal)
                {
                    throw new ArgumentException($"{v6} is not a global or unique-local unicast address (the link-local address is made by the stack).", nameof(configuration));
                }

                ipv6.Add(a);
            }
        }

        Ipv4Address? gateway4 = null;
        Ipv6Address? gateway6 = null;
        foreach (IpAddress g in configuration.Gateways)
        {
            if (g.TryGetIpv4(out Ipv4Address v4) ? gateway4 is not null : gateway6 is not null)
            {
                throw new ArgumentException("An interface has at most one gateway per family.", nameof(configuration));
            }

            if (g.IsIpv4)
            {
                gateway4 = v4;
            }
            else
            {
                gateway6 = g.ToIpv6();
            }
        }

        bool runIpv6 = ipv6.Count > 0 || configuration.Ipv6 is not null;
        int effectiveMtu = configuration.Mtu ?? device.Mtu;

        // RFC 791 3.2: every internet module must be able to forward a datagram of 68 octets;
        // RFC 8200 5: every link carrying IPv6 has an MTU of at least 1280.
        ArgumentOutOfRangeException.ThrowIfLessThan(effectiveMtu, runIpv6 ? Ipv6Packet.MinimumMtu : Ipv4Packet.MinimumMtu, nameof(configuration));
        effectiveMtu = Math.Min(effectiveMtu, ushort.MaxValue);
        var nic = new NetworkInterface(this, _interfaces.Count, device, ipv4, gateway4, effectiveMtu);
        if (gateway4 is { } gw && !nic.IsOnLink(gw))
        {
            throw new ArgumentException($"The gateway {gw} is not on the subnet {nic.Network}/{nic.PrefixLength}.", nameof(configuration));
        }

        if (gateway4 is not null && ipv4 is null)
        {
            throw new ArgumentException("An IPv4 gateway needs an IPv4 address on the interface.", nameof(configuration));
        }

        if (gateway6 is not null && !runIpv6)
        {
            throw new ArgumentException("An IPv6 gateway needs IPv6 on the interface.", nameof(configuration));
        }

        if (runIpv6)
        {
            var v6 = new Ipv6Interface(this, nic, configuration.Ipv6 ?? new Ipv6InterfaceOptions(), ipv6, gateway6);
            if (gateway6 is { } g6 && !g6.IsLinkLocal && !v6.IsOnLink(g6, out _))
            {
                throw new ArgumentException($"The gateway {g6} is neither link-local nor on one of the interface's prefixes.", nameof(configuration));
            }

            nic.EnableIpv6(v6, this);

            // Duplicate address detection and router solicitation start on the loop.
            Timers.Schedule(Now, _ => v6.Start());
        }

        for (INetworkDevice d = device; d is FrameObservingDevice observer; d = observer.Inner)
        {
            (d as TracingDevice)?.UseStackFormatter(PacketFormatter);
        }

        _interfaces.Add(nic);
        return nic;
    }

    /// <summary>Registers the transport for its protocol number (UDP, TCP, an ICMP consumer).</summary>
    /// <exception cref="InvalidOperationException">A transport is already registered for that protocol.</exception>
    public void RegisterTransport(IIpTransport transport)
    {
        ArgumentNullException.ThrowIfNull(transport);
        ref IIpTransport? slot = ref _transports[(byte)transport.Protocol];
        if (slot is not null)
        {
            throw new InvalidOperationException($"A transport for {transport.Protocol} is already registered.");
        }

        slot = transport;
        _registeredTransports.Add(transport);
    }

    /// <summary>The transport registered for <paramref name="protocol"/>, or null.</summary>
    public IIpTransport? GetTransport(IpProtocol protocol) => _transports[(byte)protocol];

    /// <summary>
    /// Runs the loop once on the caller's thread: drains the devices' received frames, runs the
    /// requests queued with <see cref="Post"/>, runs the timers due now, delivers datagrams sent to
    /// ourselves, and flushes the devices.
    /// </summary>
    /// <remarks>
    /// A request posted to run between frames (<see cref="PostBetweenFrames"/>) runs, with those
    /// queued before it, before a device's batch, and one posted while a batch is drained cuts it
    /// at the next frame: the batch is ended there (<see cref="IIpTransport.OnReceiveBatchEnd"/>), the queued
    /// requests run, and the device's following frames start the next one. So an application that
    /// answers a completed read with the next one gets it registered before the rest of the batch
    /// is processed, and the following data can go straight into its buffer. Other requests (writes,
    /// whose sends the batch's ACKs clock anyway) wait for the batch's end, which measured cheaper
    /// than running them between frames.
    /// </remarks>
    /// <returns>The amount of work done; 0 when there was nothing to do.</returns>
    /// <exception cref="InvalidOperationException">Another thread is polling this stack.</exception>
    public int Poll()
    {
        if (Interlocked.Exchange(ref _polling, 1) != 0)
        {
            throw new InvalidOperationException("The stack is already being polled on another thread (one loop owns the stack).");
        }

        try
        {
            int work = 0;
            Counters.Polls++;
            // By index: requests run inside the loop below, and one may add an interface.
            for (int i = 0; i < _interfaces.Count; i++)
            {
                NetworkInterface nic = _interfaces[i];
                int limit = Options.ReceiveBatchLimit;
                int taken = 0;

                // Per-frame offload state exists only where the device says it may coalesce or
                // verify checksums; otherwise the plain overload, which every device implements
                // itself (the offload overload's default adapter would allocate on each call).
                bool perFrameOffload = (nic.Device.Capabilities & (DeviceCapabilities.ReceiveCoalescing | DeviceCapabilities.ReceiveChecksumOffload)) != 0;

                _inReceiveBatch = true;
                try
                {
                    // A read posted to run between frames, and the requests queued with it, run
                    // before the frames, as part of the batch; other requests (writes) wait for
                    // the batch's end as they do after a cut.
                    if (Volatile.Read(ref _betweenFrameRequests) > 0)
                    {
                        work += RunRequests();
                    }

                    // Receive coalescing (GRO) for a device that does not coalesce: while this
                    // device's batch is drained, transports may hold the datagrams they merge, and
                    // they deliver what they hold when the batch ends, before anything else runs.
                    _coalescingBatch = Options.ReceiveCoalescing && (nic.Device.Capabilities & DeviceCapabilities.ReceiveCoalescing) == 0;
                    while (taken < limit)
                    {
                        int n = perFrameOffload ? nic.Device.Receive(nic.Handler, limit - taken) : nic.Device.Receive(nic.PlainHandler, limit - taken);
                        if (n <= 0)
                        {
                            break;
                        }

                        taken += n;
                    }
                }
                finally
                {
                    _coalescingBatch = false;
                    _inReceiveBatch = false;
                    EndReceiveBatchIfWanted();
                }

                work += taken;
            }

            work += RunRequests();
            work += Timers.RunDue(Now);
            work += DeliverLoopback();
            foreach (NetworkInterface nic in _interfaces)
            {
                nic.Device.Flush();
            }

            return work;
        }
        finally
        {
            Volatile.Write(ref _polling, 0);
        }
    }

    /// <summary>
    /// True while <see cref="Poll"/> drains a device's receive batch (the frames of one device in
    /// one poll, up to a request that cuts it, and the requests that start it or run at a cut).
    /// Loop only.
    /// </summary>
    public bool InReceiveBatch => _inReceiveBatch;

    /// <summary>
    /// Asks for <see cref="IIpTransport.OnReceiveBatchEnd"/> when the receive batch being drained
    /// ends, which it does before anything else runs on the loop (requests, timers, loopback
    /// delivery), also when a device fails or the loop stops. A transport uses it to finish, once
    /// per batch, work that the batch's datagrams began (a read filled from several segments).
    /// Loop only.
    /// </summary>
    /// <returns>True when a batch is being drained and the call will come; false otherwise: the caller does the work now.</returns>
    public bool RequestReceiveBatchEnd()
    {
        if (!_inReceiveBatch)
        {
            return false;
        }

        _batchEndRequested = true;
        return true;
    }

    /// <summary>One frame of a device's receive batch; a request posted meanwhile to run between frames ends the batch here and runs, with those queued before it.</summary>
    internal void OnBatchFrame(NetworkInterface nic, ReadOnlySpan<byte> frame, in PacketOffload offload)
    {
        OnFrame(nic, frame, offload);
        if (_inReceiveBatch && Volatile.Read(ref _betweenFrameRequests) > 0)
        {
            // The batch ends here as it would after its last frame (held datagrams delivered,
            // batch-end work done), and the requests run as the start of the next one, which the
            // device's following frames continue.
            bool coalescing = _coalescingBatch;
            _coalescingBatch = false;
            try
            {
                EndReceiveBatchIfWanted();
                RunRequests();
            }
            finally
            {
                _coalescingBatch = coalescing;
            }
        }
    }

    private void EndReceiveBatchIfWanted()
    {
        if (_coalescingKeyGiven || _batchEndRequested)
        {
            _coalescingKeyGiven = false;
            _batchEndRequested = false;
            EndReceiveBatch();
        }
    }

    /// <summary>Tells every transport that a device's receive batch ended (<see cref="IIpTransport.OnReceiveBatchEnd"/>).</summary>
    private void EndReceiveBatch()
    {
        foreach (IIpTransport transport in _registeredTransports)
        {
            try
            {
                transport.OnReceiveBatchEnd(this);
            }
            catch (Exception e)
            {
                CallbackFailed(e);
            }
        }
    }

    /// <summary>
    /// Runs the loop until <paramref name="cancellationToken"/> is cancelled: <see cref="Poll"/>,
    /// then wait for any device to have frames, a <see cref="Post"/>, or the next timer. Disposes
    /// nothing: the caller owns the devices.
    /// </summary>
    /// <remarks>
    /// By default the loop is a task that waits without holding a thread. With
    /// <see cref="NetworkStackOptions.DedicatedLoopThread"/> on Linux, with the system clock and
    /// devices backed by descriptors (TUN, AF_PACKET and wrappers over them), it gets a thread of its
    /// own that sleeps in one poll(2) over the devices and a wake-up descriptor (<see cref="Post"/>
    /// writes it only while the loop sleeps).
    /// </remarks>
    /// <exception cref="InvalidOperationException">The loop is already running.</exception>
    public Task RunAsync(CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            return Task.FromException(new InvalidOperationException("The stack's loop is already running."));
        }

        return CanRunOnLoopThread() ? RunOnLoopThread(cancellationToken) : RunOnTasksAsync(cancellationToken);
    }

    private async Task RunOnTasksAsync(CancellationToken cancellationToken)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        var deviceWaits = new Task?[_interfaces.Count];
        int idleWakeUps = 0;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                // Publish the wake signal before polling, so a Post that lands during or after the
                // poll completes it and the wait below returns at once (no lost wake-ups).
                var wake = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                Volatile.Write(ref _wake, wake);
                int work = Poll();
                if (work > 0 || !_requests.IsEmpty || _loopbackQueue.Count > 0)
                {
                    idleWakeUps = 0;
                    await Task.Yield();
                    continue;
                }

                if (deviceWaits.Length != _interfaces.Count)
                {
                    Array.Resize(ref deviceWaits, _interfaces.Count);
                }

                var waits = new List<Task>(deviceWaits.Length + 2) { wake.Task };
                for (int i = 0; i < deviceWaits.Length; i++)
                {
                    // One outstanding wait per device, re-armed only once it has completed.
                    if (deviceWaits[i] is not { IsCompleted: false })
                    {
                        ObserveDeviceWait(deviceWaits[i], _interfaces[i]);
                        deviceWaits[i] = StartDeviceWait(_interfaces[i], stop.Token);
                    }

                    waits.Add(deviceWaits[i]!);
                }

                // A device that keeps reporting "ready" with nothing to receive (closed, or faulted)
                // must not make this loop spin: after a few such wake-ups, wait a little first.
                if (idleWakeUps > 8)
                {
                    await Task.Delay(IdleBackoff, TimeProvider, cancellationToken).ConfigureAwait(false);
                }

                using var delayCancel = CancellationTokenSource.CreateLinkedTokenSource(stop.Token);
                if (NextDeadline is { } deadline)
                {
                    TimeSpan delay = deadline - Now;
                    if (delay <= TimeSpan.Zero)
                    {
                        continue;
                    }

                    // Task.Delay takes at most ~49 days; a far timer just means waking up once in a while.
                    delay = delay < MaxWait ? delay : MaxWait;

                    waits.Add(Task.Delay(delay, TimeProvider, delayCancel.Token));
                }

                Task woke = await Task.WhenAny(waits).ConfigureAwait(false);
                Counters.WakeUps++;
                delayCancel.Cancel();
                idleWakeUps = woke != wake.Task && Array.IndexOf(deviceWaits, woke) >= 0 ? idleWakeUps + 1 : 0;
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            // Cancelled while backing off: a normal stop.
        }
        finally
        {
            Volatile.Write(ref _wake, null);
            stop.Cancel();
            foreach (Task? t in deviceWaits)
            {
                if (t is not null)
                {
                    // Observe the device waits' outcome (cancelled, or a device fault) so nothing goes unobserved.
                    _ = t.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                }
            }

            Volatile.Write(ref _running, 0);
        }
    }

    /// <summary>
    /// Queues <paramref name="work"/> to run on the loop (thread-safe). Exceptions it throws are
    /// caught, logged and counted (<see cref="StackCountersSnapshot.CallbackExceptions"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">The bounded request queue is full.</exception>
    public void Post(Action<NetworkStack> work) => Enqueue(work, betweenFrames: false);

    /// <summary>
    /// Queues <paramref name="work"/> to run on the loop (thread-safe), like <see cref="Post"/>,
    /// and cuts a receive batch in progress for it at the next frame (see <see cref="Poll"/>): it
    /// runs, with the requests queued before it, between two frames rather than after the batch.
    /// For work that the batch's following frames depend on, such as a read their data can go
    /// straight into.
    /// </summary>
    /// <param name="work">The work.</param>
    /// <exception cref="InvalidOperationException">The bounded request queue is full.</exception>
    public void PostBetweenFrames(Action<NetworkStack> work) => Enqueue(work, betweenFrames: true);

    private void Enqueue(Action<NetworkStack> work, bool betweenFrames)
    {
        ArgumentNullException.ThrowIfNull(work);
        if (Interlocked.Increment(ref _pendingRequests) > Options.RequestQueueCapacity)
        {
            Interlocked.Decrement(ref _pendingRequests);
            throw new InvalidOperationException("stack request queue full");
        }

        _requests.Enqueue(work);
        if (betweenFrames)
        {
            Interlocked.Increment(ref _betweenFrameRequests); // after the enqueue: the cut that sees it runs it
        }

        Volatile.Read(ref _wake)?.TrySetResult();
        WakeLoopThread();
    }

    /// <summary>Runs <paramref name="work"/> on the loop and completes with its result or exception.</summary>
    /// <exception cref="InvalidOperationException">The bounded request queue is full.</exception>
    public Task<T> InvokeAsync<T>(Func<NetworkStack, T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Post(stack =>
        {
            try
            {
                tcs.TrySetResult(work(stack));
            }
            catch (Exception e)
            {
                tcs.TrySetException(e);
            }
        });
        return tcs.Task;
    }

    /// <summary>Runs <paramref name="work"/> on the loop and completes when it has run (or with its exception).</summary>
    /// <exception cref="InvalidOperationException">The bounded request queue is full.</exception>
    public Task InvokeAsync(Action<NetworkStack> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        return InvokeAsync<bool>(stack =>
        {
            work(stack);
            return true;
        });
    }

    /// <summary>Releases the meter and the reassembly buffers. Devices belong to the caller.</summary>
    public void Dispose()
    {
        _meter.Dispose();
        _reassembler.Dispose();
        _reassembler6.Dispose();
    }

    /// <summary>The stack's source of randomness (seeded by <see cref="NetworkStackOptions.Seed"/>); loop only.</summary>
    internal Random Random { get; }

    /// <summary>A secret of <paramref name="length"/> bytes: from the seeded generator in simulations, else from the operating system's CSPRNG.</summary>
    internal byte[] DrawSecret(int length)
    {
        var secret = new byte[length];
        if (Options.Seed is not null)
        {
            Random.NextBytes(secret);
        }
        else
        {
            System.Security.Cryptography.RandomNumberGenerator.Fill(secret);
        }

        return secret;
    }

    /// <summary>A 48-bit nonce for duplicate address detection (RFC 7527), never 0.</summary>
    internal ulong NextNonce() => ((ulong)Random.NextInt64(1, 1L << 48)) & 0xffff_ffff_ffffUL;

    private static Task StartDeviceWait(NetworkInterface nic, CancellationToken cancellationToken)
    {
        try
        {
            return nic.Device.WaitForReceiveAsync(cancellationToken).AsTask();
        }
        catch (Exception e)
        {
            return Task.FromException(e);
        }
    }

    private void ObserveDeviceWait(Task? wait, NetworkInterface nic)
    {
        if (wait is { IsFaulted: true })
        {
            Logger.LogWarning(wait.Exception, "{Interface}: waiting for frames failed", nic.Name);
        }
    }

    internal void InvokeCallback(Action<NetworkStack> callback)
    {
        try
        {
            callback(this);
        }
        catch (Exception e)
        {
            CallbackFailed(e);
        }
    }

    internal void CallbackFailed(Exception e)
    {
        Counters.CallbackExceptions++;
        Logger.LogError(e, "A callback on the stack's loop threw");
    }

    private int RunRequests()
    {
        // Only the requests present now: work that posts more work runs at the next poll. The
        // between-frame requests among them run now (one whose count lands after this reset costs
        // at most one needless cut).
        Volatile.Write(ref _betweenFrameRequests, 0);
        int count = Volatile.Read(ref _pendingRequests);
        int ran = 0;
        while (ran < count && _requests.TryDequeue(out Action<NetworkStack>? work))
        {
            Interlocked.Decrement(ref _pendingRequests);
            ran++;
            InvokeCallback(work);
        }

        return ran;
    }
}
