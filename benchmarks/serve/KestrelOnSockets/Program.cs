// The reference of serve-bench.sh: serve's web app (the same routes, the same Kestrel settings)
// on the kernel's own sockets instead of the user-space stack.
// usage: KestrelOnSockets HTTP_PORT HTTPS_PORT; prints "ready", stops on SIGINT/SIGTERM.
using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Protocols.Cli.Serve;
using Protocols.Tls;

ushort http = ushort.Parse(args[0], CultureInfo.InvariantCulture);
ushort https = ushort.Parse(args[1], CultureInfo.InvariantCulture);
using var certificate = TlsCertificates.CreateSelfSigned(["localhost"], [IPAddress.Loopback]);
WebApplication app = ServeWebApp.Create(null, new ServeWebOptions(http, https, TlsCertificates.CreateContext(certificate)), new ServeWebCounters());
await app.StartAsync();
Console.WriteLine("ready");
var stop = new TaskCompletionSource();
using var interrupt = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, c => { c.Cancel = true; stop.TrySetResult(); });
using var terminate = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, c => { c.Cancel = true; stop.TrySetResult(); });
await stop.Task;
await app.StopAsync();
