using System.Diagnostics;
using System.IO.Compression;
using System.Runtime.CompilerServices;
using System.Xml.Linq;

namespace Protocols.Packaging.Tests;

/// <summary>
/// Packs the libraries, checks what the packages hold, then restores a brand-new project
/// from them that declares a header of its own and round-trips it through the generated code.
/// </summary>
public sealed class PackageTests : IClassFixture<PackageTests.PackedFixture>
{
    private static readonly string[] Packages = ["Protocols.Wire", "Protocols.Ip", "Protocols.Udp", "Protocols.Tcp", "Protocols.Tls", "Protocols.AspNetCore", "Protocols.Nat", "Protocols.Relay"];
    private readonly PackedFixture _packed;

    public PackageTests(PackedFixture packed) => _packed = packed;

    [Fact]
    public void Every_layer_is_packed_with_metadata_readme_and_docs()
    {
        foreach (string id in Packages)
        {
            string nupkg = Path.Combine(_packed.Folder, $"{id}.{PackedFixture.Version}.nupkg");
            Assert.True(File.Exists(nupkg), $"{nupkg} was not produced");
            using ZipArchive zip = ZipFile.OpenRead(nupkg);
            var names = zip.Entries.Select(e => e.FullName).ToHashSet();
            Assert.Contains("README.md", names);
            Assert.Contains($"lib/net10.0/{id}.dll", names);
            Assert.Contains($"lib/net10.0/{id}.xml", names);

            ZipArchiveEntry spec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
            using Stream s = spec.Open();
            XDocument doc = XDocument.Load(s);
            XNamespace ns = doc.Root!.Name.Namespace;
            XElement meta = doc.Root.Element(ns + "metadata")!;
            Assert.Equal(id, meta.Element(ns + "id")!.Value);
            Assert.False(string.IsNullOrWhiteSpace(meta.Element(ns + "description")?.Value), $"{id} has no description");
            Assert.False(string.IsNullOrWhiteSpace(meta.Element(ns + "authors")?.Value), $"{id} has no authors");
            Assert.NotNull(meta.Element(ns + "license"));
            Assert.Equal("README.md", meta.Element(ns + "readme")?.Value);
        }
    }

    [Fact]
    public void Wire_ships_the_generator_as_an_analyzer_and_not_as_a_library()
    {
        using ZipArchive zip = ZipFile.OpenRead(Path.Combine(_packed.Folder, $"Protocols.Wire.{PackedFixture.Version}.nupkg"));
        var names = zip.Entries.Select(e => e.FullName).ToList();
        Assert.Contains("analyzers/dotnet/cs/Protocols.Generators.dll", names);
        Assert.DoesNotContain(names, n => n.StartsWith("lib/", StringComparison.Ordinal) && n.Contains("Generators", StringComparison.Ordinal));
    }

    [Fact]
    public void Upper_layers_depend_on_the_layer_below()
    {
        Assert.Contains("Protocols.Wire", Dependencies("Protocols.Ip"));
        Assert.Contains("Protocols.Ip", Dependencies("Protocols.Udp"));
        Assert.Contains("Protocols.Ip", Dependencies("Protocols.Tcp"));
        Assert.Contains("Protocols.Tcp", Dependencies("Protocols.Tls"));
        Assert.Contains("Protocols.Udp", Dependencies("Protocols.Nat"));
        Assert.Contains("Protocols.Tcp", Dependencies("Protocols.Nat"));
        Assert.Contains("Protocols.Tcp", Dependencies("Protocols.Relay"));
        Assert.Contains("Protocols.Udp", Dependencies("Protocols.Relay"));
        Assert.Contains("Protocols.Tcp", Dependencies("Protocols.AspNetCore"));
    }

    [Fact]
    public void Only_AspNetCore_takes_the_AspNetCore_framework()
    {
        foreach (string id in Packages)
        {
            using ZipArchive zip = ZipFile.OpenRead(Path.Combine(_packed.Folder, $"{id}.{PackedFixture.Version}.nupkg"));
            ZipArchiveEntry spec = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal));
            using Stream s = spec.Open();
            XDocument doc = XDocument.Load(s);
            bool aspNetCore = doc.Descendants().Any(e => e.Name.LocalName == "frameworkReference" && (string?)e.Attribute("name") == "Microsoft.AspNetCore.App");
            Assert.True(aspNetCore == (id == "Protocols.AspNetCore"), $"{id}: framework reference Microsoft.AspNetCore.App {(aspNetCore ? "present" : "absent")}");
        }

        // The sources agree: no project below AspNetCore names the framework.
        foreach (string layer in new[] { "Wire", "Ip", "Udp", "Tcp", "Tls" })
        {
            string csproj = File.ReadAllText(Path.Combine(PackedFixture.RepoRootOf(), layer, $"Protocols.{layer}.csproj"));
            Assert.DoesNotContain("Microsoft.AspNetCore", csproj, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_fresh_project_declares_its_own_header_from_the_package()
    {
        string dir = Path.Combine(_packed.Root, "consumer");
        Directory.CreateDirectory(dir);
        File.WriteAllText(Path.Combine(dir, "nuget.config"), $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <packageSources>
                <clear />
                <add key="local" value="{_packed.Folder}" />
              </packageSources>
            </configuration>
            """);
        File.WriteAllText(Path.Combine(dir, "Consumer.csproj"), $"""
            <Project Sdk="Microsoft.NET.Sdk">
              <PropertyGroup>
                <OutputType>Exe</OutputType>
                <TargetFramework>net10.0</TargetFramework>
                <Nullable>enable</Nullable>
                <ImplicitUsings>enable</ImplicitUsings>
                <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                <RestorePackagesPath>{Path.Combine(_packed.Root, "packages")}</RestorePackagesPath>
              </PropertyGroup>
              <ItemGroup>
                <PackageReference Include="Protocols.Wire" Version="{PackedFixture.Version}" />
              </ItemGroup>
            </Project>
            """);
        File.WriteAllText(Path.Combine(dir, "Program.cs"), """
            using Protocols.Wire;

            var value = new GameHeader { Kind = 5, Flags = 0x2A, Counter = 0xABCDEF, Hops = 3, Length = 14, Check = 0 };
            var buffer = new byte[14];
            value.WriteTo(buffer);
            GameHeader.FillChecksum(buffer);
            if (!GameHeader.TryRead(buffer, out GameHeader.Reader r, out WireError error))
            {
                Console.WriteLine("read failed: " + error);
                return 1;
            }

            Console.WriteLine($"magic={r.Magic} kind={r.Kind} flags={r.Flags} counter={r.Counter:x} hops={r.Hops} length={r.Length} checksum-ok={r.VerifyChecksum()}");
            buffer[12] ^= 0x40;
            Console.WriteLine($"after-flip-ok={GameHeader.VerifyChecksum(buffer)}");
            Console.WriteLine($"short={GameHeader.TryRead(buffer.AsSpan(0, 5), out _, out WireError e2)} {e2.Kind} {e2.Source}");
            return 0;

            /// <summary>A header a user of the package declares.</summary>
            [WireHeader("Game")]
            [TotalLength(nameof(Length))]
            [Checksum(nameof(Check), ChecksumCoverage.Message)]
            public partial struct GameHeader
            {
                /// <summary>Magic.</summary>
                [Bits(4), Const(9)] public byte Magic;
                /// <summary>Kind.</summary>
                [Bits(6)] public byte Kind;
                /// <summary>Flags.</summary>
                [Bits(6)] public byte Flags;
                /// <summary>Counter.</summary>
                [Bits(24)] public uint Counter;
                /// <summary>Hops.</summary>
                public byte Hops;
                /// <summary>Length.</summary>
                public ushort Length;
                /// <summary>Check.</summary>
                public ushort Check;
            }
            """);

        (int code, string output) = Run("dotnet", "run -c Release", dir, TimeSpan.FromMinutes(5));
        Assert.True(code == 0, $"consumer failed ({code}):\n{output}");
        Assert.Contains("magic=9 kind=5 flags=42 counter=abcdef hops=3 length=14 checksum-ok=True", output);
        Assert.Contains("after-flip-ok=False", output);
        Assert.Contains("short=False TooShort Buffer", output);
    }

    private List<string> Dependencies(string id)
    {
        using ZipArchive zip = ZipFile.OpenRead(Path.Combine(_packed.Folder, $"{id}.{PackedFixture.Version}.nupkg"));
        using Stream s = zip.Entries.Single(e => e.FullName.EndsWith(".nuspec", StringComparison.Ordinal)).Open();
        XDocument doc = XDocument.Load(s);
        return doc.Descendants().Where(e => e.Name.LocalName == "dependency").Select(e => e.Attribute("id")!.Value).ToList();
    }

    internal static (int Code, string Output) Run(string file, string args, string cwd, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file, args)
        {
            WorkingDirectory = cwd,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["MSBUILDNODECOUNT"] = "1";
        using Process p = Process.Start(psi)!;
        Task<string> stdout = p.StandardOutput.ReadToEndAsync();
        Task<string> stderr = p.StandardError.ReadToEndAsync();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            return (-1, $"timed out after {timeout}\n{stdout.Result}{stderr.Result}");
        }

        return (p.ExitCode, stdout.Result + stderr.Result);
    }

    /// <summary>Packs once for all tests into a temporary folder.</summary>
    public sealed class PackedFixture : IDisposable
    {
        public const string Version = "0.1.0";

        public PackedFixture()
        {
            Root = Path.Combine(Path.GetTempPath(), "protocols-pack-" + Guid.NewGuid().ToString("N")[..8]);
            Folder = Path.Combine(Root, "feed");
            Directory.CreateDirectory(Folder);
            string repo = RepoRoot();
            string config = typeof(PackedFixture).Assembly.Location.Contains($"{Path.DirectorySeparatorChar}Release{Path.DirectorySeparatorChar}", StringComparison.Ordinal) ? "Release" : "Debug";
            foreach (string id in Packages)
            {
                string project = Path.Combine(repo, id["Protocols.".Length..], id + ".csproj");

                // The test run has just built these projects in this configuration: pack what was built.
                (int code, string output) = Run("dotnet", $"pack \"{project}\" -c {config} --no-build -o \"{Folder}\"", repo, TimeSpan.FromMinutes(5));
                if (code != 0)
                {
                    (code, output) = Run("dotnet", $"pack \"{project}\" -c {config} -o \"{Folder}\"", repo, TimeSpan.FromMinutes(5));
                }

                if (code != 0)
                {
                    throw new InvalidOperationException($"dotnet pack {id} failed:\n{output}");
                }
            }
        }

        public string Root { get; }

        public string Folder { get; }

        public void Dispose()
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
            }
        }

        /// <summary>The repository's root (where Protocols.sln is).</summary>
        public static string RepoRootOf() => RepoRoot();

        private static string RepoRoot([CallerFilePath] string path = "")
        {
            string? dir = Path.GetDirectoryName(path);
            while (dir is not null && !File.Exists(Path.Combine(dir, "Protocols.sln")))
            {
                dir = Path.GetDirectoryName(dir);
            }

            return dir ?? throw new InvalidOperationException("Protocols.sln not found above " + path);
        }
    }
}
