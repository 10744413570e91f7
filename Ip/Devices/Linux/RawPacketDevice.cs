using System.Buffers.Binary;
using System.Runtime.InteropServices;
using Protocols.Wire;

namespace Protocols.Ip.Devices.Linux;

/// <summary>
/// An existing Ethernet interface driven through an AF_PACKET raw socket (packet(7)): every
/// Ethernet frame the interface receives is read here, every frame written goes out on it. The
/// stack adds Ethernet framing and ARP and uses the interface's MAC address.
/// </summary>
/// <remarks>
/// The kernel keeps processing the same frames: give the interface no IP address of its own
/// (the stack owns the addresses). The kernel on the other side of a veth pair leaves UDP/TCP
/// checksums to the "hardware" by default; turn that off there (<c>ethtool -K PEER tx off</c>)
/// or received datagrams fail their checksum here. Frames this socket sends are not read back
/// (PACKET_IGNORE_OUTGOING where the kernel has it, and sll_pkttype PACKET_OUTGOING otherwise).
/// </remarks>
public sealed unsafe class RawPacketDevice : LinuxDevice
{
    /// <summary>The receive buffer asked for (SO_RCVBUFFORCE as root, else capped by net.core.rmem_max).</summary>
    private const int ReceiveBufferBytes = 4 << 20;

    private const int SO_RCVBUFFORCE = 33;

    private RawPacketDevice(FileDescriptorHandle descriptor, string name, int mtu, MacAddress hardwareAddress, int interfaceIndex)
        : base(descriptor, name, mtu, hardwareAddress)
    {
        InterfaceIndex = interfaceIndex;
    }

    /// <inheritdoc/>
    public override DeviceMedium Medium => DeviceMedium.Ethernet;

    /// <summary>The kernel's index of the interface.</summary>
    public int InterfaceIndex { get; }

    /// <summary>Opens an AF_PACKET socket bound to the Ethernet interface <paramref name="interfaceName"/>.</summary>
    /// <param name="interfaceName">An existing interface of the calling thread's network namespace, e.g. <c>veth0</c>.</param>
    /// <param name="mtu">The stack's MTU; null reads the interface's (SIOCGIFMTU).</param>
    /// <returns>The open device.</returns>
    /// <exception cref="ArgumentException">The name is not a valid interface name.</exception>
    /// <exception cref="NetworkDeviceException">No such interface, not Ethernet, or no permission (needs CAP_NET_RAW).</exception>
    public static RawPacketDevice Open(string interfaceName, int? mtu = null)
    {
        LinuxNative.ValidateInterfaceName(interfaceName, nameof(interfaceName));
        ValidateMtu(mtu);
        uint index = LinuxNative.InterfaceNameToIndex(interfaceName);
        if (index == 0)
        {
            throw new NetworkDeviceException($"{interfaceName}: no such network interface in this namespace", LinuxNative.ENODEV);
        }

        // Protocol 0 at creation: nothing is queued until bind names the interface and ETH_P_ALL.
        int fd = LinuxNative.Socket(LinuxNative.AF_PACKET, LinuxNative.SOCK_RAW | LinuxNative.SOCK_NONBLOCK | LinuxNative.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw NetworkDeviceException.FromErrno($"{interfaceName}: opening an AF_PACKET socket", LinuxNative.LastError);
        }

        var descriptor = new FileDescriptorHandle(fd);
        try
        {
            LinuxNative.InterfaceRequest request = LinuxNative.CreateRequest(interfaceName);
            if (LinuxNative.Ioctl(descriptor, LinuxNative.SIOCGIFHWADDR, &request) < 0)
            {
                throw NetworkDeviceException.FromErrno($"{interfaceName}: reading the hardware address (SIOCGIFHWADDR)", LinuxNative.LastError);
            }

            ushort hardwareType = (ushort)(request.Value & 0xffff);
            if (hardwareType != LinuxNative.ARPHRD_ETHER)
            {
                throw new NetworkDeviceException($"{interfaceName}: not an Ethernet interface (hardware type {hardwareType})", LinuxNative.EINVAL);
            }

            // sa_data follows the 2-byte sa_family at offset 16 of the ifreq.
            byte* raw = (byte*)&request.Value;
            MacAddress mac = MacAddress.Create(new ReadOnlySpan<byte>(raw + 2, 6));
            int deviceMtu = mtu ?? QueryMtu(descriptor, interfaceName);

            int one = 1;
            _ = LinuxNative.SetSocketOption(descriptor, LinuxNative.SOL_PACKET, LinuxNative.PACKET_IGNORE_OUTGOING, &one, sizeof(int)); // Linux 4.20+; pkttype check covers older kernels
            int size = ReceiveBufferBytes;
            if (LinuxNative.SetSocketOption(descriptor, LinuxNative.SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(int)) < 0)
            {
                _ = LinuxNative.SetSocketOption(descriptor, LinuxNative.SOL_SOCKET, LinuxNative.SO_RCVBUF, &size, sizeof(int));
            }

            var address = new LinuxNative.SocketAddressLinkLayer
            {
                Family = LinuxNative.AF_PACKET,
                Protocol = BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(LinuxNative.ETH_P_ALL) : LinuxNative.ETH_P_ALL, // network order
                InterfaceIndex = (int)index,
            };
            if (LinuxNative.Bind(descriptor, &address, (uint)sizeof(LinuxNative.SocketAddressLinkLayer)) < 0)
            {
                throw NetworkDeviceException.FromErrno($"{interfaceName}: binding the AF_PACKET socket", LinuxNative.LastError);
            }

            return new RawPacketDevice(descriptor, interfaceName, deviceMtu, mac, (int)index);
        }
        catch
        {
            descriptor.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    private protected override int ReadFrame(SafeHandle descriptor, byte* buffer, int length, out bool discard)
    {
        LinuxNative.SocketAddressLinkLayer from;
        uint fromLength = (uint)sizeof(LinuxNative.SocketAddressLinkLayer);

        // MSG_TRUNC makes recvfrom return the frame's real length, so a frame larger than the buffer is detected.
        nint n = LinuxNative.ReceiveFrom(descriptor, buffer, (nuint)length, LinuxNative.MSG_TRUNC, &from, &fromLength);
        if (n < 0)
        {
            discard = false;
            return -LinuxNative.LastError;
        }

        discard = n > length || from.PacketType == LinuxNative.PACKET_OUTGOING;
        return (int)n;
    }

    /// <inheritdoc/>
    private protected override nint WriteFrame(SafeHandle descriptor, byte* frame, int length) =>
        LinuxNative.Send(descriptor, frame, (nuint)length, 0);
}
