using Amazon.S3.Model;
using HealthMate.Backup.Storage;

namespace HealthMate.Backup.S3;

/// <summary>A GetObject response's body; disposing it disposes the response (and its connection).</summary>
internal sealed class S3ResponseStream(GetObjectResponse response) : DelegatingReadStream(response.ResponseStream)
{
    public override long Length => response.ContentLength;

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Inner.Dispose();
            response.Dispose();
        }

        base.Dispose(disposing);
    }
}
