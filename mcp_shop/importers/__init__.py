"""Importers: a store's own product data (Shopify CSV, Google Merchant Center feed, Amazon item
metadata) into a shop catalog. Readers yield :mod:`.records`; the core writes the catalog."""
