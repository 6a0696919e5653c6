using System.Diagnostics;

namespace HealthMate.Backup.Tests.Support;

/// <summary>
/// Real, small file systems for the disk-full and mount-point tests: a size-limited tmpfs mounted by the test (the
/// tests run as root, on this machine and in CI). If mounting is not possible the test fails with the reason; it never
/// skips.
/// </summary>
internal static class SmallFileSystem
{
    /// <summary>Creates <paramref name="path"/> and mounts a tmpfs of <paramref name="megabytes"/> MiB on it, owner-only.</summary>
    internal static string Mount(string path, int megabytes)
    {
        Directory.CreateDirectory(path);
        Run("mount", "-t", "tmpfs", "-o", $"size={megabytes}m,mode=0700", "tmpfs", path);
        return path;
    }

    /// <summary>Unmounts every mount at or below <paramref name="root"/>, deepest first.</summary>
    internal static void UnmountAll(string root)
    {
        var prefix = Path.TrimEndingDirectorySeparator(Path.GetFullPath(root));
        var mounts = File.ReadAllLines("/proc/self/mounts")
            .Select(l => l.Split(' ')[1].Replace("\\040", " ", StringComparison.Ordinal))
            .Where(m => m == prefix || m.StartsWith(prefix + "/", StringComparison.Ordinal))
            .OrderByDescending(m => m.Length);
        foreach (var mount in mounts)
        {
            Run("umount", "-l", mount);
        }
    }

    /// <summary>The device number of the file system holding <paramref name="path"/>.</summary>
    internal static string DeviceOf(string path) => Run("stat", "-c", "%d", path).Trim();

    private static string Run(string executable, params string[] arguments)
    {
        var start = new ProcessStartInfo(executable) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var output = process.StandardOutput.ReadToEnd();
        var error = process.StandardError.ReadToEnd();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{executable} {string.Join(' ', arguments)} failed ({process.ExitCode}): {error}{output}. These tests mount small file systems and need root.");
        }

        return output;
    }
}
