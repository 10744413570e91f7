using System.Runtime.InteropServices;
using Protocols.Wire;

namespace Protocols.Ip.Devices.Linux;

/// <summary>
/// A Linux TUN device (<c>/dev/net/tun</c>, IFF_TUN | IFF_NO_PI): every read is one IP packet the
/// kernel routed to the interface, every write one IP packet the kernel receives from it. With
/// offloads (the default) the device is opened with IFF_VNET_HDR and TUNSETOFFLOAD (TUN_F_CSUM,
/// TUN_F_TSO4, TUN_F_TSO6): every packet then carries a virtio-net header, the kernel hands up
/// TCP super-segments of up to 64 KiB over either family with partial checksums, and takes the
/// super-segments the stack builds and cuts them itself. When the kernel refuses the
/// offloads the device reopens in plain mode (one wire-sized packet per read) and says so in
/// <see cref="LinuxDevice.OffloadStatus"/>.
/// </summary>
/// <remarks>
/// <see cref="Open(string, int?)"/> creates the interface or attaches to an existing one of that name (a device
/// made with <c>ip tuntap add NAME mode tun</c> works, and stays when this object is disposed; a
/// device created here disappears with it). The kernel side (address, <c>up</c>) is configured by
/// the caller. The device lives in the network namespace of the calling thread: see
/// <see cref="NetworkNamespace.Invoke{T}(string, Func{T})"/>.
/// </remarks>
public sealed unsafe class TunDevice : LinuxDevice, IFrameWriter
{
    private const string ClonePath = "/dev/net/tun";

    // TUN_F_TSO6: TCP/IPv6 super-segments both ways, like TSO4's. UDP segmentation is not asked for: Linux
    // grants TUN_F_USO4 only with TUN_F_USO6, and a UDP super-datagram from the kernel would have
    // to be cut into datagrams before the stack's UDP sees it, which this device does not do.
    private const uint Wanted = LinuxNative.TUN_F_CSUM | LinuxNative.TUN_F_TSO4 | LinuxNative.TUN_F_TSO6;

    // The transmit ring's bounds: at least this many frames, and no more memory than this.
    private const int TransmitSlots = 512;
    private const int TransmitRingBytes = 4 << 20;

    private readonly byte[] _buffer = GC.AllocateUninitializedArray<byte>(BufferLength, pinned: true);
    private readonly TransmitThread? _transmit;

    private TunDevice(FileDescriptorHandle descriptor, string name, int mtu, bool attached, DeviceOffloadStatus offloads, bool transmitThread)
        : base(descriptor, name, mtu, default, offloads)
    {
        Attached = attached;
        if (transmitThread && offloads.Mode != OffloadMode.On)
        {
            int slots = Math.Clamp(TransmitRingBytes / mtu, 16, TransmitSlots);
            _transmit = new TransmitThread(this, name, slots, mtu);
        }
    }

    /// <inheritdoc/>
    public override DeviceMedium Medium => DeviceMedium.Ip;

    /// <summary>True when the interface existed before <see cref="Open(string, int?)"/> (attached rather than created).</summary>
    public bool Attached { get; }

    /// <summary>
    /// True when sends are written by a thread of the device's own (plain mode with
    /// <see cref="TunDeviceOptions.TransmitThread"/>): <see cref="LinuxDevice.TrySend(ReadOnlySpan{byte})"/>
    /// queues the frame and returns.
    /// </summary>
    public bool HasTransmitThread => _transmit is not null;

    /// <summary>Opens (creating if needed) the TUN interface <paramref name="name"/>, with offloads when the kernel grants them.</summary>
    /// <param name="name">The interface name, e.g. <c>tun0</c> (a <c>%d</c> lets the kernel pick the number).</param>
    /// <param name="mtu">The stack's MTU; null reads the interface's (SIOCGIFMTU). The kernel's MTU is not changed.</param>
    /// <returns>The open device; dispose it to close the descriptor.</returns>
    /// <exception cref="ArgumentException">The name is not a valid interface name.</exception>
    /// <exception cref="NetworkDeviceException">No <c>/dev/net/tun</c>, no permission, or the name belongs to another kind of device.</exception>
    public static TunDevice Open(string name, int? mtu = null) => Open(name, new TunDeviceOptions { Mtu = mtu });

    /// <summary>Opens (creating if needed) the TUN interface <paramref name="name"/>.</summary>
    /// <param name="name">The interface name, e.g. <c>tun0</c> (a <c>%d</c> lets the kernel pick the number).</param>
    /// <param name="options">MTU and offloads.</param>
    /// <returns>The open device; dispose it to close the descriptor.</returns>
    /// <exception cref="ArgumentException">The name is not a valid interface name.</exception>
    /// <exception cref="NetworkDeviceException">No <c>/dev/net/tun</c>, no permission, or the name belongs to another kind of device.</exception>
    public static TunDevice Open(string name, TunDeviceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        LinuxNative.ValidateInterfaceName(name, nameof(name));
        ValidateMtu(options.Mtu);
        bool existed = !name.Contains('%', StringComparison.Ordinal) && LinuxNative.InterfaceNameToIndex(name) != 0;
        if (!options.Offloads)
        {
            FileDescriptorHandle plain = Attach(name, virtioHeader: false, out string actualName);
            return Create(plain, actualName, options, existed, new DeviceOffloadStatus(OffloadMode.Disabled, DeviceCapabilities.None, 0, "offloads off (asked for)"));
        }

        FileDescriptorHandle descriptor = Attach(name, virtioHeader: true, out string actual);
        uint granted;
        int refusal;
        try
        {
            granted = options.OffloadFlags ?? Wanted;
            refusal = SetOffload(descriptor, granted);
        }
        catch
        {
            descriptor.Dispose();
            throw;
        }

        if (refusal != 0)
        {
            // Plain mode: without IFF_VNET_HDR every read is one ordinary packet again. A device we
            // created disappears with its descriptor and is made again under the same name.
            descriptor.Dispose();
            FileDescriptorHandle plain = Attach(actual, virtioHeader: false, out actual);
            string why = $"offloads refused, plain mode (TUNSETOFFLOAD {Flags(granted)}: {LinuxNative.Describe(refusal)})";
            return Create(plain, actual, options, existed, new DeviceOffloadStatus(OffloadMode.Refused, DeviceCapabilities.None, 0, why));
        }

        DeviceCapabilities capabilities = DeviceCapabilities.None;
        if ((granted & LinuxNative.TUN_F_CSUM) != 0)
        {
            capabilities |= DeviceCapabilities.TransmitChecksumOffload | DeviceCapabilities.ReceiveChecksumOffload;
        }

        if ((granted & LinuxNative.TUN_F_TSO4) != 0)
        {
            capabilities |= DeviceCapabilities.TcpSegmentationV4 | DeviceCapabilities.ReceiveCoalescing;
        }

        if ((granted & LinuxNative.TUN_F_TSO6) != 0)
        {
            capabilities |= DeviceCapabilities.TcpSegmentationV6 | DeviceCapabilities.ReceiveCoalescing;
        }

        if ((granted & LinuxNative.TUN_F_USO4) != 0)
        {
            capabilities |= DeviceCapabilities.UdpSegmentationV4;
        }

        int largest = (capabilities & (DeviceCapabilities.TcpSegmentationV4 | DeviceCapabilities.TcpSegmentationV6 | DeviceCapabilities.UdpSegmentationV4)) != 0 ? ushort.MaxValue : 0;
        var status = new DeviceOffloadStatus(OffloadMode.On, capabilities, largest, $"offloads on: {Flags(granted)}");
        return Create(descriptor, actual, options, existed, status);
    }

    /// <inheritdoc/>
    private protected override int ReceiveBatch(FrameSink sink, int maxFrames)
    {
        int delivered = 0;
        fixed (byte* buffer = _buffer)
        {
            // Bounded: at most maxFrames reads per call, whether or not each one is delivered.
            // TUN has no batched read: each read is one packet (a super-segment with offloads).
            for (int attempt = 0; attempt < maxFrames; attempt++)
            {
                nint n;
                try
                {
                    n = LinuxNative.Read(Descriptor, buffer, (nuint)BufferLength);
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

                if (Deliver(sink, new Span<byte>(buffer, (int)n)))
                {
                    delivered++;
                }
            }
        }

        return delivered;
    }

    /// <inheritdoc/>
    public override Span<byte> GetTransmitBuffer() => _transmit is null || Disposed ? default : _transmit.NextSlot();

    /// <inheritdoc/>
    bool IFrameWriter.WriteFrame(byte* frame, int length)
    {
        nint written;
        int errno;
        try
        {
            do
            {
                written = LinuxNative.Write(Descriptor, frame, (nuint)length);
                CountSendCall();
                errno = written < 0 ? LinuxNative.LastError : 0;
            }
            while (errno == LinuxNative.EINTR);
        }
        catch (ObjectDisposedException)
        {
            return false;
        }

        if (written == length)
        {
            CountSent(1, length);
        }
        else
        {
            CountSendFailure(written < 0 ? errno : LinuxNative.EIO);
        }

        return true;
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _transmit?.Dispose(); // before the descriptor closes
        }

        base.Dispose(disposing);
    }

    /// <inheritdoc/>
    private protected override bool Send(ReadOnlySpan<byte> header, ReadOnlySpan<byte> frame)
    {
        if (_transmit is not null)
        {
            // Plain mode has no header. The thread counts the write; a ring that stayed full is a
            // send the kernel refused.
            if (_transmit.Enqueue(frame))
            {
                return true;
            }

            CountSendFailure(frame.Length > _transmit.SlotLength ? LinuxNative.EMSGSIZE : LinuxNative.EAGAIN);
            return false;
        }

        // One write per packet, straight from the caller's memory: the header and the frame are
        // gathered by writev, so nothing is copied here.
        nint written;
        int errno;
        int expected = header.Length + frame.Length;
        fixed (byte* h = header)
        fixed (byte* f = frame)
        {
            LinuxNative.IoVector* vectors = stackalloc LinuxNative.IoVector[2];
            vectors[0] = new LinuxNative.IoVector { Base = h, Length = (nuint)header.Length };
            vectors[1] = new LinuxNative.IoVector { Base = f, Length = (nuint)frame.Length };
            do
            {
                written = header.IsEmpty
                    ? LinuxNative.Write(Descriptor, f, (nuint)frame.Length)
                    : LinuxNative.WriteVector(Descriptor, vectors, 2);
                CountSendCall();
                errno = written < 0 ? LinuxNative.LastError : 0;
            }
            while (errno == LinuxNative.EINTR);
        }

        if (written == expected)
        {
            CountSent(1, frame.Length);
            return true;
        }

        CountSendFailure(written < 0 ? errno : LinuxNative.EIO);
        return false;
    }

    private static TunDevice Create(FileDescriptorHandle descriptor, string actual, TunDeviceOptions options, bool existed, DeviceOffloadStatus status)
    {
        try
        {
            int deviceMtu = options.Mtu ?? QueryInterfaceMtu(actual);
            return new TunDevice(descriptor, actual, deviceMtu, existed, status, options.TransmitThread);
        }
        catch
        {
            descriptor.Dispose();
            throw;
        }
    }

    private static FileDescriptorHandle Attach(string name, bool virtioHeader, out string actual)
    {
        int fd = LinuxNative.Open(ClonePath, LinuxNative.O_RDWR | LinuxNative.O_NONBLOCK | LinuxNative.O_CLOEXEC);
        if (fd < 0)
        {
            int errno = LinuxNative.LastError;
            throw errno is LinuxNative.ENOENT or LinuxNative.ENODEV or LinuxNative.ENXIO
                ? new NetworkDeviceException($"{name}: {ClonePath} does not exist (load the tun module, or give the container the device)", errno)
                : NetworkDeviceException.FromErrno($"{name}: opening {ClonePath}", errno);
        }

        var descriptor = new FileDescriptorHandle(fd);
        try
        {
            LinuxNative.InterfaceRequest request = LinuxNative.CreateRequest(name);
            request.Value = LinuxNative.IFF_TUN | LinuxNative.IFF_NO_PI | (virtioHeader ? LinuxNative.IFF_VNET_HDR : 0);
            if (LinuxNative.Ioctl(descriptor, LinuxNative.TUNSETIFF, &request) < 0)
            {
                int errno = LinuxNative.LastError;
                throw errno switch
                {
                    LinuxNative.EBUSY => new NetworkDeviceException($"{name}: the TUN device is already open in another process (TUNSETIFF: {LinuxNative.Describe(errno)})", errno),
                    LinuxNative.EINVAL => new NetworkDeviceException($"{name}: an interface of that name exists and is not a TUN device without packet information (a TAP, or made with pi?) (TUNSETIFF: {LinuxNative.Describe(errno)})", errno),
                    _ => NetworkDeviceException.FromErrno($"{name}: creating or attaching the TUN device (TUNSETIFF)", errno),
                };
            }

            // The kernel writes back the real name (it fills in a %d).
            actual = Marshal.PtrToStringUTF8((nint)request.Name) ?? name;
            return descriptor;
        }
        catch
        {
            descriptor.Dispose();
            throw;
        }
    }

    /// <summary>TUNSETOFFLOAD; returns 0 or the errno of the refusal.</summary>
    private static int SetOffload(FileDescriptorHandle descriptor, uint flags) =>
        LinuxNative.Ioctl(descriptor, LinuxNative.TUNSETOFFLOAD, (nuint)flags) < 0 ? LinuxNative.LastError : 0;

    private static string Flags(uint flags)
    {
        var names = new List<string>();
        if ((flags & LinuxNative.TUN_F_CSUM) != 0)
        {
            names.Add("TUN_F_CSUM");
        }

        if ((flags & LinuxNative.TUN_F_TSO4) != 0)
        {
            names.Add("TUN_F_TSO4");
        }

        if ((flags & LinuxNative.TUN_F_TSO6) != 0)
        {
            names.Add("TUN_F_TSO6");
        }

        if ((flags & LinuxNative.TUN_F_USO4) != 0)
        {
            names.Add("TUN_F_USO4");
        }

        uint other = flags & ~(LinuxNative.TUN_F_CSUM | LinuxNative.TUN_F_TSO4 | LinuxNative.TUN_F_TSO6 | LinuxNative.TUN_F_USO4);
        if (other != 0)
        {
            names.Add($"0x{other:x}");
        }

        return string.Join(' ', names);
    }

    private static int QueryInterfaceMtu(string name)
    {
        int fd = LinuxNative.Socket(LinuxNative.AF_INET, LinuxNative.SOCK_DGRAM | LinuxNative.SOCK_CLOEXEC, 0);
        if (fd < 0)
        {
            throw NetworkDeviceException.FromErrno($"{name}: socket for SIOCGIFMTU", LinuxNative.LastError);
        }

        using var socket = new FileDescriptorHandle(fd);
        return QueryMtu(socket, name);
    }
}

/// <summary>How <see cref="TunDevice.Open(string, TunDeviceOptions)"/> opens a TUN device.</summary>
public sealed class TunDeviceOptions
{
    /// <summary>The stack's MTU; null reads the interface's (SIOCGIFMTU).</summary>
    public int? Mtu { get; init; }

    /// <summary>Ask for offloads (IFF_VNET_HDR, TUNSETOFFLOAD); false opens the device in plain mode. Default true.</summary>
    public bool Offloads { get; init; } = true;

    /// <summary>
    /// In plain mode (offloads refused or off), write sends from a thread of the device's own
    /// through a bounded ring of frames, so that the kernel's work for each packet (a system call
    /// per packet, and the kernel's receive path run inside it) overlaps the stack's work on
    /// another core. False (the default) writes each frame from the caller's thread as it is sent:
    /// measured on a shared 2-core machine the thread raised goodput toward the stack (its ACK
    /// writes leave the loop) but lowered it away from the stack, at more CPU per byte both ways
    /// (docs/devices.md). With offloads on it has no effect (a write carries up to 64 KiB there).
    /// </summary>
    public bool TransmitThread { get; init; }

    /// <summary>
    /// The TUNSETOFFLOAD flags (linux/if_tun.h TUN_F_*) to ask for; null for TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6.
    /// TSO and USO need TUN_F_CSUM; Linux grants TUN_F_USO4 only together with TUN_F_USO6.
    /// The kernel refuses bits it does not know (EINVAL): the device then runs in plain mode and
    /// says so (tests use an unknown bit to see the refusal and the fallback for real).
    /// </summary>
    public uint? OffloadFlags { get; init; }
}
