"""Every policy number once, with its reason: lifetimes, windows, CRLs, enrollment, upkeep, ACME."""

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

# -- keeping certificates valid (deploy, renew --due, notify, scan, schedule) ---------------

# Renew once two thirds of the lifetime have passed: a 397-day leaf renews with about 132 days
# left, so a daily timer that fails for weeks (a dead disk, a changed password) still leaves
# months to notice, and a 90-day leaf keeps a month, as ACME clients do (certbot renews at 30).
RENEW_AT_FRACTION = 2 / 3
# `renew --due --min-days N`: also renew whatever has fewer than N days left; 0 adds nothing.
DEFAULT_MIN_DAYS = 0
# Warn about a certificate nothing will renew two weeks before it expires: long enough to find
# a free evening, short enough not to nag about a year-long certificate every day.
EXPIRY_WARN_DAYS = 14
# `--expiry-days`: at least a day; at most ten years, past which a warning warns of nothing.
NOTIFY_MAX_EXPIRY_DAYS = 3650
# A CRL past its nextUpdate makes clients that check it refuse every certificate of its CA; 3 days
# before leaves a weekend to re-sign it (`certtui crl`). Shorter than CRL_WARN_DAYS: the checklist
# may warn early, a notification should come only when the weekly job has surely stopped.
NOTIFY_CRL_WARN_DAYS = 3
# Replacing a root or intermediate means re-enrolling every phone and re-issuing every leaf:
# half a year's warning.
CA_WARN_DAYS = 180
# A reload command (systemctl reload, a script calling a NAS's API) gets a minute: a large
# nginx reloads in seconds, a slow API in tens; a hung script must not stall the timer forever.
RELOAD_TIMEOUT_S = 60.0
# The reload's output is kept (audit log, `deploy list`) up to this many characters: enough
# for nginx's error line, not enough to fill the store with a chatty script.
OUTPUT_KEEP_CHARS = 2000
# After the reload, the server may take a moment to start new workers (nginx answers its
# SIGHUP at once but swaps workers after): ask again for up to 15 s before calling it failed.
VERIFY_WAIT_S = 15.0
# Between two verify attempts: often enough to see the switch quickly, rarely enough to be cheap.
VERIFY_RETRY_S = 0.25
# One notification's HTTP request or SMTP session: a home ntfy or mail relay answers in well
# under a second; 20 s covers a slow one without hanging the timer.
NOTIFY_TIMEOUT_S = 20.0
# Discord refuses a message over 2,000 characters; ours are one or two lines, cut well below.
MESSAGE_MAX_CHARS = 1800
# A second `renew --due` (the timer and a user at once) waits this long for the first to finish
# before saying so: a run renews and reloads a few targets, each bounded by the reload timeout.
RUN_LOCK_WAIT_S = 600.0
# The default time of the daily timer: at night, off the hour so that many machines do not all
# start at 03:00.
SCHEDULE_AT = "03:17"
# The timer's random delay: spreads runs without moving them far from the time asked for.
SCHEDULE_RANDOM_DELAY = "10min"
# `systemctl daemon-reload` and `enable --now` return in a second; a minute covers a busy
# machine without hanging `schedule install` on a stuck systemd.
SYSTEMCTL_TIMEOUT_S = 60

# -- the ACME server (`certtui acme serve`) --------------------------------------------------

# 90 days: what ACME clients assume (they renew with 30 days left) and what phones accept,
# far inside Apple's 825-day ceiling.
ACME_DAYS = 90
# The default HTTPS port: 443 is taken by the services themselves, 8443 is the usual
# alternative (step-ca's default too), and above 1024 it needs no privilege.
ACME_PORT = 8443
# RFC 8555 leaves the limit to the server; Let's Encrypt allows 100 names a certificate, and
# a home service never needs more.
ACME_MAX_IDENTIFIERS = 100
# Orders a minute, per account and per client address: a home lab renewing every service
# at once after a long outage stays far below; a runaway client loop is stopped within a minute.
ACME_ORDERS_PER_MINUTE = 30
# Failed validations an hour, per account and per client address: enough to debug a
# firewall, too few to use the validator as a scanner of the LAN.
ACME_FAILURES_PER_HOUR = 20
# An order (and its authorizations) stays open a week, as Let's Encrypt's do.
ACME_ORDER_LIFETIME = timedelta(days=7)
# A JWS request is a few KB (a CSR for 100 names with an RSA 4096 key is about 8 KB).
ACME_MAX_REQUEST_BYTES = 64 * 1024
# Seconds a client is told to wait before polling a challenge or order being worked on.
ACME_POLL_AFTER_S = 1
# A client uses a nonce within seconds; ten minutes covers a slow human at a debugger.
ACME_NONCE_LIFETIME_S = 600.0
# Nonces handed out and not used yet, at most: an idle flood of HEAD requests cannot grow
# memory without bound (the oldest are forgotten, and their clients get badNonce and retry).
ACME_MAX_OUTSTANDING = 50_000
# A key authorization is a 43-character token, a dot and a 43-character thumbprint: 4 KB is
# far more than any honest answer, and reading more would let the validator be used to pull
# data off the LAN.
ACME_MAX_BODY = 4096
# Let's Encrypt follows up to 10 redirects; an ACME client on a home server needs one or two.
ACME_MAX_REDIRECTS = 3
# A LAN host answers in milliseconds; a slow or silent one fails quickly.
ACME_CONNECT_TIMEOUT_S = 5.0
ACME_TOTAL_TIMEOUT_S = 10.0
# Tries of a validation whose connection failed (refused, reset, timed out), and the pause
# before each retry: a client that just started its listener gets a moment.
ACME_ATTEMPTS = 3
ACME_BACKOFF_S = (0.5, 1.5)

# -- trusting the root on this machine (`certtui trust`) ------------------------------------

# A certutil or keytool run takes well under a second (keytool starts a JVM); a minute covers
# a loaded machine without hanging forever on a locked database.
TRUST_TOOL_TIMEOUT_S = 60
# The refresh scripts rebuild every bundle (and Debian's Java keystore): minutes on a slow disk.
TRUST_REFRESH_TIMEOUT_S = 300
