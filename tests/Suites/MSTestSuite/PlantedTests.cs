using Deflake;
using Deflake.MSTest;
using PlantedSuites;

// The line for order checks; every class is a [DeflakeTestClass]: its tests get their own database in TestDatabase.Current.
// MSTest runs classes in parallel here (deflake turns it off for its one-at-a-time runs).
[assembly: DeflakeOrder]
[assembly: Parallelize(Scope = ExecutionScope.ClassLevel, Workers = 4)]

namespace MSTestSuite;

/// <summary>The assembly's pool of SQLite databases.</summary>
public sealed class SuiteDatabase : DeflakeFixture
{
    protected override IDatabaseEngine CreateEngine() => Planted.Engine();

    protected override TestDatabaseOptions CreateOptions() => Planted.Options();
}

/// <summary>The polluter of the order-dependent pair.</summary>
[DeflakeTestClass(typeof(SuiteDatabase))]
public sealed class PluginTests
{
    [TestMethod]
    public void Registering_a_plugin_adds_it() => Planted.RegisterAPlugin();
}

/// <summary>The victim of the order-dependent pair.</summary>
[DeflakeTestClass(typeof(SuiteDatabase))]
public sealed class RegistryTests
{
    [TestMethod]
    public void A_new_registry_is_empty() => Planted.ANewRegistryIsEmpty();
}

[DeflakeTestClass(typeof(SuiteDatabase))]
public sealed class AuditTests
{
    [TestMethod]
    public Task The_audit_row_of_an_order_can_be_read_back() => Planted.TheAuditRowOfAnOrderCanBeReadBackAsync();

    [TestMethod]
    public Task The_audit_row_of_an_order_is_found_by_its_order() => Planted.TheAuditRowOfAnOrderIsFoundByItsOrderAsync();
}

[DeflakeTestClass(typeof(SuiteDatabase))]
public sealed class CustomerListTests
{
    [TestMethod]
    public Task Customers_are_listed_in_the_order_they_signed_up() => Planted.CustomersAreListedInTheOrderTheySignedUpAsync();

    [TestMethod]
    public Task Customers_are_listed_by_name() => Planted.CustomersAreListedByNameAsync();
}

/// <summary>One half of the parallel collision (MSTest runs classes in parallel here).</summary>
[DeflakeTestClass(typeof(SuiteDatabase))]
public sealed class ChargeTests
{
    [TestMethod]
    public Task Charging_the_sandbox_account_lowers_its_balance() => Planted.ChargingTheSandboxAccountLowersItsBalanceAsync();
}

/// <summary>The other half of the parallel collision.</summary>
[DeflakeTestClass(typeof(SuiteDatabase))]
public sealed class RefundTests
{
    [TestMethod]
    public Task Refunding_to_the_sandbox_account_raises_its_balance() => Planted.RefundingToTheSandboxAccountRaisesItsBalanceAsync();
}
