using Protocols.Ip;
using Protocols.Ip.Simulation;

namespace Protocols.Tcp.Tests.Sockets;

/// <summary>A Dispose while the stack's request queue is full still closes the connection.</summary>
public class TcpCloseUnderOverloadTests
{
    [Fact]
    public void A_stream_disposed_while_the_request_queue_is_full_still_sends_its_fin()
    {
        var net = new TcpStackPair(61, new LinkOptions { Delay = TimeSpan.FromMilliseconds(1) }, requestQueueCapacity: 8);
        TcpListener listener = net.TcpB.Listen(80);
        (TcpStream client, TcpStream server) = net.Connect(listener);

        // Fill A's request queue without letting its loop run, then dispose the client: the close
        // cannot be posted now, and no other Dispose follows to carry it.
        int posted = 0;
        while (true)
        {
            try
            {
                net.A.Post(_ => { });
                posted++;
            }
            catch (InvalidOperationException)
            {
                break;
            }
        }

        Assert.Equal(8, posted);
        client.Dispose();

        int read = net.Run(async () => await server.ReadAsync(new byte[16]), TimeSpan.FromSeconds(5));
        Assert.Equal(0, read); // the FIN arrived
        Assert.Equal(TcpState.CloseWait, server.State);
    }
}
