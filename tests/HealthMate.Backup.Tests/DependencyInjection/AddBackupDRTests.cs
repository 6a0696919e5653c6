using System.Text;
using HealthMate.Backup.Compression;
using HealthMate.Backup.Storage;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace HealthMate.Backup.Tests.DependencyInjection;

/// <summary>One call wires everything; configuration follows the product's shape; every mistake is reported at start-up.</summary>
public sealed class AddBackupDRTests
{
    private static readonly string KeyBase64 = Convert.ToBase64String(new byte[32]);

    [Fact]
    public void AddBackupDR_IsIdempotent()
    {
        var services = new ServiceCollection();
        services.AddBackupDR(o =>
        {
            AddKey(o);
            o.Storage.Local.Path = "/var/backups/never-written";
        });
        var count = services.Count;

        services.AddBackupDR();
        services.AddBackupDR(o => o.Retention.Days = 7);

        Assert.Equal(count + 1, services.Count); // only the second Configure is new
        using var provider = services.BuildServiceProvider();
        Assert.Single(provider.GetServices<IBackupRunner>());
        Assert.Equal(7, provider.GetRequiredService<IOptions<BackupDROptions>>().Value.Retention.Days);
    }

    [Fact]
    public async Task Configuration_BindsTheProductShape_AndKeysFromTheEnvironment()
    {
        var variable = "HMB_TEST_KEY_" + Guid.NewGuid().ToString("N");
        Environment.SetEnvironmentVariable(variable, KeyBase64);
        var root = Directory.CreateTempSubdirectory("hmb-config-").FullName;
        try
        {
            var json = $$"""
            {
              "BackupDR": {
                "Encryption": { "Enabled": true, "ActiveKeyId": "primary", "Keys": [ { "Id": "primary", "EnvironmentVariable": "{{variable}}" } ] },
                "Compression": { "Algorithm": "Gzip", "Level": 6 },
                "Storage": { "Provider": "local", "Prefix": "prod/healthmate", "Local": { "Path": "{{root}}" } },
                "Retention": { "Days": 30 },
                "Files": { "Paths": [ "data/embeddings", "data/medical_knowledge", "logs", "uploads" ], "ExcludePatterns": [ "*.tmp", "*.log", "__pycache__", ".git" ], "MaxFileSizeMb": 100 }
              }
            }
            """;
            var configuration = new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
            var services = new ServiceCollection();
            services.AddBackupDR(configuration.GetSection(BackupDROptions.SectionName));
            await using var provider = services.BuildServiceProvider();

            var options = provider.GetRequiredService<IOptions<BackupDROptions>>().Value;
            Assert.Equal(CompressionAlgorithm.Gzip, options.Compression.Algorithm);
            Assert.Equal(["data/embeddings", "data/medical_knowledge", "logs", "uploads"], options.Files.Paths);
            Assert.Equal(4, options.Files.ExcludePatterns.Count);

            var backup = await provider.GetRequiredService<IBackupRunner>().RunAsync(BackupSources.Create("db", "x", (s, _, ct) => s.WriteAsync("hello"u8.ToArray(), ct)));
            Assert.Equal("gzip", backup.Manifest.Pipeline.Compression);
            Assert.StartsWith("backups/db/", backup.Manifest.Data.Key, StringComparison.Ordinal);
            Assert.True(File.Exists(Path.Combine(root, "prod/healthmate", backup.Manifest.Data.Key)));

            // The same store copied under another prefix still lists and restores: keys are derived, not stored absolutely.
            var moved = Directory.CreateTempSubdirectory("hmb-moved-").FullName;
            try
            {
                Support.TestHost.CopyTree(Path.Combine(root, "prod/healthmate"), Path.Combine(moved, "dr-copy"));
                var copy = new ServiceCollection();
                copy.AddBackupDR(configuration.GetSection(BackupDROptions.SectionName), o =>
                {
                    o.Storage.Prefix = "dr-copy";
                    o.Storage.Local.Path = moved;
                });
                await using var copyProvider = copy.BuildServiceProvider();
                using var restored = new MemoryStream();
                await copyProvider.GetRequiredService<IRestoreRunner>().RestoreAsync(backup.BackupId, RestoreTargets.ToStream(restored));
                Assert.Equal("hello"u8.ToArray(), restored.ToArray());
            }
            finally
            {
                Directory.Delete(moved, recursive: true);
            }
        }
        finally
        {
            Environment.SetEnvironmentVariable(variable, null);
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task HostStart_FailsWithEveryProblemListed()
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Services.AddBackupDR(o =>
        {
            o.Encryption.ActiveKeyId = "missing";
            o.Encryption.Keys.Add(new() { Id = "bad id!", Base64 = KeyBase64 });
            o.Encryption.Keys.Add(new() { Id = "env", EnvironmentVariable = "HMB_DEFINITELY_UNSET_VARIABLE" });
            o.Encryption.SegmentSize = 10;
            o.Compression.Level = 99;
            o.Compression.BlockSize = 1;
            o.Pipeline.Parallelism = 0;
            o.Retention.Days = 0;
            o.Files.MaxFileSizeMb = 0;
            o.Storage.Local.Path = "relative/backups";
            o.Storage.Provider = "nowhere";
        });
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());

        Assert.True(error.Failures.Count() >= 11, string.Join(Environment.NewLine, error.Failures));
        Assert.Contains(error.Failures, f => f.Contains("'nowhere' is not registered", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("HMB_DEFINITELY_UNSET_VARIABLE", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("ActiveKeyId 'missing'", StringComparison.Ordinal));
        Assert.DoesNotContain(KeyBase64, error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void NoKeyConfigured_FailsClearly()
    {
        var services = new ServiceCollection();
        services.AddBackupDR();
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IBackupRunner>());
        Assert.Contains(error.Failures, f => f.Contains("Keys is empty", StringComparison.Ordinal));
    }

    [Fact]
    public void UnknownStorageProvider_FailsNamingIt()
    {
        var services = new ServiceCollection();
        services.AddBackupDR(o =>
        {
            AddKey(o);
            o.Storage.Provider = "s3";
        });
        using var provider = services.BuildServiceProvider();

        var error = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IStorageProvider>());
        Assert.Contains(error.Failures, f => f.Contains("'s3' is not registered", StringComparison.Ordinal));
    }

    [Fact]
    public async Task TimeProvider_ComesFromTheContainer()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2031, 5, 6, 7, 8, 9, TimeSpan.Zero));
        var root = Directory.CreateTempSubdirectory("hmb-time-").FullName;
        try
        {
            var services = new ServiceCollection();
            services.AddSingleton<TimeProvider>(clock);
            services.AddBackupDR(AddKey).AddLocalStorage(l => l.Path = root);
            using var provider = services.BuildServiceProvider();

            var backup = await provider.GetRequiredService<IBackupRunner>().RunAsync(BackupSources.Create("db", "x", (_, _, _) => ValueTask.CompletedTask));

            Assert.StartsWith("20310506T070809000Z-", backup.BackupId, StringComparison.Ordinal);
            Assert.Equal(clock.GetUtcNow(), backup.Manifest.StartedAt);
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static void AddKey(BackupDROptions o)
    {
        o.Encryption.ActiveKeyId = "k";
        o.Encryption.Keys.Add(new() { Id = "k", Base64 = KeyBase64 });
    }
}
