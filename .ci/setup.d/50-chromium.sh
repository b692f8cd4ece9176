# Headless Chromium for the control center's browser test (tests/control/test_control_browser.py),
# driven by Playwright for Python (the `test` extra) through executable_path: Debian's `chromium`
# package, installed with apt when /usr/bin/chromium is missing (the .deb files cached under
# ~/.cache/erpbridge-tests/apt), never a browser download by Playwright.
if [[ ! -x /usr/bin/chromium ]]; then
    echo "installing Debian's chromium for the control center's browser test" >&2
    _chromium_apt="$HOME/.cache/erpbridge-tests/apt"
    mkdir -p "$_chromium_apt/partial"
    _sudo=""
    [[ "$(id -u)" -eq 0 ]] || _sudo="sudo"
    $_sudo apt-get update -q
    DEBIAN_FRONTEND=noninteractive $_sudo apt-get install -y -q -o Dir::Cache::archives="$_chromium_apt" chromium
    unset _chromium_apt _sudo
fi
export ERPBRIDGE_TEST_CHROMIUM=/usr/bin/chromium
