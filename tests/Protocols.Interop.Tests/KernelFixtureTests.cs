using Xunit.Abstractions;

namespace Protocols.Interop.Tests;

/// <summary>
/// The kernel-side fixtures of the TCP interop tests, checked kernel to kernel over a namespace's
/// loopback: when a TCP interop test fails, these say whether the tools or the stack are at fault.
/// </summary>
public sealed class KernelFixtureTests(ITestOutputHelper output)
{
    private static readonly TimeSpan Limit = TimeSpan.FromSeconds(60);

    [InteropFact(Tools = ["nginx", "python3", "socat", "curl", "nft", "ss"])]
    public void NginxPythonAndSocatServeAFileAndTheLossRuleDrops()
    {
        using var ns = new TestNamespace();
        using var dir = new TempDir();
        Directory.CreateDirectory(dir["www"]);
        string sha = dir.WriteRandomFile("www/data.bin", 2 << 20);

        using KernelServer nginx = KernelServer.Nginx(ns, dir, "127.0.0.1", 8080);
        using KernelServer python = KernelServer.PythonHttp(ns, dir, "127.0.0.1", 8000);
        using KernelServer socat = KernelServer.Socat(ns, "127.0.0.1", 9000, $"OPEN:{dir["www/data.bin"]},rdonly", "-U");
        KernelTools.AddRandomLoss(ns, dir, 2);

        foreach ((string name, string url) in new[] { ("nginx", "http://127.0.0.1:8080/data.bin"), ("python", "http://127.0.0.1:8000/data.bin") })
        {
            string file = dir[name + ".out"];
            ToolResult curl = ns.Exec(Limit, "curl", "-sS", "--max-time", "50", "-o", file, url);
            Assert.True(curl.ExitCode == 0, TestNamespace.Describe(curl));
            Assert.Equal(sha, KernelTools.Sha256OfFile(file));
        }

        ToolResult fetch = KernelTools.Shell(ns, Limit, $"socat -u TCP:127.0.0.1:9000 CREATE:{dir["socat.out"]}");
        Assert.True(fetch.ExitCode == 0, TestNamespace.Describe(fetch));
        Assert.Equal(sha, KernelTools.Sha256OfFile(dir["socat.out"]));
        Assert.Equal(0, socat.WaitForExit(TimeSpan.FromSeconds(10)));

        (long fromStack, long fromKernel) = KernelTools.LossDrops(ns);
        output.WriteLine($"loss rule dropped {fromStack} (prerouting) and {fromKernel} (output) packets");
        Assert.True(fromStack > 0 && fromKernel > 0, $"{fromStack}, {fromKernel}");
    }
}
