namespace HealthMate.Backup.Tests.Support;

/// <summary>What <see cref="FaultProxy"/> does to a request a <see cref="FaultRule"/> picked.</summary>
internal enum FaultKind
{
    /// <summary>Forward the whole request, wait for the server's final status line (the server has acted on the
    /// request), then reset the client's connection without sending that response.</summary>
    DropResponse,

    /// <summary>Do not forward; answer with <see cref="FaultRule.Status"/> and an S3 error body, then close.</summary>
    ErrorStatus,

    /// <summary>Forward the head and <see cref="FaultRule.AfterBodyBytes"/> bytes of the request body, then reset both
    /// connections.</summary>
    ResetMidBody,

    /// <summary>Wait <see cref="FaultRule.Delay"/>, then forward as usual.</summary>
    Delay,
}

/// <summary>
/// A fault for <see cref="FaultProxy"/> to inject: requests for which <see cref="Match"/> holds are counted; the first
/// <see cref="Skip"/> of them pass untouched, the next <see cref="Times"/> get the fault, later ones pass again.
/// Rules are tried in the order they were added; the first that fires wins and the rules after it do not see the
/// request.
/// </summary>
internal sealed class FaultRule
{
    /// <summary>Gets which requests the rule applies to.</summary>
    public required Func<ProxyRequest, bool> Match { get; init; }

    /// <summary>Gets what the rule does.</summary>
    public required FaultKind Kind { get; init; }

    /// <summary>Gets how many matching requests pass before the first injection.</summary>
    public int Skip { get; init; }

    /// <summary>Gets how many injections the rule makes (<see cref="int.MaxValue"/>: always).</summary>
    public int Times { get; init; } = 1;

    /// <summary>Gets the status for <see cref="FaultKind.ErrorStatus"/> (required there, typically 500 or 503).</summary>
    public int? Status { get; init; }

    /// <summary>Gets the S3 error code for <see cref="FaultKind.ErrorStatus"/>; InternalError for 500 and
    /// ServiceUnavailable for 503 when unset (SlowDown is the other usual 503).</summary>
    public string? ErrorCode { get; init; }

    /// <summary>Gets the wait for <see cref="FaultKind.Delay"/> (required there).</summary>
    public TimeSpan? Delay { get; init; }

    /// <summary>Gets how many bytes of the request body (as on the wire, chunk framing included) reach the server
    /// before <see cref="FaultKind.ResetMidBody"/> resets (required there).</summary>
    public long? AfterBodyBytes { get; init; }

    /// <summary>Throws when the fields the kind needs are missing.</summary>
    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Match);
        ArgumentOutOfRangeException.ThrowIfNegative(Skip);
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(Times);
        switch (Kind)
        {
            case FaultKind.ErrorStatus when Status is not (>= 400 and <= 599):
                throw new ArgumentException("An ErrorStatus rule needs a Status from 400 to 599.", nameof(Status));
            case FaultKind.Delay when Delay is not { } delay || delay < TimeSpan.Zero:
                throw new ArgumentException("A Delay rule needs a non-negative Delay.", nameof(Delay));
            case FaultKind.ResetMidBody when AfterBodyBytes is not >= 0:
                throw new ArgumentException("A ResetMidBody rule needs a non-negative AfterBodyBytes.", nameof(AfterBodyBytes));
        }
    }

    /// <summary>The error code an <see cref="FaultKind.ErrorStatus"/> injection sends.</summary>
    internal string EffectiveErrorCode => ErrorCode ?? Status switch
    {
        500 => "InternalError",
        503 => "ServiceUnavailable",
        _ => "InjectedError",
    };
}

/// <summary>A request as the rules see it.</summary>
/// <param name="Method">The method (PUT, GET, POST…).</param>
/// <param name="Path">The raw (still percent-encoded) path of the request target, such as <c>/bucket/key</c>.</param>
/// <param name="Query">The raw query after the <c>?</c>, or empty.</param>
/// <param name="Headers">The headers, names compared ignoring case; repeated headers joined with ", ".</param>
internal sealed record ProxyRequest(string Method, string Path, string Query, IReadOnlyDictionary<string, string> Headers)
{
    /// <summary>Whether the query has the parameter (with or without a value), such as <c>uploadId</c>.</summary>
    /// <param name="name">The parameter name, compared exactly.</param>
    /// <returns>True when present.</returns>
    public bool HasQueryParameter(string name) =>
        Query.Split('&').Any(p => p == name || p.StartsWith(name + "=", StringComparison.Ordinal));
}

/// <summary>One request that went through the proxy.</summary>
/// <param name="Method">The method.</param>
/// <param name="Path">The raw path.</param>
/// <param name="Query">The raw query.</param>
/// <param name="Fault">The fault injected into it, if any.</param>
/// <param name="UpstreamStatus">The final status the server gave (also when a fault kept it from the client), or null
/// when the server gave none.</param>
internal sealed record ProxyLogEntry(string Method, string Path, string Query, FaultKind? Fault, int? UpstreamStatus)
{
    /// <summary>Gets why the exchange broke off, when it did without an injected fault (the client gave up, the
    /// server closed, the proxy was disposed).</summary>
    public string? Error { get; init; }
}
