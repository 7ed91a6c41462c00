using System.Data.Common;
using System.Globalization;
using Deflake.Coordination;
using Deflake.Internal;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Deflake.Sqlite;

/// <summary>
/// SQLite engine: templates are files in the per-user cache, built once per fingerprint under a file lock;
/// clones are file copies (default) or in-memory databases restored by SQLite's online backup.
/// </summary>
/// <remarks>
/// Layout under <see cref="SqliteEngineOptions.Directory"/>: <c>templates/&lt;fingerprint&gt;.db</c> (its file time is
/// its last use), with its build lock <c>&lt;fingerprint&gt;.lock</c> and its sidecar <c>&lt;fingerprint&gt;.lineage</c>
/// (the template's lineage; every live pool using the template holds it as a shared lock);
/// <c>clones/&lt;owner&gt;/</c> per running process, with an <c>owner.lock</c> held while it lives (file clones go to
/// <c>sqlite-HASH/clones/&lt;owner&gt;/</c> in memory instead when it can, see <see cref="SqliteEngineOptions.CloneDirectory"/>);
/// <c>kept/</c> for failed tests' databases. Only these folders are ever cleaned, and in <c>templates/</c> only files
/// named by a fingerprint: a template superseded by a newer one of its lineage, or unused for 7 days, is deleted only
/// when no live pool (in any process) holds its sidecar.
/// </remarks>
public sealed partial class SqliteEngine : IDatabaseEngine
{
    private const string OwnerLockFile = "owner.lock";
    private const string LineageExtension = ".lineage";
    private readonly SqliteEngineOptions _options;
    private readonly string _root;
    private readonly string _ownerName;
    private string _clonesDirectory;
    private string _ownerDirectory;
    private bool _separateClonesDirectory;
    private readonly Lock _backupLock = new();
    private ILogger _logger = NullLogger.Instance;
    private CrossProcessLock? _ownerLock;
    private CrossProcessLock? _templateUse;
    private SqliteConnection? _templateSource;
    private EngineContext? _context;
    private SqliteRowChaosSettings? _rowChaos;

    /// <summary>The template (path) each live clone was copied from, by connection string: lets rows chaos reuse the template's set of tables to shadow.</summary>
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _templateOf = new(StringComparer.Ordinal);
    private static int s_instances;
    private int _counter;

    /// <summary>Creates the engine.</summary>
    /// <exception cref="DeflakeConfigurationException">An option is invalid.</exception>
    public SqliteEngine(SqliteEngineOptions? options = null)
    {
        _options = options ?? new SqliteEngineOptions();
        _options.Validate();
        _root = Path.GetFullPath(_options.Directory ?? Path.Combine(DeflakeEnvironment.GetCacheDirectory(), "sqlite"));
        // One folder per engine instance, so several pools in one process each hold their own owner lock.
        var instance = Interlocked.Increment(ref s_instances);
        _ownerName = string.Create(CultureInfo.InvariantCulture, $"{ProcessIdentity.Token}-{instance}");
        _clonesDirectory = Path.Combine(_root, "clones");
        _ownerDirectory = Path.Combine(_clonesDirectory, _ownerName);
    }

    /// <inheritdoc />
    public string Kind => "sqlite";

    /// <inheritdoc />
    public DbProviderFactory ProviderFactory => SqliteFactory.Instance;

    /// <summary>The clone mode in use.</summary>
    public SqliteCloneMode CloneMode => _options.CloneMode;

    /// <summary>
    /// After the pool started: which tables <see cref="ChaosModes.Identities"/> gave their own id range, and which it
    /// could not (rowid tables without AUTOINCREMENT, also logged as a warning). Empty when identities is off.
    /// </summary>
    public IdentityChaosReport IdentityChaos { get; private set; } = IdentityChaosReport.Empty;

    internal string RootDirectory => _root;

    /// <summary>
    /// The folder this engine's file clones are made in (its own, held by its <c>owner.lock</c>), once the pool started:
    /// in memory (<c>/dev/shm/deflake-USER/sqlite-HASH/clones/OWNER</c>), in a chosen folder, or on disk
    /// (<c>clones/OWNER</c> in <see cref="SqliteEngineOptions.Directory"/>); see <see cref="SqliteEngineOptions.CloneDirectory"/>.
    /// </summary>
    public string CloneDirectory => _ownerDirectory;

    /// <summary>Why the clones are where they are (also logged at the start): the setting, or why memory was not used.</summary>
    internal string CloneDirectoryReason { get; private set; } = "";

    /// <summary>The setting that chose the engine's directory: the option when set, else <c>DEFLAKE_CACHE_DIR</c>.</summary>
    internal string DirectorySetting => _options.Directory is not null ? "SqliteEngineOptions.Directory" : DeflakeEnvironment.CacheDirectory;

    internal EngineContext Context => _context ?? throw new InvalidOperationException("The engine has not been started by a pool.");

    internal SqliteRowChaosSettings RowChaos => _rowChaos ?? throw new InvalidOperationException("The engine has not been started by a pool.");

    /// <inheritdoc />
    public async Task<string> StartAsync(EngineContext context, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(context);
        _context = context;
        _logger = context.Logger;
        _rowChaos = new SqliteRowChaosSettings(context.Seed, context.Logger);
        SettingFolders.CreateWritable(TemplatesDirectory, DirectorySetting);
        SettingFolders.Create(Path.Combine(_root, "kept"), DirectorySetting);

        if (_ownerLock is null)
        {
            var choice = await SqliteCloneFolders.ChooseAsync(_options, _root, cancellationToken).ConfigureAwait(false);
            (_clonesDirectory, _separateClonesDirectory, CloneDirectoryReason) = (choice.Clones, choice.Separate, choice.Reason);
            _ownerDirectory = Path.Combine(_clonesDirectory, _ownerName);
            SettingFolders.CreateWritable(_ownerDirectory, choice.Separate ? _options.ResolveCloneLocation().Setting : DirectorySetting);

            if (_options.CloneMode == SqliteCloneMode.File)
            {
                _logger.LogInformation("Deflake makes SQLite clones {Reason}: {Folder}", CloneDirectoryReason, _clonesDirectory);
            }
        }

        // Renamed into place already held: a pool starting in another process at the same moment collects owner
        // folders whose owner.lock is free, and must never find this one free between its creation and its lock.
        _ownerLock ??= CrossProcessLock.TryCreateHeld(Path.Combine(_ownerDirectory, OwnerLockFile))
            ?? throw new InvalidOperationException($"Deflake could not lock its own clone folder '{_ownerDirectory}'.");
        _ownerLock.WriteNote($"pid={ProcessIdentity.ProcessId} machine={ProcessIdentity.MachineName}");

        using var probe = new SqliteConnection("Data Source=:memory:");
        probe.Open();
        return probe.ServerVersion;
    }

    /// <inheritdoc />
    public async Task<EngineTemplate> EnsureTemplateAsync(TemplateRequest request, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(request);
        var path = Path.Combine(TemplatesDirectory, request.Fingerprint + ".db");
        var built = false;
        using (await AcquireBuildLockAsync(Path.ChangeExtension(path, ".lock"), cancellationToken).ConfigureAwait(false))
        {
            if (!File.Exists(path))
            {
                await BuildTemplateAsync(request, path, cancellationToken).ConfigureAwait(false);
                built = true;
            }

            // Under the build lock, so template collection (which takes it) sees this use; the touch is the last use.
            await HoldTemplateUseAsync(path, request.Lineage, cancellationToken).ConfigureAwait(false);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow);
        }

        _templateSource?.Dispose();
        _templateSource = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        _templateSource.Open();
        IdentityChaos = await SqliteTemplateChaos.ReportAsync(_templateSource, request.Chaos, request.Seed, cancellationToken).ConfigureAwait(false);
        if (IdentityChaos.NotCovered.Count > 0)
        {
            _logger.LogWarning("Deflake identities does not cover {Count} SQLite table(s); their next id is still the largest + 1: {Tables}",
                IdentityChaos.NotCovered.Count, string.Join("; ", IdentityChaos.NotCovered));
        }

        return new EngineTemplate(path, request.Fingerprint, built) { IdentitiesNotCovered = IdentityChaos.NotCovered };
    }

    private string TemplatesDirectory => Path.Combine(_root, "templates");

    /// <summary>
    /// Records the template's lineage in its sidecar if none is recorded yet (the first pool to use it, normally its
    /// builder), and holds the sidecar as a shared lock until the engine is disposed: every live pool using a template
    /// holds one, a process that dies releases its own, so a crash never pins a template. A clone is a copy and needs the
    /// template no more once made; the lock covers the copies, the memory clones' backup source and the pool's life.
    /// </summary>
    private async Task HoldTemplateUseAsync(string template, string? lineage, CancellationToken cancellationToken)
    {
        var sidecar = Path.ChangeExtension(template, LineageExtension);
        if (lineage is { Length: > 0 } && ReadLineage(sidecar) is null)
        {
            await File.WriteAllTextAsync(sidecar, lineage, cancellationToken).ConfigureAwait(false);
        }

        // Only a collector holds it exclusively, briefly and under the build lock this caller holds: free at once.
        var use = await CrossProcessLock.AcquireSharedAsync(sidecar, _options.TemplateBuildTimeout, cancellationToken).ConfigureAwait(false);
        Interlocked.Exchange(ref _templateUse, use)?.Dispose();
    }

    /// <summary>The lineage recorded in a template's sidecar; null when there is none or it cannot be read now.</summary>
    private static string? ReadLineage(string sidecar)
    {
        try
        {
            return File.Exists(sidecar) && File.ReadAllText(sidecar).Trim() is { Length: > 0 } lineage ? lineage : null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>The template files in <paramref name="templates"/>: only <c>&lt;fingerprint&gt;.db</c>, named as Deflake names them.</summary>
    private static IEnumerable<string> TemplateFiles(string templates)
        => Directory.GetFiles(templates, "*.db").Where(path => IsFingerprint(Path.GetFileNameWithoutExtension(path)));

    private static bool IsFingerprint(string name)
        => name.Length == Fingerprint.Length && name.All(c => c is >= '0' and <= '9' or >= 'a' and <= 'f');

    private async Task<CrossProcessLock> AcquireBuildLockAsync(string lockPath, CancellationToken cancellationToken)
    {
        try
        {
            return await CrossProcessLock.AcquireAsync(lockPath, _options.TemplateBuildTimeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new DeflakeConfigurationException("SqliteEngineOptions.TemplateBuildTimeout",
                $"another process has been building this template for over {_options.TemplateBuildTimeout}; raise the timeout or stop that process ({lockPath}).", ex);
        }
    }

    private async Task BuildTemplateAsync(TemplateRequest request, string path, CancellationToken cancellationToken)
    {
        var building = $"{path}.{ProcessIdentity.Token}.building";
        DeleteQuietly(building);
        try
        {
            var builder = new SqliteConnectionStringBuilder { DataSource = building, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false };
            var connection = new SqliteConnection(builder.ToString());
            await using (connection.ConfigureAwait(false))
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                try
                {
                    await request.Schema.ApplyAsync(connection, cancellationToken).ConfigureAwait(false);
                }
                catch (TemplateBuildException ex) when (ex.Line is null)
                {
                    throw SqliteMigrationErrors.Locate(ex, connection);
                }

                await SqliteTemplateChaos.ApplyAsync(connection, request, _logger, cancellationToken).ConfigureAwait(false);
                await ExecuteAsync(connection, "PRAGMA journal_mode = DELETE; VACUUM;", cancellationToken).ConfigureAwait(false);
            }

            File.Move(building, path, overwrite: false);
            _logger.LogInformation("Deflake built SQLite template {Path} from {Schema}", path, request.Schema.Name);
        }
        catch
        {
            DeleteQuietly(building);
            throw;
        }
    }

    /// <inheritdoc />
    /// <remarks>
    /// Under <see cref="ChaosModes.Rows"/> a file clone's chaos handle is opened here too, in the pool's background
    /// filler: one chaos connection is opened (tables to shadow worked out, schema loaded) and closed, and its pooled
    /// handle goes to the test's first connection (see <see cref="SqliteRowChaos.Prepare"/>). No view is made ahead:
    /// reads get the shuffle inlined, or a view made when a statement first names the table. Not for memory clones:
    /// Microsoft.Data.Sqlite does not pool connections to in-memory databases, so every open of one starts afresh.
    /// </remarks>
    public Task<EngineDatabase> CreateCloneAsync(EngineTemplate source, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        var n = Interlocked.Increment(ref _counter);
        var name = string.Create(CultureInfo.InvariantCulture, $"deflake_{source.Fingerprint[..8]}_{Path.GetFileName(_ownerDirectory)}_{n}");
        EngineDatabase clone;
        if (_options.CloneMode == SqliteCloneMode.File)
        {
            var path = Path.Combine(_ownerDirectory, name + ".db");
            File.Copy(source.Name, path, overwrite: true);
            var cs = new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWrite }.ToString();
            clone = new EngineDatabase(name, cs, null);
        }
        else
        {
            var memory = new SqliteConnectionStringBuilder { DataSource = name, Mode = SqliteOpenMode.Memory, Cache = SqliteCacheMode.Shared }.ToString();
            var keeper = new SqliteConnection(memory);
            keeper.Open();
            var templateSource = _templateSource ?? throw new InvalidOperationException("EnsureTemplateAsync must run before CreateCloneAsync.");
            lock (_backupLock)
            {
                templateSource.BackupDatabase(keeper);
            }

            clone = new EngineDatabase(name, memory, keeper);
        }

        if (_options.CloneMode == SqliteCloneMode.File)
        {
            try
            {
                if (Context.Chaos.HasFlag(ChaosModes.Rows))
                {
                    SqliteRowChaos.Prepare(clone.ConnectionString, RowChaos, source.Name);
                }
                else
                {
                    OpenAhead(clone.ConnectionString);
                }
            }
            catch
            {
                Remove(clone);
                throw;
            }
        }

        _templateOf[clone.ConnectionString] = source.Name;
        return Task.FromResult(clone);
    }

    /// <summary>
    /// Opens a file clone and reads its schema, in the pool's background filler, then closes it: the handle waits in
    /// Microsoft.Data.Sqlite's pool, schema loaded, for the test's first connection (the pool's or one the app opens
    /// from the connection string), which then skips opening the file and parsing the schema (measured: 0.3 ms of a
    /// 1.3 ms test in memory that commits 3 rows, down to 0.01 ms). <see cref="Remove"/> and keeping clear that pool.
    /// </summary>
    private static void OpenAhead(string connectionString)
    {
        using var connection = new SqliteConnection(connectionString);
        connection.Open();
        MakeDisposable(connection);
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT count(*) FROM sqlite_master";
        command.ExecuteScalar();
    }

    /// <summary>
    /// Sets a clone's pooled handle to keep its rollback journal in memory and skip syncing: a commit then creates, writes
    /// and deletes no journal file and waits for no flush (measured on tmpfs, 3 one-row commits and a count: 160 µs with
    /// the default journal, 60 µs so, 26 µs in an in-memory database). Locking is unchanged (still a rollback journal, not
    /// WAL, so readers and writers block each other as in the app's own database), and a rolled-back transaction still
    /// rolls back; only a process killed in the middle of a commit can leave the file damaged, and clones are thrown away.
    /// Both settings belong to the handle, which Microsoft.Data.Sqlite keeps in its pool for the test's first connection
    /// (the pool's or one the app opens from the connection string); a second connection open at the same time gets a
    /// new handle with SQLite's defaults, correct and slower.
    /// </summary>
    internal static void MakeDisposable(SqliteConnection connection)
    {
        using var command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode = MEMORY; PRAGMA synchronous = OFF;";
        command.ExecuteNonQuery();
    }

    /// <inheritdoc />
    public DbConnection CreateConnection(EngineDatabase database)
    {
        ArgumentNullException.ThrowIfNull(database);
        return SqliteRowChaos.Create(database.ConnectionString, Context, RowChaos, _templateOf.GetValueOrDefault(database.ConnectionString));
    }

    /// <inheritdoc />
    public Task DropCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        Remove(database);
        _templateOf.TryRemove(database.ConnectionString, out _);
        return Task.CompletedTask;
    }

    /// <summary>Closes the clone's pooled connections (plain and chaos), then deletes its files or its in-memory database.</summary>
    private static void Remove(EngineDatabase database)
    {
        ClearPools(database);
        if (database.State is SqliteConnection keeper)
        {
            keeper.Dispose();
        }
        else
        {
            var path = new SqliteConnectionStringBuilder(database.ConnectionString).DataSource;
            DeleteDatabaseFiles(path);
        }
    }

    private static void ClearPools(EngineDatabase database)
    {
        using (var forPool = new SqliteConnection(database.ConnectionString))
        {
            SqliteConnection.ClearPool(forPool);
        }

        // The chaos pool holds the handle the filler opened ahead of the test, even if the test never opened one.
        SqliteRowChaos.ClearPool(database.ConnectionString);
    }

    /// <inheritdoc />
    public Task<string> KeepCloneAsync(EngineDatabase database, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(database);
        var kept = Path.Combine(_root, "kept", database.Name + ".db");
        ClearPools(database);
        _templateOf.TryRemove(database.ConnectionString, out _);

        if (database.State is SqliteConnection keeper)
        {
            using var file = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = kept, Pooling = false }.ToString());
            file.Open();
            keeper.BackupDatabase(file);
            keeper.Dispose();
        }
        else
        {
            var path = new SqliteConnectionStringBuilder(database.ConnectionString).DataSource;
            File.Move(path, kept, overwrite: true);
            DeleteDatabaseFiles(path);
        }

        File.SetLastWriteTimeUtc(kept, DateTime.UtcNow);
        return Task.FromResult($"sqlite3 \"{kept}\"");
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _templateSource?.Dispose();
        _templateSource = null;
        Interlocked.Exchange(ref _templateUse, null)?.Dispose();
        if (_ownerLock is not null)
        {
            _ownerLock.Dispose();
            _ownerLock = null;
            try
            {
                if (Directory.Exists(_ownerDirectory) && Directory.GetFiles(_ownerDirectory, "deflake_*").Length == 0)
                {
                    DeleteQuietly(Path.Combine(_ownerDirectory, OwnerLockFile));
                    Directory.Delete(_ownerDirectory, recursive: false);
                    if (_separateClonesDirectory)
                    {
                        // The last engine of this directory out leaves no empty folder behind in memory.
                        SqliteCloneFolders.RemoveIfEmpty(_clonesDirectory);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // Another pool in this process still uses the folder, or a file appeared: leave it for collection.
            }
        }

        return ValueTask.CompletedTask;
    }

    private static async Task ExecuteAsync(SqliteConnection connection, string sql, CancellationToken cancellationToken)
    {
        var command = connection.CreateCommand();
        await using (command.ConfigureAwait(false))
        {
            command.CommandText = sql;
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static void DeleteDatabaseFiles(string path)
    {
        DeleteQuietly(path);
        DeleteQuietly(path + "-wal");
        DeleteQuietly(path + "-shm");
        DeleteQuietly(path + "-journal");
    }

    private static bool DeleteQuietly(string path)
    {
        try
        {
            if (!File.Exists(path))
            {
                return false;
            }

            File.Delete(path);
            return true;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }
}
