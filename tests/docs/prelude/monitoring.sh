# monitoring.md assumes what exchange-online.md sets up: the key
# exo-automation on the token MyHSM, its certificate uploaded, and the
# profile contoso.
. "$DOC_TEST_SOURCE_DIR/tests/docs/prelude/exchange-online.sh"
entrakey profile add contoso --tenant contoso.onmicrosoft.com \
    --client-id 11111111-2222-3333-4444-555555555555 \
    --key 'pkcs11:token=MyHSM;object=exo-automation' \
    --organization contoso.onmicrosoft.com
# and the root-only PIN file of getting-started.md's "An HSM" (in the
# test's own /etc)
install -d -m 700 /etc/entrakey
printf '123456\n' > /etc/entrakey/pin
chmod 600 /etc/entrakey/pin
