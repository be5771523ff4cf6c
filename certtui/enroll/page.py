"""The phone's side: platform guess from the User-Agent, the steps, and the landing page HTML."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from enum import StrEnum
from html import escape

# Chrome on iOS hands a profile to Settings from version 95; before that it only saved the
# file, as Firefox (FxiOS) and DuckDuckGo still do (docs/trust-rules.md, "Browser").
CRIOS_HANDS_OVER_PROFILES = 95

IOS_STEPS = (
    "Open the link in Safari.",
    "Tap Install profile and allow the download.",
    "Open Settings → Profile Downloaded (or General → VPN & Device Management).",
    "Tap Install and enter the passcode.",
    "Open Settings → General → About → Certificate Trust Settings and switch on full trust for the root.",
)
IOS_NOTE = "Install the profile within 8 minutes of the download; only one profile can wait at a time."
ANDROID_STEPS = (
    "Tap Download certificate.",
    "Open Settings → Security → Encryption & credentials → Install a certificate → CA certificate,"
    " and pick the downloaded file.",
)
ANDROID_NOTE = "Browsers honour the root; apps made for Android 7 or later ignore user-added roots."
MAC_STEPS = (
    "On a Mac, tap Install profile, then open System Settings → General → Device Management"
    " (Privacy & Security → Profiles on older macOS) and install it.",
    "If the trust test below still fails on a Mac, open Keychain Access, double-click the root"
    " and set Trust to Always Trust.",
)
DESKTOP_STEPS = (
    "Download the root as .crt (DER) or .pem.",
    "Import it as a certificate authority into the system's or the browser's trust store.",
)
SAFARI_SENTENCE = (
    "This browser saves the profile instead of installing it: open this page in Safari"
    " (copy the address, or long-press the link in the camera and choose Safari)."
)


class Platform(StrEnum):
    """The kind of device a User-Agent names."""

    IOS = "iOS"
    ANDROID = "Android"
    MAC = "Mac or iPad"
    DESKTOP = "desktop"


@dataclass(frozen=True)
class Client:
    """What the server makes of a User-Agent."""

    platform: Platform
    needs_safari: bool = False

    @property
    def label(self) -> str:
        return f"{self.platform.value}, not Safari" if self.needs_safari else self.platform.value


_IOS = re.compile(r"\b(iPhone|iPad|iPod)\b")
_CRIOS = re.compile(r"\bCriOS/(\d+)")


def guess(user_agent: str) -> Client:
    """iOS (iPhone, iPad, iPod), Android, a Mac (which iPadOS Safari also claims), or desktop."""
    if _IOS.search(user_agent):
        crios = _CRIOS.search(user_agent)
        old_chrome = crios is not None and int(crios.group(1)) < CRIOS_HANDS_OVER_PROFILES
        saver = "FxiOS/" in user_agent or "DuckDuckGo/" in user_agent
        return Client(Platform.IOS, needs_safari=old_chrome or saver)
    if "Android" in user_agent:
        return Client(Platform.ANDROID)
    if "Macintosh" in user_agent:
        return Client(Platform.MAC)
    return Client(Platform.DESKTOP)


# Groups of 4 hex digits, 4 groups a line, everywhere (terminal, TUI, page): a line is short
# enough for a 320-pixel phone and for the TUI's side panel, and every line is whole.
FP_GROUPS_PER_LINE = 4


def group_fingerprint(hex_digest: str, per_line: int = FP_GROUPS_PER_LINE) -> list[str]:
    """`AB12 CD34 ...`: groups of 4 hex digits for reading aloud, `per_line` groups a line."""
    groups = [hex_digest[i : i + 4].upper() for i in range(0, len(hex_digest), 4)]
    return [" ".join(groups[i : i + per_line]) for i in range(0, len(groups), per_line)]


# platform -> (section title, button label, download, steps, note)
_SECTIONS = {
    Platform.IOS: ("iPhone or iPad", "Install profile", "root.mobileconfig", IOS_STEPS, IOS_NOTE),
    Platform.ANDROID: ("Android", "Download certificate", "root.crt", ANDROID_STEPS, ANDROID_NOTE),
    Platform.MAC: ("Mac or iPad", "Install profile", "root.mobileconfig", MAC_STEPS, ""),
    Platform.DESKTOP: ("Computer", "Download root (.pem)", "root.pem", DESKTOP_STEPS, ""),
}

_CSS = """
*,*::before,*::after{box-sizing:border-box}
body{font:17px/1.45 -apple-system,system-ui,sans-serif;margin:0 auto;max-width:34em;padding:1em;
color:#111;background:#fff}
h1{font-size:1.35em}h2{font-size:1.15em;margin-top:1.4em}
.fp{font:1.05em ui-monospace,monospace;word-spacing:.2em;background:#f2f2f2;padding:.6em;
border-radius:.4em}
.button{display:block;text-align:center;font-size:1.1em;font-weight:600;padding:.9em;margin:.6em 0;
border-radius:.6em;background:#0a66d8;color:#fff;text-decoration:none;border:0;width:100%}
.other .button{background:#e8eef8;color:#0a3f85}
.warn{background:#fff3cd;border-left:.3em solid #c98a00;padding:.6em}
.ok{color:#116b2a;font-weight:600}.bad{color:#a4161a;font-weight:600}
"""


def _section(platform: Platform, needs_safari: bool, page_url: str) -> str:
    title, label, href, steps, note = _SECTIONS[platform]
    if platform is Platform.MAC:
        # iPadOS Safari sends a Mac User-Agent: an iPad lands here and needs every iPhone step,
        # the Certificate Trust Settings switch included.
        ipad = "".join(f"<li>{escape(s)}</li>" for s in IOS_STEPS[1:])
        mac = "".join(f"<li>{escape(s)}</li>" for s in steps)
        return (
            f'<section id="platform-{platform.name.lower()}" class="platform">'
            f"<h2>{escape(title)}</h2>"
            f'<a class="button" href="{href}">{escape(label)}</a>'
            f'<h3>On an iPad</h3><ol id="ipad-steps">{ipad}</ol><p>{escape(IOS_NOTE)}</p>'
            f'<h3>On a Mac</h3><ol id="mac-steps">{mac}</ol></section>'
        )
    warn = ""
    if needs_safari:
        warn = f'<p class="warn" id="open-in-safari">{escape(SAFARI_SENTENCE)}<br>{escape(page_url)}</p>'
    items = "".join(f"<li>{escape(s)}</li>" for s in steps)
    note_html = f"<p>{escape(note)}</p>" if note else ""
    extra = ""
    if platform is Platform.DESKTOP:
        extra = '<a class="button" href="root.crt">Download root (.crt)</a>'
    return (
        f'<section id="platform-{platform.name.lower()}" class="platform">'
        f"<h2>{escape(title)}</h2>{warn}"
        f'<a class="button" href="{href}">{escape(label)}</a>{extra}'
        f"<ol>{items}</ol>{note_html}</section>"
    )


def _others(shown: Platform) -> str:
    links = []
    for platform, (title, label, href, _steps, _note) in _SECTIONS.items():
        if platform is not shown and not (shown is Platform.IOS and platform is Platform.MAC):
            links.append(f'<a class="button" href="{href}">{escape(title)}: {escape(label)}</a>')
    return f'<section class="other"><h2>Other devices</h2>{"".join(links)}</section>'


def _trust_test(trust_url: str | None, skipped: str | None) -> str:
    if trust_url is None:
        return f'<section id="trust-test"><h2>Trust test</h2><p>{escape(skipped or "off")}</p></section>'
    # The absolute URL sits in the source literally; the test loads it as an image (a
    # subresource), because a navigation lets Safari's "visit this website" skip the trust.
    url = json.dumps(trust_url).replace("</", "<\\/")
    return (
        '<section id="trust-test"><h2>Last step: trust test</h2>'
        "<p>After the steps above, come back here and tap the button. The terminal shows the"
        " result too.</p>"
        '<button class="button" id="test-trust" type="button">Test trust</button>'
        '<p id="trust-result">Not tested yet.</p></section>'
        "<script>(function(){"
        f"var url={url};var tries=0;"
        'var out=document.getElementById("trust-result");'
        'document.getElementById("test-trust").addEventListener("click",function(){'
        'out.className="";out.textContent="Testing\u2026";var img=new Image();'
        'img.onload=function(){out.className="ok";out.textContent="\u2713 This device trusts the root.";};'
        'img.onerror=function(){out.className="bad";out.textContent="\u2717 Not trusted yet:'
        ' finish the steps above, then test again.";};'
        'img.src=url+"?try="+(++tries);});})();</script>'
    )


def content_security_policy(trust_origin: str | None) -> str:
    """Nothing loads from elsewhere: inline style and script only, images from the test port.

    `data:` images are the page's own empty favicon (without it browsers ask for /favicon.ico).
    """
    img = f"{trust_origin} data:" if trust_origin else "data:"
    return (
        "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; "
        f"img-src {img}; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


def landing_page(
    *,
    root_name: str,
    fingerprint: str,
    client: Client,
    page_url: str,
    trust_url: str | None,
    trust_skipped: str | None = None,
) -> str:
    """The whole page: name, grouped fingerprint, the device's section, others, the trust test."""
    fp = "<br>".join(escape(line) for line in group_fingerprint(fingerprint))
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<link rel="icon" href="data:,">'
        f"<title>Trust {escape(root_name)}</title><style>{_CSS}</style></head><body>"
        f"<h1>Trust “{escape(root_name)}”</h1>"
        "<p>SHA-256 fingerprint: check that it matches the one in the terminal.</p>"
        f'<p class="fp" id="fingerprint">{fp}</p>'
        f"{_section(client.platform, client.needs_safari, page_url)}"
        f"{_others(client.platform)}"
        f"{_trust_test(trust_url, trust_skipped)}"
        "<p><small>Served by certtui. About trusting a root on iPhone: "
        '<a href="https://support.apple.com/102390">Apple support</a>.</small></p>'
        "</body></html>"
    )
