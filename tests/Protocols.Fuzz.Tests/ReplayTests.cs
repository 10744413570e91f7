namespace Protocols.Fuzz.Tests;

/// <summary>
/// Runs every seed (fuzz/corpus/TARGET/*) and every saved crash (fuzz/crashes/TARGET/*) through its
/// fuzz target, in process, without afl: a crash fixed once stays fixed on any machine, and the
/// seeds keep passing the targets' properties.
/// </summary>
public class ReplayTests
{
    public static TheoryData<string> Targets()
    {
        var data = new TheoryData<string>();
        foreach ((string name, _, _) in FuzzTargets.All)
        {
            data.Add(name);
        }

        return data;
    }

    public static TheoryData<string, string> Crashes()
    {
        var data = new TheoryData<string, string>();
        string crashes = Path.Combine(FuzzDirectory(), "crashes");
        if (Directory.Exists(crashes))
        {
            foreach (string target in Directory.GetDirectories(crashes).Order(StringComparer.Ordinal))
            {
                foreach (string file in Directory.GetFiles(target).Order(StringComparer.Ordinal))
                {
                    data.Add(Path.GetFileName(target), Path.GetFileName(file));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Targets))]
    public void Every_seed_passes_its_target(string target)
    {
        string directory = Path.Combine(FuzzDirectory(), "corpus", target);
        string[] files = Directory.Exists(directory) ? Directory.GetFiles(directory) : [];
        Assert.NotEmpty(files);
        FuzzTarget run = FuzzTargets.Find(target)!;
        var failures = new List<string>();
        foreach (string file in files.Order(StringComparer.Ordinal))
        {
            try
            {
                run(File.ReadAllBytes(file));
            }
            catch (Exception e)
            {
                failures.Add($"{Path.GetFileName(file)}: {e}");
            }
        }

        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Theory]
    [MemberData(nameof(Crashes))]
    public void Saved_crash_no_longer_fails(string target, string file)
    {
        FuzzTarget? run = FuzzTargets.Find(target);
        Assert.True(run is not null, $"fuzz/crashes/{target} names no target");
        run(File.ReadAllBytes(Path.Combine(FuzzDirectory(), "crashes", target, file)));
    }

    [Fact]
    public void Every_crash_directory_is_a_target()
    {
        string crashes = Path.Combine(FuzzDirectory(), "crashes");
        string[] directories = Directory.Exists(crashes) ? Directory.GetDirectories(crashes) : [];
        Assert.All(directories, d => Assert.NotNull(FuzzTargets.Find(Path.GetFileName(d))));
    }

    private static string FuzzDirectory()
    {
        for (DirectoryInfo? d = new(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            string candidate = Path.Combine(d.FullName, "fuzz", "corpus");
            if (Directory.Exists(candidate))
            {
                return Path.Combine(d.FullName, "fuzz");
            }
        }

        throw new DirectoryNotFoundException($"no fuzz/corpus above {AppContext.BaseDirectory}");
    }
}
