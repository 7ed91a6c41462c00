using System.Data.Common;
using System.Globalization;

namespace Shop;

public sealed record Customer(long Id, string Email, string Name);

public sealed record Product(long Id, string Sku, string Name, long PriceCents);

public sealed record OrderLine(long ProductId, long Quantity, long PriceCents);

public sealed record Order(long Id, long CustomerId, long TotalCents, IReadOnlyList<OrderLine> Lines);

public sealed record AuditEntry(long Id, string Entity, long EntityId, string Action);

/// <summary>The shop's data access: plain ADO.NET over any open connection.</summary>
public sealed class ShopService(DbConnection connection, TimeProvider? time = null)
{
    private readonly TimeProvider _time = time ?? TimeProvider.System;

    public async Task<Customer> CreateCustomerAsync(string email, string name, CancellationToken cancellationToken = default)
    {
        var id = await ScalarAsync("INSERT INTO customers (email, name) VALUES (@email, @name) RETURNING id", cancellationToken, ("email", email), ("name", name));
        return new Customer(id, email, name);
    }

    public async Task<IReadOnlyList<Product>> ListProductsAsync(CancellationToken cancellationToken = default)
    {
        var products = new List<Product>();
        await using var command = Command("SELECT id, sku, name, price_cents FROM products ORDER BY sku");
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            products.Add(new Product(reader.GetInt64(0), reader.GetString(1), reader.GetString(2), reader.GetInt64(3)));
        }

        return products;
    }

    public async Task<long> AddToCartAsync(long customerId, string sku, int quantity, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(quantity);
        var cartId = await CartIdAsync(customerId, cancellationToken);
        var productId = await ScalarAsync("SELECT id FROM products WHERE sku = @sku", cancellationToken, ("sku", sku));
        await ExecuteAsync(
            "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (@cart, @product, @quantity) " +
            "ON CONFLICT (cart_id, product_id) DO UPDATE SET quantity = cart_items.quantity + excluded.quantity",
            cancellationToken, ("cart", cartId), ("product", productId), ("quantity", quantity));
        return cartId;
    }

    public async Task EmptyCartAsync(long customerId, CancellationToken cancellationToken = default)
    {
        var cartId = await CartIdAsync(customerId, cancellationToken);
        await ExecuteAsync("DELETE FROM cart_items WHERE cart_id = @cart", cancellationToken, ("cart", cartId));
    }

    public async Task<int> CartItemCountAsync(long customerId, CancellationToken cancellationToken = default)
    {
        var cartId = await CartIdAsync(customerId, cancellationToken);
        return (int)await ScalarAsync("SELECT COALESCE(SUM(quantity), 0) FROM cart_items WHERE cart_id = @cart", cancellationToken, ("cart", cartId));
    }

    /// <summary>Turns the cart into an order with its lines and its paired audit row, in one transaction.</summary>
    public async Task<Order> CheckoutAsync(long customerId, CancellationToken cancellationToken = default)
    {
        var cartId = await CartIdAsync(customerId, cancellationToken);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
        var total = await ScalarAsync(
            "SELECT COALESCE(SUM(ci.quantity * p.price_cents), 0) FROM cart_items ci JOIN products p ON p.id = ci.product_id WHERE ci.cart_id = @cart",
            cancellationToken, ("cart", cartId));
        if (total == 0)
        {
            throw new InvalidOperationException($"Customer {customerId} has an empty cart.");
        }

        var now = _time.GetUtcNow().ToString("O", CultureInfo.InvariantCulture);
        var orderId = await ScalarAsync(
            "INSERT INTO orders (customer_id, total_cents, created_at) VALUES (@customer, @total, @at) RETURNING id",
            cancellationToken, ("customer", customerId), ("total", total), ("at", now));
        await ExecuteAsync(
            "INSERT INTO order_lines (order_id, product_id, quantity, price_cents) " +
            "SELECT @order, ci.product_id, ci.quantity, p.price_cents FROM cart_items ci JOIN products p ON p.id = ci.product_id WHERE ci.cart_id = @cart ORDER BY ci.product_id",
            cancellationToken, ("order", orderId), ("cart", cartId));
        await ExecuteAsync(
            "INSERT INTO audit_log (entity, entity_id, action, at) VALUES ('order', @order, 'created', @at)",
            cancellationToken, ("order", orderId), ("at", now));
        await ExecuteAsync("DELETE FROM cart_items WHERE cart_id = @cart", cancellationToken, ("cart", cartId));
        await transaction.CommitAsync(cancellationToken);
        return await GetOrderAsync(orderId, cancellationToken) ?? throw new InvalidOperationException($"Order {orderId} vanished.");
    }

    public async Task<Order?> GetOrderAsync(long orderId, CancellationToken cancellationToken = default)
    {
        long customerId;
        long total;
        await using (var command = Command("SELECT customer_id, total_cents FROM orders WHERE id = @id", ("id", orderId)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            if (!await reader.ReadAsync(cancellationToken))
            {
                return null;
            }

            customerId = reader.GetInt64(0);
            total = reader.GetInt64(1);
        }

        var lines = new List<OrderLine>();
        await using (var command = Command("SELECT product_id, quantity, price_cents FROM order_lines WHERE order_id = @id ORDER BY id", ("id", orderId)))
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken))
        {
            while (await reader.ReadAsync(cancellationToken))
            {
                lines.Add(new OrderLine(reader.GetInt64(0), reader.GetInt64(1), reader.GetInt64(2)));
            }
        }

        return new Order(orderId, customerId, total, lines);
    }

    public async Task<IReadOnlyList<long>> ListOrderIdsAsync(long customerId, CancellationToken cancellationToken = default)
    {
        var ids = new List<long>();
        await using var command = Command("SELECT id FROM orders WHERE customer_id = @customer ORDER BY id", ("customer", customerId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            ids.Add(reader.GetInt64(0));
        }

        return ids;
    }

    public async Task<IReadOnlyList<AuditEntry>> AuditForAsync(string entity, long entityId, CancellationToken cancellationToken = default)
    {
        var entries = new List<AuditEntry>();
        await using var command = Command("SELECT id, entity, entity_id, action FROM audit_log WHERE entity = @entity AND entity_id = @id ORDER BY id", ("entity", entity), ("id", entityId));
        await using var reader = await command.ExecuteReaderAsync(cancellationToken);
        while (await reader.ReadAsync(cancellationToken))
        {
            entries.Add(new AuditEntry(reader.GetInt64(0), reader.GetString(1), reader.GetInt64(2), reader.GetString(3)));
        }

        return entries;
    }

    private async Task<long> CartIdAsync(long customerId, CancellationToken cancellationToken)
    {
        await ExecuteAsync("INSERT INTO carts (customer_id) VALUES (@customer) ON CONFLICT (customer_id) DO NOTHING", cancellationToken, ("customer", customerId));
        return await ScalarAsync("SELECT id FROM carts WHERE customer_id = @customer", cancellationToken, ("customer", customerId));
    }

    private DbCommand Command(string sql, params (string Name, object Value)[] parameters)
    {
        var command = connection.CreateCommand();
        command.CommandText = sql;
        foreach (var (name, value) in parameters)
        {
            var parameter = command.CreateParameter();
            parameter.ParameterName = "@" + name;
            parameter.Value = value;
            command.Parameters.Add(parameter);
        }

        return command;
    }

    private async Task<long> ScalarAsync(string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(sql, parameters);
        var result = await command.ExecuteScalarAsync(cancellationToken);
        return result is null or DBNull
            ? throw new InvalidOperationException($"No row for: {sql}")
            : Convert.ToInt64(result, CultureInfo.InvariantCulture);
    }

    private async Task ExecuteAsync(string sql, CancellationToken cancellationToken, params (string Name, object Value)[] parameters)
    {
        await using var command = Command(sql, parameters);
        await command.ExecuteNonQueryAsync(cancellationToken);
    }
}
