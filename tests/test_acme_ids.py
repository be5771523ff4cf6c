"""EAB key ids and MAC keys never start with `-`, which command-line ACME clients read as a flag."""

from __future__ import annotations

import base64

from certtui.core import acme_state


def test_no_eab_kid_or_hmac_key_starts_with_a_dash() -> None:
    # Unfixed, one in 64 starts with '-': 2,000 draws all missing it is about a 1e-14 chance.
    kids = [acme_state.new_id(acme_state.KID_BYTES) for _ in range(2000)]
    keys = [base64.urlsafe_b64encode(acme_state.new_hmac_key()).decode() for _ in range(2000)]
    assert not [k for k in kids + keys if k.startswith("-")]
    assert len(set(kids)) == len(kids) and all(len(base64.urlsafe_b64decode(k)) == 32 for k in keys)
