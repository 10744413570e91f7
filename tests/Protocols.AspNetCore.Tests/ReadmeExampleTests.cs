using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Protocols.Ip;
using Protocols.Ip.Simulation;
using Protocols.Tcp;
using Protocols.Tls;
using Protocols.Wire;

namespace Protocols.AspNetCore.Tests;

/// <summary>The README's ASP.NET Core example, kept compiling and passing (keep the two in step).</summary>
public sealed class ReadmeExampleTests
{
    [Fact]
    public async Task The_readme_aspnetcore_example_runs()
    {
        var network = new MemoryNetwork(seed: 1, TimeProvider.System);     // or a TunDevice, a RawPacketDevice
        MemoryLink link = network.CreateLink(new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) });
        using var server = new NetworkStack(new() { Name = "server" });
        using var client = new NetworkStack(new() { Name = "client" });
        server.AddInterface(link.A, Ipv4Address.Parse("10.0.0.2"), 24);
        client.AddInterface(link.B, Ipv4Address.Parse("10.0.0.1"), 24);
        client.UseTcp();
        using var stop = new CancellationTokenSource();
        Task loops = Task.WhenAll(server.RunAsync(stop.Token), client.RunAsync(stop.Token));

        WebApplicationBuilder builder = WebApplication.CreateBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseProtocolsStack(server);                        // Kestrel listens through the stack
        builder.WebHost.ConfigureKestrel(kestrel => kestrel.Listen(IPAddress.Any, 8080));
        WebApplication app = builder.Build();
        app.MapGet("/hello/{name}", (string name, HttpContext context) =>
            $"hello {name}, from {context.Connection.LocalIpAddress} over a user-space stack");
        await app.StartAsync();

        using var http = new HttpClient(client.CreateHttpHandler());     // HttpClient through the other stack
        string text = await http.GetStringAsync(new Uri("http://10.0.0.2:8080/hello/you"));

        await app.StopAsync();
        stop.Cancel();
        await loops.ContinueWith(_ => { }, TaskScheduler.Default);
        Assert.Equal("hello you, from 10.0.0.2 over a user-space stack", text);
    }
}
