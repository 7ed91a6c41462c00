namespace Deflake.Tests;

public sealed class FingerprintTests
{
    [Fact]
    public void The_same_inputs_give_the_same_fingerprint()
    {
        Assert.Equal(
            Fingerprint.Compute("postgres", "150018", "abc", "none"),
            Fingerprint.Compute("postgres", "150018", "abc", "none"));
    }

    [Theory]
    [InlineData("sqlite", "150018", "abc", "none")]
    [InlineData("postgres", "160001", "abc", "none")]
    [InlineData("postgres", "150018", "abd", "none")]
    [InlineData("postgres", "150018", "abc", "identities:7")]
    public void Each_input_changes_the_fingerprint(string engine, string server, string schema, string chaos)
    {
        Assert.NotEqual(Fingerprint.Compute("postgres", "150018", "abc", "none"), Fingerprint.Compute(engine, server, schema, chaos));
    }

    [Fact]
    public void A_fingerprint_is_short_lowercase_hex_safe_in_names()
    {
        var fingerprint = Fingerprint.Compute("sqlite", "3.50.4", "x", "none");

        Assert.Equal(Fingerprint.Length, fingerprint.Length);
        Assert.Matches("^[0-9a-f]+$", fingerprint);
    }

    [Fact]
    public async Task A_sql_directory_fingerprint_covers_file_names_and_bytes()
    {
        var directory = Directory.CreateTempSubdirectory("deflake-fp-").FullName;
        try
        {
            await File.WriteAllTextAsync(Path.Combine(directory, "001.sql"), "CREATE TABLE a (id INT);", TestContext.Current.CancellationToken);
            var original = await SchemaSource.FromSqlDirectory(directory).ComputeFingerprintAsync(TestContext.Current.CancellationToken);

            await File.WriteAllTextAsync(Path.Combine(directory, "001.sql"), "CREATE TABLE a (id BIGINT);", TestContext.Current.CancellationToken);
            var edited = await SchemaSource.FromSqlDirectory(directory).ComputeFingerprintAsync(TestContext.Current.CancellationToken);

            File.Move(Path.Combine(directory, "001.sql"), Path.Combine(directory, "002.sql"));
            var renamed = await SchemaSource.FromSqlDirectory(directory).ComputeFingerprintAsync(TestContext.Current.CancellationToken);

            Assert.Equal(3, new[] { original, edited, renamed }.Distinct().Count());
        }
        finally
        {
            Directory.Delete(directory, recursive: true);
        }
    }

    [Fact]
    public async Task A_delegate_fingerprint_follows_its_declared_version()
    {
        static Task Apply(System.Data.Common.DbConnection c, CancellationToken ct) => Task.CompletedTask;

        var v1 = await SchemaSource.FromDelegate("shop", "1", Apply).ComputeFingerprintAsync(TestContext.Current.CancellationToken);
        var v1Again = await SchemaSource.FromDelegate("shop", "1", Apply).ComputeFingerprintAsync(TestContext.Current.CancellationToken);
        var v2 = await SchemaSource.FromDelegate("shop", "2", Apply).ComputeFingerprintAsync(TestContext.Current.CancellationToken);

        Assert.Equal(v1, v1Again);
        Assert.NotEqual(v1, v2);
    }

    [Fact]
    public async Task A_source_that_ignores_the_schema_context_gives_the_same_digest_with_it_as_without_it()
    {
        static Task Apply(System.Data.Common.DbConnection c, CancellationToken ct) => Task.CompletedTask;
        var schema = SchemaSource.FromDelegate("shop", "1", Apply);

        var without = await schema.ComputeFingerprintAsync(TestContext.Current.CancellationToken);
        var with = await schema.ComputeFingerprintAsync(new SchemaContext("sqlite", providerFactory: null), TestContext.Current.CancellationToken);

        Assert.Equal(without, with);
    }

    [Fact]
    public void A_schema_context_needs_an_engine_kind()
    {
        Assert.Throws<ArgumentException>(() => new SchemaContext(" ", null));
    }
}
