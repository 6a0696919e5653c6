// HealthMate.Backup QuickStart: backs up generated records (or a folder, as a tar stream) to ./backups with a
// generated demo key, verifies the backup, restores it, compares SHA-256, and prints sizes, ratio and MB/s.
//
//   dotnet run --project samples/HealthMate.Backup.QuickStart -c Release                 # 256 MiB of generated records
//   dotnet run --project samples/HealthMate.Backup.QuickStart -c Release -- --size-mb 1024
//   dotnet run --project samples/HealthMate.Backup.QuickStart -c Release -- --path /usr/share/doc
using System.Diagnostics;
using System.Formats.Tar;
using System.Security.Cryptography;
using HealthMate.Backup;
using HealthMate.Backup.QuickStart;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

var settings = QuickStartSettings.Parse(args);
var keyBase64 = DemoKey.LoadOrCreate(settings.KeyFile);

var services = new ServiceCollection()
    .AddLogging(logging => logging.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
services.AddBackupDR(options =>
{
    options.Encryption.ActiveKeyId = "demo";
    options.Encryption.Keys.Add(new() { Id = "demo", Base64 = keyBase64 });
})
.AddLocalStorage(local => local.Path = Path.GetFullPath(settings.StoragePath));
await using var provider = services.BuildServiceProvider();

var backups = provider.GetRequiredService<IBackupRunner>();
var verifier = provider.GetRequiredService<IVerifyRunner>();
var restores = provider.GetRequiredService<IRestoreRunner>();

Console.WriteLine("HealthMate.Backup QuickStart");
Console.WriteLine($"  storage : {Path.GetFullPath(settings.StoragePath)} (local disk, zstd level 1, AES-256-GCM, {Environment.ProcessorCount} cores)");
Console.WriteLine($"  demo key: {Path.GetFullPath(settings.KeyFile)} (generated for this demo; keep real keys away from the backups)");

using var sourceHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
IBackupSource source = settings.FolderPath is { } folder
    ? BackupSources.Create("files", Path.GetFileName(Path.GetFullPath(folder)), async (destination, _, ct) =>
    {
        await using var hashing = new HashingWriteStream(destination, sourceHash);
        await TarFile.CreateFromDirectoryAsync(folder, hashing, includeBaseDirectory: false, ct);
    })
    : BackupSources.Create("demo", $"{settings.SizeMb} MiB of generated records", async (destination, _, ct) =>
    {
        await using var hashing = new HashingWriteStream(destination, sourceHash);
        await GeneratedRecords.WriteAsync(hashing, settings.SizeMb * 1024L * 1024L, ct);
    });
Console.WriteLine($"  source  : {source.Name}");

var clock = Stopwatch.StartNew();
var backup = await backups.RunAsync(source);
var backupSeconds = clock.Elapsed.TotalSeconds;
var data = backup.Manifest.Data;
Console.WriteLine($"backup  {backup.BackupId}: {Mib(data.PlaintextSize)} in -> {Mib(data.StoredSize)} stored " +
    $"(ratio {(double)data.PlaintextSize / Math.Max(1, data.StoredSize):F2}x, {100.0 * (1 - ((double)data.StoredSize / Math.Max(1, data.PlaintextSize))):F1}% saved) " +
    $"in {backupSeconds:F2} s = {MBps(data.PlaintextSize, backupSeconds)}");

clock.Restart();
var verification = await verifier.VerifyAsync(backup.BackupId, VerificationLevel.Full);
Console.WriteLine(verification.IsValid
    ? $"verify  passed: every segment authenticated, stored and plaintext SHA-256 match ({clock.Elapsed.TotalSeconds:F2} s)"
    : $"verify  FAILED: {verification.Failure!.Message}");

using var restoredHash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
clock.Restart();
var restore = await restores.RestoreAsync(backup.BackupId, new HashingTarget(restoredHash));
var restoreSeconds = clock.Elapsed.TotalSeconds;
var expected = Convert.ToHexStringLower(sourceHash.GetHashAndReset());
var actual = Convert.ToHexStringLower(restoredHash.GetHashAndReset());
Console.WriteLine($"restore {Mib(restore.BytesRestored)} in {restoreSeconds:F2} s = {MBps(restore.BytesRestored, restoreSeconds)}");
Console.WriteLine(expected == actual
    ? $"compare restored bytes equal the source: SHA-256 {actual}"
    : $"compare MISMATCH: source {expected}, restored {actual}");
Console.WriteLine("(a first run in a fresh process, which also generates and hashes its source; docs/performance.md has measured steady-state figures)");
return verification.IsValid && expected == actual ? 0 : 1;

static string Mib(long bytes) => $"{bytes / 1024.0 / 1024.0:F1} MiB";

static string MBps(long bytes, double seconds) => $"{bytes / 1e6 / Math.Max(seconds, 1e-9):F0} MB/s";
