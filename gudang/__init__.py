"""gudang: automatic stock counting for metal warehouses.

The root package holds what crosses component boundaries: the message contract
(``gudang.contract``), the site model (``gudang.site``), settings, errors, the
InfluxDB adapter (``gudang.influx``) and local server helpers
(``gudang.services``). The components live in their own top-level folders and
install as ``gudang.edge``, ``gudang.collector``, ``gudang.api`` and ``gudang.sim``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gudang")
except PackageNotFoundError:  # running from a source tree without install
    __version__ = "0+unknown"

__all__ = ["__version__"]
