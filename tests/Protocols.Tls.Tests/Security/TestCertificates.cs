using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using System.Security.Cryptography.X509Certificates;

namespace Protocols.Tls.Tests.Security;

/// <summary>Certificates made once per test run, and the key log every SslStream of the run writes to.</summary>
internal static class TestCertificates
{
    private static readonly Lazy<X509Certificate2> LazyServer = new(() =>
        TlsCertificates.CreateSelfSigned(["server.test", "localhost"], [IPAddress.Parse("10.0.0.2"), IPAddress.Loopback]));

    private static readonly Lazy<X509Certificate2> LazyOther = new(() => TlsCertificates.CreateSelfSigned(["other.test"]));

    /// <summary>The process-wide key log file (.NET fixes it at the first SslStream).</summary>
    public static string KeyLogPath { get; } = Path.Combine(Path.GetTempPath(), $"protocols-tls-tests-{Environment.ProcessId}.keys");

    /// <summary>Self-signed for server.test, localhost, 10.0.0.2, 127.0.0.1.</summary>
    public static X509Certificate2 Server => LazyServer.Value;

    /// <summary>Self-signed for other.test.</summary>
    public static X509Certificate2 Other => LazyOther.Value;

    public static TlsClientOptions TrustServer(TlsClientOptions? options = null) =>
        (options ?? new TlsClientOptions()) with { TrustedCertificates = [Server] };

    public static TlsServerOptions ServerOptions(TlsServerOptions? options = null) =>
        (options ?? new TlsServerOptions()) with { Certificate = Server };

#pragma warning disable CA2255 // The key log must be on before any test makes an SslStream.
    [ModuleInitializer]
    internal static void EnableKeyLog()
    {
        File.Delete(KeyLogPath);
        TlsKeyLog.Enable(KeyLogPath);
    }
#pragma warning restore CA2255
}

/// <summary>Two ends of a kernel loopback TCP connection, for TLS tests that need any real stream.</summary>
internal sealed class LoopbackPair : IDisposable
{
    private LoopbackPair(Socket client, Socket server)
    {
        ClientSocket = client;
        ServerSocket = server;
        Client = new NetworkStream(client, ownsSocket: true);
        Server = new NetworkStream(server, ownsSocket: true);
    }

    public Socket ClientSocket { get; }

    public Socket ServerSocket { get; }

    public NetworkStream Client { get; }

    public NetworkStream Server { get; }

    public static async Task<LoopbackPair> CreateAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(1);
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Task connect = client.ConnectAsync(listener.LocalEndPoint!);
        Socket server = await listener.AcceptAsync();
        await connect;
        server.NoDelay = true;
        return new LoopbackPair(client, server);
    }

    /// <summary>Closes the server end with RST (linger 0).</summary>
    public void ResetServer()
    {
        ServerSocket.LingerState = new LingerOption(true, 0);
        ServerSocket.Close();
    }

    public void Dispose()
    {
        Client.Dispose();
        Server.Dispose();
    }
}
