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
    public const int TemplateFormatVersion = 2;

    /// <summary>Length of the hex fingerprint used in names (80 bits).</summary>
    public const int Length = 20;

    /// <summary>Computes the template fingerprint.</summary>
    /// <param name="engineKind">The engine's kind; callers may append the identity of the code that builds templates.</param>
    /// <param name="serverVersion">The server version the engine reported.</param>
    /// <param name="schemaDigest">The schema source's digest.</param>
    /// <param name="templateChaos">Chaos that lives in the template.</param>
    public static string Compute(string engineKind, string serverVersion, string schemaDigest, string templateChaos)
    {
        var text = string.Join('\n', $"format={TemplateFormatVersion}", $"engine={engineKind}",
            $"server={serverVersion}", $"schema={schemaDigest}", $"chaos={templateChaos}");
        return SchemaSource.Hex(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..Length];
    }

    /// <summary>
    /// Computes a template's lineage: what a new version of the same template shares, whatever its schema digest,
    /// Deflake build or seed. A newer template of the same lineage supersedes the older ones.
    /// </summary>
    /// <param name="engineKind">The engine's kind, without the code identity.</param>
    /// <param name="schemaName">The schema source's <see cref="SchemaSource.Name"/>.</param>
    /// <param name="chaosWithoutSeed">Chaos that lives in the template, without the seed (for example <c>identities,rows</c>).</param>
    public static string ComputeLineage(string engineKind, string schemaName, string chaosWithoutSeed)
    {
        var text = string.Join('\n', "lineage", $"engine={engineKind}", $"schema={schemaName}", $"chaos={chaosWithoutSeed}");
        return SchemaSource.Hex(SHA256.HashData(Encoding.UTF8.GetBytes(text)))[..16];
    }
}

/// <summary>Identifies the build of the code that makes templates, so a new Deflake build never reuses an old template.</summary>
public static class TemplateCodeIdentity
{
    /// <summary>
    /// The module version ids of the core and of the engine's assembly (stable for a given build, deterministic
    /// builds included), shortened. Upgrading Deflake, or changing its template code, yields new templates.
    /// </summary>
    public static string Of(IDatabaseEngine engine)
    {
        ArgumentNullException.ThrowIfNull(engine);
        var core = typeof(TemplateCodeIdentity).Assembly.ManifestModule.ModuleVersionId;
        var own = engine.GetType().Assembly.ManifestModule.ModuleVersionId;
        return $"{core:N}"[..8] + $"{own:N}"[..8];
    }
}
