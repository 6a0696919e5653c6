namespace HealthMate.Backup;

/// <summary>
/// A stored object is not the one its manifest describes: its header names another key id or salt, or it is bound to
/// another backup or name (it was replaced, for example by another backup's object). Raised before any of its bytes
/// reach a restore target.
/// </summary>
public sealed class BackupObjectReplacedException : BackupIntegrityException
{
    /// <summary>Initializes a new instance of the <see cref="BackupObjectReplacedException"/> class.</summary>
    /// <param name="subject">The object, such as <c>the data object of backup X</c>.</param>
    /// <param name="reason">What differs, such as <c>its salt differs from the manifest's</c>.</param>
    public BackupObjectReplacedException(string subject, string reason)
        : base($"{char.ToUpperInvariant(subject[0])}{subject[1..]} is not the object its manifest describes ({reason}): it was replaced, perhaps by another backup's object. Nothing of it was restored.")
    {
        Subject = subject;
    }

    /// <summary>Gets the object concerned.</summary>
    public string Subject { get; }
}
