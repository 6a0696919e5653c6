using System.Text;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.Tests.Storage;

/// <summary>
/// The contract every storage provider keeps. A provider's test class derives from this and supplies a fresh provider;
/// the same suite runs against local disk here and against real S3 in the S3 package's tests.
/// </summary>
public abstract class StorageProviderConformanceTests
{
    protected abstract IStorageProvider Provider { get; }

    [Fact]
    public async Task CommittedObject_ReadsBackExactly()
    {
        var content = RandomBytes(3 * 1024 * 1024 + 5);
        await WriteAsync("a/b/object", content);

        Assert.Equal(content, await ReadAsync("a/b/object"));
        var info = await Provider.StatAsync("a/b/object");
        Assert.Equal(content.Length, info!.Size);
    }

    [Fact]
    public async Task UncommittedWrite_IsInvisible_AndAbortLeavesNothing()
    {
        var writer = await Provider.OpenWriteAsync("pending/object");
        await writer.WriteAsync(RandomBytes(100_000));

        Assert.Null(await Provider.StatAsync("pending/object"));
        Assert.Empty(await Provider.ListAsync("pending/").ToListAsync());
        await Assert.ThrowsAsync<StorageObjectNotFoundException>(() => Provider.OpenReadAsync("pending/object").AsTask());

        await writer.DisposeAsync();
        Assert.Empty(await Provider.ListAsync("").ToListAsync());
    }

    [Fact]
    public async Task Commit_NeverOverwritesUnlessAsked()
    {
        await WriteAsync("k", "first"u8.ToArray());
        await using (var writer = await Provider.OpenWriteAsync("k"))
        {
            await writer.WriteAsync("second"u8.ToArray());
            await Assert.ThrowsAsync<StorageObjectExistsException>(() => writer.CommitAsync().AsTask());
        }

        Assert.Equal("first", Encoding.ASCII.GetString(await ReadAsync("k")));
        await WriteAsync("k", "third"u8.ToArray(), overwrite: true);
        Assert.Equal("third", Encoding.ASCII.GetString(await ReadAsync("k")));
    }

    [Fact]
    public async Task RangeRead_ReturnsExactlyTheRange()
    {
        var content = RandomBytes(10_000);
        await WriteAsync("r", content);

        Assert.Equal(content[100..1100], await ReadAsync("r", new ByteRange(100, 1000)));
        Assert.Equal(content[9_000..], await ReadAsync("r", new ByteRange(9_000)));
        Assert.Empty(await ReadAsync("r", new ByteRange(20_000, 10)));
    }

    [Fact]
    public async Task List_ByPrefix_InOrdinalOrder()
    {
        foreach (var key in new[] { "p/b/2", "p/a/1", "p/ab", "q/1", "p/a/0" })
        {
            await WriteAsync(key, [1]);
        }

        Assert.Equal(["p/a/0", "p/a/1", "p/ab", "p/b/2"], (await Provider.ListAsync("p/").ToListAsync()).Select(o => o.Key));
        Assert.Equal(["p/a/0", "p/a/1", "p/ab"], (await Provider.ListAsync("p/a").ToListAsync()).Select(o => o.Key));
        Assert.Empty(await Provider.ListAsync("none/").ToListAsync());
    }

    [Fact]
    public async Task Delete_ReportsWhetherSomethingWasDeleted()
    {
        await WriteAsync("d/x", [1, 2]);

        Assert.True(await Provider.DeleteAsync("d/x"));
        Assert.False(await Provider.DeleteAsync("d/x"));
        Assert.Null(await Provider.StatAsync("d/x"));
    }

    [Fact]
    public async Task PutIfAbsent_ExactlyOneConcurrentCallerWins()
    {
        for (var round = 0; round < 40; round++)
        {
            var key = $"leases/job-{round}";
            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var racers = Enumerable.Range(0, 6).Select(i => Task.Run(async () =>
            {
                await gate.Task;
                return await Provider.PutIfAbsentAsync(key, Encoding.ASCII.GetBytes("owner-" + i));
            })).ToArray();
            gate.SetResult();
            var results = await Task.WhenAll(racers);

            Assert.Single(results, r => r);
            Assert.Equal("owner-" + Array.IndexOf(results, true), Encoding.ASCII.GetString(await ReadAsync(key)));
        }
    }

    [Fact]
    public async Task RacingCommits_ToOneKey_NeverReplaceTheFirst()
    {
        for (var round = 0; round < 20; round++)
        {
            var key = $"race/object-{round}";
            var writers = new List<IStorageWriter>();
            for (var i = 0; i < 4; i++)
            {
                var writer = await Provider.OpenWriteAsync(key);
                await writer.WriteAsync(Encoding.ASCII.GetBytes("writer-" + i));
                writers.Add(writer);
            }

            var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var commits = writers.Select(w => Task.Run(async () =>
            {
                await gate.Task;
                try
                {
                    await w.CommitAsync();
                    return true;
                }
                catch (StorageObjectExistsException)
                {
                    return false;
                }
            })).ToArray();
            gate.SetResult();
            var won = await Task.WhenAll(commits);
            foreach (var writer in writers)
            {
                await writer.DisposeAsync();
            }

            Assert.Single(won, w => w);
            Assert.Equal("writer-" + Array.IndexOf(won, true), Encoding.ASCII.GetString(await ReadAsync(key)));
        }
    }

    [Theory]
    [InlineData("")]
    [InlineData("/etc/passwd")]
    [InlineData("../outside")]
    [InlineData("a/../../outside")]
    [InlineData("a/./b")]
    [InlineData("a//b")]
    [InlineData("a/")]
    [InlineData("a\\b")]
    [InlineData("a/.hmb-tmp-x")]
    [InlineData("a\0b")]
    public async Task InvalidKeys_AreRejected(string key)
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Provider.OpenWriteAsync(key).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => Provider.OpenReadAsync(key).AsTask());
        await Assert.ThrowsAsync<ArgumentException>(() => Provider.DeleteAsync(key).AsTask());
    }

    [Fact]
    public async Task UnicodeKeys_AndEmptyObjects_RoundTrip()
    {
        string[] keys = ["unicode/Ünïcødé résumé.pdf", "unicode/日本語/ファイル", "unicode/emoji-🩺-note", "unicode/space and +plus=equals&amp"];
        foreach (var key in keys)
        {
            await WriteAsync(key, System.Text.Encoding.UTF8.GetBytes(key));
        }

        await WriteAsync("empty/object", []);

        foreach (var key in keys)
        {
            Assert.Equal(key, System.Text.Encoding.UTF8.GetString(await ReadAsync(key)));
        }

        Assert.Equal(keys.Order(StringComparer.Ordinal), await Provider.ListAsync("unicode/").Select(i => i.Key).ToListAsync());
        Assert.Empty(await ReadAsync("empty/object"));
        Assert.Equal(0, (await Provider.StatAsync("empty/object"))!.Size);
    }

    [Fact]
    public async Task CancelledWrite_LeavesNothing()
    {
        using var cancel = new CancellationTokenSource();
        var writer = await Provider.OpenWriteAsync("cancelled/object");
        await writer.WriteAsync(RandomBytes(7 * 1024 * 1024));
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => writer.CommitAsync(cancel.Token).AsTask());
        await writer.DisposeAsync();

        Assert.Null(await Provider.StatAsync("cancelled/object"));
        Assert.Empty(await Provider.ListAsync("cancelled/").ToListAsync());
    }

    [Fact]
    public async Task MissingObject_IsNotFound()
    {
        var error = await Assert.ThrowsAsync<StorageObjectNotFoundException>(() => Provider.OpenReadAsync("missing/object").AsTask());
        Assert.Equal("missing/object", error.Key);
        Assert.False(error.IsTransient);
    }

    protected static byte[] RandomBytes(int length)
    {
        var bytes = new byte[length];
        Random.Shared.NextBytes(bytes);
        return bytes;
    }

    protected async Task WriteAsync(string key, byte[] content, bool overwrite = false)
    {
        await using var writer = await Provider.OpenWriteAsync(key, new StorageWriteOptions { Overwrite = overwrite });
        for (var offset = 0; offset < content.Length; offset += 100_000)
        {
            await writer.WriteAsync(content.AsMemory(offset, Math.Min(100_000, content.Length - offset)));
        }

        await writer.CommitAsync();
    }

    protected async Task<byte[]> ReadAsync(string key, ByteRange? range = null)
    {
        await using var stream = await Provider.OpenReadAsync(key, range);
        using var output = new MemoryStream();
        await stream.CopyToAsync(output);
        return output.ToArray();
    }
}
