"""The site/catalogue model (devices, SKUs, bins, tags) and its YAML loader."""

from gudang.site.loader import load_site, parse_site
from gudang.site.model import PROTOCOLS, Bin, Device, LineSettings, Site, SiteInfo, Sku, Tag

__all__ = [
    "PROTOCOLS",
    "Bin",
    "Device",
    "LineSettings",
    "Site",
    "SiteInfo",
    "Sku",
    "Tag",
    "load_site",
    "parse_site",
]
