using Deflake.Contract;
using Microsoft.Data.Sqlite;

namespace Deflake.Sqlite.Tests;

public abstract class SqliteContractTests(SqliteCloneMode mode) : EngineContractTests
{
    protected string EngineDirectory => Path.Combine(Scratch, "engine");

    protected override IDatabaseEngine CreateEngine() => new SqliteEngine(new SqliteEngineOptions { CloneMode = mode, Directory = EngineDirectory });

    protected override Task<bool> ExistsAsync(string name, string connectionString)
    {
        // A kept database (either mode) is moved or written to the kept folder.
        if (File.Exists(Path.Combine(EngineDirectory, "kept", name + ".db")))
        {
            return Task.FromResult(true);
        }

        if (mode == SqliteCloneMode.File)
        {
            return Task.FromResult(File.Exists(new SqliteConnectionStringBuilder(connectionString).DataSource));
        }

        // An in-memory clone exists while it has tables.

        using var probe = new SqliteConnection(connectionString);
        probe.Open();
        using var command = probe.CreateCommand();
        command.CommandText = "SELECT COUNT(*) FROM sqlite_master";
        return Task.FromResult(Convert.ToInt64(command.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) > 0);
    }

    protected override Task RemoveKeptAsync(string name, string connectionString)
    {
        File.Delete(Path.Combine(EngineDirectory, "kept", name + ".db"));
        return Task.CompletedTask;
    }
}

public sealed class SqliteFileCloneContractTests() : SqliteContractTests(SqliteCloneMode.File);

public sealed class SqliteMemoryCloneContractTests() : SqliteContractTests(SqliteCloneMode.Memory);
