"""``mcp-shop serve``: the catalog is built on first start and reused after, a mismatched
catalog is refused with a clear message, and on stdio nothing but protocol reaches stdout."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client


async def _first_hit(params: StdioServerParameters, errlog: Path) -> str:
    with open(errlog, "w") as err:
        async with Client(stdio_client(params, errlog=err)) as client:
            page = await client.call_tool("search_products", {"query": "", "page_size": 1})
            assert not page.is_error, page.content[0].text
            return str(page.structured_content["hits"][0]["product_id"])


async def test_catalog_built_on_first_start_then_reused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"

    def params(*extra: str) -> StdioServerParameters:
        return StdioServerParameters(command=sys.executable, args=[
            "-m", "mcp_shop.cli", "serve", "--db", url, *extra])

    first = await _first_hit(params("--size", "300", "--seed", "3"), tmp_path / "1.log")
    log = (tmp_path / "1.log").read_text()
    assert "building the catalog" in log and "300 products" in log
    again = await _first_hit(params(), tmp_path / "2.log")
    log = (tmp_path / "2.log").read_text()
    assert "building the catalog" not in log and "(seed 3, 300 products)" in log
    assert again == first
    assert (tmp_path / "fresh.db.search").is_dir()


def test_mismatched_catalog_is_refused(tmp_path: Path, shop_url: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "mcp_shop.cli", "serve", "--db", shop_url, "--size", "999"],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert done.returncode == 2
    assert done.stdout == b""
    assert b"size=999" in done.stderr
