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
    public abstract ValueTask<string> ComputeFingerprintAsync(CancellationToken cancellationToken = default);

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
                throw new TemplateBuildException($"migration '{Path.GetFileName(file)}' (in {_directory})", ex);
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
