using Protocols.Ip;

namespace Protocols.Tcp;

/// <summary>Adds TCP to a <see cref="NetworkStack"/>, which knows nothing of TCP itself.</summary>
public static class TcpStackExtensions
{
    private static readonly Lock RegistrationLock = new();

    /// <summary>
    /// Registers the TCP layer with <paramref name="stack"/> (IP protocol 6) and returns it; when
    /// it is already registered, returns the existing layer (and ignores <paramref name="options"/>).
    /// Also registers the TCP trace formatter with the stack's <see cref="NetworkStack.PacketFormatter"/>.
    /// </summary>
    /// <param name="stack">The stack.</param>
    /// <param name="options">The layer's settings; null for defaults.</param>
    /// <returns>The stack's TCP layer.</returns>
    /// <exception cref="InvalidOperationException">Another transport owns protocol 6.</exception>
    public static TcpLayer UseTcp(this NetworkStack stack, TcpStackOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        lock (RegistrationLock)
        {
            switch (stack.GetTransport(IpProtocol.Tcp))
            {
                case TcpLayer existing:
                    return existing;
                case null:
                    var layer = new TcpLayer(stack, options ?? new TcpStackOptions());
                    stack.RegisterTransport(layer);
                    TcpTraceFormatter.Register(stack.PacketFormatter);
                    return layer;
                case IIpTransport other:
                    throw new InvalidOperationException($"IP protocol 6 is already handled by {other.GetType().Name}.");
            }
        }
    }

    /// <summary>The stack's TCP layer, registered by <see cref="UseTcp"/>.</summary>
    /// <param name="stack">The stack.</param>
    /// <returns>The layer.</returns>
    /// <exception cref="InvalidOperationException"><see cref="UseTcp"/> was not called.</exception>
    public static TcpLayer Tcp(this NetworkStack stack)
    {
        ArgumentNullException.ThrowIfNull(stack);
        return stack.GetTransport(IpProtocol.Tcp) as TcpLayer
            ?? throw new InvalidOperationException("TCP is not enabled on this stack: call stack.UseTcp() first.");
    }
}
