using System.Runtime.CompilerServices;

namespace Protocols.Ip.Devices.Linux;

/// <summary>
/// Native memory for one recvmmsg(2) or sendmmsg(2) call: <see cref="Count"/> message headers,
/// each with one I/O vector over its own slot of <see cref="SlotLength"/> bytes, a link-layer
/// address and room for a control message. Allocated once per device in pinned arrays (which
/// never move, and which the collector frees only once no call can still be using them), so
/// batched system calls allocate nothing per frame.
/// </summary>
internal sealed unsafe class MessageBatch
{
    /// <summary>Bytes of control-message room per message (a PACKET_AUXDATA message fits with room to spare).</summary>
    public const int ControlLength = 64;

    private readonly byte[] _slots;
    private readonly LinuxNative.MultiMessageHeader[] _messages;
    private readonly LinuxNative.IoVector[] _vectors;
    private readonly LinuxNative.SocketAddressLinkLayer[] _addresses;
    private readonly byte* _memory;

    /// <summary>Allocates <paramref name="count"/> messages of <paramref name="slotLength"/> bytes each.</summary>
    public MessageBatch(int count, int slotLength)
    {
        Count = count;
        SlotLength = (slotLength + 63) & ~63;
        _slots = GC.AllocateUninitializedArray<byte>((SlotLength + ControlLength) * count, pinned: true);
        _messages = GC.AllocateArray<LinuxNative.MultiMessageHeader>(count, pinned: true);
        _vectors = GC.AllocateArray<LinuxNative.IoVector>(count, pinned: true);
        _addresses = GC.AllocateArray<LinuxNative.SocketAddressLinkLayer>(count, pinned: true);
        _memory = (byte*)Unsafe.AsPointer(ref _slots[0]);
        Messages = (LinuxNative.MultiMessageHeader*)Unsafe.AsPointer(ref _messages[0]);
        Vectors = (LinuxNative.IoVector*)Unsafe.AsPointer(ref _vectors[0]);
        Addresses = (LinuxNative.SocketAddressLinkLayer*)Unsafe.AsPointer(ref _addresses[0]);
    }

    /// <summary>The number of messages (slots).</summary>
    public int Count { get; }

    /// <summary>The bytes of each slot (rounded up to 64).</summary>
    public int SlotLength { get; }

    /// <summary>The message headers.</summary>
    public LinuxNative.MultiMessageHeader* Messages { get; }

    /// <summary>One I/O vector per message.</summary>
    public LinuxNative.IoVector* Vectors { get; }

    /// <summary>One link-layer address per message (the sender on receive).</summary>
    public LinuxNative.SocketAddressLinkLayer* Addresses { get; }

    /// <summary>The start of slot <paramref name="index"/>.</summary>
    public byte* Slot(int index) => _memory + ((long)index * SlotLength);

    /// <summary>The control-message room of message <paramref name="index"/>.</summary>
    public byte* Control(int index) => _memory + ((long)Count * SlotLength) + ((long)index * ControlLength);

    /// <summary>Points every message at its whole slot, address and control room, ready for recvmmsg.</summary>
    public void PrepareReceive(int count, bool withControl)
    {
        for (int i = 0; i < count; i++)
        {
            Vectors[i] = new LinuxNative.IoVector { Base = Slot(i), Length = (nuint)SlotLength };
            Messages[i] = new LinuxNative.MultiMessageHeader
            {
                Message = new LinuxNative.MessageHeader
                {
                    Name = &Addresses[i],
                    NameLength = (uint)sizeof(LinuxNative.SocketAddressLinkLayer),
                    Vectors = &Vectors[i],
                    VectorCount = 1,
                    Control = withControl ? Control(i) : null,
                    ControlLength = withControl ? (nuint)ControlLength : 0,
                },
            };
        }
    }

    /// <summary>Points message <paramref name="index"/> at <paramref name="length"/> bytes from <paramref name="start"/> for sendmmsg.</summary>
    public void PrepareSend(int index, byte* start, int length)
    {
        Vectors[index] = new LinuxNative.IoVector { Base = start, Length = (nuint)length };
        Messages[index] = new LinuxNative.MultiMessageHeader
        {
            Message = new LinuxNative.MessageHeader { Vectors = &Vectors[index], VectorCount = 1 },
        };
    }
}
