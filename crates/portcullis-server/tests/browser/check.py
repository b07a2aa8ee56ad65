"""The Settings > API Keys page in Chromium, driven by Playwright (run by run.sh).

Signs in as the host would (the documented `o1` organisation assertion, computed here from
the host-secret file), creates a key on the page, reads it from the once-only panel, calls
/auth with it as nginx does (200, then 403 for a missing permission), revokes it on the page
and sees /auth refuse it (401). Along the way: the CSP holds (no violation reported), every
control has a label, the form works from the keyboard, the key is in no URL, no served HTML
and no log line, and it is gone from the page once the panel is closed. Prints
`N passed, N failed`; exits 1 on any failure.
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
import urllib.error
import urllib.request

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

passed = 0
failed = 0

# Every visible element with its own text whose colour against the first opaque background
# behind it is below 4.5:1 (WCAG 2 AA for normal text).
CONTRAST_JS = """() => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = c => {
    const [r, g, b] = c.slice(0, 3).map(v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const background = el => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0)) return c;
    }
    return [255, 255, 255];
  };
  const low = [];
  for (const el of document.querySelectorAll('body *')) {
    const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    if (!own || !el.getClientRects().length || el.closest('.sr-only')) continue;
    const style = getComputedStyle(el);
    if (style.visibility === 'hidden') continue;
    const a = lum(rgb(style.color)), b = lum(background(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) low.push(el.tagName + ' ' + el.textContent.trim().slice(0, 30) + ' ' + ratio.toFixed(2));
  }
  return low;
}"""


def check(name, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
        print(f"ok   {name}")
    else:
        failed += 1
        print(f"FAIL {name} {detail}".rstrip())


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def org_assertion(secret, org, user, ttl=900):
    """The documented organisation assertion (keys_api.rs: assert_org)."""
    signed = f"o1.{b64(org.encode())}.{b64(user.encode())}.{int(time.time()) + ttl}"
    mac = hmac.new(secret, signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{b64(mac)}"


def http(method, url, headers=None, body=None):
    request = urllib.request.Request(url, method=method, headers=headers or {}, data=body)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read().decode()


def auth(base, method, uri, key):
    """/auth as nginx's auth_request asks it."""
    status, _, _ = http(
        "GET",
        base + "/auth",
        {
            "X-Original-URI": uri,
            "X-Original-Method": method,
            "X-Forwarded-Proto": "https",
            "Authorization": f"Bearer {key}",
        },
    )
    return status


def main():
    parser = argparse.ArgumentParser()
    for flag in ("--base", "--host-secret", "--chromium", "--profile", "--artifacts", "--serve-log"):
        parser.add_argument(flag, required=True)
    args = parser.parse_args()
    base = args.base
    with open(args.host_secret) as f:
        secret = bytes.fromhex(f.read().strip())
    cookie = org_assertion(secret, "acme", "ann")
    page_url = base + "/settings/api-keys"

    status, headers, _ = http("GET", page_url)
    check("the page without a sign-in is 401", status == 401, str(status))

    urls, problems = [], []
    key = ""
    with sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            args.profile,
            executable_path=args.chromium,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1100, "height": 900},
        )
        try:
            context.add_cookies([{"name": "portcullis_org", "value": cookie, "url": base,
                                  "httpOnly": True, "sameSite": "Lax"}])
            page = context.new_page()
            page.on("request", lambda r: urls.append(r.url))
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(str(e)))

            response = page.goto(page_url)
            check("the page opens signed in", response.status == 200, str(response.status))
            csp = response.headers.get("content-security-policy", "")
            check("the page has the strict CSP",
                  "default-src 'none'" in csp and "script-src 'self'" in csp
                  and "frame-ancestors 'none'" in csp, csp)
            check("the heading is API Keys", page.get_by_role("heading", name="API Keys", exact=True).count() == 1)
            for label in ["Read Claims", "Write Claims", "Read Orders", "Read Analytics", "Full Access"]:
                check(f"the permission {label!r} is a labelled checkbox",
                      page.get_by_role("checkbox", name=label).count() == 1)
            unlabelled = page.evaluate(
                """() => Array.from(document.querySelectorAll('input, select'))
                    .filter(e => e.type !== 'hidden' && (!e.labels || e.labels.length === 0))
                    .map(e => e.id || e.name)"""
            )
            check("every control has a label", unlabelled == [], str(unlabelled))
            low = page.evaluate(CONTRAST_JS)
            check("all visible text has at least 4.5:1 contrast", low == [], str(low[:5]))

            # Fill the form from the keyboard: the name field, then the first permission.
            page.get_by_label("Name").focus()
            page.keyboard.type("Production Integration")
            page.keyboard.press("Tab")
            focused = page.evaluate("() => document.activeElement && document.activeElement.value")
            check("Tab reaches the first permission", focused == "claims:read", str(focused))
            page.keyboard.press("Space")
            check("Space checks it", page.get_by_role("checkbox", name="Read Claims").is_checked())
            page.screenshot(path=f"{args.artifacts}/api-keys-create-form.png", full_page=True)

            page.get_by_role("button", name="Create API Key").click()
            panel = page.locator("#once")
            panel.wait_for(state="visible", timeout=10000)
            key = page.get_by_role("textbox", name="API key").input_value()
            check("the once-only panel shows the key", key.startswith("sk_live_"), key[:8])
            check("the panel warns it is shown once",
                  "shown once only" in panel.inner_text())
            check("the panel has a copy button", page.get_by_role("button", name="Copy").count() == 1)
            page.screenshot(path=f"{args.artifacts}/api-keys-once-panel.png", full_page=True)
            low = page.evaluate(CONTRAST_JS)
            check("the panel and list keep 4.5:1 contrast too", low == [], str(low[:5]))
            check("the key is not in the page's markup", key not in page.content())
            key_id = key.split("_")[2] if key.count("_") >= 3 else "-"
            added = page.locator(f"tr[data-id='{key_id}']")
            check("the new key is in the list at once, without its secret",
                  added.count() == 1 and f"sk_live_{key_id}_…" in added.inner_text()
                  and key not in added.inner_text())

            check("/auth allows the key for Read Claims", auth(base, "GET", "/v1/claims", key) == 200)
            check("/auth refuses a missing permission with 403",
                  auth(base, "POST", "/v1/claims", key) == 403)

            page.get_by_role("button", name="I have stored the key").click()
            page.wait_for_load_state("load")
            page.locator("#keys").wait_for(timeout=10000)
            check("the panel is gone after closing it", not page.locator("#once").is_visible())
            check("the key is gone from the page after closing the panel",
                  page.locator("#once-key").input_value() == "" and key not in page.content())
            row = page.locator(f"tr[data-id='{key_id}']")
            row_text = row.inner_text()
            check("the list shows the key's name, prefix and permission",
                  "Production Integration" in row_text and f"sk_live_{key_id}_…" in row_text
                  and "Read Claims" in row_text, row_text)
            check("the list shows created, last used and expiry",
                  "UTC" in row_text and "Active" in row_text, row_text)

            row.get_by_role("button", name="Revoke").click()
            dialog = page.locator("#confirm")
            dialog.wait_for(state="visible")
            check("revoking asks for confirmation", "cannot be undone" in dialog.inner_text())
            page.get_by_role("button", name="Revoke key").click()
            page.wait_for_load_state("load")
            page.locator(f"tr[data-id='{key_id}'] .status.revoked").wait_for(timeout=10000)
            check("the list shows the key revoked", True)

            refused = 0
            for _ in range(30):
                refused = auth(base, "GET", "/v1/claims", key)
                if refused == 401:
                    break
                time.sleep(0.1)
            check("/auth refuses the revoked key with 401", refused == 401, str(refused))

            # Rotation on the page: a second key, rotated with a one-hour overlap.
            page.get_by_label("Name").fill("Nightly export")
            page.get_by_role("checkbox", name="Read Orders").check()
            page.get_by_role("button", name="Create API Key").click()
            page.locator("#once").wait_for(state="visible", timeout=10000)
            second = page.get_by_role("textbox", name="API key").input_value()
            page.get_by_role("button", name="I have stored the key").click()
            page.wait_for_load_state("load")
            second_id = second.split("_")[2] if second.count("_") >= 3 else "-"
            page.locator(f"tr[data-id='{second_id}']").get_by_role("button", name="Rotate").click()
            page.locator("#confirm").wait_for(state="visible")
            page.get_by_label("Keep the old key working for").select_option("3600")
            page.get_by_role("button", name="Rotate key").click()
            page.locator("#once").wait_for(state="visible", timeout=10000)
            rotated = page.get_by_role("textbox", name="API key").input_value()
            check("rotating shows the successor once",
                  rotated.startswith("sk_live_") and rotated != second)
            check("the old key works during the overlap", auth(base, "GET", "/v1/orders", second) == 200)
            check("the successor works", auth(base, "GET", "/v1/orders", rotated) == 200)

            # Leaving the page with the panel open drops the key; coming back does not show it.
            page.goto("about:blank")
            page.go_back()
            page.wait_for_load_state("load")
            shown = page.locator("#once-key").input_value()
            check("leaving and coming back does not show the key again",
                  shown == "" and rotated not in page.content() and not page.locator("#once").is_visible())
            key = key + "\n" + second + "\n" + rotated
        finally:
            context.close()

    csp_errors = [m for m in problems if "Content Security Policy" in m or "Refused to" in m]
    check("no CSP violation in the browser", csp_errors == [], str(csp_errors))
    check("no script error in the browser", problems == [], str(problems))
    keys = [k for k in key.split("\n") if k]
    check("the keys were in no URL the browser requested",
          len(keys) == 3 and not any(k in u for k in keys for u in urls))
    status, _, html = http("GET", page_url, {"Cookie": f"portcullis_org={cookie}"})
    check("the page served again has no key", status == 200 and not any(k in html for k in keys))
    with open(args.serve_log) as f:
        log = f.read()
    check("the keys are in no log line", len(keys) == 3 and not any(k in log for k in keys))

    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as e:  # a step that could not run is a failure, still counted
        check("the browser session ran to the end", False, f"{type(e).__name__}: {e}")
        print(f"{passed} passed, {failed} failed")
        sys.exit(1)
