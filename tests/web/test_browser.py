"""The main journeys of the web wallet in real Chromium, with axe-core on every page template.

The journeys find things the way an outside test does: by accessible names (labels, button and
link text) and ``data-testid`` values. The keyboard journey uses only Tab, Shift+Tab, Enter,
Space and typing; the Spanish one switches language with the ``Español`` link. The flows these
journeys pass quickly are walked in depth in ``test_walk_*.py`` (account, receiving, presenting).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import segno

from tests.support.browser import (
    AXE_SEEN,
    axe,
    button,
    by_label,
    by_testid,
    create_wallet,
    downloaded,
    go,
    holder_jwk,
    keyboard_sign_up,
    link,
    main_text,
    open_link,
    pasted,
    press,
    press_and_wait,
    session_token,
    shot,
    tab_to,
    wait_loaded,
)
from tests.support.browser_stack import Stack, offer_link
from tests.support.http_api import PASSPHRASE

ELM_SAMPLE = (Path(__file__).parents[1] / "vectors" / "microcredentials" / "elm"
              / "Sample-MC-Annex1-signed.jsonld")

#: The page templates each journey runs axe-core on; together they are every page the web
#: wallet has (test_axe_covers_every_page checks that without a browser).
AXE_PAGES = {
    "mouse": {"start", "recovery", "credentials", "offer", "credential", "inbox", "import",
              "shared", "consent", "sent", "declined", "history", "shares", "account",
              "inbox_link", "scan", "my_data", "export", "delete", "erase", "error", "recover",
              "import_bundle", "imported"},
    "issuer sign-in": {"start", "recovery", "offer", "authorize", "credential"},
}
#: a page that moves on at once (meta refresh): nothing stays on screen to check
NOT_A_STOP = {"bounce"}
#: the page's height and how far down its Share button starts (CSS pixels)
_HEIGHT_AND_SHARE = """
const share = [...document.querySelectorAll("button")].find(b => b.textContent.trim() === "Share");
return [document.documentElement.scrollHeight,
        share.getBoundingClientRect().top + window.scrollY];
"""


def test_axe_covers_every_page() -> None:
    templates = Path(__file__).parents[2] / "holder_api" / "web" / "templates"
    pages = {t.stem for t in templates.glob("*.html")
             if not t.stem.startswith("_") and t.stem != "base"}
    assert set().union(*AXE_PAGES.values()) == pages - NOT_A_STOP


# ---------------------------------------------------------------------------------- journeys
def test_every_flow_with_the_mouse(stack: Stack, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    d = driver
    create_wallet(d, stack)
    axe(d)
    shot(d, "recovery-code")
    by_label(d, "I have saved my recovery code").click()
    go(d, button(d, "Continue"))
    for name in ("Credentials", "History", "My data"):
        link(d, name)
    button(d, "Lock")
    axe(d)

    # receiving: an offer through the Link box
    open_link(d, offer_link(stack))
    assert "Credential offer" in d.find_element(By.TAG_NAME, "h1").text
    axe(d)
    shot(d, "offer")
    go(d, button(d, "Accept"))
    elements = by_testid(d, "element")
    assert [e.get_attribute("data-key") for e in elements][:2] == ["learner", "title"]
    assert len([e for e in elements if e.tag_name == "li"]) == 16  # + nested ects, eqf, ...
    axe(d)
    # a transaction code offer, declined
    open_link(d, offer_link(stack, tx_code="493536"))
    by_label(d, "Transaction code")
    axe(d)  # the offer asking for a code
    go(d, button(d, "Decline"))
    axe(d)  # the inbox

    # a European Learning Model micro-credential from a file (the EU's own sample)
    d.get(stack.base + "/credentials/import")
    axe(d)
    by_label(d, "Or choose a file").send_keys(str(ELM_SAMPLE))
    go(d, button(d, "Import"))
    values = {e.get_attribute("data-key"): e.text for e in by_testid(d, "element")}
    assert "Digital micro-credential creation" in values["title"]
    assert "ECTS" in values["workload"]
    assert values["ects"].endswith("ECTS")  # the compound element's part, by its own key
    axe(d)
    shot(d, "credential")
    # importing a credential of the verifier's issuer, then presenting it with consent
    pasted(d, stack, stack.peer.issue(holder_jwk(stack, d)))
    axe(d)
    # a share link with one claim
    for box in d.find_elements(By.CSS_SELECTOR, 'input[name="claim"]'):
        if json.loads(box.get_attribute("value")) != ["degree"]:
            box.click()
    go(d, button(d, "Create share link"))
    [shared] = by_testid(d, "share-link")
    assert shared.text.startswith(stack.base + "/s/")
    assert d.find_elements(By.CSS_SELECTOR, "figure.qr svg")
    axe(d)
    shot(d, "share-link")
    go(d, link(d, "Credentials"))
    cards = by_testid(d, "credential")
    assert len(cards) == 3 and all(c.find_element(By.TAG_NAME, "a").text for c in cards)
    axe(d)
    shot(d, "credentials")

    client_id = "x509_san_dns:localhost"
    peer = stack.peer
    request = peer.serve_request(lambda _f: peer.sign(peer.claims(
        client_id, {"credentials": [{"id": "degree", "format": "dc+sd-jwt",
                                     "meta": {"vct_values": [
                                         "https://credentials.example.edu/micro-credential"]},
                                     "claims": [{"path": ["given_name"]}, {"path": ["degree"]}]}]},
        purpose="Check your degree for the job application")), client_id=client_id)
    open_link(d, request)
    [who] = by_testid(d, "verifier")
    assert "Acme <Hiring>" in who.text and who.get_attribute("data-authenticated") == "true"
    paths = [json.loads(e.get_attribute("data-path")) for e in by_testid(d, "disclosed-claim")]
    assert paths == [["given_name"], ["degree"]]
    assert "BSc Computing" in d.find_element(By.CSS_SELECTOR, ".outgoing").text
    # what leaves is named in words beside the claim's name (WEBUX 4)
    assert by_testid(d, "disclosed-claim")[0].text == "Given name (given_name): Ada"
    assert peer.posts == []
    axe(d)
    shot(d, "consent")
    # on a phone the decision comes soon: what the issuer always adds is named, its values
    # folded (1883 px tall before, Share at 1702 px; 1361 and 1180 after, in Chromium at 360)
    d.set_window_size(360, 800)
    height, share_at = d.execute_script(_HEIGHT_AND_SHARE)
    d.set_window_size(1280, 900)
    assert height <= 1500 and share_at <= 1300, (height, share_at)
    go(d, button(d, "Share"))
    [got] = peer.posts
    assert got.errors == [] and got.disclosed["degree"][0]["degree"] == "BSc Computing"
    link(d, "Download the consent receipt")  # one click away
    axe(d)
    # the same request again, declined: nothing is sent
    open_link(d, peer.serve_request(lambda _f: peer.sign(peer.claims(
        client_id, {"credentials": [{"id": "degree", "format": "dc+sd-jwt",
                                     "meta": {"vct_values": [
                                         "https://credentials.example.edu/micro-credential"]},
                                     "claims": [{"path": ["degree"]}]}]})),
        client_id=client_id))
    go(d, button(d, "Decline"))
    assert len(peer.posts) == 2 and "vp_token" not in peer.posts[1].payload
    axe(d)  # declined

    go(d, link(d, "History"))
    kinds = [e.get_attribute("data-event") for e in by_testid(d, "ledger-event")]
    assert kinds[:2] == ["presentation_declined", "presentation_sent"]
    assert "share_link_created" in kinds
    axe(d)
    shot(d, "history")
    for page in ("Inbox", "Share links", "Account"):
        go(d, link(d, page))
        axe(d)
    d.get(stack.base + "/inbox")
    by_label(d, "Institution").send_keys("Test University")
    go(d, button(d, "Create inbox link"))
    assert by_testid(d, "inbox-link")[0].text.startswith(stack.base + "/i/")
    axe(d)
    d.get(stack.base + "/scan")
    axe(d)
    go(d, link(d, "Credentials"))
    go(d, by_testid(d, "credential")[0].find_element(By.TAG_NAME, "a"))
    go(d, link(d, "Delete this credential"))
    axe(d)  # the confirmation; kept
    d.get(stack.base + "/no-such-page")
    axe(d)  # the error page
    d.get(stack.base + "/my-data/export")
    axe(d)

    go(d, link(d, "My data"))
    axe(d)
    shot(d, "my-data")
    by_label(d, "Passphrase").send_keys(PASSPHRASE)  # the file's, on My data itself
    by_label(d, "Type it again").send_keys(PASSPHRASE)  # twice: a typo would lock the file
    button(d, "Export").click()  # a download at once: the page stays
    bundle = downloaded(d, "satchel-export.json")
    assert json.loads(bundle.read_text())["format"] == "satchel-export"
    go(d, link(d, "My data"))
    go(d, button(d, "Erase wallet"))
    axe(d)
    # what goes, before the irreversible step (WEBUX 5): the three credentials, the share link
    [goes] = by_testid(d, "erase-consequences")
    assert goes.text.splitlines()[:2] == [
        "3 credentials", "1 share link stops working for the people you gave it to"]
    shot(d, "erase")
    by_label(d, "Passphrase").send_keys("not the passphrase at all")
    go(d, button(d, "Erase wallet"))
    assert "nothing was erased" in main_text(d)
    assert stack.unlocks("ada", PASSPHRASE)
    by_label(d, "Passphrase").send_keys(PASSPHRASE)
    go(d, button(d, "Erase wallet"))
    assert "Your wallet was erased." in d.page_source
    by_label(d, "Username")
    assert not stack.unlocks("ada", PASSPHRASE)  # gone: the API cannot open it either
    d.get(stack.base + "/recover")
    axe(d)
    # the export goes into a new wallet
    create_wallet(d, stack, "zoe")
    by_label(d, "I have saved my recovery code").click()
    go(d, button(d, "Continue"))
    go(d, link(d, "My data"))
    go(d, link(d, "Import an export file"))
    axe(d)
    by_label(d, "Export file").send_keys(str(bundle))
    by_label(d, "Passphrase").send_keys("not the passphrase of the file")
    go(d, button(d, "Import"))
    # the form again, saying why, its passphrase field marked
    assert d.find_element(By.CSS_SELECTOR, 'main [role="alert"]').text
    assert by_label(d, "Passphrase").get_attribute("aria-invalid") == "true"
    assert stack.api("GET", "/v1/credentials", session_token(d))[1]["items"] == []
    by_label(d, "Export file").send_keys(str(bundle))
    by_label(d, "Passphrase").send_keys(PASSPHRASE)
    go(d, button(d, "Import"))
    assert "3 credentials" in d.find_element(By.TAG_NAME, "main").text
    axe(d)  # imported
    held = stack.api("GET", "/v1/credentials", session_token(d))[1]["items"]
    exported = json.loads(bundle.read_text())["credentials"]
    assert sorted(c["id"] for c in held) == sorted(c["id"] for c in exported)
    assert AXE_PAGES["mouse"] <= AXE_SEEN, AXE_PAGES["mouse"] - AXE_SEEN


def test_keyboard_only(stack: Stack, driver: Any) -> None:
    from selenium.webdriver.common.keys import Keys

    d = driver
    d.get(stack.base + "/")

    first = tab_to(d, "Skip to main content", limit=1)
    assert first.get_attribute("href").endswith("#main")
    assert keyboard_sign_up(d, stack, "kim")
    tab_to(d, "Link")
    press(d, offer_link(stack))
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Accept")
    press_and_wait(d, Keys.ENTER)
    assert len([e for e in by_testid(d, "element") if e.tag_name == "li"]) == 16
    tab_to(d, "Create share link", limit=80)
    press_and_wait(d, Keys.ENTER)
    shared = by_testid(d, "share-link")[0].text
    assert stack.api("GET", shared)[0] == 200
    # a presentation request, answered with Share, the receipt one Tab away
    peer = stack.peer
    request = peer.serve_request(lambda _f: peer.sign(peer.claims(
        "x509_san_dns:localhost", {"credentials": [{
            "id": "mc", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["https://credentials.example.edu/micro-credential"]},
            "claims": [{"path": ["given_name"]}]}]})), client_id="x509_san_dns:localhost")
    tab_to(d, "Link")
    press(d, request)
    press_and_wait(d, Keys.ENTER)
    assert [e.get_attribute("data-path") for e in by_testid(d, "disclosed-claim")] == [
        '["given_name"]']
    tab_to(d, "Share")
    press_and_wait(d, Keys.ENTER)
    assert len(peer.posts) == 1
    tab_to(d, "Download the consent receipt")
    tab_to(d, "History")
    press_and_wait(d, Keys.ENTER)
    assert by_testid(d, "ledger-event")
    # the share link revoked from the list
    tab_to(d, "Share links")
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Revoke")
    press_and_wait(d, Keys.ENTER)
    assert "The share link was revoked." in main_text(d)
    assert stack.api("GET", shared)[0] in (404, 410)
    # erase, with the passphrase
    tab_to(d, "My data")
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Erase wallet")
    press_and_wait(d, Keys.ENTER)
    tab_to(d, "Passphrase")
    press(d, PASSPHRASE)
    tab_to(d, "Erase wallet")
    press_and_wait(d, Keys.ENTER)
    assert "Your wallet was erased." in main_text(d)
    assert not stack.unlocks("kim", PASSPHRASE)


def test_spanish(stack: Stack, driver: Any) -> None:
    from selenium.webdriver.common.by import By

    d = driver
    d.get(stack.base + "/")
    go(d, link(d, "Español"))
    axe(d)
    by_label(d, "Nombre de usuario").send_keys("lucia")
    by_label(d, "Frase de contraseña").send_keys(PASSPHRASE)
    go(d, button(d, "Crear monedero"))
    assert by_testid(d, "recovery-code")
    by_label(d, "He guardado mi código de recuperación").click()
    go(d, button(d, "Continuar"))
    axe(d)
    open_link_es = by_label(d, "Enlace")
    open_link_es.send_keys(offer_link(stack))
    go(d, button(d, "Abrir"))
    go(d, button(d, "Aceptar"))
    text = d.page_source
    assert "Título de la microcredencial" in text and "Resultados de aprendizaje" in text
    axe(d)
    shot(d, "credential-es")
    # presenting, in Spanish: a credential of the verifier's issuer, the consent, Share
    go(d, link(d, "Credenciales"))
    go(d, link(d, "Importar una credencial"))
    by_label(d, "Pega la credencial").send_keys(stack.peer.issue(holder_jwk(stack, d)))
    go(d, button(d, "Importar"))
    assert "La credencial se verificó y añadió." in main_text(d)
    peer = stack.peer
    client_id = "x509_san_dns:localhost"
    by_label(d, "Enlace").send_keys(peer.serve_request(lambda _f: peer.sign(peer.claims(
        client_id, {"credentials": [{
            "id": "degree", "format": "dc+sd-jwt",
            "meta": {"vct_values": ["https://credentials.example.edu/micro-credential"]},
            "claims": [{"path": ["degree"]}]}]})), client_id=client_id))
    go(d, button(d, "Abrir"))
    assert d.find_element(By.TAG_NAME, "h1").text == "¿Compartir con Acme <Hiring>?"
    assert "Qué se enviará" in main_text(d) and "BSc Computing" in main_text(d)
    axe(d)
    go(d, button(d, "Compartir"))
    [got] = peer.posts
    assert got.errors == [] and got.disclosed["degree"][0]["degree"] == "BSc Computing"
    assert "Tu respuesta se envió y quedó registrada en tu historial." in main_text(d)
    link(d, "Descargar el recibo de consentimiento")
    # a share link made and revoked, in Spanish
    d.get(stack.base + "/credentials")
    go(d, by_testid(d, "credential")[-1].find_element(By.TAG_NAME, "a"))
    go(d, button(d, "Crear enlace compartido"))
    assert d.find_element(By.TAG_NAME, "h1").text == "Enlace compartido creado"
    shared = by_testid(d, "share-link")[0].text
    go(d, link(d, "Enlaces compartidos"))
    go(d, button(d, "Revocar"))
    assert "El enlace compartido se revocó." in main_text(d)
    assert "revocado" in by_testid(d, "share-link-row")[0].text
    assert stack.api("GET", shared)[0] in (404, 410)
    go(d, link(d, "Historial"))
    axe(d)
    go(d, link(d, "English"))
    link(d, "History")


def test_phone_width_and_qr_picture(stack: Stack, driver: Any, tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By

    d = driver
    d.set_window_size(360, 800)
    create_wallet(d, stack, "mona")
    by_label(d, "I have saved my recovery code").click()
    go(d, button(d, "Continue"))
    # no camera detector in headless Chromium on Linux: the camera part stays hidden, the
    # picture upload (read on the server) works without it
    d.get(stack.base + "/scan")
    assert not d.find_element(By.ID, "camera-section").is_displayed()
    picture = tmp_path / "offer.png"
    segno.make(offer_link(stack), error="m").save(str(picture), scale=6, border=4)
    by_label(d, "Picture of a QR code").send_keys(str(picture))
    go(d, button(d, "Read the QR code"))
    assert "Credential offer" in d.find_element(By.TAG_NAME, "h1").text
    go(d, button(d, "Accept"))
    for path in ("/credentials", d.current_url.removeprefix(stack.base), "/inbox", "/shares",
                 "/history", "/my-data", "/account", "/scan", "/my-data/erase"):
        d.get(stack.base + path)
        overflow = d.execute_script(
            "return document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 1, (path, overflow)
        axe(d)
        if path == "/credentials":  # the portfolio's four totals two by two, not one a line
            tops = d.execute_script(
                'return [...document.querySelectorAll(".totals li")].map(li => li.offsetTop)')
            assert len(tops) == 4 and tops[0] == tops[1] and tops[2] == tops[3] > tops[0], tops
        if path in ("/credentials", "/history"):
            shot(d, path.strip("/"))
    d.get(stack.base + "/credentials")
    go(d, by_testid(d, "credential")[0].find_element(By.TAG_NAME, "a"))
    shot(d, "credential")
    go(d, button(d, "Lock"))
    shot(d, "start")


def test_sign_in_at_the_issuer_and_back(stack: Stack, driver: Any) -> None:
    """The authorization code flow in a real browser: the issuer's redirect back is a
    cross-site navigation, which carries no SameSite=Strict cookie; the wallet must neither
    lose the session nor the code. Also the recovery code page through a language switch."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    d = driver
    code = create_wallet(d, stack, "ines")
    go(d, link(d, "Español"))  # the page answering sign-up is a GET: the code is still there
    assert by_testid(d, "recovery-code")[0].text == code
    # the copy button shows with JavaScript, and says "copied" through a status beside it
    [copy] = d.find_elements(By.CSS_SELECTOR, ".js-copy")
    assert copy.is_displayed() and copy.text == "Copiar"
    assert d.find_elements(By.CSS_SELECTOR, '.js-copy + span[role="status"]')
    axe(d)
    go(d, link(d, "English"))
    by_label(d, "I have saved my recovery code").click()
    go(d, button(d, "Continue"))
    offer = stack.issuer.make_authorization_code_offer()
    open_link(d, "openid-credential-offer://?" + urlencode({"credential_offer": json.dumps(
        offer)}))
    axe(d)
    go(d, button(d, "Accept"))
    axe(d)  # "Sign in at the issuer"
    to_issuer = link(d, "Continue to the issuer").get_attribute("href")
    assert to_issuer.startswith(stack.issuer.base)
    # The learner signs in on the issuer's own page, which then sends the browser back: a
    # navigation started by the issuer's site. (Following the link directly would be started
    # by the wallet's page, and this issuer answers at once, so the browser would count the
    # way back as same-site.)
    d.get(stack.issuer.base + "/.well-known/openid-credential-issuer")
    d.execute_script("window.location.href = arguments[0]", to_issuer)
    WebDriverWait(d, 60).until(lambda drv: "/credentials/" in drv.current_url
                               or drv.current_url.startswith(stack.base + "/?"))
    wait_loaded(d)
    assert "The credential was received" in d.find_element(By.TAG_NAME, "main").text
    button(d, "Lock")  # still unlocked: the session cookie survived the trip
    axe(d)
    assert AXE_PAGES["issuer sign-in"] <= AXE_SEEN, AXE_PAGES["issuer sign-in"] - AXE_SEEN
