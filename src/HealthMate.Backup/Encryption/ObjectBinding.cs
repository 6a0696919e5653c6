using System.Text;

namespace HealthMate.Backup.Encryption;

/// <summary>
/// The associated data that binds an encrypted object to what it is (docs/format.md, 3.2): <c>u8 length ‖ backup id ‖
/// u8 length ‖ object name</c>, ASCII. A backup's data is <c>(backup id, "data")</c>, a companion object
/// <c>(backup id, its name)</c>, an archived object such as a WAL segment <c>(its manifest's backup id, "data")</c>.
/// An object moved under another backup or name fails authentication at its first segment.
/// </summary>
internal static class ObjectBinding
{
    internal static byte[] Of(string backupId, string objectName)
    {
        var id = Encoding.ASCII.GetBytes(backupId);
        var name = Encoding.ASCII.GetBytes(objectName);
        if (id.Length > byte.MaxValue || name.Length > byte.MaxValue)
        {
            throw new ArgumentException("A backup id and an object name are at most 255 characters.");
        }

        return [(byte)id.Length, .. id, (byte)name.Length, .. name];
    }
}
