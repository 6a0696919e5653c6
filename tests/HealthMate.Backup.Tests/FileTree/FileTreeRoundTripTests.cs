using FsCheck;
using FsCheck.Fluent;
using FsCheck.Xunit;
using HealthMate.Backup.FileTree;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.FileTree;

/// <summary>Random trees (nested folders, empty files and folders, symlinks, hard links, Unicode and long names) come back exactly.</summary>
public sealed class FileTreeRoundTripTests
{
    [Property(MaxTest = 40, Arbitrary = [typeof(Generators)])]
    public bool RandomTree_RoundTripsExactly(TreeSpec spec)
    {
        var work = Directory.CreateTempSubdirectory("hmb-tree-").FullName;
        try
        {
            var source = Path.Combine(work, "data");
            var hardLinks = spec.Build(source);
            using var host = new TestHost(o => o.Encryption.Enabled = spec.Encrypted);
            var backup = Sync.Run(() => host.Backups.RunAsync(BackupSources.FromFileTree(Options(source))).AsTask());
            var target = Path.Combine(work, "restored");
            Sync.Run(() => host.Restores.RestoreAsync(backup.BackupId, RestoreTargets.ToDirectory(target)).AsTask());

            var restoredRoot = Path.Combine(target, "data");
            var same = TreeSnapshot.Take(source).SequenceEqual(TreeSnapshot.Take(restoredRoot));
            var linksKept = hardLinks.All(pair =>
                FileStatus.TryGet(Path.Combine(restoredRoot, pair.Link), out var a) && FileStatus.TryGet(Path.Combine(restoredRoot, pair.Original), out var b) && a.Inode == b.Inode);
            var counted = backup.Manifest.Properties["files.count"] == spec.FileCount.ToString(System.Globalization.CultureInfo.InvariantCulture);
            return same && linksKept && counted;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static FileTreeSourceOptions Options(string source)
    {
        var options = new FileTreeSourceOptions();
        options.Paths.Add(source);
        return options;
    }

    /// <summary>A random tree: folders, files with random sizes, modes and times, symlinks and hard links.</summary>
    public sealed record TreeSpec(int Seed, int Entries, bool Encrypted)
    {
        internal int FileCount { get; private set; }

        internal List<(string Link, string Original)> Build(string root)
        {
            var random = new Random(Seed);
            var names = new[] { "a", "notes", "ñandú", "データ", "patient record", new string('L', 120), "x.tmp", "ümlaut-" + new string('é', 60) };
            var folders = new List<string> { string.Empty };
            var files = new List<string>();
            var hardLinks = new List<(string, string)>();
            Directory.CreateDirectory(root);
            for (var i = 0; i < Entries; i++)
            {
                var parent = folders[random.Next(folders.Count)];
                var name = names[random.Next(names.Length)] + i;
                var relative = parent.Length == 0 ? name : $"{parent}/{name}";
                var path = Path.Combine(root, relative);
                switch (random.Next(10))
                {
                    case < 3:
                        Directory.CreateDirectory(path);
                        folders.Add(relative);
                        break;
                    case < 8:
                        var content = new byte[random.Next(4) == 0 ? 0 : random.Next(1, 50_000)];
                        random.NextBytes(content);
                        File.WriteAllBytes(path, content);
                        File.SetUnixFileMode(path, (UnixFileMode)(0b110_000_000 | random.Next(0b1_000_000)));
                        File.SetLastWriteTimeUtc(path, new DateTime(2000, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddSeconds(random.Next(800_000_000)));
                        files.Add(relative);
                        FileCount++;
                        break;
                    case 8:
                        File.CreateSymbolicLink(path, random.Next(2) == 0 && files.Count > 0 ? Path.GetRelativePath(Path.GetDirectoryName(path)!, Path.Combine(root, files[random.Next(files.Count)])) : "/nonexistent/" + name);
                        break;
                    default:
                        if (files.Count > 0)
                        {
                            var original = files[random.Next(files.Count)];
                            HealthMate.Backup.FileTree.FileSystemNative.CreateHardLink(Path.Combine(root, original), path);
                            hardLinks.Add((relative, original));
                        }

                        break;
                }
            }

            // Folder times last, deepest first: creating entries changes a folder's time.
            foreach (var folder in folders.OrderByDescending(f => f.Length))
            {
                var path = Path.Combine(root, folder);
                File.SetUnixFileMode(path, (UnixFileMode)0b111_101_000);
                Directory.SetLastWriteTimeUtc(path, new DateTime(2010, 5, 6, 7, 8, 9, DateTimeKind.Utc).AddSeconds(random.Next(1_000_000)));
            }

            return hardLinks;
        }
    }

    public static class Generators
    {
        public static Arbitrary<TreeSpec> Trees() =>
            (from seed in Gen.Choose(0, int.MaxValue - 1)
             from entries in Gen.Choose(0, 40)
             from encrypted in Gen.Elements(true, false)
             select new TreeSpec(seed, entries, encrypted)).ToArbitrary();
    }
}
