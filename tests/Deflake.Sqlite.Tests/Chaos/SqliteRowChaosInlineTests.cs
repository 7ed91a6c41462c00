using Deflake.Chaos.Stories;

namespace Deflake.Sqlite.Tests.Chaos;

/// <summary>
/// A read that stands plainly after FROM or JOIN gets the table's shuffle as a subquery in its place, which is what
/// SQLite makes of the view: the rows and their order must be exactly those the view gives, and anything the
/// tokenizer cannot place safely must still go through the view.
/// </summary>
public sealed class SqliteRowChaosInlineTests : IAsyncLifetime
{
    private readonly SqliteChaosPools _pools = new();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public ValueTask DisposeAsync() => _pools.DisposeAsync();

    private static CancellationToken Token => TestContext.Current.CancellationToken;

    private async Task<(List<long> Values, bool MadeView)> RunAsync(int seed, string sql, bool inlineReads)
    {
        var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, seed, inlineReads: inlineReads);
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            await using var connection = await database.OpenConnectionAsync(Token);
            await ChaosStories.InsertDeleteReinsertAsync(connection, Token);
            var values = await ChaosStories.ReadAsync(connection, sql, Token);
            return (values, Assert.IsType<ChaosSqliteConnection>(connection).Made.Contains("t"));
        }
    }

    [Theory]
    [InlineData("SELECT x FROM t")]
    [InlineData("SELECT x FROM t LIMIT 1")]
    [InlineData("select x from T;")]
    [InlineData("SELECT t.x FROM t WHERE t.x > 0")]
    [InlineData("SELECT o.x FROM t o")]
    [InlineData("SELECT o.x FROM t AS o WHERE o.x < 10")]
    [InlineData("SELECT x FROM \"t\"")]
    [InlineData("SELECT x FROM (SELECT x FROM t)")]
    [InlineData("WITH c AS (SELECT x FROM t) SELECT x FROM c")]
    [InlineData("SELECT t.x FROM tags JOIN t ON 1 = 1")]
    [InlineData("SELECT x FROM t WHERE x IN (SELECT x FROM t)")]
    [InlineData("SELECT x FROM t UNION ALL SELECT 10")]
    [InlineData("SELECT (SELECT x FROM t LIMIT 1) UNION ALL SELECT (SELECT x FROM t LIMIT 1 OFFSET 1) UNION ALL SELECT (SELECT x FROM t LIMIT 1 OFFSET 2)")]
    public async Task An_inlined_read_returns_what_the_view_returns_and_needs_no_view(string sql)
    {
        for (var seed = 1; seed <= 8; seed++)
        {
            var inlined = await RunAsync(seed, sql, inlineReads: true);
            var viewed = await RunAsync(seed, sql, inlineReads: false);
            Assert.Equal(viewed.Values, inlined.Values);
            Assert.False(inlined.MadeView);
            Assert.True(viewed.MadeView);
        }
    }

    [Theory]
    [InlineData("SELECT x FROM temp.t")]
    [InlineData("SELECT x FROM (SELECT 1) AS one, t")]
    [InlineData("SELECT x FROM t NOT INDEXED")]
    public async Task A_read_the_tokenizer_does_not_inline_goes_through_the_view(string sql)
    {
        for (var seed = 1; seed <= 4; seed++)
        {
            var inlined = await RunAsync(seed, sql, inlineReads: true);
            var viewed = await RunAsync(seed, sql, inlineReads: false);
            Assert.Equal(viewed.Values, inlined.Values);
            Assert.True(inlined.MadeView);
            Assert.Equal([1, 2, 3], inlined.Values.Order());
        }
    }

    [Fact]
    public async Task A_cte_named_like_a_table_is_read_not_replaced()
    {
        var (values, _) = await RunAsync(3, "WITH t AS (SELECT 5 AS x) SELECT x FROM t", inlineReads: true);
        Assert.Equal([5], values);
        (values, _) = await RunAsync(3, "WITH t (x) AS (SELECT 6) SELECT x FROM t", inlineReads: true);
        Assert.Equal([6], values);
    }

    [Fact]
    public async Task A_view_the_test_creates_keeps_its_text_and_a_write_reading_the_table_reads_the_shuffle()
    {
        var (pool, _) = await _pools.CreateAsync(ChaosModes.Rows, 5);
        await using (pool)
        {
            await using var database = await pool.RentAsync(Token);
            await using var connection = await database.OpenConnectionAsync(Token);
            await ChaosStories.InsertDeleteReinsertAsync(connection, Token);
            await ChaosStories.ExecuteAsync(connection, "CREATE VIEW mine AS SELECT x FROM t", Token);
            Assert.Equal(["CREATE VIEW mine AS SELECT x FROM t"], await ChaosStories.ReadTextAsync(connection, "SELECT sql FROM main.sqlite_schema WHERE name = 'mine'", Token));

            // INSERT … SELECT: the target is the table, the source the shuffle; order by rowid shows the copy's order.
            await ChaosStories.ExecuteAsync(connection, "CREATE TABLE copy (x INT)", Token);
            await ChaosStories.ExecuteAsync(connection, "INSERT INTO copy (x) SELECT x FROM t", Token);
            Assert.NotEqual(ChaosStories.InsertionOrder, await ChaosStories.ReadAsync(connection, "SELECT x FROM main.copy ORDER BY rowid", Token));
            Assert.Equal(await ChaosStories.ReadAsync(connection, "SELECT x FROM t", Token), await ChaosStories.ReadAsync(connection, "SELECT x FROM main.copy ORDER BY rowid", Token));
        }
    }

    [Theory]
    [InlineData("SELECT * FROM t", "SELECT * FROM (S:t) AS \"t\"", "")]
    [InlineData("SELECT * FROM t x WHERE x.a = 1", "SELECT * FROM (S:t) x WHERE x.a = 1", "")]
    [InlineData("SELECT * FROM t AS x", "SELECT * FROM (S:t) AS x", "")]
    [InlineData("SELECT * FROM u JOIN t ON u.a = t.a, t", "SELECT * FROM (S:u) AS \"u\" JOIN (S:t) AS \"t\" ON u.a = t.a, t", "t")]
    [InlineData("INSERT INTO t SELECT * FROM t", "INSERT INTO main.t SELECT * FROM (S:t) AS \"t\"", "")]
    [InlineData("UPDATE t SET a = 1 FROM u WHERE u.a = t.a", "UPDATE main.t SET a = 1 FROM (S:u) AS \"u\" WHERE u.a = t.a", "")]
    [InlineData("SELECT * FROM main.t", "SELECT * FROM main.t", "")]
    [InlineData("SELECT * FROM temp.t", "SELECT * FROM temp.t", "t")]
    [InlineData("SELECT 1 WHERE 2 IS DISTINCT FROM t", "SELECT 1 WHERE 2 IS DISTINCT FROM t", "t")]
    [InlineData("SELECT * FROM t INDEXED BY i", "SELECT * FROM t INDEXED BY i", "t")]
    [InlineData("SELECT * FROM t NOT INDEXED", "SELECT * FROM t NOT INDEXED", "t")]
    [InlineData("WITH t AS (SELECT 1) SELECT * FROM t", "WITH t AS (SELECT 1) SELECT * FROM t", "t")]
    [InlineData("CREATE VIEW v AS SELECT * FROM t", "CREATE VIEW v AS SELECT * FROM t", "t")]
    [InlineData("SELECT * FROM t -- no shuffle for 'FROM u'", "SELECT * FROM (S:t) AS \"t\" -- no shuffle for 'FROM u'", "")]
    public void The_tokenizer_inlines_plain_from_and_join_reads_only(string sql, string expected, string viewReads)
    {
        var shadowed = new HashSet<string>(["t", "u"], StringComparer.OrdinalIgnoreCase);
        var rewrite = SqliteStatements.QualifyWriteTargets(sql, shadowed, table => "S:" + table);
        Assert.Equal(expected, rewrite.Sql);
        Assert.Equal(viewReads, string.Join(',', rewrite.Reads));
    }
}
