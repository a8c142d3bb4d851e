"""The site/catalogue model (devices, SKUs, bins, tags) and its YAML loader."""

from gudang.site.loader import load_site, parse_site
from gudang.site.model import (
    PROTOCOLS,
    Bin,
    Device,
    LineSettings,
    Site,
    SiteInfo,
    Sku,
    Tag,
    UnitName,
)
from gudang.site.rounding import Rounding

__all__ = [
    "PROTOCOLS",
    "Bin",
    "Device",
    "LineSettings",
    "Rounding",
    "Site",
    "SiteInfo",
    "Sku",
    "Tag",
    "UnitName",
    "load_site",
    "parse_site",
]
