using Protocols.Wire;

namespace Protocols.Ip.Simulation;

/// <summary>
/// A simulated Ethernet segment: a switch with one port per attached device. A frame sent by one
/// device goes to every other port when its destination is a group address (broadcast,
/// multicast), otherwise only to the port whose device has that address; frames to unknown
/// addresses go nowhere. Each port's egress towards its device is a <see cref="LinkDirection"/>
/// with its own impairments and counters.
/// </summary>
public sealed class MemorySegment
{
    private const int EthernetHeaderLength = 14;

    private readonly MemoryNetwork _network;
    private readonly LinkOptions _options;
    private readonly Lock _lock = new();
    // Copy-on-attach, so forwarding reads it without a lock or an allocation.
    private volatile (MemoryDevice Device, LinkDirection Port)[] _ports = [];
    private long _runts;

    internal MemorySegment(MemoryNetwork network, string name, LinkOptions options, int mtu)
    {
        _network = network;
        Name = name;
        _options = options;
        Mtu = mtu;
    }

    /// <summary>The segment's name.</summary>
    public string Name { get; }

    /// <summary>The MTU of every port.</summary>
    public int Mtu { get; }

    /// <summary>Frames shorter than an Ethernet header, dropped.</summary>
    public long RuntDrops => Interlocked.Read(ref _runts);

    /// <summary>The attached devices.</summary>
    public IReadOnlyList<MemoryDevice> Devices
    {
        get
        {
            return [.. _ports.Select(p => p.Device)];
        }
    }

    /// <summary>Attaches a new Ethernet device with a fresh locally administered MAC address.</summary>
    /// <param name="name">The device's name (default <c>{segment}.{n}</c>).</param>
    /// <param name="options">Impairments of the port towards this device (default: the segment's).</param>
    public MemoryDevice Attach(string? name = null, LinkOptions? options = null)
    {
        lock (_lock)
        {
            var (device, port) = _network.AttachToSegment(this, name ?? $"{Name}.{_ports.Length + 1}", options ?? _options);
            _ports = [.. _ports, (device, port)];
            return device;
        }
    }

    internal void Forward(MemoryDevice sender, ReadOnlySpan<byte> frame)
    {
        if (frame.Length < EthernetHeaderLength)
        {
            Interlocked.Increment(ref _runts);
            return;
        }

        MacAddress destination = MacAddress.Create(frame[..6]);
        foreach (var (device, port) in _ports)
        {
            if (device != sender && (destination.IsMulticast || destination == device.HardwareAddress))
            {
                port.Send(frame);
            }
        }
    }
}
