# The OData connector's test ERP: SAP CAP (@sap/cds 9, @cap-js/sqlite 2, the OData V2 adapter) from
# npm, pinned in tests/odata/cap/package.json. node_modules is built once per package.json (its
# better-sqlite3 compiles from source: ~4 min cold) under ~/.cache/erpbridge-tests and reused.
# Exports ERPBRIDGE_TEST_ODATA_NODE_MODULES, which the tests' fixture links into its CAP project.
odata_cap_src="tests/odata/cap"
odata_cap_key="$(sha256sum "$odata_cap_src/package.json" | cut -c1-12)"
odata_cap_dir="$HOME/.cache/erpbridge-tests/odata-cap-$odata_cap_key"
if [[ ! -e "$odata_cap_dir/node_modules/.complete" ]]; then
    rm -rf "$odata_cap_dir" && mkdir -p "$odata_cap_dir"
    cp "$odata_cap_src/package.json" "$odata_cap_dir/"
    (cd "$odata_cap_dir" && npm install --no-audit --no-fund --omit=dev --loglevel=error)
    node -e "require('$odata_cap_dir/node_modules/better-sqlite3')(':memory:').close()"
    touch "$odata_cap_dir/node_modules/.complete"
fi
export ERPBRIDGE_TEST_ODATA_NODE_MODULES="$odata_cap_dir/node_modules"
