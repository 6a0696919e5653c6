using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;

namespace HealthMate.Backup.Tests.Support;

/// <summary>A logger factory whose loggers all write into one <see cref="FakeLogCollector"/>.</summary>
internal sealed class FakeLoggerProviderFactory(FakeLogCollector collector) : ILoggerFactory
{
    private readonly FakeLoggerProvider _provider = new(collector);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public ILogger CreateLogger(string categoryName) => _provider.CreateLogger(categoryName);

    public void Dispose() => _provider.Dispose();
}
