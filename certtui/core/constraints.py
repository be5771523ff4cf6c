"""Name constraints: `--permit` parsed, the NameConstraints a new CA carries, and names held against them."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Sequence

from cryptography import x509

from certtui.core import name_syntax as syntax
from certtui.core.extensions import extension
from certtui.core.models import Constraint, Names, NameType
from certtui.errors import BadName, PolicyError

_IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


# ---------------------------------------------------------------- parsing --permit, building the extension


def parse_constraint(text: str) -> Constraint:
    """Parse a `--permit` value: a DNS suffix ('home.arpa') or an IP network ('192.168.0.0/16')."""
    what = "constraint"
    orig = text.strip()
    if not orig:
        raise syntax.bad_name(
            orig,
            "empty constraint; give a DNS suffix such as 'home.arpa' or a network such as '192.168.0.0/16'",
            what,
        )
    syntax.precheck(orig, what)
    if "%" in orig:
        raise syntax.bad_name(orig, "a zone id ('%…') cannot go into a certificate; remove it", what)
    if "://" in orig or "@" in orig:
        raise syntax.bad_name(
            orig,
            "a constraint is a DNS suffix such as 'home.arpa' or an IP network such as "
            "'192.168.0.0/16'; emails and URIs are not supported",
            what,
        )
    if "/" in orig:
        try:
            network: _IPNetwork = ipaddress.ip_network(orig, strict=True)
        except ValueError:
            try:
                loose = ipaddress.ip_network(orig, strict=False)
            except ValueError:
                raise syntax.bad_name(
                    orig,
                    "it is not an IP network in CIDR form such as '192.168.0.0/16' or "
                    "'fd00::/8'; fix it and try again",
                    what,
                ) from None
            raise syntax.bad_name(
                orig, f"host bits are set after the prefix; did you mean {loose}?", what
            ) from None
        return Constraint(NameType.IP, str(network))
    addr = syntax.parse_ip(orig, orig, what)
    if addr is not None:
        return Constraint(NameType.IP, str(ipaddress.ip_network(addr)))
    suffix = orig.removeprefix(".")
    return Constraint(
        NameType.DNS,
        syntax.parse_dns(
            suffix,
            orig,
            what,
            no_wildcard="a constraint cannot hold a wildcard; give the domain itself, as in 'home.arpa'",
        ),
    )


def _constraint_general_name(c: Constraint) -> x509.GeneralName:
    if c.type is NameType.DNS:
        return x509.DNSName(c.value)
    if c.type is NameType.IP:
        return x509.IPAddress(ipaddress.ip_network(c.value))
    if c.type is NameType.EMAIL:
        return x509.RFC822Name(c.value)
    return x509.UniformResourceIdentifier(c.value)


def name_constraints_extension(
    permitted: Sequence[Constraint], excluded: Sequence[Constraint] = ()
) -> x509.NameConstraints:
    """The NameConstraints extension for a CA with these permitted and excluded subtrees."""
    if not permitted and not excluded:
        raise BadName("no name constraints given; give at least one DNS suffix or IP network to permit")
    return x509.NameConstraints(
        permitted_subtrees=[_constraint_general_name(c) for c in permitted] or None,
        excluded_subtrees=[_constraint_general_name(c) for c in excluded] or None,
    )


# ---------------------------------------------------------------- names held against constraints


def _dns_fits(name: str, base: str) -> bool:
    """RFC 5280 dNSName: `base` itself or anything below it; '.base' means strictly below."""
    name = name.lower().rstrip(".")
    base = base.lower().rstrip(".")
    if base.startswith("."):
        return name.endswith(base)
    if not base:
        return True
    return name == base or name.endswith("." + base)


def _wildcard_may_hit(name: str, base: str) -> bool:
    """Whether the wildcard `name` ('*.x') matches a host equal to the excluded `base`."""
    name = name.lower()
    base = base.lower().rstrip(".")
    if not name.startswith("*.") or base.startswith("."):
        return False
    parent = name[2:]
    head, dot, rest = base.partition(".")
    return bool(dot) and bool(head) and rest == parent


def _host_fits(host: str, base: str) -> bool:
    """RFC 5280 rfc822Name domain / URI host: 'host' matches exactly, '.host' strictly below."""
    host = host.lower().rstrip(".")
    base = base.lower().rstrip(".")
    if base.startswith("."):
        return host.endswith(base)
    return host == base


def _email_fits(email: str, base: str) -> bool:
    if "@" in base:
        return email.lower() == base.lower()
    return _host_fits(email.rpartition("@")[2], base)


def _uri_host(uri: str) -> str:
    rest = uri.partition("://")[2]
    for sep in "/?#":
        rest = rest.partition(sep)[0]
    if rest.startswith("["):
        return rest[1 : rest.find("]")] if "]" in rest else rest[1:]
    return rest.partition(":")[0]


def _ip_fits(value: str, base: object) -> bool:
    if not isinstance(base, ipaddress.IPv4Network | ipaddress.IPv6Network):
        return False
    addr = ipaddress.ip_address(value)
    return addr.version == base.version and addr in base


def _fits(kind: NameType, value: str, base: object, *, excluding: bool) -> bool:
    """Whether the name `value` of type `kind` falls in the subtree `base`."""
    if kind is NameType.DNS:
        hit = _dns_fits(value, str(base))
        return hit or (excluding and _wildcard_may_hit(value, str(base)))
    if kind is NameType.IP:
        return _ip_fits(value, base)
    if kind is NameType.EMAIL:
        return _email_fits(value, str(base))
    return _host_fits(_uri_host(value), str(base))


_SUBTREE_TYPES: dict[NameType, type[x509.GeneralName]] = {
    NameType.DNS: x509.DNSName,
    NameType.IP: x509.IPAddress,
    NameType.EMAIL: x509.RFC822Name,
    NameType.URI: x509.UniformResourceIdentifier,
}


def constraint_violations(names: Names, nc: x509.NameConstraints) -> list[str]:
    """One line per name that does not fit `nc`, with RFC 5280 semantics (case-insensitive).

    A type with no permitted subtree of its own is not limited by the permitted subtrees;
    a name inside any excluded subtree of its type is a violation.
    """
    permitted = list(nc.permitted_subtrees or ())
    excluded = list(nc.excluded_subtrees or ())
    problems: list[str] = []
    for name in names.all():
        kind = _SUBTREE_TYPES[name.type]
        allowed = [g.value for g in permitted if isinstance(g, kind)]
        denied = [g.value for g in excluded if isinstance(g, kind)]
        if allowed and not any(_fits(name.type, name.value, b, excluding=False) for b in allowed):
            listed = ", ".join(str(b) for b in allowed)
            problems.append(f"'{name.value}' is outside the permitted names {listed}")
        hits = [b for b in denied if _fits(name.type, name.value, b, excluding=True)]
        if hits:
            listed = ", ".join(str(b) for b in hits)
            problems.append(f"'{name.value}' is inside the excluded names {listed}")
    return problems


def chain_constraint_violations(names: Names, ncs: Iterable[x509.NameConstraints]) -> list[str]:
    """The violations of every NameConstraints along a chain, one after the other."""
    problems: list[str] = []
    for nc in ncs:
        problems.extend(constraint_violations(names, nc))
    return problems


# ---------------------------------------------------------------- the constraints of a new CA


def root_constraints(permit: Sequence[str]) -> x509.NameConstraints | None:
    """A root's NameConstraints from `init --permit` (None: unconstrained)."""
    if not permit:
        return None
    return name_constraints_extension([parse_constraint(p) for p in permit])


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
    own = name_constraints_extension([parse_constraint(p) for p in permit])
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
