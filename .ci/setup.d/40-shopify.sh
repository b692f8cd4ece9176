# Shopify's official Admin GraphQL schema (introspection results), for tests/shopify: npm's
# @shopify/dev-mcp ships them in dist/data/admin_<version>.json.gz. Fetched once from the npm
# registry into the test cache and never copied into the repository; the tests validate every
# query and mutation against the file of the connector's configured API version.
SHOPIFY_DEV_MCP_VERSION=1.16.0
_shopify_cache="$HOME/.cache/erpbridge-tests/shopify-dev-mcp-$SHOPIFY_DEV_MCP_VERSION"
if [[ ! -e "$_shopify_cache/package/dist/data/admin_2026-04.json.gz" ]]; then
    echo "fetching @shopify/dev-mcp@$SHOPIFY_DEV_MCP_VERSION (the Admin GraphQL schemas) from npm" >&2
    mkdir -p "$_shopify_cache"
    _shopify_tgz="$(cd "$_shopify_cache" && npm pack --silent "@shopify/dev-mcp@$SHOPIFY_DEV_MCP_VERSION")"
    tar xzf "$_shopify_cache/$_shopify_tgz" -C "$_shopify_cache" --wildcards 'package/dist/data/admin_*.json.gz' \
        package/LICENSE
    rm -f "$_shopify_cache/$_shopify_tgz"
fi
export ERPBRIDGE_TEST_SHOPIFY_SCHEMAS="$_shopify_cache/package/dist/data"
unset _shopify_cache _shopify_tgz
