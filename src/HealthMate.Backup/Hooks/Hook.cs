using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text;

namespace HealthMate.Backup.Hooks;

/// <summary>What a hook is told about the call.</summary>
/// <param name="Action">What is asked (<c>failover</c>, <c>deploy-application</c>, <c>update-dns</c>).</param>
/// <param name="Target">The component or playbook.</param>
/// <param name="Reason">Why.</param>
/// <param name="IsDrill">Whether this is a drill.</param>
/// <param name="FencingToken">The decider's lease token, if any: a hook can refuse calls with a smaller token than one it already saw.</param>
/// <param name="RunId">The playbook run, if any.</param>
public sealed record HookCall(string Action, string Target, string Reason, bool IsDrill, long? FencingToken = null, string? RunId = null);

/// <summary>What a hook answered.</summary>
/// <param name="Succeeded">Whether the status or exit code was the expected one.</param>
/// <param name="Output">The status or exit code and the end of the body or output (at most 4 KiB).</param>
/// <param name="Duration">How long it took.</param>
public sealed record HookResult(bool Succeeded, string Output, TimeSpan Duration);

/// <summary>Runs hooks: an HTTP call with a JSON body describing the call, or a command with <c>HM_*</c> environment variables.</summary>
public static class Hook
{
    private const int MaxOutput = 4096;

    /// <summary>
    /// How long a command hook's output is still read after it exited or was killed. Output written before the exit is
    /// normally read within milliseconds; past this, a background process the hook started (which inherits its output)
    /// is taken to hold the output open, and reading stops so the caller (a failover) does not wait for that process.
    /// </summary>
    private static readonly TimeSpan DrainLimit = TimeSpan.FromSeconds(1);

    private static readonly HttpClient Client = new(new SocketsHttpHandler { PooledConnectionLifetime = TimeSpan.FromMinutes(2), AllowAutoRedirect = false })
    {
        Timeout = System.Threading.Timeout.InfiniteTimeSpan,
    };

    /// <summary>Runs a hook once. A timeout or an unexpected answer is a failed result, not an exception.</summary>
    /// <param name="options">The hook.</param>
    /// <param name="call">What it is told.</param>
    /// <param name="cancellationToken">Cancels the call (a command is killed).</param>
    /// <returns>What it answered.</returns>
    public static async Task<HookResult> RunAsync(HookOptions options, HookCall call, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(call);
        var problems = options.Validate("hook").ToList();
        if (problems.Count > 0)
        {
            throw new ArgumentException(string.Join(" ", problems), nameof(options));
        }

        return options.Http is { } http
            ? await CallAsync(http, call, cancellationToken).ConfigureAwait(false)
            : await RunCommandAsync(options.Command!, call, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A URL without its query, fragment and user info, for messages.</summary>
    internal static string Redact(Uri? url) => url is null ? "(no URL)" : url.IsAbsoluteUri ? url.GetLeftPart(UriPartial.Path).Replace(url.UserInfo + "@", string.Empty, StringComparison.Ordinal) : "(relative URL)";

    /// <summary>Whether a status code is what was expected (any 2xx when nothing is listed).</summary>
    internal static bool IsExpected(int status, IReadOnlyCollection<int> expected) => expected.Count == 0 ? status is >= 200 and < 300 : expected.Contains(status);

    /// <summary>Sends a request with a timeout (a linked cancellation source) and returns its status and the start of its body.</summary>
    internal static async Task<(int Status, string Body)> SendAsync(HttpRequestMessage request, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        using var response = await Client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, deadline.Token).ConfigureAwait(false);
        var stream = await response.Content.ReadAsStreamAsync(deadline.Token).ConfigureAwait(false);
        await using (stream.ConfigureAwait(false))
        {
            var buffer = new byte[MaxOutput];
            var length = 0;
            int read;
            while (length < buffer.Length && (read = await stream.ReadAsync(buffer.AsMemory(length), deadline.Token).ConfigureAwait(false)) > 0)
            {
                length += read;
            }

            return ((int)response.StatusCode, Encoding.UTF8.GetString(buffer, 0, length));
        }
    }

    private static async Task<HookResult> CallAsync(HttpHookOptions http, HookCall call, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        using var request = new HttpRequestMessage(new HttpMethod(http.Method), http.Url)
        {
            Content = JsonContent.Create(new Dictionary<string, object?>
            {
                ["action"] = call.Action,
                ["target"] = call.Target,
                ["reason"] = call.Reason,
                ["drill"] = call.IsDrill,
                ["fencingToken"] = call.FencingToken,
                ["runId"] = call.RunId,
            }),
        };
        foreach (var (name, value) in http.Headers)
        {
            request.Headers.TryAddWithoutValidation(name, value);
        }

        try
        {
            var (status, body) = await SendAsync(request, http.Timeout, cancellationToken).ConfigureAwait(false);
            var ok = IsExpected(status, http.ExpectedStatusCodes);
            return new HookResult(ok, $"{http.Method} {Redact(http.Url)} answered {status}{(ok ? string.Empty : " (unexpected)")}{(body.Length > 0 ? ": " + body.Trim() : string.Empty)}", clock.Elapsed);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new HookResult(false, $"{http.Method} {Redact(http.Url)} did not answer within {http.Timeout.TotalSeconds:0.#} s", clock.Elapsed);
        }
        catch (HttpRequestException ex)
        {
            return new HookResult(false, $"{http.Method} {Redact(http.Url)} failed: {ex.HttpRequestError}", clock.Elapsed);
        }
    }

    private static async Task<HookResult> RunCommandAsync(CommandHookOptions command, HookCall call, CancellationToken cancellationToken)
    {
        var clock = Stopwatch.StartNew();
        var start = new ProcessStartInfo(command.FileName!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = command.WorkingDirectory ?? string.Empty,
        };
        var ownGroup = HookProcess.UsesProcessGroups;
        if (ownGroup)
        {
            // The hook runs in its own session and process group, so a timeout can kill all it started (see HookProcess).
            var setsid = HookProcess.FindSetsid();
            if (setsid is null)
            {
                return new HookResult(false, $"could not start {command.FileName}: util-linux 'setsid' was not found at /usr/bin/setsid or on PATH (command hooks run through it in their own process group, so a timeout can kill everything they started)", clock.Elapsed);
            }

            var program = HookProcess.ResolveProgram(command.FileName!);
            if (program is null)
            {
                return new HookResult(false, $"could not start {command.FileName}: no executable file of that name (looked in the application's folder, the current folder and PATH)", clock.Elapsed);
            }

            start.FileName = setsid;
            start.ArgumentList.Add("--");
            start.ArgumentList.Add(program);
        }

        foreach (var argument in command.Arguments)
        {
            start.ArgumentList.Add(argument);
        }

        foreach (var (name, value) in command.Environment)
        {
            start.Environment[name] = value;
        }

        start.Environment["HM_ACTION"] = call.Action;
        start.Environment["HM_TARGET"] = call.Target;
        start.Environment["HM_REASON"] = call.Reason;
        start.Environment["HM_DRILL"] = call.IsDrill ? "1" : "0";
        start.Environment["HM_FENCING_TOKEN"] = call.FencingToken?.ToString(CultureInfo.InvariantCulture) ?? string.Empty;
        start.Environment["HM_RUN_ID"] = call.RunId ?? string.Empty;
        using var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        var output = new StringBuilder();
        void Append(string line)
        {
            lock (output)
            {
                output.AppendLine(line);
                if (output.Length > MaxOutput)
                {
                    output.Remove(0, output.Length - MaxOutput);
                }
            }
        }

        // The exit of the hook itself, and the end of each output stream, apart: a process the hook leaves behind may hold
        // its output open long after it exited (Process.WaitForExitAsync waits for both).
        var exited = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var outputClosed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var errorClosed = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.Exited += (_, _) => exited.TrySetResult();
        process.OutputDataReceived += (_, e) => Received(e.Data, outputClosed);
        process.ErrorDataReceived += (_, e) => Received(e.Data, errorClosed);
        void Received(string? line, TaskCompletionSource closed)
        {
            if (line is null)
            {
                closed.TrySetResult();
            }
            else
            {
                Append(line);
            }
        }

        try
        {
            process.Start();
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            return new HookResult(false, $"could not start {command.FileName}: {ex.Message}", clock.Elapsed);
        }

        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(command.Timeout);
        try
        {
            await exited.Task.WaitAsync(deadline.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            if (ownGroup)
            {
                HookProcess.KillGroup(process.Id); // setsid ran in place: the hook's pid is its process group's id
            }

            try
            {
                // A fallback, and the only kill where hooks have no process group of their own.
                process.Kill(entireProcessTree: true);
            }
            catch (InvalidOperationException)
            {
                // It exited meanwhile.
            }

            // SIGKILL ends the group at once; a process stuck in the kernel (a dead NFS mount) must not hang the caller.
            _ = await CompletesWithinAsync(exited.Task, DrainLimit).ConfigureAwait(false);
            var killedOutput = await DrainAsync(process, output, outputClosed.Task, errorClosed.Task).ConfigureAwait(false);
            cancellationToken.ThrowIfCancellationRequested();
            return new HookResult(false, $"{command.FileName} ran past its {command.Timeout.TotalSeconds:0.#} s timeout and was killed. {killedOutput}", clock.Elapsed);
        }

        // What the hook left running after a normal exit is not killed: it may have started a service on purpose.
        var tail = await DrainAsync(process, output, outputClosed.Task, errorClosed.Task).ConfigureAwait(false);
        var ok = process.ExitCode == command.ExpectedExitCode;
        return new HookResult(ok, $"{command.FileName} exited {process.ExitCode}{(ok ? string.Empty : $" (expected {command.ExpectedExitCode})")}. {tail}", clock.Elapsed);
    }

    /// <summary>
    /// Reads what is left of a hook's output after it exited or was killed, for at most <see cref="DrainLimit"/>, then
    /// stops reading: a process it left running may keep the output open for ever.
    /// </summary>
    /// <returns>The end of the output, marked when it was cut.</returns>
    private static async Task<string> DrainAsync(Process process, StringBuilder output, Task outputClosed, Task errorClosed)
    {
        if (await CompletesWithinAsync(Task.WhenAll(outputClosed, errorClosed), DrainLimit).ConfigureAwait(false))
        {
            return Tail(output);
        }

        process.CancelOutputRead();
        process.CancelErrorRead();
        return $"{Tail(output)} [output cut: a process the hook started still held it open {DrainLimit.TotalSeconds:0.#} s after the hook ended]".TrimStart();
    }

    private static async Task<bool> CompletesWithinAsync(Task task, TimeSpan limit)
    {
        try
        {
            await task.WaitAsync(limit).ConfigureAwait(false);
            return true;
        }
        catch (TimeoutException)
        {
            return false;
        }
    }

    private static string Tail(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString().Trim();
        }
    }
}
