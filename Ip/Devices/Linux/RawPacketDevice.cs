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
/// (the stack owns the addresses). A frame the kernel made itself (the peer of a veth pair, a
/// bridge) may carry a transport checksum that offload was meant to finish (CHECKSUM_PARTIAL);
/// the kernel says so in PACKET_AUXDATA and this device completes the UDP/TCP checksum of such
/// frames before handing them on, so the stack verifies every checksum as usual. Frames this
/// socket sends are not read back (PACKET_IGNORE_OUTGOING where the kernel has it, and sll_pkttype
/// PACKET_OUTGOING otherwise).
/// </remarks>
public sealed unsafe class RawPacketDevice : LinuxDevice
{
    /// <summary>The receive buffer asked for (SO_RCVBUFFORCE as root, else capped by net.core.rmem_max).</summary>
    private const int ReceiveBufferBytes = 4 << 20;

    private const int SO_RCVBUFFORCE = 33;

    /// <summary>Room for the PACKET_AUXDATA control message (16-byte header + 20-byte payload, aligned).</summary>
    private const int ControlWords = 8;

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
            if (LinuxNative.SetSocketOption(descriptor, LinuxNative.SOL_PACKET, LinuxNative.PACKET_AUXDATA, &one, sizeof(int)) < 0)
            {
                throw NetworkDeviceException.FromErrno($"{interfaceName}: enabling PACKET_AUXDATA", LinuxNative.LastError);
            }
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
        var vector = new LinuxNative.IoVector { Base = buffer, Length = (nuint)length };
        ulong* control = stackalloc ulong[ControlWords];
        var message = new LinuxNative.MessageHeader
        {
            Name = &from,
            NameLength = (uint)sizeof(LinuxNative.SocketAddressLinkLayer),
            Vectors = &vector,
            VectorCount = 1,
            Control = control,
            ControlLength = ControlWords * sizeof(ulong),
        };

        // MSG_TRUNC makes recvmsg return the frame's real length, so a frame larger than the buffer is detected.
        nint n = LinuxNative.ReceiveMessage(descriptor, &message, LinuxNative.MSG_TRUNC);
        if (n < 0)
        {
            discard = false;
            return -LinuxNative.LastError;
        }

        discard = n > length || from.PacketType == LinuxNative.PACKET_OUTGOING;
        if (!discard && (AuxiliaryStatus(&message) & LinuxNative.TP_STATUS_CSUMNOTREADY) != 0)
        {
            CompleteTransportChecksum(new Span<byte>(buffer, (int)n));
        }

        return (int)n;
    }

    /// <summary>
    /// Finishes the UDP or TCP checksum of a locally made frame whose checksum was left to offload
    /// (the field holds only the pseudo-header sum). Only whole IPv4 datagrams and unfragmented
    /// IPv6 packets carry such a checksum; anything else, or anything malformed, is left as it is
    /// for the stack to judge.
    /// </summary>
    internal static void CompleteTransportChecksum(Span<byte> frame)
    {
        const int ethernetLength = 14;
        if (frame.Length >= ethernetLength + Ipv6Header.FixedLength && BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) == (ushort)EtherType.Ipv6)
        {
            CompleteIpv6TransportChecksum(frame[ethernetLength..]);
            return;
        }

        if (frame.Length < ethernetLength + 20 || BinaryPrimitives.ReadUInt16BigEndian(frame[12..]) != (ushort)EtherType.Ipv4)
        {
            return;
        }

        Span<byte> ip = frame[ethernetLength..];
        int headerLength = (ip[0] & 0x0f) * 4;
        int totalLength = BinaryPrimitives.ReadUInt16BigEndian(ip[2..]);
        bool fragment = (BinaryPrimitives.ReadUInt16BigEndian(ip[6..]) & 0x3fff) != 0; // MF or an offset
        if (ip[0] >> 4 != 4 || headerLength < 20 || totalLength < headerLength || totalLength > ip.Length || fragment)
        {
            return;
        }

        var protocol = (IpProtocol)ip[9];
        int checksumOffset = protocol switch
        {
            IpProtocol.Udp => 6,   // RFC 768
            IpProtocol.Tcp => 16,  // RFC 9293 3.1
            _ => -1,
        };
        Span<byte> transport = ip[headerLength..totalLength];
        if (checksumOffset < 0 || transport.Length < checksumOffset + 2)
        {
            return;
        }

        transport[checksumOffset] = 0;
        transport[checksumOffset + 1] = 0;
        uint pseudo = Checksum.PseudoHeaderSum(Ipv4Address.Create(ip.Slice(12, 4)), Ipv4Address.Create(ip.Slice(16, 4)), (byte)protocol, transport.Length);
        ushort sum = Checksum.Compute(transport, pseudo);
        if (sum == 0 && protocol == IpProtocol.Udp)
        {
            sum = 0xffff; // RFC 768: a computed zero is sent as all ones
        }

        BinaryPrimitives.WriteUInt16BigEndian(transport[checksumOffset..], sum);
    }

    // RFC 8200 8.1: the same over the IPv6 pseudo-header, after any extension headers.
    private static void CompleteIpv6TransportChecksum(Span<byte> ip)
    {
        if (!Ipv6Header.TryRead(ip, out Ipv6Header.Reader header, out _))
        {
            return;
        }

        int total = Ipv6Header.FixedLength + header.PayloadLength;
        Ipv6ExtensionChain chain = Ipv6ExtensionChain.Walk(ip[..total]);
        if (chain.Status != Ipv6ChainStatus.UpperLayer)
        {
            return;
        }

        int checksumOffset = chain.NextHeader switch
        {
            IpProtocol.Udp => 6,
            IpProtocol.Tcp => 16,
            _ => -1,
        };
        Span<byte> transport = ip[chain.PayloadOffset..total];
        if (checksumOffset < 0 || transport.Length < checksumOffset + 2)
        {
            return;
        }

        transport[checksumOffset] = 0;
        transport[checksumOffset + 1] = 0;
        uint pseudo = Checksum.PseudoHeaderSum(header.Source, header.Destination, (byte)chain.NextHeader, transport.Length);
        ushort sum = Checksum.Compute(transport, pseudo);
        if (sum == 0 && chain.NextHeader == IpProtocol.Udp)
        {
            sum = 0xffff; // RFC 8200 8.1: a computed zero is sent as all ones
        }

        BinaryPrimitives.WriteUInt16BigEndian(transport[checksumOffset..], sum);
    }

    /// <summary>tp_status of the PACKET_AUXDATA control message, or 0 when there is none.</summary>
    private static uint AuxiliaryStatus(LinuxNative.MessageHeader* message)
    {
        byte* control = (byte*)message->Control;
        nuint available = message->ControlLength;
        nuint offset = 0;

        // CMSG_FIRSTHDR/CMSG_NXTHDR: headers and their data are aligned to sizeof(size_t).
        while (offset + (nuint)sizeof(LinuxNative.ControlMessageHeader) <= available)
        {
            var header = (LinuxNative.ControlMessageHeader*)(control + offset);
            if (header->Length < (nuint)sizeof(LinuxNative.ControlMessageHeader) || offset + header->Length > available)
            {
                break;
            }

            if (header->Level == LinuxNative.SOL_PACKET && header->Type == LinuxNative.PACKET_AUXDATA
                && header->Length >= (nuint)(sizeof(LinuxNative.ControlMessageHeader) + sizeof(LinuxNative.PacketAuxiliaryData)))
            {
                return ((LinuxNative.PacketAuxiliaryData*)(header + 1))->Status;
            }

            offset += (header->Length + 7) & ~(nuint)7;
        }

        return 0;
    }

    /// <inheritdoc/>
    private protected override nint WriteFrame(SafeHandle descriptor, byte* frame, int length) =>
        LinuxNative.Send(descriptor, frame, (nuint)length, 0);
}
