using System.Security.Cryptography;
using HealthMate.Backup.Encryption;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Retention;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Storage.Replication;
using HealthMate.Backup.Tests.FaultHost;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Xunit.Abstractions;

namespace HealthMate.Backup.Tests.Reliability;

/// <summary>
/// The fault-injection suite's kill -9 part (issue 13). Real processes back up, archive WAL and prune into a local
/// store with a replica (another folder, as another region), and are killed with SIGKILL at exact storage operations,
/// spread over source streaming, data commit, manifest commit, replica copy, WAL push and prune, and at timed moments.
/// After every phase a checker lists every backup and restores each byte for byte, finds no manifest without its data,
/// and fetches every acknowledged WAL segment; the replica is repaired and restored from alone. Acknowledged items lost
/// and false successes must both be zero.
/// </summary>
[Collection(KillNineCollection.Name)]
public sealed class KillNineTests(ITestOutputHelper output) : IDisposable
{
    private const string SystemId = "7400000000000000001";
    private const int Small = 100 * 1024;
    private const int Large = 6 * 1024 * 1024;
    private readonly string _work = Directory.CreateTempSubdirectory("hmb-kill9-").FullName;
    private readonly byte[] _key = RandomNumberGenerator.GetBytes(32);
    private readonly Dictionary<string, int> _kills = new(StringComparer.Ordinal);
    private readonly HashSet<string> _ackedBackups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, byte[]> _ackedWal = new(StringComparer.Ordinal);
    private int _seed;

    private string Store => Path.Combine(_work, "store");

    private string Replica => Path.Combine(_work, "replica");

    public void Dispose() => Directory.Delete(_work, recursive: true);

    [Fact]
    public async Task BackupsPushesAndPrunes_KilledAtEveryStage_LoseNothingAcknowledged_AndLeaveNoManifestWithoutData()
    {
        // Backups, killed while the source streams, at the data commit, at the manifest commit, and while copying to the replica.
        foreach (var size in new[] { Small, Large })
        {
            foreach (var point in new[] { "commit:/data:1", "committed:/data:1", "commit:/manifest.json:1", "committed:/manifest.json:1" })
            {
                await BackupAsync(point.Contains("manifest", StringComparison.Ordinal) ? "manifest commit" : "data commit", size, point);
            }

            foreach (var point in new[] { "read:/data:1", "replica-write:/data:1", "replica-commit:/data:1", "replica-committed:/data:1", "replica-commit:/manifest.json:1", "replica-committed:/manifest.json:1" })
            {
                await BackupAsync("replica copy", size, point);
            }
        }

        // The data object is written in 1 MiB encrypted segments as the source streams (the header first).
        foreach (var occurrence in new[] { 1, 2, 4, 6 })
        {
            await BackupAsync("source streaming", Large, $"write:/data:{occurrence}");
        }

        foreach (var occurrence in new[] { 9, 17, 24 })
        {
            await BackupAsync("source streaming", 24 * 1024 * 1024, $"write:/data:{occurrence}");
        }

        foreach (var milliseconds in new[] { 150, 300, 450, 600, 800, 1000 })
        {
            await BackupAsync("source streaming (timed)", 24 * 1024 * 1024, killAfter: TimeSpan.FromMilliseconds(milliseconds));
        }

        for (var i = 0; i < 3; i++)
        {
            await BackupAsync(null, Small);
        }

        await CheckAsync();

        // WAL pushes, killed at every step; PostgreSQL then retries the push, which must be acknowledged.
        var segment = 0x10;
        foreach (var size in new[] { 64 * 1024, 512 * 1024, 2 * 1024 * 1024 })
        {
            foreach (var point in new[] { "write:wal/:1", "commit:wal/:1", "committed:wal/:1", "commit:.manifest.json:1", "committed:.manifest.json:1", "stat:wal/:1", "replica-commit:.manifest.json:1", "replica-committed:.manifest.json:1" })
            {
                await PushAsync(segment++, size, point);
            }
        }

        // A retried push of an archived segment reads its data back to check it: killed there too.
        await PushAsync(segment++, 64 * 1024, null);
        await PushAsync(segment - 1, 64 * 1024, "read:wal/:2");
        foreach (var milliseconds in new[] { 100, 250, 400 })
        {
            await PushAsync(segment++, 16 * 1024 * 1024, null, TimeSpan.FromMilliseconds(milliseconds));
        }

        await CheckAsync();

        // Prunes (keep the 3 newest stream backups), killed between deletes on the primary and on the replica.
        foreach (var point in new[] { "delete:/manifest.json:1", "delete:/data:1", "delete:/manifest.json:3", "delete:/data:4", "replica-delete:/manifest.json:1", "replica-delete:/data:2" })
        {
            await PruneAsync(point);
            await BackupAsync(null, Small); // more backups keep the next prune busy
            await BackupAsync(null, Small);
        }

        var final = await FaultHostProcess.RunAsync(_key, ["prune", Store, Replica]);
        Assert.True(final.Acknowledged, final.Error);
        await CheckAsync(expectPruned: true);
        await CheckOrphanCleanupAsync();

        var kills = _kills.Values.Sum();
        var summary = string.Join(", ", _kills.OrderBy(k => k.Key, StringComparer.Ordinal).Select(k => $"{k.Key} {k.Value}"));
        output.WriteLine($"kill -9: {kills} kills ({summary}); {_ackedBackups.Count} backups and {_ackedWal.Count} WAL segments acknowledged; 0 lost; 0 false successes");
        FaultCounts.Write("kill-9", $"{kills} kills ({summary}); acknowledged: {_ackedBackups.Count} backups, {_ackedWal.Count} WAL segments; lost 0; false successes 0");
        Assert.True(kills >= 50, $"only {kills} kills happened: {summary}");
    }

    private async Task BackupAsync(string? stage, int size, string? pause = null, TimeSpan? killAfter = null)
    {
        var seed = ++_seed;
        var run = await FaultHostProcess.RunAsync(_key, ["backup", Store, Replica, $"{seed}", $"{size}"], pause, killAfter);
        Record(stage, run);
        if (run.Acknowledged)
        {
            _ackedBackups.Add(run.Line!.Split(' ')[2]);
        }
    }

    private async Task PushAsync(int number, int size, string? pause, TimeSpan? killAfter = null)
    {
        var name = $"0000000100000000000000{number:X2}";
        var file = Path.Combine(_work, name);
        var content = Payload.Create(number, size);
        await File.WriteAllBytesAsync(file, content);
        var run = await FaultHostProcess.RunAsync(_key, ["push", Store, Replica, file, SystemId], pause, killAfter);
        Record(killAfter is not null ? "WAL push (timed)" : pause is null ? null : "WAL push", run);

        // PostgreSQL keeps the file and calls archive_command again until it is acknowledged.
        while (!run.Acknowledged)
        {
            Assert.True(run.Killed, $"a push failed without being killed: {run.Error}");
            run = await FaultHostProcess.RunAsync(_key, ["push", Store, Replica, file, SystemId]);
        }

        _ackedWal[name] = content;
    }

    private async Task PruneAsync(string pause)
    {
        var run = await FaultHostProcess.RunAsync(_key, ["prune", Store, Replica], pause);
        Record("prune", run);
    }

    private void Record(string? stage, FaultHostRun run)
    {
        if (run.Killed)
        {
            Assert.NotNull(stage);
            _kills[stage] = _kills.GetValueOrDefault(stage) + 1;
        }
        else
        {
            Assert.True(run.Acknowledged, $"a run neither killed nor acknowledged (exit {run.ExitCode}): {run.Error}");
            Assert.True(stage is null || stage.EndsWith("(timed)", StringComparison.Ordinal), $"the pause point of a '{stage}' run was never reached: {run.Line}");
        }
    }

    /// <summary>Every backup listed restores byte for byte from its name's seed and size; every acknowledged one is
    /// listed (before any prune); no manifest lacks its data; every acknowledged WAL segment fetches whole; and after a
    /// repair the replica alone gives the same.</summary>
    private async Task CheckAsync(bool expectPruned = false)
    {
        foreach (var root in new[] { Store, Replica })
        {
            if (root == Replica)
            {
                // Before any repair: whatever the kills cut short, the replica never holds a manifest without its data.
                using (var before = Host(Replica))
                {
                    await ArchiveInvariants.AssertNoManifestWithoutDataAsync(before.Services);
                }

                await RepairReplicaAsync();
            }

            using var host = Host(root);
            var entries = await host.Catalog.ListEntriesAsync().ToListAsync();
            Assert.All(entries, e => Assert.True(e.IsValid, $"{e.ManifestKey}: {e.Problem}"));
            foreach (var manifest in entries.Select(e => e.Manifest!))
            {
                int Tag(string name) => int.Parse(manifest.Tags!.Single(t => t.StartsWith(name + ":", StringComparison.Ordinal))[(name.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
                Assert.Equal(Payload.Create(Tag("seed"), Tag("size")), await host.RestoreBytesAsync(manifest.BackupId));
            }

            var listed = entries.Select(e => e.BackupId).ToHashSet(StringComparer.Ordinal);
            if (expectPruned)
            {
                // Retention keeps the 3 newest; a prune killed between the primary and the replica leaves the replica
                // an older backup more (whole, and restorable, as checked above).
                var newest = _ackedBackups.Order(StringComparer.Ordinal).TakeLast(3).ToHashSet(StringComparer.Ordinal);
                Assert.Subset(listed, newest);
                Assert.True(root == Replica || listed.Count == 3, $"{root} lists {listed.Count} backups after the prune");
            }
            else
            {
                Assert.Subset(listed, _ackedBackups.ToHashSet(StringComparer.Ordinal));
            }

            await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
            var archive = host.Services.GetRequiredService<WalArchive>();
            foreach (var (name, content) in _ackedWal)
            {
                var fetched = Path.Combine(_work, "fetched");
                Assert.True(await archive.FetchAsync(name, fetched, new WalArchiveOptions { SystemIdentifier = SystemId }), $"acknowledged WAL {name} is not in {root}");
                Assert.Equal(content, await File.ReadAllBytesAsync(fetched));
            }
        }
    }

    private async Task RepairReplicaAsync()
    {
        using var primary = Host(Store);
        using var replica = Host(Replica);
        await using var replicated = new ReplicatingStorageProvider(primary.Storage, [replica.Storage]);
        await replicated.RepairAsync();
        Assert.True((await replicated.VerifyAsync()).IsConsistent);
    }

    /// <summary>What the kills left without a manifest is invisible, and retention removes it once past its grace
    /// period (two days on, by this host's clock and by the storage's: its newest object is dated then) without
    /// touching anything a manifest names.</summary>
    private async Task CheckOrphanCleanupAsync()
    {
        var later = DateTimeOffset.UtcNow.AddDays(2);
        var time = new FakeTimeProvider(later);
        using var host = Host(Store, time);
        var newest = host.AllFiles().Where(f => f.EndsWith("manifest.json", StringComparison.Ordinal)).Order(StringComparer.Ordinal).Last();
        File.SetLastWriteTimeUtc(host.PathOf(newest), later.UtcDateTime);
        var retention = host.Services.GetRequiredService<IBackupRetention>();
        var plan = await retention.PlanAsync();
        var result = await retention.ApplyAsync();
        output.WriteLine($"left by the kills and removed by retention after the grace period: {result.DeletedIncompleteUploads} objects no manifest names ({plan.IncompleteUploads.Count} planned), {result.AbandonedWritesRemoved} temporary files");
        await ArchiveInvariants.AssertNoManifestWithoutDataAsync(host.Services);
        Assert.Equal(3, (await host.Catalog.ListAsync().ToListAsync()).Count);
        var walData = host.AllFiles().Where(f => f.StartsWith("wal/", StringComparison.Ordinal) && !f.EndsWith(".manifest.json", StringComparison.Ordinal)).ToList();
        Assert.True(walData.Count == _ackedWal.Count, $"{walData.Count} WAL data objects for {_ackedWal.Count} archived segments: {string.Join(", ", walData)}");
    }

    private TestHost Host(string root, TimeProvider? time = null) => new(
        o =>
        {
            o.Encryption.Keys.Add(new BackupKeyOptions { Id = "fault", Base64 = Convert.ToBase64String(_key) });
            o.Encryption.ActiveKeyId = "fault";
            o.Retention.Kinds["stream"] = new RetentionPolicy { KeepLast = 3 };
        },
        root,
        services: s =>
        {
            s.AddBackupDR().AddPostgreSql();
            if (time is not null)
            {
                s.AddSingleton(time);
            }
        },
        keepRoot: true);
}

/// <summary>The kill -9 suite starts about a hundred processes: it runs alone, after the parallel tests, so that its load
/// does not bend the timing of the failover drills running beside it on two cores.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class KillNineCollection
{
    internal const string Name = "kill-9";
}
