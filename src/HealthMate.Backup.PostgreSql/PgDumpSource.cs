using System.Globalization;

namespace HealthMate.Backup.PostgreSql;

/// <summary>
/// A logical backup of one database: <c>pg_dump -Fc</c> streamed from its standard output into the pipeline (no
/// temporary file), uncompressed by pg_dump (<c>-Z 0</c>) since the pipeline compresses. Cluster globals go beside it as
/// the companion object <c>globals</c>. A non-zero exit fails the backup with the tool's message, and nothing is kept.
/// </summary>
internal sealed class PgDumpSource : IBackupSource
{
    internal const string GlobalsObject = "globals";
    private const int MaxGlobalsBytes = 64 * 1024 * 1024;
    private readonly LogicalBackupOptions _options;

    internal PgDumpSource(LogicalBackupOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        OptionsCheck.ThrowIfInvalid(options.Validate(), nameof(options));

        _options = options;
    }

    public string Kind => _options.Kind;

    public string Name => _options.Database;

    public async ValueTask WriteToAsync(Stream destination, BackupContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(destination);
        ArgumentNullException.ThrowIfNull(context);
        var connection = _options.Connection;
        var pgDump = PgTool.Locate("pg_dump", connection.ToolsDirectory);
        var serverVersion = (await ClusterState.ReadAsync(connection, cancellationToken).ConfigureAwait(false)).Version;
        var toolMajor = await pgDump.GetMajorVersionAsync(cancellationToken).ConfigureAwait(false);
        ServerVersion.EnsureToolCanServe(pgDump.Name, toolMajor, serverVersion);

        context.Properties["postgres.format"] = "custom";
        context.Properties["postgres.database"] = _options.Database;
        context.Properties["postgres.server-version"] = serverVersion.Display;
        context.Properties["postgres.server-version-num"] = serverVersion.Number.ToString(CultureInfo.InvariantCulture);
        context.Properties["postgres.tool-version"] = toolMajor.ToString(CultureInfo.InvariantCulture);

        if (_options.IncludeGlobals)
        {
            var globals = await DumpGlobalsAsync(cancellationToken).ConfigureAwait(false);
            context.AttachObject(GlobalsObject, globals);
        }

        await pgDump.RunAsync(DumpArguments(), connection, stdin: null, stdout: destination, cancellationToken).ConfigureAwait(false);
    }

    private List<string> DumpArguments()
    {
        List<string> arguments = ["--format=custom", "--compress=0", "--no-password"];
        foreach (var schema in _options.Schemas)
        {
            arguments.Add("--schema=" + schema);
        }

        foreach (var schema in _options.ExcludeSchemas)
        {
            arguments.Add("--exclude-schema=" + schema);
        }

        foreach (var table in _options.Tables)
        {
            arguments.Add("--table=" + table);
        }

        foreach (var table in _options.ExcludeTables)
        {
            arguments.Add("--exclude-table=" + table);
        }

        foreach (var table in _options.ExcludeTableData)
        {
            arguments.Add("--exclude-table-data=" + table);
        }

        // The database name is passed on its own (not as a connection string), so it cannot carry options.
        arguments.Add("--dbname=" + Quote(_options.Database));
        return arguments;
    }

    private async Task<byte[]> DumpGlobalsAsync(CancellationToken cancellationToken)
    {
        var connection = _options.Connection;
        var pgDumpAll = PgTool.Locate("pg_dumpall", connection.ToolsDirectory);
        using var output = new BoundedMemoryStream(MaxGlobalsBytes);
        List<string> arguments = ["--globals-only", "--no-password", "--database=" + Quote(connection.MaintenanceDatabase)];
        if (_options.NoRolePasswords)
        {
            arguments.Add("--no-role-passwords");
        }

        await pgDumpAll.RunAsync(arguments, connection, stdin: null, stdout: output, cancellationToken).ConfigureAwait(false);
        return output.ToArray();
    }

    /// <summary>A database name as a libpq connection string (<c>dbname='…'</c>), so a name such as "a b" or "x=y" is
    /// taken as a name, not parsed as keywords.</summary>
    internal static string Quote(string database) =>
        "dbname='" + database.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    /// <summary>Holds a small tool output in memory, refusing more than its limit.</summary>
    private sealed class BoundedMemoryStream(int limit) : HealthMate.Backup.Pipeline.WriteOnlyStream
    {
        private readonly MemoryStream _inner = new();

        public override long Length => _inner.Length;

        internal byte[] ToArray() => _inner.ToArray();

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            if (_inner.Length + buffer.Length > limit)
            {
                throw new InvalidOperationException($"The cluster globals exceed {limit} bytes.");
            }

            _inner.Write(buffer);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                _inner.Dispose();
            }

            base.Dispose(disposing);
        }
    }
}

/// <summary>A server's version, and whether a client tool can serve it.</summary>
internal readonly record struct ServerVersion(int Number, string Display)
{
    internal int Major => Number / 10000;

    /// <summary>pg_dump and pg_restore read servers of their own major version and older, never newer ones.</summary>
    internal static void EnsureToolCanServe(string tool, int toolMajor, ServerVersion server)
    {
        if (toolMajor < server.Major)
        {
            throw new InvalidOperationException($"{tool} {toolMajor} cannot work with a PostgreSQL {server.Major} server ({server.Display}); install client tools of version {server.Major} or newer, or point ToolsDirectory at them.");
        }
    }
}
