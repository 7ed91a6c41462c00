using System.Security.Cryptography;
using System.Text;

namespace Deflake;

/// <summary>
/// Names a template by the content that decides it: the schema source's digest, the engine and server version,
/// chaos that lives in the template, and Deflake's own template format.
/// </summary>
public static class Fingerprint
{
    /// <summary>Bump when the way templates are built changes, so old templates are not reused.</summary>
    public const int TemplateFormatVersion = 1;

    /// <summary>Length of the hex fingerprint used in names (80 bits).</summary>
    public const int Length = 20;

    /// <summary>Computes the template fingerprint.</summary>
    public static string Compute(string engineKind, string serverVersion, string schemaDigest, string templateChaos)
    {
        var text = string.Join('\n', $"format={TemplateFormatVersion}", $"engine={engineKind}",
            $"server={serverVersion}", $"schema={schemaDigest}", $"chaos={templateChaos}");
        return SchemaSource.Hex(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..Length];
    }
}
