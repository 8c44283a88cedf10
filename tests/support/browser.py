"""Driving the browser the way an outside test does: finding things by accessible names (labels,
button and link text) and ``data-testid`` values, following pages, axe-core, screenshots
(``SATCHEL_SCREENSHOTS``), the usual walks (a new wallet, a pasted credential), and the
keyboard-only helpers."""

from __future__ import annotations

import io
import os
import time
from pathlib import Path
from typing import Any

from tests.support.browser_stack import Stack
from tests.support.http_api import PASSPHRASE

SCREENSHOTS = os.environ.get("SATCHEL_SCREENSHOTS")  # a folder: save the main pages there
AXE_SEEN: set[str] = set()  # the page templates axe-core checked in the running test


def _lit(text: str) -> str:
    """An XPath string literal (XPath 1.0 has no escapes)."""
    if "'" not in text:
        return f"'{text}'"
    return "concat(" + ", \"'\", ".join(f"'{p}'" for p in text.split("'")) + ")"


def by_label(d: Any, text: str) -> Any:
    from selenium.webdriver.common.by import By

    label = d.find_element(By.XPATH, f"//label[normalize-space()={_lit(text)}]")
    return d.find_element(By.ID, label.get_attribute("for"))


def button(d: Any, name: str) -> Any:
    from selenium.webdriver.common.by import By

    return d.find_element(By.XPATH, f"//button[normalize-space()={_lit(name)}]")


def link(d: Any, name: str) -> Any:
    from selenium.webdriver.common.by import By

    return d.find_element(By.XPATH, f"//a[normalize-space()={_lit(name)}]")


def go(d: Any, el: Any) -> None:
    """Click something that loads a new page, and wait until it has."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = d.find_element(By.TAG_NAME, "html")
    el.click()
    WebDriverWait(d, 30).until(lambda drv: _gone(old))
    wait_loaded(d)


def _gone(old: Any) -> bool:
    """The old page's root is stale. While the document is being swapped, Chromium may answer
    "node does not belong to the document" instead of "stale element": gone too."""
    from selenium.common.exceptions import StaleElementReferenceException, WebDriverException

    try:
        old.is_enabled()
    except StaleElementReferenceException:
        return True
    except WebDriverException as exc:
        return "does not belong to the document" in str(exc)
    return False


def wait_loaded(d: Any) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    WebDriverWait(d, 30).until(
        lambda drv: drv.execute_script("return document.readyState") == "complete")


def press_and_wait(d: Any, *keys: str) -> None:
    """Keys that load a new page (Enter on a link or button), then wait until it has."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    old = d.find_element(By.TAG_NAME, "html")
    ActionChains(d).send_keys(*keys).perform()
    WebDriverWait(d, 30).until(lambda drv: _gone(old))
    wait_loaded(d)


def by_testid(d: Any, testid: str) -> list[Any]:
    from selenium.webdriver.common.by import By

    return list(d.find_elements(By.CSS_SELECTOR, f'[data-testid="{testid}"]'))


def axe(d: Any) -> None:
    """axe-core on the page as it is: no serious or critical violation."""
    from axe_selenium_python import Axe

    a = Axe(d)
    a.inject()
    result = a.run()
    bad = [v for v in result["violations"] if v.get("impact") in ("serious", "critical")]
    assert not bad, (d.current_url, [(v["id"], v["help"], [n["target"] for n in v["nodes"]])
                                     for v in bad])
    from selenium.webdriver.common.by import By

    AXE_SEEN.add(d.find_element(By.TAG_NAME, "body").get_attribute("data-page"))


_SHOT_HEIGHT = 2400  # px at most: a long page is shown down to there
#: the bottom of the lowest block of the page (a paragraph, a list item, a heading ...) that
#: ends above the height given, plus a little space
_LAST_WHOLE_BLOCK = """
let cut = 0;
for (const el of document.querySelectorAll("main p, main li, main h2, main h3, main tr")) {
  const bottom = el.getBoundingClientRect().bottom + window.scrollY;
  if (bottom <= arguments[0] - 8 && bottom > cut) cut = bottom;
}
return Math.ceil(cut) + 8;
"""


def shot(d: Any, name: str) -> None:
    """A small PNG of the page (only when SATCHEL_SCREENSHOTS names a folder)."""
    if not SCREENSHOTS:
        return
    from PIL import Image

    d.set_window_size(d.get_window_size()["width"], 800)  # the page's own height, not the last
    width = d.execute_script("return window.innerWidth")
    height = d.execute_script("return document.documentElement.scrollHeight")
    if height > _SHOT_HEIGHT:  # a long page ends after its last whole block, not through a line
        height = d.execute_script(_LAST_WHOLE_BLOCK, _SHOT_HEIGHT)
    d.set_window_size(d.get_window_size()["width"], height + 140)
    d.execute_script("window.scrollTo(0, 0)")
    img = Image.open(io.BytesIO(d.get_screenshot_as_png())).convert("RGB")
    img = img.crop((0, 0, min(img.width, width), min(img.height, height)))
    out = Path(SCREENSHOTS) / f"{name}-{width}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    img.quantize(colors=64).save(out, optimize=True)


def shots(d: Any, name: str, widths: tuple[int, ...] = (1280, 360)) -> None:
    """:func:`shot` at each width (a desktop, a phone), then the window as it was."""
    if not SCREENSHOTS:
        return
    before = d.get_window_size()
    for width in widths:
        d.set_window_size(width, 800)
        shot(d, name)
    d.set_window_size(before["width"], before["height"])


def session_token(d: Any) -> str:
    """The browser's session cookie: the API's own access token (docs/web.md)."""
    return str(next(c["value"] for c in d.get_cookies() if c["name"] == "satchel_session"))


def holder_jwk(stack: Stack, d: Any) -> dict[str, Any]:
    from holder_api.appkeys import SERVICES

    token = session_token(d)

    async def keys() -> list[Any]:
        s = stack.app[SERVICES]
        return await s.accounts.holder_keys(await s.accounts.authenticate(token))

    jwk = next(k.jwk for k in stack.run(keys()) if k.alg == "ES256")
    return {k: v for k, v in jwk.items() if k in ("kty", "crv", "x", "y")}


def create_wallet(d: Any, stack: Stack, name: str = "ada") -> str:
    d.get(stack.base + "/")
    axe(d)
    by_label(d, "Username").send_keys(name)
    by_label(d, "Passphrase").send_keys(PASSPHRASE)
    go(d, button(d, "Create wallet"))
    found = by_testid(d, "recovery-code")
    assert found, d.page_source
    assert len(found[0].text) >= 20
    return str(found[0].text)


def open_link(d: Any, text: str) -> None:
    box = by_label(d, "Link")
    box.clear()
    box.send_keys(text)
    go(d, button(d, "Open"))


def signed_up(d: Any, stack: Stack, name: str = "ada") -> str:
    """A new wallet past its recovery code step, unlocked: the recovery code."""
    code = create_wallet(d, stack, name)
    by_label(d, "I have saved my recovery code").click()
    go(d, button(d, "Continue"))
    return code


def pasted(d: Any, stack: Stack, raw: str) -> str:
    """A credential pasted into the import page: its id (the page the import lands on)."""
    d.get(stack.base + "/credentials/import")
    by_label(d, "Paste the credential").send_keys(raw)
    go(d, button(d, "Import"))
    return str(d.current_url.rsplit("/", 1)[1].split("?")[0])


def card_ids(d: Any) -> set[str]:
    """The ids of the credentials the list page shows."""
    from selenium.webdriver.common.by import By

    return {c.find_element(By.TAG_NAME, "a").get_attribute("href").rsplit("/", 1)[1]
            for c in by_testid(d, "credential")}


def main_text(d: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(d.find_element(By.TAG_NAME, "main").text)


def downloaded(d: Any, name: str, timeout: float = 30) -> Path:
    """The file the browser saved as ``name`` (a glob), once it is complete."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        done = [p for p in d.downloads.glob(name) if p.stat().st_size]
        if done and not list(d.downloads.glob("*.crdownload")):
            return done[0]
        time.sleep(0.1)
    raise AssertionError(f"no download {name!r}: {sorted(p.name for p in d.downloads.iterdir())}")


# ------------------------------------------------------------------- keyboard-only helpers
# A keyboard walk acts only through keys sent to the focused element (Tab, Shift+Tab, Enter,
# Space, arrows, typing); it looks at the page (which element has the focus, its style) freely.
def press(d: Any, *keys: str) -> None:
    """Keys to whatever has the focus (nothing loads)."""
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(d).send_keys(*keys).perform()


def name_of(d: Any, el: Any) -> str:
    """The accessible name a learner hears: a field's label, a button's or link's text."""
    from selenium.webdriver.common.by import By

    if el.tag_name in ("input", "textarea", "select"):
        labels = d.find_elements(By.CSS_SELECTOR, f'label[for="{el.get_attribute("id")}"]')
        return labels[0].text.strip() if labels else ""
    return str(el.text).strip()


def focus_visible(el: Any) -> bool:
    """The focused element shows it (WCAG 2.4.7): an outline or a box shadow."""
    outline = el.value_of_css_property("outline-style") not in ("none", "")
    shadow = el.value_of_css_property("box-shadow") not in ("none", "")
    return outline or shadow


def tab_to(d: Any, name: str, limit: int = 60, back: bool = False) -> Any:
    """Tab (or Shift+Tab) until the focus is on ``name``; its focus is visible."""
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.keys import Keys

    for _ in range(limit):
        if back:  # held down around the Tab (send_keys would press and release it first)
            ActionChains(d).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
        else:
            press(d, Keys.TAB)
        el = d.switch_to.active_element
        if name_of(d, el) == name:
            assert focus_visible(el), (name, d.current_url)
            return el
    raise AssertionError(f"{name!r} is not reachable with Tab on {d.current_url}")


def tab_order(d: Any, limit: int = 80) -> list[tuple[str, dict[str, float]]]:
    """Every stop Tab makes on the page, from the top, in order (one round): its name and where
    it is on screen while it has the focus."""
    from selenium.webdriver.common.keys import Keys

    d.get(d.current_url)  # the focus back at the start of the document
    wait_loaded(d)
    first, seen = None, []
    for _ in range(limit):
        press(d, Keys.TAB)
        el = d.switch_to.active_element
        if el == first or el.tag_name in ("body", "html"):
            return seen
        first = first or el
        seen.append((name_of(d, el), el.rect))
    raise AssertionError(f"more than {limit} stops on {d.current_url}")


def in_reading_order(a: dict[str, float], b: dict[str, float]) -> bool:
    """``b`` comes after ``a`` on screen: to its right on the same line, or on a lower line."""
    same_line = b["y"] < a["y"] + a["height"] and a["y"] < b["y"] + b["height"]
    return b["x"] > a["x"] if same_line else b["y"] > a["y"]


def keyboard_sign_up(d: Any, stack: Stack, name: str) -> str:
    """A new wallet made by keyboard only, past its recovery code step: the recovery code."""
    from selenium.webdriver.common.keys import Keys

    d.get(stack.base + "/")
    tab_to(d, "Username")
    press(d, name)
    tab_to(d, "Passphrase")
    press(d, PASSPHRASE)
    tab_to(d, "Create wallet")
    press_and_wait(d, Keys.ENTER)
    [code] = by_testid(d, "recovery-code")
    shown = str(code.text)
    tab_to(d, "I have saved my recovery code")
    press(d, Keys.SPACE)
    tab_to(d, "Continue")
    press_and_wait(d, Keys.ENTER)
    assert d.current_url.endswith("/credentials?notice=welcome")
    return shown


def keyboard_unlock(d: Any, name: str, passphrase: str) -> None:
    """The start page's form filled and sent by keyboard (Enter sends it with Unlock)."""
    from selenium.webdriver.common.keys import Keys

    tab_to(d, "Username")
    press(d, name)
    tab_to(d, "Passphrase")
    press(d, passphrase)
    press_and_wait(d, Keys.ENTER)
