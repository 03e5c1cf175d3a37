"""Which endpoints a model may point at: http(s) only, never the cloud metadata service, and
for user models only the hosts and networks operators allow (USER_MODEL_ALLOWED_HOSTS)."""

import fnmatch
import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

# Cloud instance metadata services answer with credentials; no model may point at them.
METADATA_NETWORKS = [
    ipaddress.ip_network("169.254.169.254/32"),
    ipaddress.ip_network("169.254.170.2/32"),
    ipaddress.ip_network("100.100.100.200/32"),
    ipaddress.ip_network("fd00:ec2::254/128"),
]


def _resolve(host: str) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
    try:
        return [ipaddress.ip_address(host)]
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []  # An unresolvable host fails later, with the check's own message.
    return [ipaddress.ip_address(info[4][0].split("%")[0]) for info in infos]


def _host_allowed(host: str, addresses: list) -> bool:
    for rule in settings.USER_MODEL_ALLOWED_HOSTS:
        if rule == "*" or fnmatch.fnmatch(host, rule.lower()):
            return True
        try:
            network = ipaddress.ip_network(rule, strict=False)
        except ValueError:
            continue
        if addresses and all(address in network for address in addresses):
            return True
    return False


def endpoint_validate(base_url: str, *, user_model: bool) -> None:
    """Raise ValidationError saying why a base URL may not be called."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValidationError(_("The URL must start with http:// or https:// and name a host."))
    host = parts.hostname.lower()
    addresses = _resolve(host)
    if any(address in network for address in addresses for network in METADATA_NETWORKS):
        raise ValidationError(_("The cloud metadata address is never allowed."))
    if user_model and not _host_allowed(host, addresses):
        raise ValidationError(
            _("The host %(host)s is not on the list of endpoints operators allow.") % {"host": host}
        )
