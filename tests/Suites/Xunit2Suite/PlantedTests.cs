using Deflake;
using Deflake.Xunit2;
using PlantedSuites;

// The one line for order, and the one line that gives every test its own database in TestDatabase.Current.
[assembly: DeflakeOrder]
[assembly: DeflakeDatabase(typeof(Xunit2Suite.SuiteDatabase))]

namespace Xunit2Suite;

/// <summary>The assembly's pool of SQLite databases.</summary>
public sealed class SuiteDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => Planted.Engine();

    protected override TestDatabaseOptions CreateOptions() => Planted.Options();
}

/// <summary>The polluter of the order-dependent pair.</summary>
public sealed class PluginTests
{
    [Fact]
    public void Registering_a_plugin_adds_it() => Planted.RegisterAPlugin();
}

/// <summary>The victim of the order-dependent pair.</summary>
public sealed class RegistryTests
{
    [Fact]
    public void A_new_registry_is_empty() => Planted.ANewRegistryIsEmpty();
}

public sealed class AuditTests
{
    [Fact]
    public Task The_audit_row_of_an_order_can_be_read_back() => Planted.TheAuditRowOfAnOrderCanBeReadBackAsync();

    [Fact]
    public Task The_audit_row_of_an_order_is_found_by_its_order() => Planted.TheAuditRowOfAnOrderIsFoundByItsOrderAsync();
}

public sealed class CustomerListTests
{
    [Fact]
    public Task Customers_are_listed_in_the_order_they_signed_up() => Planted.CustomersAreListedInTheOrderTheySignedUpAsync();

    [Fact]
    public Task Customers_are_listed_by_name() => Planted.CustomersAreListedByNameAsync();
}

/// <summary>One half of the parallel collision (xUnit v2 runs classes in parallel).</summary>
public sealed class ChargeTests
{
    [Fact]
    public Task Charging_the_sandbox_account_lowers_its_balance() => Planted.ChargingTheSandboxAccountLowersItsBalanceAsync();
}

/// <summary>The other half of the parallel collision.</summary>
public sealed class RefundTests
{
    [Fact]
    public Task Refunding_to_the_sandbox_account_raises_its_balance() => Planted.RefundingToTheSandboxAccountRaisesItsBalanceAsync();
}
