using HealthMate.Backup.FileTree;
using HealthMate.Backup.Tests.Support;

namespace HealthMate.Backup.Tests.FileTree;

/// <summary>
/// The stock tar suites of Go's archive/tar and libarchive, read in place from ../shared/vectors/tar (see its SOURCE.md).
/// Every archive either restores or fails with a clear <see cref="DirectoryRestoreException"/>, and nothing is ever
/// written outside the target.
/// </summary>
public sealed class TarVectorTests
{
    private const string Folder = "tar";

    /// <summary>Archives Go and libarchive read, that restore here too, with a file whose content is checked where known.</summary>
    private static readonly Dictionary<string, (string? Path, string? Content)> Restores = new()
    {
        ["go-archive-tar/gnu.tar"] = ("small.txt", "Kilts"),
        ["go-archive-tar/star.tar"] = ("small2.txt", "Google.com\n"),
        ["go-archive-tar/v7.tar"] = ("small.txt", "Kilts"),
        ["go-archive-tar/ustar.tar"] = (null, null),
        ["go-archive-tar/pax.tar"] = (null, null),
        ["go-archive-tar/pax-records.tar"] = (null, null),
        ["go-archive-tar/pax-global-records.tar"] = (null, null),
        ["go-archive-tar/pax-pos-size-file.tar"] = (null, null),
        ["go-archive-tar/gnu-long-nul.tar"] = (null, null),
        ["go-archive-tar/gnu-utf8.tar"] = (null, null),
        ["go-archive-tar/gnu-not-utf8.tar"] = (null, null),
        ["go-archive-tar/nil-uid.tar"] = (null, null),
        ["go-archive-tar/xattrs.tar"] = (null, null),
        ["go-archive-tar/hardlink.tar"] = ("hard.txt", null),
        ["go-archive-tar/trailing-slash.tar"] = (null, null),
        ["go-archive-tar/ustar-file-devs.tar"] = (null, null),
        ["go-archive-tar/ustar-file-reg.tar"] = (null, null),
        ["go-archive-tar/file-and-dir.tar"] = (null, null),
        ["go-archive-tar/writer.tar"] = (null, null),
        ["libarchive/test_compat_gtar_1.tar"] = (null, null),
        ["libarchive/test_compat_gtar_2.tar"] = (null, null),
        ["libarchive/test_compat_tar_directory_1.tar"] = (null, null),
        ["libarchive/test_pax_filename_encoding.tar"] = (null, null),
        ["libarchive/test_read_format_tar_concatenated.tar"] = ("file1", null),
        ["libarchive/test_read_format_tar_empty_filename.tar"] = (null, null),
        ["libarchive/test_read_format_tar_timestamp_overflow.tar"] = ("tmp/f.txt", null),
    };

    /// <summary>Archives that must not restore: broken (as upstream says), hostile, sparse, or holding device nodes.</summary>
    private static readonly string[] Refused =
    [
        "go-archive-tar/pax-bad-hdr-file.tar", "go-archive-tar/pax-bad-mtime-file.tar", "go-archive-tar/pax-nul-xattrs.tar",
        "go-archive-tar/pax-nul-path.tar", "go-archive-tar/neg-size.tar", "go-archive-tar/issue10968.tar", "go-archive-tar/issue11169.tar",
        "go-archive-tar/pax-bad-hdr-large.tar.bz2", "go-archive-tar/sparse-formats.tar", "go-archive-tar/gnu-sparse-big.tar",
        "go-archive-tar/pax-sparse-big.tar", "go-archive-tar/gnu-nil-sparse-data.tar", "go-archive-tar/gnu-nil-sparse-hole.tar",
        "go-archive-tar/pax-nil-sparse-data.tar", "go-archive-tar/pax-nil-sparse-hole.tar", "go-archive-tar/gnu-incremental.tar",
        "go-archive-tar/hdr-only.tar", "go-archive-tar/writer-big.tar", "go-archive-tar/writer-big-long.tar",
        "go-archive-tar/small.txt", "go-archive-tar/small2.txt",
        "libarchive/test_read_format_tar_invalid_pax_size.tar", "libarchive/test_read_format_gtar_sparse_1_13.tar",
        "libarchive/test_read_format_gtar_sparse_1_17_posix10.tar", "libarchive/test_read_format_gtar_sparse_reuse.tar",

        // Its pax mtime is "1748089464.951928467a": libarchive ignores the trailing garbage; like Go, we refuse it.
        "libarchive/test_read_format_tar_pax_timestamps.tar",
    ];

    /// <summary>Valid for Go or libarchive, but System.Formats.Tar cannot read them (consecutive metadata headers, negative
    /// or unterminated pax values): a clear error, never a partial restore. Listed in docs/file-restore.md.</summary>
    private static readonly string[] ReaderLimitations =
    [
        "go-archive-tar/gnu-multi-hdrs.tar", "go-archive-tar/pax-multi-hdrs.tar", "go-archive-tar/invalid-go17.tar",
        "go-archive-tar/pax-path-hdr.tar", "libarchive/test_compat_tar_hardlink_1.tar", "libarchive/test_read_format_tar_pax_negative_time.tar",
        "libarchive/test_read_pax_empty_val_no_nl.tar", "libarchive/test_read_pax_xattr_schily.tar",
    ];

    [VectorsFact(Folder)]
    public async Task EveryVector_RestoresOrFailsClearly_AndNothingEscapesTheTarget()
    {
        var root = SharedVectors.Require(Folder);
        var all = Directory.GetFiles(root, "*", SearchOption.AllDirectories)
            .Select(f => Path.GetRelativePath(root, f).Replace(Path.DirectorySeparatorChar, '/'))
            .Where(f => !f.EndsWith(".md", StringComparison.Ordinal))
            .ToList();
        Assert.True(all.Count >= 60, $"expected the two suites, found {all.Count} files");

        foreach (var vector in all)
        {
            var sandbox = Directory.CreateTempSubdirectory("hmb-vector-").FullName;
            try
            {
                var target = Path.Combine(sandbox, "target");
                await using var stream = File.OpenRead(Path.Combine(root, vector));
                var error = await Record.ExceptionAsync(() => TarExtractor.ExtractAsync(stream, target, new DirectoryRestoreOptions(), CancellationToken.None));
                var entries = Directory.GetFileSystemEntries(sandbox);
                if (error is null)
                {
                    Assert.True(!Refused.Contains(vector) && !ReaderLimitations.Contains(vector), $"{vector} should not restore");
                    Assert.Equal([target], entries);
                    if (Restores.TryGetValue(vector, out var expected) && expected.Path is { } path)
                    {
                        Assert.True(File.Exists(Path.Combine(target, path)), $"{vector}: {path} missing");
                        if (expected.Content is { } content)
                        {
                            Assert.Equal(content, await File.ReadAllTextAsync(Path.Combine(target, path)));
                        }
                    }
                }
                else
                {
                    Assert.False(Restores.ContainsKey(vector), $"{vector} should restore but failed: {error.Message}");
                    Assert.IsType<DirectoryRestoreException>(error);
                    Assert.NotNull(error.InnerException);
                    Assert.Empty(entries);
                }
            }
            finally
            {
                Directory.Delete(sandbox, recursive: true);
            }
        }

        Assert.All(Restores.Keys.Concat(Refused).Concat(ReaderLimitations), v => Assert.Contains(v, all));
    }
}
