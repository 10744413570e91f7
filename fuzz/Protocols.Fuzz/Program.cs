using Protocols.Fuzz;
using SharpFuzz;

// protocols-fuzz: the fuzzing harness (docs/fuzzing.md).
//   list                          the targets, one per line: name, then what the input is
//   afl TARGET                    run TARGET under afl-fuzz (SharpFuzz's in-process fork server; input on stdin)
//   run TARGET FILE|DIR...        run TARGET once per file; prints each failure; exit 1 if any failed
//   minimize TARGET IN OUT        shrink a failing input to a smaller one that fails the same way
//   seeds CAPTURES CORPUS         write seed inputs for every target from the pcap/pcapng files in CAPTURES
if (args.Length == 0)
{
    return Usage();
}

switch (args[0])
{
    case "list":
        foreach ((string name, string input, _) in FuzzTargets.All)
        {
            Console.WriteLine($"{name}\t{input}");
        }

        return 0;
    case "afl" when args.Length == 2 && FuzzTargets.Find(args[1]) is FuzzTarget target:
        {
            byte[] buffer = new byte[1 << 20];
            Fuzzer.Run(stream =>
            {
                int length = 0;
                int n;
                while (length < buffer.Length && (n = stream.Read(buffer, length, buffer.Length - length)) > 0)
                {
                    length += n;
                }

                target(buffer.AsSpan(0, length));
            });
            return 0;
        }

    case "run" when args.Length >= 3 && FuzzTargets.Find(args[1]) is FuzzTarget target:
        {
            int failed = 0;
            int ran = 0;
            foreach (string file in Inputs(args.AsSpan(2)))
            {
                ran++;
                try
                {
                    target(File.ReadAllBytes(file));
                }
                catch (Exception e)
                {
                    failed++;
                    Console.WriteLine($"FAIL {file}: {e.GetType().Name}: {e.Message}");
                    Console.WriteLine(e.StackTrace);
                }
            }

            Console.WriteLine($"{args[1]}: {ran} inputs, {failed} failed");
            return failed == 0 ? 0 : 1;
        }

    case "minimize" when args.Length == 4 && FuzzTargets.Find(args[1]) is FuzzTarget target:
        {
            byte[] input = File.ReadAllBytes(args[2]);
            string? failure = Minimizer.Failure(target, input);
            if (failure is null)
            {
                Console.Error.WriteLine($"{args[2]} does not fail {args[1]}");
                return 1;
            }

            byte[] smaller = Minimizer.Minimize(target, input, failure);
            File.WriteAllBytes(args[3], smaller);
            Console.WriteLine($"{args[1]}: {input.Length} -> {smaller.Length} bytes, {failure}");
            return 0;
        }

    case "seeds" when args.Length == 3:
        return SeedExtractor.Run(args[1], args[2]);
    default:
        return Usage();
}

static int Usage()
{
    Console.Error.WriteLine("usage: Protocols.Fuzz list | afl TARGET | run TARGET FILE|DIR... | minimize TARGET IN OUT | seeds CAPTURES_DIR CORPUS_DIR");
    return 2;
}

static IEnumerable<string> Inputs(ReadOnlySpan<string> paths)
{
    var files = new List<string>();
    foreach (string path in paths)
    {
        if (Directory.Exists(path))
        {
            files.AddRange(Directory.GetFiles(path).Where(f => !Path.GetFileName(f).StartsWith('.')).Order(StringComparer.Ordinal));
        }
        else
        {
            files.Add(path);
        }
    }

    return files;
}
