using HealthMate.Backup;
using HealthMate.Backup.PostgreSql;
using HealthMate.Backup.Retention;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Storage.Replication;
using HealthMate.Backup.Tests.FaultHost;
using Microsoft.Extensions.DependencyInjection;

// healthmate-fault-host COMMAND STORE REPLICA|- [arguments] [--pause SPEC]
//   backup STORE REPLICA SEED SIZE     backs up SIZE deterministic bytes of SEED (tags seed:SEED, size:SIZE); prints ACK backup ID
//   push STORE REPLICA FILE SYSTEM-ID  archives one WAL file; prints ACK wal NAME OUTCOME
//   prune STORE REPLICA                applies retention (stream backups: keep the last 3); prints ACK prune N
//   restore-tree STORE - ID TARGET     restores a file-tree backup into TARGET; prints ACK restore FILES
// The key comes from HM_FAULT_KEY (base64). Exit 0 when done; the tests kill it (SIGKILL) where it pauses.
//   failover STORE - LEASE-SECONDS     fails 'database' over by hand (servers from HM_FAULT_FAILOVER); prints PAUSED fence, then hangs
if (args is ["failover", var failoverStore, "-", var lease])
{
    return await FailoverCommand.RunAsync(failoverStore, lease);
}

var pause = PauseSpec.Parse(args.SkipWhile(a => a != "--pause").Skip(1).FirstOrDefault());
var positional = args.TakeWhile(a => a != "--pause").ToArray();
var (command, store, replicaPath) = (positional[0], positional[1], positional[2]);

var services = new ServiceCollection();
services.AddBackupDR(o =>
{
    o.Encryption.ActiveKeyId = "fault";
    o.Encryption.Keys.Add(new() { Id = "fault", EnvironmentVariable = "HM_FAULT_KEY" });
    o.Compression.BlockSize = HealthMate.Backup.Compression.CompressionOptions.MinBlockSize;
    o.Retention.Kinds["stream"] = new RetentionPolicy { KeepLast = 3 };
    o.Retention.Kinds["postgres-base"] = new RetentionPolicy { KeepLast = 1 };
}).AddLocalStorage(l => l.Path = store).AddPostgreSql();
services.AddKeyedSingleton<IStorageProvider>("faulty", (sp, _) =>
{
    var primary = new PausingStorage(sp.GetRequiredKeyedService<IStorageProvider>("local"), "primary", pause);
    return replicaPath == "-" ? primary : new ReplicatingStorageProvider(primary, [new PausingStorage(LocalProvider(replicaPath), "replica", pause)]);
});
services.PostConfigure<BackupDROptions>(o => o.Storage.Provider = "faulty");
await using var provider = services.BuildServiceProvider();

switch (command)
{
    case "backup":
        var (seed, size) = (int.Parse(positional[3], System.Globalization.CultureInfo.InvariantCulture), int.Parse(positional[4], System.Globalization.CultureInfo.InvariantCulture));
        // One group (kind and name) for retention; the tags say which payload it holds.
        var result = await provider.GetRequiredService<IBackupRunner>().RunAsync(
            BackupSources.Create("stream", "payload", async (destination, _, token) =>
            {
                var bytes = Payload.Create(seed, size);
                for (var offset = 0; offset < bytes.Length; offset += 64 * 1024)
                {
                    await destination.WriteAsync(bytes.AsMemory(offset, Math.Min(64 * 1024, bytes.Length - offset)), token);
                }
            }),
            new BackupRequest { Tags = [$"seed:{seed}", $"size:{size}"] });
        Console.WriteLine($"ACK backup {result.BackupId}");
        break;
    case "push":
        var pushed = await provider.GetRequiredService<WalArchive>().PushAsync(positional[3], new WalArchiveOptions { SystemIdentifier = positional[4] });
        Console.WriteLine($"ACK wal {pushed.FileName} {pushed.Outcome}");
        break;
    case "prune":
        var pruned = await provider.GetRequiredService<IBackupRetention>().ApplyAsync();
        Console.WriteLine($"ACK prune {pruned.DeletedBackups.Count + pruned.DeletedArchiveObjects}");
        break;
    case "restore-tree":
        var restored = await provider.GetRequiredService<HealthMate.Backup.FileTree.IFileTreeRestoreRunner>().RestoreAsync(positional[3], positional[4]);
        Console.WriteLine($"ACK restore {restored.Files}");
        break;
    default:
        Console.Error.WriteLine($"unknown command {command}");
        return 2;
}

return 0;

// A second local-disk provider (the replica), built through the public registration like the primary.
static IStorageProvider LocalProvider(string path)
{
    var replica = new ServiceCollection();
    replica.AddBackupDR(o =>
    {
        o.Encryption.ActiveKeyId = "fault";
        o.Encryption.Keys.Add(new() { Id = "fault", EnvironmentVariable = "HM_FAULT_KEY" });
    }).AddLocalStorage(l => l.Path = path);
    return replica.BuildServiceProvider().GetRequiredKeyedService<IStorageProvider>("local");
}
