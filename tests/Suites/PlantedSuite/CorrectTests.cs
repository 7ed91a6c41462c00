using System.Globalization;
using System.Text;

namespace PlantedSuite;

/// <summary>Correct tests that touch nothing shared: a hunt must never flag them.</summary>
public sealed class ArithmeticTests
{
    [Fact]
    public void Two_and_two_make_four() => Assert.Equal(4, 2 + 2);

    [Fact]
    public void Ten_halved_is_five() => Assert.Equal(5, 10 / 2);

    [Fact]
    public void Seven_squared_is_forty_nine() => Assert.Equal(49, 7 * 7);

    [Fact]
    public void Integer_division_truncates() => Assert.Equal(2, 7 / 3);

    [Theory]
    [InlineData(3, 4, 7)]
    [InlineData(-1, 1, 0)]
    public void Addition_adds(int a, int b, int sum) => Assert.Equal(sum, a + b);
}

/// <summary>More correct tests.</summary>
public sealed class TextTests
{
    [Fact]
    public void Upper_case_is_invariant() => Assert.Equal("DEFLAKE", "deflake".ToUpperInvariant());

    [Fact]
    public void Trimming_removes_spaces() => Assert.Equal("a", " a ".Trim());

    [Fact]
    public void A_builder_appends_in_order() => Assert.Equal("abc", new StringBuilder().Append('a').Append("bc").ToString());

    [Fact]
    public void Splitting_a_comma_list_gives_its_parts() => Assert.Equal(["a", "b", "c"], "a,b,c".Split(','));

    [Fact]
    public void An_invariant_number_uses_a_dot() => Assert.Equal("1.5", 1.5.ToString(CultureInfo.InvariantCulture));

    [Fact]
    public void Ordinal_comparison_ignores_culture() => Assert.Equal(0, string.Compare("file", "FILE", StringComparison.OrdinalIgnoreCase));
}

/// <summary>More correct tests.</summary>
public sealed class CollectionTests
{
    [Fact]
    public void A_sorted_list_is_ascending() => Assert.Equal([1, 2, 3], new List<int> { 3, 1, 2 }.Order());

    [Fact]
    public void A_set_holds_each_item_once() => Assert.Equal(2, new HashSet<string>(StringComparer.Ordinal) { "a", "a", "b" }.Count);

    [Fact]
    public void A_dictionary_finds_its_keys() => Assert.Equal(2, new Dictionary<string, int>(StringComparer.Ordinal) { ["b"] = 2 }["b"]);

    [Fact]
    public void Reversing_twice_gives_the_list_back() => Assert.Equal([1, 2, 3], new[] { 1, 2, 3 }.Reverse().Reverse());

    [Fact]
    public void Sum_of_nothing_is_zero() => Assert.Equal(0, Array.Empty<int>().Sum());

    [Fact]
    public void Distinct_drops_repeats() => Assert.Equal([1, 2], new[] { 1, 1, 2 }.Distinct());
}

/// <summary>More correct tests.</summary>
public sealed class DateTests
{
    [Fact]
    public void A_leap_year_has_a_29th_of_February() => Assert.Equal(29, DateTime.DaysInMonth(2024, 2));

    [Fact]
    public void A_week_has_seven_days() => Assert.Equal(7, TimeSpan.FromDays(7).TotalDays);

    [Fact]
    public void An_invariant_date_parses() => Assert.Equal(new DateOnly(2026, 12, 6), DateOnly.Parse("2026-12-06", CultureInfo.InvariantCulture));
}
