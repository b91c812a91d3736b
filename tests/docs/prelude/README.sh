# README.md assumes an HSM with a token labelled MyHSM (here SoftHSM's,
# PIN 123456) and the root-only PIN file getting-started.md's "An HSM"
# makes (in the test's own /etc).
softhsm2-util --init-token --free --label MyHSM --so-pin 12345678 --pin 123456 >/dev/null
install -d -m 700 /etc/entrakey
printf '123456\n' > /etc/entrakey/pin
chmod 600 /etc/entrakey/pin
