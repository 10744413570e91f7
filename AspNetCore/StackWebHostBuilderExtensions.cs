using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Protocols.Ip;
using Protocols.Tcp;

namespace Protocols.AspNetCore;

/// <summary>Hosts an ASP.NET Core app on a user-space stack: Kestrel listens through the stack's TCP instead of the kernel's sockets.</summary>
public static class StackWebHostBuilderExtensions
{
    /// <summary>
    /// Makes Kestrel listen through <paramref name="tcp"/>: every endpoint Kestrel is given
    /// (<c>options.Listen(IPAddress.Any, 8080)</c>, <c>ListenAnyIP</c>, URLs) is bound on the
    /// stack. Kestrel's own features work unchanged on top: HTTPS with <c>UseHttps</c>, ALPN,
    /// HTTP/1.1 and HTTP/2, limits, logging and metrics. The stack's loop must be running
    /// (<see cref="NetworkStack.RunAsync"/>, or a simulation driving it).
    /// </summary>
    /// <param name="builder">The web host builder (<c>WebApplicationBuilder.WebHost</c>).</param>
    /// <param name="tcp">The stack's TCP layer.</param>
    /// <param name="configure">Transport settings (backlog, buffers, linger).</param>
    /// <returns><paramref name="builder"/>.</returns>
    public static IWebHostBuilder UseProtocolsStack(this IWebHostBuilder builder, TcpLayer tcp, Action<StackTransportOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(tcp);
        return builder.ConfigureServices(services =>
        {
            services.Configure<StackTransportOptions>(options =>
            {
                options.Tcp = tcp;
                configure?.Invoke(options);
            });

            // Registered after Kestrel's socket transport, so Kestrel picks this one for IP endpoints.
            services.AddSingleton<IConnectionListenerFactory, StackConnectionListenerFactory>();
        });
    }

    /// <summary>As <see cref="UseProtocolsStack(IWebHostBuilder, TcpLayer, Action{StackTransportOptions}?)"/>, on <paramref name="stack"/>'s TCP layer (registered if it is not yet).</summary>
    /// <param name="builder">The web host builder.</param>
    /// <param name="stack">The stack.</param>
    /// <param name="configure">Transport settings.</param>
    /// <returns><paramref name="builder"/>.</returns>
    public static IWebHostBuilder UseProtocolsStack(this IWebHostBuilder builder, NetworkStack stack, Action<StackTransportOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        return builder.UseProtocolsStack(stack.UseTcp(), configure);
    }
}
