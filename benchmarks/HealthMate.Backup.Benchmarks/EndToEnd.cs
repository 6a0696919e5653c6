using System.Diagnostics;
using System.Globalization;
using System.Security.Cryptography;
using HealthMate.Backup.Compression;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Benchmarks;

/// <summary>
/// Backs up and restores a real-file corpus (a tar of files, streamed <c>--repeat</c> times) through the whole
/// pipeline to local disk, and prints MB/s and peak RSS per phase; then runs <c>zstd -T2 -1</c> and
/// <c>restic</c> on the same data when they are installed.
/// </summary>
internal static class EndToEnd
{
    internal static async Task<int> RunAsync(string[] args)
    {
        var corpus = Option(args, "--corpus") ?? "/tmp/hm-corpus/files.tar";
        var repeat = int.Parse(Option(args, "--repeat") ?? "1", CultureInfo.InvariantCulture);
        var level = int.Parse(Option(args, "--level") ?? "1", CultureInfo.InvariantCulture);
        var encrypt = !args.Contains("--no-encrypt");
        var baselines = !args.Contains("--no-baselines");
        var work = Option(args, "--work") ?? Path.Combine(Path.GetTempPath(), "hm-e2e");
        if (!File.Exists(corpus))
        {
            Console.Error.WriteLine($"No corpus at {corpus}: run scripts/make-file-corpus.sh first.");
            return 2;
        }

        if (Directory.Exists(work))
        {
            Directory.Delete(work, recursive: true);
        }

        Directory.CreateDirectory(work);
        var inputBytes = new FileInfo(corpus).Length * repeat;
        Console.WriteLine($"corpus {corpus} x{repeat} = {inputBytes / 1048576.0:F0} MiB; zstd level {level}; encrypted {encrypt}; {Environment.ProcessorCount} cores; work {work}");

        var services = new ServiceCollection();
        services.AddBackupDR(o =>
        {
            o.Encryption.Enabled = encrypt;
            o.Encryption.ActiveKeyId = "bench";
            o.Encryption.Keys.Add(new() { Id = "bench", Base64 = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)) });
            o.Compression.Algorithm = CompressionAlgorithm.Zstd;
            o.Compression.Level = level;
        }).AddLocalStorage(l => l.Path = Path.Combine(work, "storage"));
        await using var provider = services.BuildServiceProvider();
        var backups = provider.GetRequiredService<IBackupRunner>();
        var restores = provider.GetRequiredService<IRestoreRunner>();

        var source = BackupSources.Create("files", Path.GetFileName(corpus), async (destination, _, ct) =>
        {
            for (var i = 0; i < repeat; i++)
            {
                await using var file = new FileStream(corpus, FileMode.Open, FileAccess.Read, FileShare.Read, 0, FileOptions.SequentialScan);
                await file.CopyToAsync(destination, 1024 * 1024, ct);
            }
        });

        var rows = new List<string>();
        ResetPeakRss();
        var clock = Stopwatch.StartNew();
        var backup = await backups.RunAsync(source);
        var backupSeconds = clock.Elapsed.TotalSeconds;
        var backupRss = PeakRssMib();
        var data = backup.Manifest.Data;
        rows.Add(Row("HealthMate backup (zstd-1, AES-256-GCM, local disk, fsync)", inputBytes, backupSeconds, backupRss, $"stored {data.StoredSize / 1048576.0:F0} MiB, ratio {(double)data.PlaintextSize / data.StoredSize:F2}"));

        ResetPeakRss();
        var restoredFile = Path.Combine(work, "restored.tar");
        clock.Restart();
        await restores.RestoreAsync(backup.BackupId, RestoreTargets.ToFile(restoredFile));
        var restoreSeconds = clock.Elapsed.TotalSeconds;
        rows.Add(Row("HealthMate restore to a file (verified, fsync)", inputBytes, restoreSeconds, PeakRssMib(), string.Empty));
        if (repeat == 1)
        {
            var same = await SameBytesAsync(corpus, restoredFile);
            rows.Add($"  restored file equals the corpus byte for byte: {same}");
            if (!same)
            {
                return 1;
            }
        }

        File.Delete(restoredFile);
        ResetPeakRss();
        clock.Restart();
        await restores.RestoreAsync(backup.BackupId, new DiscardTarget());
        rows.Add(Row("HealthMate restore to nowhere (pipeline only)", inputBytes, clock.Elapsed.TotalSeconds, PeakRssMib(), string.Empty));

        if (baselines && repeat == 1)
        {
            await Baseline(rows, "tar | zstd -T2 -1 > file", inputBytes, "bash", "-c", $"cat '{corpus}' | zstd -q -T2 -1 -c > '{work}/corpus.zst'");
            await Baseline(rows, "zstd -d -T2 > file", inputBytes, "bash", "-c", $"zstd -q -d -c '{work}/corpus.zst' > '{work}/corpus.out' && rm -f '{work}/corpus.out' '{work}/corpus.zst'");
            if (Which("restic") is not null)
            {
                Environment.SetEnvironmentVariable("RESTIC_PASSWORD", "benchmark-only");
                Environment.SetEnvironmentVariable("RESTIC_REPOSITORY", Path.Combine(work, "restic"));
                await Run("restic", "init", "-q");
                await Baseline(rows, "restic backup (file)", inputBytes, "restic", "backup", "-q", corpus);
                await Baseline(rows, "restic restore", inputBytes, "restic", "restore", "latest", "-q", "--target", Path.Combine(work, "restic-restore"));
            }
        }

        Console.WriteLine();
        Console.WriteLine($"{"run",-62} {"MB/s",8} {"seconds",8} {"peak RSS",10}");
        foreach (var row in rows)
        {
            Console.WriteLine(row);
        }

        Directory.Delete(work, recursive: true);
        return 0;
    }

    private static string Row(string name, long bytes, double seconds, double? rssMib, string note) =>
        $"{name,-62} {bytes / 1e6 / seconds,8:F0} {seconds,8:F2} {(rssMib is { } r ? $"{r:F0} MiB" : "-"),10}  {note}";

    private static async Task Baseline(List<string> rows, string name, long bytes, string command, params string[] arguments)
    {
        if (Which(command) is null)
        {
            rows.Add($"{name,-62} (not installed)");
            return;
        }

        var clock = Stopwatch.StartNew();
        var peak = await Run(command, arguments);
        rows.Add(Row(name, bytes, clock.Elapsed.TotalSeconds, peak, "(child process peak RSS)"));
    }

    private static async Task<double> Run(string command, params string[] arguments)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        double peak = 0;
        var error = process.StandardError.ReadToEndAsync();
        while (!process.HasExited)
        {
            peak = Math.Max(peak, ReadStatusMib(process.Id, "VmHWM:") ?? 0);
            await Task.Delay(50);
        }

        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{command} failed: {await error}");
        }

        return peak;
    }

    private static string? Which(string tool) =>
        Environment.GetEnvironmentVariable("PATH")!.Split(':').Select(d => Path.Combine(d, tool)).FirstOrDefault(File.Exists);

    /// <summary>Linux: writing 5 to clear_refs resets the peak RSS (VmHWM) so each phase reports its own.</summary>
    private static void ResetPeakRss()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }

    private static double? PeakRssMib() => ReadStatusMib(Environment.ProcessId, "VmHWM:");

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

    private static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private sealed class DiscardTarget : IRestoreTarget
    {
        public async ValueTask RestoreFromAsync(Stream source, RestoreContext context, CancellationToken cancellationToken = default) =>
            await source.CopyToAsync(Stream.Null, cancellationToken);
    }
}
