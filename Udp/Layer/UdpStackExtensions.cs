using Protocols.Ip;

namespace Protocols.Udp;

/// <summary>Adds UDP to a <see cref="NetworkStack"/>, which knows nothing of UDP itself.</summary>
public static class UdpStackExtensions
{
    private static readonly Lock RegistrationLock = new();

    /// <summary>
    /// Registers the UDP layer with <paramref name="stack"/> (IP protocol 17) and returns it; when
    /// it is already registered, returns the existing layer (and ignores <paramref name="options"/>).
    /// Also registers the UDP trace formatter with the stack's <see cref="NetworkStack.PacketFormatter"/>.
    /// </summary>
    /// <param name="stack">The stack.</param>
    /// <param name="options">The layer's settings; null for defaults.</param>
    /// <returns>The stack's UDP layer.</returns>
    /// <exception cref="InvalidOperationException">Another transport owns protocol 17.</exception>
    public static UdpLayer UseUdp(this NetworkStack stack, UdpOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        lock (RegistrationLock)
        {
            switch (stack.GetTransport(IpProtocol.Udp))
            {
                case UdpLayer existing:
                    return existing;
                case null:
                    var layer = new UdpLayer(stack, options ?? new UdpOptions());
                    stack.RegisterTransport(layer);
                    UdpTraceFormatter.Register(stack.PacketFormatter);
                    return layer;
                case IIpTransport other:
                    throw new InvalidOperationException($"IP protocol 17 is already handled by {other.GetType().Name}.");
            }
        }
    }

    /// <summary>The stack's UDP layer, registered by <see cref="UseUdp"/>.</summary>
    /// <param name="stack">The stack.</param>
    /// <returns>The layer.</returns>
    /// <exception cref="InvalidOperationException"><see cref="UseUdp"/> was not called.</exception>
    public static UdpLayer Udp(this NetworkStack stack)
    {
        ArgumentNullException.ThrowIfNull(stack);
        return stack.GetTransport(IpProtocol.Udp) as UdpLayer
            ?? throw new InvalidOperationException("UDP is not enabled on this stack: call stack.UseUdp() first.");
    }
}
