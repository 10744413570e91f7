using System.Runtime.InteropServices;

namespace Protocols.Ip.Devices.Linux;

/// <summary>
/// The few libc calls the Linux devices need, with source-generated marshalling. Constants are the
/// Linux values (identical on x86-64 and arm64 for everything used here).
/// </summary>
internal static unsafe partial class LinuxNative
{
    private const string Libc = "libc";

    // fcntl.h
    public const int O_RDWR = 0x2;
    public const int O_NONBLOCK = 0x800;
    public const int O_CLOEXEC = 0x80000;

    // errno.h
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int ENXIO = 6;
    public const int EBADF = 9;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EBUSY = 16;
    public const int ENODEV = 19;
    public const int EINVAL = 22;
    public const int EMSGSIZE = 90;
    public const int ENOBUFS = 105;
    public const int ENETDOWN = 100;

    // poll.h
    public const short POLLIN = 0x1;
    public const short POLLERR = 0x8;
    public const short POLLHUP = 0x10;
    public const short POLLNVAL = 0x20;

    // sys/eventfd.h
    public const int EFD_NONBLOCK = 0x800;
    public const int EFD_CLOEXEC = 0x80000;

    // linux/if_tun.h: TUNSETIFF = _IOW('T', 202, int)
    public const uint TUNSETIFF = 0x400454ca;
    public const short IFF_TUN = 0x0001;
    public const short IFF_NO_PI = 0x1000;
    public const short IFF_VNET_HDR = 0x4000;
    public const short IFF_MULTI_QUEUE = 0x0100;

    // TUNSETOFFLOAD = _IOW('T', 208, unsigned int); TUNGETFEATURES = _IOR('T', 207, unsigned int)
    public const uint TUNSETOFFLOAD = 0x400454d0;
    public const uint TUNGETFEATURES = 0x800454cf;
    public const uint TUN_F_CSUM = 0x01;
    public const uint TUN_F_TSO4 = 0x02;
    public const uint TUN_F_TSO6 = 0x04;
    public const uint TUN_F_TSO_ECN = 0x08;
    public const uint TUN_F_UFO = 0x10;
    public const uint TUN_F_USO4 = 0x20;
    public const uint TUN_F_USO6 = 0x40;

    // linux/sockios.h
    public const uint SIOCGIFMTU = 0x8921;
    public const uint SIOCGIFHWADDR = 0x8927;

    // sys/socket.h, linux/if_packet.h, linux/if_ether.h, linux/if_arp.h
    public const int AF_INET = 2;
    public const int AF_PACKET = 17;
    public const int SOCK_DGRAM = 2;
    public const int SOCK_RAW = 3;
    public const int SOCK_NONBLOCK = 0x800;
    public const int SOCK_CLOEXEC = 0x80000;
    public const int SOL_SOCKET = 1;
    public const int SO_RCVBUF = 8;
    public const int SOL_PACKET = 263;
    public const int PACKET_IGNORE_OUTGOING = 23;
    public const int PACKET_AUXDATA = 8;
    public const int PACKET_VNET_HDR = 15;
    public const int SO_SNDBUF = 7;
    public const int SO_SNDBUFFORCE = 32;
    public const int MSG_DONTWAIT = 0x40;
    public const uint TP_STATUS_CSUMNOTREADY = 1 << 3;
    public const byte PACKET_OUTGOING = 4;
    public const ushort ETH_P_ALL = 0x0003;
    public const ushort ARPHRD_ETHER = 1;
    public const int MSG_TRUNC = 0x20;

    // sched.h
    public const int CLONE_NEWNET = 0x40000000;

    /// <summary>IFNAMSIZ: interface names are at most 15 bytes plus the terminating zero.</summary>
    public const int InterfaceNameSize = 16;

    /// <summary>struct ifreq: a 16-byte name and a 24-byte union.</summary>
    [StructLayout(LayoutKind.Sequential, Size = 40)]
    public struct InterfaceRequest
    {
        public fixed byte Name[InterfaceNameSize];

        /// <summary>ifr_flags (short), ifr_mtu (int), or ifr_hwaddr.sa_family (ushort) at offset 16.</summary>
        public int Value;

        /// <summary>ifr_hwaddr.sa_data starts at offset 18: the first 2 bytes of <see cref="Value"/> are sa_family.</summary>
        public fixed byte Rest[20];
    }

    /// <summary>struct sockaddr_ll (20 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct SocketAddressLinkLayer
    {
        public ushort Family;
        public ushort Protocol;       // network byte order
        public int InterfaceIndex;
        public ushort HardwareType;
        public byte PacketType;
        public byte AddressLength;
        public fixed byte Address[8];
    }

    /// <summary>struct iovec.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct IoVector
    {
        public byte* Base;
        public nuint Length;
    }

    /// <summary>struct msghdr (64-bit layout; the compiler pads the socklen_t).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MessageHeader
    {
        public void* Name;
        public uint NameLength;
        public IoVector* Vectors;
        public nuint VectorCount;
        public void* Control;
        public nuint ControlLength;
        public int Flags;
    }

    /// <summary>struct mmsghdr: a msghdr and the length received or sent (64 bytes on 64-bit).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct MultiMessageHeader
    {
        public MessageHeader Message;
        public uint Length;
    }

    /// <summary>struct cmsghdr (64-bit: the length is a size_t; data follows at 16 bytes).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct ControlMessageHeader
    {
        public nuint Length;
        public int Level;
        public int Type;
    }

    /// <summary>struct tpacket_auxdata (linux/if_packet.h).</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PacketAuxiliaryData
    {
        public uint Status;
        public uint Length;
        public uint SnapLength;
        public ushort MacOffset;
        public ushort NetworkOffset;
        public ushort VlanTci;
        public ushort VlanTpid;
    }

    /// <summary>struct pollfd.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public struct PollDescriptor
    {
        public int Fd;
        public short Events;
        public short ReturnedEvents;
    }

    [LibraryImport(Libc, EntryPoint = "open", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial int Open(string path, int flags);

    [LibraryImport(Libc, EntryPoint = "close", SetLastError = true)]
    public static partial int Close(int fd);

    [LibraryImport(Libc, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, InterfaceRequest* argument);

    [LibraryImport(Libc, EntryPoint = "read", SetLastError = true)]
    public static partial nint Read(SafeHandle fd, byte* buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "write", SetLastError = true)]
    public static partial nint Write(SafeHandle fd, byte* buffer, nuint count);

    [LibraryImport(Libc, EntryPoint = "writev", SetLastError = true)]
    public static partial nint WriteVector(SafeHandle fd, IoVector* vectors, int count);

    [LibraryImport(Libc, EntryPoint = "recvmmsg", SetLastError = true)]
    public static partial int ReceiveMessages(SafeHandle fd, MultiMessageHeader* messages, uint count, int flags, void* timeout);

    [LibraryImport(Libc, EntryPoint = "sendmmsg", SetLastError = true)]
    public static partial int SendMessages(SafeHandle fd, MultiMessageHeader* messages, uint count, int flags);

    [LibraryImport(Libc, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, nuint argument);

    [LibraryImport(Libc, EntryPoint = "ioctl", SetLastError = true)]
    public static partial int Ioctl(SafeHandle fd, nuint request, uint* argument);

    [LibraryImport(Libc, EntryPoint = "poll", SetLastError = true)]
    public static partial int Poll(PollDescriptor* descriptors, nuint count, int timeoutMilliseconds);

    [LibraryImport(Libc, EntryPoint = "eventfd", SetLastError = true)]
    public static partial int EventFd(uint initialValue, int flags);

    [LibraryImport(Libc, EntryPoint = "socket", SetLastError = true)]
    public static partial int Socket(int domain, int type, int protocol);

    [LibraryImport(Libc, EntryPoint = "bind", SetLastError = true)]
    public static partial int Bind(SafeHandle fd, SocketAddressLinkLayer* address, uint addressLength);

    [LibraryImport(Libc, EntryPoint = "setsockopt", SetLastError = true)]
    public static partial int SetSocketOption(SafeHandle fd, int level, int name, int* value, uint valueLength);

    [LibraryImport(Libc, EntryPoint = "recvfrom", SetLastError = true)]
    public static partial nint ReceiveFrom(SafeHandle fd, byte* buffer, nuint length, int flags, SocketAddressLinkLayer* address, uint* addressLength);

    [LibraryImport(Libc, EntryPoint = "recvmsg", SetLastError = true)]
    public static partial nint ReceiveMessage(SafeHandle fd, MessageHeader* message, int flags);

    [LibraryImport(Libc, EntryPoint = "send", SetLastError = true)]
    public static partial nint Send(SafeHandle fd, byte* buffer, nuint length, int flags);

    [LibraryImport(Libc, EntryPoint = "if_nametoindex", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    public static partial uint InterfaceNameToIndex(string name);

    [LibraryImport(Libc, EntryPoint = "setns", SetLastError = true)]
    public static partial int SetNamespace(int fd, int namespaceType);

    [LibraryImport(Libc, EntryPoint = "strerror")]
    private static partial nint StrError(int errno);

    /// <summary>The errno of the last call made with SetLastError.</summary>
    public static int LastError => Marshal.GetLastPInvokeError();

    /// <summary>The C library's text for <paramref name="errno"/> (e.g. "Operation not permitted").</summary>
    public static string Describe(int errno)
    {
        nint text = StrError(errno);
        return text == 0 ? $"errno {errno}" : Marshal.PtrToStringUTF8(text) ?? $"errno {errno}";
    }

    /// <summary>Writes <paramref name="name"/> into an ifreq (validated by <see cref="ValidateInterfaceName"/>).</summary>
    public static InterfaceRequest CreateRequest(string name)
    {
        var request = default(InterfaceRequest);
        for (int i = 0; i < name.Length; i++)
        {
            request.Name[i] = (byte)name[i];
        }

        return request;
    }

    /// <summary>Throws <see cref="ArgumentException"/> unless <paramref name="name"/> is a valid Linux interface name.</summary>
    public static void ValidateInterfaceName(string name, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(name, parameterName);

        // net/core/dev.c dev_valid_name: 1..15 bytes, not "." or "..", no '/', ':' or white space.
        if (name.Length is 0 or >= InterfaceNameSize || name is "." or "..")
        {
            throw new ArgumentException($"'{name}' is not a valid interface name (1 to {InterfaceNameSize - 1} characters)", parameterName);
        }

        foreach (char c in name)
        {
            if (c is <= ' ' or > '~' or '/' or ':')
            {
                throw new ArgumentException($"'{name}' is not a valid interface name (printable ASCII without '/', ':' or spaces)", parameterName);
            }
        }
    }
}
