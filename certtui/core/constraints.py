"""The name constraints a new CA carries: a root's from --permit, an intermediate's inside those above."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence

from cryptography import x509

from certtui.core import names as namesmod
from certtui.core.extensions import extension
from certtui.errors import PolicyError


def root_constraints(permit: Sequence[str]) -> x509.NameConstraints | None:
    """A root's NameConstraints from `init --permit` (None: unconstrained)."""
    if not permit:
        return None
    return namesmod.name_constraints_extension([namesmod.parse_constraint(p) for p in permit])


def _subtree_within(name: x509.GeneralName, base: x509.GeneralName) -> bool:
    """Whether the subtree `name` lies inside the subtree `base` (same type only)."""
    if isinstance(name, x509.DNSName) and isinstance(base, x509.DNSName):
        inner, outer = name.value.lower().rstrip("."), base.value.lower().rstrip(".")
        if outer.startswith("."):
            return inner.endswith(outer)
        return not outer or inner == outer or inner.endswith("." + outer)
    if isinstance(name, x509.IPAddress) and isinstance(base, x509.IPAddress):
        inner_net, outer_net = ipaddress.ip_network(name.value), ipaddress.ip_network(base.value)
        if isinstance(inner_net, ipaddress.IPv4Network) and isinstance(outer_net, ipaddress.IPv4Network):
            return inner_net.subnet_of(outer_net)
        if isinstance(inner_net, ipaddress.IPv6Network) and isinstance(outer_net, ipaddress.IPv6Network):
            return inner_net.subnet_of(outer_net)
        return False
    return False


def _show(names: Sequence[x509.GeneralName] | None) -> str:
    return ", ".join(str(n.value) for n in names or ()) or "none"


def intermediate_constraints(
    above: Sequence[x509.NameConstraints], permit: Sequence[str]
) -> x509.NameConstraints | None:
    """The NameConstraints of a new intermediate below CAs whose constraints are `above`
    (nearest first): the nearest CA's own subtrees, or the narrower `permit` ones.

    Java (and other clients) check name constraints only on intermediates, so an intermediate
    without them lets its key, the one used every day, sign for any site those clients accept
    (docs/trust-rules.md, root.name-constraints). A type the user does not narrow keeps the
    nearest CA's subtrees of that type, and its excluded subtrees always come along.
    """
    nearest = above[0] if above else None
    if not permit:
        return nearest
    own = namesmod.name_constraints_extension([namesmod.parse_constraint(p) for p in permit])
    mine = list(own.permitted_subtrees or ())
    for text, name in zip(permit, mine, strict=True):
        for nc in above:
            same = [b for b in nc.permitted_subtrees or () if type(b) is type(name)]
            outside = same and not any(_subtree_within(name, b) for b in same)
            excluded = any(_subtree_within(name, b) for b in nc.excluded_subtrees or ())
            if outside or excluded:
                raise PolicyError(
                    f"--permit {text} lies outside the name constraints of the CA above "
                    f"(permitted: {_show(nc.permitted_subtrees)}; excluded: "
                    f"{_show(nc.excluded_subtrees)}), so the intermediate could issue nothing "
                    "for it; give a name or network inside them"
                )
    if nearest is None:
        return own
    given = {type(n) for n in mine}
    kept = [n for n in nearest.permitted_subtrees or () if type(n) not in given]
    return x509.NameConstraints(
        permitted_subtrees=mine + kept or None,
        excluded_subtrees=list(nearest.excluded_subtrees or ()) or None,
    )


def chain_constraints(certs: Sequence[x509.Certificate]) -> list[x509.NameConstraints]:
    """The NameConstraints of each certificate that has them, in the order given."""
    return [nc for cert in certs if (nc := extension(cert, x509.NameConstraints, strict=True)) is not None]
