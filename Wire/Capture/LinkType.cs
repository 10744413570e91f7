namespace Protocols.Wire.Capture;

/// <summary>
/// The link-layer header type of the frames in a capture (the tcpdump.org LINKTYPE_ registry,
/// shared by pcap and pcapng). Values not named here are valid too: cast the number.
/// </summary>
public enum LinkType : ushort
{
    /// <summary>LINKTYPE_NULL (0): BSD loopback, a 4-byte host-order address family first.</summary>
    Null = 0,

    /// <summary>LINKTYPE_ETHERNET (1): IEEE 802.3 Ethernet.</summary>
    Ethernet = 1,

    /// <summary>LINKTYPE_RAW (101): raw IP, the version nibble tells IPv4 from IPv6.</summary>
    Raw = 101,

    /// <summary>LINKTYPE_LINUX_SLL (113): Linux "cooked" capture, version 1.</summary>
    LinuxSll = 113,

    /// <summary>LINKTYPE_IPV4 (228): raw IPv4 only.</summary>
    Ipv4 = 228,

    /// <summary>LINKTYPE_IPV6 (229): raw IPv6 only.</summary>
    Ipv6 = 229,

    /// <summary>LINKTYPE_LINUX_SLL2 (276): Linux "cooked" capture, version 2.</summary>
    LinuxSll2 = 276,
}

/// <summary>The container format of a capture file.</summary>
public enum CaptureFormat
{
    /// <summary>Classic libpcap format (draft-ietf-opsawg-pcap).</summary>
    Pcap = 1,

    /// <summary>pcapng, the block-based "next generation" format (draft-ietf-opsawg-pcapng).</summary>
    PcapNg = 2,
}
