# agent.md starts where exchange-online.md §2 ends: the key exo-automation
# on the token MyHSM, its certificate uploaded, the profile contoso.
. "$DOC_TEST_SOURCE_DIR/tests/docs/prelude/exchange-online.sh"
entrakey profile add contoso --tenant contoso.onmicrosoft.com \
    --client-id 11111111-2222-3333-4444-555555555555 \
    --key 'pkcs11:token=MyHSM;object=exo-automation' \
    --organization contoso.onmicrosoft.com
