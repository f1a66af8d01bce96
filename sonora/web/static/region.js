// Suggest the listener's region from the browser's time zone and language, for them to
// confirm: nothing is chosen until they press "Yes, use this" and then save the form.
// The rules come from the server (sonora.care.region.hints_json), the same as
// sonora.care.region.suggest_place.
(function () {
  var field = document.getElementById("region-field");
  if (!field) return;
  var select = document.getElementById("f-region");
  var country = document.getElementById("f-country");
  if (!select || select.value) return;
  var hints;
  try { hints = JSON.parse(field.getAttribute("data-hints")); } catch (e) { return; }
  var zone = "";
  try { zone = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { return; }
  if (!hints.zoneRegions[zone] && !hints.zones[zone] && hints.aliases && hints.aliases[zone]) {
    zone = hints.aliases[zone]; // Asia/Calcutta -> Asia/Kolkata (the tz database's alias)
  }
  var lang = String(navigator.language || "").toLowerCase().replace("_", "-");
  var code = "", region = "";
  if (hints.zoneRegions[zone]) {
    code = hints.zoneRegions[zone][0];
    region = hints.zoneRegions[zone][1];
  } else if (hints.zones[zone]) {
    code = hints.zones[zone];
    (hints.languages[code] || []).some(function (pair) {
      var tag = pair[0];
      if (lang === tag || (tag.indexOf("-") < 0 && lang.indexOf(tag + "-") === 0)) {
        region = pair[1];
        return true;
      }
      return false;
    });
  }
  if (!code) return;
  if (country && country.value && country.value.toUpperCase() !== code &&
      !(code === "GB" && country.value.toUpperCase() === "UK")) return;
  var value = region ? code + "-" + region : "";
  var label = hints.names[value] || hints.names[code];
  if (!label) return;
  var box = document.getElementById("region-suggestion");
  document.getElementById("region-suggestion-text").textContent =
    "Your device's time zone (" + zone + ") and language suggest " + label + ". Is that right?";
  box.hidden = false;
  document.getElementById("region-suggestion-use").addEventListener("click", function () {
    if (value) select.value = value;
    if (country && !country.value) country.value = code;
    box.hidden = true;
  });
})();
