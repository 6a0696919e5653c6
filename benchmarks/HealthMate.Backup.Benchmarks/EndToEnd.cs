using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using HealthMate.Backup.Compression;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Benchmarks;

/// <summary>
/// Backs up and restores a real-file corpus (a tar of files, streamed <c>--repeat</c> times) through the whole pipeline
/// to local disk. Each phase runs in its own process, so each reports its own peak RSS; then <c>zstd -T2 -1</c> and
/// <c>restic</c> run on the same data when installed.
/// </summary>
internal static class EndToEnd
{
    private const string KeyVariable = "HM_BENCH_KEY";

    internal static async Task<int> RunAsync(string[] args)
    {
        if (args.Length > 0 && args[0] == "phase")
        {
            return await RunPhaseAsync(args[1..]);
        }

        var corpus = Option(args, "--corpus") ?? "/tmp/hm-corpus/files.tar";
        var repeat = int.Parse(Option(args, "--repeat") ?? "1", CultureInfo.InvariantCulture);
        var work = Option(args, "--work") ?? Path.Combine(Path.GetTempPath(), "hm-e2e");
        if (Option(args, "--generate-small-files") is { } count)
        {
            GenerateSmallFiles(Option(args, "--tree") ?? "/tmp/hm-small", int.Parse(count, CultureInfo.InvariantCulture));
        }

        if (Option(args, "--tree") is { } tree)
        {
            return await TreeAsync(args, tree, corpus, work);
        }

        if (args.Contains("--postgres"))
        {
            return await PostgresBenchmark.RunAsync(args, corpus, work);
        }

        if (args.Contains("--s3"))
        {
            return await S3Benchmark.RunAsync(args, corpus, work);
        }

        if (!File.Exists(corpus))
        {
            Console.Error.WriteLine($"No corpus at {corpus}: run scripts/make-file-corpus.sh first.");
            return 2;
        }

        PrepareWork(work);
        var inputBytes = new FileInfo(corpus).Length * repeat;
        var common = args.Where(a => (a.StartsWith("--no-", StringComparison.Ordinal) && a != "--no-baselines") || a == "--gc-info").Concat(Option(args, "--warmup-mib") is { } w ? ["--warmup-mib", w] : []).Concat(Option(args, "--block-kib") is { } b ? ["--block-kib", b] : []).Concat(Option(args, "--segment-kib") is { } g ? ["--segment-kib", g] : []).Concat(["--work", work, "--level", Option(args, "--level") ?? "1", "--warmup-corpus", corpus]).ToArray();
        Console.WriteLine($"corpus {corpus} x{repeat} = {inputBytes / 1048576.0:F0} MiB; {Environment.ProcessorCount} cores; work {work}; warm-up {Option(args, "--warmup-mib") ?? "1024"} MiB per phase process");

        var rows = new List<string>();
        var backup = await Self(["phase", "backup", "--corpus", corpus, "--repeat", repeat.ToString(CultureInfo.InvariantCulture), .. common]);
        var id = backup.Id;
        rows.Add(Row("HealthMate backup", inputBytes, backup));
        var toFile = await Self(["phase", "restore-file", "--id", id, .. common]);
        rows.Add(Row("HealthMate restore to a file (verified, fsync)", inputBytes, toFile));
        if (repeat == 1)
        {
            var same = await SameBytesAsync(corpus, Path.Combine(work, "restored.tar"));
            rows.Add($"  restored file equals the corpus byte for byte: {same}");
            if (!same)
            {
                return 1;
            }
        }

        File.Delete(Path.Combine(work, "restored.tar"));
        rows.Add(Row("HealthMate restore to nowhere (pipeline only)", inputBytes, await Self(["phase", "restore-null", "--id", id, .. common])));

        if (!args.Contains("--no-baselines") && repeat == 1)
        {
            rows.Add(Row("cat tar | zstd -T2 -1 > file", inputBytes, await Tool("bash", "-c", $"cat '{corpus}' | zstd -q -T2 -1 -c > '{work}/corpus.zst'")));
            rows.Add(Row("zstd -d > file", inputBytes, await Tool("bash", "-c", $"zstd -q -d -c '{work}/corpus.zst' > '{work}/corpus.out' && rm -f '{work}/corpus.out' '{work}/corpus.zst'")));
            await ResticRowsAsync(rows, inputBytes, corpus, work, unchangedRerun: false);
        }

        Console.WriteLine();
        Console.WriteLine($"{"run",-60} {"MB/s",6} {"seconds",8} {"CPU s",7} {"peak RSS",10}");
        rows.ForEach(Console.WriteLine);
        Directory.Delete(work, recursive: true);
        return 0;
    }

    /// <summary>restic 0.14 (from Debian) on the same input, when installed: backup, optionally an unchanged re-run, restore.</summary>
    private static async Task ResticRowsAsync(List<string> rows, long bytes, string input, string work, bool unchangedRerun)
    {
        if (Which("restic") is null)
        {
            rows.Add("restic: not installed");
            return;
        }

        Environment.SetEnvironmentVariable("RESTIC_PASSWORD", "benchmark-only");
        Environment.SetEnvironmentVariable("RESTIC_REPOSITORY", Path.Combine(work, "restic"));
        await Tool("restic", "init", "-q");
        rows.Add(Row("restic 0.14 backup", bytes, await Tool("restic", "backup", "-q", input)));
        if (unchangedRerun)
        {
            rows.Add(Row("restic 0.14 backup again, unchanged", bytes, await Tool("restic", "backup", "-q", input)));
        }

        rows.Add(Row("restic 0.14 restore", bytes, await Tool("restic", "restore", "latest", "-q", "--target", Path.Combine(work, "restic-restore"))));
    }

    /// <summary>Starts from an empty work folder and a fresh benchmark key (random, only in this process tree's environment).</summary>
    internal static void PrepareWork(string work)
    {
        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        Environment.SetEnvironmentVariable(KeyVariable, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)));
    }

    /// <summary>A folder tree: file-tree backup and restore into a folder, beside tar | zstd and restic on the same folder.</summary>
    private static async Task<int> TreeAsync(string[] args, string tree, string corpus, string work)
    {
        PrepareWork(work);
        var files = Directory.GetFiles(tree, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = 0 });
        var bytes = files.Sum(f => new FileInfo(f).Length);
        Console.WriteLine($"tree {tree}: {files.Length} files, {bytes / 1048576.0:F0} MiB; {Environment.ProcessorCount} cores; work {work}");
        string[] common = ["--work", work, "--warmup-corpus", corpus, .. (Option(args, "--warmup-mib") is { } w ? new[] { "--warmup-mib", w } : []), .. args.Where(a => a == "--gc-info")];
        var rows = new List<string>();
        var backup = await Self(["phase", "backup-tree", "--tree", tree, .. common]);
        rows.Add(Row("HealthMate file-tree backup", bytes, backup) + $" {files.Length / backup.Seconds:F0} files/s");
        var again = await Self(["phase", "backup-tree", "--tree", tree, "--parent", backup.Id, "--twice", .. common]);
        rows.Add(Row("HealthMate backup again, unchanged (incremental)", bytes, again));
        var restore = await Self(["phase", "restore-tree", "--id", backup.Id, .. common]);
        rows.Add(Row("HealthMate restore into a folder (verified)", bytes, restore) + $" {files.Length / restore.Seconds:F0} files/s");
        Directory.Delete(Path.Combine(work, "restored-tree"), recursive: true);
        if (!args.Contains("--no-baselines"))
        {
            var parent = Path.GetDirectoryName(Path.GetFullPath(tree))!;
            var name = Path.GetFileName(Path.GetFullPath(tree));
            rows.Add(Row("tar -c | zstd -T2 -1 > file", bytes, await Tool("bash", "-c", $"tar -cf - -C '{parent}' '{name}' | zstd -q -T2 -1 -c > '{work}/tree.tar.zst'")));
            rows.Add(Row("zstd -d | tar -x", bytes, await Tool("bash", "-c", $"mkdir -p '{work}/tar-out' && zstd -q -d -c '{work}/tree.tar.zst' | tar -xf - -C '{work}/tar-out' && rm -rf '{work}/tar-out' '{work}/tree.tar.zst'")));
            await ResticRowsAsync(rows, bytes, tree, work, unchangedRerun: true);
        }

        Console.WriteLine();
        Console.WriteLine($"{"run",-60} {"MB/s",6} {"seconds",8} {"CPU s",7} {"peak RSS",10}");
        rows.ForEach(Console.WriteLine);
        Directory.Delete(work, recursive: true);
        return 0;
    }

    /// <summary>A tree of many small files (1 to 16 KiB of text-like data, 100 per folder), made once.</summary>
    private static void GenerateSmallFiles(string root, int count)
    {
        if (Directory.Exists(root))
        {
            return;
        }

        var random = new Random(42);
        var words = "patient record dose observation medication embedding note upload "u8.ToArray();
        var buffer = new byte[16 * 1024];
        for (var i = 0; i < count; i++)
        {
            var folder = Path.Combine(root, $"d{i / 10000:D2}", $"d{i / 100 % 100:D2}");
            if (i % 100 == 0)
            {
                Directory.CreateDirectory(folder);
            }

            var length = random.Next(1024, buffer.Length);
            for (var b = 0; b < length; b++)
            {
                buffer[b] = random.Next(6) == 0 ? (byte)random.Next(256) : words[(b + i) % words.Length];
            }

            File.WriteAllBytes(Path.Combine(folder, $"f{i:D6}.txt"), buffer[..length]);
        }
    }

    private static async Task<int> RunPhaseAsync(string[] args)
    {
        var phase = args[0];
        var work = Option(args, "--work")!;
        var level = int.Parse(Option(args, "--level") ?? "1", CultureInfo.InvariantCulture);
        var encrypt = !args.Contains("--no-encrypt");
        var fsync = !args.Contains("--no-fsync");
        var services = new ServiceCollection();
        services.AddBackupDR(o =>
        {
            o.Encryption.Enabled = encrypt;
            o.Encryption.ActiveKeyId = "bench";
            o.Encryption.Keys.Add(new() { Id = "bench", EnvironmentVariable = KeyVariable });
            o.Compression.Algorithm = CompressionAlgorithm.Zstd;
            o.Compression.Level = level;
            if (Option(args, "--block-kib") is { } block)
            {
                o.Compression.BlockSize = int.Parse(block, CultureInfo.InvariantCulture) * 1024;
            }

            if (Option(args, "--segment-kib") is { } segment)
            {
                o.Encryption.SegmentSize = int.Parse(segment, CultureInfo.InvariantCulture) * 1024;
            }
        }).AddLocalStorage(l =>
        {
            l.Path = Path.Combine(work, "storage");
            l.FlushToDisk = fsync;
        });
        await using var provider = services.BuildServiceProvider();
        var warmupMib = int.Parse(Option(args, "--warmup-mib") ?? "1024", CultureInfo.InvariantCulture);
        if (warmupMib > 0)
        {
            await WarmUpAsync(provider, Option(args, "--corpus") ?? Option(args, "--warmup-corpus") ?? "/tmp/hm-corpus/files.tar", warmupMib);
            if (phase.EndsWith("-tree", StringComparison.Ordinal))
            {
                await WarmUpTreeAsync(provider, work);
            }
        }

        using var sampler = args.Contains("--gc-info") ? new AllocationSampler() : null;
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var clock = Stopwatch.StartNew();
        string id, note = string.Empty;
        if (phase.StartsWith("postgres-", StringComparison.Ordinal))
        {
            (id, note) = await PostgresBenchmark.RunPhaseAsync(phase, provider);
        }
        else if (phase.StartsWith("s3-", StringComparison.Ordinal))
        {
            (id, note) = await S3Benchmark.RunPhaseAsync(phase, Option(args, "--corpus")!, work, provider);
        }
        else if (phase == "backup-tree")
        {
            var options = new HealthMate.Backup.FileTree.FileTreeSourceOptions();
            options.Paths.Add(Option(args, "--tree")!);
            var request = Option(args, "--parent") is { } parent ? new BackupRequest { Type = BackupType.Incremental, ParentId = parent } : null;
            var result = await provider.GetRequiredService<IBackupRunner>().RunAsync(BackupSources.FromFileTree(options), request);
            if (args.Contains("--twice"))
            {
                // The first run in a process pays for JIT and runtime warm-up of this exact path; a host that backs
                // up every night has paid it before. Report the second, and say what the first took.
                note = $"first run in this process {clock.Elapsed.TotalSeconds:F2} s; ";
                clock.Restart();
                cpu = Process.GetCurrentProcess().TotalProcessorTime;
                result = await provider.GetRequiredService<IBackupRunner>().RunAsync(BackupSources.FromFileTree(options), request);
            }

            id = result.BackupId;
            note += $"stored {result.Manifest.Data.StoredSize / 1048576.0:F0} MiB, ratio {(double)result.Manifest.Data.PlaintextSize / result.Manifest.Data.StoredSize:F2};";
        }
        else if (phase == "restore-tree")
        {
            id = Option(args, "--id")!;
            await provider.GetRequiredService<HealthMate.Backup.FileTree.IFileTreeRestoreRunner>().RestoreAsync(id, Path.Combine(work, "restored-tree"));
        }
        else if (phase == "backup")
        {
            var corpus = Option(args, "--corpus")!;
            var repeat = int.Parse(Option(args, "--repeat")!, CultureInfo.InvariantCulture);
            var source = BackupSources.Create("files", Path.GetFileName(corpus), async (destination, _, ct) =>
            {
                for (var i = 0; i < repeat; i++)
                {
                    await using var file = new FileStream(corpus, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
                    await file.CopyToAsync(destination, 1024 * 1024, ct);
                }
            });
            var result = await provider.GetRequiredService<IBackupRunner>().RunAsync(source);
            id = result.BackupId;
            var data = result.Manifest.Data;
            note = $"zstd-{level}, {(encrypt ? "AES-256-GCM" : "no encryption")}, local disk{(fsync ? ", fsync" : "")}; stored {data.StoredSize / 1048576.0:F0} MiB, ratio {(double)data.PlaintextSize / data.StoredSize:F2}";
            if (!string.Equals(data.PlaintextSha256, Convert.ToHexStringLower(await Sha256OfRepeatsAsync(corpus, repeat)), StringComparison.Ordinal))
            {
                throw new InvalidOperationException("The backup's plaintext SHA-256 differs from the corpus's.");
            }
        }
        else
        {
            id = Option(args, "--id")!;
            IRestoreTarget target = phase == "restore-file" ? RestoreTargets.ToFile(Path.Combine(work, "restored.tar")) : new DiscardTarget();
            await provider.GetRequiredService<IRestoreRunner>().RestoreAsync(id, target);
        }

        var seconds = clock.Elapsed.TotalSeconds;
        if (args.Contains("--gc-info"))
        {
            var info = GC.GetGCMemoryInfo();
            Console.Error.WriteLine($"{phase}: allocated {GC.GetTotalAllocatedBytes() / 1048576.0:F0} MiB, heap {info.HeapSizeBytes / 1048576.0:F0} MiB, committed {info.TotalCommittedBytes / 1048576.0:F0} MiB, gen0/1/2 {GC.CollectionCount(0)}/{GC.CollectionCount(1)}/{GC.CollectionCount(2)}, working set {Environment.WorkingSet / 1048576.0:F0} MiB");
            foreach (var (type, bytes) in sampler!.Top(6))
            {
                Console.Error.WriteLine($"    {bytes / 1048576.0,8:F1} MiB sampled  {type}");
            }
        }

        var cpuSeconds = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalSeconds;
        Console.WriteLine(string.Join('\t', "RESULT", id, seconds.ToString("R", CultureInfo.InvariantCulture), cpuSeconds.ToString("R", CultureInfo.InvariantCulture), (ReadStatusMib(Environment.ProcessId, "VmHWM:") ?? 0).ToString("R", CultureInfo.InvariantCulture), note));
        return 0;
    }

    /// <summary>Backs up and restores the first MiBs of the corpus, so the measured run sees warm (tier-1 JIT) code,
    /// as in a host that runs backups every day.</summary>
    private static async Task WarmUpAsync(ServiceProvider provider, string corpus, int mib)
    {
        var source = BackupSources.Create("warmup", "warm-up", async (destination, _, ct) =>
        {
            await using var file = File.OpenRead(corpus);
            var buffer = new byte[1024 * 1024];
            for (var i = 0; i < mib; i++)
            {
                var read = await file.ReadAsync(buffer, ct);
                await destination.WriteAsync(buffer.AsMemory(0, read), ct);
            }
        });
        var warm = await provider.GetRequiredService<IBackupRunner>().RunAsync(source);
        await provider.GetRequiredService<IRestoreRunner>().RestoreAsync(warm.BackupId, new DiscardTarget());
    }

    /// <summary>Runs a full, an incremental and a restore of a small generated tree, so the walk, the index merge and the
    /// extraction also run as warm code, as in a host that backs its folders up every day.</summary>
    private static async Task WarmUpTreeAsync(ServiceProvider provider, string work)
    {
        var tree = Path.Combine(work, "warmup-tree");
        if (!Directory.Exists(tree))
        {
            var random = new Random(7);
            for (var i = 0; i < 2000; i++)
            {
                var folder = Directory.CreateDirectory(Path.Combine(tree, $"d{i % 20:D2}")).FullName;
                var content = new byte[random.Next(1, 4096)];
                random.NextBytes(content);
                await File.WriteAllBytesAsync(Path.Combine(folder, $"f{i:D5}.bin"), content);
            }
        }

        var options = new HealthMate.Backup.FileTree.FileTreeSourceOptions();
        options.Paths.Add(tree);
        var backups = provider.GetRequiredService<IBackupRunner>();
        var full = await backups.RunAsync(BackupSources.FromFileTree(options, "warmup-tree"));
        for (var i = 0; i < 3; i++)
        {
            await backups.RunAsync(BackupSources.FromFileTree(options, "warmup-tree"), new BackupRequest { Type = BackupType.Incremental, ParentId = full.BackupId });
        }

        var restored = Path.Combine(work, "warmup-restored");
        await provider.GetRequiredService<HealthMate.Backup.FileTree.IFileTreeRestoreRunner>().RestoreAsync(full.BackupId, restored);
        Directory.Delete(restored, recursive: true);
    }

    private static async Task<byte[]> Sha256OfRepeatsAsync(string corpus, int repeat)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var buffer = new byte[1024 * 1024];
        for (var i = 0; i < repeat; i++)
        {
            await using var file = File.OpenRead(corpus);
            int read;
            while ((read = await file.ReadAsync(buffer)) > 0)
            {
                hash.AppendData(buffer, 0, read);
            }
        }

        return hash.GetHashAndReset();
    }

    internal static async Task<PhaseResult> Self(string[] args)
    {
        // Under `dotnet run` this process is the app host; under `dotnet x.dll` it is the dotnet host, which needs the dll.
        var host = Environment.ProcessPath!;
        string[] prefix = Path.GetFileNameWithoutExtension(host) == "dotnet" ? [typeof(EndToEnd).Assembly.Location, "e2e"] : ["e2e"];
        var output = await RunAsync(host, [.. prefix, .. args], capture: true);
        var line = (output.Split('\n').SingleOrDefault(l => l.StartsWith("RESULT\t", StringComparison.Ordinal))
            ?? throw new InvalidOperationException($"Phase '{string.Join(' ', args.Take(2))}' reported no result:\n{output}")).Split('\t');
        return new PhaseResult(line[1], double.Parse(line[2], CultureInfo.InvariantCulture), double.Parse(line[3], CultureInfo.InvariantCulture), double.Parse(line[4], CultureInfo.InvariantCulture), line[5]);
    }

    internal static async Task<PhaseResult> Tool(string command, params string[] args)
    {
        var clock = Stopwatch.StartNew();
        var (peak, cpu) = await RunMeasuredAsync(command, args);
        return new PhaseResult(string.Empty, clock.Elapsed.TotalSeconds, cpu, peak, string.Empty);
    }

    internal static string Row(string name, long bytes, PhaseResult r) =>
        $"{name,-60} {bytes / 1e6 / r.Seconds,6:F0} {r.Seconds,8:F2} {r.CpuSeconds,7:F2} {r.PeakRssMib,6:F0} MiB  {r.Note}";

    private static async Task<string> RunAsync(string command, string[] arguments, bool capture)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = capture, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = capture ? process.StandardOutput.ReadToEndAsync() : Task.FromResult(string.Empty);
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        Console.Error.Write(await error);
        return process.ExitCode == 0 ? await output : throw new InvalidOperationException($"{command} failed: {await error}{await output}");
    }

    /// <summary>Runs a tool, sampling its whole process tree's peak RSS; CPU time from the kernel's accounting of waited children.</summary>
    private static async Task<(double PeakMib, double CpuSeconds)> RunMeasuredAsync(string command, string[] arguments)
    {
        var before = ChildrenCpuSeconds();
        var start = new ProcessStartInfo(command) { RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync();
        double peak = 0;
        while (!process.HasExited)
        {
            peak = Math.Max(peak, TreeRssMib(process.Id));
            await Task.Delay(20);
        }

        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} failed: {await error}");
        }

        return (peak, ChildrenCpuSeconds() - before);
    }

    private static double ChildrenCpuSeconds()
    {
        // /proc/self/stat fields 16 and 17: cutime and cstime of waited-for children, in clock ticks (100 Hz).
        var fields = File.ReadAllText("/proc/self/stat").Split(')')[1].Split(' ', StringSplitOptions.RemoveEmptyEntries);
        return (long.Parse(fields[13], CultureInfo.InvariantCulture) + long.Parse(fields[14], CultureInfo.InvariantCulture)) / 100.0;
    }

    private static double TreeRssMib(int pid)
    {
        var total = ReadStatusMib(pid, "VmRSS:") ?? 0;
        try
        {
            foreach (var child in File.ReadAllText($"/proc/{pid}/task/{pid}/children").Split(' ', StringSplitOptions.RemoveEmptyEntries))
            {
                total += TreeRssMib(int.Parse(child, CultureInfo.InvariantCulture));
            }
        }
        catch (IOException)
        {
        }

        return total;
    }

    private static string? Which(string tool) =>
        Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    private static double? ReadStatusMib(int pid, string field)
    {
        try
        {
            var line = File.ReadLines($"/proc/{pid}/status").FirstOrDefault(l => l.StartsWith(field, StringComparison.Ordinal));
            return line is null ? null : double.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024;
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static async Task<bool> SameBytesAsync(string a, string b)
    {
        await using var x = File.OpenRead(a);
        await using var y = File.OpenRead(b);
        if (x.Length != y.Length)
        {
            return false;
        }

        var bx = new byte[1 << 20];
        var by = new byte[1 << 20];
        int read;
        while ((read = await x.ReadAsync(bx)) > 0)
        {
            await y.ReadExactlyAsync(by.AsMemory(0, read));
            if (!bx.AsSpan(0, read).SequenceEqual(by.AsSpan(0, read)))
            {
                return false;
            }
        }

        return true;
    }

    internal static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    internal sealed record PhaseResult(string Id, double Seconds, double CpuSeconds, double PeakRssMib, string Note);

    private sealed class DiscardTarget : IRestoreTarget
    {
        public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default) =>
            await source.CopyToAsync(Stream.Null, cancellationToken);
    }
}
