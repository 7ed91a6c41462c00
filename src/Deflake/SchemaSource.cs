using System.Data.Common;
using System.Security.Cryptography;
using System.Text;

namespace Deflake;

/// <summary>
/// What decides a database's schema: migrations and seed data. A template is built once per fingerprint of
/// its schema source, so the fingerprint must change whenever the schema would.
/// </summary>
public abstract class SchemaSource
{
    /// <summary>A short human-readable name, used in logs and errors.</summary>
    public abstract string Name { get; }

    /// <summary>
    /// What stays the same across versions of this schema, so a newer template supersedes an older one (see the
    /// engines' <c>KeepSupersededTemplates</c>). Default: <see cref="Name"/>; a SQL directory uses its full path, so two
    /// projects whose folders are both called <c>migrations</c> never supersede each other's templates.
    /// </summary>
    public virtual string LineageKey => Name;

    /// <summary>
    /// A hex digest of everything that decides the schema (file names and bytes, or a declared version).
    /// Called once per pool start; may read files.
    /// </summary>
    // RS0026: two overloads with an optional token; the older one stays for sources written before SchemaContext.
#pragma warning disable RS0026
    public abstract ValueTask<string> ComputeFingerprintAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// The digest the pool asks for: like <see cref="ComputeFingerprintAsync(CancellationToken)"/> (the default calls it),
    /// but told which engine the template is for and, through <see cref="SchemaContext.ProviderFactory"/>, the engine's
    /// ADO.NET provider. A source whose schema depends on the provider (an EF Core model renders different SQL per
    /// provider) overrides this and builds its digest on an <em>unopened</em> connection of that provider.
    /// </summary>
    /// <remarks>
    /// Contract: called once per pool start, before the template exists; it must not open a connection (there is no
    /// database to open yet) and must return the same digest for the same schema on every machine.
    /// </remarks>
    /// <exception cref="DeflakeConfigurationException">The source needs a provider and the engine gives none.</exception>
    public virtual ValueTask<string> ComputeFingerprintAsync(SchemaContext context, CancellationToken cancellationToken = default)
        => ComputeFingerprintAsync(cancellationToken);
#pragma warning restore RS0026

    /// <summary>Applies the schema to an open connection to an empty database.</summary>
    /// <exception cref="TemplateBuildException">A step failed; names the step and carries the database's error.</exception>
    public abstract Task ApplyAsync(DbConnection connection, CancellationToken cancellationToken = default);

    /// <summary>
    /// Every <c>*.sql</c> file in <paramref name="path"/>, run in ordinal order of file name, each as one command
    /// (seed data included). The fingerprint covers every file's name and bytes.
    /// </summary>
    /// <exception cref="DeflakeConfigurationException">The directory does not exist or holds no <c>*.sql</c> file.</exception>
    public static SchemaSource FromSqlDirectory(string path) => new SqlDirectorySchemaSource(path);

    /// <summary>
    /// Schema built by code. <paramref name="version"/> stands for the schema in the fingerprint: change it
    /// whenever <paramref name="apply"/> would build something different.
    /// </summary>
    public static SchemaSource FromDelegate(string name, string version, Func<DbConnection, CancellationToken, Task> apply)
        => new DelegateSchemaSource(name, version, apply);

    internal static string Hex(ReadOnlySpan<byte> hash) => Convert.ToHexStringLower(hash);
}

/// <summary>What a pool tells a <see cref="SchemaSource"/> when it asks for the fingerprint.</summary>
public sealed class SchemaContext
{
    /// <summary>Creates a context.</summary>
    /// <param name="engineKind">The engine's <see cref="IDatabaseEngine.Kind"/>.</param>
    /// <param name="providerFactory">The engine's <see cref="IDatabaseEngine.ProviderFactory"/>, or null when it gives none.</param>
    public SchemaContext(string engineKind, DbProviderFactory? providerFactory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(engineKind);
        EngineKind = engineKind;
        ProviderFactory = providerFactory;
    }

    /// <summary>The engine's kind: <c>sqlite</c>, <c>postgres</c>, <c>mariadb</c>.</summary>
    public string EngineKind { get; }

    /// <summary>
    /// The ADO.NET provider of the connections the template is built on, for sources that need a connection object
    /// to compute their digest: create one with <see cref="DbProviderFactory.CreateConnection"/> and never open it.
    /// Null when the engine gives none (an engine written before this member existed).
    /// </summary>
    public DbProviderFactory? ProviderFactory { get; }
}

internal sealed class SqlDirectorySchemaSource : SchemaSource
{
    private const string Setting = "SchemaSource.FromSqlDirectory";
    private readonly string _directory;

    public SqlDirectorySchemaSource(string path)
    {
        if (string.IsNullOrWhiteSpace(path))
        {
            throw new DeflakeConfigurationException(Setting, "the migrations directory is empty; pass the folder that holds your *.sql files.");
        }

        _directory = Path.GetFullPath(path);
        if (!Directory.Exists(_directory))
        {
            throw new DeflakeConfigurationException(Setting,
                $"migrations directory '{_directory}' does not exist; pass the folder that holds your *.sql files (relative paths resolve from {Environment.CurrentDirectory}).");
        }

        if (Files().Length == 0)
        {
            throw new DeflakeConfigurationException(Setting,
                $"migrations directory '{_directory}' holds no *.sql file; add migrations or point it at the right folder.");
        }
    }

    public override string Name => $"sql:{Path.GetFileName(_directory)}";

    public override string LineageKey => $"sql:{_directory}";

    private string[] Files()
    {
        var files = Directory.GetFiles(_directory, "*.sql", SearchOption.TopDirectoryOnly);
        Array.Sort(files, StringComparer.Ordinal);
        return files;
    }

    public override async ValueTask<string> ComputeFingerprintAsync(CancellationToken cancellationToken = default)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (var file in Files())
        {
            var bytes = await File.ReadAllBytesAsync(file, cancellationToken).ConfigureAwait(false);
            hash.AppendData(Encoding.UTF8.GetBytes($"{Path.GetFileName(file)}\n{bytes.Length}\n"));
            hash.AppendData(bytes);
        }

        return Hex(hash.GetHashAndReset());
    }

    public override async Task ApplyAsync(DbConnection connection, CancellationToken cancellationToken = default)
    {
        foreach (var file in Files())
        {
            var sql = await File.ReadAllTextAsync(file, cancellationToken).ConfigureAwait(false);
            if (string.IsNullOrWhiteSpace(sql))
            {
                continue;
            }

            try
            {
                var command = connection.CreateCommand();
                await using var commandScope = command.ConfigureAwait(false);
                command.CommandText = sql;
                command.CommandTimeout = 0;
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (DbException ex)
            {
                throw new TemplateBuildException($"migration '{Path.GetFileName(file)}' (in {_directory})", ex, file, sql);
            }
        }
    }
}

internal sealed class DelegateSchemaSource : SchemaSource
{
    private readonly string _name;
    private readonly string _version;
    private readonly Func<DbConnection, CancellationToken, Task> _apply;

    public DelegateSchemaSource(string name, string version, Func<DbConnection, CancellationToken, Task> apply)
    {
        if (string.IsNullOrWhiteSpace(name))
        {
            throw new DeflakeConfigurationException("SchemaSource.FromDelegate name", "is empty; give the schema a name such as \"shop\".");
        }

        if (string.IsNullOrWhiteSpace(version))
        {
            throw new DeflakeConfigurationException("SchemaSource.FromDelegate version",
                "is empty; pass a version string and change it whenever the delegate builds a different schema.");
        }

        _name = name;
        _version = version;
        _apply = apply ?? throw new ArgumentNullException(nameof(apply));
    }

    public override string Name => _name;

    public override ValueTask<string> ComputeFingerprintAsync(CancellationToken cancellationToken = default)
        => ValueTask.FromResult(Hex(SHA256.HashData(Encoding.UTF8.GetBytes($"delegate\n{_name}\n{_version}"))));

    public override async Task ApplyAsync(DbConnection connection, CancellationToken cancellationToken = default)
    {
        try
        {
            await _apply(connection, cancellationToken).ConfigureAwait(false);
        }
        catch (DbException ex)
        {
            throw new TemplateBuildException($"schema delegate '{_name}' (version {_version})", ex);
        }
    }
}
