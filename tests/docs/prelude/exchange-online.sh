# exchange-online.md starts where app-registration.md ends: a token labelled
# MyHSM (here SoftHSM's, PIN 123456) with the key exo-automation and its
# certificate, ExchangeAuth.cer uploaded to the app registration.
softhsm2-util --init-token --free --label MyHSM --so-pin 12345678 --pin 123456 >/dev/null
printf '123456\n' > "$TMPDIR/pin" && chmod 600 "$TMPDIR/pin"
entrakey init 'pkcs11:token=MyHSM' --label exo-automation \
    --subject 'CN=EXO automation,O=Contoso' --out ExchangeAuth.cer \
    --pin-source "file:$TMPDIR/pin"
rm -f "$TMPDIR/pin"
