namespace Protocols.Tcp;

/// <summary>The control bits of a TCP header as one byte (RFC 9293 3.1; CWR and ECE from RFC 3168 6.1).</summary>
[Flags]
public enum TcpFlags : byte
{
    /// <summary>No flag set.</summary>
    None = 0,

    /// <summary>FIN: no more data from the sender.</summary>
    Fin = 0x01,

    /// <summary>SYN: synchronize sequence numbers.</summary>
    Syn = 0x02,

    /// <summary>RST: reset the connection.</summary>
    Rst = 0x04,

    /// <summary>PSH: push function.</summary>
    Psh = 0x08,

    /// <summary>ACK: the acknowledgment field is significant.</summary>
    Ack = 0x10,

    /// <summary>URG: the urgent pointer field is significant.</summary>
    Urg = 0x20,

    /// <summary>ECE: ECN-Echo (RFC 3168).</summary>
    Ece = 0x40,

    /// <summary>CWR: congestion window reduced (RFC 3168).</summary>
    Cwr = 0x80,
}
