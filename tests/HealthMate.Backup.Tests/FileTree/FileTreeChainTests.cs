using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HealthMate.Backup.FileTree;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;

namespace HealthMate.Backup.Tests.FileTree;

/// <summary>For any sequence of tree changes with any mix of full, differential and incremental backups, restoring
/// point k gives exactly tree k: nothing deleted before k comes back, every change up to k is there.</summary>
public sealed class FileTreeChainTests
{
    [Property(MaxTest = 20, Arbitrary = [typeof(Generators)])]
    public bool RestoringPointK_GivesTreeK(ChainCase chain)
    {
        var work = Directory.CreateTempSubdirectory("hmb-chain-").FullName;
        try
        {
            var source = Path.Combine(work, "data");
            new FileTreeRoundTripTests.TreeSpec(chain.Seed, 25, Encrypted: true).Build(source);
            using var host = new TestHost();
            var restorer = host.Services.GetRequiredService<IFileTreeRestoreRunner>();
            var random = new Random(chain.Seed);
            var points = new List<(string Id, SortedDictionary<string, string> Tree)>();
            string? lastFull = null, last = null;
            foreach (var type in chain.Types)
            {
                if (points.Count > 0)
                {
                    Mutate(source, random);
                }

                var effective = lastFull is null ? BackupType.Full : type;
                var request = effective switch
                {
                    BackupType.Full => new BackupRequest(),
                    BackupType.Differential => new BackupRequest { Type = BackupType.Differential, ParentId = lastFull },
                    _ => new BackupRequest { Type = BackupType.Incremental, ParentId = last },
                };
                var backup = Sync.Run(() => host.Backups.RunAsync(BackupSources.FromFileTree(Options(source)), request).AsTask());
                last = backup.BackupId;
                lastFull = effective == BackupType.Full ? backup.BackupId : lastFull;
                points.Add((backup.BackupId, TreeSnapshot.Take(source)));
            }

            for (var k = 0; k < points.Count; k++)
            {
                var target = Path.Combine(work, $"restored-{k}");
                Sync.Run(() => restorer.RestoreAsync(points[k].Id, target).AsTask());
                if (!TreeSnapshot.Take(Path.Combine(target, "data")).SequenceEqual(points[k].Tree))
                {
                    return false;
                }

                if (Sync.Run(() => restorer.VerifyDeepAsync(points[k].Id).AsTask()).Failure is { } failure)
                {
                    throw failure;
                }
            }

            return true;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task UnchangedRerun_StoresNoFileData_AndNeedsItsChain()
    {
        var work = Directory.CreateTempSubdirectory("hmb-chain-").FullName;
        try
        {
            var source = Path.Combine(work, "data");
            new FileTreeRoundTripTests.TreeSpec(7, 30, Encrypted: true).Build(source);
            using var host = new TestHost(o => o.Encryption.Enabled = false);
            var full = await host.Backups.RunAsync(BackupSources.FromFileTree(Options(source)));
            var incremental = await host.Backups.RunAsync(BackupSources.FromFileTree(Options(source)), new BackupRequest { Type = BackupType.Incremental, ParentId = full.BackupId });

            Assert.Equal(full.Manifest.Properties["files.count"], incremental.Manifest.Properties["files.unchanged"]);
            Assert.True(incremental.Manifest.Data.PlaintextSize < 64 * 1024 + (int.Parse(full.Manifest.Properties["files.count"], System.Globalization.CultureInfo.InvariantCulture) * 1536), "an unchanged re-run stores only headers");
            var restorer = host.Services.GetRequiredService<IFileTreeRestoreRunner>();
            Assert.True((await restorer.VerifyDeepAsync(incremental.BackupId)).IsValid);

            // The incremental needs the full backup's archive for every unchanged file: without it, deep verify and
            // restore both fail, and the restore leaves no target behind.
            File.Delete(host.PathOf(full.Manifest.Data.Key));
            await Assert.ThrowsAnyAsync<Exception>(() => restorer.VerifyDeepAsync(incremental.BackupId).AsTask());
            var target = Path.Combine(work, "restored");
            await Assert.ThrowsAnyAsync<Exception>(() => restorer.RestoreAsync(incremental.BackupId, target).AsTask());
            Assert.False(Directory.Exists(target));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    [Fact]
    public async Task ChainPoint_SubsetByGlob_AndCompareContent()
    {
        var work = Directory.CreateTempSubdirectory("hmb-chain-").FullName;
        try
        {
            var source = Path.Combine(work, "data");
            Directory.CreateDirectory(Path.Combine(source, "uploads"));
            Directory.CreateDirectory(Path.Combine(source, "logs"));
            await File.WriteAllTextAsync(Path.Combine(source, "uploads", "a.pdf"), "a");
            await File.WriteAllTextAsync(Path.Combine(source, "logs", "b.txt"), "b");
            using var host = new TestHost();
            var restorer = host.Services.GetRequiredService<IFileTreeRestoreRunner>();
            var full = await host.Backups.RunAsync(BackupSources.FromFileTree(Options(source)));
            await File.WriteAllTextAsync(Path.Combine(source, "uploads", "c.pdf"), "c");
            var options = Options(source);
            options.CompareContent = true;
            var incremental = await host.Backups.RunAsync(BackupSources.FromFileTree(options), new BackupRequest { Type = BackupType.Incremental, ParentId = full.BackupId });
            Assert.Equal("2", incremental.Manifest.Properties["files.unchanged"]);

            var target = Path.Combine(work, "subset");
            await restorer.RestoreAsync(incremental.BackupId, target, new DirectoryRestoreOptions { IncludeGlobs = ["data/uploads/**"] });

            Assert.Equal(["data/uploads/a.pdf", "data/uploads/c.pdf"], Directory.GetFiles(target, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(target, f)).Order(StringComparer.Ordinal));
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static void Mutate(string root, Random random)
    {
        var files = Directory.GetFiles(root, "*", SearchOption.AllDirectories).Where(f => new FileInfo(f).LinkTarget is null).ToList();
        var folders = Directory.GetDirectories(root, "*", SearchOption.AllDirectories).Where(d => new DirectoryInfo(d).LinkTarget is null).Append(root).ToList();
        for (var i = random.Next(1, 6); i > 0; i--)
        {
            var file = files.Count > 0 ? files[random.Next(files.Count)] : null;
            switch (random.Next(5))
            {
                case 0:
                    var added = Path.Combine(folders[random.Next(folders.Count)], $"new-{random.Next(1_000_000)}.bin");
                    File.WriteAllBytes(added, Payloads.Create(random.Next(0, 20_000), random.Next(), 0));
                    files.Add(added);
                    break;
                case 1 when file is not null:
                    var content = File.ReadAllBytes(file);
                    if (content.Length > 0 && random.Next(2) == 0)
                    {
                        content[random.Next(content.Length)] ^= 0x5A; // same size, different content
                        File.WriteAllBytes(file, content);
                    }
                    else
                    {
                        File.AppendAllText(file, "more");
                    }

                    break;
                case 2 when file is not null:
                    File.Delete(file);
                    files.Remove(file);
                    break;
                case 3 when file is not null:
                    var moved = Path.Combine(folders[random.Next(folders.Count)], $"moved-{random.Next(1_000_000)}");
                    File.Move(file, moved);
                    files.Remove(file);
                    files.Add(moved);
                    break;
                case 4 when file is not null:
                    File.SetUnixFileMode(file, (UnixFileMode)(0b110_000_000 | random.Next(0b1_000_000)));
                    break;
            }
        }
    }

    private static FileTreeSourceOptions Options(string source)
    {
        var options = new FileTreeSourceOptions();
        options.Paths.Add(source);
        return options;
    }

    public sealed record ChainCase(int Seed, BackupType[] Types);

    public static class Generators
    {
        public static Arbitrary<ChainCase> Chains() =>
            (from seed in Gen.Choose(0, int.MaxValue - 1)
             from count in Gen.Choose(2, 6)
             from types in Gen.ArrayOf(Gen.Elements(BackupType.Full, BackupType.Differential, BackupType.Incremental), count)
             select new ChainCase(seed, types)).ToArbitrary();
    }
}
