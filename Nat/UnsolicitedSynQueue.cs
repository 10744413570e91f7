namespace Protocols.Nat;

/// <summary>
/// RFC 5382 REQ-4: an unsolicited inbound SYN is not answered for at least 6 seconds; if the
/// inside host's own SYN for that connection goes out meanwhile (a simultaneous open through the
/// NAT), the held SYN is dropped silently, else it is answered with ICMP port unreachable. The
/// queue is a fixed set of preallocated slots (a flood of SYNs allocates nothing and is bounded:
/// past the slots, SYNs are dropped silently, as REQ-4a allows).
/// </summary>
internal sealed class UnsolicitedSynQueue
{
    /// <summary>Bytes kept of each SYN: its IP header and TCP header with options (what the ICMP error quotes).</summary>
    public const int SlotBytes = 120;

    private readonly Slot[] _slots;
    private int _count;

    public UnsolicitedSynQueue(int capacity)
    {
        _slots = new Slot[capacity];
        for (int i = 0; i < _slots.Length; i++)
        {
            _slots[i] = new Slot();
        }
    }

    public int Count => _count;

    /// <summary>Holds a copy of <paramref name="datagram"/>; false when every slot is taken (or it is already held).</summary>
    public bool TryHold(ReadOnlySpan<byte> datagram, uint outsideAddress, ushort outsidePort, uint remoteAddress, ushort remotePort, long dueTicks)
    {
        Slot? free = null;
        foreach (Slot slot in _slots)
        {
            if (slot.InUse && slot.Matches(outsideAddress, outsidePort, remoteAddress, remotePort))
            {
                return false; // a retransmitted SYN: the first one is held already
            }

            free ??= slot.InUse ? null : slot;
        }

        if (free is null)
        {
            return false;
        }

        free.InUse = true;
        free.OutsideAddress = outsideAddress;
        free.OutsidePort = outsidePort;
        free.RemoteAddress = remoteAddress;
        free.RemotePort = remotePort;
        free.DueTicks = dueTicks;
        free.Length = Math.Min(datagram.Length, SlotBytes);
        datagram[..free.Length].CopyTo(free.Bytes);
        _count++;
        return true;
    }

    /// <summary>The inside host's SYN for the connection went out: the held SYN is dropped silently.</summary>
    public bool Cancel(uint outsideAddress, ushort outsidePort, uint remoteAddress, ushort remotePort)
    {
        if (_count == 0)
        {
            return false;
        }

        foreach (Slot slot in _slots)
        {
            if (slot.InUse && slot.Matches(outsideAddress, outsidePort, remoteAddress, remotePort))
            {
                slot.InUse = false;
                _count--;
                return true;
            }
        }

        return false;
    }

    /// <summary>The earliest due time of a held SYN, or null.</summary>
    public long? NextDueTicks()
    {
        long? next = null;
        if (_count == 0)
        {
            return null;
        }

        foreach (Slot slot in _slots)
        {
            if (slot.InUse && (next is not { } n || slot.DueTicks < n))
            {
                next = slot.DueTicks;
            }
        }

        return next;
    }

    /// <summary>Hands every SYN due by <paramref name="nowTicks"/> to <paramref name="answer"/> and frees its slot.</summary>
    public int ReleaseDue(long nowTicks, SynAnswer answer)
    {
        int released = 0;
        if (_count == 0)
        {
            return 0;
        }

        foreach (Slot slot in _slots)
        {
            if (slot.InUse && slot.DueTicks <= nowTicks)
            {
                slot.InUse = false;
                _count--;
                released++;
                answer(slot.Bytes.AsSpan(0, slot.Length));
            }
        }

        return released;
    }

    /// <summary>Receives a held SYN that is due: the bytes are valid during the call only.</summary>
    public delegate void SynAnswer(ReadOnlySpan<byte> datagram);

    private sealed class Slot
    {
        public readonly byte[] Bytes = new byte[SlotBytes];

        public bool InUse;
        public uint OutsideAddress;
        public ushort OutsidePort;
        public uint RemoteAddress;
        public ushort RemotePort;
        public long DueTicks;
        public int Length;

        public bool Matches(uint outsideAddress, ushort outsidePort, uint remoteAddress, ushort remotePort) =>
            OutsideAddress == outsideAddress && OutsidePort == outsidePort && RemoteAddress == remoteAddress && RemotePort == remotePort;
    }
}
