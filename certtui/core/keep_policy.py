"""The numbers that keep certificates valid by themselves (deploy, renew --due, notify, scan), each once."""

from __future__ import annotations

# Renew once two thirds of the lifetime have passed: a 397-day leaf renews with about 132 days
# left, so a daily timer that fails for weeks (a dead disk, a changed password) still leaves
# months to notice, and a 90-day leaf keeps a month, as ACME clients do (certbot renews at 30).
RENEW_AT_FRACTION = 2 / 3
# `renew --due --min-days N`: also renew whatever has fewer than N days left; 0 adds nothing.
DEFAULT_MIN_DAYS = 0
# Warn about a certificate nothing will renew two weeks before it expires: long enough to find
# a free evening, short enough not to nag about a year-long certificate every day.
EXPIRY_WARN_DAYS = 14
# A CRL past its nextUpdate makes clients that check it refuse every certificate of its CA; 3 days
# before leaves a weekend to re-sign it (`certtui crl`).
CRL_WARN_DAYS = 3
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
