[assembly: Deflake.Xunit.Ordering.DeflakeOrder]

namespace OrderSuite;

/// <summary>State shared by the whole test process, as a shared database would be.</summary>
internal static class Shared
{
    public static bool CatalogSeeded { get; set; }

    public static int LedgerEntries { get; set; }
}

/// <summary>The state-setter: seeds the catalog the brittle test reads.</summary>
public sealed class CatalogSeedTests
{
    [Fact]
    public void Seeding_the_catalog_succeeds()
    {
        Shared.CatalogSeeded = true;
        Assert.True(Shared.CatalogSeeded);
    }
}

/// <summary>Brittle: passes only when the catalog was seeded before it, by another test.</summary>
public sealed class CatalogListTests
{
    [Fact]
    public void The_catalog_lists_the_seeded_products() => Assert.True(Shared.CatalogSeeded, "the catalog is empty: nothing seeded it");
}

/// <summary>First polluter: leaves an entry in the ledger.</summary>
public sealed class OrderTests
{
    [Fact]
    public void Placing_an_order_writes_the_ledger()
    {
        Shared.LedgerEntries++;
        Assert.True(Shared.LedgerEntries > 0);
    }
}

/// <summary>Second polluter, in another class: leaves an entry too.</summary>
public sealed class RefundTests
{
    [Fact]
    public void Refunding_writes_the_ledger()
    {
        Shared.LedgerEntries++;
        Assert.True(Shared.LedgerEntries > 0);
    }
}

/// <summary>The victim of both: expects an empty ledger.</summary>
public sealed class LedgerReportTests
{
    [Fact]
    public void A_new_ledger_reports_no_entries() => Assert.Equal(0, Shared.LedgerEntries);
}

/// <summary>Tests that touch nothing shared.</summary>
public sealed class ArithmeticTests
{
    [Fact]
    public void Two_and_two_make_four() => Assert.Equal(4, 2 + 2);

    [Fact]
    public void Ten_halved_is_five() => Assert.Equal(5, 10 / 2);
}

/// <summary>More tests that touch nothing shared.</summary>
public sealed class TextTests
{
    [Fact]
    public void Upper_case_of_deflake_is_DEFLAKE() => Assert.Equal("DEFLAKE", "deflake".ToUpperInvariant());

    [Fact]
    public void Trimming_removes_spaces() => Assert.Equal("a", " a ".Trim());
}
