"""The journeys under the names the TUI's screens call: typed requests in, results out.

Each journey lives once in certtui/journeys (the CLI calls the same ones); this module only
adapts the few results the screens show differently (revoke answers with a sentence).
"""

from __future__ import annotations

from datetime import datetime

from certtui.core.store import Store
from certtui.journeys.enroll import EnrollmentPlan as EnrollmentPlan
from certtui.journeys.enroll import plan as plan_enrollment
from certtui.journeys.enroll import sign_trust_test as sign_trust_test
from certtui.journeys.enroll import start as start_enrollment
from certtui.journeys.export import ExportRequest as ExportRequest
from certtui.journeys.export import Written as Written
from certtui.journeys.export import export as export
from certtui.journeys.export import needs_key as export_needs_key
from certtui.journeys.issue import Preview as Preview
from certtui.journeys.issue import issue_one as issue
from certtui.journeys.issue import issuers as issuers
from certtui.journeys.issue import preview as preview
from certtui.journeys.renew import renew_one as renew
from certtui.journeys.revoke import RevokeRequest as RevokeRequest
from certtui.journeys.revoke import needs_key as revoke_needs_key

__all__ = [
    "EnrollmentPlan",
    "ExportRequest",
    "Preview",
    "RevokeRequest",
    "Written",
    "export",
    "export_needs_key",
    "issue",
    "issuers",
    "plan_enrollment",
    "preview",
    "renew",
    "revoke",
    "revoke_needs_key",
    "sign_trust_test",
    "start_enrollment",
]


def revoke(store: Store, req: RevokeRequest, now: datetime) -> str:
    """Revoke and re-sign the CRL; returns the sentence to show."""
    from certtui.journeys import revoke as journey

    return journey.sentence(journey.revoke(store, req, now))
