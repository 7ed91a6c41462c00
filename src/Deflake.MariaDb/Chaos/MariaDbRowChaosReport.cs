namespace Deflake.MariaDb;

/// <summary>What <see cref="ChaosModes.Rows"/> did to a MariaDB template: which tables read through an ordered view, which are not guaranteed.</summary>
/// <param name="Orders">Per table (its name, which is now the view's), the view's <c>ORDER BY</c> clause, e.g. <c>ORDER BY `id` DESC</c>.</param>
/// <param name="NotCovered">
/// Tables and views whose unordered reads are not guaranteed to differ from the server's own order, each with the reason:
/// tables without a primary key (still ordered, by all their columns descending), tables of another engine than InnoDB,
/// partitioned tables, views of the schema (MariaDB drops the order of a view read inside another view), and tables with
/// an <c>INVISIBLE</c> column, which are left as tables (a view would drop the column).
/// </param>
public sealed record MariaDbRowChaosReport(IReadOnlyDictionary<string, string> Orders, IReadOnlyList<string> NotCovered)
{
    /// <summary>An empty report (rows off, or a template this engine did not build).</summary>
    public static MariaDbRowChaosReport Empty { get; } = new(new Dictionary<string, string>(), []);
}
