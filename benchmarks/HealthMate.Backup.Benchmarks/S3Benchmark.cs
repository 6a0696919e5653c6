using System.Diagnostics;
using System.Globalization;
using Amazon.S3.Model;
using Amazon.S3.Transfer;
using HealthMate.Backup.S3;
using HealthMate.Backup.Storage;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Benchmarks;

/// <summary>
/// <c>e2e --s3</c>: the 1 GiB corpus uploaded to and downloaded from a throwaway Ceph RGW (scripts/ceph-rgw.sh, kept
/// in /tmp/hm-rgw-bench, made fresh for each run) through the S3 provider, beside the SDK's TransferUtility and Debian's rclone
/// with the same part size (16 MiB) and concurrency (4); then a whole backup and restore through the pipeline to S3.
/// Each HealthMate and TransferUtility phase runs in its own process, so each reports its own peak RSS.
/// </summary>
internal static class S3Benchmark
{
    private const string Cluster = "/tmp/hm-rgw-bench";
    private const string Key = "bench/corpus";

    internal static async Task<int> RunAsync(string[] args, string corpus, string work)
    {
        // A fresh cluster each run: every run writes about 8 GB, and a full OSD stops taking writes.
        await RunAsync("stop");
        await RunAsync("start");

        foreach (var (name, value) in File.ReadAllLines(Path.Combine(Cluster, "env")).Select(l => l.Split('=', 2)).Select(p => (p[0], p[1])))
        {
            Environment.SetEnvironmentVariable(name, value);
        }

        var bucket = $"bench-{DateTime.UtcNow:yyyyMMddHHmmss}";
        Environment.SetEnvironmentVariable("HM_S3_BUCKET", bucket);
        using (var client = S3StorageProvider.CreateClient(Options(bucket)))
        {
            await client.PutBucketAsync(new PutBucketRequest { BucketName = bucket });
        }

        EndToEnd.PrepareWork(work);
        var bytes = new FileInfo(corpus).Length;
        Console.WriteLine($"corpus {corpus} {bytes / 1048576.0:F0} MiB; RGW {Environment.GetEnvironmentVariable("S3_ENDPOINT")} (bluestore on a sparse file); parts 16 MiB, 4 in flight; {Environment.ProcessorCount} cores");
        string[] common = ["--work", work, "--warmup-corpus", corpus, "--corpus", corpus, .. (EndToEnd.Option(args, "--warmup-mib") is { } w ? new[] { "--warmup-mib", w } : ["--warmup-mib", "256"])];
        var rows = new List<string>();
        var remote = $"rgw:{bucket}";
        for (var round = 1; round <= 2; round++)
        {
            rows.Add($"round {round}");
            rows.Add(EndToEnd.Row("HealthMate S3 provider upload", bytes, await EndToEnd.Self(["phase", "s3-upload", .. common])));
            rows.Add(EndToEnd.Row("HealthMate S3 provider download", bytes, await EndToEnd.Self(["phase", "s3-download", .. common])));
            rows.Add(EndToEnd.Row("TransferUtility upload", bytes, await EndToEnd.Self(["phase", "s3-tu-upload", .. common])));
            rows.Add(EndToEnd.Row("TransferUtility download (to a file)", bytes, await EndToEnd.Self(["phase", "s3-tu-download", .. common])));
            if (File.Exists("/usr/bin/rclone"))
            {
                rows.Add(EndToEnd.Row("rclone copyto (upload)", bytes, await EndToEnd.Tool("env", [.. RcloneEnv(), "rclone", "copyto", corpus, $"{remote}/rclone/corpus", "--s3-chunk-size", "16M", "--s3-upload-concurrency", "4", "--s3-upload-cutoff", "16M", "--ignore-times"])));
                rows.Add(EndToEnd.Row("rclone cat > /dev/null (download)", bytes, await EndToEnd.Tool("bash", "-c", $"env {string.Join(' ', RcloneEnv())} rclone cat {remote}/rclone/corpus > /dev/null")));
            }

            var backup = await EndToEnd.Self(["phase", "s3-backup", .. common]);
            rows.Add(EndToEnd.Row("HealthMate backup to S3 (zstd-1, AES)", bytes, backup));
            rows.Add(EndToEnd.Row("HealthMate restore from S3 (verified, to nowhere)", bytes, await EndToEnd.Self(["phase", "s3-restore", "--id", backup.Id, .. common])));
        }

        Console.WriteLine();
        Console.WriteLine($"{"run",-60} {"MB/s",6} {"seconds",8} {"CPU s",7} {"peak RSS",9}");
        rows.ForEach(Console.WriteLine);
        return 0;
    }

    /// <summary>One measured phase, in its own process; the S3 connection comes from the environment.</summary>
    internal static async Task<(string Id, string Note)> RunPhaseAsync(string phase, string corpus, string work, ServiceProvider warmProvider)
    {
        var bucket = Environment.GetEnvironmentVariable("HM_S3_BUCKET")!;
        var options = Options(bucket);
        switch (phase)
        {
            case "s3-upload":
            {
                using var provider = new S3StorageProvider(options);
                await using var writer = await provider.OpenWriteAsync(Key, new StorageWriteOptions { Overwrite = true });
                await using var file = new FileStream(corpus, FileMode.Open, FileAccess.Read, FileShare.Read, 0);
                var buffer = new byte[1024 * 1024];
                int read;
                while ((read = await file.ReadAsync(buffer)) > 0)
                {
                    await writer.WriteAsync(buffer.AsMemory(0, read));
                }

                await writer.CommitAsync();
                return (string.Empty, string.Empty);
            }

            case "s3-download":
            {
                using var provider = new S3StorageProvider(options);
                await using var stream = await provider.OpenReadAsync(Key);
                await stream.CopyToAsync(Stream.Null, 1024 * 1024);
                return (string.Empty, string.Empty);
            }

            case "s3-tu-upload":
            {
                using var client = S3StorageProvider.CreateClient(options);
                using var transfer = new TransferUtility(client, new TransferUtilityConfig { ConcurrentServiceRequests = 4 });
                await transfer.UploadAsync(new TransferUtilityUploadRequest { BucketName = bucket, Key = Key + "-tu", FilePath = corpus, PartSize = 16 * 1024 * 1024 });
                return (string.Empty, string.Empty);
            }

            case "s3-tu-download":
            {
                using var client = S3StorageProvider.CreateClient(options);
                using var transfer = new TransferUtility(client, new TransferUtilityConfig { ConcurrentServiceRequests = 4 });
                var target = Path.Combine(work, "tu-download");
                await transfer.DownloadAsync(new TransferUtilityDownloadRequest { BucketName = bucket, Key = Key + "-tu", FilePath = target });
                File.Delete(target);
                return (string.Empty, string.Empty);
            }

            default:
            {
                var services = new ServiceCollection();
                services.AddBackupDR(o =>
                {
                    o.Encryption.ActiveKeyId = "bench";
                    o.Encryption.Keys.Add(new() { Id = "bench", EnvironmentVariable = "HM_BENCH_KEY" });
                }).AddS3Storage(o =>
                {
                    o.Bucket = options.Bucket;
                    o.ServiceUrl = options.ServiceUrl;
                    o.Compatibility = options.Compatibility;
                    o.AccessKeyId = options.AccessKeyId;
                    o.SecretAccessKey = options.SecretAccessKey;
                });
                await using var provider = services.BuildServiceProvider();
                if (phase == "s3-backup")
                {
                    var result = await provider.GetRequiredService<IBackupRunner>().RunAsync(BackupSources.FromFile(corpus));
                    return (result.BackupId, $"stored {result.Manifest.Data.StoredSize / 1048576.0:F0} MiB");
                }

                var id = Environment.GetCommandLineArgs().SkipWhile(a => a != "--id").Skip(1).First();
                await provider.GetRequiredService<IRestoreRunner>().RestoreAsync(id, RestoreTargets.ToStream(Stream.Null));
                return (id, string.Empty);
            }
        }
    }

    private static S3StorageOptions Options(string bucket) => new()
    {
        Bucket = bucket,
        ServiceUrl = Environment.GetEnvironmentVariable("S3_ENDPOINT"),
        Compatibility = S3Compatibility.S3Compatible,
        AccessKeyId = Environment.GetEnvironmentVariable("S3_ACCESS_KEY"),
        SecretAccessKey = Environment.GetEnvironmentVariable("S3_SECRET_KEY"),
        PartSize = 16 * 1024 * 1024,
        PartsInFlight = 4,
    };

    /// <summary>rclone's remote "rgw" from environment variables; Debian's rclone 1.60 fails at start while AWS_CA_BUNDLE is set.</summary>
    private static string[] RcloneEnv() =>
    [
        "-u", "AWS_CA_BUNDLE",
        "RCLONE_CONFIG_RGW_TYPE=s3", "RCLONE_CONFIG_RGW_PROVIDER=Ceph",
        $"RCLONE_CONFIG_RGW_ENDPOINT={Environment.GetEnvironmentVariable("S3_ENDPOINT")}",
        $"RCLONE_CONFIG_RGW_ACCESS_KEY_ID={Environment.GetEnvironmentVariable("S3_ACCESS_KEY")}",
        $"RCLONE_CONFIG_RGW_SECRET_ACCESS_KEY={Environment.GetEnvironmentVariable("S3_SECRET_KEY")}",
    ];

    /// <summary>scripts/ceph-rgw.sh on the benchmark's cluster, with a 20 GiB store (a run writes about 8 GB).</summary>
    private static Task RunAsync(string command) => ServiceScripts.RunAsync("bash", [ServiceScripts.Find("ceph-rgw.sh"), command], new Dictionary<string, string>
    {
        ["CEPH_RGW_DIR"] = Cluster,
        ["CEPH_STORE_BYTES"] = (20L * 1024 * 1024 * 1024).ToString(CultureInfo.InvariantCulture),
    });
}
