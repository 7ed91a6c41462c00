using Deflake;
using Deflake.NUnit;
using PlantedSuites;

// The one line for order, and the one line that gives every test its own database in TestDatabase.Current.
[assembly: DeflakeOrder]
[assembly: DeflakeDatabase(typeof(NUnitSuite.SuiteDatabase))]

namespace NUnitSuite;

/// <summary>The assembly's pool of SQLite databases.</summary>
public sealed class SuiteDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => Planted.Engine();

    protected override TestDatabaseOptions CreateOptions() => Planted.Options();
}

/// <summary>The polluter of the order-dependent pair.</summary>
public sealed class PluginTests
{
    [Test]
    public void Registering_a_plugin_adds_it() => Planted.RegisterAPlugin();
}

/// <summary>The victim of the order-dependent pair.</summary>
public sealed class RegistryTests
{
    [Test]
    public void A_new_registry_is_empty() => Planted.ANewRegistryIsEmpty();
}

public sealed class AuditTests
{
    [Test]
    public Task The_audit_row_of_an_order_can_be_read_back() => Planted.TheAuditRowOfAnOrderCanBeReadBackAsync();

    [Test]
    public Task The_audit_row_of_an_order_is_found_by_its_order() => Planted.TheAuditRowOfAnOrderIsFoundByItsOrderAsync();
}

public sealed class CustomerListTests
{
    [Test]
    public Task Customers_are_listed_in_the_order_they_signed_up() => Planted.CustomersAreListedInTheOrderTheySignedUpAsync();

    [Test]
    public Task Customers_are_listed_by_name() => Planted.CustomersAreListedByNameAsync();
}

/// <summary>One half of the parallel collision: NUnit runs these two fixtures in parallel.</summary>
[Parallelizable(ParallelScope.Fixtures)]
public sealed class ChargeTests
{
    [Test]
    public Task Charging_the_sandbox_account_lowers_its_balance() => Planted.ChargingTheSandboxAccountLowersItsBalanceAsync();
}

/// <summary>The other half of the parallel collision.</summary>
[Parallelizable(ParallelScope.Fixtures)]
public sealed class RefundTests
{
    [Test]
    public Task Refunding_to_the_sandbox_account_raises_its_balance() => Planted.RefundingToTheSandboxAccountRaisesItsBalanceAsync();
}
