using Deflake.Xunit.Ordering;
using Deflake.Testing;

namespace Deflake.Xunit.Tests.Ordering;

public sealed class TestOrderingTests
{
    private static readonly string[] Ids = Enumerable.Range(0, 200).Select(i => $"Shop.Tests.Class{i % 7}.Test{i}").ToArray();

    [Fact]
    public void Random_order_is_the_same_for_the_same_seed()
    {
        var first = TestOrdering.Random(Ids, 42, id => id);
        var second = TestOrdering.Random(Ids.Reverse(), 42, id => id);

        Assert.Equal(first, second);
    }

    [Fact]
    public void Random_order_differs_between_seeds()
    {
        Assert.NotEqual(TestOrdering.Random(Ids, 1, id => id), TestOrdering.Random(Ids, 2, id => id));
    }

    [Fact]
    public void Random_order_is_a_permutation()
    {
        Assert.Equal(Ids.Order(StringComparer.Ordinal), TestOrdering.Random(Ids, 7, id => id).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Random_order_is_subset_stable_so_a_filtered_rerun_keeps_relative_order()
    {
        var full = TestOrdering.Random(Ids, 12345, id => id);
        var subset = Ids.Where((_, i) => i % 3 == 0).ToArray();

        var filtered = TestOrdering.Random(subset, 12345, id => id);

        Assert.Equal(full.Where(subset.Contains), filtered);
    }

    [Fact]
    public void Random_key_is_stable_across_processes_and_platforms()
    {
        // Pinned values: a change here changes every recorded reproduction command.
        Assert.Equal(0xb6742c05ac0de482UL, TestOrdering.RandomKey(12345, "Shop.Tests.A.B"));
        Assert.NotEqual(TestOrdering.RandomKey(1, "A.B"), TestOrdering.RandomKey(2, "A.B"));
        Assert.NotEqual(TestOrdering.RandomKey(1, "A.B"), TestOrdering.RandomKey(1, "A.C"));
    }

    [Fact]
    public void Random_order_breaks_ties_between_rows_of_one_theory_deterministically()
    {
        var rows = new[] { ("T.M", "row-b"), ("T.M", "row-a"), ("T.N", "row-c") };

        var first = TestOrdering.Random(rows, 3, r => r.Item1, r => r.Item2);
        var second = TestOrdering.Random(rows.Reverse(), 3, r => r.Item1, r => r.Item2);

        Assert.Equal(first, second);
    }

    [Fact]
    public void Listed_order_runs_exactly_the_listed_tests_in_file_order()
    {
        var list = new[] { "C.Z", "A.X", "B.Y" };

        var ordered = TestOrdering.Listed(new[] { "A.X", "B.Y", "C.Z", "D.W" }, list, id => id);

        Assert.Equal(list, ordered);
    }

    [Fact]
    public void Listed_order_keeps_a_class_together_and_runs_the_last_listed_test_last()
    {
        // A.1 is listed first, but A's other test is the victim listed last: class A must run after class P.
        var list = new[] { "A.1", "P.1", "A.2" };

        var ordered = TestOrdering.Listed(list.Reverse(), list, id => id, id => id[..id.IndexOf('.', StringComparison.Ordinal)]);

        Assert.Equal(new[] { "P.1", "A.1", "A.2" }, ordered);
    }

    [Fact]
    public void Listed_groups_are_ordered_by_their_last_listed_member_and_unlisted_groups_are_dropped()
    {
        var members = new Dictionary<string, string[]>
        {
            ["first"] = ["A.1", "A.2"],
            ["second"] = ["B.1"],
            ["unlisted"] = ["C.1"],
        };

        var ordered = TestOrdering.ListedGroups(members.Keys, ["A.1", "B.1", "A.2"], g => members[g]);

        Assert.Equal(new[] { "second", "first" }, ordered);
    }

    [Fact]
    public void Setting_reads_random_with_its_seed()
    {
        var setting = TestOrderSetting.FromEnvironment(name => name switch
        {
            "DEFLAKE_ORDER" => "random",
            "DEFLAKE_SEED" => "99",
            _ => null,
        });

        Assert.Equal(TestOrderKind.Random, setting.Kind);
        Assert.Equal(99, setting.Seed);
    }

    [Theory]
    [InlineData(null, TestOrderKind.Default)]
    [InlineData("", TestOrderKind.Default)]
    [InlineData("reverse", TestOrderKind.Reverse)]
    [InlineData("Reverse", TestOrderKind.Reverse)]
    public void Setting_reads_the_named_orders(string? value, TestOrderKind expected)
    {
        Assert.Equal(expected, TestOrderSetting.FromEnvironment(name => name == "DEFLAKE_ORDER" ? value : null).Kind);
    }

    [Fact]
    public void Setting_reads_a_file_of_test_ids_skipping_comments_blanks_and_duplicates()
    {
        var path = Path.Combine(Path.GetTempPath(), $"deflake-order-{Guid.NewGuid():N}.txt");
        File.WriteAllLines(path, ["# victim last", "A.One", "", "  B.Two  ", "A.One"]);
        try
        {
            var setting = TestOrderSetting.FromEnvironment(name => name == "DEFLAKE_ORDER" ? path : null);

            Assert.Equal(TestOrderKind.File, setting.Kind);
            Assert.Equal(new[] { "A.One", "B.Two" }, setting.TestIds);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Setting_names_the_variable_when_the_order_is_neither_a_keyword_nor_a_file()
    {
        var ex = Assert.Throws<DeflakeConfigurationException>(() =>
            TestOrderSetting.FromEnvironment(name => name == "DEFLAKE_ORDER" ? "/no/such/file.txt" : null));

        Assert.Contains("DEFLAKE_ORDER", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void An_unreadable_order_file_lets_the_orderers_be_made_and_fails_the_ordering_with_a_one_line_error()
    {
        // xUnit logs an orderer whose constructor throws as a diagnostic and runs its own order: the error must come
        // when xUnit asks for the order, which stops the run.
        var read = TestOrderSetting.Read(() => TestOrderSetting.FromEnvironment(name => name == "DEFLAKE_ORDER" ? "no-such-file.txt" : null));
        var caseOrderer = new DeflakeTestCaseOrderer(read);
        var collectionOrderer = new DeflakeTestCollectionOrderer(read);

        var error = Assert.Throws<DeflakeConfigurationException>(() => caseOrderer.OrderTestCases(Array.Empty<global::Xunit.v3.IXunitTestCase>()));
        Assert.Throws<DeflakeConfigurationException>(() => collectionOrderer.OrderTestCollections(Array.Empty<global::Xunit.v3.IXunitTestCollection>()));

        Assert.Equal(DeflakeEnvironment.Order, error.Setting);
        Assert.DoesNotContain("\n", error.Message, StringComparison.Ordinal);
        Assert.Contains("'no-such-file.txt' is neither 'random' nor 'reverse' nor a readable file of test ids", error.Message, StringComparison.Ordinal);
        Assert.Contains("absolute path", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_relative_order_file_not_found_in_the_current_folder_is_read_from_the_shells_folder()
    {
        var folder = Directory.CreateTempSubdirectory("deflake-pwd-").FullName;
        try
        {
            File.WriteAllLines(Path.Combine(folder, "deflake-order-relative.txt"), ["A.One", "B.Two"]);

            var setting = TestOrderSetting.FromEnvironment(name => name switch
            {
                "DEFLAKE_ORDER" => "deflake-order-relative.txt",
                "PWD" => folder,
                _ => null,
            });

            Assert.Equal(new[] { "A.One", "B.Two" }, setting.TestIds);
            Assert.Equal(Path.Combine(folder, "deflake-order-relative.txt"), setting.FilePath);
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
