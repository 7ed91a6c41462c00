using Xunit;

namespace Deflake.Xunit;

/// <summary>
/// Base class for a test class whose every test gets its own database in <see cref="Database"/>. When a test
/// fails and <c>DEFLAKE_KEEP_FAILED=1</c> (or <see cref="TestDatabaseOptions.KeepFailed"/>), the database is kept
/// and the test output says how to connect to it.
/// </summary>
/// <typeparam name="TFixture">The assembly fixture that owns the pool.</typeparam>
/// <example>
/// <code>
/// public sealed class CartTests(ShopDatabase db) : DatabaseTest&lt;ShopDatabase&gt;(db)
/// {
///     [Fact]
///     public async Task Checkout_creates_one_order()
///     {
///         await using var connection = await Database.OpenConnectionAsync();
///         // ...
///     }
/// }
/// </code>
/// </example>
public abstract class DatabaseTest<TFixture> : IAsyncLifetime
    where TFixture : DeflakeFixture
{
    private TestDatabase? _database;

    /// <summary>Takes the assembly fixture.</summary>
    protected DatabaseTest(TFixture fixture)
    {
        ArgumentNullException.ThrowIfNull(fixture);
        Fixture = fixture;
    }

    /// <summary>The assembly fixture.</summary>
    protected TFixture Fixture { get; }

    /// <summary>This test's own database.</summary>
    protected TestDatabase Database => _database ?? throw new InvalidOperationException("The database is created in InitializeAsync; call base.InitializeAsync() when you override it.");

    /// <summary>Rents this test's database.</summary>
    public virtual async ValueTask InitializeAsync()
    {
        _database = await Fixture.RentAsync(TestContext.Current.CancellationToken).ConfigureAwait(false);
        DeflakeDatabaseAttribute.SetCurrent(_database);
    }

    /// <summary>Drops a test's database, or keeps it when the test failed and keeping is on, and says where in the output.</summary>
    internal static async ValueTask ReleaseAsync(TestDatabase database)
    {
        if (TestContext.Current.TestState?.Result == TestResult.Failed)
        {
            database.MarkFailed();
        }

        await database.DisposeAsync().ConfigureAwait(false);
        if (database.KeptAt is { } where)
        {
            var line = $"Deflake kept this test's {database.EngineKind} database {database.Name}: {where} (seed {database.Seed})";
            TestContext.Current.TestOutputHelper?.WriteLine(line);
            await Console.Error.WriteLineAsync(line).ConfigureAwait(false);
        }
    }

    /// <summary>Drops the database, or keeps it when the test failed and keeping is on.</summary>
    public virtual async ValueTask DisposeAsync()
    {
        var database = Interlocked.Exchange(ref _database, null);
        if (database is not null)
        {
            DeflakeDatabaseAttribute.SetCurrent(null);
            await ReleaseAsync(database).ConfigureAwait(false);
        }

        GC.SuppressFinalize(this);
    }
}
