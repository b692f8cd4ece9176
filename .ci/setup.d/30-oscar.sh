# The oscar connector's test shop (tests/oscar/shop): django-oscar 4.2 + django-oscar-api 3.3 from
# PyPI, pinned in its requirements.txt, in a venv of its own with a template SQLite database
# (migrated and seeded once; each test copies it). Built once per CI run and cached under
# ~/.cache/erpbridge-tests by the hash of what it is built from. Sourced by .ci/run; exports
#   ERPBRIDGE_TEST_OSCAR_PYTHON  the shop's Python        ERPBRIDGE_TEST_OSCAR_DB  the template database
oscar_build() {
    local root shop key home
    root="$(pwd)"
    shop="$root/tests/oscar/shop"
    key="$(cd "$shop" && find requirements.txt oscar_test_shop -name '*.py' -o -name '*.txt' | LC_ALL=C sort \
        | xargs cat | sha256sum | cut -c1-12)"
    home="$HOME/.cache/erpbridge-tests/oscar-$key"
    if [[ ! -e "$home/template.sqlite3" ]]; then
        echo "building the oscar test shop in $home" >&2
        rm -rf "$home" && mkdir -p "$home"
        python3 -m venv "$home/venv"
        "$home/venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$shop/requirements.txt"
        (cd "$shop" && export OSCAR_TEST_SHOP_DB="$home/building.sqlite3" \
            PYTHONPATH="$root/erpbridge/connectors/oscar/shop_app" \
            && "$home/venv/bin/python" manage.py migrate --noinput -v0 \
            && "$home/venv/bin/python" manage.py shell -c "exec(open('oscar_test_shop/seed.py').read())")
        mv "$home/building.sqlite3" "$home/template.sqlite3"
    fi
    export ERPBRIDGE_TEST_OSCAR_PYTHON="$home/venv/bin/python"
    export ERPBRIDGE_TEST_OSCAR_DB="$home/template.sqlite3"
}
oscar_build
