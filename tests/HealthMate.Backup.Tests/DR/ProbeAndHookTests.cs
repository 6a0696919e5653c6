using System.Net;
using System.Text.Json;
using HealthMate.Backup.Failover;
using HealthMate.Backup.Health;
using HealthMate.Backup.Hooks;
using HealthMate.Backup.Recovery;
using HealthMate.Backup.Storage;
using HealthMate.Backup.Tests.Support;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace HealthMate.Backup.Tests.DR;

public sealed class ProbeAndHookTests
{
    /// <summary>Passes everything to a real store, except that writes can be refused and reads can come back altered.</summary>
    private sealed class AlteringStorage(IStorageProvider inner) : IStorageProvider
    {
        public bool RefuseWrites { get; set; }

        public bool FlipReads { get; set; }

        public string Name => "altering";

        public ValueTask<IStorageWriter> OpenWriteAsync(string key, StorageWriteOptions? options = null, CancellationToken cancellationToken = default) => inner.OpenWriteAsync(key, options, cancellationToken);

        public async ValueTask<Stream> OpenReadAsync(string key, ByteRange? range = null, CancellationToken cancellationToken = default)
        {
            var stream = await inner.OpenReadAsync(key, range, cancellationToken);
            if (!FlipReads)
            {
                return stream;
            }

            var copy = new MemoryStream();
            await stream.CopyToAsync(copy, cancellationToken);
            await stream.DisposeAsync();
            copy.GetBuffer()[7] ^= 0x10;
            copy.Position = 0;
            return copy;
        }

        public IAsyncEnumerable<StorageObjectInfo> ListAsync(string prefix, CancellationToken cancellationToken = default) => inner.ListAsync(prefix, cancellationToken);

        public ValueTask<StorageObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default) => inner.StatAsync(key, cancellationToken);

        public ValueTask<bool> DeleteAsync(string key, CancellationToken cancellationToken = default) => inner.DeleteAsync(key, cancellationToken);

        public ValueTask<bool> PutIfAbsentAsync(string key, ReadOnlyMemory<byte> content, CancellationToken cancellationToken = default) =>
            RefuseWrites ? throw new StorageException("the bucket refuses writes (test)") : inner.PutIfAbsentAsync(key, content, cancellationToken);
    }

    [Fact]
    public async Task The_storage_probe_writes_reads_and_deletes_and_names_the_step_that_failed()
    {
        using var host = new TestHost();
        var storage = new AlteringStorage(host.Storage);
        var probe = new StorageProbe(storage, "tenant-a");

        var healthy = await probe.ProbeAsync();
        Assert.Equal(ProbeStatus.Healthy, healthy.Status);
        Assert.Contains("write, read and delete", healthy.Description, StringComparison.Ordinal);

        storage.FlipReads = true;
        var altered = await probe.ProbeAsync();
        Assert.Equal(ProbeStatus.Unhealthy, altered.Status);
        Assert.Contains("differ", altered.Description, StringComparison.Ordinal);
        storage.FlipReads = false;

        storage.RefuseWrites = true;
        var refused = await probe.ProbeAsync();
        Assert.Equal(ProbeStatus.Unhealthy, refused.Status);
        Assert.Equal("storage write failed: the bucket refuses writes (test)", refused.Description);

        Assert.Empty(await host.Storage.ListAsync(string.Empty).ToListAsync());
    }

    [Fact]
    public async Task The_http_probe_checks_status_body_and_timeout_and_never_shows_the_query()
    {
        using var server = new LoopbackServer();
        var healthy = await new HttpEndpointProbe(new HttpProbeOptions { Name = "app", Url = server.Url("health?token=s3cret"), ExpectedBodyContains = "ok" }).ProbeAsync();
        Assert.Equal(ProbeStatus.Healthy, healthy.Status);
        Assert.DoesNotContain("s3cret", healthy.Description, StringComparison.Ordinal);

        server.Status = 503;
        var failing = await new HttpEndpointProbe(new HttpProbeOptions { Url = server.Url("health?token=s3cret") }).ProbeAsync();
        Assert.Equal(ProbeStatus.Unhealthy, failing.Status);
        Assert.EndsWith("answered 503", failing.Description, StringComparison.Ordinal);
        Assert.DoesNotContain("s3cret", failing.Description, StringComparison.Ordinal);

        server.Status = 200;
        server.Delay = TimeSpan.FromSeconds(5);
        var slow = await new HttpEndpointProbe(new HttpProbeOptions { Url = server.Url("health"), Timeout = TimeSpan.FromMilliseconds(300) }).ProbeAsync();
        Assert.Equal(ProbeStatus.Unhealthy, slow.Status);
        Assert.Contains("did not answer within 0.3 s", slow.Description, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_disk_probe_reports_free_space_against_its_thresholds()
    {
        var fine = await new DiskSpaceProbe(new DiskSpaceProbeOptions { Path = Path.GetTempPath(), DegradedBelowBytes = 0, UnhealthyBelowBytes = 0, DegradedBelowFraction = 0, UnhealthyBelowFraction = 0 }).ProbeAsync();
        Assert.Equal(ProbeStatus.Healthy, fine.Status);
        Assert.True((long)fine.Data["free_bytes"] > 0);
        var full = await new DiskSpaceProbe(new DiskSpaceProbeOptions { Path = Path.GetTempPath(), UnhealthyBelowBytes = long.MaxValue, DegradedBelowBytes = long.MaxValue }).ProbeAsync();
        Assert.Equal(ProbeStatus.Unhealthy, full.Status);
        Assert.Throws<ArgumentException>(() => new DiskSpaceProbe(new DiskSpaceProbeOptions { DegradedBelowBytes = 1, UnhealthyBelowBytes = 2 }));
    }

    [Fact]
    public async Task Probes_and_aspnet_health_checks_adapt_both_ways()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        using var host = new TestHost(services: s =>
        {
            s.AddLogging();
            s.AddBackupDR().AddStorageProbe().AddHealthCheckProbe("legacy", _ => new DelegateCheck(HealthCheckResult.Degraded("queue is long", data: new Dictionary<string, object> { ["depth"] = 42 })));
            s.AddHealthChecks().AddBackupDRProbes("dr");
        });
        var report = await host.Services.GetRequiredService<HealthCheckService>().CheckHealthAsync();
        Assert.Equal(HealthStatus.Healthy, report.Entries["storage"].Status);
        Assert.Equal(HealthStatus.Degraded, report.Entries["legacy"].Status);
        Assert.Equal("queue is long", report.Entries["legacy"].Description);
        Assert.Contains("dr", report.Entries["storage"].Tags);
        Assert.True(report.Entries.ContainsKey("backups"));

        var thrower = await new HealthCheckProbe("thrower", new DelegateCheck(null)).ProbeAsync();
        Assert.Equal(ProbeStatus.Unhealthy, thrower.Status);
        Assert.Contains("InvalidOperationException", thrower.Description, StringComparison.Ordinal);
    }

    private sealed class DelegateCheck(HealthCheckResult? result) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            result is { } r ? Task.FromResult(r) : throw new InvalidOperationException("the check broke");
    }

    [Fact]
    public async Task A_webhook_failover_strategy_sends_the_call_with_its_token_and_checks_the_expected_status()
    {
        using var server = new LoopbackServer { Status = 202 };
        var hook = new HookOptions { Http = new HttpHookOptions { Url = server.Url("switch-pool"), Headers = { ["Authorization"] = "Bearer very-secret" }, ExpectedStatusCodes = [202] } };
        using var host = new TestHost(o => o.Failover.Components["load-balancer"] = new FailoverComponentOptions { Hook = hook, Tier = "high" });
        var coordinator = host.Services.GetRequiredService<IFailoverCoordinator>();

        var decision = await coordinator.FailOverAsync("load-balancer", "pool A unhealthy", "ops");
        Assert.Equal(FailoverOutcome.FailedOver, decision.Outcome);
        var request = Assert.Single(server.Requests);
        Assert.Equal("Bearer very-secret", request.Authorization);
        using var body = JsonDocument.Parse(request.Body);
        Assert.Equal("failover", body.RootElement.GetProperty("action").GetString());
        Assert.Equal("load-balancer", body.RootElement.GetProperty("target").GetString());
        Assert.True(body.RootElement.GetProperty("fencingToken").GetInt64() > 0);
        Assert.DoesNotContain("very-secret", decision.Reason, StringComparison.Ordinal);
        var record = decision.Record!;
        Assert.True(record.Succeeded && record.Rto is not null && record.RtoObjective == TimeSpan.FromMinutes(60));

        server.Status = 500;
        var failed = await coordinator.FailOverAsync("load-balancer", "again", "ops");
        Assert.Equal(FailoverOutcome.Failed, failed.Outcome);
        Assert.Contains("answered 500 (unexpected)", failed.Reason, StringComparison.Ordinal);
        var audit = await host.Services.GetRequiredService<IRecoveryRecords>().ListAuditAsync(DateTimeOffset.UtcNow.AddMinutes(-5)).ToListAsync();
        Assert.Equal(["FailedOver", "Failed"], audit.Select(a => a.Outcome));
        Assert.DoesNotContain(audit, a => a.Detail.Contains("very-secret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_command_hook_gets_the_call_in_its_environment_and_is_killed_past_its_timeout()
    {
        var ok = await Hook.RunAsync(new HookOptions { Command = new CommandHookOptions { FileName = "/bin/sh", Arguments = ["-c", "echo \"$HM_ACTION/$HM_TARGET/$HM_FENCING_TOKEN\"; exit 3"], ExpectedExitCode = 3 } },
            new HookCall("restart-instances", "application", "test", IsDrill: false, FencingToken: 17));
        Assert.True(ok.Succeeded, ok.Output);
        Assert.Contains("restart-instances/application/17", ok.Output, StringComparison.Ordinal);

        var wrong = await Hook.RunAsync(new HookOptions { Command = new CommandHookOptions { FileName = "/bin/sh", Arguments = ["-c", "exit 1"] } }, new HookCall("x", "y", "z", false));
        Assert.False(wrong.Succeeded);
        Assert.Contains("exited 1 (expected 0)", wrong.Output, StringComparison.Ordinal);

        var clock = System.Diagnostics.Stopwatch.StartNew();
        var hung = await Hook.RunAsync(new HookOptions { Command = new CommandHookOptions { FileName = "/bin/sleep", Arguments = ["30"], Timeout = TimeSpan.FromMilliseconds(300) } }, new HookCall("x", "y", "z", false));
        Assert.False(hung.Succeeded);
        Assert.Contains("killed", hung.Output, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(10));
    }

    /// <summary>A loopback HTTP server that records requests and answers with a set status, optionally late.</summary>
    private sealed class LoopbackServer : IDisposable
    {
        private readonly HttpListener _listener = new();
        private readonly int _port = FreePort();

        internal LoopbackServer()
        {
            _listener.Prefixes.Add($"http://127.0.0.1:{_port}/");
            _listener.Start();
            _ = Task.Run(ServeAsync);
        }

        internal int Status { get; set; } = 200;

        internal TimeSpan Delay { get; set; }

        internal System.Collections.Concurrent.ConcurrentQueue<(string Body, string? Authorization)> Requests { get; } = new();

        internal Uri Url(string path) => new($"http://127.0.0.1:{_port}/{path}");

        public void Dispose() => _listener.Close();

        private static int FreePort()
        {
            using var socket = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
            socket.Start();
            return ((IPEndPoint)socket.LocalEndpoint).Port;
        }

        private async Task ServeAsync()
        {
            while (_listener.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _listener.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
                {
                    return;
                }

                _ = Task.Run(async () =>
                {
                    using var reader = new StreamReader(context.Request.InputStream);
                    Requests.Enqueue((await reader.ReadToEndAsync(), context.Request.Headers["Authorization"]));
                    await Task.Delay(Delay);
                    context.Response.StatusCode = Status;
                    var body = "ok"u8.ToArray();
                    try
                    {
                        await context.Response.OutputStream.WriteAsync(body);
                        context.Response.Close();
                    }
                    catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                    {
                    }
                });
            }
        }
    }
}
