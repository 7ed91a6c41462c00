INSERT INTO products (sku, name, price_cents) VALUES
    ('MUG-01', 'Coffee mug', 900),
    ('TEE-01', 'T-shirt', 1900),
    ('CAP-01', 'Cap', 1500),
    ('PEN-01', 'Pen', 250),
    ('BAG-01', 'Tote bag', 1200);
