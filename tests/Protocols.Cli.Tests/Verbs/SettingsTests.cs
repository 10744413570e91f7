using System.CommandLine;
using System.Net;
using Protocols.Cli.Bench;
using Protocols.Cli.CommandLine;
using Protocols.Cli.Demo;
using Protocols.Cli.Get;
using Protocols.Cli.Verbs;
using Protocols.Cli.Serve;
using Protocols.Ip;
using Protocols.Tcp;
using Protocols.Tls;
using Protocols.Wire;

namespace Protocols.Cli.Tests.Verbs;

public sealed class SettingsTests
{
    private static ParseResult Parse(Verb verb, params string[] args)
    {
        ParseResult parse = CliApp.CreateRoot([verb]).Parse([verb.Name, .. args]);
        Assert.Empty(parse.Errors);
        return parse;
    }

    [Fact]
    public void Serve_accepts_every_service_together_and_loads_pem_files()
    {
        string dir = Directory.CreateTempSubdirectory("protocols-serve-").FullName;
        try
        {
            string cert = Path.Combine(dir, "c.pem"), key = Path.Combine(dir, "k.pem");
            using (var certificate = TlsCertificates.CreateSelfSigned(["server.test"], [IPAddress.Parse("10.0.0.2")]))
            {
                TlsCertificates.WritePemFiles(certificate, cert, key);
            }

            var serve = new ServeVerb();
            ServeSettings settings = serve.Bind(Parse(serve,
                "--tun", "t0", "--address", "10.0.0.2/24", "--gateway", "10.0.0.1", "--http", "80", "--https", "443", "--cert", cert, "--key", key, "--echo", "7", "--udp-echo", "7"));
            Assert.Equal((ushort)80, settings.HttpPort);
            Assert.Equal((ushort)443, settings.HttpsPort);
            Assert.Equal((ushort)7, settings.EchoPort);
            Assert.Equal((ushort)7, settings.UdpEchoPort); // TCP and UDP port 7 are different services
            Assert.NotNull(settings.Certificate);
            Assert.Equal("CN=server.test", settings.Certificate.TargetCertificate.Subject);

            var again = new ServeVerb();
            ServeSettings selfSigned = again.Bind(Parse(again, "--raw", "eth0", "--address", "10.0.0.2/24", "--https", "8443"));
            Assert.Null(selfSigned.Certificate);
            Assert.Null(selfSigned.HttpPort);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void Get_settings_carry_the_url_names_timeout_and_output()
    {
        var get = new GetVerb();
        GetSettings settings = get.Bind(Parse(get,
            "https://example.test:8443/bytes/10", "--resolve", "example.test:10.0.0.2", "--insecure", "--timeout", "5", "-o", "out.bin", "--tun", "t0", "--address", "10.0.0.1/24"));
        Assert.Equal(8443, settings.Request.Url.Port);
        Assert.Equal(Ipv4Address.Parse("10.0.0.2"), settings.Request.Resolve["EXAMPLE.test"]);
        Assert.True(settings.Request.Insecure);
        Assert.Equal(TimeSpan.FromSeconds(5), settings.Request.Timeout);
        Assert.Equal("out.bin", settings.OutputPath);
        Assert.Equal(new DeviceSettings(DeviceKind.Tun, "t0", Ipv4Address.Parse("10.0.0.1"), 24, null, null), settings.Device);
        var other = new GetVerb();
        GetSettings defaults = other.Bind(Parse(other, "http://10.0.0.2/", "--raw", "eth1", "--address", "10.0.0.1/24", "--gateway", "10.0.0.254", "--mtu", "1400"));
        Assert.Equal(GetSettings.DefaultTimeout, defaults.Request.Timeout);
        Assert.Equal(new DeviceSettings(DeviceKind.Raw, "eth1", Ipv4Address.Parse("10.0.0.1"), 24, Ipv4Address.Parse("10.0.0.254"), 1400), defaults.Device);
    }

    [Theory]
    [InlineData("bbr", "bbr")]
    [InlineData("BBR", "bbr")]
    [InlineData("NewReno", "newreno")]
    [InlineData("cubic", "cubic")]
    public void Cc_names_the_controller_of_the_connections_of_serve_and_get(string given, string expected)
    {
        var serve = new ServeVerb();
        ServeSettings served = serve.Bind(Parse(serve, "--tun", "t0", "--address", "10.0.0.2/24", "--http", "80", "--cc", given));
        Assert.Equal(expected, served.CongestionControl);
        var get = new GetVerb();
        GetSettings fetched = get.Bind(Parse(get, "http://10.0.0.2/", "--tun", "t0", "--address", "10.0.0.1/24", "--cc", given));
        Assert.Equal(expected, fetched.CongestionControl);
        Assert.Equal(expected, ServeHost.ConnectionDefaults(served.CongestionControl).CongestionControl);
    }

    [Fact]
    public void Without_cc_serve_and_get_keep_the_stacks_default_controller()
    {
        var serve = new ServeVerb();
        ServeSettings served = serve.Bind(Parse(serve, "--tun", "t0", "--address", "10.0.0.2/24", "--http", "80"));
        Assert.Null(served.CongestionControl);
        var get = new GetVerb();
        Assert.Null(get.Bind(Parse(get, "http://10.0.0.2/", "--tun", "t0", "--address", "10.0.0.1/24")).CongestionControl);
        Assert.Same(TcpConnectionOptions.Default, ServeHost.ConnectionDefaults(null));
        Assert.Equal("cubic", ServeHost.ConnectionDefaults(null).CongestionControl);
    }

    [Fact]
    public void No_offloads_opens_the_device_in_plain_mode_with_addresses_of_both_families()
    {
        var get = new GetVerb();
        GetSettings plain = get.Bind(Parse(get, "http://10.0.0.2/", "--tun", "t0", "--address", "10.0.0.1/24", "--address", "2001:db8::1/64", "--no-offloads"));
        Assert.False(plain.Device.Offloads);
        Assert.Equal(2, plain.Device.Addresses.Count);
        var other = new GetVerb();
        GetSettings offloads = other.Bind(Parse(other, "http://10.0.0.2/", "--tun", "t0", "--address", "10.0.0.1/24"));
        Assert.True(offloads.Device.Offloads);
        Assert.NotEqual(offloads.Device, plain.Device with { Addresses = offloads.Device.Addresses });
    }

    [Fact]
    public void Device_settings_take_addresses_and_gateways_of_both_families()
    {
        var get = new GetVerb();
        GetSettings settings = get.Bind(Parse(get,
            "http://[2001:db8::2]:8080/", "--raw", "eth1", "--address", "10.0.0.1/24", "--address", "2001:db8::1/64",
            "--gateway", "fe80::1", "--gateway", "10.0.0.254", "--mtu", "1400"));
        Assert.Equal([InterfaceAddress.Parse("10.0.0.1/24"), InterfaceAddress.Parse("2001:db8::1/64")], settings.Device.Addresses);
        Assert.Equal([IpAddress.Parse("fe80::1"), IpAddress.Parse("10.0.0.254")], settings.Device.Gateways);
        Assert.True(settings.Device.HasIpv6);
        InterfaceConfiguration configuration = settings.Device.Configuration;
        Assert.Equal(2, configuration.Addresses.Count);
        Assert.Equal(1400, configuration.Mtu);
        Assert.Null(configuration.Ipv6);

        var named = new GetVerb();
        GetSettings byName = named.Bind(Parse(named, "https://v6.test/", "--resolve", "v6.test:2001:db8::2", "--resolve", "v4.test:10.0.0.9", "--tun", "t0", "--address", "2001:db8::1/64"));
        Assert.Equal(IpAddress.Parse("2001:db8::2"), byName.Request.Resolve["v6.test"]);
        Assert.Equal(IpAddress.Parse("10.0.0.9"), byName.Request.Resolve["v4.test"]);

        var slaac = new ServeVerb();
        ServeSettings auto = slaac.Bind(Parse(slaac, "--raw", "eth0", "--slaac", "--http", "80"));
        Assert.Empty(auto.Device.Addresses);
        Assert.True(auto.Device.Configuration.Ipv6!.AcceptRouterAdvertisements);
    }

    [Theory]
    [InlineData("--address: at most one IPv4 address", "--tun", "t0", "--address", "10.0.0.1/24", "--address", "10.0.1.1/24")]
    [InlineData("--address: 2001:db8::1 given twice", "--tun", "t0", "--address", "2001:db8::1/64", "--address", "2001:db8::1/64")]
    [InlineData("--gateway: at most one IPv6 gateway", "--tun", "t0", "--address", "2001:db8::1/64", "--gateway", "fe80::1", "--gateway", "fe80::2")]
    [InlineData("--gateway: 2001:db8:1::1 is not another host on 2001:db8::1/64", "--tun", "t0", "--address", "2001:db8::1/64", "--gateway", "2001:db8:1::1")]
    [InlineData("--gateway: 10.0.0.254 is not another host on a subnet of --address", "--tun", "t0", "--address", "2001:db8::1/64", "--gateway", "10.0.0.254")]
    [InlineData("--slaac: only with --raw (router advertisements come over Ethernet)", "--tun", "t0", "--slaac")]
    [InlineData("--address: required (the stack's own address, e.g. 10.66.0.2/24 or 2001:db8::2/64)", "--tun", "t0")]
    [InlineData("--mtu: 1000 is below IPv6's minimum of 1280", "--tun", "t0", "--address", "2001:db8::1/64", "--mtu", "1000")]
    public void Inconsistent_device_settings_name_the_flag(string expected, params string[] args)
    {
        var serve = new ServeVerb();
        UsageException e = Assert.Throws<UsageException>(() => serve.Bind(Parse(serve, [.. args, "--http", "80"])));
        Assert.Equal(expected, e.Message);
    }

    [Fact]
    public void Get_needs_an_address_of_the_urls_family()
    {
        var get = new GetVerb();
        UsageException e = Assert.Throws<UsageException>(() => get.Bind(Parse(get, "http://[2001:db8::2]/", "--tun", "t0", "--address", "10.0.0.1/24")));
        Assert.Equal("--address: no IPv6 address to reach 2001:db8::2 from", e.Message);
    }

    [Fact]
    public void Bench_defaults_and_values()
    {
        var bench = new BenchVerb();
        BenchSettings defaults = bench.Bind(Parse(bench));
        Assert.Equal(new BenchSettings(TimeSpan.FromSeconds(5), 1500, 0, TimeSpan.FromMilliseconds(1), 1), defaults);
        var again = new BenchVerb();
        BenchSettings set = again.Bind(Parse(again, "--seconds", "0.5", "--mtu", "9000", "--loss", "0.02", "--rtt", "20", "--seed", "9"));
        Assert.Equal(new BenchSettings(TimeSpan.FromSeconds(0.5), 9000, 0.02, TimeSpan.FromMilliseconds(20), 9), set);
        Assert.Equal(2, defaults.CoalescedRunSegments);
        Assert.False(defaults.ReceiveCoalescing); // the stack's default: off
        var on = new BenchVerb();
        Assert.True(on.Bind(Parse(on, "--gro")).ReceiveCoalescing);
        var gro = new BenchVerb();
        BenchSettings run = gro.Bind(Parse(gro, "--gro-run", "64"));
        Assert.Equal(64, run.CoalescedRunSegments);
        Assert.True(run.ReceiveCoalescing); // --gro-run implies --gro
        var kernel = new BenchVerb();
        KernelBenchSettings kernelRun = kernel.BindKernel(Parse(kernel, "--kernel", "--gro-run", "16"))!;
        Assert.Equal(16, kernelRun.CoalescedRunSegments);
        Assert.True(kernelRun.ReceiveCoalescing);
        var kernelDefault = new BenchVerb();
        Assert.False(kernelDefault.BindKernel(Parse(kernelDefault, "--kernel"))!.ReceiveCoalescing);
    }

    [Fact]
    public void Demo_defaults_and_values()
    {
        var demo = new DemoVerb();
        Assert.Equal(new DemoSettings(1 << 20, 0, 1, null, null, false), demo.Bind(Parse(demo)));
        var again = new DemoVerb();
        DemoSettings set = again.Bind(Parse(again, "--bytes", "64k", "--loss", "0.05", "--seed", "7", "--pcap", "a.pcap", "--keylog", "k.txt", "--quiet", "--real-time"));
        Assert.Equal(new DemoSettings(64 * 1024, 0.05, 7, "a.pcap", "k.txt", true) { RealTime = true }, set);
    }
}
