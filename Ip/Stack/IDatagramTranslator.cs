namespace Protocols.Ip;

/// <summary>What a translator did with a datagram before routing.</summary>
public enum PreroutingVerdict
{
    /// <summary>Not translated: a datagram to one of the stack's addresses is delivered locally; any other goes on to routing (or is dropped when forwarding is off).</summary>
    NotTranslated,

    /// <summary>The destination was rewritten (an inbound flow); the source may be rewritten after routing.</summary>
    Translated,

    /// <summary>Both addresses were rewritten (hairpinning): nothing is left for after routing.</summary>
    TranslatedBothWays,

    /// <summary>Dropped by the translator; the stack counts it under the reason given.</summary>
    Drop,
}

/// <summary>
/// The hook a translator (a NAT) sets on a <see cref="NetworkStack"/> with
/// <see cref="NetworkStack.SetTranslator"/>: netfilter's PREROUTING and POSTROUTING in one. Both run
/// on the loop over a mutable copy of the datagram (header first, trimmed to its total length,
/// header checksum verified), which they rewrite in place with incremental checksum updates
/// (RFC 1624). They see whole datagrams only: while a translator is set, the stack reassembles
/// the fragments of datagrams it forwards and cuts them again on the way out.
/// </summary>
public interface IDatagramTranslator
{
    /// <summary>
    /// True when <paramref name="address"/> is one the translator answers for on
    /// <paramref name="nic"/> (its outside addresses): datagrams to it take the forwarding path
    /// (handed back for local delivery when not translated and the address is the stack's own), and
    /// ARP on that interface answers for it (proxy ARP, RFC 1027).
    /// </summary>
    bool OwnsAddress(NetworkInterface nic, uint address);

    /// <summary>Before routing: inbound translation (a destination that is an outside address) and hairpinning.</summary>
    /// <param name="input">The interface the datagram arrived on.</param>
    /// <param name="datagram">The mutable copy to rewrite.</param>
    /// <param name="reason">Why, when the verdict is <see cref="PreroutingVerdict.Drop"/>.</param>
    PreroutingVerdict Prerouting(NetworkInterface input, Span<byte> datagram, out DropReason reason);

    /// <summary>After routing to <paramref name="output"/>: outbound translation.</summary>
    /// <param name="input">The interface the datagram arrived on.</param>
    /// <param name="output">The interface it leaves through.</param>
    /// <param name="datagram">The mutable copy to rewrite.</param>
    /// <param name="reason">Why, when it returns false.</param>
    /// <returns>False when the datagram is dropped.</returns>
    bool Postrouting(NetworkInterface input, NetworkInterface output, Span<byte> datagram, out DropReason reason);
}
