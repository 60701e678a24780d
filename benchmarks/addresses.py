"""A fixed, seeded mix of real-looking public IPv4 and IPv6 addresses."""

from __future__ import annotations

import ipaddress
import random

# Regional-registry IPv6 blocks in real use, so most IPv6 samples hit a database record.
_IPV6_BLOCKS = ("2001:4860::/32", "2a00::/12", "2400::/12", "2600::/12", "2800::/12", "2c0f::/16")


def public_addresses(count: int, *, seed: int = 20261128, ipv6_share: float = 0.25) -> list[str]:
    """``count`` distinct public addresses, the same for the same seed."""
    rng = random.Random(seed)
    blocks = [ipaddress.ip_network(b) for b in _IPV6_BLOCKS]
    seen: set[str] = set()
    out: list[str] = []
    while len(out) < count:
        if rng.random() < ipv6_share:
            net = rng.choice(blocks)
            text = str(net[rng.randrange(net.num_addresses)])
        else:
            ip = ipaddress.IPv4Address(rng.randrange(1 << 24, 224 << 24))
            if not ip.is_global:
                continue
            text = str(ip)
        if text not in seen:
            seen.add(text)
            out.append(text)
    return out
