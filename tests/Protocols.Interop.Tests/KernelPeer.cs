using Protocols.Ip;
using Protocols.Ip.Devices;
using Protocols.Ip.Devices.Linux;
using Protocols.Wire;

namespace Protocols.Interop.Tests;

/// <summary>
/// The user-space stack running in this process on a real device, with the Linux kernel as its
/// peer inside private namespaces: over TUN (<see cref="OnTunAsync"/>) or over a veth pair whose
/// stack end is driven through AF_PACKET (<see cref="OnVethAsync"/>). Disposal stops the loop
/// (bounded), closes the device and deletes the namespaces.
/// </summary>
public sealed class KernelPeer : IAsyncDisposable
{
    /// <summary>The kernel's address on the link.</summary>
    public static readonly Ipv4Address KernelAddress = Ipv4Address.Parse("10.66.0.1");

    /// <summary>The stack's address on the link.</summary>
    public static readonly Ipv4Address StackAddress = Ipv4Address.Parse("10.66.0.2");

    /// <summary>The kernel's address in the far namespace of a routed peer (<see cref="RouteThroughRouter"/>).</summary>
    public static readonly Ipv4Address FarAddress = Ipv4Address.Parse("10.77.0.2");

    private readonly List<TestNamespace> _namespaces;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    private KernelPeer(List<TestNamespace> namespaces, TestNamespace kernel, LinuxDevice device, NetworkStack stack)
    {
        _namespaces = namespaces;
        Kernel = kernel;
        Router = kernel;
        Device = device;
        Stack = stack;
    }

    /// <summary>The namespace where the kernel's tools run.</summary>
    public TestNamespace Kernel { get; private set; }

    /// <summary>
    /// The namespace that holds the kernel's end of the link (10.66.0.1): <see cref="Kernel"/>
    /// itself, or the router in front of it after <see cref="RouteThroughRouter"/>.
    /// </summary>
    public TestNamespace Router { get; private set; }

    /// <summary>Where the kernel's tools listen and connect from: 10.66.0.1, or 10.77.0.2 when routed.</summary>
    public Ipv4Address RemoteAddress { get; private set; } = KernelAddress;

    /// <summary>The stack's device.</summary>
    public LinuxDevice Device { get; }

    /// <summary>The stack.</summary>
    public NetworkStack Stack { get; }

    /// <summary>
    /// Every way the stack meets the kernel, for theories: TUN with offloads, TUN whose offloads the
    /// kernel refused (plain mode, the fallback), veth through AF_PACKET with PACKET_VNET_HDR, and
    /// veth through a plain AF_PACKET socket.
    /// </summary>
    public static TheoryData<string> Media => ["tun", "tun-refused", "veth", "veth-plain"];

    /// <summary>Opens the peer for one of <see cref="Media"/>.</summary>
    /// <param name="medium">One of <see cref="Media"/>.</param>
    /// <param name="configure">Set-up of the stack (transports) before its loop starts.</param>
    /// <param name="wrap">Puts a wrapper (a recorder) between the stack and the device.</param>
    /// <param name="stackOptions">The stack's options (the defaults when null).</param>
    public static Task<KernelPeer> OpenAsync(string medium, Action<NetworkStack>? configure = null, Func<INetworkDevice, INetworkDevice>? wrap = null, NetworkStackOptions? stackOptions = null) => medium switch
    {
        "tun" => OnTunAsync(configure, null, wrap, stackOptions),
        "tun-refused" => OnTunAsync(configure, new TunDeviceOptions { OffloadFlags = RefusedFlags }, wrap, stackOptions),
        "veth" => OnVethAsync(configure, null, wrap, stackOptions),
        "veth-plain" => OnVethAsync(configure, new RawPacketDeviceOptions { Offloads = false }, wrap, stackOptions),
        _ => throw new ArgumentOutOfRangeException(nameof(medium), medium, "not a medium of KernelPeer.Media"),
    };

    /// <summary>TUN_F_CSUM and a flag bit no kernel knows: TUNSETOFFLOAD fails with EINVAL for real.</summary>
    public const uint RefusedFlags = 0x1 | 0x8000_0000;

    /// <summary>A TUN device <c>ptun0</c> in a new namespace; the kernel has 10.66.0.1/24 on it, the stack 10.66.0.2.</summary>
    public static Task<KernelPeer> OnTunAsync(Action<NetworkStack>? configure = null, TunDeviceOptions? options = null, Func<INetworkDevice, INetworkDevice>? wrap = null, NetworkStackOptions? stackOptions = null)
    {
        var ns = new TestNamespace();
        LinuxDevice? device = null;
        try
        {
            device = NetworkNamespace.Invoke(ns.Name, () => TunDevice.Open("ptun0", options ?? new TunDeviceOptions()));
            ns.Ip("addr", "add", $"{KernelAddress}/24", "dev", "ptun0");
            ns.Ip("link", "set", "ptun0", "up");
            ns.WaitForOperationalUp("ptun0");
            return Task.FromResult(Start([ns], ns, device, configure, wrap, stackOptions));
        }
        catch
        {
            device?.Dispose();
            ns.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A veth pair: <c>pveth0</c> (no address; the stack's, through AF_PACKET) in one namespace,
    /// <c>pveth1</c> with 10.66.0.1/24 in the kernel's namespace. Its transmit checksum offload
    /// stays on (the default), so the kernel's UDP arrives with partial checksums that
    /// RawPacketDevice completes (PACKET_AUXDATA).
    /// </summary>
    public static Task<KernelPeer> OnVethAsync(Action<NetworkStack>? configure = null, RawPacketDeviceOptions? options = null, Func<INetworkDevice, INetworkDevice>? wrap = null, NetworkStackOptions? stackOptions = null)
    {
        var stackSide = new TestNamespace();
        TestNamespace? kernelSide = null;
        LinuxDevice? device = null;
        try
        {
            kernelSide = new TestNamespace();
            stackSide.Ip("link", "add", "pveth0", "type", "veth", "peer", "name", "pveth1", "netns", kernelSide.Name);
            stackSide.Ip("link", "set", "pveth0", "up");
            kernelSide.Ip("addr", "add", $"{KernelAddress}/24", "dev", "pveth1");
            kernelSide.Ip("link", "set", "pveth1", "up");
            stackSide.WaitForOperationalUp("pveth0");
            kernelSide.WaitForOperationalUp("pveth1");
            device = NetworkNamespace.Invoke(stackSide.Name, () => RawPacketDevice.Open("pveth0", options ?? new RawPacketDeviceOptions()));
            return Task.FromResult(Start([stackSide, kernelSide], kernelSide, device, configure, wrap, stackOptions));
        }
        catch
        {
            device?.Dispose();
            kernelSide?.Dispose();
            stackSide.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Moves the kernel's tools one hop away: a new namespace with 10.77.0.2/24 on a veth pair
    /// whose other end (10.77.0.1) is in the namespace of the link, which now forwards between
    /// the two (so nftables there can drop packets in its forward chain: real losses on the path,
    /// which both TCPs must repair by retransmission, unlike drops in a sender's own output hook
    /// that its TCP sees as a local send failure). TSO/GSO are off on the far side so a dropped
    /// packet is one segment. The stack routes 10.77.0.0/24 via 10.66.0.1. Call before any traffic.
    /// </summary>
    public void RouteThroughRouter()
    {
        var far = new TestNamespace();
        _namespaces.Add(far);
        TestNamespace router = Kernel;
        router.Ip("link", "add", "pfar0", "type", "veth", "peer", "name", "pfar1", "netns", far.Name);
        router.Ip("addr", "add", "10.77.0.1/24", "dev", "pfar0");
        router.Ip("link", "set", "pfar0", "up");
        far.Ip("addr", "add", $"{FarAddress}/24", "dev", "pfar1");
        far.Ip("link", "set", "pfar1", "up");
        far.Ip("route", "add", "10.66.0.0/24", "via", "10.77.0.1");
        Check(router.Exec(TimeSpan.FromSeconds(10), "sysctl", "-qw", "net.ipv4.ip_forward=1"));
        Check(far.Exec(TimeSpan.FromSeconds(10), "ethtool", "-K", "pfar1", "tso", "off", "gso", "off"));
        Check(router.Exec(TimeSpan.FromSeconds(10), "ethtool", "-K", "pfar0", "gro", "off"));
        router.WaitForOperationalUp("pfar0");
        far.WaitForOperationalUp("pfar1");
        Router = router;
        Kernel = far;
        RemoteAddress = FarAddress;

        static void Check(ToolResult result)
        {
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException(TestNamespace.Describe(result));
            }
        }
    }

    /// <summary>Runs <paramref name="program"/> in the kernel's namespace (bounded by <paramref name="timeout"/>).</summary>
    public ToolResult Exec(TimeSpan timeout, string program, params string[] arguments) => Kernel.Exec(timeout, program, arguments);

    /// <summary>Stops the loop (at most 10 s), closes the device, deletes the namespaces.</summary>
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            if (_loop is not null)
            {
                await _loop.WaitAsync(TimeSpan.FromSeconds(10));
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            Device.Dispose();
            Stack.Dispose();
            foreach (TestNamespace ns in _namespaces)
            {
                ns.Dispose();
            }

            _stop.Dispose();
        }
    }

    private static KernelPeer Start(List<TestNamespace> namespaces, TestNamespace kernel, LinuxDevice device, Action<NetworkStack>? configure, Func<INetworkDevice, INetworkDevice>? wrap, NetworkStackOptions? stackOptions)
    {
        var stack = new NetworkStack(stackOptions ?? new NetworkStackOptions());
        stack.AddInterface(wrap?.Invoke(device) ?? device, StackAddress, 24, gateway: KernelAddress);
        configure?.Invoke(stack);
        var peer = new KernelPeer(namespaces, kernel, device, stack);
        peer._loop = Task.Run(() => stack.RunAsync(peer._stop.Token));
        return peer;
    }
}
