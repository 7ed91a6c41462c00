using System.Text.RegularExpressions;

namespace Deflake.Tests;

public sealed partial class UniqueValueTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public void A_name_reads_as_prefix_worker_counter_and_run_token()
    {
        var name = UniqueValue.Name("user");
        var match = NameShape().Match(name);
        Assert.True(match.Success, name);
        Assert.Equal(("user", DeflakeWorker.Id, UniqueValue.RunToken), (match.Groups[1].Value, match.Groups[2].Value, match.Groups[4].Value));
        Assert.True(name.Length <= UniqueValue.DefaultMaxLength, name);
    }

    [Fact]
    public void Names_of_one_process_never_repeat()
    {
        var names = Enumerable.Range(0, 10_000).AsParallel().Select(_ => UniqueValue.Name("x")).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void A_long_prefix_is_shortened_to_fit_the_maximum_length()
    {
        const string Prefix = "a-very-long-prefix-that-describes-the-customer";
        var name = UniqueValue.Name(Prefix, maxLength: 24);
        Assert.Equal(24, name.Length);

        // The counter is shared by every test of this process, so its width (4 digits or more) is not known here:
        // what must hold is that the prefix kept is a non-empty start of the given one and the suffix is whole.
        var match = NameShape().Match(name);
        Assert.True(match.Success, name);
        var kept = match.Groups[1].Value;
        Assert.NotEmpty(kept);
        Assert.True(kept.Length < Prefix.Length, name);
        Assert.StartsWith(kept, Prefix, StringComparison.Ordinal);
        Assert.EndsWith("-" + UniqueValue.RunToken, name, StringComparison.Ordinal);
    }

    [Fact]
    public void A_maximum_length_without_room_for_the_prefix_is_rejected()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => UniqueValue.Name("user", maxLength: 8));
        Assert.Equal("maxLength", error.ParamName);
        Assert.Contains("needs at least", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("")]
    [InlineData("has space")]
    [InlineData("at@sign")]
    [InlineData("ünï")]
    public void A_prefix_outside_letters_digits_and_dash_underscore_dot_is_rejected(string prefix)
    {
        var error = Assert.Throws<ArgumentException>(() => UniqueValue.Name(prefix));
        Assert.Equal("prefix", error.ParamName);
    }

    [Fact]
    public void An_email_has_a_unique_local_part_and_a_domain_that_never_delivers()
    {
        var email = UniqueValue.Email();
        Assert.Matches(@"^user-w\d+-\d{4,}-[0-9a-z]{4}@example\.test$", email);
        Assert.Equal("shop.example", UniqueValue.Email("buyer", "shop.example").Split('@')[1]);
        Assert.Throws<ArgumentException>(() => UniqueValue.Email("buyer", "bad domain"));
        Assert.Throws<ArgumentOutOfRangeException>(() => UniqueValue.Email("buyer", maxLocalPartLength: 65));
    }

    [Fact]
    public void Numbers_start_with_the_worker_index_plus_one()
    {
        var number = UniqueValue.Number();
        Assert.Equal(DeflakeWorker.Index + 1, number / 1_000_000_000L);
        Assert.NotEqual(number, UniqueValue.Number());
    }

    [Fact]
    public async Task Concurrent_processes_with_one_seed_produce_distinct_values_with_one_run_token()
    {
        var environment = new Dictionary<string, string?>
        {
            [DeflakeEnvironment.RuntimeDirectory] = _directory.Path,
            [DeflakeEnvironment.Seed] = "1234",
            [DeflakeWorker.EnvironmentVariable] = null,
        };
        var children = Enumerable.Range(0, 3).Select(_ => HostChild.Start("worker-id", ["--count", "500"], environment)).ToList();
        try
        {
            var values = new List<string>();
            foreach (var child in children)
            {
                await child.ReadLineStartingAsync("done", TimeSpan.FromSeconds(60));
                values.AddRange(child.Stdout.Split('\n').Where(l => l.StartsWith("value ", StringComparison.Ordinal)).Select(l => l["value ".Length..].Trim()));
            }

            Assert.Equal(1500, values.Count);
            Assert.Equal(1500, values.Distinct(StringComparer.Ordinal).Count());
            Assert.Single(values.Select(v => v[^4..]).Distinct(StringComparer.Ordinal)); // the seed's run token
            Assert.All(values, v => Assert.InRange(v.Length, 1, 32));
        }
        finally
        {
            foreach (var child in children)
            {
                await child.DisposeAsync();
            }
        }
    }

    [GeneratedRegex(@"^([A-Za-z0-9_.-]+?)-(w\d+)-(\d{4,})-([0-9a-z]{4})$")]
    private static partial Regex NameShape();
}
