"""The JWS checks of RFC 8555 sections 6.2-6.5, on josepy/acme's JWS (no JWS parsing of our own)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

import josepy as jose
from acme import jws as acme_jws
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certtui.acme.problems import Problem

# The signature algorithms a client may sign requests with. josepy also verifies HS* (a MAC,
# whose key the server would have to know) and certtui never accepts "none": both are refused.
# PS256 is easy with josepy; EdDSA is not in josepy 2.x, so it is not offered.
ALGORITHMS = ("ES256", "ES384", "RS256", "PS256")
# The EAB inner JWS is a MAC with the key certtui handed out (RFC 8555 section 7.3.4).
EAB_ALGORITHMS = ("HS256", "HS384", "HS512")
# An account key as weak as a 1024-bit RSA key would let anyone take the account over.
MIN_RSA_BITS = 2048
_EC_CURVE = {"ES256": "secp256r1", "ES384": "secp384r1"}
_FLAT_FIELDS = frozenset({"protected", "payload", "signature"})


@dataclass(frozen=True)
class Verified:
    """A request whose signature, nonce and URL checked out."""

    payload: bytes
    protected: dict[str, Any]
    jwk: jose.JWK | None
    kid: str | None
    jws: acme_jws.JWS

    def json(self) -> dict[str, Any]:
        """The payload as a JSON object ({} for an empty POST-as-GET is refused elsewhere)."""
        try:
            value = json.loads(self.payload)
        except ValueError:
            raise Problem("malformed", "the JWS payload is not JSON") from None
        if not isinstance(value, dict):
            raise Problem("malformed", "the JWS payload is not a JSON object")
        return value


def b64decode(text: Any, what: str) -> bytes:
    if not isinstance(text, str):
        raise Problem("malformed", f"{what} is not a base64url string")
    try:
        return jose.b64.b64decode(text)
    except (ValueError, TypeError):
        raise Problem("malformed", f"{what} is not valid base64url") from None


def protected_header(body: Any, *, allowed: tuple[str, ...], what: str = "the JWS") -> dict[str, Any]:
    """The protected header of a flattened JWS, after the shape and algorithm checks."""
    if not isinstance(body, dict) or set(body) != _FLAT_FIELDS:
        raise Problem(
            "malformed",
            f"{what} must be a flattened JSON JWS with exactly protected, payload and signature "
            "(no unprotected header, no multiple signatures)",
        )
    try:
        header = json.loads(b64decode(body["protected"], f"{what}'s protected header"))
    except ValueError:
        raise Problem("malformed", f"{what}'s protected header is not JSON") from None
    if not isinstance(header, dict):
        raise Problem("malformed", f"{what}'s protected header is not a JSON object")
    alg = header.get("alg")
    if alg not in allowed:
        raise Problem(
            "badSignatureAlgorithm",
            f"{what} is signed with {alg!r}; this server accepts {', '.join(allowed)}",
            extra={"algorithms": list(allowed)},
        )
    return header


def parse(body: Any, what: str = "the JWS") -> acme_jws.JWS:
    try:
        return cast(acme_jws.JWS, acme_jws.JWS.from_json(body))
    except (jose.DeserializationError, ValueError, TypeError, KeyError, AssertionError) as exc:
        raise Problem("malformed", f"{what} does not decode ({str(exc)[:120]})") from None


def key_from_header(header: dict[str, Any]) -> jose.JWK:
    try:
        return load_jwk(header["jwk"])
    except (jose.DeserializationError, ValueError, TypeError, KeyError):
        raise Problem("badPublicKey", "the jwk in the protected header is not a usable public key") from None


def load_jwk(obj: Any) -> jose.JWK:
    """A JWK from its JSON object (josepy raises DeserializationError on a bad one)."""
    return cast(jose.JWK, jose.JWK.from_json(obj))


def check_key(alg: str, key: jose.JWK) -> None:
    """The key fits the algorithm and is strong enough (P-256/P-384, RSA 2048+)."""
    public = raw_key(key)
    if alg.startswith("ES"):
        if not isinstance(public, ec.EllipticCurvePublicKey) or public.curve.name != _EC_CURVE[alg]:
            raise Problem("badPublicKey", f"{alg} needs an EC key on curve {_EC_CURVE[alg]}")
    elif not isinstance(public, rsa.RSAPublicKey) or public.key_size < MIN_RSA_BITS:
        raise Problem("badPublicKey", f"{alg} needs an RSA key of {MIN_RSA_BITS} bits or more")


def raw_key(key: jose.JWK) -> Any:
    """The cryptography public key inside a josepy JWK (josepy wraps it for comparisons)."""
    inner = key.public_key().key
    return getattr(inner, "_wrapped", inner)


def verify_signature(jws: acme_jws.JWS, key: jose.JWK, alg: str, what: str = "the JWS") -> None:
    check_key(alg, key)
    try:
        good = jws.verify(key)
    except (jose.Error, ValueError, TypeError, AssertionError):
        good = False
    if not good:
        raise Problem("malformed", f"{what}'s signature does not verify with its key")


def thumbprint(key: jose.JWK) -> str:
    """RFC 7638 thumbprint, base64url: the account key's identity."""
    return jose.b64.b64encode(key.thumbprint()).decode()


def jwk_json(key: jose.JWK) -> str:
    return json.dumps(key.public_key().to_partial_json(), sort_keys=True)


def same_key(a: jose.JWK, b: jose.JWK) -> bool:
    return a.thumbprint() == b.thumbprint()
