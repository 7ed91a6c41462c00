using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace Deflake.Cli.Reporting;

/// <summary>A test method's place in its source: the file and the line its body starts on.</summary>
/// <param name="File">The source file as the compiler saw it (absolute, on the machine that built the tests).</param>
/// <param name="Line">The line of the method's first statement (its opening brace for a block body).</param>
internal sealed record SourceLocation(string File, int Line);

/// <summary>
/// Finds test methods in the test assembly's portable PDB (beside the assembly, or embedded), so CI annotations can point
/// at the test's source. Nothing is loaded into the process: the assembly and its PDB are only read as metadata. When
/// there is no PDB, or a method has no sequence points, the location is unknown (null), never guessed.
/// </summary>
internal sealed class SourceLocations
{
    private readonly Dictionary<string, SourceLocation> _methods = new(StringComparer.Ordinal);

    private SourceLocations()
    {
    }

    /// <summary>No locations at all (no assembly, or it has no readable PDB).</summary>
    public static SourceLocations None { get; } = new();

    /// <summary>Reads the method locations of an assembly; <see cref="None"/> when it or its PDB cannot be read.</summary>
    public static SourceLocations Read(string? assemblyPath)
    {
        if (assemblyPath is null || !File.Exists(assemblyPath))
        {
            return None;
        }

        try
        {
            using var stream = File.OpenRead(assemblyPath);
            using var pe = new PEReader(stream);
            if (!pe.TryOpenAssociatedPortablePdb(assemblyPath, path => File.Exists(path) ? File.OpenRead(path) : null, out var provider, out _) || provider is null)
            {
                return None;
            }

            using (provider)
            {
                var locations = new SourceLocations();
                locations.Load(pe.GetMetadataReader(), provider.GetMetadataReader());
                return locations;
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or BadImageFormatException or InvalidOperationException)
        {
            return None;
        }
    }

    /// <summary>
    /// The location of a test (<c>Namespace.Class.Method</c>, nested classes with <c>+</c>; theory arguments in
    /// parentheses are ignored), or null when unknown.
    /// </summary>
    public SourceLocation? Find(string test)
    {
        ArgumentNullException.ThrowIfNull(test);
        var arguments = test.IndexOf('(', StringComparison.Ordinal);
        var key = (arguments < 0 ? test : test[..arguments]).Trim();
        return _methods.GetValueOrDefault(key);
    }

    private void Load(MetadataReader metadata, MetadataReader pdb)
    {
        foreach (var typeHandle in metadata.TypeDefinitions)
        {
            var type = metadata.GetTypeDefinition(typeHandle);
            var typeName = FullName(metadata, type);
            foreach (var methodHandle in type.GetMethods())
            {
                var name = metadata.GetString(metadata.GetMethodDefinition(methodHandle).Name);
                var location = First(pdb, methodHandle) ?? StateMachineBody(metadata, pdb, type, name);
                if (location is not null)
                {
                    // Overloads share a test id: the first one declared wins.
                    _methods.TryAdd($"{typeName}.{name}", location);
                }
            }
        }
    }

    /// <summary>An async or iterator method's body lives in the compiler's state machine type <c>&lt;Name&gt;d__N</c>.</summary>
    private static SourceLocation? StateMachineBody(MetadataReader metadata, MetadataReader pdb, TypeDefinition type, string method)
    {
        var prefix = $"<{method}>d__";
        foreach (var nestedHandle in type.GetNestedTypes())
        {
            var nested = metadata.GetTypeDefinition(nestedHandle);
            if (!metadata.GetString(nested.Name).StartsWith(prefix, StringComparison.Ordinal))
            {
                continue;
            }

            foreach (var moveNext in nested.GetMethods())
            {
                if (metadata.GetString(metadata.GetMethodDefinition(moveNext).Name) == "MoveNext" && First(pdb, moveNext) is { } location)
                {
                    return location;
                }
            }
        }

        return null;
    }

    private static SourceLocation? First(MetadataReader pdb, MethodDefinitionHandle method)
    {
        var debug = pdb.GetMethodDebugInformation(method.ToDebugInformationHandle());
        if (debug.SequencePointsBlob.IsNil)
        {
            return null;
        }

        foreach (var point in debug.GetSequencePoints())
        {
            if (point.IsHidden)
            {
                continue;
            }

            var document = point.Document.IsNil ? debug.Document : point.Document;
            return document.IsNil ? null : new SourceLocation(pdb.GetString(pdb.GetDocument(document).Name), point.StartLine);
        }

        return null;
    }

    private static string FullName(MetadataReader metadata, TypeDefinition type)
    {
        var name = metadata.GetString(type.Name);
        var declaring = type.GetDeclaringType();
        if (!declaring.IsNil)
        {
            return $"{FullName(metadata, metadata.GetTypeDefinition(declaring))}+{name}";
        }

        var ns = metadata.GetString(type.Namespace);
        return ns.Length == 0 ? name : $"{ns}.{name}";
    }
}
