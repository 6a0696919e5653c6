using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace HealthMate.Backup.PostgreSql;

/// <summary>Finds and runs a PostgreSQL client tool: arguments as a list (no shell), the connection and password in its
/// environment, standard error kept (its last 16 KiB) for the error message, killed with its children on cancellation.</summary>
internal sealed partial class PgTool
{
    private const int StandardErrorLimit = 16 * 1024;

    private PgTool(string name, string path)
    {
        Name = name;
        Path = path;
    }

    internal string Name { get; }

    internal string Path { get; }

    internal static PgTool Locate(string name, string? directory)
    {
        if (directory is not null)
        {
            var candidate = System.IO.Path.Combine(directory, name);
            return File.Exists(candidate) ? new PgTool(name, candidate) : throw new FileNotFoundException($"{name} is not in the PostgreSQL ToolsDirectory '{directory}'.");
        }

        const string Debian = "/usr/lib/postgresql";
        if (Directory.Exists(Debian))
        {
            var newest = Directory.EnumerateDirectories(Debian)
                .Select(d => (Dir: d, Version: int.TryParse(System.IO.Path.GetFileName(d), NumberStyles.None, CultureInfo.InvariantCulture, out var v) ? v : -1))
                .Where(d => d.Version > 0 && File.Exists(System.IO.Path.Combine(d.Dir, "bin", name)))
                .OrderByDescending(d => d.Version)
                .FirstOrDefault();
            if (newest.Dir is not null)
            {
                return new PgTool(name, System.IO.Path.Combine(newest.Dir, "bin", name));
            }
        }

        foreach (var folder in (Environment.GetEnvironmentVariable("PATH") ?? string.Empty).Split(System.IO.Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = System.IO.Path.Combine(folder, name);
            if (File.Exists(candidate))
            {
                return new PgTool(name, candidate);
            }
        }

        throw new FileNotFoundException($"{name} was not found in /usr/lib/postgresql/*/bin or on the PATH; install the PostgreSQL client tools or set ToolsDirectory.");
    }

    /// <summary>The tool's major version, from <c>--version</c> ("pg_dump (PostgreSQL) 15.14 (Debian …)").</summary>
    internal async Task<int> GetMajorVersionAsync(CancellationToken cancellationToken)
    {
        using var output = new MemoryStream();
        await RunAsync(["--version"], connection: null, stdin: null, stdout: output, cancellationToken).ConfigureAwait(false);
        var text = Encoding.UTF8.GetString(output.ToArray());
        return ParseMajorVersion(text) ?? throw new InvalidOperationException($"Cannot read the version of {Name} from '{text.Trim()}'.");
    }

    internal static int? ParseMajorVersion(string versionOutput)
    {
        var match = VersionPattern().Match(versionOutput);
        return match.Success ? int.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture) : null;
    }

    /// <summary>
    /// Runs the tool to its end: <paramref name="stdin"/> (if any) is copied to its standard input, its standard output
    /// to <paramref name="stdout"/> (if any). A non-zero exit fails with what it printed on standard error; otherwise
    /// that text is returned (a tool's progress and positions, with <c>--verbose</c>).
    /// </summary>
    internal async Task<string> RunAsync(IEnumerable<string> arguments, PostgreSqlConnectionOptions? connection, Stream? stdin, Stream? stdout, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(Path)
        {
            RedirectStandardInput = stdin is not null,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        connection?.ApplyTo(start.Environment);
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{Name} could not be started.");
        var standardError = CollectStandardErrorAsync(process.StandardError);
        try
        {
            var output = stdout is null
                ? process.StandardOutput.BaseStream.CopyToAsync(Stream.Null, cancellationToken)
                : process.StandardOutput.BaseStream.CopyToAsync(stdout, 1024 * 1024, cancellationToken);
            Exception? inputError = null;
            if (stdin is not null)
            {
                try
                {
                    var input = process.StandardInput.BaseStream;
                    await stdin.CopyToAsync(input, 1024 * 1024, cancellationToken).ConfigureAwait(false);
                    await input.FlushAsync(cancellationToken).ConfigureAwait(false);
                }
                catch (IOException ex)
                {
                    // The tool stopped reading (it failed, or needed no more): its exit code and message say which.
                    inputError = ex;
                }
                finally
                {
                    process.StandardInput.Close();
                }
            }

            await output.ConfigureAwait(false);
            await process.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            var message = Redact(await standardError.ConfigureAwait(false), connection?.Password);
            if (process.ExitCode != 0)
            {
                throw new PostgreSqlToolException(Name, process.ExitCode, message);
            }

            if (inputError is not null)
            {
                throw new IOException($"{Name} stopped reading its input before the end.", inputError);
            }

            return message;
        }
        catch (Exception) when (!process.HasExited)
        {
            // Boundary: whatever failed here (cancellation, the destination), the tool must not outlive the run.
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<string> CollectStandardErrorAsync(StreamReader reader)
    {
        var text = new StringBuilder();
        var buffer = new char[4096];
        int read;
        while ((read = await reader.ReadAsync(buffer).ConfigureAwait(false)) > 0)
        {
            text.Append(buffer, 0, read);
            if (text.Length > 2 * StandardErrorLimit)
            {
                text.Remove(0, text.Length - StandardErrorLimit);
            }
        }

        return text.Length > StandardErrorLimit ? text.ToString(text.Length - StandardErrorLimit, StandardErrorLimit) : text.ToString();
    }

    /// <summary>Removes the password from a tool's message, should a tool ever echo it.</summary>
    internal static string Redact(string text, string? password) =>
        string.IsNullOrEmpty(password) ? text : text.Replace(password, "***", StringComparison.Ordinal);

    [GeneratedRegex(@"\(PostgreSQL\)\s+(\d+)")]
    private static partial Regex VersionPattern();
}
