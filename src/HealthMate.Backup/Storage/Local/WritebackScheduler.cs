using Microsoft.Win32.SafeHandles;

namespace HealthMate.Backup.Storage.Local;

/// <summary>
/// Starts disk writeback every 8 MiB written (as PostgreSQL's <c>*_flush_after</c> settings do), so the fsync that
/// ends a write has little left to do and does not stall the pipeline at the end.
/// </summary>
internal struct WritebackScheduler
{
    private const long Interval = 8 * 1024 * 1024;
    private long _written;
    private long _started;

    internal void Wrote(SafeFileHandle handle, long count)
    {
        _written += count;
        if (_written - _started >= Interval)
        {
            NativeMethods.StartWriteback(handle, _started, _written - _started);
            _started = _written;
        }
    }
}
