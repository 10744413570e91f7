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

    /// <summary>The kernel's IPv6 address on the link (when the peer runs IPv6).</summary>
    public static readonly Ipv6Address KernelAddress6 = Ipv6Address.Parse("2001:db8:66::1");

    /// <summary>The stack's IPv6 address on the link (when the peer runs IPv6).</summary>
    public static readonly Ipv6Address StackAddress6 = Ipv6Address.Parse("2001:db8:66::2");

    /// <summary>The kernel's IPv6 address in the far namespace of a routed peer.</summary>
    public static readonly Ipv6Address FarAddress6 = Ipv6Address.Parse("2001:db8:77::2");

    private readonly List<TestNamespace> _namespaces;
    private readonly CancellationTokenSource _stop = new();
    private Task? _loop;

    private KernelPeer(List<TestNamespace> namespaces, TestNamespace kernel, LinuxDevice device, NetworkStack stack, bool ipv6)
    {
        _namespaces = namespaces;
        Kernel = kernel;
        Router = kernel;
        Device = device;
        Stack = stack;
        Ipv6 = ipv6;
        RemoteIp = ipv6 ? KernelAddress6 : KernelAddress;
    }

    /// <summary>True when the test runs over IPv6: both ends have IPv6 addresses as well as IPv4 ones, and <see cref="KernelIp"/>, <see cref="StackIp"/> and <see cref="RemoteIp"/> are IPv6.</summary>
    public bool Ipv6 { get; }

    /// <summary>The kernel's address on the link in the test's family.</summary>
    public IpAddress KernelIp => Ipv6 ? KernelAddress6 : KernelAddress;

    /// <summary>The stack's address in the test's family.</summary>
    public IpAddress StackIp => Ipv6 ? StackAddress6 : StackAddress;

    /// <summary>Where the kernel's tools listen and connect from, in the test's family (the far namespace's address when routed).</summary>
    public IpAddress RemoteIp { get; private set; }

    /// <summary>An address as a URL host or a socat/nginx address: <c>10.66.0.2</c> or <c>[2001:db8:66::2]</c>.</summary>
    public static string Host(IpAddress address) => address.IsIpv6 ? $"[{address}]" : address.ToString();

    /// <summary>The family's name for a theory's display: <c>v4</c> or <c>v6</c>.</summary>
    public static bool IsIpv6(string family) => family == "v6";

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
    /// <param name="ipv6">Run both families (see <see cref="Ipv6"/>).</param>
    /// <param name="stackOptions">The stack's options (the defaults when null).</param>
    public static Task<KernelPeer> OpenAsync(string medium, Action<NetworkStack>? configure = null, Func<INetworkDevice, INetworkDevice>? wrap = null, bool ipv6 = false, NetworkStackOptions? stackOptions = null) => medium switch
    {
        "tun" => OnTunAsync(configure, null, wrap, ipv6, stackOptions),
        "tun-refused" => OnTunAsync(configure, new TunDeviceOptions { OffloadFlags = RefusedFlags }, wrap, ipv6, stackOptions),
        "veth" => OnVethAsync(configure, null, wrap, ipv6, stackOptions: stackOptions),
        "veth-plain" => OnVethAsync(configure, new RawPacketDeviceOptions { Offloads = false }, wrap, ipv6, stackOptions: stackOptions),
        _ => throw new ArgumentOutOfRangeException(nameof(medium), medium, "not a medium of KernelPeer.Media"),
    };

    /// <summary>TUN_F_CSUM and a flag bit no kernel knows: TUNSETOFFLOAD fails with EINVAL for real.</summary>
    public const uint RefusedFlags = 0x1 | 0x8000_0000;

    /// <summary>A TUN device <c>ptun0</c> in a new namespace; the kernel has 10.66.0.1/24 on it, the stack 10.66.0.2.</summary>
    public static Task<KernelPeer> OnTunAsync(Action<NetworkStack>? configure = null, TunDeviceOptions? options = null, Func<INetworkDevice, INetworkDevice>? wrap = null, bool ipv6 = false, NetworkStackOptions? stackOptions = null)
    {
        var ns = new TestNamespace();
        LinuxDevice? device = null;
        try
        {
            device = NetworkNamespace.Invoke(ns.Name, () => TunDevice.Open("ptun0", options ?? new TunDeviceOptions()));
            ns.Ip("addr", "add", $"{KernelAddress}/24", "dev", "ptun0");
            if (ipv6)
            {
                ns.Ip("-6", "addr", "add", $"{KernelAddress6}/64", "dev", "ptun0", "nodad");
            }

            ns.Ip("link", "set", "ptun0", "up");
            ns.WaitForOperationalUp("ptun0");
            return Start([ns], ns, device, configure, wrap, ipv6, stackOptions);
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
    /// <param name="configure">Set-up of the stack before its loop starts.</param>
    /// <param name="options">The AF_PACKET device's options.</param>
    /// <param name="wrap">Puts a wrapper (a recorder) between the stack and the device.</param>
    /// <param name="ipv6">Add IPv6 to both ends (the kernel's without DAD); the stack's addresses pass DAD before this completes.</param>
    /// <param name="kernelIpv6">The kernel's IPv6 address, for tests that make it conflict with the stack's.</param>
    /// <param name="stackOptions">The stack's options (the defaults when null).</param>
    public static Task<KernelPeer> OnVethAsync(Action<NetworkStack>? configure = null, RawPacketDeviceOptions? options = null, Func<INetworkDevice, INetworkDevice>? wrap = null, bool ipv6 = false, Ipv6Address? kernelIpv6 = null, NetworkStackOptions? stackOptions = null)
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
            if (ipv6)
            {
                kernelSide.Ip("-6", "addr", "add", $"{kernelIpv6 ?? KernelAddress6}/64", "dev", "pveth1", "nodad");
            }

            kernelSide.Ip("link", "set", "pveth1", "up");
            stackSide.WaitForOperationalUp("pveth0");
            kernelSide.WaitForOperationalUp("pveth1");
            device = NetworkNamespace.Invoke(stackSide.Name, () => RawPacketDevice.Open("pveth0", options ?? new RawPacketDeviceOptions()));
            return Start([stackSide, kernelSide], kernelSide, device, configure, wrap, ipv6, stackOptions);
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
        if (Ipv6)
        {
            router.Ip("-6", "addr", "add", "2001:db8:77::1/64", "dev", "pfar0", "nodad");
            far.Ip("-6", "addr", "add", $"{FarAddress6}/64", "dev", "pfar1", "nodad");
            far.Ip("-6", "route", "add", "2001:db8:66::/64", "via", "2001:db8:77::1");
            Check(router.Exec(TimeSpan.FromSeconds(10), "sysctl", "-qw", "net.ipv6.conf.all.forwarding=1"));
        }

        router.WaitForOperationalUp("pfar0");
        far.WaitForOperationalUp("pfar1");
        Router = router;
        Kernel = far;
        RemoteAddress = FarAddress;
        RemoteIp = Ipv6 ? FarAddress6 : FarAddress;

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

    private static async Task<KernelPeer> Start(List<TestNamespace> namespaces, TestNamespace kernel, LinuxDevice device, Action<NetworkStack>? configure, Func<INetworkDevice, INetworkDevice>? wrap, bool ipv6, NetworkStackOptions? stackOptions)
    {
        var stack = new NetworkStack(stackOptions ?? new NetworkStackOptions());
        INetworkDevice wrapped = wrap?.Invoke(device) ?? device;
        if (ipv6)
        {
            stack.AddInterface(wrapped, new InterfaceConfiguration
            {
                Addresses = [new InterfaceAddress(StackAddress, 24), new InterfaceAddress(StackAddress6, 64)],
                Gateways = [KernelAddress, KernelAddress6],
            });
        }
        else
        {
            stack.AddInterface(wrapped, StackAddress, 24, gateway: KernelAddress);
        }

        configure?.Invoke(stack);
        var peer = new KernelPeer(namespaces, kernel, device, stack, ipv6);
        peer._loop = Task.Run(() => stack.RunAsync(peer._stop.Token));
        if (ipv6)
        {
            // RFC 4862 5.4: the addresses are tentative until duplicate address detection is over (about a second on Ethernet).
            try
            {
                await stack.WaitForAddressesAsync().WaitAsync(TimeSpan.FromSeconds(15));
            }
            catch
            {
                await peer.DisposeAsync();
                throw;
            }
        }

        return peer;
    }
}
