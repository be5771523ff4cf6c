"""Every policy number once, with its reason: lifetimes, warning windows, CRLs, enrollment."""

# Stdlib only, and nothing else imported: `certtui --help` and the click defaults read these
# without loading cryptography.
from datetime import timedelta

# -- lifetimes ------------------------------------------------------------------------------

# Ten years: no maximum applies to user-added roots (HT211025), and replacing a root means
# re-enrolling every phone, so make it last.
ROOT_DAYS = 3650
# Five years, half the root's life, so an intermediate never outlives its root.
INTERMEDIATE_DAYS = 1826
# 397 days: Apple rejects a TLS leaf over 825 days always (HT210176) and over 398 days under
# its own roots (HT211025); 397 leaves a day of margin, as mkcert and the CA/B forum do.
LEAF_DAYS = 397
# HT210176: a TLS server certificate may be valid for at most 825 days, even under a user root.
MAX_LEAF_DAYS = 825
# HT211025: 398 days binds only certificates under Apple's preinstalled roots; shown as info.
PUBLIC_LEAF_DAYS = 398
# Phones with a slow clock reject a certificate that is "not yet valid"; backdating
# notBefore by 10 minutes covers them.
BACKDATE = timedelta(minutes=10)
# The checklist warns under 5 minutes of backdate: half of what certtui gives, still enough
# for a phone whose clock is a few minutes behind.
MIN_BACKDATE = timedelta(minutes=5)

# -- expiry windows -------------------------------------------------------------------------

# "expiring": fewer than 30 days left on a leaf (time to renew, as ACME clients do), 90 on a
# CA (replacing a CA means re-enrolling every phone). The list and the checklist both use them.
LEAF_EXPIRING_DAYS = 30
CA_EXPIRING_DAYS = 90

# -- CRLs -----------------------------------------------------------------------------------

# 30 days: long enough that a weekly `certtui crl` from cron always leaves three weeks of
# slack, short enough that a client caching the CRL learns of a revocation within a month.
CRL_DAYS = 30
# Warn when the stored CRL has under a week left: the weekly cron job re-signs it long before,
# so a warning means the job has stopped, with time left to fix it before clients reject it.
CRL_WARN_DAYS = 7

# -- phone enrollment -----------------------------------------------------------------------

# HTTP and HTTPS ports: free of well-known services; when a default one is taken, any free
# port is used instead (and printed).
ENROLL_PORT = 8555
ENROLL_TLS_PORT = 8556
# Every interface, so a phone on the LAN reaches it; --bind narrows it.
ENROLL_BIND = "0.0.0.0"
# 15 minutes: iOS gives 8 minutes to install a downloaded profile, plus time to scan, read
# and switch on trust; short enough that a forgotten session does not leave a port open.
ENROLL_TIMEOUT_S = 900
