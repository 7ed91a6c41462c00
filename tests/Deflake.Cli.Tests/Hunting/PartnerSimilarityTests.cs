using Deflake.Cli.Hunting;

namespace Deflake.Cli.Tests.Hunting;

public sealed class PartnerSimilarityTests
{
    [Fact]
    public void Words_come_from_the_method_name_and_messages_without_the_assertion_librarys_own_words()
    {
        var words = PartnerSimilarity.Words("Shop.ChargeTests.Charging_the_sandboxAccount", ["Assert.Equal() Failure: Values differ Expected: 7000 Actual: 9000", null]);

        Assert.Equal(["7000", "9000", "account", "charging", "sandbox"], words.Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public void Tests_that_fail_alike_score_higher_than_tests_that_do_not()
    {
        var charge = PartnerSimilarity.Words("B.ChargeTests.Charging_the_sandbox_account_lowers_its_balance", ["Expected: 7000 Actual: 9000"]);
        var refund = PartnerSimilarity.Words("B.RefundTests.Refunding_to_the_sandbox_account_raises_its_balance", ["Expected: 12000 Actual: 9000"]);
        var stock = PartnerSimilarity.Words("R.StockTests.The_stock_report_offers_three_periods", ["Expected: 3 Actual: 6"]);

        Assert.True(PartnerSimilarity.Score(charge, refund) > PartnerSimilarity.Score(charge, stock));
        Assert.Equal(0, PartnerSimilarity.Score(charge, stock));
        Assert.Equal(1, PartnerSimilarity.Score(stock, stock));
        Assert.Equal(0, PartnerSimilarity.Score(stock, new HashSet<string>()));
    }
}
