// Satchel web wallet: the only script. Copy buttons and camera QR scanning; every other flow
// works without it. No inline handlers (the CSP forbids them), no third-party code.
"use strict";
(function () {
  document.querySelectorAll(".js-copy").forEach(function (btn) {
    if (!navigator.clipboard) { return; }
    btn.hidden = false;
    // the button keeps its name; "Copied" (in the page's language) is said by a status beside it
    var said = document.createElement("span");
    said.setAttribute("role", "status");
    said.className = "help";
    btn.insertAdjacentElement("afterend", said);
    btn.addEventListener("click", function () {
      var src = document.getElementById(btn.getAttribute("data-copy"));
      if (!src) { return; }
      navigator.clipboard.writeText(src.textContent.trim()).then(function () {
        said.textContent = btn.getAttribute("data-done") || "";
      });
    });
  });

  // One form, two buttons: about to press "Create wallet", the passphrase is a new one (password
  // managers then offer to save it instead of filling a saved one); back in the field, as it was.
  document.querySelectorAll("button[data-autocomplete]").forEach(function (btn) {
    var field = btn.form && btn.form.querySelector("input[type=password]");
    if (!field) { return; }
    var was = field.getAttribute("autocomplete");
    var mark = function () { field.setAttribute("autocomplete", btn.getAttribute("data-autocomplete")); };
    btn.addEventListener("pointerdown", mark);
    btn.addEventListener("focus", mark);
    field.addEventListener("focus", function () { field.setAttribute("autocomplete", was); });
  });

  var section = document.getElementById("camera-section");
  if (!section || !("BarcodeDetector" in window) || !navigator.mediaDevices) { return; }
  section.hidden = false;
  var start = document.getElementById("camera-start");
  var video = document.getElementById("camera-video");
  var status = document.getElementById("camera-status");
  start.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } }).then(function (stream) {
      video.srcObject = stream;
      video.hidden = false;
      video.play();
      var tick = function () {
        detector.detect(video).then(function (codes) {
          if (codes.length && codes[0].rawValue) {
            stream.getTracks().forEach(function (t) { t.stop(); });
            var box = document.getElementById("link");
            box.value = codes[0].rawValue;
            document.getElementById("linkbox").submit();
            return;
          }
          window.requestAnimationFrame(tick);
        }).catch(function () { window.setTimeout(tick, 300); });
      };
      tick();
    }).catch(function () { status.textContent = start.getAttribute("data-denied") || ""; });
  });
}());
