CREATE TABLE orders (id INTEGER PRIMARY KEY, product_id INTEGER REFERENCES products(id));
ALTER TABLE prodcts ADD COLUMN discontinued INTEGER;
