using System.Globalization;
using Microsoft.Data.Sqlite;

var builder = WebApplication.CreateBuilder(args);
builder.Logging.SetMinimumLevel(LogLevel.Warning);
var app = builder.Build();

// The app knows nothing of Deflake: it opens its database from ConnectionStrings:Shop.
app.MapGet("/items/count", async (IConfiguration configuration) =>
{
    await using var connection = new SqliteConnection(configuration.GetConnectionString("Shop"));
    await connection.OpenAsync();
    await using var command = connection.CreateCommand();
    command.CommandText = "SELECT COUNT(*) FROM items";
    return Convert.ToInt64(await command.ExecuteScalarAsync(), CultureInfo.InvariantCulture);
});

await app.RunAsync();

namespace ConfigApp
{
    /// <summary>What WebApplicationFactory starts: this assembly's entry point.</summary>
    public sealed class Marker;
}
