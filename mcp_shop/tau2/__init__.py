"""tau2-bench's retail domain on this shop: its records, reading a user's checkout, and (later)
its world as a shop session. The domain side: nothing here imports ``mcp``."""

from mcp_shop.tau2.loader import Tau2DataError, Tau2Retail, find_domain_dir, load_tau2_retail

__all__ = ["Tau2DataError", "Tau2Retail", "find_domain_dir", "load_tau2_retail"]
