using System.Runtime.InteropServices;
using System.Runtime.Versioning;

namespace HealthMate.Backup.Hooks;

/// <summary>
/// Runs a command hook in its own session and process group, so that a timeout can kill everything it started, including
/// grandchildren that were re-parented out of its process tree. .NET cannot call <c>setsid</c> between fork and exec, so
/// the command is started through util-linux <c>setsid</c>: a process .NET starts is not a process-group leader, so
/// <c>setsid</c> makes a new session and execs the command in place (no <c>--fork</c>), and the pid .NET sees is the
/// session and process-group id.
/// </summary>
internal static partial class HookProcess
{
    private const string DefaultSetsid = "/usr/bin/setsid";
    private const int SigKill = 9;

    /// <summary>Gets a value indicating whether hooks run in their own process group (Linux only: elsewhere they are
    /// started directly and only their process tree is killed).</summary>
    [SupportedOSPlatformGuard("linux")]
    internal static bool UsesProcessGroups => OperatingSystem.IsLinux();

    /// <summary>util-linux <c>setsid</c>: <c>/usr/bin/setsid</c>, else the first on <c>PATH</c>; <see langword="null"/> when missing.</summary>
    [SupportedOSPlatform("linux")]
    internal static string? FindSetsid() => IsExecutable(DefaultSetsid) ? DefaultSetsid : FindInPath("setsid");

    /// <summary>
    /// Finds a program the way <c>Process.Start</c> does (as given if rooted, else in the application's folder, the current
    /// folder, then <c>PATH</c>), so that starting it through <c>setsid</c> runs the same file: <c>setsid</c> would look only
    /// in <c>PATH</c>, and relative to the hook's working directory. Returns <see langword="null"/> when there is none.
    /// </summary>
    [SupportedOSPlatform("linux")]
    internal static string? ResolveProgram(string fileName)
    {
        if (Path.IsPathRooted(fileName))
        {
            return IsExecutable(fileName) ? fileName : null;
        }

        if (Path.GetDirectoryName(Environment.ProcessPath) is { } appFolder && IsExecutable(Path.Combine(appFolder, fileName)))
        {
            return Path.Combine(appFolder, fileName);
        }

        var inCurrentFolder = Path.GetFullPath(fileName);
        return IsExecutable(inCurrentFolder) ? inCurrentFolder : fileName.Contains('/', StringComparison.Ordinal) ? null : FindInPath(fileName);
    }

    /// <summary>
    /// Sends SIGKILL to every process in a process group. Best effort: the group may be gone already. A group id is not
    /// reused while any process is in the group, so this cannot reach an unrelated group unless the hook's group emptied
    /// and a new process took the same id as its own group in between, which is not a practical concern.
    /// </summary>
    [SupportedOSPlatform("linux")]
    internal static void KillGroup(int processGroup) => _ = Kill(-processGroup, SigKill);

    [SupportedOSPlatform("linux")]
    private static string? FindInPath(string program) =>
        (Environment.GetEnvironmentVariable("PATH") ?? string.Empty)
            .Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(folder => Path.Combine(folder, program))
            .FirstOrDefault(IsExecutable);

    [SupportedOSPlatform("linux")]
    private static bool IsExecutable(string path) =>
        File.Exists(path) && (File.GetUnixFileMode(path) & (UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute)) != 0;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int Kill(int pid, int signal);
}
