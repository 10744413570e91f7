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
/// <para>
/// Reads and writes are batched: one recvmmsg(2) takes up to 16 frames, and frames sent between
/// two flushes go out with one sendmmsg(2). recvmmsg/sendmmsg rather than a PACKET_MMAP TPACKET_V3
/// ring: they work together with PACKET_VNET_HDR on every kernel that has it, carry frames of
/// any size up to 64 KiB (a super-segment) without sizing ring frames for the largest, and copy
/// each frame exactly as often as a ring does (the kernel copies into the slot either way). With
/// offloads (the default) the socket has PACKET_VNET_HDR, so the same virtio-net header as on
/// TUN says which checksums are partial or verified and carries super-segments both ways; the
/// kernel segments what it is handed when the interface cannot.
/// </para>
/// </remarks>
public sealed unsafe class RawPacketDevice : LinuxDevice
{
    /// <summary>The receive buffer asked for (SO_RCVBUFFORCE as root, else capped by net.core.rmem_max).</summary>
    private const int ReceiveBufferBytes = 4 << 20;

    /// <summary>The send buffer asked for: a batch of super-segments must fit.</summary>
    private const int SendBufferBytes = 4 << 20;

    private const int SO_RCVBUFFORCE = 33;

    /// <summary>Frames taken by one recvmmsg.</summary>
    private const int ReceiveSlots = 16;

    private readonly MessageBatch _receive;
    private readonly MessageBatch _send;
    private int _pending;

    private RawPacketDevice(FileDescriptorHandle descriptor, string name, int mtu, MacAddress hardwareAddress, int interfaceIndex, DeviceOffloadStatus offloads)
        : base(descriptor, name, mtu, hardwareAddress, offloads)
    {
        InterfaceIndex = interfaceIndex;
        _receive = new MessageBatch(ReceiveSlots, BufferLength);

        // Plain mode sends at most MTU-sized frames; with offloads a frame may be a 64 KiB super-segment.
        int largest = HasVirtioHeader ? BufferLength : VirtioNetCodec.HeaderLength + 14 + 4 + mtu;
        _send = new MessageBatch(Math.Clamp((1 << 20) / largest, 8, 64), largest);
    }

    /// <inheritdoc/>
    public override DeviceMedium Medium => DeviceMedium.Ethernet;

    /// <summary>The kernel's index of the interface.</summary>
    public int InterfaceIndex { get; }

    /// <summary>Frames queued by TrySend for the next sendmmsg.</summary>
    public int PendingSends => _pending;

    /// <summary>Opens an AF_PACKET socket bound to the Ethernet interface <paramref name="interfaceName"/>, with offloads (PACKET_VNET_HDR) when the kernel grants them.</summary>
    /// <param name="interfaceName">An existing interface of the calling thread's network namespace, e.g. <c>veth0</c>.</param>
    /// <param name="mtu">The stack's MTU; null reads the interface's (SIOCGIFMTU).</param>
    /// <returns>The open device.</returns>
    /// <exception cref="ArgumentException">The name is not a valid interface name.</exception>
    /// <exception cref="NetworkDeviceException">No such interface, not Ethernet, or no permission (needs CAP_NET_RAW).</exception>
    public static RawPacketDevice Open(string interfaceName, int? mtu = null) => Open(interfaceName, new RawPacketDeviceOptions { Mtu = mtu });

    /// <summary>Opens an AF_PACKET socket bound to the Ethernet interface <paramref name="interfaceName"/>.</summary>
    /// <param name="interfaceName">An existing interface of the calling thread's network namespace, e.g. <c>veth0</c>.</param>
    /// <param name="options">MTU and offloads.</param>
    /// <returns>The open device.</returns>
    /// <exception cref="ArgumentException">The name is not a valid interface name.</exception>
    /// <exception cref="NetworkDeviceException">No such interface, not Ethernet, or no permission (needs CAP_NET_RAW).</exception>
    public static RawPacketDevice Open(string interfaceName, RawPacketDeviceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        int? mtu = options.Mtu;
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

            DeviceOffloadStatus status = new(OffloadMode.Disabled, DeviceCapabilities.None, 0, "offloads off (asked for)");
            if (options.Offloads)
            {
                int refusal = LinuxNative.SetSocketOption(descriptor, LinuxNative.SOL_PACKET, LinuxNative.PACKET_VNET_HDR, &one, sizeof(int)) < 0 ? LinuxNative.LastError : 0;
                status = refusal == 0
                    ? new DeviceOffloadStatus(
                        OffloadMode.On,
                        DeviceCapabilities.TransmitChecksumOffload | DeviceCapabilities.TcpSegmentationV4 | DeviceCapabilities.TcpSegmentationV6 | DeviceCapabilities.ReceiveCoalescing | DeviceCapabilities.ReceiveChecksumOffload,
                        ushort.MaxValue,
                        "offloads on: PACKET_VNET_HDR (partial checksums, TCP segmentation and coalescing)")
                    : new DeviceOffloadStatus(OffloadMode.Refused, DeviceCapabilities.None, 0, $"offloads refused, plain mode (PACKET_VNET_HDR: {LinuxNative.Describe(refusal)})");
            }

            int size = ReceiveBufferBytes;
            if (LinuxNative.SetSocketOption(descriptor, LinuxNative.SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(int)) < 0)
            {
                _ = LinuxNative.SetSocketOption(descriptor, LinuxNative.SOL_SOCKET, LinuxNative.SO_RCVBUF, &size, sizeof(int));
            }

            size = SendBufferBytes;
            if (LinuxNative.SetSocketOption(descriptor, LinuxNative.SOL_SOCKET, LinuxNative.SO_SNDBUFFORCE, &size, sizeof(int)) < 0)
            {
                _ = LinuxNative.SetSocketOption(descriptor, LinuxNative.SOL_SOCKET, LinuxNative.SO_SNDBUF, &size, sizeof(int));
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

            return new RawPacketDevice(descriptor, interfaceName, deviceMtu, mac, (int)index, status);
        }
        catch
        {
            descriptor.Dispose();
            throw;
        }
    }

    /// <inheritdoc/>
    private protected override int ReceiveBatch(FrameSink sink, int maxFrames)
    {
        int delivered = 0;
        int read = 0;

        // Bounded: at most maxFrames frames read per call, whether or not each one is delivered.
        while (read < maxFrames)
        {
            int want = Math.Min(maxFrames - read, _receive.Count);
            _receive.PrepareReceive(want, withControl: !HasVirtioHeader);
            int n;
            try
            {
                // MSG_TRUNC: each msg_len is the frame's real length, so a frame larger than its slot is seen.
                n = LinuxNative.ReceiveMessages(Descriptor, _receive.Messages, (uint)want, LinuxNative.MSG_TRUNC | LinuxNative.MSG_DONTWAIT, null);
            }
            catch (ObjectDisposedException)
            {
                break;
            }

            CountReceiveCall();
            if (n < 0)
            {
                int errno = LinuxNative.LastError;
                if (errno == LinuxNative.EINTR)
                {
                    continue;
                }

                CountReceiveError(errno);
                break;
            }

            for (int i = 0; i < n; i++)
            {
                LinuxNative.MultiMessageHeader* message = &_receive.Messages[i];
                int length = (int)message->Length;
                if (length > _receive.SlotLength || (message->Message.Flags & LinuxNative.MSG_TRUNC) != 0 || _receive.Addresses[i].PacketType == LinuxNative.PACKET_OUTGOING)
                {
                    CountDiscarded();
                    continue;
                }

                var packet = new Span<byte>(_receive.Slot(i), length);
                if (!HasVirtioHeader && (AuxiliaryStatus(&message->Message) & LinuxNative.TP_STATUS_CSUMNOTREADY) != 0)
                {
                    CompleteTransportChecksum(packet);
                }

                if (Deliver(sink, packet))
                {
                    delivered++;
                }
            }

            read += n;
            if (n < want)
            {
                break; // drained
            }
        }

        return delivered;
    }

    /// <summary>The next free send slot's frame area: a frame built here is queued without a copy.</summary>
    /// <returns>Room for one frame of up to the slot's size.</returns>
    public override Span<byte> GetTransmitBuffer()
    {
        if (Disposed)
        {
            return default;
        }

        if (_pending == _send.Count)
        {
            Flush();
        }

        return new Span<byte>(_send.Slot(_pending) + VirtioNetCodec.HeaderLength, _send.SlotLength - VirtioNetCodec.HeaderLength);
    }

    /// <summary>Sends every queued frame with sendmmsg; what the kernel refuses is counted and dropped (never waited for).</summary>
    public override void Flush()
    {
        int done = 0;
        int count = _pending;
        try
        {
            while (done < count)
            {
                int n = LinuxNative.SendMessages(Descriptor, _send.Messages + done, (uint)(count - done), LinuxNative.MSG_DONTWAIT);
                CountSendCall();
                if (n < 0)
                {
                    int errno = LinuxNative.LastError;
                    if (errno == LinuxNative.EINTR)
                    {
                        continue;
                    }

                    CountSendFailure(errno, count - done);
                    break;
                }

                long bytes = 0;
                for (int i = done; i < done + n; i++)
                {
                    bytes += (long)_send.Messages[i].Length - (HasVirtioHeader ? VirtioNetCodec.HeaderLength : 0);
                }

                CountSent(n, bytes);
                done += n;
            }
        }
        catch (ObjectDisposedException)
        {
            CountSendFailure(LinuxNative.EBADF, count - done);
        }

        _pending = 0;
    }

    /// <inheritdoc/>
    private protected override bool Send(ReadOnlySpan<byte> header, ReadOnlySpan<byte> frame)
    {
        int frameRoom = _send.SlotLength - VirtioNetCodec.HeaderLength;
        if (frame.Length > frameRoom)
        {
            CountSendFailure(LinuxNative.EMSGSIZE);
            return false;
        }

        if (_pending == _send.Count)
        {
            Flush();
        }

        // The slot holds the virtio-net header (when there is one) right before the frame, so one
        // vector covers both. A frame the stack built in GetTransmitBuffer's space is already there.
        byte* slot = _send.Slot(_pending);
        byte* frameStart = slot + VirtioNetCodec.HeaderLength;
        fixed (byte* source = frame)
        {
            if (source != frameStart)
            {
                frame.CopyTo(new Span<byte>(frameStart, frameRoom));
            }
        }

        byte* start = frameStart - header.Length;
        header.CopyTo(new Span<byte>(start, header.Length));
        _send.PrepareSend(_pending, start, header.Length + frame.Length);
        _pending++;
        return true;
    }

    /// <summary>
    /// Finishes the UDP or TCP checksum of a locally made frame whose checksum was left to offload
    /// (the field holds only the pseudo-header sum). Only whole IPv4 datagrams and unfragmented
    /// IPv6 packets carry such a checksum; anything else, or anything malformed, is left as it is
    /// for the stack to judge.
    /// </summary>
    internal static void CompleteTransportChecksum(Span<byte> frame)
    {
        if (!EthernetHeader.TryRead(frame, out EthernetHeader.Reader ethernet))
        {
            return;
        }

        if (ethernet.EtherType == EtherType.Ipv6)
        {
            CompleteIpv6TransportChecksum(frame[EthernetHeader.FixedLength..]);
            return;
        }

        if (ethernet.EtherType != EtherType.Ipv4
            || !Ipv4Header.TryRead(ethernet.Payload, out Ipv4Header.Reader ip)
            || ip.MoreFragments || ip.FragmentOffset != 0)
        {
            return;
        }

        int checksumOffset = TransportChecksumOffset(ip.Protocol);
        int transportStart = EthernetHeader.FixedLength + ip.HeaderLength;
        int transportLength = ip.Bytes.Length - ip.HeaderLength;
        if (checksumOffset < 0 || transportLength < checksumOffset + 2)
        {
            return;
        }

        Span<byte> transport = frame.Slice(transportStart, transportLength);
        transport[checksumOffset] = 0;
        transport[checksumOffset + 1] = 0;
        ushort sum = Checksum.Compute(transport, ip.PseudoHeaderSum());
        if (sum == 0 && ip.Protocol == IpProtocol.Udp)
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

        int checksumOffset = TransportChecksumOffset(chain.NextHeader);
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

    /// <summary>
    /// Where the checksum of a transport that offload completes sits in its header: UDP's at byte 6
    /// (RFC 768), TCP's at byte 16 (RFC 9293 3.1); -1 for the others. Ip cannot see the UDP and TCP
    /// codecs (they live above it), so these two numbers are the one piece of their layouts it holds;
    /// the kernel itself keeps the same pair (csum_offset of a CHECKSUM_PARTIAL packet).
    /// </summary>
    internal static int TransportChecksumOffset(IpProtocol protocol) => protocol switch
    {
        IpProtocol.Udp => 6,
        IpProtocol.Tcp => 16,
        _ => -1,
    };

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
}

/// <summary>How <see cref="RawPacketDevice.Open(string, RawPacketDeviceOptions)"/> opens an AF_PACKET device.</summary>
public sealed class RawPacketDeviceOptions
{
    /// <summary>The stack's MTU; null reads the interface's (SIOCGIFMTU).</summary>
    public int? Mtu { get; init; }

    /// <summary>Ask for offloads (PACKET_VNET_HDR); false opens the socket in plain mode. Default true.</summary>
    public bool Offloads { get; init; } = true;
}
