namespace HealthMate.Backup.Hooks;

/// <summary>An HTTP call a host's own tooling answers (restart instances, switch a load-balancer pool, update DNS).</summary>
public sealed class HttpHookOptions
{
    /// <summary>Gets or sets the URL. Its query string is never logged (it may hold a token).</summary>
    public Uri? Url { get; set; }

    /// <summary>Gets or sets the method. Defaults to <c>POST</c>.</summary>
    public string Method { get; set; } = "POST";

    /// <summary>Gets or sets request headers (an <c>Authorization</c> header, say). Their values are secrets: never logged or stored.</summary>
    public Dictionary<string, string> Headers { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets how long the call may take. Defaults to 30 seconds.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets the status codes that mean success; empty means any 2xx.</summary>
    public List<int> ExpectedStatusCodes { get; set; } = [];
}

/// <summary>A command a host's own tooling provides (a script that restarts instances or updates DNS).</summary>
/// <remarks>
/// <para>On Linux the command runs in its own session and process group, started through util-linux <c>setsid</c>
/// (<c>/usr/bin/setsid</c>, else on <c>PATH</c>; without it the hook fails and says so). Past its <see cref="Timeout"/>,
/// or when the caller cancels, the whole group is killed with SIGKILL, including processes re-parented out of its tree;
/// only a process that starts a session of its own (a daemon calling <c>setsid</c>) escapes that. Elsewhere only the
/// command's process tree is killed.</para>
/// <para>The hook is done when the command exits. Background processes it started are not killed then (it may start a
/// service on purpose), and they keep its output pipe open only until the drain limit: its output is read for at most
/// 1 second after it exits, then reading stops and the result says the output was cut. A hook that starts a service
/// should redirect the service's output away from its own.</para>
/// </remarks>
public sealed class CommandHookOptions
{
    /// <summary>Gets or sets the program to run (no shell is involved).</summary>
    public string? FileName { get; set; }

    /// <summary>Gets or sets its arguments, one per item (no shell quoting).</summary>
    public List<string> Arguments { get; set; } = [];

    /// <summary>Gets or sets the working directory, or <see langword="null"/> for the host's.</summary>
    public string? WorkingDirectory { get; set; }

    /// <summary>Gets or sets extra environment variables. Their values are never logged or stored.</summary>
    public Dictionary<string, string> Environment { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Gets or sets how long it may run before it is killed, with its whole process group. Defaults to 5 minutes.</summary>
    public TimeSpan Timeout { get; set; } = TimeSpan.FromMinutes(5);

    /// <summary>Gets or sets the exit code that means success. Defaults to 0.</summary>
    public int ExpectedExitCode { get; set; }
}

/// <summary>A hook: exactly one of an HTTP call or a command.</summary>
public sealed class HookOptions
{
    /// <summary>Gets or sets the HTTP call.</summary>
    public HttpHookOptions? Http { get; set; }

    /// <summary>Gets or sets the command. It is done when it exits: background processes it started keep running, and
    /// keep its output pipe open only until the drain limit (1 second); see <see cref="CommandHookOptions"/>.</summary>
    public CommandHookOptions? Command { get; set; }

    /// <summary>Lists what is wrong with the hook.</summary>
    /// <param name="at">Where it is configured, for the messages.</param>
    /// <returns>One message per problem.</returns>
    public IEnumerable<string> Validate(string at)
    {
        if ((Http is null) == (Command is null))
        {
            yield return $"{at}: set exactly one of Http and Command.";
            yield break;
        }

        if (Http is { } http)
        {
            if (http.Url is null || !http.Url.IsAbsoluteUri || (http.Url.Scheme != Uri.UriSchemeHttp && http.Url.Scheme != Uri.UriSchemeHttps))
            {
                yield return $"{at}:Http:Url must be an absolute http or https URL.";
            }

            if (http.Timeout <= TimeSpan.Zero || string.IsNullOrWhiteSpace(http.Method) || http.ExpectedStatusCodes.Any(c => c is < 100 or > 599))
            {
                yield return $"{at}:Http: Timeout must be positive, Method set, ExpectedStatusCodes within 100..599.";
            }
        }

        if (Command is { } command && (string.IsNullOrWhiteSpace(command.FileName) || command.Timeout <= TimeSpan.Zero))
        {
            yield return $"{at}:Command: FileName is required and Timeout must be positive.";
        }
    }

    /// <summary>Says what the hook does, without secrets.</summary>
    /// <returns>One line.</returns>
    public override string ToString() => Http is { } http
        ? $"{http.Method} {Hook.Redact(http.Url)}"
        : Command is { } command ? $"run {command.FileName} ({command.Arguments.Count} argument(s))" : "(not configured)";
}
